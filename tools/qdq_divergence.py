#!/usr/bin/env python3
"""Where quantc's simulation of a QDQ model first departs from ONNX Runtime.

Makes every QuantizeLinear output of MODEL a graph output as well (ONNX Runtime still
fuses the QDQ patterns around them: a Q's output may be a graph output), runs the
copy in ONNX Runtime (CPU, default session options, as a user gets them) and in
`quantc run` on one input, and prints, in graph order, each quantized tensor whose
bytes differ: how many elements differ and by how much. The first line is where the
arithmetic differs; the later ones may only inherit it.

Usage:
  .venv/bin/python tools/qdq_divergence.py MODEL.onnx INPUT.npy|INPUT.npz [--quantc .build/release/quantc]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx

REPO = Path(__file__).resolve().parent.parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("input", help=".npy (single-input model) or .npz keyed by input name")
    ap.add_argument("--quantc", default=str(REPO / ".build" / "release" / "quantc"))
    ap.add_argument("--all", action="store_true", help="list every differing tensor, not only the first 20")
    a = ap.parse_args()

    import onnxruntime as ort

    m = onnx.load(a.model)
    names = [n.output[0] for n in m.graph.node if n.op_type == "QuantizeLinear"]
    have = {o.name for o in m.graph.output}
    for name in names:
        if name not in have:
            m.graph.output.append(onnx.helper.make_empty_tensor_value_info(name))
    with tempfile.TemporaryDirectory() as tmp:
        probe = Path(tmp) / "probe.onnx"
        onnx.save(m, probe)
        s = ort.InferenceSession(str(probe), providers=["CPUExecutionProvider"])
        inputs = [i.name for i in s.get_inputs()]
        if a.input.endswith(".npz"):
            z = np.load(a.input)
            feed = {k: z[k] for k in inputs}
        else:
            feed = {inputs[0]: np.load(a.input)}
        theirs = dict(zip([o.name for o in s.get_outputs()], s.run(None, feed)))
        args = []
        for k, v in feed.items():
            p = Path(tmp) / f"in{len(args)}.npy"
            np.save(p, v)
            args += ["--input", f"{k}={p}"]
        od = Path(tmp) / "out"
        subprocess.run([a.quantc, "run", str(probe), *args, "--output-dir", str(od)], check=True,
                       stdout=subprocess.DEVNULL)
        shown = 0
        differing = 0
        for name in names:
            f = od / f"{name.replace('/', '_')}.npy"
            if not f.exists() or name not in theirs:
                continue
            ours, ref = np.load(f).astype(np.int32), theirs[name].astype(np.int32)
            if ours.shape != ref.shape:
                print(f"{name}: shape {ours.shape} vs ORT {ref.shape}")
                continue
            d = np.abs(ours - ref)
            if d.any():
                differing += 1
                if a.all or shown < 20:
                    idx = np.unravel_index(int(np.argmax(d)), d.shape)
                    print(f"{name}: {int((d > 0).sum())} of {d.size} differ, max {int(d.max())} at {tuple(int(i) for i in idx)}")
                    shown += 1
        print(f"{differing} of {len(names)} quantized tensors differ")
        sys.exit(1 if differing else 0)


if __name__ == "__main__":
    main()
