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


def describe(ref: list[np.ndarray], got: list[np.ndarray]) -> str:
    """Output SQNR against float over all samples, and top-1 agreement for class scores."""
    r, g = np.concatenate(ref), np.concatenate(got)
    top1 = f", top-1 {int(np.sum(r.argmax(1) == g.argmax(1)))}/{len(r)}" if r.ndim == 2 and r.shape[1] >= 2 else ""
    return f"{co.sqnr(ref, got):6.2f} dB{top1}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", choices=co.REAL)
    ap.add_argument("--quantc", type=Path, default=co.REPO / ".build/release/quantc")
    a = ap.parse_args()
    model, calib, test, _ = co.model_paths(a.model)
    files = sorted(calib.glob("*.npz"))
    if len(files) < 2:
        sys.exit(f"{calib}: cross-validation needs at least two calibration files, found {len(files)}")
    # Per candidate, the float and quantized outputs of every held-out sample (pooled over the
    # folds), and of the test split with ranges from all files.
    ref, held = [], {n: [] for n in CANDIDATES}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for k, out_file in enumerate(files):
            fold, out = tmp / f"fold{k}", tmp / f"held{k}"
            fold.mkdir()
            out.mkdir()
            for f in files:
                (out if f == out_file else fold).joinpath(f.name).symlink_to(f.resolve())
            ref += co.ort_outputs(model, out)
            for n, options in CANDIDATES.items():
                q = tmp / f"fold{k}.onnx"
                quantize(a.quantc, model, fold, q, options)
                held[n] += co.ort_outputs(q, out)
        test_ref, on_test = co.ort_outputs(model, test), {}
        for n, options in CANDIDATES.items():
            q = tmp / "all.onnx"
            quantize(a.quantc, model, calib, q, options)
            on_test[n] = co.ort_outputs(q, test)
    print(f"{a.model}: {len(files)}-fold cross-validation over {calib}")
    print(f"| ranges | held-out calibration files (pooled) | test split, fitted on all files |")
    print(f"|---|---:|---:|")
    for n in CANDIDATES:
        print(f"| {n} | {describe(ref, held[n])} | {describe(test_ref, on_test[n])} |")


if __name__ == "__main__":
    main()
