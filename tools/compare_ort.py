#!/usr/bin/env python3
"""quantc against ONNX Runtime's quantization tool, on the same models and data.

For each model, in fresh processes (so wall time and peak RSS are each tool's own):

  quantc            `quantc quantize MODEL --calibration CAL -o OUT`
                    (default pipeline: canonicalize, auto calibration, int8
                    per-channel weights, QDQ); the time includes the report, for
                    which quantc compares float and quantized models on 32
                    calibration samples;
  quantc entropy,   the same with --method entropy or percentile; "entropy, no bias
  quantc percentile correction" adds --no-bias-correction: calibration and quantization only, like
                    ORT's, and its time is the one to hold against ort-entropy's (target: at most 1/3);
  ort-minmax,       onnxruntime.quantization: quant_pre_process, then quantize_static
  ort-entropy,      (QDQ, per_channel=True, its default int8 types) with the MinMax,
  ort-percentile    Entropy or Percentile calibrator, fed one sample per run from a
                    CalibrationDataReader over the same calibration files.

Every quantized model is then run by ONNX Runtime (CPU) on the test split and scored:
test accuracy (bundled digits models: labels; real models: tools/task_metrics.py's task
metric), output SQNR against the float model and model file size. A last check runs
quantc's own interpreter (`quantc run`, the fake-quant simulation) on quantc's quantized
model and compares it with ONNX Runtime running the same file with its default session
options (ORT_ENABLE_ALL: QDQ patterns fused into integer operators): output cosine and top-1
agreement (issue targets: cosine >= 0.9999, top-1 >= 99.5%).

Usage:
  .venv/bin/python tools/compare_ort.py                    # every model that has its data
  .venv/bin/python tools/compare_ort.py digits_cnn orientation --markdown out.md
  .venv/bin/python tools/compare_ort.py --rss-scaling      # quantc peak RSS, 100 vs 1000 samples
  .venv/bin/python tools/compare_ort.py --int4 [MODELS]    # INT4 export (blocked DQ and MatMulNBits) checks,
                                                           # and ORT's MatMulNBitsQuantizer points (tools/int4_checks.py)

--check also runs the INT4 export checks (checker, simulation vs ORT, packing) on digits_mlp,
digits_cnn (convolution groups over the flattened kernel: blocked DequantizeLinear + Reshape) and
digits_transformer, and checks on digits_cnn that layers kept in float (fp16 by --keep, fp32 by
--exclude) run in ONNX Runtime as in quantc's simulation.

Real models need tools/fetch_models.sh and tools/make_data.py first. The quantc binary is
.build/release/quantc (build with `swift build -c release`).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tools"))

DIGITS = {
    "digits_mlp": ("", "digits_mlp.onnx"),
    "digits_cnn": ("_img", "digits_cnn.onnx"),
    "digits_transformer": ("_seq", "digits_transformer.onnx"),
}
REAL = ["orientation", "layout_cdla", "common_det", "common"]
ORT_METHODS = ["MinMax", "Entropy", "Percentile"]


def model_paths(key: str):
    """(model, calibration path, test path, labels path or None)."""
    if key in DIGITS:
        sfx, f = DIGITS[key]
        d = REPO / "models" / "digits"
        return REPO / "models" / f, d / f"calib_x{sfx}.npy", d / f"test_x{sfx}.npy", d / "test_y.npy"
    import task_metrics as tm
    data = REPO / ".cache" / "data" / key
    return tm.find_model(key), data / "calib", data / "test", None


# --------------------------------------------------------------------------
# running a tool in a fresh process: wall time and peak RSS
# --------------------------------------------------------------------------


def timed(cmd: list[str], env=None) -> tuple[float, int, str]:
    """(seconds, peak RSS in bytes, stderr) of one process; raises on failure."""
    dt, rss, _, err = timed_output(cmd, env)
    return dt, rss, err


def timed_output(cmd: list[str], env=None) -> tuple[float, int, str, str]:
    """(seconds, peak RSS in bytes, stdout, stderr) of one process; raises on failure.

    The peak RSS comes from GNU time (`/usr/bin/time -f %M`), which forks the command from
    its own small process: a child forked straight from this Python process would count
    this process's memory in its own peak until it execs."""
    with tempfile.NamedTemporaryFile(mode="r", suffix=".rss") as rss_file:
        full = ["/usr/bin/time", "-q", "-f", "%M", "-o", rss_file.name, *map(str, cmd)]
        t0 = time.perf_counter()
        p = subprocess.run(full, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        dt = time.perf_counter() - t0
        err = p.stderr.decode(errors="replace")
        if p.returncode != 0:
            raise RuntimeError(f"{' '.join(map(str, cmd))} failed ({p.returncode}): {err[-2000:]}")
        rss = int(rss_file.read().strip().splitlines()[-1]) * 1024
    return dt, rss, p.stdout.decode(errors="replace"), err


def ort_worker(model: str, calib: str, out: str, method: str, limit: int) -> None:
    """Runs in its own process: ORT's pre-processing and quantize_static. Its address space
    is capped at 3/4 of the machine's memory, so a calibrator that keeps every activation
    fails with MemoryError instead of waking the kernel's OOM killer."""
    import resource
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    resource.setrlimit(resource.RLIMIT_AS, (total * 3 // 4, total * 3 // 4))
    import onnxruntime.quantization as q
    from onnxruntime.quantization.shape_inference import quant_pre_process

    pre = out + ".pre.onnx"
    quant_pre_process(model, pre, skip_symbolic_shape=False)
    import onnxruntime as ort
    names = [i.name for i in ort.InferenceSession(pre, providers=["CPUExecutionProvider"]).get_inputs()]

    class Reader(q.CalibrationDataReader):
        def __init__(self):
            self.it = iter(samples(Path(calib), names, limit))

        def get_next(self):
            return next(self.it, None)

    q.quantize_static(pre, out, Reader(), quant_format=q.QuantFormat.QDQ, per_channel=True,
                      calibrate_method=getattr(q.CalibrationMethod, method))
    os.unlink(pre)


def samples(path: Path, names: list[str], limit: int = 0):
    """One feed per sample, from a .npy batch or a folder of .npz files."""
    n = 0
    if path.suffix == ".npy":
        x = np.load(path)
        for i in range(len(x)):
            if limit and n >= limit:
                return
            yield {names[0]: x[i:i + 1]}
            n += 1
        return
    for f in sorted(path.glob("*.npz")):
        with np.load(f) as z:
            arrays = {k: z[k] for k in z.files}
        count = next(iter(arrays.values())).shape[0]
        for i in range(count):
            if limit and n >= limit:
                return
            yield {k: v[i:i + 1] for k, v in arrays.items()}
            n += 1


# --------------------------------------------------------------------------
# scoring a model with ONNX Runtime on the test split
# --------------------------------------------------------------------------


def ort_outputs(model: Path, test: Path, names: list[str] | None = None) -> list[np.ndarray]:
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    s = ort.InferenceSession(str(model), so, providers=["CPUExecutionProvider"])
    inputs = [i.name for i in s.get_inputs()]
    outs = []
    for feed in samples(test, inputs):
        outs.append(s.run(None, feed)[0])
    return outs


def sqnr(ref: list[np.ndarray], got: list[np.ndarray]) -> float:
    r = np.concatenate([a.ravel().astype(np.float64) for a in ref])
    g = np.concatenate([a.ravel().astype(np.float64) for a in got])
    noise = np.sum((r - g) ** 2)
    return float("inf") if noise == 0 else float(10 * np.log10(np.sum(r ** 2) / noise))


def score(key: str, model: Path, test: Path, labels: Path | None, reference) -> dict:
    """Task metric, agreement with float and output SQNR against float of `model` under ORT."""
    out = {}
    if key in DIGITS:
        outs = ort_outputs(model, test)
        y = np.load(labels)
        pred = np.concatenate([o.argmax(-1) for o in outs])
        out["metric"] = float(np.mean(pred == y))
        out["metric_name"] = "accuracy"
        if reference is not None:
            out["agree"] = float(np.mean(pred == reference["pred"]))
            out["sqnr"] = sqnr(reference["outs"], outs)
        out["pred"], out["outs"] = pred, outs
        return out
    import task_metrics as tm
    result, s = tm.evaluate(key, test, tm.ort_runner(model, threads=2), reference["result"] if reference else None)
    name = {"orientation": "top1", "layout_cdla": "f1_vs_float", "common_det": "f1_vs_float",
            "common": "exact_case_insensitive"}[key]
    if reference is None and name == "f1_vs_float":
        name = "f1_vs_drawn"
    out["metric"], out["metric_name"] = s[name], name
    if reference is not None:
        out["agree"] = s.get("top1_vs_float", s.get("same_as_float", s.get("f1_vs_float")))
        out["sqnr"] = sqnr(reference["outs"], ort_outputs(model, test))
    out["result"] = result
    out["outs"] = ort_outputs(model, test)
    return out


# --------------------------------------------------------------------------
# quantc's simulation against ONNX Runtime on quantc's model
# --------------------------------------------------------------------------


def simulation_check(quantc: Path, model: Path, test: Path, limit: int = 50) -> dict:
    """quantc's simulation against ORT as a user runs it: default session options, whose
    graph optimization level ORT_ENABLE_ALL fuses the QDQ patterns into QLinearConv, QGemm,
    QLinearAdd, ... (integer arithmetic), which quantc's interpreter mirrors."""
    import onnxruntime as ort
    so = ort.SessionOptions()
    assert so.graph_optimization_level == ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    s = ort.InferenceSession(str(model), so, providers=["CPUExecutionProvider"])
    names = [i.name for i in s.get_inputs()]
    cos, agree, rows = [], 0, 0
    all_ours, all_theirs = [], []
    with tempfile.TemporaryDirectory() as tmp:
        feeds = list(samples(test, names, 0 if test.suffix == ".npy" else limit))
        if test.suffix == ".npy":  # one batch
            feeds = [{names[0]: np.concatenate([f[names[0]] for f in feeds])}]
        for feed in feeds:
            args = []
            for k, v in feed.items():
                p = Path(tmp) / f"{len(args)}.npy"
                np.save(p, v)
                args += ["--input", f"{k}={p}"]
            od = Path(tmp) / "out"
            subprocess.run([str(quantc), "run", str(model), *args, "--output-dir", str(od)], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            o = s.get_outputs()[0].name
            ours = np.load(od / f"{o.replace('/', '_')}.npy") if (od / f"{o.replace('/', '_')}.npy").exists() else np.load(sorted(od.glob("*.npy"))[0])
            theirs = s.run(None, feed)[0]
            a, b = ours.ravel().astype(np.float64), theirs.ravel().astype(np.float64)
            all_ours.append(a)
            all_theirs.append(b)
            cos.append(float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-300)))
            if theirs.ndim >= 2 and theirs.shape[-1] >= 2:
                pa, pb = ours.reshape(-1, ours.shape[-1]).argmax(-1), theirs.reshape(-1, theirs.shape[-1]).argmax(-1)
                agree += int(np.sum(pa == pb))
                rows += pa.size
    a, b = np.concatenate(all_ours), np.concatenate(all_theirs)
    return {"cosine": float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-300)), "cosine_min": min(cos),
            "top1_agreement": agree / rows if rows else None, "runs": len(cos)}


# --------------------------------------------------------------------------


def run_model(key: str, quantc: Path, work: Path, limit: int) -> dict:
    model, calib, test, labels = model_paths(key)
    res = {"model": key, "rows": []}
    ref = score(key, model, test, labels, None)
    res["float_metric"], res["metric_name"] = ref["metric"], ref["metric_name"]
    res["float_bytes"] = model.stat().st_size
    reference = {"pred": ref.get("pred"), "outs": ref["outs"], "result": ref.get("result")}

    def add(tool, out, seconds, rss, error=None):
        row = {"tool": tool, "seconds": seconds, "rss": rss, "error": error}
        if error is None:
            s = score(key, out, test, labels, reference)
            row.update(metric=s["metric"], agree=s.get("agree"), sqnr=s.get("sqnr"), bytes=out.stat().st_size)
        res["rows"].append(row)
        print(f"  {tool:16s} {row.get('seconds', 0):7.2f} s  {row.get('rss', 0) / 2**20:7.1f} MiB  "
              f"{row.get('metric', float('nan')):.4f}  {error or ''}", flush=True)

    # "entropy, no bias correction" is the like-for-like run against ORT's Entropy (which has
    # no bias correction): calibration and quantization only, the time the 1/3 target is about.
    for method, bc in [(None, True), ("entropy", True), ("entropy", False), ("percentile", True)]:
        label = "quantc" + (f" {method}" if method else "") + ("" if bc else ", no bias correction")
        out = work / f"{key}.quantc{'-' + method if method else ''}{'' if bc else '-nobc'}.onnx"
        cmd = [str(quantc), "quantize", str(model), "--calibration", str(calib),
               "-o", str(out), "--no-cache", "--quiet", "--threads", "2"]
        if method:
            cmd += ["--method", method]
        if not bc:
            cmd += ["--no-bias-correction"]
        if limit:
            cmd += ["--pipeline", f"canonicalize,calibrate(method={method or 'auto'},samples={limit}),quantize(reduce-range=true),"
                    + ("bias-correct(samples=64)," if bc else "") + "insert-qdq"]
            cmd = [c for c in cmd if c not in ("--method", method, "--no-bias-correction")]
        try:
            dt, rss, _ = timed(cmd)
            add(label, out, dt, rss)
            if not method:
                res["simulation"] = simulation_check(quantc, out, test)
        except Exception as e:  # noqa: BLE001 - reported in the table
            add(label, out, 0, 0, str(e).splitlines()[0][:120])
    env = dict(os.environ, OMP_NUM_THREADS="2")
    for method in ORT_METHODS:
        out = work / f"{key}.ort-{method.lower()}.onnx"
        cmd = [sys.executable, __file__, "--ort-worker", str(model), str(calib), str(out), method, str(limit)]
        try:
            dt, rss, _ = timed(cmd, env)
            add(f"ort {method}", out, dt, rss)
        except Exception as e:  # noqa: BLE001
            add(f"ort {method}", out, 0, 0, str(e).strip().splitlines()[-1][:160])
    return res


def markdown(results: list[dict]) -> str:
    lines = ["| model | tool | wall time | peak RSS | size | task metric | vs float | output SQNR |",
             "|---|---|---:|---:|---:|---|---:|---:|"]
    for r in results:
        lines.append(f"| {r['model']} | float | | | {r['float_bytes'] / 1000:.1f} KB | {r['metric_name']} {r['float_metric']:.4f} | | |")
        for row in r["rows"]:
            if row["error"]:
                lines.append(f"| | {row['tool']} | failed: {row['error']} | | | | | |")
                continue
            agree = "" if row["agree"] is None else f"{row['agree']:.4f}"
            lines.append(f"| | {row['tool']} | {row['seconds']:.2f} s | {row['rss'] / 2**20:.0f} MiB | "
                         f"{row['bytes'] / 1000:.1f} KB | {row['metric']:.4f} | {agree} | {row['sqnr']:.1f} dB |")
        if "simulation" in r:
            s = r["simulation"]
            t = "" if s["top1_agreement"] is None else f", top-1 agreement {100 * s['top1_agreement']:.2f}%"
            lines.append(f"| | quantc's simulation vs ORT running quantc's model | cosine {s['cosine']:.6f} (lowest single run {s['cosine_min']:.6f}){t} | | | | | |")
    return "\n".join(lines) + "\n"


def rss_scaling(quantc: Path, work: Path) -> None:
    """quantc's peak RSS calibrating on 100 and on 1,000 samples (digits_cnn, samples drawn
    with replacement from its calibration split, so the data is the same kind)."""
    x = np.load(REPO / "models" / "digits" / "calib_x_img.npy")
    rng = np.random.default_rng(0)
    for n in (100, 1000):
        d = work / f"calib{n}"
        d.mkdir(exist_ok=True)
        for i in range(n):
            np.save(d / f"{i:05d}.npy", x[rng.integers(len(x))][None])
    for method in ("percentile", "entropy"):
        rss = {}
        for n in (100, 1000):
            cmd = [str(quantc), "quantize", str(REPO / "models" / "digits_cnn.onnx"), "--calibration", str(work / f"calib{n}"),
                   "--test", str(REPO / "models" / "digits" / "test_x_img.npy"), "-o", str(work / "rss.onnx"),
                   "--no-cache", "--quiet", "--method", method]
            dt, rss[n], _ = timed(cmd)
            print(f"{method:10s} {n:5d} samples: {dt:6.2f} s, peak RSS {rss[n] / 2**20:.1f} MiB")
        print(f"{method:10s} ratio 1000/100: {rss[1000] / rss[100]:.3f} (target <= 1.2)")


def mixed_float_layers_check(quantc: Path, work: Path) -> list[str]:
    """Layers kept in float inside a quantized model (fp16 by allocation, fp32 by --exclude) run
    as chosen in ONNX Runtime: its WeightBiasQuantization transformer would turn a Conv or Gemm
    with float weights fed by a per-tensor DequantizeLinear into per-tensor int8, and quantc's
    simulation (which runs them in float) would then disagree with it."""
    model, calib, test, _ = model_paths("digits_cnn")
    failures = []
    for k, (label, extra) in enumerate((("fp16 conv2 and fc", ["--budget", "16bits", "--keep", "conv2=fp16", "--keep", "fc=fp16"]),
                                        ("excluded conv2", ["--exclude", "conv2"]))):
        out = work / f"digits_cnn.float-layers.{k}.onnx"
        subprocess.run([str(quantc), "quantize", str(model), "--calibration", str(calib), "-o", str(out), "--quiet", "--no-cache",
                        *extra], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        sim = simulation_check(quantc, out, test)
        print(f"  digits_cnn with {label}: simulation vs ONNX Runtime cosine {sim['cosine']:.6f}, "
              f"top-1 agreement {sim['top1_agreement']:.4f}", flush=True)
        if sim["cosine"] < 0.9999 or sim["top1_agreement"] < 0.995:
            failures.append(f"digits_cnn with {label}: simulation vs ONNX Runtime: {sim}")
    return failures


def check(results: list[dict], work: Path) -> list[str]:
    import onnx
    failures = []
    for r in results:
        key = r["model"]
        rows = {row["tool"]: row for row in r["rows"]}
        q = rows.get("quantc")
        if q is None or q["error"]:
            failures.append(f"{key}: quantc failed: {q and q['error']}")
            continue
        try:
            onnx.checker.check_model(str(work / f"{key}.quantc.onnx"), full_check=True)
        except Exception as e:  # noqa: BLE001
            failures.append(f"{key}: onnx.checker: {e}")
        s = r["simulation"]
        if s["cosine"] < 0.9999 or (s["top1_agreement"] is not None and s["top1_agreement"] < 0.995):
            failures.append(f"{key}: simulation vs ONNX Runtime: {s}")
        if key in DIGITS and r["float_metric"] - q["metric"] > 0.005:
            failures.append(f"{key}: accuracy {q['metric']:.4f} more than 0.5 points below float {r['float_metric']:.4f}")
        best = max((row["metric"] for t, row in rows.items() if t.startswith("ort") and not row["error"]), default=None)
        if best is not None and q["metric"] < best:
            failures.append(f"{key}: {r['metric_name']} {q['metric']:.4f} below ONNX Runtime's best {best:.4f}")
    return failures


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--ort-worker":
        ort_worker(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6]))
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="*", help="digits_mlp digits_cnn digits_transformer orientation layout_cdla common_det common")
    ap.add_argument("--quantc", default=str(REPO / ".build" / "release" / "quantc"))
    ap.add_argument("--samples", type=int, default=0, help="calibrate on at most this many samples (0: all)")
    ap.add_argument("--markdown", help="also write the table to this file")
    ap.add_argument("--json", help="also write the results as JSON")
    ap.add_argument("--keep", help="keep the quantized models in this folder")
    ap.add_argument("--rss-scaling", action="store_true", help="only measure quantc's RSS with 100 vs 1000 samples")
    ap.add_argument("--int4", action="store_true",
                    help="only the INT4 section (tools/int4_checks.py): quantc's int4 exports (qdq and matmulnbits, groups "
                         "32 and 128) checked and scored, and ONNX Runtime's MatMulNBitsQuantizer points")
    ap.add_argument("--check", action="store_true",
                    help="fail (exit 1) unless, per model, the exported model passes onnx.checker, quantc's simulation agrees "
                         "with ONNX Runtime (cosine >= 0.9999, top-1 >= 99.5%%), the accuracy is within 0.5 points of float "
                         "and at least ORT's best calibrator's (default models: the bundled digits models)")
    a = ap.parse_args()
    quantc = Path(a.quantc)
    work = Path(a.keep) if a.keep else Path(tempfile.mkdtemp(prefix="compare_ort."))
    work.mkdir(parents=True, exist_ok=True)
    try:
        if a.rss_scaling:
            rss_scaling(quantc, work)
            return
        if a.int4:
            import int4_checks
            failures = int4_checks.main(a.models or ["digits_mlp", "digits_transformer", *REAL], quantc, work, a.samples,
                                        False, a.markdown)
            for f in failures:
                print("FAIL:", f)
            if failures:
                sys.exit(1)
            return
        keys = a.models or ([*DIGITS] if a.check else [*DIGITS, *REAL])
        results = []
        for key in keys:
            _, calib, test, _ = model_paths(key)
            if not calib.exists() or not test.exists():
                print(f"{key}: skipped (no data at {calib}; run tools/make_data.py)")
                continue
            print(f"{key}:", flush=True)
            results.append(run_model(key, quantc, work, a.samples))
        table = markdown(results)
        print(table)
        if a.markdown:
            Path(a.markdown).write_text(table)
        if a.json:
            Path(a.json).write_text(json.dumps([{k: v for k, v in r.items()} for r in results], indent=1, default=str))
        if a.check:
            failures = check(results, work)
            if "digits_cnn" in keys:
                failures += mixed_float_layers_check(quantc, work)
            import int4_checks
            failures += int4_checks.main([k for k in keys if k in ("digits_mlp", "digits_cnn", "digits_transformer")], quantc, work,
                                         a.samples, True, None)
            for f in failures:
                print("FAIL:", f)
            if failures:
                sys.exit(1)
            print("check: all targets met")
    finally:
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
