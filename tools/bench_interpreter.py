#!/usr/bin/env python3
"""Benchmark quantc's CPU interpreter against ONNX Runtime.

Models (each skipped with a note when its files are missing):

  light_*       the 9 light model-zoo models of .cache/conformance/light (made
                by tools/conformance_io.py) with their test inputs;
  digits_mlp    models/digits_mlp.onnx on models/digits/test_x.npy, as one
                batch of 1197 and as a batch of 1 (the first row);
  real models   .cache/models/*.onnx (tools/fetch_models.sh) on random float32
                inputs from a fixed seed, shaped as the model declares with
                symbolic dims set per model (REAL_DIMS: e.g. ddddocr's
                image_width = 192, a 64-pixel-high captcha line).

Both runtimes get 2 threads: `quantc run --threads 2`; ORT with
intra_op_num_threads=2, inter_op_num_threads=1, the CPU execution provider and
default graph optimizations. Per model, after one warm-up of each, N
repetitions (default 5) alternate between the two, each in a fresh process:

  quantc compute  the `ran in X s` that `quantc run` prints (interpreter.run only)
  ORT run         session.run in a fresh process: the first and only run of a
                  new session, as quantc's is; this is the primary comparison
  quantc process  wall time of the whole `quantc run` process (import, input
                  read, run, .npy outputs written)
  ORT process     the same work in a fresh Python process (session creation,
                  .npy inputs read, run, .npy outputs written); Python start-up
                  and `import onnxruntime, numpy` are excluded
  ORT warm        informational: median session.run of an already-warm session
                  in this process

Medians are reported. Ratio = quantc / ORT (below 1: quantc is faster). Targets
on the primary (compute) ratio: median over the models that run <= 1.5 and no
model above 2.5. quantc's outputs are also checked against ORT's (rtol 1e-3,
atol 1e-4; "check" column): a model whose outputs differ is still timed.

Models quantc cannot run yet are listed as "unsupported: OPS" (every operator
of the model the interpreter lacks, probed by tools/interpreter_ops.py); ORT
runs them once in a fresh process (plus warm runs) for reference.

Usage:
  tools/bench_interpreter.py [-n RUNS] [--filter REGEX] [--report FILE]
                             [--quantc PATH] [--threads N] [--strict] [--model FILE.onnx]...

--model benches the given models instead (random inputs, symbolic dims 1).

Exit status: 0; with --strict, 1 when a target is missed; 2 on a setup error.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from interpreter_ops import UNSUPPORTED_RE, missing_ops  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
WORK = REPO / ".cache" / "bench" / "interpreter"
TARGET_MEDIAN, TARGET_MAX = 1.5, 2.5
CHECK_RTOL, CHECK_ATOL = 1e-3, 1e-4
RUN_TIMEOUT = 600
FINE_BELOW = 0.010  # seconds: below this, quantc's compute time comes from --profile
SEED = 20240601

# Values for symbolic input dims of the real models (all others: 1).
REAL_DIMS = {
    "common.onnx": {"image_width": 192},
}

# Run in a fresh interpreter: times ORT on one model like `quantc run` does.
ORT_CHILD = r"""
import json, sys, time
import numpy as np
import onnxruntime as ort
model, out_dir, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
feeds_spec = json.loads(sys.argv[4])
start = time.perf_counter()
options = ort.SessionOptions()
options.intra_op_num_threads = threads
options.inter_op_num_threads = 1
options.log_severity_level = 3
session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
feeds = {name: np.load(path) for name, path in feeds_spec.items()}
run_start = time.perf_counter()
outputs = session.run(None, feeds)
run_end = time.perf_counter()
import os, re
os.makedirs(out_dir, exist_ok=True)
for o, value in zip(session.get_outputs(), outputs):
    np.save(os.path.join(out_dir, re.sub(r"[^0-9A-Za-z_.\-]", "_", o.name) + ".npy"), value)
end = time.perf_counter()
print(json.dumps({"run": run_end - run_start, "process": end - start}))
"""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass
class Bench:
    name: str
    model: Path
    inputs: dict[str, Path]  # input name -> .npy
    shape_note: str = ""
    status: str = "ok"  # ok | unsupported | error | missing
    detail: str = ""
    check: str = ""
    quantc_compute: list[float] = field(default_factory=list)
    quantc_process: list[float] = field(default_factory=list)
    ort_run: list[float] = field(default_factory=list)
    ort_process: list[float] = field(default_factory=list)
    ort_warm: list[float] = field(default_factory=list)
    fine: bool = False  # compute times are --profile sums
    hot_ops: str = ""  # where quantc spends its time, for models over the target

    def median(self, attr: str) -> float | None:
        values = getattr(self, attr)
        return statistics.median(values) if values else None

    @property
    def ratio(self) -> float | None:
        q, o = self.median("quantc_compute"), self.median("ort_run")
        return q / o if q is not None and o else None

    @property
    def process_ratio(self) -> float | None:
        q, o = self.median("quantc_process"), self.median("ort_process")
        return q / o if q is not None and o else None


# ---------------------------------------------------------------------------
# Models and inputs
# ---------------------------------------------------------------------------


def feed_inputs(model: Path) -> list:
    import onnx

    graph = onnx.load(str(model), load_external_data=False).graph
    inits = {t.name for t in graph.initializer}
    return [vi for vi in graph.input if vi.name not in inits]


def save_atomic(path: Path, array: np.ndarray) -> None:
    """np.save through a temporary name, so a concurrent run never reads half a file."""
    tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npy")
    np.save(tmp, array)
    os.replace(tmp, path)


def shape_string(inputs: dict[str, Path]) -> str:
    parts = []
    for name, path in inputs.items():
        a = np.load(path, mmap_mode="r")
        parts.append(f"{name} {'x'.join(map(str, a.shape))}")
    return ", ".join(parts)


def light_benches() -> list[Bench]:
    import onnx
    from onnx import numpy_helper

    root = REPO / ".cache" / "conformance" / "light"
    out = []
    for directory in sorted(root.glob("light_*")):
        model, data = directory / "model.onnx", directory / "test_data_set_0"
        if not model.exists():
            continue
        work = WORK / "inputs" / directory.name
        work.mkdir(parents=True, exist_ok=True)
        inputs = {}
        for j, vi in enumerate(feed_inputs(model)):
            npy = work / f"input_{j}.npy"
            if not npy.exists():
                tensor = onnx.TensorProto()
                tensor.ParseFromString((data / f"input_{j}.pb").read_bytes())
                save_atomic(npy, numpy_helper.to_array(tensor))
            inputs[vi.name] = npy
        out.append(Bench(directory.name, model, inputs))
    if not out:
        log("note: no light models in .cache/conformance/light (run tools/conformance_io.py once)")
    return out


def digits_benches() -> list[Bench]:
    model, data = REPO / "models" / "digits_mlp.onnx", REPO / "models" / "digits" / "test_x.npy"
    if not (model.exists() and data.exists()):
        log("note: models/digits_mlp.onnx or models/digits/test_x.npy missing")
        return []
    name = feed_inputs(model)[0].name
    work = WORK / "inputs" / "digits"
    work.mkdir(parents=True, exist_ok=True)
    x = np.load(data)
    one = work / "batch1.npy"
    save_atomic(one, np.ascontiguousarray(x[:1]))
    return [Bench(f"digits_mlp (batch {x.shape[0]})", model, {name: data}),
            Bench("digits_mlp (batch 1)", model, {name: one})]


def real_benches(models: list[Path] | None = None) -> list[Bench]:
    from onnx import helper

    if models is None:
        models = sorted((REPO / ".cache" / "models").glob("*.onnx"))
        if not models:
            log("note: no models in .cache/models (run tools/fetch_models.sh)")
    out = []
    for model in models:
        dims = REAL_DIMS.get(model.name, {})
        work = WORK / "inputs" / model.stem
        work.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng(SEED)
        inputs = {}
        for j, vi in enumerate(feed_inputs(model)):
            tt = vi.type.tensor_type
            shape = [d.dim_value if d.HasField("dim_value") else dims.get(d.dim_param, 1) for d in tt.shape.dim]
            dtype = helper.tensor_dtype_to_np_dtype(tt.elem_type)
            if np.issubdtype(dtype, np.floating):
                value = rng.standard_normal(shape).astype(dtype)
            else:
                value = rng.integers(0, 10, shape).astype(dtype)
            npy = work / f"input_{j}.npy"
            save_atomic(npy, value)
            inputs[vi.name] = npy
        out.append(Bench(model.stem, model, inputs))
    return out


# ---------------------------------------------------------------------------
# Timing
# ---------------------------------------------------------------------------


def quantc_cmd(args, bench: Bench, out_dir: Path, profile: bool = False) -> list[str]:
    cmd = [args.quantc, "run", str(bench.model), "--output-dir", str(out_dir), "--threads", str(args.threads)]
    for name, path in bench.inputs.items():
        cmd += ["--input", f"{name}={path}"]
    return cmd + (["--profile"] if profile else [])


# `quantc run --profile` lines: "    0.15 ms  56.9%     3 × Gemm"
PROFILE_RE = re.compile(r"^\s*([0-9.]+)\s*(s|ms|µs|us)\s+([0-9.]+)%\s+(\d+)\s*[×x]\s*(\S+)", re.M)
UNIT = {"s": 1.0, "ms": 1e-3, "µs": 1e-6, "us": 1e-6}


def profile_lines(text: str) -> list[tuple[float, int, str]]:
    """(seconds, node count, op type) per line of `quantc run --profile` output."""
    return [(float(m.group(1)) * UNIT[m.group(2)], int(m.group(4)), m.group(5)) for m in PROFILE_RE.finditer(text)]


def run_quantc(args, bench: Bench, out_dir: Path, profile: bool = False) -> tuple[float, float, str]:
    """(compute seconds, process wall seconds, stdout+stderr); raises RuntimeError on failure.

    Compute is the `ran in X.XXX s` line; with profile=True (for runs below
    FINE_BELOW, where its 1 ms resolution is too coarse) it is the sum of the
    per-operator times of `--profile`."""
    shutil.rmtree(out_dir, ignore_errors=True)
    started = time.perf_counter()
    proc = subprocess.run(quantc_cmd(args, bench, out_dir, profile), capture_output=True, text=True,
                          timeout=RUN_TIMEOUT)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}")
    text = proc.stdout + proc.stderr
    ran = re.search(r"ran in ([0-9.]+) s", proc.stderr)
    if not ran:
        raise RuntimeError("no 'ran in' line on quantc's stderr")
    compute = float(ran.group(1))
    if profile:
        ops = profile_lines(text)
        if ops:
            compute = sum(t for t, _, _ in ops)
    return compute, wall, text


def run_ort_child(args, bench: Bench, out_dir: Path) -> tuple[float, float]:
    """(session.run seconds, process seconds without Python start-up) in a fresh process."""
    shutil.rmtree(out_dir, ignore_errors=True)
    feeds = json.dumps({k: str(v) for k, v in bench.inputs.items()})
    proc = subprocess.run([sys.executable, "-c", ORT_CHILD, str(bench.model), str(out_dir), str(args.threads), feeds],
                          capture_output=True, text=True, timeout=RUN_TIMEOUT)
    if proc.returncode != 0:
        raise RuntimeError("ORT: " + (proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}"))
    d = json.loads(proc.stdout.strip().splitlines()[-1])
    return d["run"], d["process"]


def ort_warm(args, bench: Bench) -> list[float]:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    session = ort.InferenceSession(str(bench.model), options, providers=["CPUExecutionProvider"])
    feeds = {k: np.load(v) for k, v in bench.inputs.items()}
    session.run(None, feeds)
    times = []
    for _ in range(args.runs):
        started = time.perf_counter()
        session.run(None, feeds)
        times.append(time.perf_counter() - started)
    return times


def check_outputs(q_dir: Path, o_dir: Path) -> str:
    """Compare quantc's .npy outputs with ORT's."""
    worst = []
    for o_file in sorted(o_dir.glob("*.npy")):
        q_file = q_dir / o_file.name
        if not q_file.exists():
            return f"mismatch: {o_file.stem} missing"
        q, o = np.load(q_file), np.load(o_file)
        if q.shape != o.shape:
            return f"mismatch: {o_file.stem} shape {list(q.shape)} vs {list(o.shape)}"
        if o.dtype.kind in "fc":
            with np.errstate(all="ignore"):
                ok = np.isclose(q.astype(np.float64), o.astype(np.float64), rtol=CHECK_RTOL, atol=CHECK_ATOL,
                                equal_nan=True)
                diff = float(np.nanmax(np.abs(q.astype(np.float64) - o.astype(np.float64)))) if q.size else 0.0
            if not ok.all():
                return f"mismatch: {o_file.stem} {int((~ok).sum())}/{ok.size} off, max abs diff {diff:.3g}"
            worst.append(diff)
        elif not np.array_equal(q, o):
            return f"mismatch: {o_file.stem} {int((q != o).sum())}/{q.size} differ"
    return f"ok (max abs diff {max(worst):.2g})" if worst else "ok"


def bench_one(args, bench: Bench) -> None:
    q_dir, o_dir = args.out / "quantc", args.out / "ort"
    bench.shape_note = shape_string(bench.inputs)
    # Warm-up (also tells whether quantc runs it at all).
    try:
        compute, _, _ = run_quantc(args, bench, q_dir)
        bench.fine = compute < FINE_BELOW
    except RuntimeError as e:
        match = UNSUPPORTED_RE.search(str(e))
        if match:
            bench.status = "unsupported"
            bench.detail = ", ".join(missing_ops(args.quantc, bench.model)) or match.group(1)
        else:
            bench.status, bench.detail = "error", re.sub(r"^error: \S+: ", "", str(e))[:200]
    except subprocess.TimeoutExpired:
        bench.status, bench.detail = "error", f"quantc timeout after {RUN_TIMEOUT}s"
    except OSError as e:
        bench.status, bench.detail = "error", f"cannot run quantc: {e}"
    try:
        run, process = run_ort_child(args, bench, o_dir)
        if bench.status != "ok":  # ORT for reference only: one fresh-process run, then warm runs
            bench.ort_run.append(run)
            bench.ort_process.append(process)
            bench.ort_warm = ort_warm(args, bench)
            return
        bench.check = check_outputs(q_dir, o_dir)
        for _ in range(args.runs):
            if bench.status == "ok":
                compute, wall, _ = run_quantc(args, bench, q_dir, profile=bench.fine)
                bench.quantc_compute.append(compute)
                bench.quantc_process.append(wall)
            run, process = run_ort_child(args, bench, o_dir)
            bench.ort_run.append(run)
            bench.ort_process.append(process)
        bench.ort_warm = ort_warm(args, bench)
        if bench.ratio is not None and bench.ratio > TARGET_MAX:
            _, _, text = run_quantc(args, bench, q_dir, profile=True)
            ops = sorted(profile_lines(text), reverse=True)
            total = sum(t for t, _, _ in ops) or 1.0
            bench.hot_ops = ", ".join(f"{op} ×{n} {ms(t)} ({100 * t / total:.0f}%)" for t, n, op in ops[:4])
    except (RuntimeError, subprocess.TimeoutExpired, OSError) as e:
        bench.status, bench.detail = "error", str(e)[:200]


# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def ms(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    return f"{seconds * 1000:.1f} ms" if seconds < 10 else f"{seconds:.1f} s"


def ratio(r: float | None) -> str:
    return f"{r:.2f}x" if r is not None else "–"


def report(args, benches: list[Bench], elapsed: float) -> tuple[str, bool]:
    import onnxruntime

    timed = [b for b in benches if b.status == "ok" and b.ratio is not None]
    lines = [
        "# quantc interpreter vs ONNX Runtime",
        "",
        f"`tools/bench_interpreter.py`: {cpu_name()}, {os.cpu_count()} cores; "
        f"onnxruntime {onnxruntime.__version__}; {args.threads} threads each; median of {args.runs} "
        f"runs after a warm-up, each in a fresh process; {elapsed:.0f} s in all; load average "
        f"{args.load_before:.2f} before the run.",
        "",
        "compute = quantc's `ran in` vs ORT's session.run (first run of a new session, as quantc's is); "
        "process = the whole `quantc run` vs session creation + input read + run + output write in a "
        "fresh Python process (start-up and imports excluded); ORT warm = session.run of a warm session "
        "(informational). Ratio = quantc / ORT.",
        "",
        "| model | input | quantc compute | ORT run | ratio | quantc process | ORT process | ratio | ORT warm | check |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for b in benches:
        if b.status == "ok":
            lines.append(
                f"| {b.name} | {b.shape_note} | {ms(b.median('quantc_compute'))}{'¹' if b.fine else ''} | "
                f"{ms(b.median('ort_run'))} | "
                f"**{ratio(b.ratio)}** | {ms(b.median('quantc_process'))} | {ms(b.median('ort_process'))} | "
                f"{ratio(b.process_ratio)} | {ms(b.median('ort_warm'))} | {b.check.replace('|', '/')} |")
        else:
            what = f"unsupported: {b.detail}" if b.status == "unsupported" else f"{b.status}: {b.detail}"
            lines.append(
                f"| {b.name} | {b.shape_note} | {what.replace('|', '/')} | {ms(b.median('ort_run'))} | | | "
                f"{ms(b.median('ort_process'))} | | {ms(b.median('ort_warm'))} | |")
    lines.append("")
    passed = True
    if timed:
        ratios = [b.ratio for b in timed]
        med, worst = statistics.median(ratios), max(timed, key=lambda b: b.ratio)
        ok_med, ok_max = med <= TARGET_MEDIAN, worst.ratio <= TARGET_MAX
        passed = ok_med and ok_max
        proc = [b.process_ratio for b in timed if b.process_ratio is not None]
        lines += [
            f"Models timed: {len(timed)} of {len(benches)} "
            f"({sum(b.status == 'unsupported' for b in benches)} unsupported, "
            f"{sum(b.status == 'error' for b in benches)} errors).",
            "",
            f"- median compute ratio {med:.2f}x (target ≤ {TARGET_MEDIAN}): **{'PASS' if ok_med else 'FAIL'}**",
            f"- max compute ratio {worst.ratio:.2f}x ({worst.name}; target ≤ {TARGET_MAX}): "
            f"**{'PASS' if ok_max else 'FAIL'}**",
            f"- process ratio: median {statistics.median(proc):.2f}x, max {max(proc):.2f}x (informational)",
        ]
        mism = [b.name for b in timed if b.check.startswith("mismatch")]
        if mism:
            lines.append(f"- outputs differ from ORT on: {', '.join(mism)}")
        hot = [b for b in timed if b.hot_ops]
        if hot:
            lines += ["", f"Where quantc spends its time on the models over {TARGET_MAX}x (`quantc run --profile`, "
                      "top operator types):", ""]
            lines += [f"- {b.name}: {b.hot_ops}" for b in hot]
        if any(b.fine for b in timed):
            lines += ["", f"¹ below {FINE_BELOW * 1000:.0f} ms, where `ran in X.XXX s` is too coarse, quantc's compute "
                      "time is the sum of its `--profile` per-operator times (executor overhead between nodes "
                      "not included)."]
    else:
        passed = False
        lines.append(f"No model runs on quantc yet ({len(benches)} listed): targets not evaluated (**FAIL**).")
    return "\n".join(lines) + "\n", passed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quantc", default=os.environ.get("QUANTC", str(REPO / ".build/release/quantc")))
    parser.add_argument("-n", "--runs", type=int, default=5, help="timed runs per model (default: 5)")
    parser.add_argument("--threads", type=int, default=2, help="threads for both runtimes (default: 2)")
    parser.add_argument("--filter", metavar="REGEX", help="only models whose name matches")
    parser.add_argument("--report", type=Path, help="also write the markdown here")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--model", type=Path, action="append", default=[],
                        help="bench only this model (repeatable), on seeded random inputs")
    args = parser.parse_args()
    args.quantc = shutil.which(args.quantc) or args.quantc
    if not os.access(args.quantc, os.X_OK):
        log(f"error: quantc not found or not executable: {args.quantc}")
        return 2
    # Time a private copy: a rebuild during the run must not swap the binary.
    snapshot = tempfile.TemporaryDirectory(prefix="quantc-bench-")
    (Path(snapshot.name) / "bin").mkdir()
    args.quantc = shutil.copy2(args.quantc, Path(snapshot.name) / "bin" / "quantc")
    args.out = Path(snapshot.name) / "out"  # outputs of this run (private: other runs may be going on)
    args.load_before = os.getloadavg()[0]
    if args.load_before > 0.5:
        log(f"warning: load average {args.load_before:.2f}: other work on the machine will skew the timings")
    started = time.monotonic()
    if args.model:
        benches = real_benches([m.resolve() for m in args.model])
    else:
        benches = light_benches() + digits_benches() + real_benches()
    if args.filter:
        benches = [b for b in benches if re.search(args.filter, b.name)]
    if not benches:
        log("error: no models selected")
        return 2
    for i, b in enumerate(benches, 1):
        t = time.monotonic()
        bench_one(args, b)
        summary = (f"quantc {ms(b.median('quantc_compute'))}, ORT {ms(b.median('ort_run'))}, {ratio(b.ratio)}"
                   if b.status == "ok" else f"{b.status}: {b.detail}")
        log(f"[{i}/{len(benches)}] {b.name}: {summary} ({time.monotonic() - t:.0f}s)")
    text, passed = report(args, benches, time.monotonic() - started)
    print(text)
    if args.report:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(text)
        log(f"report written to {args.report}")
    return 1 if args.strict and not passed else 0


if __name__ == "__main__":
    sys.exit(main())
