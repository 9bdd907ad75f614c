#!/usr/bin/env python3
"""Quantized models written by other tools, for `quantc inspect --precision` tests.

    .venv/bin/python tools/make_peer_quantized.py OUT_DIR

writes, from the bundled digits models:
- ort_qdq_cnn.onnx      ONNX Runtime quantize_static, QDQ, per-channel int8 weights
- ort_qop_cnn.onnx      ONNX Runtime quantize_static, QOperator (QLinearConv, QGemm)
- ort_dynamic_tf.onnx   ONNX Runtime quantize_dynamic of the transformer (MatMulInteger)
- nbits_tf.onnx         the transformer's constant-weight MatMuls as com.microsoft MatMulNBits
                        (4 bits, block 32, with zero points), packed here as ONNX Runtime's
                        MatMulNBitsQuantizer does (that quantizer needs onnx_ir, not in our venv)
and prints one JSON line: per file, what the test should find (layers, format, parameters).
"""
import json
import os
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

root = Path(__file__).resolve().parent.parent
out = Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)


def reader(x):
    import onnxruntime.quantization as q

    class R(q.CalibrationDataReader):
        def __init__(self):
            self.it = iter(x[i:i + 1] for i in range(len(x)))

        def get_next(self):
            v = next(self.it, None)
            return None if v is None else {"input": v}
    return R()


def main():
    import onnxruntime as ort
    import onnxruntime.quantization as q
    cnn = str(root / "models/digits_cnn.onnx")
    tf = str(root / "models/digits_transformer.onnx")
    x = np.load(root / "models/digits/calib_x_img.npy")[:32]
    q.quantize_static(cnn, str(out / "ort_qdq_cnn.onnx"), reader(x), quant_format=q.QuantFormat.QDQ, per_channel=True)
    q.quantize_static(cnn, str(out / "ort_qop_cnn.onnx"), reader(x), quant_format=q.QuantFormat.QOperator, per_channel=False)
    q.quantize_dynamic(tf, str(out / "ort_dynamic_tf.onnx"), weight_type=q.QuantType.QInt8)

    m = onnx.load(tf)
    inits = {t.name: t for t in m.graph.initializer}
    nodes, expected, bs = [], [], 32
    for n in m.graph.node:
        if n.op_type == "MatMul" and n.input[1] in inits and len(inits[n.input[1]].dims) == 2:
            w = numpy_helper.to_array(inits[n.input[1]]).astype(np.float32)  # [K, N]
            k, nn = w.shape
            blocks = (k + bs - 1) // bs
            wp = np.zeros((blocks * bs, nn), np.float32)
            wp[:k] = w
            g = wp.T.reshape(nn, blocks, bs)  # per column, blocks along K
            lo, hi = np.minimum(g.min(-1), 0), np.maximum(g.max(-1), 0)
            scale = np.where(hi > lo, (hi - lo) / 15, 1).astype(np.float32)
            zp = np.clip(np.round(-lo / scale), 0, 15).astype(np.uint8)
            qv = np.clip(np.round(g / scale[..., None]) + zp[..., None], 0, 15).astype(np.uint8)
            packed = (qv[..., 0::2] | (qv[..., 1::2] << 4)).astype(np.uint8)  # [N, blocks, bs/2]
            zpp = zp.reshape(nn, blocks)
            if blocks % 2:
                zpp = np.concatenate([zpp, np.zeros((nn, 1), np.uint8)], 1)
            zpp = (zpp[:, 0::2] | (zpp[:, 1::2] << 4)).astype(np.uint8).reshape(-1)
            base = n.name or n.output[0]
            m.graph.initializer.extend([numpy_helper.from_array(packed, base + "_Q4"),
                                        numpy_helper.from_array(scale.reshape(-1), base + "_scales"),
                                        numpy_helper.from_array(zpp, base + "_zp")])
            nodes.append(helper.make_node("MatMulNBits", [n.input[0], base + "_Q4", base + "_scales", base + "_zp"], list(n.output),
                                          name=base, domain="com.microsoft", K=k, N=nn, bits=4, block_size=bs))
            expected.append({"node": base, "parameters": k * nn,
                             "bytes": packed.nbytes + scale.nbytes + zpp.nbytes})
        else:
            nodes.append(n)
    del m.graph.node[:]
    m.graph.node.extend(nodes)
    m.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    onnx.save(m, str(out / "nbits_tf.onnx"))
    # ONNX Runtime must accept what we wrote.
    s = ort.InferenceSession(str(out / "nbits_tf.onnx"), providers=["CPUExecutionProvider"])
    s.run(None, {"input": np.load(root / "models/digits/calib_x_seq.npy")[:2]})

    def ops(path):
        g = onnx.load(str(path)).graph
        return sorted({n.op_type for n in g.node})
    print(json.dumps({"nbits": expected, "ops": {p.name: ops(p) for p in sorted(out.glob("*.onnx"))}}, sort_keys=True))


if __name__ == "__main__":
    main()
