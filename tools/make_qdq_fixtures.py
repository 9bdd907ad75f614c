#!/usr/bin/env python3
"""Small QDQ models and ONNX Runtime's outputs for them: the ground truth of
Tests/InterpreterTests/QDQFusionTests.swift (quantc's simulation must produce ORT's bytes).

Each model quantizes its float inputs (QuantizeLinear), runs one pattern ORT fuses
(DQ -> Conv/MatMul/Gemm/Add/Mul/GlobalAveragePool -> Q) and returns the quantized
outputs themselves (and QGemm's float output). ORT runs them with its default session
options (ORT_ENABLE_ALL, CPU), as a user gets them. The script also counts how many
output bytes ORT's unfused float path (ORT_DISABLE_ALL: DQ -> float op -> Q) gets
wrong, to show that the fixtures tell the two apart.

Writes Tests/Fixtures/qdq/NAME.onnx, NAME.in.INPUT.npy and NAME.out.OUTPUT.npy.
Deterministic; CI never runs it. Usage: .venv/bin/python tools/make_qdq_fixtures.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OUT = Path(__file__).resolve().parent.parent / "Tests" / "Fixtures" / "qdq"


def const(name, array):
    return numpy_helper.from_array(np.asarray(array), name)


class Builder:
    def __init__(self, rng):
        self.rng = rng
        self.nodes, self.inits, self.inputs, self.outputs = [], [], [], []
        self.count = 0

    def name(self, base):
        self.count += 1
        return f"{base}{self.count}"

    def scalar(self, value, dtype):
        n = self.name("c")
        self.inits.append(const(n, np.array(value, dtype=dtype)))
        return n

    def q(self, x, scale, zp, out=None):
        out = out or self.name("q")
        self.nodes.append(helper.make_node("QuantizeLinear", [x, self.scalar(scale, np.float32), self.scalar(zp, np.uint8)], [out]))
        return out

    def dq(self, x, scale, zp):
        out = self.name("dq")
        self.nodes.append(helper.make_node("DequantizeLinear", [x, self.scalar(scale, np.float32), self.scalar(zp, np.uint8)], [out]))
        return out

    def input(self, name, shape, scale=0.02, zp=128):
        self.inputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, shape))
        return self.dq(self.q(name, scale, zp), scale, zp), scale

    def weight(self, shape, axis, bits=7):
        """int8 weights of `bits` bits (reduce-range: ORT's u8s8 kernels without VNNI) with per-channel scales."""
        lim = 2 ** (bits - 1)
        w = self.rng.integers(-lim, lim, size=shape).astype(np.int8)
        scales = (self.rng.uniform(0.5, 1.5, size=shape[axis]) / (lim * np.sqrt(np.prod(shape) / shape[axis]))).astype(np.float32)
        wn, sn, zn = self.name("w"), self.name("ws"), self.name("wz")
        self.inits += [const(wn, w), const(sn, scales), const(zn, np.zeros(shape[axis], np.int8))]
        out = self.name("dqw")
        self.nodes.append(helper.make_node("DequantizeLinear", [wn, sn, zn], [out], axis=axis))
        return out, scales

    def bias(self, count, scale):
        b = self.rng.integers(-2000, 2000, size=count).astype(np.int32)
        bn, sn = self.name("b"), self.name("bs")
        self.inits += [const(bn, b), const(sn, scale.astype(np.float32))]
        out = self.name("dqb")
        self.nodes.append(helper.make_node("DequantizeLinear", [bn, sn], [out], axis=0))
        return out

    def output(self, name, shape, elem=TensorProto.UINT8):
        self.outputs.append(helper.make_tensor_value_info(name, elem, shape))

    def model(self):
        g = helper.make_graph(self.nodes, "g", self.inputs, self.outputs, self.inits)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
        m.ir_version = 8
        onnx.checker.check_model(m, full_check=True)
        return m


def conv_model(rng):
    b = Builder(rng)
    x, sx = b.input("x", [1, 16, 12, 12])
    y = x
    for i, (group, kernel, stride) in enumerate([(1, 3, 1), (16, 3, 1), (1, 1, 2)]):
        cin = 16 // group
        w, ws = b.weight([16, cin, kernel, kernel], 0)
        bias = b.bias(16, sx * ws)
        c = b.name("conv")
        b.nodes.append(helper.make_node("Conv", [y, w, bias], [c], group=group, pads=[kernel // 2] * 4,
                                        strides=[stride, stride]))
        out = f"y{i}"
        b.q(c, 0.03, 110 + i, out)
        b.output(out, [1, 16, 12, 12] if stride == 1 else [1, 16, 6, 6])
        y, sx = b.dq(out, 0.03, 110 + i), np.float32(0.03)
    return b.model(), {"x": rng.uniform(-2.5, 2.5, size=(1, 16, 12, 12)).astype(np.float32)}


def binary_model(rng):
    b = Builder(rng)
    a, _ = b.input("a", [1, 8, 6, 6], 0.02, 128)
    c, _ = b.input("c", [1, 8, 6, 6], 0.015, 100)
    g, _ = b.input("g", [1, 8, 1, 1], 0.004, 0)
    for i, (op, l, r) in enumerate([("Add", a, c), ("Add", a, g), ("Add", g, c), ("Mul", a, c), ("Mul", a, g)]):
        t = b.name("t")
        b.nodes.append(helper.make_node(op, [l, r], [t]))
        b.q(t, [0.035, 0.021, 0.017, 0.011, 0.009][i], [120, 3, 40, 128, 131][i], f"y{i}")
        b.output(f"y{i}", [1, 8, 6, 6])
    t = b.name("t")
    b.nodes.append(helper.make_node("GlobalAveragePool", [a], [t]))
    b.q(t, 0.0013, 125, "y5")
    b.output("y5", [1, 8, 1, 1])
    feeds = {"a": rng.uniform(-2.5, 2.5, (1, 8, 6, 6)), "c": rng.uniform(-1.5, 2.2, (1, 8, 6, 6)),
             "g": rng.uniform(0, 1, (1, 8, 1, 1))}
    return b.model(), {k: v.astype(np.float32) for k, v in feeds.items()}


def linear_model(rng):
    b = Builder(rng)
    x, sx = b.input("x", [6, 32])
    w, ws = b.weight([24, 32], 0)
    t = b.name("t")
    b.nodes.append(helper.make_node("Gemm", [x, w, b.bias(24, sx * ws)], [t], transB=1))
    b.q(t, 0.02, 125, "y0")
    b.output("y0", [6, 24])
    w2, ws2 = b.weight([32, 10], 1)
    b.nodes.append(helper.make_node("Gemm", [x, w2, b.bias(10, sx * ws2)], ["y1"]))
    b.output("y1", [6, 10], TensorProto.FLOAT)
    s, _ = b.input("s", [2, 5, 32])
    w3, _ = b.weight([32, 12], 1)
    t = b.name("t")
    b.nodes.append(helper.make_node("MatMul", [s, w3], [t]))
    b.q(t, 0.018, 129, "y2")
    b.output("y2", [2, 5, 12])
    return b.model(), {"x": rng.uniform(-2.5, 2.5, (6, 32)).astype(np.float32),
                       "s": rng.uniform(-2.5, 2.5, (2, 5, 32)).astype(np.float32)}


def ties_model(rng):
    """A 1x1 convolution whose exact outputs fall on or next to rounding ties (output scale
    about twice x_scale·w_scale), where float and integer arithmetic round differently."""
    b = Builder(rng)
    x, _ = b.input("x", [1, 16, 10, 10], 0.1, 128)
    w = rng.choice(np.array([-1, 0, 0, 0, 1], np.int8), size=(16, 16, 1, 1))
    ws = np.full(16, 0.3, np.float32)
    b.inits += [const("w", w), const("ws", ws), const("wz", np.zeros(16, np.int8))]
    b.nodes.append(helper.make_node("DequantizeLinear", ["w", "ws", "wz"], ["dqw"], axis=0))
    b.nodes.append(helper.make_node("Conv", [x, "dqw"], ["c"]))
    b.q("c", float(np.float32(0.1) * np.float32(0.3) * 2), 128, "y0")
    b.output("y0", [1, 16, 10, 10])
    return b.model(), {"x": rng.uniform(-6, 6, size=(1, 16, 10, 10)).astype(np.float32)}


def main() -> None:
    import onnxruntime as ort
    OUT.mkdir(parents=True, exist_ok=True)
    for name, make in [("conv", conv_model), ("binary", binary_model), ("linear", linear_model), ("ties", ties_model)]:
        m, feeds = make(np.random.default_rng(sum(map(ord, name))))
        path = OUT / f"{name}.onnx"
        onnx.save(m, path)
        s = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        plain = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        names = [o.name for o in s.get_outputs()]
        got, unfused = s.run(None, feeds), plain.run(None, feeds)
        for k, v in feeds.items():
            np.save(OUT / f"{name}.in.{k}.npy", v)
        for n, v, u in zip(names, got, unfused):
            np.save(OUT / f"{name}.out.{n}.npy", v)
            diff = int(np.sum(v.astype(np.float64) != u.astype(np.float64)))
            print(f"{name}.{n}: {v.dtype} {list(v.shape)}, {diff} values differ in ORT's unfused float path")


if __name__ == "__main__":
    main()
