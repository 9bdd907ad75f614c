#!/usr/bin/env python3
"""Generates the malformed-ONNX corpus under Tests/Fixtures/bad/.

Every case is a folder Tests/Fixtures/bad/<case>/ holding model.onnx (plus
side files where the case needs them) and case.json:

    {"case": <name>, "what": <one sentence>, "names": [<names an error must mention>]}

The output is deterministic (fixed bytes, fixed seeds, no timestamps), so the
committed tree can be checked against a fresh run.

Usage:
    python tools/make_bad_models.py            # (re)write Tests/Fixtures/bad/
    python tools/make_bad_models.py --check    # exit 1 if the committed tree differs
    python tools/make_bad_models.py --verify   # show how onnx itself treats each case

The folder is owned by this script: a plain run deletes and rewrites it.
Needs the `onnx` and `numpy` packages (tools/requirements.txt).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "Tests" / "Fixtures" / "bad"
REL_OUT = "Tests/Fixtures/bad"

IR_VERSION = 8
OPSET = 17
MAX_FILE_BYTES = 4096

# A file next to the case folders that the escaping cases point at, so that the
# only problem with `external_dotdot` and `external_symlink` is that their data
# lies outside the model's folder (a loader that does not check would succeed).
OUTSIDE_FILE = "outside.bin"

FLOAT44 = [4, 4]


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------

def fixed_bytes(seed: int, n: int) -> bytes:
    """n pseudo-random bytes from a fixed seed (SHA-256 in counter mode, so the
    stream never changes across Python or numpy versions)."""
    out = bytearray()
    counter = 0
    while len(out) < n:
        out += hashlib.sha256(f"quantc-bad-{seed}-{counter}".encode()).digest()
        counter += 1
    return bytes(out[:n])


def floats(n: int, scale: float = 0.25) -> bytes:
    """n little-endian float32 values 0, scale, 2*scale, ..."""
    return (np.arange(n, dtype="<f4") * np.float32(scale)).tobytes()


def float_init(name: str, dims, raw: bytes | None = None) -> TensorProto:
    t = TensorProto()
    t.name = name
    t.data_type = TensorProto.FLOAT
    t.dims.extend(dims)
    if raw is not None:
        t.raw_data = raw
    return t


def vi(name: str, shape=FLOAT44):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def model(nodes, initializers=(), inputs=None, outputs=None, graph_name="g") -> onnx.ModelProto:
    """A model that is valid apart from whatever the caller broke: ir_version 8,
    opset 17, graph input x: float[4,4], graph output y: float[4,4]."""
    graph = helper.make_graph(
        list(nodes),
        graph_name,
        inputs if inputs is not None else [vi("x")],
        outputs if outputs is not None else [vi("y")],
        initializer=list(initializers),
    )
    return helper.make_model(
        graph,
        ir_version=IR_VERSION,
        opset_imports=[helper.make_opsetid("", OPSET)],
    )


def add_xw() -> list:
    return [helper.make_node("Add", ["x", "w"], ["y"], name="add0")]


def external_init(location: str, length: int = 64) -> TensorProto:
    """Initializer w: float[4,4] whose data lives in an external file."""
    t = float_init("w", FLOAT44)
    t.data_location = TensorProto.EXTERNAL
    t.external_data.add(key="location", value=location)
    t.external_data.add(key="offset", value="0")
    t.external_data.add(key="length", value=str(length))
    return t


def ser(m: onnx.ModelProto) -> bytes:
    return m.SerializeToString(deterministic=True)


# --------------------------------------------------------------------------
# Cases. Each builder returns {relative path: bytes | ("symlink", target)}.
# --------------------------------------------------------------------------

CASES: list[tuple[str, str, list[str], object]] = []


def case(name: str, what: str, names: list[str]):
    def register(fn):
        CASES.append((name, what, names, fn))
        return fn
    return register


@case("empty", "model.onnx is a 0-byte file.", ["model.onnx"])
def _empty():
    return {"model.onnx": b""}


def truncated_source() -> tuple[bytes, int, int]:
    """A valid MatMul model with a 256-byte initializer; returns the bytes and
    the [start, end) of the initializer's raw_data inside them."""
    raw = floats(64, 0.125)  # w: float[4,16] = 256 bytes
    m = model(
        [helper.make_node("MatMul", ["x", "w"], ["y"], name="matmul0")],
        [float_init("w", [4, 16], raw)],
        outputs=[vi("y", [4, 16])],
    )
    data = ser(m)
    start = data.find(raw)
    assert start > 0 and data.find(raw, start + 1) == -1
    return data, start, start + len(raw)


@case("truncated",
      "A valid MatMul model cut off in the middle of initializer w's raw_data, so protobuf parsing fails.",
      ["model.onnx"])
def _truncated():
    data, start, end = truncated_source()
    return {"model.onnx": data[: (start + end) // 2]}


RANDOM_SEED = 0  # onnx.load rejects these bytes (checked by --verify)


@case("random_bytes", f"model.onnx is 512 pseudo-random bytes (seed {RANDOM_SEED}), not a protobuf.",
      ["model.onnx"])
def _random_bytes():
    return {"model.onnx": fixed_bytes(RANDOM_SEED, 512)}


def small_valid_model() -> bytes:
    return ser(model([helper.make_node("Identity", ["x"], ["y"], name="id0")]))


@case("zip", "model.onnx is a zip archive (holding an ONNX model) instead of a raw ONNX protobuf.",
      ["model.onnx"])
def _zip():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as z:
        info = zipfile.ZipInfo("model/model.onnx", date_time=(2020, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_STORED  # no zlib: bytes never depend on its version
        info.create_system = 3
        info.external_attr = 0o100644 << 16
        z.writestr(info, small_valid_model())
    return {"model.onnx": buf.getvalue()}


@case("tflite", "model.onnx is a TFLite flatbuffer (file identifier \"TFL3\" at bytes 4..8), not ONNX.",
      ["model.onnx"])
def _tflite():
    # uoffset_t root table offset, the 4-byte file identifier, then zero padding.
    data = (28).to_bytes(4, "little") + b"TFL3" + bytes(24)
    return {"model.onnx": data}


@case("undefined_input",
      "Node add0 consumes value ghost, which no node, initializer or graph input defines.",
      ["add0", "ghost"])
def _undefined_input():
    return {"model.onnx": ser(model([helper.make_node("Add", ["x", "ghost"], ["y"], name="add0")]))}


@case("cycle",
      "Nodes a and b form a cycle: a consumes b's output b_out and b consumes a's output a_out.",
      ["a", "b"])
def _cycle():
    nodes = [
        helper.make_node("Add", ["x", "b_out"], ["a_out"], name="a"),
        helper.make_node("Identity", ["a_out"], ["b_out"], name="b"),
        helper.make_node("Identity", ["b_out"], ["y"], name="out"),
    ]
    return {"model.onnx": ser(model(nodes))}


@case("duplicate_names",
      "Two different nodes, n1 and n2, both produce the value dup.",
      ["dup", "n1", "n2"])
def _duplicate_names():
    nodes = [
        helper.make_node("Identity", ["x"], ["dup"], name="n1"),
        helper.make_node("Add", ["x", "x"], ["dup"], name="n2"),
        helper.make_node("Add", ["dup", "x"], ["y"], name="n3"),
    ]
    return {"model.onnx": ser(model(nodes))}


@case("duplicate_initializer",
      "The graph has two initializers both named w (with different values).",
      ["w"])
def _duplicate_initializer():
    inits = [float_init("w", FLOAT44, floats(16, 0.25)), float_init("w", FLOAT44, floats(16, -0.5))]
    return {"model.onnx": ser(model(add_xw(), inits))}


@case("raw_data_length",
      "Initializer w is float[4,4] (64 bytes) but its raw_data holds 60 bytes.",
      ["w"])
def _raw_data_length():
    return {"model.onnx": ser(model(add_xw(), [float_init("w", FLOAT44, floats(15))]))}


def identity_of(init_name: str, rank: int) -> onnx.ModelProto:
    """y = Identity(x); <init>_out = Identity(<init>), so the initializer is used
    without constraining its shape against x. <init>_out gets symbolic dims so
    that the output declaration itself is valid whatever the initializer says."""
    out_shape = [f"{init_name}_d{i}" for i in range(rank)]
    return model(
        [helper.make_node("Identity", ["x"], ["y"], name="id_x"),
         helper.make_node("Identity", [init_name], [init_name + "_out"], name="id_" + init_name)],
        outputs=[vi("y"), vi(init_name + "_out", out_shape)],
    )


@case("dims_overflow",
      "Initializer huge has dims [2^40, 2^40, 2^40], whose element count overflows int64 (it carries no data).",
      ["huge"])
def _dims_overflow():
    m = identity_of("huge", 3)
    m.graph.initializer.append(float_init("huge", [2**40, 2**40, 2**40]))
    return {"model.onnx": ser(m)}


@case("negative_dim",
      "Initializer neg has a negative dimension: dims [3, -2] (it carries no data).",
      ["neg"])
def _negative_dim():
    m = identity_of("neg", 2)
    m.graph.initializer.append(float_init("neg", [3, -2]))
    return {"model.onnx": ser(m)}


@case("typed_count_mismatch",
      "Initializer w is float[2,3] (6 elements) but float_data holds 5 values.",
      ["w"])
def _typed_count_mismatch():
    m = identity_of("w", 2)
    t = float_init("w", [2, 3])
    t.float_data.extend([0.5, 1.0, 1.5, 2.0, 2.5])
    m.graph.initializer.append(t)
    return {"model.onnx": ser(m)}


@case("external_missing",
      "Initializer w (float[4,4]) keeps its 64 bytes in external file weights.bin, which does not exist.",
      ["w", "weights.bin"])
def _external_missing():
    return {"model.onnx": ser(model(add_xw(), [external_init("weights.bin")]))}


@case("external_short",
      "Initializer w (float[4,4]) wants 64 bytes at offset 0 of weights.bin, which holds only 32 bytes.",
      ["w", "weights.bin"])
def _external_short():
    return {"model.onnx": ser(model(add_xw(), [external_init("weights.bin")])),
            "weights.bin": floats(8)}


@case("external_absolute",
      "Initializer w's external data location is the absolute path /etc/passwd.",
      ["w", "/etc/passwd"])
def _external_absolute():
    return {"model.onnx": ser(model(add_xw(), [external_init("/etc/passwd")]))}


@case("external_dotdot",
      f"Initializer w's external data location ../{OUTSIDE_FILE} leaves the model's folder "
      f"(the file exists, 64 bytes).",
      ["w", f"../{OUTSIDE_FILE}"])
def _external_dotdot():
    return {"model.onnx": ser(model(add_xw(), [external_init(f"../{OUTSIDE_FILE}")]))}


@case("external_symlink",
      f"Initializer w's external data file link.bin is a symlink to ../{OUTSIDE_FILE}, "
      f"outside the model's folder (the target exists, 64 bytes).",
      ["w", "link.bin"])
def _external_symlink():
    return {"model.onnx": ser(model(add_xw(), [external_init("link.bin")])),
            "link.bin": ("symlink", f"../{OUTSIDE_FILE}")}


@case("no_graph",
      "The ModelProto has ir_version 8 and an opset import but no graph.",
      ["model.onnx"])
def _no_graph():
    m = onnx.ModelProto()
    m.ir_version = IR_VERSION
    m.opset_import.add(domain="", version=OPSET)
    return {"model.onnx": ser(m)}


@case("bad_data_type",
      "Initializer w has data_type 99, which is not a TensorProto.DataType.",
      ["w", "99"])
def _bad_data_type():
    t = float_init("w", FLOAT44, floats(16))
    t.data_type = 99
    return {"model.onnx": ser(model(add_xw(), [t]))}


@case("bad_attribute",
      "Node gemm0's attribute alpha has type FLOAT but sets ints as well as f.",
      ["gemm0", "alpha"])
def _bad_attribute():
    node = helper.make_node("Gemm", ["x", "w"], ["y"], name="gemm0", alpha=1.0)
    node.attribute[0].ints.extend([1, 2])
    return {"model.onnx": ser(model([node], [float_init("w", FLOAT44, floats(16))]))}


NESTING = 70  # over quantc's default ImportLimits.maxNesting (64)


def wire_varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def wire_field(number: int, payload: bytes | int) -> bytes:
    """One protobuf field: varint (wire type 0) for ints, length-delimited (2) for bytes.
    The nesting cases are written by hand because Python's protobuf refuses (rightly)
    to build messages nested this deep."""
    if isinstance(payload, int):
        return wire_varint(number << 3) + wire_varint(payload)
    return wire_varint(number << 3 | 2) + wire_varint(len(payload)) + payload


@case("deep_subgraphs",
      f"If nodes nest their then_branch graphs {NESTING} deep (quantc's limit is 64): a deeper file "
      "would overflow the stack of a recursive decoder.",
      ["if1", "then_branch"])
def _deep_subgraphs():
    inner = ser(helper.make_graph([helper.make_node("Identity", ["x"], ["y"], name="id0")], f"g{NESTING}", [], [vi("y")]))
    for depth in range(NESTING - 1, 0, -1):
        attribute = wire_field(1, b"then_branch") + wire_field(6, inner) + wire_field(20, 5)  # type GRAPH
        node = wire_field(1, b"c") + wire_field(2, b"y") + wire_field(3, f"if{depth}".encode()) + wire_field(4, b"If") + wire_field(5, attribute)
        inner = wire_field(1, node)  # a graph of one node; names and outputs left out to stay small
    m = model([], inputs=[vi("x"), helper.make_tensor_value_info("c", TensorProto.BOOL, [])])
    graph = m.graph.SerializeToString(deterministic=True)
    m.ClearField("graph")
    # ModelProto.graph (field 7): the main graph's inputs and outputs, then node if1 (field 1).
    return {"model.onnx": ser(m) + wire_field(7, graph + wire_field(1, node))}


@case("deep_types",
      f"Graph input s has type sequence(sequence(...(float))) nested {NESTING} deep (quantc's limit is 64).",
      ["s"])
def _deep_types():
    t = helper.make_tensor_type_proto(TensorProto.FLOAT, [4]).SerializeToString(deterministic=True)
    for _ in range(NESTING):
        t = wire_field(4, wire_field(1, t))  # TypeProto.sequence_type (4) → Sequence.elem_type (1)
    s = wire_field(1, b"s") + wire_field(2, t)  # ValueInfoProto name, type
    m = model([helper.make_node("Identity", ["x"], ["y"], name="id0")])
    graph = m.graph.SerializeToString(deterministic=True)
    m.ClearField("graph")
    return {"model.onnx": ser(m) + wire_field(7, graph + wire_field(11, s))}  # GraphProto.input (11)


@case("huge_tensor",
      "Initializer huge declares float[2^20, 2^20, 2^12] (16 PiB, more than any machine's memory) with no data.",
      ["huge"])
def _huge_tensor():
    m = identity_of("huge", 3)
    m.graph.initializer.append(float_init("huge", [2**20, 2**20, 2**12]))
    return {"model.onnx": ser(m)}


# --------------------------------------------------------------------------
# Writing, checking
# --------------------------------------------------------------------------

def readme() -> str:
    lines = [
        "# Malformed ONNX corpus",
        "",
        "Generated by `tools/make_bad_models.py`; do not edit by hand. Regenerate with",
        "",
        "    .venv/bin/python tools/make_bad_models.py",
        "",
        "and check that the committed copy is current with",
        "",
        "    .venv/bin/python tools/make_bad_models.py --check",
        "",
        "`--verify` prints what onnx itself (`onnx.load`, `onnx.checker.check_model(full_check=True)`,",
        "`numpy_helper.to_array`, `load_external_data_for_model`) says about each case.",
        "",
        "Each folder `<case>/` holds `model.onnx` (plus side files where needed) and",
        "`case.json`: `{\"case\": name, \"what\": what is wrong, \"names\": [...]}`, where",
        "`names` lists the strings (tensor, node, value or file names) an error message",
        "for that case must contain. Every model is otherwise valid: ir_version 8,",
        "opset 17, graph input `x: float[4,4]`, graph output `y`.",
        f"`{OUTSIDE_FILE}` (64 bytes) is not a case: it is the existing file that",
        "`external_dotdot` and `external_symlink` point at from outside their folders.",
        "",
        "| case | what is wrong | names |",
        "|---|---|---|",
    ]
    for name, what, names, _ in CASES:
        lines.append(f"| `{name}` | {what} | {', '.join(f'`{n}`' for n in names)} |")
    return "\n".join(lines) + "\n"


def build_tree() -> dict[str, object]:
    tree: dict[str, object] = {
        "README.md": readme().encode(),
        ".gitattributes": b"# Fixtures must stay byte-identical to the generator's output.\n* -text\n",
        OUTSIDE_FILE: floats(16, 2.0),
    }
    for name, what, names, fn in CASES:
        for rel, content in fn().items():
            tree[f"{name}/{rel}"] = content
        meta = {"case": name, "what": what, "names": names}
        tree[f"{name}/case.json"] = (json.dumps(meta, indent=2) + "\n").encode()
    return tree


def write_tree(tree: dict[str, object], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for rel, content in sorted(tree.items()):
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, tuple):
            os.symlink(content[1], path)
        else:
            if len(content) >= MAX_FILE_BYTES:
                raise SystemExit(f"make_bad_models: {rel} is {len(content)} bytes (limit {MAX_FILE_BYTES})")
            path.write_bytes(content)


def snapshot(root: Path) -> dict[str, object]:
    """{relative path: bytes | ("symlink", target)} for everything under root."""
    result: dict[str, object] = {}
    if not root.exists():
        return result
    for dirpath, dirnames, filenames in os.walk(root):
        d = Path(dirpath)
        for n in filenames + [x for x in dirnames if (d / x).is_symlink()]:
            p = d / n
            rel = p.relative_to(root).as_posix()
            result[rel] = ("symlink", os.readlink(p)) if p.is_symlink() else p.read_bytes()
    return result


def check(out: Path) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        fresh_dir = Path(tmp) / "bad"
        write_tree(build_tree(), fresh_dir)
        fresh = snapshot(fresh_dir)
    have = snapshot(out)
    problems = []
    for rel in sorted(set(fresh) | set(have)):
        if rel not in have:
            problems.append(f"missing: {rel}")
        elif rel not in fresh:
            problems.append(f"unexpected: {rel}")
        elif fresh[rel] != have[rel]:
            problems.append(f"differs: {rel}")
    if problems:
        print(f"make_bad_models: {out} differs from the generator's output; "
              f"run tools/make_bad_models.py", file=sys.stderr)
        for p in problems:
            print(f"  {p}", file=sys.stderr)
        return 1
    print(f"make_bad_models: {len(have)} files in {out} match the generator")
    return 0


# --------------------------------------------------------------------------
# What onnx itself says (--verify)
# --------------------------------------------------------------------------

def first_line(e: BaseException) -> str:
    msg = " ".join(str(e).split())
    text = f"{type(e).__name__}: {msg}" if msg else type(e).__name__
    return text if len(text) <= 160 else text[:157] + "..."


def onnx_verdict(case_dir: Path) -> tuple[str, str, str, str]:
    """(load, checker, data, verdict) for one case folder."""
    path = case_dir / "model.onnx"
    try:
        m = onnx.load(str(path), load_external_data=False)
    except Exception as e:  # noqa: BLE001 - we report whatever onnx raises
        return first_line(e), "-", "-", "rejected by onnx.load"
    load = "ok"
    try:
        onnx.checker.check_model(str(path), full_check=True)
        checker = "ok"
    except Exception as e:  # noqa: BLE001
        checker = first_line(e)
    data_errors = []
    ext = [t for t in m.graph.initializer if t.data_location == TensorProto.EXTERNAL]
    if ext:
        try:
            onnx.load_external_data_for_model(m, str(case_dir))
        except Exception as e:  # noqa: BLE001
            data_errors.append("load_external_data: " + first_line(e))
    for t in m.graph.initializer:
        if t.data_location == TensorProto.EXTERNAL and data_errors:
            continue
        try:
            onnx.numpy_helper.to_array(t, base_dir=str(case_dir))
        except Exception as e:  # noqa: BLE001
            data_errors.append(f"to_array({t.name}): " + first_line(e))
    data = "; ".join(data_errors) if data_errors else "ok"
    if checker != "ok":
        verdict = "rejected by checker"
    elif data_errors:
        verdict = "rejected when reading data"
    else:
        verdict = "ACCEPTED by onnx"
    return load, checker, data, verdict


def verify(out: Path) -> int:
    print(f"onnx {onnx.__version__}, corpus {out}\n")
    accepted = []
    for name, _, _, _ in CASES:
        load, checker, data, verdict = onnx_verdict(out / name)
        print(f"## {name}: {verdict}")
        print(f"   onnx.load        : {load}")
        print(f"   check_model(full): {checker}")
        print(f"   data             : {data}")
        if verdict.startswith("ACCEPTED"):
            accepted.append(name)
    print()
    sizes = {rel: len(c) for rel, c in snapshot(out).items() if not isinstance(c, tuple)}
    big = {rel: n for rel, n in sizes.items() if n >= MAX_FILE_BYTES}
    print(f"{len(CASES)} cases, {len(sizes)} files, largest {max(sizes.values())} bytes")
    if big:
        print(f"files over {MAX_FILE_BYTES} bytes: {big}")
        return 1
    if accepted:
        print("onnx accepts (quantc must still reject): " + ", ".join(accepted))
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"corpus folder (default {REL_OUT})")
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="compare a fresh run with the corpus; exit 1 if it differs")
    mode.add_argument("--verify", action="store_true", help="report how onnx treats each case in the corpus")
    args = ap.parse_args()
    out = args.out.resolve()
    if args.check:
        return check(out)
    if args.verify:
        return verify(out)
    tree = build_tree()
    if out.exists() or out.is_symlink():
        shutil.rmtree(out)
    write_tree(tree, out)
    print(f"make_bad_models: wrote {len(CASES)} cases ({len(tree)} files) to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
