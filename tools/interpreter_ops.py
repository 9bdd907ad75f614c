#!/usr/bin/env python3
"""Which operators quantc's CPU interpreter runs today.

`quantc inspect` lists the operators quantc's *pipeline* is meant to handle
(IR/OpSupport.swift), not the ones the interpreter has kernels for yet. This
script asks the interpreter itself: for each operator it writes a one-node
probe model and runs `quantc run PROBE` without inputs. The interpreter looks
every node up in its op registry before it checks inputs, so an unregistered
operator fails with `unsupported operator OP ...` and a registered one fails
later (missing input) or runs. Nothing is computed; each probe takes a few ms.

Usage:
  tools/interpreter_ops.py [--quantc PATH] [--ops OP ...] [MODEL.onnx ...]

With models: one line per model with its operators and the ones the
interpreter lacks. Without: the registered operators among --ops (default:
quantc's planned operator list, OP_LIST below).
"""
from __future__ import annotations

import argparse
import concurrent.futures
import os
import re
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_QUANTC = os.environ.get("QUANTC", str(REPO / ".build/release/quantc"))

# The operators quantc's pipeline supports (same list as Sources/IR/OpSupport.swift).
OP_LIST = """
Abs Neg Exp Log Sqrt Reciprocal Sigmoid Tanh Relu LeakyRelu PRelu Elu Selu Celu HardSigmoid HardSwish
Softplus Softsign Mish Erf Gelu Floor Ceil Round Sign Sin Cos Not Clip Identity Dropout Cast CastLike
Add Sub Mul Div Pow Mod Max Min Sum Mean Equal Less Greater LessOrEqual GreaterOrEqual And Or Xor Where
Conv ConvTranspose Gemm MatMul BatchNormalization InstanceNormalization LayerNormalization
GroupNormalization LRN MaxPool AveragePool GlobalAveragePool GlobalMaxPool Softmax LogSoftmax Flatten
ReduceMean ReduceSum ReduceMax ReduceMin ReduceProd ReduceL2 ReduceSumSquare ArgMax ArgMin
Reshape Transpose Concat Split Slice Gather GatherElements Squeeze Unsqueeze Expand Tile Pad Shape Size
ConstantOfShape Constant Range Resize Upsample DepthToSpace SpaceToDepth TopK CumSum Einsum
If LSTM GRU QuantizeLinear DequantizeLinear DynamicQuantizeLinear
""".split()

UNSUPPORTED_RE = re.compile(r"unsupported operator (\S+) \(domain '([^']*)', opset (\d+)\)")
PROBE_TIMEOUT = 30


def op_key(op_type: str, domain: str) -> str:
    """`Relu` for the default domain, `com.microsoft.Foo` otherwise."""
    return op_type if domain in ("", "ai.onnx") else f"{domain}.{op_type}"


def _probe_one(quantc: str, directory: Path, key: str) -> bool:
    import onnx
    from onnx import TensorProto, helper

    domain, _, op = key.rpartition(".")
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])
    node = helper.make_node(op, ["x"], ["y"], domain=domain)
    opsets = [helper.make_opsetid("", 17)]
    if domain:
        opsets.append(helper.make_opsetid(domain, 1))
    model = helper.make_model(helper.make_graph([node], "probe", [x], [y]), opset_imports=opsets,
                              ir_version=8)
    path = directory / f"probe_{key}.onnx"
    onnx.save(model, path)
    try:
        proc = subprocess.run([quantc, "run", str(path)], capture_output=True, text=True,
                              timeout=PROBE_TIMEOUT)
    except subprocess.TimeoutExpired:
        return True  # it got past the registry lookup
    match = UNSUPPORTED_RE.search(proc.stderr)
    return not (match and match.group(1) == op)


def registered_ops(quantc: str, ops: list[str], jobs: int = 2) -> set[str]:
    """The operators among `ops` (keys as op_key gives them) the interpreter has."""
    with tempfile.TemporaryDirectory(prefix="quantc-probe-") as tmp:
        with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
            found = list(pool.map(lambda k: _probe_one(quantc, Path(tmp), k), ops))
    return {k for k, ok in zip(ops, found) if ok}


def model_ops(path: Path) -> Counter:
    """Operator histogram of a model, subgraphs (If/Loop bodies) and local functions included."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    counts: Counter = Counter()

    def visit(nodes):
        for n in nodes:
            counts[op_key(n.op_type, n.domain)] += 1
            for a in n.attribute:
                if a.type == onnx.AttributeProto.GRAPH:
                    visit(a.g.node)
                elif a.type == onnx.AttributeProto.GRAPHS:
                    for g in a.graphs:
                        visit(g.node)

    visit(model.graph.node)
    for f in model.functions:
        visit(f.node)
    return counts


def missing_ops(quantc: str, path: Path) -> list[str]:
    """The model's operators the interpreter lacks, sorted."""
    ops = sorted(model_ops(path))
    return sorted(set(ops) - registered_ops(quantc, ops))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quantc", default=DEFAULT_QUANTC)
    parser.add_argument("--ops", nargs="+", help="operators to probe (default: the planned list)")
    parser.add_argument("models", nargs="*", type=Path)
    args = parser.parse_args()
    if not os.access(args.quantc, os.X_OK):
        print(f"error: quantc not found: {args.quantc}", file=sys.stderr)
        return 2
    if args.models:
        histograms = {m: model_ops(m) for m in args.models}
        every = sorted(set().union(*histograms.values()))
        have = registered_ops(args.quantc, every)
        for m, h in histograms.items():
            ops = ", ".join(f"{op} {n}" for op, n in sorted(h.items(), key=lambda kv: (-kv[1], kv[0])))
            lacking = sorted(set(h) - have)
            print(f"{m}: ops: {ops}")
            print(f"{m}: interpreter lacks: {', '.join(lacking) if lacking else 'none'}")
        return 0
    ops = args.ops or OP_LIST
    have = registered_ops(args.quantc, ops)
    print(f"registered ({len(have)}/{len(ops)}): {' '.join(o for o in ops if o in have)}")
    print(f"missing ({len(ops) - len(have)}): {' '.join(o for o in ops if o not in have)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
