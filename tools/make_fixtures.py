#!/usr/bin/env python3
"""Generates the valid-ONNX fixture set under Tests/Fixtures/good/.

Each fixture is a small, valid model (checked with
onnx.checker.check_model(full_check=True), run in onnxruntime where it has
something to run) plus a JSON file with what quantc's importer must decode
from it:

    typed_fields.onnx      every element type, once in its typed field, once in raw_data
    constants.onnx         one Constant node per value_* attribute form
    subgraph.onnx          If with outer-scope captures, a Loop nested in a branch
    function.onnx          a model-local FunctionProto with attribute refs and a default
    external/model.onnx    MatMul weights in external/weights.bin at odd offsets

The output is deterministic (fixed values, fixed seeds, no timestamps or
version strings), so the committed tree can be checked against a fresh run.

Usage:
    python tools/make_fixtures.py            # (re)write Tests/Fixtures/good/
    python tools/make_fixtures.py --check    # exit 1 if the committed tree differs

The folder is owned by this script: a plain run deletes and rewrites it.
Needs the `onnx` and `numpy` packages; `onnxruntime` is used to confirm the
expected outputs when it is installed (tools/requirements.txt).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "Tests" / "Fixtures" / "good"
REL_OUT = "Tests/Fixtures/good"

IR_VERSION = 10  # 4-bit types need IR 10
OPSET = 21
MAX_FILE_BYTES = 8192
PRODUCER = "quantc tools/make_fixtures.py"
TEST_DOMAIN = "quantc.test"


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------

def ser(m: onnx.ModelProto) -> bytes:
    return m.SerializeToString(deterministic=True)


def _json_text(obj, indent: str) -> str:
    # Objects one member per line; lists of scalars on one line.
    if isinstance(obj, dict) and obj:
        inner = indent + "  "
        members = [f"{inner}{json.dumps(k)}: {_json_text(v, inner)}" for k, v in obj.items()]
        return "{\n" + ",\n".join(members) + "\n" + indent + "}"
    if isinstance(obj, list) and any(isinstance(v, (dict, list)) for v in obj):
        inner = indent + "  "
        return "[\n" + ",\n".join(inner + _json_text(v, inner) for v in obj) + "\n" + indent + "]"
    # allow_nan=False: every value written as a JSON number must be finite;
    # NaN/Inf only ever appear inside raw_hex.
    return json.dumps(obj, allow_nan=False)


def to_json(obj) -> bytes:
    text = _json_text(obj, "") + "\n"
    assert json.loads(text) == obj
    return text.encode()


def make_model(graph: onnx.GraphProto, extra_opsets=(), functions=()) -> onnx.ModelProto:
    opsets = [helper.make_opsetid("", OPSET)] + [helper.make_opsetid(d, v) for d, v in extra_opsets]
    m = helper.make_model(graph, opset_imports=opsets, ir_version=IR_VERSION,
                          producer_name=PRODUCER, functions=list(functions))
    return m


def type_name(data_type: int) -> str:
    return TensorProto.DataType.Name(data_type)


def json_values(arr: np.ndarray) -> list:
    """Flat list of JSON values for a float/int/bool array (finite floats only)."""
    flat = arr.ravel()
    if arr.dtype == np.bool_:
        return [bool(v) for v in flat]
    if np.issubdtype(arr.dtype, np.integer):
        return [int(v) for v in flat]
    out = []
    for v in flat:
        f = float(v)
        if not np.isfinite(f):
            raise SystemExit(f"make_fixtures: non-finite value {f} cannot go in JSON values")
        out.append(f)
    return out


def json_tensor(arr: np.ndarray) -> dict:
    return {"type": type_name(helper.np_dtype_to_tensor_dtype(arr.dtype)),
            "dims": [int(d) for d in arr.shape], "values": json_values(arr)}


def grid_floats(rng: np.random.Generator, shape, lo: int = -8, hi: int = 8, step: float = 0.25) -> np.ndarray:
    """Random multiples of `step` in [lo*step, hi*step): exactly representable,
    so sums and products are exact and any summation order gives the same
    float32 result."""
    return (rng.integers(lo, hi, size=shape) * step).astype(np.float32)


# --------------------------------------------------------------------------
# 1. typed_fields.onnx
# --------------------------------------------------------------------------

def from_bits(bits, storage, dtype) -> np.ndarray:
    return np.array(bits, dtype=storage).view(dtype)


def typed_field_specs() -> list[tuple[int, list[int], object]]:
    """(data_type, dims, values) per element type. Values are numpy arrays of
    the type's numpy dtype, given as bit patterns where that is clearer."""
    import ml_dtypes  # ships with onnx >= 1.17

    F32 = lambda bits: from_bits(bits, np.uint32, np.float32)  # noqa: E731
    F64 = lambda bits: from_bits(bits, np.uint64, np.float64)  # noqa: E731
    D6 = [2, 3]
    return [
        # -1.5, +Inf, -0, NaN, smallest subnormal, lowest finite
        (TensorProto.FLOAT, D6, F32([0xBFC00000, 0x7F800000, 0x80000000, 0x7FC00000, 0x00000001, 0xFF7FFFFF])),
        # -1.5, -Inf, -0, NaN, smallest subnormal, largest finite
        (TensorProto.DOUBLE, D6, F64([0xBFF8000000000000, 0xFFF0000000000000, 0x8000000000000000,
                                      0x7FF8000000000000, 0x0000000000000001, 0x7FEFFFFFFFFFFFFF])),
        # -1.5, +Inf, -0, NaN, smallest subnormal, -65504
        (TensorProto.FLOAT16, D6, from_bits([0xBE00, 0x7C00, 0x8000, 0x7E00, 0x0001, 0xFBFF], np.uint16, np.float16)),
        # -1.5, -Inf, -0, NaN, smallest subnormal, largest finite
        (TensorProto.BFLOAT16, D6, from_bits([0xBFC0, 0xFF80, 0x8000, 0x7FC0, 0x0001, 0x7F7F], np.uint16,
                                             ml_dtypes.bfloat16)),
        (TensorProto.INT8, D6, np.array([-128, 127, -1, 0, 1, -100], np.int8)),
        (TensorProto.UINT8, D6, np.array([0, 255, 1, 128, 127, 200], np.uint8)),
        (TensorProto.INT16, D6, np.array([-32768, 32767, -1, 0, 1, -300], np.int16)),
        (TensorProto.UINT16, D6, np.array([0, 65535, 1, 32768, 32767, 300], np.uint16)),
        (TensorProto.INT32, D6, np.array([-2**31, 2**31 - 1, -1, 0, 1, -100000], np.int32)),
        (TensorProto.BOOL, D6, np.array([True, False, True, True, False, False])),
        (TensorProto.INT64, D6, np.array([-2**63, 2**63 - 1, -1, 0, 1, -(2**32) - 5], np.int64)),
        (TensorProto.UINT32, D6, np.array([0, 2**32 - 1, 1, 2**31, 2**31 - 1, 123456789], np.uint32)),
        (TensorProto.UINT64, D6, np.array([0, 2**64 - 1, 1, 2**63, 2**63 - 1, 2**32], np.uint64)),
        # odd count: the last byte's high nibble is padding
        (TensorProto.INT4, [5], np.array([-8, 7, -1, 0, 3]).astype(ml_dtypes.int4)),
        (TensorProto.UINT4, [5], np.array([0, 15, 1, 8, 9]).astype(ml_dtypes.uint4)),
        (TensorProto.STRING, D6, ["", "hello", "h\u00e9llo w\u00f6rld \u2713", "nul\u0000inside",
                                  "tab\tand\nnewline", "\U0001F600 4-byte utf-8"]),
        # -1.5, 448 (max; no Inf in this type), -0, NaN, smallest subnormal, -448
        (TensorProto.FLOAT8E4M3FN, D6, from_bits([0xBC, 0x7E, 0x80, 0x7F, 0x01, 0xFE], np.uint8,
                                                 ml_dtypes.float8_e4m3fn)),
    ]


FOUR_BIT = {TensorProto.INT4, TensorProto.UINT4}


def onnx_raw_layout(arr: np.ndarray, data_type: int) -> bytes:
    """The ONNX raw_data bytes for a decoded array: little-endian, 1 byte per
    bool, 4-bit types packed two per byte with element 2k in the low nibble.
    Written independently of onnx's packer so the two can be compared."""
    if data_type in FOUR_BIT:
        nibbles = [int(b) & 0x0F for b in arr.ravel().view(np.uint8)]
        if len(nibbles) % 2:
            nibbles.append(0)
        return bytes(lo | (hi << 4) for lo, hi in zip(nibbles[0::2], nibbles[1::2]))
    flat = arr.ravel()
    if flat.dtype.itemsize > 1:
        flat = flat.view(f"<u{flat.dtype.itemsize}")
    return flat.tobytes()


def expected_typed_field(values: np.ndarray, data_type: int) -> list:
    """What make_tensor(raw=False) puts in the typed field, by the rules below
    (an independent restatement, so a change in onnx's helper is caught):
    FLOAT/DOUBLE the values; INT8/INT16/INT32/INT64 sign-extended values;
    UINT8/UINT16/UINT32/UINT64/BOOL zero-extended values; FLOAT16/BFLOAT16/
    FLOAT8E4M3FN the zero-extended bit patterns; INT4/UINT4 the packed bytes
    (element 2k in the low nibble), one byte 0..255 per int32_data entry."""
    if data_type in FOUR_BIT:
        return list(onnx_raw_layout(values, data_type))
    if data_type in (TensorProto.FLOAT16, TensorProto.BFLOAT16, TensorProto.FLOAT8E4M3FN):
        return [int(v) for v in values.ravel().view(f"u{values.dtype.itemsize}")]
    if data_type in (TensorProto.FLOAT, TensorProto.DOUBLE):
        return [float(v) for v in values.ravel()]
    return [int(v) for v in values.ravel()]


def build_typed_fields() -> dict[str, bytes]:
    inits: list[TensorProto] = []
    expected: dict[str, dict] = {}
    for data_type, dims, values in typed_field_specs():
        tname = type_name(data_type)
        field = helper.tensor_dtype_to_field(data_type)
        typed = helper.make_tensor(f"{tname}_typed", data_type, dims, values, raw=False)
        assert not typed.HasField("raw_data") and len(getattr(typed, field)) > 0, tname
        inits.append(typed)
        if data_type == TensorProto.STRING:
            decoded = numpy_helper.to_array(typed)
            assert [str(s) for s in decoded.ravel()] == values, tname
            expected[typed.name] = {"type": tname, "dims": dims, "field": field, "strings": values}
            continue
        stored = list(getattr(typed, field))
        want_stored = expected_typed_field(values, data_type)
        if data_type in (TensorProto.FLOAT, TensorProto.DOUBLE):  # compare bits (NaN != NaN)
            assert np.array(stored, values.dtype).tobytes() == np.array(want_stored, values.dtype).tobytes(), tname
        else:
            assert stored == want_stored, (tname, stored, want_stored)
        raw = helper.make_tensor(f"{tname}_raw", data_type, dims, values, raw=True)
        assert raw.HasField("raw_data") and len(getattr(raw, field)) == 0, tname
        inits.append(raw)

        a_typed = numpy_helper.to_array(typed)
        a_raw = numpy_helper.to_array(raw)
        assert a_typed.dtype == a_raw.dtype == values.dtype, tname
        assert list(a_typed.shape) == list(a_raw.shape) == dims, tname
        want = onnx_raw_layout(values, data_type)
        got_typed = onnx_raw_layout(a_typed, data_type)
        got_raw = onnx_raw_layout(a_raw, data_type)
        assert got_typed == got_raw == want == raw.raw_data, (tname, got_typed.hex(), got_raw.hex(), want.hex())
        for name, f in ((typed.name, field), (raw.name, "raw_data")):
            expected[name] = {"type": tname, "dims": dims, "field": f, "raw_hex": want.hex()}

    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])], "typed_fields",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
        initializer=inits)
    return {"typed_fields.onnx": ser(make_model(graph)), "typed_fields.json": to_json(expected)}


# --------------------------------------------------------------------------
# 2. constants.onnx
# --------------------------------------------------------------------------

def build_constants() -> dict[str, bytes]:
    value = np.array([[1.5, -2.0], [0.25, 3.0]], np.float32)
    sp_dims = [3, 4]
    sp_values = np.array([1.5, -2.0, 3.25], np.float32)
    sp_linear = np.array([1, 6, 11], np.int64)                     # [NNZ] flat indices
    sp_coords = np.array([[0, 1], [1, 2], [2, 3]], np.int64)        # [NNZ, rank] coordinates
    dense = np.zeros(sp_dims, np.float32)
    dense.ravel()[sp_linear] = sp_values

    def sparse(name: str, indices: np.ndarray) -> onnx.SparseTensorProto:
        return helper.make_sparse_tensor(
            numpy_helper.from_array(sp_values, name),
            numpy_helper.from_array(indices, name + "_indices"), sp_dims)

    # (output name, attribute name, attribute value, expected entry)
    forms = [
        ("c_value", "value", numpy_helper.from_array(value, "c_value_t"), json_tensor(value)),
        ("c_value_float", "value_float", -0.75, {"type": "FLOAT", "dims": [], "values": [-0.75]}),
        ("c_value_floats", "value_floats", [1.0, -2.5, 0.125],
         {"type": "FLOAT", "dims": [3], "values": [1.0, -2.5, 0.125]}),
        ("c_value_int", "value_int", -7, {"type": "INT64", "dims": [], "values": [-7]}),
        ("c_value_ints", "value_ints", [3, -1, 2**32], {"type": "INT64", "dims": [3], "values": [3, -1, 2**32]}),
        ("c_value_string", "value_string", "quantc", {"type": "STRING", "dims": [], "strings": ["quantc"]}),
        ("c_value_strings", "value_strings", ["a", "", "\u00fc"],
         {"type": "STRING", "dims": [3], "strings": ["a", "", "\u00fc"]}),
        ("c_sparse_value", "sparse_value", sparse("c_sparse_value_t", sp_linear),
         {**json_tensor(dense), "sparse": {"values": json_values(sp_values), "indices_dims": [3],
                                           "indices": json_values(sp_linear)}}),
        ("c_sparse_value_coo", "sparse_value", sparse("c_sparse_value_coo_t", sp_coords),
         {**json_tensor(dense), "sparse": {"values": json_values(sp_values), "indices_dims": [3, 2],
                                           "indices": json_values(sp_coords)}}),
    ]
    nodes = [helper.make_node("Identity", ["x"], ["y"], name="identity")]
    outputs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])]
    expected: dict[str, dict] = {}
    for out, attr, val, want in forms:
        nodes.append(helper.make_node("Constant", [], [out], name=out, **{attr: val}))
        elem = getattr(TensorProto, want["type"])
        outputs.append(helper.make_tensor_value_info(out, elem, want["dims"]))
        expected[out] = {"attribute": attr, **want}
    graph = helper.make_graph(nodes, "constants",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])], outputs)
    return {"constants.onnx": ser(make_model(graph)), "constants.json": to_json(expected)}


# --------------------------------------------------------------------------
# 3. subgraph.onnx
# --------------------------------------------------------------------------

def build_subgraph() -> dict[str, bytes]:
    F3 = [3]
    bias = np.array([0.5, -1.0, 2.0], np.float32)

    # Loop body: acc_out = acc_in + x * float(i); captures `x` from two scopes up.
    body = helper.make_graph(
        [
            helper.make_node("Identity", ["body_cond_in"], ["body_cond_out"], name="body_cond"),
            helper.make_node("Cast", ["body_i"], ["body_i_f"], to=TensorProto.FLOAT, name="body_cast"),
            helper.make_node("Mul", ["x", "body_i_f"], ["body_step"], name="body_mul_outer_x"),
            helper.make_node("Add", ["body_acc_in", "body_step"], ["body_acc_out"], name="body_add"),
        ],
        "loop_body",
        [helper.make_tensor_value_info("body_i", TensorProto.INT64, []),
         helper.make_tensor_value_info("body_cond_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("body_acc_in", TensorProto.FLOAT, F3)],
        [helper.make_tensor_value_info("body_cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("body_acc_out", TensorProto.FLOAT, F3)])

    # then: Loop(n, <no cond>, x2 + bias) -- `n`, `x2`, `bias` all from the outer graph.
    then_g = helper.make_graph(
        [
            helper.make_node("Add", ["x2", "bias"], ["then_sum"], name="then_add_outer"),
            helper.make_node("Loop", ["n", "", "then_sum"], ["then_out"], name="then_loop", body=body),
        ],
        "then_branch", [], [helper.make_tensor_value_info("then_out", TensorProto.FLOAT, F3)])
    # else: x2 - bias -- both from the outer graph.
    else_g = helper.make_graph(
        [helper.make_node("Sub", ["x2", "bias"], ["else_out"], name="else_sub_outer")],
        "else_branch", [], [helper.make_tensor_value_info("else_out", TensorProto.FLOAT, F3)])

    graph = helper.make_graph(
        [
            helper.make_node("Mul", ["x", "x"], ["x2"], name="square"),
            helper.make_node("If", ["cond"], ["y"], name="branch", then_branch=then_g, else_branch=else_g),
        ],
        "subgraph",
        [helper.make_tensor_value_info("cond", TensorProto.BOOL, []),
         helper.make_tensor_value_info("x", TensorProto.FLOAT, F3),
         helper.make_tensor_value_info("n", TensorProto.INT64, [])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, F3)],
        initializer=[numpy_helper.from_array(bias, "bias")])

    x = np.array([1.0, -2.0, 0.5], np.float32)
    n = np.array(3, np.int64)
    cases = []
    for cond in (True, False):
        if cond:
            y = x * x + bias + x * np.float32(sum(range(int(n))))
        else:
            y = x * x - bias
        cases.append({
            "inputs": {"cond": json_tensor(np.array(cond)), "x": json_tensor(x), "n": json_tensor(n)},
            "outputs": {"y": json_tensor(y.astype(np.float32))},
        })
    return {"subgraph.onnx": ser(make_model(graph)), "subgraph.json": to_json({"cases": cases})}


# --------------------------------------------------------------------------
# 4. function.onnx
# --------------------------------------------------------------------------

FUNCTION_NAME = "ScaledAdd"
ALPHA_DEFAULT = 2.0


def constant_from_attr(output: str, attr: str) -> onnx.NodeProto:
    """Constant(value_float = <the function's attribute `attr`>)."""
    node = helper.make_node("Constant", [], [output], name=f"{attr}_const")
    node.attribute.append(helper.make_attribute_ref("value_float", onnx.AttributeProto.FLOAT, ref_attr_name=attr))
    return node


def build_function() -> dict[str, bytes]:
    # ScaledAdd(a, b; alpha = 2.0, beta) = a * alpha + b + beta
    body = [
        constant_from_attr("alpha_c", "alpha"),
        constant_from_attr("beta_c", "beta"),
        helper.make_node("Mul", ["a", "alpha_c"], ["scaled"], name="mul_alpha"),
        helper.make_node("Add", ["scaled", "b"], ["summed"], name="add_b"),
        helper.make_node("Add", ["summed", "beta_c"], ["out"], name="add_beta"),
    ]
    # alpha has a default (attribute_protos); beta has none (attributes), so
    # every call must set it.
    fn = helper.make_function(
        TEST_DOMAIN, FUNCTION_NAME, ["a", "b"], ["out"], body,
        [helper.make_opsetid("", OPSET)],
        attributes=["beta"],
        attribute_protos=[helper.make_attribute("alpha", ALPHA_DEFAULT)],
        doc_string="a * alpha + b + beta")

    F2 = [2]
    graph = helper.make_graph(
        [
            helper.make_node(FUNCTION_NAME, ["a", "b"], ["y_explicit"], name="call_explicit",
                             domain=TEST_DOMAIN, alpha=0.5, beta=1.0),
            helper.make_node(FUNCTION_NAME, ["a", "b"], ["y_default"], name="call_default",
                             domain=TEST_DOMAIN, beta=-1.0),
        ],
        "function",
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, F2),
         helper.make_tensor_value_info("b", TensorProto.FLOAT, F2)],
        [helper.make_tensor_value_info("y_explicit", TensorProto.FLOAT, F2),
         helper.make_tensor_value_info("y_default", TensorProto.FLOAT, F2)])
    model = make_model(graph, extra_opsets=[(TEST_DOMAIN, 1)], functions=[fn])

    a = np.array([1.5, -4.0], np.float32)
    b = np.array([0.25, 2.0], np.float32)
    f32 = np.float32
    expected = {
        "function": {"domain": TEST_DOMAIN, "name": FUNCTION_NAME, "attribute_defaults": {"alpha": ALPHA_DEFAULT},
                     "attributes_without_default": ["beta"]},
        "cases": [{
            "inputs": {"a": json_tensor(a), "b": json_tensor(b)},
            "outputs": {"y_explicit": json_tensor(a * f32(0.5) + b + f32(1.0)),
                        "y_default": json_tensor(a * f32(ALPHA_DEFAULT) + b + f32(-1.0))},
        }],
    }
    return {"function.onnx": ser(model), "function.json": to_json(expected)}


# --------------------------------------------------------------------------
# 5. external/model.onnx + external/weights.bin
# --------------------------------------------------------------------------

EXTERNAL_SEED = 20240605


def external_tensor(name: str, arr: np.ndarray, location: str, offset: int) -> TensorProto:
    t = TensorProto()
    t.name = name
    t.data_type = helper.np_dtype_to_tensor_dtype(arr.dtype)
    t.dims.extend(arr.shape)
    t.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", str(offset)), ("length", str(arr.nbytes))):
        entry = t.external_data.add()
        entry.key = key
        entry.value = value
    return t


def build_external() -> dict[str, bytes]:
    rng = np.random.default_rng(EXTERNAL_SEED)
    w1 = grid_floats(rng, (3, 4))
    w2 = grid_floats(rng, (4, 2))
    x = grid_floats(rng, (2, 3), step=0.5)

    # weights.bin: 3-byte header, W1 @3 (48 bytes), 2 filler bytes, W2 @53 (32 bytes), 3 trailing bytes.
    # Filler is 0xEE so an off-by-one read produces visibly wrong weights.
    blob = bytearray(b"QCW")
    placed = []
    for name, w, gap in (("W1", w1, 0), ("W2", w2, 2)):
        blob += b"\xEE" * gap
        placed.append((name, w, len(blob)))
        blob += w.astype("<f4").tobytes()
    blob += b"\xEE" * 3
    for _, _, off in placed:
        assert off % 4 != 0, "offsets must be unaligned"

    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W1"], ["h"], name="matmul1"),
         helper.make_node("MatMul", ["h", "W2"], ["y"], name="matmul2")],
        "external",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 2])],
        initializer=[external_tensor(n, w, "weights.bin", off) for n, w, off in placed])

    y = (x @ w1) @ w2
    expected = {
        "initializers": {
            n: {"type": "FLOAT", "dims": list(w.shape), "location": "weights.bin", "offset": off,
                "length": w.nbytes, "raw_hex": w.astype("<f4").tobytes().hex()}
            for n, w, off in placed
        },
        "cases": [{"inputs": {"x": json_tensor(x)}, "outputs": {"y": json_tensor(y)}}],
    }
    return {"external/model.onnx": ser(make_model(graph)), "external/weights.bin": bytes(blob),
            "external/model.json": to_json(expected)}


# --------------------------------------------------------------------------
# Verification against onnx and onnxruntime
# --------------------------------------------------------------------------

# model file -> json file whose "cases" onnxruntime must reproduce
RUNNABLE = {
    "subgraph.onnx": "subgraph.json",
    "function.onnx": "function.json",
    "external/model.onnx": "external/model.json",
}


def from_json_tensor(entry: dict) -> np.ndarray:
    dtype = helper.tensor_dtype_to_np_dtype(getattr(TensorProto, entry["type"]))
    return np.array(entry["values"], dtype=dtype).reshape(entry["dims"])


def verify(out: Path, notes: list[str]) -> None:
    """Raise if a fixture is not what it claims to be."""
    for path in sorted(out.rglob("*.onnx")):
        onnx.checker.check_model(str(path), full_check=True)
        onnx.load(str(path))  # loads external data relative to the model

    # typed_fields: the written file decodes to the JSON's raw bytes
    m = onnx.load(str(out / "typed_fields.onnx"))
    want = json.loads((out / "typed_fields.json").read_text())
    assert [t.name for t in m.graph.initializer] == list(want), "typed_fields initializer names"
    for t in m.graph.initializer:
        w = want[t.name]
        a = numpy_helper.to_array(t)
        if "strings" in w:
            assert [str(s) for s in a.ravel()] == w["strings"], t.name
        else:
            assert onnx_raw_layout(a, t.data_type).hex() == w["raw_hex"], t.name

    # external: the initializers load from weights.bin as the JSON says
    m = onnx.load(str(out / "external" / "model.onnx"))
    want = json.loads((out / "external" / "model.json").read_text())
    for t in m.graph.initializer:
        assert numpy_helper.to_array(t).astype("<f4").tobytes().hex() == want["initializers"][t.name]["raw_hex"]

    try:
        import onnxruntime as ort
    except ImportError:
        notes.append("onnxruntime not installed: expected outputs not cross-checked")
        return
    opts = ort.SessionOptions()
    opts.log_severity_level = 3

    def session(rel: str):
        return ort.InferenceSession(str(out / rel), opts, providers=["CPUExecutionProvider"])

    for rel, jrel in RUNNABLE.items():
        sess = session(rel)
        for case in json.loads((out / jrel).read_text())["cases"]:
            feeds = {k: from_json_tensor(v) for k, v in case["inputs"].items()}
            names = list(case["outputs"])
            for name, got in zip(names, sess.run(names, feeds)):
                expect = from_json_tensor(case["outputs"][name])
                assert got.dtype == expect.dtype and np.array_equal(got, expect), (rel, name, got, expect)

    # constants: every Constant output, sparse_value included
    want = json.loads((out / "constants.json").read_text())
    sess = session("constants.onnx")
    names = list(want)
    for name, got in zip(names, sess.run(names, {"x": np.zeros([1], np.float32)})):
        w = want[name]
        if not isinstance(got, np.ndarray):
            # ORT hands a sparse_value Constant back as a sparse tensor (COO,
            # linear indices even when the model gave [NNZ, rank] coordinates).
            assert "sparse" in w, name
            st = ort.SparseTensor(got)
            coo = st.as_coo_view().indices()
            flat = coo if coo.ndim == 1 else np.ravel_multi_index(coo.T, st.dense_shape())
            dense = np.zeros(st.dense_shape(), st.values().dtype)
            dense.ravel()[flat] = st.values()
            got = dense
            notes.append(f"constants.onnx: ORT returned {name} (sparse_value) as a sparse tensor; "
                         "compared after densifying")
        if "strings" in w:
            assert got.shape == tuple(w["dims"]) and [str(s) for s in got.ravel()] == w["strings"], name
        else:
            expect = from_json_tensor(w)
            assert got.dtype == expect.dtype and np.array_equal(got, expect), (name, got, expect)

    # typed_fields: ORT must accept every initializer type (it only runs Identity)
    session("typed_fields.onnx").run(["y"], {"x": np.ones([1], np.float32)})


# --------------------------------------------------------------------------
# Writing, checking
# --------------------------------------------------------------------------

FIXTURES = [
    ("typed_fields.onnx", "typed_fields.json",
     "One initializer per element type, stored twice: `<TYPE>_typed` in the typed field "
     "(float_data, double_data, int32_data, int64_data, uint64_data, string_data) and `<TYPE>_raw` in raw_data. "
     "Types: FLOAT, DOUBLE, FLOAT16, BFLOAT16, INT8, UINT8, INT16, UINT16, INT32, BOOL, INT64, UINT32, UINT64, "
     "INT4, UINT4, STRING (typed only), FLOAT8E4M3FN. Shape [2,3], [5] for the 4-bit types (odd count: the last "
     "byte's high nibble is padding). Values cover negatives and extremes; float types also NaN, Inf, -0 and the "
     "smallest subnormal (FLOAT8E4M3FN has no Inf: its max, 448, instead). The strings include an empty one, an "
     "embedded NUL, and 2-, 3- and 4-byte UTF-8 (JSON escapes them; the 4-byte one as a surrogate pair). "
     "Graph: `y = Identity(x)`, the initializers are unused."),
    ("constants.onnx", "constants.json",
     "One Constant node per attribute form: value, value_float, value_floats, value_int, value_ints, value_string, "
     "value_strings, sparse_value (twice: `c_sparse_value` with [NNZ] linear indices, `c_sparse_value_coo` with "
     "[NNZ, rank] coordinates). Each Constant output is a graph output; also `y = Identity(x)`. onnxruntime "
     "returns the sparse_value outputs as sparse tensors (the generator densifies them to compare)."),
    ("subgraph.onnx", "subgraph.json",
     "`y = If(cond)`: the then branch computes `x2 + bias` and runs a Loop (`n` trips, no condition input) whose "
     "body adds `x * float(i)`, reading `x` from two scopes up; the else branch computes `x2 - bias`. "
     "`x2 = x * x` is an outer node output, `bias` an outer initializer, `n` an outer input."),
    ("function.onnx", "function.json",
     f"A model-local FunctionProto `{TEST_DOMAIN}.{FUNCTION_NAME}(a, b) = a * alpha + b + beta`; the body reads "
     "`alpha` and `beta` through Constant nodes with `ref_attr_name`. `alpha` has a default (2.0, "
     "FunctionProto.attribute_proto), `beta` has none (FunctionProto.attribute). Called twice: `y_explicit` sets "
     "both, `y_default` sets only beta."),
    ("external/model.onnx", "external/model.json",
     "`y = (x @ W1) @ W2`, W1 and W2 stored in `external/weights.bin` (data_location EXTERNAL) at unaligned offsets "
     "3 and 53, with filler bytes (0xEE) around them. The JSON gives each initializer's location, offset, length "
     "and bytes."),
]


def readme() -> str:
    lines = [
        "# Valid ONNX fixtures",
        "",
        "Generated by `tools/make_fixtures.py`; do not edit by hand. Regenerate with",
        "",
        "    .venv/bin/python tools/make_fixtures.py",
        "",
        "and check that the committed copy is current with",
        "",
        "    .venv/bin/python tools/make_fixtures.py --check",
        "",
        f"Every model is ir_version {IR_VERSION}, opset {OPSET}, passes",
        "`onnx.checker.check_model(full_check=True)`, and the generator runs it in",
        "onnxruntime (when installed) to confirm the expected outputs in the JSON.",
        "",
        "| model | expected values | what it tests |",
        "|---|---|---|",
    ]
    for model, js, what in FIXTURES:
        lines.append(f"| `{model}` | `{js}` | {what} |")
    lines += [
        "",
        "## JSON formats",
        "",
        "A tensor value is `{\"type\": <TensorProto.DataType name>, \"dims\": [...], \"values\": [...]}`",
        "(flat, row-major; floats are exact) or, for STRING, `\"strings\": [...]` instead of `\"values\"`.",
        "",
        "- `typed_fields.json`: `{<initializer name>: {\"type\", \"dims\", \"field\", \"raw_hex\"}}`.",
        "  `field` is the TensorProto field the data is stored in. `raw_hex` is the decoded value in ONNX",
        "  raw_data layout: little-endian, BOOL 1 byte per element, FLOAT16/BFLOAT16 16-bit patterns,",
        "  INT4/UINT4 packed two per byte with element 2k in the low nibble (padding nibble 0).",
        "  `<TYPE>_typed` and `<TYPE>_raw` have the same `raw_hex`. STRING has `strings` instead.",
        "  As written by `onnx.helper.make_tensor(raw=False)`, int32_data holds: sign-extended values for",
        "  INT8/INT16/INT32, zero-extended values for UINT8/UINT16/BOOL, the zero-extended bit pattern",
        "  for FLOAT16/BFLOAT16/FLOAT8E4M3FN, and for INT4/UINT4 the packed bytes (0..255), one byte",
        "  per int32 entry (so ceil(n/2) entries). UINT32 and UINT64 both use uint64_data.",
        "- `constants.json`: `{<Constant output>: {\"attribute\": <attribute name>, tensor value}}`;",
        "  value_float/value_int/value_string give rank-0 tensors, value_floats/value_ints/value_strings",
        "  rank 1. sparse_value entries give the dense value plus",
        "  `\"sparse\": {\"values\", \"indices_dims\", \"indices\"}`.",
        "- `subgraph.json`, `function.json`, `external/model.json`: `{\"cases\": [{\"inputs\": {name: tensor},",
        "  \"outputs\": {name: tensor}}]}`; `function.json` also describes the function, and",
        "  `external/model.json` lists each initializer's `location`, `offset`, `length` and `raw_hex`.",
        "",
    ]
    return "\n".join(lines)


def build_tree() -> dict[str, bytes]:
    tree: dict[str, bytes] = {
        "README.md": readme().encode(),
        ".gitattributes": b"# Fixtures must stay byte-identical to the generator's output.\n* -text\n",
    }
    for build in (build_typed_fields, build_constants, build_subgraph, build_function, build_external):
        for rel, content in build().items():
            assert rel not in tree, rel
            tree[rel] = content
    return tree


def write_tree(tree: dict[str, bytes], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for rel, content in sorted(tree.items()):
        if len(content) >= MAX_FILE_BYTES:
            raise SystemExit(f"make_fixtures: {rel} is {len(content)} bytes (limit {MAX_FILE_BYTES})")
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)


def snapshot(root: Path) -> dict[str, bytes]:
    if not root.exists():
        return {}
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def build_and_verify(out: Path) -> list[str]:
    notes: list[str] = []
    write_tree(build_tree(), out)
    verify(out, notes)
    return notes


def check(out: Path) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        fresh_dir = Path(tmp) / "good"
        notes = build_and_verify(fresh_dir)
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
    for n in notes:
        print(f"make_fixtures: note: {n}", file=sys.stderr)
    if problems:
        print(f"make_fixtures: {out} differs from the generator's output; run tools/make_fixtures.py",
              file=sys.stderr)
        for p in problems:
            print(f"  {p}", file=sys.stderr)
        return 1
    print(f"make_fixtures: {len(have)} files in {out} match the generator")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"fixture folder (default {REL_OUT})")
    ap.add_argument("--check", action="store_true",
                    help="regenerate into a temp dir and compare with the fixture folder; exit 1 if it differs")
    args = ap.parse_args()
    out = args.out.resolve()
    if args.check:
        return check(out)
    # Build and verify in a temp dir first so a failure leaves the folder untouched.
    with tempfile.TemporaryDirectory() as tmp:
        notes = build_and_verify(Path(tmp) / "good")
    if out.exists() or out.is_symlink():
        shutil.rmtree(out)
    tree = build_tree()
    write_tree(tree, out)
    for n in notes:
        print(f"make_fixtures: note: {n}", file=sys.stderr)
    print(f"make_fixtures: wrote {len(tree)} files to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
