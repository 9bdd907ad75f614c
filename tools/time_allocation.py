#!/usr/bin/env python3
"""Wall time of quantc's mixed precision (sensitivity analysis + allocation) against ONNX
Runtime's Entropy quantize_static, on the same model and calibration set, in the same run.

quantc: `quantc quantize MODEL --calibration CAL --budget 4.5bits --time-passes` in a fresh
process; reported are its whole wall time and the seconds of its sensitivity and allocate
passes (from --time-passes); and its int8 run with `--method entropy` (with and without bias
correction), for the calibration issue's 1/3 criterion. ONNX Runtime: quant_pre_process + quantize_static (QDQ,
per-channel, CalibrationMethod.Entropy) in a fresh process (compare_ort.py's worker).

ONNX Runtime's histogram calibrators stack every sample's activations into one array, so
samples of different shapes (the recognizer's text lines) make it fail; with --pad, both tools
get the samples padded to the largest shape (edge values, i.e. more background).

Usage:
  .venv/bin/python tools/time_allocation.py common --pad [--budget 4.5bits]
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tools"))
import compare_ort as co  # noqa: E402

WEIGHT_PASSES = {"measured", "fisher", "weight-magnitude", "activation-variance", "hessian-trace", "layer-hessian",
                 "curvature", "sensitivity", "allocate"}


def padded(calib: Path, out: Path) -> Path:
    """The calibration folder with every array edge-padded to the largest shape of its name."""
    files = sorted(calib.glob("*.npz"))
    arrays = [dict(np.load(f)) for f in files]
    largest = {k: np.max([a[k].shape for a in arrays], axis=0) for k in arrays[0]}
    out.mkdir(parents=True, exist_ok=True)
    for f, a in zip(files, arrays):
        np.savez(out / f.name, **{k: np.pad(v, [(0, int(t - s)) for s, t in zip(v.shape, largest[k])], mode="edge")
                                  for k, v in a.items()})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("--quantc", default=str(REPO / ".build" / "release" / "quantc"))
    ap.add_argument("--budget", default="4.5bits")
    ap.add_argument("--pad", action="store_true", help="pad the calibration samples to one shape (for ONNX Runtime)")
    a = ap.parse_args()
    model, calib, _, _ = co.model_paths(a.model)
    with tempfile.TemporaryDirectory(prefix="time_allocation.") as tmp:
        work = Path(tmp)
        if a.pad:
            calib = padded(calib, work / "calib")
        print(f"{a.model}: calibration samples {calib}{' (padded to one shape)' if a.pad else ''}", flush=True)

        cmd = [a.quantc, "quantize", str(model), "--calibration", str(calib), "-o", str(work / "q.onnx"), "--no-cache",
               "--quiet", "--threads", "2", "--budget", a.budget, "--time-passes"]
        wall, rss, _, text = co.timed_output(cmd)
        weight = sum(float(m.group(1)) for m in re.finditer(r"^\s+([\d.]+) s\s+[\d.]+%\s+(\S+)$", text, re.M)
                     if m.group(2) in WEIGHT_PASSES)
        print(f"  quantc --budget {a.budget}: {wall:.1f} s in all ({rss / 2**20:.0f} MiB), "
              f"sensitivity analysis + allocation {weight:.1f} s", flush=True)

        # Issue 5's criterion on the same data: quantc's int8 run with entropy calibration, with
        # and without bias correction (ONNX Runtime's quantize_static has none).
        int8 = {}
        for label, extra in (("entropy, no bias correction", ["--no-bias-correction"]), ("entropy", [])):
            cmd = [a.quantc, "quantize", str(model), "--calibration", str(calib), "-o", str(work / "q8.onnx"), "--no-cache",
                   "--quiet", "--threads", "2", "--method", "entropy", *extra]
            int8[label], r8, _, _ = co.timed_output(cmd)
            print(f"  quantc int8 --method {label}: {int8[label]:.1f} s ({r8 / 2**20:.0f} MiB)", flush=True)

        env = dict(os.environ, OMP_NUM_THREADS="2")
        try:
            ort_wall, ort_rss, _ = co.timed([sys.executable, co.__file__, "--ort-worker", str(model), str(calib),
                                             str(work / "ort.onnx"), "Entropy", "0"], env)
        except Exception as e:  # noqa: BLE001
            print(f"  ONNX Runtime Entropy quantize_static failed: {str(e).strip().splitlines()[-1][:200]}")
            return
        print(f"  ONNX Runtime Entropy quantize_static: {ort_wall:.1f} s ({ort_rss / 2**20:.0f} MiB)")
        print(f"  ratio, sensitivity + allocation / ONNX Runtime Entropy: {weight / ort_wall:.2f}x (target <= 2)")
        print(f"  ratio, quantc's whole mixed-precision run / ONNX Runtime Entropy: {wall / ort_wall:.2f}x")
        for label, t in int8.items():
            print(f"  ratio, quantc int8 {label} / ONNX Runtime Entropy: {t / ort_wall:.2f}x (issue 5 target <= 0.33)")


if __name__ == "__main__":
    main()
