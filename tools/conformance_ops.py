#!/usr/bin/env python3
"""Operator conformance of quantc's CPU interpreter against ONNX's backend node tests.

Runs every ONNX backend node test whose operator is on quantc's operator list
(tools/interpreter_ops.py OP_LIST, the same list as Sources/IR/OpSupport.swift)
through `quantc run MODEL --input-dir test_data_set_N --output-dir DIR` and
compares the .npy outputs with the expected ones the way ONNX's backend test
runner does (onnx.backend.test.runner.Runner.assert_similar_outputs):

  * same number of outputs, same shape, same dtype;
  * float outputs: |actual - expected| <= atol + rtol * |expected| elementwise,
    NaN equal to NaN, with each TestCase's rtol/atol from
    onnx.backend.test.case.node.collect_testcases (onnx 1.23 uses rtol=1e-3,
    atol=1e-7 for every node test); bfloat16/float8 compared as float32, with
    rtol at least 2**-6 for bfloat16 as ONNX does;
  * integer, bool and string outputs: exactly equal.

Which operator a test belongs to: the op type of its model's top-level node
(every non-expanded node test is a single node). An expanded function test
(`test_X_expanded`, `test_X_expanded_verN`: the op replaced by its function
body, made of other ops) counts under the operator of `test_X` but is kept
apart: the op table's tests/pass/fail/unsupported columns and the headline
pass rate count only the direct tests; expanded tests get their own column
("expanded pass/total"). They are in the regression baseline like every test.

The 9 light model-zoo models (.cache/conformance/light) must match the outputs
shipped with onnx (rtol 1e-3, atol 1e-4); they form a second table.

A test is "unsupported" when quantc exits before compute with `unsupported
operator OP` (the op may be another one than the test's, e.g. inside an If
branch or an expanded body); every other error, crash, timeout or wrong output
is a failure, with a one-line reason.

Test cases are the ones tools/conformance_io.py generates into
.cache/conformance (node/<name>/model.onnx + test_data_set_N/*.pb); outputs go
to .cache/conformance/run_ops/. The operator and tolerance of every case are
cached in .cache/conformance/ops_meta.json (made once per onnx version).

Usage:
  tools/conformance_ops.py [-j N] [--timeout S] [--filter REGEX] [--op OP]...
                           [--report FILE | --no-report] [--check | --update-baseline]
                           [--quantc PATH] [--threads N] [-v]

A full run (no --filter/--op) writes docs/conformance_ops.md unless --no-report.
Regression gate: tools/conformance_ops_baseline.txt lists the passing tests,
sorted, one per line. --check exits 1 if a baseline test no longer passes and
lists tests that pass but are not in the baseline; --update-baseline rewrites
the baseline from this run (tests outside --filter/--op keep their entry).

Exit status: 0 (also when tests fail, unless --check finds a regression);
1 on a --check regression; 2 on a usage or setup error.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import conformance_io as cio  # noqa: E402
from interpreter_ops import OP_LIST, UNSUPPORTED_RE, op_key, registered_ops  # noqa: E402

REPO = cio.REPO
META_FORMAT = 1
DEFAULT_TIMEOUT = 60.0  # seconds per quantc run
LIGHT_RTOL, LIGHT_ATOL = 1e-3, 1e-4
BASELINE = REPO / "tools" / "conformance_ops_baseline.txt"
DEFAULT_REPORT = REPO / "docs" / "conformance_ops.md"
REASON_LEN = 160

# Tests whose expected outputs no runtime reproduces: the note goes with the failure.
KNOWN = [
    (re.compile(r"^test_training_dropout(_default)?(_mask)?$"),
     "random mask: ONNX's expected output comes from numpy's RNG"),
]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# Which op each test belongs to, and its tolerances (cached)
# ---------------------------------------------------------------------------


def expanded_base(name: str) -> str | None:
    """`test_softmax_axis_0` for `test_softmax_axis_0_expanded[_verN]`, else None."""
    i = name.find("_expanded")
    return name[:i] if i >= 0 else None


def load_meta(cache: Path, cases: list[cio.Case]) -> dict[str, dict]:
    """Per node case: top-level ops, the op it counts for, rtol/atol.

    Tolerances come from collect_testcases (slow, ~15 s), so the result is
    cached next to the manifest, stamped with the onnx version."""
    import onnx

    path = cache / "ops_meta.json"
    stamp = {"format": META_FORMAT, "io_format": cio.CACHE_FORMAT, "onnx": onnx.__version__}
    names = sorted(c.name for c in cases if c.kind == "node")
    if path.exists():
        data = json.loads(path.read_text())
        if data.get("stamp") == stamp and sorted(data["cases"]) == names:
            return data["cases"]
    log("collecting node test tolerances from onnx (once per onnx version) ...")
    import warnings

    from onnx.backend.test.case.node import collect_testcases

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        tolerances = {tc.name: (tc.rtol, tc.atol) for tc in collect_testcases(None)}
    meta: dict[str, dict] = {}
    for case in cases:
        if case.kind != "node":
            continue
        model = onnx.load(str(case.model), load_external_data=False)
        ops = sorted({op_key(n.op_type, n.domain) for n in model.graph.node})
        rtol, atol = tolerances.get(case.name, (1e-3, 1e-7))
        meta[case.name] = {"ops": ops, "rtol": rtol, "atol": atol}
    for name, m in meta.items():
        base = expanded_base(name)
        if base is None:
            m["op"] = m["ops"][0] if len(m["ops"]) == 1 else None
            m["expanded"] = False
        else:
            m["op"] = meta.get(base, {}).get("ops", [None])[0]
            m["expanded"] = True
    path.write_text(json.dumps({"stamp": stamp, "cases": meta}, indent=0, sort_keys=True))
    return meta


# ---------------------------------------------------------------------------
# Running one test
# ---------------------------------------------------------------------------


@dataclass
class Test:
    case: cio.Case
    op: str  # the op it counts for ("" for light models)
    expanded: bool
    rtol: float
    atol: float


@dataclass
class Result:
    test: Test
    status: str  # pass | fail | unsupported
    reason: str = ""
    needs: str = ""  # the unsupported operator
    seconds: float = 0.0  # wall time of the quantc processes
    compute: float = 0.0  # quantc's own "ran in" times

    @property
    def name(self) -> str:
        return self.test.case.name


@dataclass
class Settings:
    quantc: str
    work: Path
    timeout: float
    threads: int
    verbose: bool


def read_expected(path: Path) -> np.ndarray:
    import onnx
    from onnx import numpy_helper

    tensor = onnx.TensorProto()
    tensor.ParseFromString(path.read_bytes())
    return numpy_helper.to_array(tensor)


def short(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= REASON_LEN else text[: REASON_LEN - 3] + "..."


def quantc_error(stderr: str, model: Path, rc: int) -> str:
    """First error line without the `error: MODEL: ` prefix."""
    for line in stderr.splitlines():
        line = line.strip()
        if line.startswith("error:"):
            line = line[len("error:"):].strip()
            for prefix in (f"{model}: ", f"{model.resolve()}: "):
                if line.startswith(prefix):
                    line = line[len(prefix):]
            # Paths of the case's own files (input_0.pb, ...) without their folders.
            for folder in (model.parent, model.parent.resolve()):
                line = line.replace(f"{folder}/", "")
            return short(line)
    return short(cio.first_line(stderr)) if stderr.strip() else f"exit status {rc}"


def first_index(bad: np.ndarray) -> tuple[int, ...]:
    """Index of the first True element, as plain ints."""
    if bad.ndim == 0:
        return ()
    return tuple(int(k) for k in np.unravel_index(int(np.argmax(bad)), bad.shape))


def integer_range(elem_type: int) -> tuple[int, int] | None:
    """(lowest, highest) of an ONNX integer element type, None for other types."""
    from onnx import helper

    try:
        dtype = np.dtype(helper.tensor_dtype_to_np_dtype(elem_type))
    except (KeyError, TypeError, ValueError):
        return None
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return int(info.min), int(info.max)
    try:  # ml_dtypes' int4, uint4, int2, uint2
        import ml_dtypes

        info = ml_dtypes.iinfo(dtype)
        return int(info.min), int(info.max)
    except (ImportError, ValueError, TypeError):
        return None


def undefined_cast_elements(test: Test, data: Path) -> np.ndarray | None:
    """Elements of a float-to-integer Cast/CastLike test whose expected value the
    spec leaves open, None when every element is defined.

    ONNX Cast: "Casting from floating point to fixed point: undefined if OOR
    (out of range)". The node tests' expected values for such elements are what
    the generator's ml_dtypes happens to do (0.6 wraps, 0.7 gives 0), so only
    in-range elements are compared."""
    import onnx

    if test.op not in ("Cast", "CastLike") or not (data / "input_0.pb").exists():
        return None
    graph = onnx.load(str(test.case.model), load_external_data=False).graph
    bounds = integer_range(graph.output[0].type.tensor_type.elem_type)
    if bounds is None:
        return None
    source = read_expected(data / "input_0.pb")
    if source.dtype.kind in "biu" or source.dtype.name.startswith(("int", "uint")):
        return None  # integer to integer wraps, which the spec defines
    with np.errstate(all="ignore"):
        value = source.astype(np.float64)
        undefined = ~((value >= bounds[0]) & (value <= bounds[1]))
    return undefined if np.any(undefined) else None


def compare(expected: np.ndarray, actual: np.ndarray, rtol: float, atol: float,
            undefined: np.ndarray | None = None) -> str | None:
    """None when equal within tolerance, else why not (one line). Elements
    marked in `undefined` are not compared."""
    if tuple(actual.shape) != tuple(expected.shape):
        return f"shape {list(actual.shape)}, expected {list(expected.shape)}"
    if undefined is not None and undefined.shape == expected.shape and actual.dtype == expected.dtype:
        expected = expected.copy()
        expected[undefined] = actual[undefined]
    if expected.dtype == object or expected.dtype.kind in "USO":
        a = np.vectorize(lambda s: s.decode() if isinstance(s, bytes) else str(s), otypes=[object])(actual)
        e = np.vectorize(lambda s: s.decode() if isinstance(s, bytes) else str(s), otypes=[object])(expected)
        bad = a != e if a.size else np.zeros(0, bool)
        if not np.any(bad):
            return None
        i = first_index(bad)
        return f"{int(np.count_nonzero(bad))} of {bad.size} strings differ; at {list(i)}: {a[i]!r} vs {e[i]!r}"
    if actual.dtype != expected.dtype:
        return f"dtype {actual.dtype}, expected {expected.dtype}"
    if expected.dtype.kind in "biu":
        bad = actual != expected
        if not np.any(bad):
            return None
        i = first_index(bad)
        return (f"{int(np.count_nonzero(bad))} of {bad.size} elements differ (exact); "
                f"at {list(i)}: {actual[i]} vs expected {expected[i]}")
    if expected.dtype.kind not in "fc":  # ml_dtypes: bfloat16, float8, ...
        if expected.dtype.name == "bfloat16":
            rtol = max(rtol, 2 ** -6)
        actual, expected = actual.astype(np.float32), expected.astype(np.float32)
    with np.errstate(all="ignore"):
        ok = np.isclose(actual, expected, rtol=rtol, atol=atol, equal_nan=True)
        if np.all(ok):
            return None
        bad = ~ok
        diff = np.abs(actual.astype(np.complex128 if expected.dtype.kind == "c" else np.float64)
                      - expected.astype(np.complex128 if expected.dtype.kind == "c" else np.float64))
        finite = diff[bad & np.isfinite(diff)]
        worst = f", max |diff| {finite.max():.3g}" if finite.size else ""
    i = first_index(bad)
    return (f"{int(np.count_nonzero(bad))} of {bad.size} elements differ{worst} (rtol {rtol:g}, atol {atol:g}); "
            f"at {list(i)}: {actual[i]} vs expected {expected[i]}")


def output_file(out_dir: Path, name: str) -> Path:
    """Where `quantc run --output-dir` writes output `name`: NAME.npy, or
    NAME.pb (a TensorProto) for element types NumPy has no dtype for."""
    stem = out_dir / re.sub(r"[^0-9A-Za-z_.\-]", "_", name)
    pb = stem.with_name(stem.name + ".pb")
    return pb if pb.exists() else stem.with_name(stem.name + ".npy")


def run_test(settings: Settings, test: Test, outputs: list[tuple[str, str]]) -> Result:
    case = test.case
    result = Result(test, "pass")
    work = settings.work / case.kind / case.name
    shutil.rmtree(work, ignore_errors=True)
    for data in case.data_sets:
        out_dir = work / data.name
        cmd = [settings.quantc, "run", str(case.model), "--input-dir", str(data),
               "--output-dir", str(out_dir), "--threads", str(settings.threads)]
        started = time.monotonic()
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=settings.timeout)
        except subprocess.TimeoutExpired:
            result.seconds += time.monotonic() - started
            result.status, result.reason = "fail", f"timeout after {settings.timeout:g}s"
            return result
        result.seconds += time.monotonic() - started
        if proc.returncode != 0:
            match = UNSUPPORTED_RE.search(proc.stderr)
            if proc.returncode == 65 and match:
                result.status, result.needs = "unsupported", op_key(match.group(1), match.group(2))
                result.reason = f"needs {result.needs} (opset {match.group(3)})"
            elif proc.returncode < 0:
                result.status = "fail"
                result.reason = f"quantc crashed with {signal.Signals(-proc.returncode).name}"
            else:
                result.status = "fail"
                result.reason = f"exit {proc.returncode}: {quantc_error(proc.stderr, case.model, proc.returncode)}"
            return result
        ran = re.search(r"ran in ([0-9.]+) s", proc.stderr)
        if ran:
            result.compute += float(ran.group(1))
        prefix = f"{data.name}: " if len(case.data_sets) > 1 else ""
        for j, (name, kind) in enumerate(outputs):
            expected_path = data / f"output_{j}.pb"
            if not expected_path.exists():
                continue
            if kind != "tensor_type":
                result.status = "fail"
                result.reason = f"{prefix}output '{name}' is a {kind.replace('_type', '')}, not comparable as .npy"
                return result
            actual_path = output_file(out_dir, name)
            if not actual_path.exists():
                result.status, result.reason = "fail", f"{prefix}output '{name}' was not written"
                return result
            try:
                expected = read_expected(expected_path)
            except Exception as e:  # sequences, optionals, ...
                result.status, result.reason = "fail", f"{prefix}cannot read expected '{name}': {short(e)}"
                return result
            try:
                actual = (read_expected(actual_path) if actual_path.suffix == ".pb"
                          else np.load(actual_path, allow_pickle=False))
            except Exception as e:
                result.status, result.reason = "fail", f"{prefix}cannot read quantc's '{name}': {short(e)}"
                return result
            why = compare(expected, actual, test.rtol, test.atol,
                          undefined_cast_elements(test, data) if j == 0 else None)
            if why:
                result.status, result.reason = "fail", short(f"{prefix}output '{name}': {why}")
                return result
    shutil.rmtree(work, ignore_errors=True)  # keep outputs of failures only
    return result


def graph_info(model: Path) -> tuple[list[tuple[str, str]], list[str]]:
    """(name, value kind) of each output, and the non-tensor kinds (sequence_type,
    ...) among inputs and outputs."""
    import onnx

    graph = onnx.load(str(model), load_external_data=False).graph
    kinds = sorted({vi.type.WhichOneof("value") for vi in [*graph.input, *graph.output]}
                   - {"tensor_type", None})
    return [(o.name, o.type.WhichOneof("value") or "tensor_type") for o in graph.output], kinds


def annotate(result: Result, nontensor: list[str]) -> Result:
    """Add what is known about a failure's cause to its reason."""
    if result.status != "fail":
        return result
    notes = [note for pattern, note in KNOWN if pattern.search(result.name)]
    if nontensor:
        notes.append(f"model has {'/'.join(k.replace('_type', '') for k in nontensor)} values")
    if notes:
        result.reason = f"[{'; '.join(notes)}] {result.reason}"
    return result


def run_all(settings: Settings, tests: list[Test], jobs: int) -> list[Result]:
    results: list[Result] = []
    lock = threading.Lock()
    step = max(1, len(tests) // 10)

    def task(test: Test) -> Result:
        try:
            outputs, nontensor = graph_info(test.case.model)
            return annotate(run_test(settings, test, outputs), nontensor)
        except Exception as e:  # a bug here must not lose the other results
            return Result(test, "fail", f"harness error: {type(e).__name__}: {short(e)}")

    with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
        for i, result in enumerate(pool.map(task, tests), 1):
            with lock:
                results.append(result)
            if settings.verbose:
                log(f"[{i}/{len(tests)}] {result.name}: {result.status}"
                    + (f" ({result.reason})" if result.reason else ""))
            elif i % step == 0 or i == len(tests):
                counts = {s: sum(1 for r in results if r.status == s) for s in ("pass", "fail", "unsupported")}
                log(f"progress: {i}/{len(tests)} ({counts['pass']} pass, {counts['fail']} fail, "
                    f"{counts['unsupported']} unsupported)")
    return results


# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------


def md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def op_rows(results: list[Result], registered: set[str]) -> list[dict]:
    by_op: dict[str, list[Result]] = defaultdict(list)
    for r in results:
        if r.test.case.kind == "node":
            by_op[r.test.op].append(r)
    rows = []
    for op in OP_LIST:
        rs = by_op.get(op, [])
        direct = [r for r in rs if not r.test.expanded]
        expanded = [r for r in rs if r.test.expanded]
        # Listed by name: failures, and direct tests unsupported because of
        # another op (an If branch). The rest is said by the counts (expanded
        # bodies consist of other ops by construction).
        listed = [r for r in sorted(rs, key=lambda r: r.name)
                  if r.status == "fail"
                  or (r.status == "unsupported" and r.needs != op and not r.test.expanded)]
        rows.append({
            "op": op,
            "registered": op in registered,
            "tests": len(direct),
            "pass": sum(r.status == "pass" for r in direct),
            "fail": sum(r.status == "fail" for r in direct),
            "unsupported": sum(r.status == "unsupported" for r in direct),
            "exp_pass": sum(r.status == "pass" for r in expanded),
            "exp_tests": len(expanded),
            "listed": listed,
        })
    return rows


def totals(rows: list[dict]) -> dict:
    t = {k: sum(r[k] for r in rows) for k in ("tests", "pass", "fail", "unsupported", "exp_pass", "exp_tests")}
    t["percent"] = 100.0 * t["pass"] / t["tests"] if t["tests"] else 0.0
    return t


def report_markdown(results: list[Result], registered: set[str], header: list[str], full: bool) -> str:
    rows = op_rows(results, registered)
    # Only ops with selected tests when a subset ran.
    shown = rows if full else [r for r in rows if r["tests"] or r["exp_tests"]]
    t = totals(rows)
    light = sorted((r for r in results if r.test.case.kind == "light"), key=lambda r: r.name)
    lines = [*header, ""]
    lines += [
        "| | tests | pass | fail | unsupported | pass % |",
        "|---|---:|---:|---:|---:|---:|",
        f"| node tests of the {len(OP_LIST)} listed ops | {t['tests']} | {t['pass']} | {t['fail']} | "
        f"{t['unsupported']} | {t['percent']:.1f}% |",
        f"| their expanded function tests | {t['exp_tests']} | {t['exp_pass']} | "
        f"{sum(r.status == 'fail' for r in results if r.test.expanded)} | "
        f"{sum(r.status == 'unsupported' for r in results if r.test.expanded)} | "
        f"{100.0 * t['exp_pass'] / t['exp_tests'] if t['exp_tests'] else 0:.1f}% |",
        f"| light models | {len(light)} | {sum(r.status == 'pass' for r in light)} | "
        f"{sum(r.status == 'fail' for r in light)} | {sum(r.status == 'unsupported' for r in light)} | "
        f"{100.0 * sum(r.status == 'pass' for r in light) / len(light) if light else 0:.1f}% |",
        "",
        f"Operators in the interpreter: {sum(r['registered'] for r in rows)} of {len(OP_LIST)}; "
        f"operators with every direct test passing: "
        f"{sum(1 for r in rows if r['tests'] and r['pass'] == r['tests'])}.",
        "",
        "## Operators",
        "",
        "`in interp.`: the interpreter has a kernel for the op (probed with a one-node model). "
        "`expanded`: passing/total `_expanded` function tests of the op (not in the other columns). "
        "`failing tests` lists every failure (expanded ones too), and direct tests unsupported because "
        "of *another* op (e.g. inside an If branch); other unsupported tests are only counted.",
        "",
        "| op | in interp. | tests | pass | fail | unsupported | expanded | failing tests |",
        "|---|:---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in shown:
        failing = "<br>".join(
            f"`{x.name}`{' (expanded)' if x.test.expanded else ''}: {md(x.reason)}" for x in r["listed"])
        lines.append(
            f"| {r['op']} | {'yes' if r['registered'] else '–'} | {r['tests']} | {r['pass']} | {r['fail']} | "
            f"{r['unsupported']} | {r['exp_pass']}/{r['exp_tests']} | {failing} |")
    lines += ["", f"## Light models (rtol {LIGHT_RTOL:g}, atol {LIGHT_ATOL:g} against the outputs shipped with onnx)", ""]
    lines += ["| model | result | quantc compute | detail |", "|---|---|---:|---|"]
    for r in light:
        compute = f"{r.compute:.2f} s" if r.status == "pass" else ""
        lines.append(f"| {r.name} | {r.status} | {compute} | {md(r.reason)} |")
    if not light:
        lines.append("| (none selected) | | | |")
    return "\n".join(lines) + "\n"


def console_summary(results: list[Result], registered: set[str], elapsed: float) -> str:
    rows = op_rows(results, registered)
    t = totals(rows)
    light = [r for r in results if r.test.case.kind == "light"]
    out = [f"direct node tests: {t['tests']}, pass {t['pass']}, fail {t['fail']}, "
           f"unsupported {t['unsupported']} ({t['percent']:.1f}% pass)",
           f"expanded tests: {t['exp_pass']}/{t['exp_tests']} pass",
           f"light models: {sum(r.status == 'pass' for r in light)}/{len(light)} pass",
           f"ops in interpreter: {sum(r['registered'] for r in rows)}/{len(OP_LIST)}; elapsed {elapsed:.0f}s"]
    fails = sorted((r for r in results if r.status == "fail"), key=lambda r: r.name)
    if fails:
        out.append(f"failures ({len(fails)}):")
        out += [f"  {r.name}: {r.reason}" for r in fails]
    return "\n".join(out)


# ---------------------------------------------------------------------------
# Baseline
# ---------------------------------------------------------------------------


def read_baseline(path: Path) -> list[str]:
    if not path.exists():
        return []
    return [l.strip() for l in path.read_text().splitlines() if l.strip() and not l.startswith("#")]


def check_baseline(results: list[Result], baseline: list[str], all_names: set[str]) -> int:
    status = {r.name: r.status for r in results}
    regressions = [n for n in baseline if n in status and status[n] != "pass"]
    unknown = [n for n in baseline if n not in all_names]
    new = sorted(n for n, s in status.items() if s == "pass" and n not in set(baseline))
    reasons = {r.name: r.reason for r in results}
    if new:
        print(f"\nnewly passing ({len(new)}; run with --update-baseline to record):")
        print("\n".join(f"  {n}" for n in new))
    if unknown:
        print(f"\nbaseline tests that no longer exist ({len(unknown)}), ignored:")
        print("\n".join(f"  {n}" for n in unknown))
    if regressions:
        print(f"\nREGRESSIONS ({len(regressions)} baseline tests no longer pass):")
        print("\n".join(f"  {n}: {reasons[n]}" for n in regressions))
        return 1
    checked = sum(1 for n in baseline if n in status)
    print(f"\nbaseline check: OK ({checked} baseline tests checked, none regressed)")
    return 0


def update_baseline(path: Path, results: list[Result], baseline: list[str]) -> None:
    selected = {r.name for r in results}
    keep = {n for n in baseline if n not in selected}
    passing = {r.name for r in results if r.status == "pass"}
    names = sorted(keep | passing)
    path.write_text("".join(f"{n}\n" for n in names))
    log(f"baseline written to {path}: {len(names)} passing tests "
        f"({len(passing - set(baseline))} added, {len((set(baseline) & selected) - passing)} removed)")


# ---------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quantc", default=os.environ.get("QUANTC", str(REPO / ".build/release/quantc")),
                        help="quantc binary (default: $QUANTC or .build/release/quantc)")
    parser.add_argument("--cache", type=Path, default=REPO / ".cache/conformance",
                        help="test cases, as tools/conformance_io.py generates them (default: %(default)s)")
    parser.add_argument("-j", "--jobs", type=int, default=2, help="parallel quantc runs (default: 2)")
    parser.add_argument("--threads", type=int, default=1,
                        help="quantc --threads for each run (default: 1)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                        help="seconds per quantc run (default: %(default)s)")
    parser.add_argument("--filter", metavar="REGEX", help="only tests whose name matches")
    parser.add_argument("--op", action="append", default=[], help="only tests of this op (repeatable)")
    parser.add_argument("--no-light", action="store_true", help="skip the light models")
    parser.add_argument("--report", type=Path, help=f"markdown report (a full run writes {DEFAULT_REPORT.relative_to(REPO)})")
    parser.add_argument("--no-report", action="store_true", help="write no markdown report")
    parser.add_argument("--baseline", type=Path, default=BASELINE, help="(default: %(default)s)")
    gate = parser.add_mutually_exclusive_group()
    gate.add_argument("--check", action="store_true", help="exit 1 if a baseline test no longer passes")
    gate.add_argument("--update-baseline", action="store_true", help="rewrite the baseline from this run")
    parser.add_argument("-v", "--verbose", action="store_true", help="one line per test")
    return parser.parse_args()


def git_head() -> str:
    try:
        out = subprocess.run(["git", "-C", str(REPO), "log", "-1", "--format=%h"],
                             capture_output=True, text=True, timeout=10).stdout.strip()
        return out or "unknown"
    except Exception:
        return "unknown"


def main() -> int:
    args = parse_args()
    quantc = shutil.which(args.quantc) or args.quantc
    if not os.access(quantc, os.X_OK):
        log(f"error: quantc not found or not executable: {quantc} (build it or set QUANTC)")
        return 2
    # Run a private copy: a rebuild during the run must not swap the binary.
    snapshot = tempfile.TemporaryDirectory(prefix="quantc-conformance-")
    quantc_source, quantc = quantc, shutil.copy2(quantc, Path(snapshot.name) / "quantc")
    unknown_ops = [o for o in args.op if o not in OP_LIST]
    if unknown_ops:
        log(f"error: --op {', '.join(unknown_ops)}: not on quantc's operator list")
        return 2
    started = time.monotonic()
    args.cache.mkdir(parents=True, exist_ok=True)
    cases = cio.load_cases(args.cache)
    meta = load_meta(args.cache, cases)
    listed = set(OP_LIST)
    tests: list[Test] = []
    for case in cases:
        if case.kind == "light":
            if not args.no_light and not args.op:
                tests.append(Test(case, "", False, LIGHT_RTOL, LIGHT_ATOL))
            continue
        m = meta[case.name]
        if m["op"] in listed and case.data_sets:
            tests.append(Test(case, m["op"], m["expanded"], m["rtol"], m["atol"]))
    if args.filter:
        tests = [t for t in tests if re.search(args.filter, t.case.name)]
    if args.op:
        tests = [t for t in tests if t.op in args.op]
    if not tests:
        log("error: no tests selected")
        return 2
    full = not (args.filter or args.op or args.no_light)
    # Light models first: they are the longest, and overlap with the node tests.
    tests.sort(key=lambda t: (t.case.kind != "light", t.case.name))
    work = args.cache / "run_ops"
    work.mkdir(parents=True, exist_ok=True)
    settings = Settings(quantc, work, args.timeout, args.threads, args.verbose)
    log(f"{len(tests)} tests, {args.jobs} job(s), quantc = {quantc_source}")
    registered = registered_ops(quantc, OP_LIST, args.jobs)
    results = run_all(settings, tests, args.jobs)
    elapsed = time.monotonic() - started

    import onnx

    header = [
        "# quantc interpreter: ONNX operator conformance",
        "",
        f"Generated by `tools/conformance_ops.py`{'' if full else ' (partial run)'} at commit `{git_head()}`; "
        f"onnx {onnx.__version__}; {len(results)} tests in {elapsed:.0f} s with {args.jobs} job(s).",
        "",
        "Each ONNX backend node test whose operator (the op of the model's single top-level node) is on "
        "quantc's operator list runs through `quantc run --input-dir`; outputs must match ONNX's expected "
        "outputs at the test's tolerance (rtol 1e-3, atol 1e-7 for floats; exact for ints, bools and "
        "strings; NaN equals NaN). `_expanded` function tests count under their op but only in the "
        "`expanded` column. \"unsupported\" means quantc stopped before compute on a missing operator.",
    ]
    print(console_summary(results, registered, elapsed))
    report = args.report or (DEFAULT_REPORT if full else None)
    if report and not args.no_report:
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text(report_markdown(results, registered, header, full))
        log(f"report written to {report}")
    status = 0
    baseline = read_baseline(args.baseline)
    if args.check:
        status = check_baseline(results, baseline, {c.name for c in cases})
    elif args.update_baseline:
        update_baseline(args.baseline, results, baseline)
    return status


if __name__ == "__main__":
    sys.exit(main())
