#!/usr/bin/env python3
"""Score quantc pipelines under ONNX Runtime, with compare_ort.py's data and metrics.

For each model and each pipeline: `quantc quantize MODEL --calibration CAL --pipeline P`,
then ONNX Runtime runs the QDQ model on the test split; prints the task metric and the
top-1 agreement (or its task's equivalent) and output SQNR against the float model.

Usage:
  .venv/bin/python tools/eval_pipelines.py orientation digits_cnn \
      --pipeline base='canonicalize,calibrate(method=auto),quantize(reduce-range=true),insert-qdq' \
      --pipeline bc='canonicalize,calibrate(method=auto),quantize(reduce-range=true),bias-correct,insert-qdq'
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tools"))
import compare_ort as co  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="+")
    ap.add_argument("--pipeline", action="append", required=True, help="NAME=PIPELINE")
    ap.add_argument("--quantc", default=str(REPO / ".build" / "release" / "quantc"))
    ap.add_argument("--cache-dir", help="quantc's statistics cache (default: none)")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args()
    pipelines = [p.split("=", 1) for p in args.pipeline]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for key in args.models:
            model, calib, test, labels = co.model_paths(key)
            ref = co.score(key, model, test, labels, None)
            reference = {"pred": ref.get("pred"), "outs": ref["outs"], "result": ref.get("result")}
            print(f"{key}: float {ref['metric_name']} {ref['metric']:.4f}", flush=True)
            for name, text in pipelines:
                out = Path(tmp) / f"{key}.{name}.onnx"
                cmd = [args.quantc, "quantize", str(model), "--calibration", str(calib), "-o", str(out),
                       "--quiet", "--threads", "2", "--pipeline", text]
                cmd += ["--cache-dir", args.cache_dir] if args.cache_dir else ["--no-cache"]
                p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                if p.returncode != 0:
                    print(f"  {name:12s} failed: {p.stderr.strip()[-400:]}", flush=True)
                    continue
                s = co.score(key, out, test, labels, reference)
                row = {"model": key, "pipeline": name, "metric_name": s["metric_name"], "metric": s["metric"],
                       "agree": s.get("agree"), "sqnr": s.get("sqnr")}
                results.append(row)
                print(f"  {name:12s} {s['metric_name']} {s['metric']:.4f}  agree {s.get('agree', float('nan')):.4f}  "
                      f"sqnr {s.get('sqnr', float('nan')):.2f} dB", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
