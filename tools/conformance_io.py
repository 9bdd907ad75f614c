#!/usr/bin/env python3
"""Conformance of quantc's ONNX importer/exporter against ONNX's own test models.

For every model of the ONNX backend node tests (generated from the installed
`onnx` package) and the light model-zoo models shipped inside it, this script

  1. round-trips the model through `quantc export MODEL -o rt.onnx`
     (on failure, `quantc inspect MODEL` tells import from export failures);
  2. runs `onnx.checker.check_model(path, full_check=True)` on the original
     and on the round trip: the round trip must pass wherever the original does;
  3. runs ONNX Runtime (CPU, graph optimizations off, one thread) on both with
     the test inputs; outputs must be bit-identical (every element type).

ONNX Runtime and the checker run in persistent worker subprocesses (one per
job slot), so a segfault or hang costs one model, not the whole run. A model
on which ORT fails for both files is counted as "ORT cannot run"; if only one
side runs, or outputs differ, it is a mismatch. When outputs differ, the
original is run again in a fresh session: if that differs too, the model is
nondeterministic (e.g. random ops without a seed) and only output types and
shapes are compared.

Test cases are generated once per onnx version into .cache/conformance/
(node/<name>/model.onnx + test_data_set_0/{input,output}_N.pb, as in onnx's
own test data; light/<name>/ likewise, with generated inputs); round trips
and ORT outputs go to .cache/conformance/run/<kind>/<name>/.

Usage:
  tools/conformance_io.py [--quick] [--filter REGEX] [-j N] [--report FILE]
                          [--quantc PATH] [--external-data] [-v]

Exit status: 0 if all is well; 1 on any import/export failure, checker
regression or ORT mismatch; 2 on a usage or setup error.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import ctypes
import functools
import json
import os
import pickle
import re
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
# Bump when the cache layout or input generation changes.
CACHE_FORMAT = 2
EXPORT_TIMEOUT = 300  # seconds per quantc invocation
JOB_TIMEOUT = 300  # seconds per checker / ORT job in a worker
ERROR_LEN = 300  # error messages are cut to this many characters


def first_line(text: str) -> str:
    """The first non-empty line of an error message, shortened."""
    for line in str(text).splitlines():
        if line.strip():
            return line.strip()[:ERROR_LEN]
    return str(text).strip()[:ERROR_LEN] or "(no message)"


# ---------------------------------------------------------------------------
# Test-case collection and cache (layout as onnx/backend/test/data/node/...)
# ---------------------------------------------------------------------------


@dataclass
class Case:
    name: str
    kind: str  # "node" or "light"
    model: Path
    data_sets: list[Path]  # test_data_set_N directories
    features: list[str]  # "op:Abs", "type:FLOAT16", "kind:sequence_type", "ir:7"
    note: str = ""  # why there is no test data, if there is none

    @staticmethod
    def from_json(root: Path, d: dict) -> Case:
        return Case(
            name=d["name"],
            kind=d["kind"],
            model=root / d["model"],
            data_sets=[root / p for p in d["data_sets"]],
            features=d["features"],
            note=d.get("note", ""),
        )

    def to_json(self, root: Path) -> dict:
        return {
            "name": self.name,
            "kind": self.kind,
            "model": str(self.model.relative_to(root)),
            "data_sets": [str(p.relative_to(root)) for p in self.data_sets],
            "features": self.features,
            "note": self.note,
        }


def model_features(model) -> list[str]:
    """What a model exercises, for --quick coverage: op types (subgraphs and
    functions included), element types of values and initializers, non-tensor
    value kinds, and the IR version."""
    import onnx
    from onnx import TensorProto

    found = {f"ir:{model.ir_version}"}

    def visit_type(type_proto):
        kind = type_proto.WhichOneof("value")
        if kind != "tensor_type":
            found.add(f"kind:{kind}")
        if kind == "tensor_type" and type_proto.tensor_type.elem_type:
            found.add(f"type:{TensorProto.DataType.Name(type_proto.tensor_type.elem_type)}")
        elif kind == "sequence_type":
            visit_type(type_proto.sequence_type.elem_type)
        elif kind == "optional_type":
            visit_type(type_proto.optional_type.elem_type)

    def visit_graph(graph):
        for vi in [*graph.input, *graph.output, *graph.value_info]:
            visit_type(vi.type)
        for tensor in graph.initializer:
            found.add(f"type:{TensorProto.DataType.Name(tensor.data_type)}")
        visit_nodes(graph.node)

    def visit_nodes(nodes):
        for node in nodes:
            domain = "" if node.domain in ("", "ai.onnx") else node.domain + "."
            found.add(f"op:{domain}{node.op_type}")
            for attr in node.attribute:
                if attr.type == onnx.AttributeProto.GRAPH:
                    visit_graph(attr.g)
                elif attr.type == onnx.AttributeProto.GRAPHS:
                    for g in attr.graphs:
                        visit_graph(g)
                elif attr.type == onnx.AttributeProto.TENSOR:
                    found.add(f"type:{TensorProto.DataType.Name(attr.t.data_type)}")

    visit_graph(model.graph)
    for fn in model.functions:
        visit_nodes(fn.node)
    return sorted(found)


def value_to_proto(value, value_info):
    """Serialize one test value the way `backend-test-tools generate-data` does."""
    import onnx
    from onnx import numpy_helper

    kind = value_info.type.WhichOneof("value")
    if kind == "map_type":
        return numpy_helper.from_dict(value, value_info.name)
    if kind == "sequence_type":
        return numpy_helper.from_list(value, value_info.name)
    if kind == "optional_type":
        return numpy_helper.from_optional(value, value_info.name)
    if isinstance(value, onnx.TensorProto):  # types numpy cannot hold
        return value
    return numpy_helper.from_array(np.asarray(value), value_info.name)


def write_data_set(directory: Path, inputs, outputs, graph) -> None:
    """Write input_J.pb / output_J.pb for one data set."""
    directory.mkdir(parents=True)
    feeds = graph_feed_inputs(graph)
    for j, value in enumerate(inputs):
        proto = value_to_proto(value, feeds[j])
        (directory / f"input_{j}.pb").write_bytes(proto.SerializeToString())
    for j, value in enumerate(outputs):
        proto = value_to_proto(value, graph.output[j])
        (directory / f"output_{j}.pb").write_bytes(proto.SerializeToString())


def graph_feed_inputs(graph) -> list:
    """Graph inputs that are fed at run time (initializers excluded)."""
    inits = {t.name for t in graph.initializer}
    return [vi for vi in graph.input if vi.name not in inits]


def materialize_node_cases(root: Path) -> list[Case]:
    """Generate every backend node test case into root/node/<name>/."""
    import onnx
    from onnx.backend.test.case.node import collect_testcases

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")  # test generators warn about overflow etc.
        testcases = collect_testcases(None)
    cases = []
    for tc in testcases:
        directory = root / "node" / tc.name
        directory.mkdir(parents=True)
        model_path = directory / "model.onnx"
        onnx.save(tc.model, model_path)
        case = Case(tc.name, "node", model_path, [], model_features(tc.model))
        for i, (inputs, outputs) in enumerate(tc.data_sets or []):
            data_dir = directory / f"test_data_set_{i}"
            try:
                write_data_set(data_dir, inputs, outputs, tc.model.graph)
                case.data_sets.append(data_dir)
            except Exception as e:  # keep the model, skip ORT for it
                shutil.rmtree(data_dir, ignore_errors=True)
                case.note = f"test data not serializable: {first_line(e)}"
        cases.append(case)
    return cases


def dummy_input(value_info, rng) -> np.ndarray:
    """Deterministic input for a graph input (as onnx's runner does for light models)."""
    from onnx import helper

    tensor_type = value_info.type.tensor_type
    shape = tuple(d.dim_value if d.HasField("dim_value") else 1 for d in tensor_type.shape.dim)
    dtype = helper.tensor_dtype_to_np_dtype(tensor_type.elem_type)
    if dtype == np.float32:  # same values as onnx's generate_dummy_data(random=False)
        n = int(np.prod(shape))
        return (np.arange(n).reshape(shape) / n).astype(np.float32)
    if np.issubdtype(dtype, np.floating):
        return rng.standard_normal(shape).astype(dtype)
    if dtype == np.bool_:
        return rng.integers(0, 2, shape).astype(np.bool_)
    return rng.integers(0, 10, shape).astype(dtype)


def materialize_light_cases(root: Path) -> list[Case]:
    """Copy the light model-zoo models shipped with onnx, with generated inputs."""
    import onnx
    from onnx import numpy_helper

    source = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"
    cases = []
    for src in sorted(source.glob("*.onnx")):
        name = src.stem  # e.g. light_resnet50
        directory = root / "light" / name
        directory.mkdir(parents=True)
        model_path = directory / "model.onnx"
        shutil.copyfile(src, model_path)
        model = onnx.load(model_path)
        data_dir = directory / "test_data_set_0"
        data_dir.mkdir()
        rng = np.random.default_rng(0)
        for j, vi in enumerate(graph_feed_inputs(model.graph)):
            tensor = numpy_helper.from_array(dummy_input(vi, rng), vi.name)
            (data_dir / f"input_{j}.pb").write_bytes(tensor.SerializeToString())
        # Reference outputs shipped next to the model (informational only).
        for ref in sorted(source.glob(f"{name}_output_*.pb")):
            shutil.copyfile(ref, data_dir / ref.name[len(name) + 1 :])
        cases.append(Case(name, "light", model_path, [data_dir], model_features(model)))
    return cases


def load_cases(cache: Path) -> list[Case]:
    """All cases, generated into `cache` unless a matching manifest is there."""
    import onnx

    manifest = cache / "manifest.json"
    stamp = {"format": CACHE_FORMAT, "onnx": onnx.__version__}
    if manifest.exists():
        data = json.loads(manifest.read_text())
        if data.get("stamp") == stamp:
            return [Case.from_json(cache, d) for d in data["cases"]]
    log(f"generating test cases into {cache} (onnx {onnx.__version__}) ...")
    started = time.monotonic()
    for sub in ("node", "light"):
        shutil.rmtree(cache / sub, ignore_errors=True)
    cases = materialize_node_cases(cache) + materialize_light_cases(cache)
    data = {"stamp": stamp, "cases": [c.to_json(cache) for c in cases]}
    manifest.write_text(json.dumps(data, indent=1))
    log(f"generated {len(cases)} cases in {time.monotonic() - started:.1f}s")
    return cases


def quick_subset(cases: list[Case]) -> list[Case]:
    """Deterministic subset: every light model plus, in name order, each node
    case that adds a feature (op type, element type, ...) not yet covered."""
    covered: set[str] = set()
    chosen = []
    for case in sorted(cases, key=lambda c: c.name):
        new = set(case.features) - covered
        if case.kind == "light" or new:
            chosen.append(case)
            covered |= new
    return chosen


# ---------------------------------------------------------------------------
# Worker subprocess: checker and ONNX Runtime jobs
# ---------------------------------------------------------------------------


def read_value(path: Path, value_info):
    """Load one .pb test value as something InferenceSession.run accepts."""
    import onnx
    from onnx import numpy_helper

    kind = value_info.type.WhichOneof("value")
    data = path.read_bytes()
    if kind == "map_type":
        proto = onnx.MapProto()
        proto.ParseFromString(data)
        return numpy_helper.to_dict(proto)
    if kind == "sequence_type":
        proto = onnx.SequenceProto()
        proto.ParseFromString(data)
        return numpy_helper.to_list(proto)
    if kind == "optional_type":
        proto = onnx.OptionalProto()
        proto.ParseFromString(data)
        return numpy_helper.to_optional(proto)
    tensor = onnx.TensorProto()
    tensor.ParseFromString(data)
    if tensor.data_type in numpy_ort_types():
        return numpy_helper.to_array(tensor)
    return exotic_ortvalue(tensor)


@functools.cache
def numpy_ort_types() -> frozenset[int]:
    """ONNX element types ORT's Python API exchanges as plain numpy arrays."""
    from onnx import TensorProto as T

    return frozenset({
        T.FLOAT, T.UINT8, T.INT8, T.UINT16, T.INT16, T.INT32, T.INT64, T.STRING,
        T.BOOL, T.FLOAT16, T.DOUBLE, T.UINT32, T.UINT64, T.COMPLEX64, T.COMPLEX128,
    })


def exotic_ortvalue(tensor):
    """An OrtValue holding a tensor numpy/ORT cannot exchange (bfloat16, float8,
    int4, ...), filled with the tensor's packed little-endian bytes."""
    import onnxruntime as ort
    from onnx import numpy_helper

    if not tensor.HasField("raw_data"):  # re-encode typed fields as raw bytes
        tensor = numpy_helper.from_array(numpy_helper.to_array(tensor))
    raw = tensor.raw_data
    value = ort.OrtValue.ortvalue_from_shape_and_type(list(tensor.dims), tensor.data_type)
    if value.tensor_size_in_bytes() != len(raw):
        raise ValueError(f"cannot pack element type {tensor.data_type} for ORT")
    ctypes.memmove(value.data_ptr(), raw, len(raw))
    return value


def canonical(value):
    """A picklable, exactly comparable form of one ORT output.

    Tensors become ("tensor", onnx element type, shape, raw bytes) so that
    floats compare bit for bit (NaN payloads and signed zeros included)."""
    import onnxruntime as ort
    from onnx import TensorProto, helper

    if value is None:
        return ("none",)
    if isinstance(value, list):
        return ("seq", [canonical(v) for v in value])
    if isinstance(value, dict):
        return ("map", sorted((k, canonical(v)) for k, v in value.items()))
    if isinstance(value, ort.OrtValue):
        if value.element_type() == TensorProto.STRING:
            return canonical(value.numpy())
        raw = ctypes.string_at(value.data_ptr(), value.tensor_size_in_bytes())
        return ("tensor", value.element_type(), tuple(value.shape()), raw)
    array = np.asarray(value)
    if array.dtype.kind in "OUS":  # string tensor
        items = [s.encode() if isinstance(s, str) else bytes(s) for s in array.ravel()]
        return ("tensor", TensorProto.STRING, array.shape, items)
    elem = helper.np_dtype_to_tensor_dtype(array.dtype)
    return ("tensor", elem, array.shape, np.ascontiguousarray(array).tobytes())


def job_check(job: dict) -> dict:
    import onnx

    onnx.checker.check_model(job["model"], full_check=True)
    return {}


def job_run(job: dict) -> dict:
    """Run a model on one data set; pickle canonical outputs to job["out"]."""
    import onnx
    import onnxruntime as ort

    # Feed names and value kinds come from the original (reference) model.
    ref = onnx.load(job["ref"], load_external_data=False)
    feeds_info = graph_feed_inputs(ref.graph)
    data = Path(job["data"])
    feeds = {}
    for j, vi in enumerate(feeds_info):
        path = data / f"input_{j}.pb"
        if path.exists():
            feeds[vi.name] = read_value(path, vi)

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    session = ort.InferenceSession(job["model"], options, providers=["CPUExecutionProvider"])
    # run_with_ort_values returns any tensor type (read as raw bytes), but
    # takes only OrtValue feeds, which cannot hold sequences, maps, optionals
    # or strings: those models use plain run().
    tensors_only = all(o.type.startswith("tensor(") for o in session.get_outputs())
    if tensors_only and all(is_ortvalue_feed(v) for v in feeds.values()):
        ort_feeds = {
            k: v if isinstance(v, ort.OrtValue) else ort.OrtValue.ortvalue_from_numpy(v)
            for k, v in feeds.items()
        }
        outputs = session.run_with_ort_values(None, ort_feeds)
    else:
        outputs = session.run(None, feeds)
    names = [o.name for o in session.get_outputs()]
    with open(job["out"], "wb") as f:
        pickle.dump([(n, canonical(v)) for n, v in zip(names, outputs)], f)
    return {}


def is_ortvalue_feed(value) -> bool:
    """Whether a feed can be passed to run_with_ort_values."""
    import onnxruntime as ort

    if isinstance(value, ort.OrtValue):
        return True
    return isinstance(value, np.ndarray) and value.dtype.kind not in "OUS"


JOBS = {"check": job_check, "run": job_run}


def worker_main() -> None:
    """Serve JSON jobs from stdin; one JSON reply per line on the original stdout."""
    replies = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # whatever native code prints must not corrupt the replies
    warnings.simplefilter("ignore")
    import onnxruntime  # noqa: F401  (pay the import before the first job)

    for line in sys.stdin:
        job = json.loads(line)
        try:
            reply = JOBS[job["op"]](job)
            reply["ok"] = True
        except Exception as e:
            reply = {"ok": False, "error": f"{type(e).__name__}: {first_line(e)}"}
        replies.write(json.dumps(reply) + "\n")


class Worker:
    """One persistent `--worker` subprocess, restarted after a crash or timeout."""

    def __init__(self, log_path: Path):
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None

    def _spawn(self) -> None:
        log_file = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log_file,
        )
        log_file.close()

    def call(self, job: dict, timeout: float = JOB_TIMEOUT) -> dict:
        if self.proc is None or self.proc.poll() is not None:
            self._spawn()
        try:
            self.proc.stdin.write((json.dumps(job) + "\n").encode())
            self.proc.stdin.flush()
        except BrokenPipeError:
            return self._died()
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            self.close()
            return {"ok": False, "error": f"timeout after {timeout:.0f}s", "crash": True}
        line = self.proc.stdout.readline()
        if not line:
            return self._died()
        return json.loads(line)

    def _died(self) -> dict:
        rc = self.proc.wait()
        self.proc = None
        if rc < 0:
            reason = f"crashed with {signal.Signals(-rc).name}"
        else:
            reason = f"exited with status {rc}"
        return {"ok": False, "error": f"worker {reason}", "crash": True}

    def close(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


# ---------------------------------------------------------------------------
# Per-model pipeline
# ---------------------------------------------------------------------------


@dataclass
class Result:
    case: Case
    imported: bool = False
    exported: bool = False
    export_error: str = ""
    export_seconds: float = 0.0
    check_orig: str | None = None  # None = pass, else the error
    check_rt: str | None = None
    ort: str = "skipped"  # identical | nondeterministic | cannot_run | mismatch | skipped
    ort_detail: str = ""
    verify_seconds: float = 0.0

    @property
    def checker_regression(self) -> bool:
        return self.exported and self.check_orig is None and self.check_rt is not None

    @property
    def failures(self) -> list[str]:
        out = []
        if not self.imported:
            out.append(f"import failed: {self.export_error}")
        elif not self.exported:
            out.append(f"export failed: {self.export_error}")
        if self.checker_regression:
            out.append(f"checker regression: {self.check_rt}")
        if self.ort == "mismatch":
            out.append(f"ORT mismatch: {self.ort_detail}")
        return out


@dataclass
class Settings:
    quantc: str
    work: Path
    external_data: bool
    verbose: bool


def run_quantc(settings: Settings, args: list[str]) -> tuple[bool, str]:
    """Run quantc; (success, first line of stderr)."""
    try:
        proc = subprocess.run(
            [settings.quantc, *args], capture_output=True, text=True, timeout=EXPORT_TIMEOUT
        )
    except subprocess.TimeoutExpired:
        return False, f"timeout after {EXPORT_TIMEOUT}s"
    if proc.returncode == 0:
        return True, ""
    if proc.returncode < 0:
        return False, f"crashed with {signal.Signals(-proc.returncode).name}"
    return False, first_line(proc.stderr or f"exit status {proc.returncode}")


def export_case(settings: Settings, result: Result, rt_path: Path) -> None:
    """Round-trip the model through quantc; classify import vs export failures."""
    args = ["export", str(result.case.model), "-o", str(rt_path)]
    if settings.external_data:
        args.append("--external-data")
    started = time.monotonic()
    ok, error = run_quantc(settings, args)
    result.export_seconds = time.monotonic() - started
    if ok and not rt_path.exists():
        ok, error = False, "exit status 0 but no output file"
    result.exported = ok
    result.export_error = error
    result.imported = ok or run_quantc(settings, ["inspect", str(result.case.model)])[0]


def load_outputs(path: Path):
    with open(path, "rb") as f:
        return pickle.load(f)


def structure(value):
    """A canonical value without tensor contents (types and shapes only)."""
    if value[0] == "tensor":
        return value[:3]
    if value[0] == "seq":
        return ("seq", [structure(v) for v in value[1]])
    if value[0] == "map":
        return ("map", [(k, structure(v)) for k, v in value[1]])
    return value


def describe_difference(a, b) -> str:
    """Explain the first difference between two canonical output lists."""
    from onnx import TensorProto, helper

    if len(a) != len(b):
        return f"{len(a)} outputs vs {len(b)}"
    for (name_a, va), (name_b, vb) in zip(a, b):
        if name_a != name_b:
            return f"output name {name_a!r} vs {name_b!r}"
        if va == vb:
            continue
        if structure(va) != structure(vb):
            return f"output {name_a!r}: {type_string(va)} vs {type_string(vb)}"
        if va[0] != "tensor":
            return f"output {name_a!r}: contents differ"
        elem, shape = va[1], va[2]
        type_name = TensorProto.DataType.Name(elem)
        try:
            dtype = helper.tensor_dtype_to_np_dtype(elem)
            x = np.frombuffer(va[3], dtype=dtype)
            y = np.frombuffer(vb[3], dtype=dtype)
            bits = np.dtype(f"u{dtype.itemsize}") if dtype.itemsize in (1, 2, 4, 8) else None
            if bits is None or elem == TensorProto.STRING:
                raise TypeError
            differ = int(np.count_nonzero(x.view(bits) != y.view(bits)))
            detail = f"{differ} of {x.size} elements differ"
            if dtype.kind == "f":
                with np.errstate(all="ignore"):
                    diff = np.nanmax(np.abs(x.astype(np.float64) - y.astype(np.float64)))
                detail += f", max |diff| {diff:.3g}"
        except (TypeError, ValueError):
            detail = "contents differ"
        return f"output {name_a!r} {type_name}{list(shape)}: {detail}"
    return "outputs differ"


def type_string(value) -> str:
    """Readable type of a canonical value, e.g. FLOAT[3, 4] or seq(INT64[2])."""
    from onnx import TensorProto

    if value[0] == "tensor":
        return f"{TensorProto.DataType.Name(value[1])}{list(value[2])}"
    if value[0] == "seq":
        return "seq(" + ", ".join(type_string(v) for v in value[1][:3]) + (
            ", ...)" if len(value[1]) > 3 else ")")
    return value[0]


def compare_runs(worker: Worker, result: Result, rt_path: Path, out_dir: Path) -> None:
    """Run ORT on original and round trip for each data set and compare."""
    case = result.case
    if not case.data_sets:
        result.ort, result.ort_detail = "skipped", case.note or "no test data"
        return
    nondeterministic = False
    for data in case.data_sets:
        runs = {}
        for label, model in (("orig", case.model), ("rt", rt_path)):
            out = out_dir / f"{label}_{data.name}.pkl"
            job = {"op": "run", "model": str(model), "ref": str(case.model),
                   "data": str(data), "out": str(out)}
            reply = worker.call(job)
            runs[label] = (reply, out)
        (orig, orig_out), (rt, rt_out) = runs["orig"], runs["rt"]
        if not orig["ok"] and not rt["ok"]:
            result.ort, result.ort_detail = "cannot_run", orig["error"]
            return
        if not orig["ok"] or not rt["ok"]:
            side, err = ("round trip", rt["error"]) if orig["ok"] else ("original", orig["error"])
            result.ort, result.ort_detail = "mismatch", f"only the {side} fails: {err}"
            return
        a, b = load_outputs(orig_out), load_outputs(rt_out)
        if a == b:
            continue
        # Differs: is the original even reproducible in a fresh session?
        again = out_dir / f"orig2_{data.name}.pkl"
        reply = worker.call({"op": "run", "model": str(case.model), "ref": str(case.model),
                             "data": str(data), "out": str(again)})
        if reply["ok"] and load_outputs(again) != a:
            nondeterministic = True
            if [(n, structure(v)) for n, v in a] == [(n, structure(v)) for n, v in b]:
                continue
        result.ort, result.ort_detail = "mismatch", f"{data.name}: {describe_difference(a, b)}"
        return
    result.ort = "nondeterministic" if nondeterministic else "identical"
    if nondeterministic:
        result.ort_detail = "original differs between runs; compared types and shapes only"


def check_models(worker: Worker, result: Result, rt_path: Path) -> None:
    reply = worker.call({"op": "check", "model": str(result.case.model)})
    result.check_orig = None if reply["ok"] else reply["error"]
    reply = worker.call({"op": "check", "model": str(rt_path)})
    result.check_rt = None if reply["ok"] else reply["error"]


def process_case(settings: Settings, worker: Worker, case: Case) -> Result:
    """Export, check and compare one model."""
    result = Result(case)
    out_dir = settings.work / case.kind / case.name
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True)
    rt_path = out_dir / "rt.onnx"
    export_case(settings, result, rt_path)
    started = time.monotonic()
    if result.exported:
        check_models(worker, result, rt_path)
        compare_runs(worker, result, rt_path, out_dir)
    else:  # still record whether the original passes the checker
        reply = worker.call({"op": "check", "model": str(case.model)})
        result.check_orig = None if reply["ok"] else reply["error"]
    result.verify_seconds = time.monotonic() - started
    return result


def run_all(settings: Settings, cases: list[Case], jobs: int) -> list[Result]:
    """Process cases on `jobs` threads, each driving its own worker process."""
    local = threading.local()
    workers: list[Worker] = []
    lock = threading.Lock()

    def task(case: Case) -> Result:
        if not hasattr(local, "worker"):
            with lock:
                local.worker = Worker(settings.work / f"worker-{len(workers)}.log")
                workers.append(local.worker)
        return process_case(settings, local.worker, case)

    results = []
    step = max(1, len(cases) // 10)
    try:
        with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
            for i, result in enumerate(pool.map(task, cases), 1):
                results.append(result)
                if settings.verbose:
                    detail = "; ".join(result.failures) or result.ort_detail
                    log(f"[{i}/{len(cases)}] {result.case.name}: {result.ort}"
                        + (f" ({detail})" if detail else ""))
                elif i % step == 0 or i == len(cases):
                    failed = sum(1 for r in results if r.failures)
                    log(f"progress: {i}/{len(cases)} ({failed} with failures)")
    finally:
        for worker in workers:
            worker.close()
    return results


# ---------------------------------------------------------------------------
# Summary
# ---------------------------------------------------------------------------

SUMMARY_ROWS = [
    ("models", lambda r: True),
    ("imported", lambda r: r.imported),
    ("exported", lambda r: r.exported),
    ("checker pass (original)", lambda r: r.check_orig is None),
    ("checker pass (round trip)", lambda r: r.exported and r.check_rt is None),
    ("checker regressions", lambda r: r.checker_regression),
    ("ORT runnable", lambda r: r.ort in ("identical", "nondeterministic", "mismatch")),
    ("ORT identical", lambda r: r.ort == "identical"),
    ("ORT nondeterministic (types/shapes equal)", lambda r: r.ort == "nondeterministic"),
    ("ORT cannot run (both fail)", lambda r: r.ort == "cannot_run"),
    ("ORT skipped (no test data)", lambda r: r.ort == "skipped" and r.exported),
    ("ORT mismatches", lambda r: r.ort == "mismatch"),
]


def summary_markdown(results: list[Result], header: str) -> str:
    kinds = ["node", "light"]
    lines = [header, "", "| | " + " | ".join(kinds) + " | total |", "|---|" + "---:|" * 3]
    for label, pred in SUMMARY_ROWS:
        counts = [sum(1 for r in results if r.case.kind == k and pred(r)) for k in kinds]
        lines.append(f"| {label} | " + " | ".join(map(str, counts)) + f" | {sum(counts)} |")
    failures = [(r.case.name, f) for r in results for f in r.failures]
    lines += ["", f"## Failures ({len(failures)})", ""]
    lines += [f"- `{name}`: {text}" for name, text in failures] or ["none"]
    cannot = [r for r in results
              if r.ort in ("cannot_run", "skipped", "nondeterministic") and r.exported]
    lines += ["", f"## Not compared bit-exactly with ORT ({len(cannot)}, informational)", ""]
    lines += [f"- `{r.case.name}` ({r.ort}): {r.ort_detail}" for r in cannot] or ["none"]
    orig_fail = [r for r in results if r.check_orig is not None]
    lines += ["", f"## Originals failing the checker ({len(orig_fail)}, informational)", ""]
    lines += [f"- `{r.case.name}`: {r.check_orig}" for r in orig_fail] or ["none"]
    return "\n".join(lines) + "\n"


def console_summary(results: list[Result], header: str) -> str:
    kinds = ["node", "light"]
    width = max(len(label) for label, _ in SUMMARY_ROWS)
    lines = [header, f"{'':{width}}  {'node':>6} {'light':>6} {'total':>6}"]
    for label, pred in SUMMARY_ROWS:
        counts = [sum(1 for r in results if r.case.kind == k and pred(r)) for k in kinds]
        lines.append(f"{label:{width}}  " + " ".join(f"{c:>6}" for c in counts) + f" {sum(counts):>6}")
    failures = [(r.case.name, f) for r in results for f in r.failures]
    if failures:
        lines.append(f"\nFailures ({len(failures)}):")
        lines += [f"  {name}: {text}" for name, text in failures]
    return "\n".join(lines)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quantc", default=os.environ.get("QUANTC", str(REPO / ".build/release/quantc")),
                        help="quantc binary (default: $QUANTC or .build/release/quantc)")
    parser.add_argument("--cache", type=Path, default=REPO / ".cache/conformance",
                        help="where test cases are generated (default: %(default)s)")
    parser.add_argument("--work", type=Path, default=None,
                        help="where round trips and outputs go (default: CACHE/run)")
    parser.add_argument("--quick", action="store_true",
                        help="CI subset: light models plus node tests until every op type, "
                             "element type and value kind is covered")
    parser.add_argument("--filter", metavar="REGEX", help="only cases whose name matches")
    parser.add_argument("-j", "--jobs", type=int, default=2, help="parallel workers (default: 2)")
    parser.add_argument("--report", type=Path, help="also write the summary as markdown here")
    parser.add_argument("--external-data", action="store_true",
                        help="export with --external-data")
    parser.add_argument("-v", "--verbose", action="store_true", help="one line per model")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    if args.worker:
        worker_main()
        return 0
    quantc = shutil.which(args.quantc) or args.quantc
    if not os.access(quantc, os.X_OK):
        log(f"error: quantc not found or not executable: {quantc} (build it or set QUANTC)")
        return 2
    started = time.monotonic()
    args.cache.mkdir(parents=True, exist_ok=True)
    cases = load_cases(args.cache)
    if args.filter:
        cases = [c for c in cases if re.search(args.filter, c.name)]
    if args.quick:
        cases = quick_subset(cases)
    if not cases:
        log("error: no test cases selected")
        return 2
    settings = Settings(quantc, args.work or args.cache / "run", args.external_data, args.verbose)
    settings.work.mkdir(parents=True, exist_ok=True)
    log(f"{len(cases)} models, {args.jobs} worker(s), quantc = {quantc}")
    results = run_all(settings, cases, args.jobs)

    import onnx
    import onnxruntime

    elapsed = time.monotonic() - started
    mode = "quick" if args.quick else "full"
    header = (f"# quantc import/export conformance ({mode}"
              f"{', external data' if args.external_data else ''})\n\n"
              f"onnx {onnx.__version__}, onnxruntime {onnxruntime.__version__}; "
              f"{len(results)} models in {elapsed:.0f}s with {args.jobs} worker(s) "
              f"(quantc export time {sum(r.export_seconds for r in results):.0f}s, "
              f"checker+ORT time {sum(r.verify_seconds for r in results):.0f}s, summed over models)")
    print(console_summary(results, header))
    if args.report:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(summary_markdown(results, header))
        log(f"report written to {args.report}")
    return 1 if any(r.failures for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
