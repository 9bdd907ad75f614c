#!/usr/bin/env python3
"""Does `calibrate(method=auto)`'s choice generalise? K-fold cross-validation of its range
candidates over a real model's calibration files.

For each fold, quantc computes each candidate's ranges on the other calibration files
(`calibrate(method=...)`, int8 as the default pipeline, no bias correction, which is how `auto`
judges them) and ONNX Runtime runs the result on the held-out file. The noise and signal of the
output against float are pooled over the folds, so the printed SQNR is that of every calibration
sample judged by ranges that never saw it; top-1 agreement with float is counted for class-score
outputs. The last columns run each candidate fitted on all calibration files over the test split,
which is what the tables in the README score.

Usage: .venv/bin/python tools/calibration_crossval.py orientation [--quantc PATH]
(real models with npz calibration folders: tools/fetch_models.sh and tools/make_data.py first.)
"""
import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import compare_ort as co  # noqa: E402

CANDIDATES = {  # auto's candidates (Passes/Calibration/RangeMethods.swift)
    "percentile 99.99": "method=percentile,percentile=99.99",
    "percentile 99.999": "method=percentile,percentile=99.999",
    "mse": "method=mse",
}


def quantize(quantc: Path, model: Path, calib: Path, out: Path, options: str) -> None:
    pipeline = f"canonicalize,calibrate({options}),quantize(weights=int8,reduce-range=true),insert-qdq"
    subprocess.run([str(quantc), "quantize", str(model), "--calibration", str(calib), "-o", str(out),
                    "--no-cache", "--quiet", "--pipeline", pipeline], check=True, stderr=subprocess.DEVNULL)


def outputs(model: Path, files: list[Path]) -> np.ndarray:
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.log_severity_level = 3
    s = ort.InferenceSession(str(model), so, providers=["CPUExecutionProvider"])
    name = s.get_inputs()[0].name
    out = []
    for f in files:
        with np.load(f) as z:
            x = z[name]
        out += [s.run(None, {name: x[i:i + 8]})[0] for i in range(0, len(x), 8)]
    return np.concatenate(out).astype(np.float64)


class Tally:
    def __init__(self):
        self.signal = self.noise = 0.0
        self.agree = self.rows = 0

    def add(self, ref: np.ndarray, got: np.ndarray) -> None:
        self.signal += float(np.sum(ref ** 2))
        self.noise += float(np.sum((ref - got) ** 2))
        if ref.ndim == 2 and ref.shape[1] >= 2:
            self.agree += int(np.sum(ref.argmax(1) == got.argmax(1)))
            self.rows += len(ref)

    def __str__(self) -> str:
        top1 = f", top-1 {self.agree}/{self.rows}" if self.rows else ""
        return f"{10 * np.log10(self.signal / self.noise):6.2f} dB{top1}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", choices=co.REAL)
    ap.add_argument("--quantc", type=Path, default=co.REPO / ".build/release/quantc")
    a = ap.parse_args()
    model, calib, test, _ = co.model_paths(a.model)
    files = sorted(calib.glob("*.npz"))
    if len(files) < 2:
        sys.exit(f"{calib}: cross-validation needs at least two calibration files, found {len(files)}")
    tests = sorted(test.glob("*.npz"))
    held = {n: Tally() for n in CANDIDATES}
    on_test = {n: Tally() for n in CANDIDATES}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for k, out_file in enumerate(files):
            fold = tmp / f"fold{k}"
            fold.mkdir()
            for f in files:
                if f != out_file:
                    (fold / f.name).symlink_to(f.resolve())
            ref = outputs(model, [out_file])
            for n, options in CANDIDATES.items():
                q = tmp / f"fold{k}.onnx"
                quantize(a.quantc, model, fold, q, options)
                held[n].add(ref, outputs(q, [out_file]))
        ref = outputs(model, tests)
        for n, options in CANDIDATES.items():
            q = tmp / "all.onnx"
            quantize(a.quantc, model, calib, q, options)
            on_test[n].add(ref, outputs(q, tests))
    print(f"{a.model}: {len(files)}-fold cross-validation over {calib}")
    print(f"| ranges | held-out calibration files (pooled) | test split, fitted on all files |")
    print(f"|---|---:|---:|")
    for n in CANDIDATES:
        print(f"| {n} | {held[n]} | {on_test[n]} |")


if __name__ == "__main__":
    main()
