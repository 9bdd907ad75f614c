#!/usr/bin/env python3
"""Benchmark quantc's model import against onnx.load.

Generates (once, cached under .cache/bench/) a ~270 MB float32 model, a chain
of MatMul/Add/Relu layers with deterministic random weights, saved twice:
inline (big_inline.onnx) and with external data (big_external.onnx plus
big_external.onnx.data). For each variant it measures, each time in a fresh
subprocess:

  onnx.load     the time of the onnx.load(path) call alone (interpreter start
                and `import onnx` excluded) and the child's peak RSS; with
                external data, onnx.load reads the weights too (its default);
  quantc        the wall time of the whole `quantc inspect path` process and
                its peak RSS.

Peak RSS is ru_maxrss of the measured process, taken by a small launcher
process (see LAUNCHER for why not directly).

One warm-up run of each puts the files in the page cache; then both are run
--repeat times, interleaved, and the medians are reported as a markdown table
with PASS/FAIL for the targets:

  inline:   quantc inspect no slower than onnx.load
  external: quantc inspect >= 10x faster than onnx.load, and its peak RSS
            below 10% of the weights' bytes

Usage: tools/bench_import.py [--quantc PATH] [-n REPEAT] [--report FILE] [--strict]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MB = 1 << 20

# Code run by a fresh interpreter to time onnx.load; prints one JSON line.
ONNX_LOAD_CHILD = r"""
import json, resource, sys, time
import onnx
base_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
model = onnx.load(sys.argv[1])
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "base_kb": base_kb}))
"""

# Small launcher (`python -I -S -c LAUNCHER argv...`) that runs argv in a child
# and reports the child's wall time and peak RSS on its last stderr line.
# Why not wait4 on our own child: Linux carries the forking process's peak RSS
# over exec into the child's ru_maxrss, so children of this (large) process
# would all report at least its peak. The launcher is small, and it also
# resets the child's high-water mark (clear_refs) before exec.
RESULT_MARK = "@@launcher@@ "
LAUNCHER = r"""
import json, os, sys, time
start = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        fd = os.open("/proc/self/clear_refs", os.O_WRONLY)
        os.write(fd, b"5")  # reset the peak RSS to the current RSS
        os.close(fd)
    except OSError:
        pass
    try:
        os.execv(sys.argv[1], sys.argv[1:])
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
seconds = time.perf_counter() - start
result = {"seconds": seconds, "peak_kb": usage.ru_maxrss, "status": os.waitstatus_to_exitcode(status)}
sys.stderr.write("\n@@launcher@@ " + json.dumps(result) + "\n")
"""


# ---------------------------------------------------------------------------
# Model generation
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelSpec:
    layers: int = 16
    hidden: int = 2048  # 16 x (2048 x 2048 + 2048) = 67.1M parameters = 268 MB
    seed: int = 0

    @property
    def parameters(self) -> int:
        return self.layers * (self.hidden * self.hidden + self.hidden)

    @property
    def weight_bytes(self) -> int:
        return 4 * self.parameters


def build_model(spec: ModelSpec):
    """y = relu(...relu(x @ W0 + b0)... @ Wn + bn) with N(0, 1/hidden) weights."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(spec.seed)
    scale = np.float32(1.0 / np.sqrt(spec.hidden))
    nodes, initializers = [], []
    current = "x"
    for i in range(spec.layers):
        w = rng.standard_normal((spec.hidden, spec.hidden), dtype=np.float32) * scale
        b = rng.standard_normal(spec.hidden, dtype=np.float32) * np.float32(0.01)
        initializers += [numpy_helper.from_array(w, f"w{i}"), numpy_helper.from_array(b, f"b{i}")]
        nodes += [
            helper.make_node("MatMul", [current, f"w{i}"], [f"mm{i}"]),
            helper.make_node("Add", [f"mm{i}", f"b{i}"], [f"add{i}"]),
            helper.make_node("Relu", [f"add{i}"], [f"h{i}"]),
        ]
        current = f"h{i}"
    nodes[-1].output[0] = "y"
    graph = helper.make_graph(
        nodes,
        "bench_mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", spec.hidden])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", spec.hidden])],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.producer_name = "quantc-bench"
    onnx.checker.check_model(model)
    return model


@dataclass
class Variant:
    name: str
    path: Path
    data: Path | None  # external data file, if any

    def size_text(self) -> str:
        size = format_bytes(self.path.stat().st_size)
        if self.data is not None:
            size += f" + {format_bytes(self.data.stat().st_size)} data"
        return size


def format_bytes(n: int) -> str:
    return f"{n / MB:.1f} MB" if n >= MB else f"{n / 1024:.1f} KB"


def prepare_models(cache: Path, spec: ModelSpec) -> list[Variant]:
    """The inline and external-data variants, generated unless cached."""
    import onnx

    inline = Variant("inline", cache / "big_inline.onnx", None)
    external = Variant("external data", cache / "big_external.onnx",
                       cache / "big_external.onnx.data")
    stamp_path = cache / "stamp.json"
    stamp = {"spec": spec.__dict__, "onnx": onnx.__version__}
    files = [inline.path, external.path, external.data]
    if (stamp_path.exists() and json.loads(stamp_path.read_text()) == stamp
            and all(f.exists() for f in files)):
        return [inline, external]

    log(f"generating {spec.parameters / 1e6:.1f}M-parameter model in {cache} ...")
    started = time.monotonic()
    cache.mkdir(parents=True, exist_ok=True)
    stamp_path.unlink(missing_ok=True)
    for f in files:
        f.unlink(missing_ok=True)
    model = build_model(spec)
    onnx.save_model(model, inline.path)
    # Saving with external data moves the tensors out of `model`: do it last.
    onnx.save_model(model, external.path, save_as_external_data=True,
                    all_tensors_to_one_file=True, location=external.data.name,
                    size_threshold=1024)
    stamp_path.write_text(json.dumps(stamp))
    log(f"generated in {time.monotonic() - started:.1f}s")
    return [inline, external]


# ---------------------------------------------------------------------------
# Measurements
# ---------------------------------------------------------------------------


@dataclass
class Sample:
    seconds: float
    peak_bytes: int


def launch(argv: list[str]) -> tuple[dict, str, str]:
    """Run argv under LAUNCHER: (launcher result, child stdout, child stderr)."""
    proc = subprocess.run([sys.executable, "-I", "-S", "-c", LAUNCHER, *argv],
                          capture_output=True, text=True)
    head, mark, tail = proc.stderr.rpartition(RESULT_MARK)
    if not mark:
        raise RuntimeError(f"launcher failed: {proc.stderr.strip()}")
    result = json.loads(tail)
    if result["status"] != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({result['status']}): {head.strip()}")
    return result, proc.stdout, head


def measure_onnx_load(path: Path) -> tuple[Sample, int]:
    """onnx.load in a fresh interpreter: (sample, its RSS before loading).

    The time is that of the onnx.load call; the peak RSS is the whole child's."""
    result, stdout, _ = launch([sys.executable, "-c", ONNX_LOAD_CHILD, str(path)])
    child = json.loads(stdout.strip().splitlines()[-1])
    return Sample(child["seconds"], result["peak_kb"] * 1024), child["base_kb"] * 1024


def measure_quantc(quantc: str, path: Path) -> Sample:
    """Wall time and peak RSS of one `quantc inspect path` process."""
    result, _, _ = launch([quantc, "inspect", str(path)])
    return Sample(result["seconds"], result["peak_kb"] * 1024)


def measurement_floor() -> int:
    """Peak RSS reported for /bin/true: the smallest value the method can give."""
    true = shutil.which("true") or "/bin/true"
    return launch([true])[0]["peak_kb"] * 1024


@dataclass
class Measurement:
    variant: Variant
    onnx_load: Sample  # medians
    quantc: Sample
    python_base_bytes: int


def median_sample(samples: list[Sample]) -> Sample:
    return Sample(statistics.median(s.seconds for s in samples),
                  int(statistics.median(s.peak_bytes for s in samples)))


def benchmark(quantc: str, variant: Variant, repeat: int) -> Measurement:
    """One warm-up of each tool, then `repeat` interleaved runs; medians."""
    measure_onnx_load(variant.path)
    measure_quantc(quantc, variant.path)
    loads, quantcs, bases = [], [], []
    for i in range(repeat):
        sample, base = measure_onnx_load(variant.path)
        loads.append(sample)
        bases.append(base)
        quantcs.append(measure_quantc(quantc, variant.path))
        log(f"  {variant.name} run {i + 1}/{repeat}: onnx.load {sample.seconds:.3f}s, "
            f"quantc {quantcs[-1].seconds:.3f}s")
    return Measurement(variant, median_sample(loads), median_sample(quantcs),
                       int(statistics.median(bases)))


# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------


def machine_description() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f", {int(line.split()[1]) / (1 << 20):.0f} GiB RAM"
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores{memory}; {platform.system()} {platform.release()}"


def targets(results: list[Measurement], spec: ModelSpec) -> list[tuple[str, bool, str]]:
    """(description, passed, measured value) for each target."""
    by_name = {m.variant.name: m for m in results}
    inline, external = by_name["inline"], by_name["external data"]
    external_speedup = external.onnx_load.seconds / external.quantc.seconds
    external_rss = external.quantc.peak_bytes / spec.weight_bytes
    return [
        ("inline: quantc inspect no slower than onnx.load",
         inline.quantc.seconds <= inline.onnx_load.seconds,
         f"{inline.quantc.seconds:.3f}s vs {inline.onnx_load.seconds:.3f}s"),
        ("external data: quantc inspect >= 10x faster than onnx.load",
         external_speedup >= 10, f"{external_speedup:.1f}x"),
        ("external data: quantc peak RSS < 10% of weight bytes",
         external_rss < 0.10, f"{100 * external_rss:.1f}%"),
    ]


def report_markdown(results: list[Measurement], spec: ModelSpec, quantc: str,
                    repeat: int, floor: int) -> tuple[str, bool]:
    import onnx

    lines = [
        "# quantc import benchmark",
        "",
        f"Machine: {machine_description()}  ",
        f"Python {platform.python_version()}, onnx {onnx.__version__}; quantc: `{quantc}`  ",
        f"Model: {spec.layers} x MatMul/Add/Relu, hidden {spec.hidden}, "
        f"{spec.parameters / 1e6:.1f}M float32 parameters = {spec.weight_bytes / MB:.0f} MB of weights  ",
        f"Medians of {repeat} runs after one warm-up run each (files in page cache).",
        "",
        "| model | file size | onnx.load | quantc inspect | speedup | onnx.load peak RSS "
        "| quantc peak RSS | quantc RSS / weights |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for m in results:
        lines.append(
            f"| {m.variant.name} | {m.variant.size_text()} | {m.onnx_load.seconds:.3f} s "
            f"| {m.quantc.seconds:.3f} s | {m.onnx_load.seconds / m.quantc.seconds:.1f}x "
            f"| {m.onnx_load.peak_bytes / MB:.0f} MB | {m.quantc.peak_bytes / MB:.1f} MB "
            f"| {100 * m.quantc.peak_bytes / spec.weight_bytes:.1f}% |")
    base = statistics.median(m.python_base_bytes for m in results)
    lines += [
        "",
        "onnx.load time is the call alone (interpreter start and `import onnx` excluded); "
        f"its peak RSS includes the interpreter with onnx imported ({base / MB:.0f} MB before "
        "loading). With external data, onnx.load also reads the weights (its default). "
        "quantc time is the whole `quantc inspect` process. Peak RSS is the child's "
        f"ru_maxrss (the same method reports {floor / MB:.1f} MB for /bin/true).",
        "",
        "| target | measured | result |",
        "|---|---:|---|",
    ]
    all_pass = True
    for description, passed, value in targets(results, spec):
        all_pass &= passed
        lines.append(f"| {description} | {value} | {'PASS' if passed else 'FAIL'} |")
    return "\n".join(lines) + "\n", all_pass


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quantc", default=os.environ.get("QUANTC", str(REPO / ".build/release/quantc")),
                        help="quantc binary (default: $QUANTC or .build/release/quantc)")
    parser.add_argument("-n", "--repeat", type=int, default=5, help="timed runs (default: 5)")
    parser.add_argument("--cache", type=Path, default=REPO / ".cache/bench",
                        help="where the models are generated (default: %(default)s)")
    parser.add_argument("--layers", type=int, default=ModelSpec.layers, help=argparse.SUPPRESS)
    parser.add_argument("--hidden", type=int, default=ModelSpec.hidden, help=argparse.SUPPRESS)
    parser.add_argument("--report", type=Path, help="also write the markdown here")
    parser.add_argument("--strict", action="store_true", help="exit 1 if a target fails")
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    quantc = os.path.abspath(shutil.which(args.quantc) or args.quantc)
    if not os.access(quantc, os.X_OK):
        log(f"error: quantc not found or not executable: {quantc} (build it or set QUANTC)")
        return 2
    spec = ModelSpec(args.layers, args.hidden)
    variants = prepare_models(args.cache, spec)
    results = []
    try:
        for variant in variants:
            log(f"benchmarking {variant.name} ({variant.size_text()}) ...")
            results.append(benchmark(quantc, variant, args.repeat))
    except RuntimeError as e:
        log(f"error: {e}")
        return 2
    text, all_pass = report_markdown(results, spec, quantc, args.repeat, measurement_floor())
    print(text)
    if args.report:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(text)
    return 1 if args.strict and not all_pass else 0


if __name__ == "__main__":
    sys.exit(main())
