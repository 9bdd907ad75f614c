#!/usr/bin/env python3
"""The Pareto table of a model: quantc's sweep scored with the model's task metric, beside
ONNX Runtime's INT8 (quantize_static) and 4-bit (MatMulNBits) points.

For each model (compare_ort.py's keys and data):
  1. `quantc quantize MODEL --calibration CAL --test TEST --pareto --budget 4.5bits
     --pareto-models DIR` (one process: wall time and peak RSS). Its sweep writes every point's
     model: uniform int8, uniform int4/g128 (RTN and GPTQ), and the mixed points (six budgets from
     the smallest the formats allow to uniform int8's size, plus 4.5 bits).
  2. ONNX Runtime runs every point's model on the test split: the task metric of
     tools/task_metrics.py (bundled models: accuracy), agreement with the float model and output
     SQNR against it.
  3. ONNX Runtime's quantize_static (QDQ, per-channel, after quant_pre_process; MinMax, Entropy,
     Percentile, each in a fresh process with a memory cap) and its MatMulNBitsQuantizer
     (block 32 and 128, asymmetric, symmetric), scored the same way.

Prints a markdown table per model: bits per weight, weight and file bytes, task metric,
agreement, SQNR, the allocator's predicted objective beside greedy's and proportional's on the
same problem, and seconds (quantc's points: the work after calibration, sensitivity analysis
included for mixed points; ONNX Runtime's: its whole process).

Usage:
  .venv/bin/python tools/pareto_real.py common common_det layout_cdla [--work DIR] [--ort MinMax,Entropy,Percentile]
      [--rounding gptq] [--no-nbits]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tools"))
import compare_ort as co  # noqa: E402
import int4_checks  # noqa: E402


def file_name(label: str) -> str:
    """quantc's name for a swept point's model (ParetoSweep.fileName)."""
    return label.replace("/", "-").replace(" ", "-") + ".onnx"


def run_model(key: str, quantc: Path, work: Path, budget: str, ort_methods: list[str], rounding: str = "rtn",
              nbits: bool = True) -> dict:
    model, calib, test, labels = co.model_paths(key)
    ref = co.score(key, model, test, labels, None)
    reference = {"pred": ref.get("pred"), "outs": ref["outs"], "result": ref.get("result")}
    res = {"model": key, "metric_name": ref["metric_name"], "float_metric": ref["metric"],
           "float_bytes": model.stat().st_size, "rows": []}

    def scored(path: Path) -> dict:
        s = co.score(key, path, test, labels, reference)
        return {"metric": s["metric"], "agree": s.get("agree"), "sqnr": s.get("sqnr"), "file_bytes": path.stat().st_size}

    points = work / f"{key}.points"
    out = work / f"{key}.onnx"
    cmd = [str(quantc), "quantize", str(model), "--calibration", str(calib), "--test", str(test), "-o", str(out),
           "--no-cache", "--quiet", "--threads", "2", "--pareto", "--budget", budget, "--pareto-models", str(points),
           "--rounding", rounding]
    if labels is not None:
        cmd += ["--labels", str(labels)]
    seconds, rss, stdout, _ = co.timed_output(cmd)
    res["quantc_seconds"], res["quantc_rss"] = seconds, rss
    report = json.loads((work / f"{key}.report.json").read_text())
    # Durations stay out of the report (its bytes are deterministic); the printed curve has them.
    point_seconds = {}
    labels_by_length = sorted((p["label"] for p in report["pareto"]), key=len, reverse=True)
    for line in stdout.split("pareto front:", 1)[-1].splitlines():
        label = next((lb for lb in labels_by_length if line.startswith(lb + " ")), None)
        if label is not None:
            cells = line.replace("<- chosen", "").split()
            point_seconds.setdefault(label, None if cells[-1] == "-" else float(cells[-1]))
    weights = report["pareto"][0]["weight_bytes"] // 4
    res["weights"] = weights
    for p in report["pareto"][1:]:
        row = {"tool": "quantc", "label": p["label"], "bits": p["average_bits"], "weight_bytes": p["weight_bytes"],
               "predicted": p.get("predicted"), "seconds": point_seconds.get(p["label"]), "chosen": p.get("chosen", False),
               "baselines": {b["solver"]: b for b in p.get("baselines") or []}}
        row.update(scored(points / file_name(p["label"])))
        res["rows"].append(row)
        print(f"  {p['label']:18s} {row['bits']:6.3f} bits  {row['metric']:.4f}  {row['sqnr']:.1f} dB", flush=True)

    env = dict(os.environ, OMP_NUM_THREADS="2")
    for method in ort_methods:
        path = work / f"{key}.ort-{method.lower()}.onnx"
        row = {"tool": "ort", "label": f"ONNX Runtime int8 ({method})"}
        try:
            row["seconds"], row["rss"], _ = co.timed([sys.executable, co.__file__, "--ort-worker", str(model), str(calib),
                                                      str(path), method, "0"], env)
            row.update(scored(path))
        except Exception as e:  # noqa: BLE001 - reported in the table
            row["error"] = str(e).strip().splitlines()[-1][:160]
        res["rows"].append(row)
        print(f"  {row['label']:30s} {row.get('metric', float('nan')):.4f}  {row.get('error', '')}", flush=True)
    if not nbits:
        pass
    elif int4_checks.weight_layers(model):
        for block in (32, 128):
            for symmetric in (False, True):
                path = work / f"{key}.ort-nbits-b{block}{'-sym' if symmetric else ''}.onnx"
                row = {"tool": "ort", "label": f"ONNX Runtime 4-bit (MatMulNBits b{block} {'sym' if symmetric else 'asym'})"}
                try:
                    row["seconds"], row["rss"], _ = co.timed([sys.executable, int4_checks.__file__, "--ort-nbits-worker", str(model),
                                                              str(path), str(block), str(int(symmetric))], env)
                    row.update(scored(path))
                    import onnx
                    count = sum(n.op_type == "MatMulNBits" for n in onnx.load(str(path), load_external_data=False).graph.node)
                    row["label"] += f": {count} of {len(int4_checks.weight_layers(model))} MatMul/Gemm layers"
                except Exception as e:  # noqa: BLE001
                    row["error"] = str(e).strip().splitlines()[-1][:160]
                res["rows"].append(row)
                print(f"  {row['label']:30s} {row.get('metric', float('nan')):.4f}  {row.get('error', '')}", flush=True)
    else:
        res["no_matmul"] = True
    return res


def markdown(r: dict) -> str:
    def num(v, fmt):
        return "" if v is None else format(v, fmt)

    def sqnr(v):
        return "" if v is None else "exact" if v == float("inf") else f"{v:.1f} dB"

    lines = [f"{r['model']}: {r['weights']:,} weights; task metric {r['metric_name']}; quantc's sweep "
             f"{r['quantc_seconds']:.0f} s in all, peak RSS {r['quantc_rss'] / 2**20:.0f} MiB",
             "",
             "| point | bits/weight | weight bytes | file bytes | task metric | agreement with float | SQNR | predicted Σ Ω | greedy | proportional | seconds |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
             f"| float | 32.00 | {4 * r['weights']:,} | {r['float_bytes']:,} | {r['float_metric']:.4f} | | | | | | |"]
    for row in r["rows"]:
        if "error" in row:
            lines.append(f"| {row['label']} | failed: {row['error']} | | | | | | | | | |")
            continue
        base = row.get("baselines") or {}

        def solver(name):
            b = base.get(name)
            return "" if b is None else f"{b['predicted']:.3g}" + ("" if b["within_budget"] else " (over)")
        label = f"**{row['label']}**" if row.get("chosen") else row["label"]
        lines.append(f"| {label} | {num(row.get('bits'), '.2f')} | {num(row.get('weight_bytes'), ',')} | {row['file_bytes']:,} | "
                     f"{row['metric']:.4f} | {num(row.get('agree'), '.4f')} | {sqnr(row.get('sqnr'))} | "
                     f"{num(row.get('predicted'), '.3g')} | {solver('greedy')} | {solver('proportional')} | {num(row.get('seconds'), '.2f')} |")
    if r.get("no_matmul"):
        lines.append("| ONNX Runtime 4-bit (MatMulNBits) | none: the model has no MatMul/Gemm with a constant weight | | | | | | | | | |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="+")
    ap.add_argument("--quantc", default=str(REPO / ".build" / "release" / "quantc"))
    ap.add_argument("--budget", default="4.5bits", help="the budget added to the sweep (default 4.5bits)")
    ap.add_argument("--ort", default=",".join(co.ORT_METHODS), help="ONNX Runtime calibrators to run (comma-separated; empty: none)")
    ap.add_argument("--rounding", default="rtn", help="rtn, or gptq: the mixed points rounded by GPTQ too")
    ap.add_argument("--no-nbits", action="store_true", help="skip ONNX Runtime's MatMulNBits points")
    ap.add_argument("--work", help="keep the models and reports here (default: a temporary folder)")
    ap.add_argument("--json", help="also write the results here")
    a = ap.parse_args()
    work = Path(a.work) if a.work else Path(tempfile.mkdtemp(prefix="pareto_real."))
    work.mkdir(parents=True, exist_ok=True)
    results = []
    for key in a.models:
        print(f"{key}:", flush=True)
        r = run_model(key, Path(a.quantc), work, a.budget, [m for m in a.ort.split(",") if m], a.rounding, not a.no_nbits)
        results.append(r)
        print(markdown(r), flush=True)
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=1, default=str))


if __name__ == "__main__":
    main()
