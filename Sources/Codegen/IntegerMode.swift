import Artifact
import IR
import Interpreter

extension Lowering {
    /// Switches a Conv/Gemm/MatMul launch to integer accumulation when the layer
    /// is the pattern ONNX Runtime (and quantc's simulation, `QDQFusion`) runs as
    /// QLinearConv / QLinearMatMul / QGemm: input dequantized from 8 bits on a
    /// known grid, 8-bit weights per tensor or per channel without zero points,
    /// an int32 bias, and the output quantized to the input's type. Then
    /// Σ (x_q − zp)·w_q is exact in int32 and the requantization
    /// float(acc + bias)·(s_x·s_w / s_y), clamped, rounded half to even, is the
    /// reference's own arithmetic (qlinear.swift), not an fp32 approximation whose
    /// rounding flips a step now and then.
    mutating func integerMode(_ l: inout KernelLaunch, _ n: LNode) {
        l.defines.append(("INT_MODE", "0"))
        guard let qx = quantized[n.inputs[0]], qx.high - qx.low == 255,
              case .fakeQuant(.acc, let sy, let zy, let lo, let hi)? = l.epilogue.steps.first, lo == qx.low, hi == qx.high,
              let dq = g.dequantizedConstants[n.inputs[1]], let wt = g.graph.initializers[dq.inputs[0]],
              wt.elementType == .int8 || wt.elementType == .uint8, (dq[attribute: "block_size"]?.intValue ?? 0) == 0,
              let ws = g.constant(dq.inputs[1])?.floatArray()
        else { return }
        if dq.inputs.count > 2, !dq.inputs[2].isEmpty, let z = g.constant(dq.inputs[2]), z.floatArray().contains(where: { $0 != 0 }) { return }
        if n.op == "Gemm" {
            if (n.node[attribute: "alpha"]?.floatValue ?? 1) != 1 || (n.node[attribute: "beta"]?.floatValue ?? 1) != 1 { return }
        }
        let rows = l.template == .conv || l.template == .depthwise ? l.outputShape[1] : l.outputShape.last!
        guard ws.count == 1 || ws.count == rows else { return }
        // The bias, as the int32 values behind its DequantizeLinear.
        let biasIndex = 2
        var intBias: [Int32]?
        if n.inputs.count > biasIndex, !n.inputs[biasIndex].isEmpty {
            guard let bdq = g.dequantizedConstants[n.inputs[biasIndex]], let bt = g.graph.initializers[bdq.inputs[0]],
                  bt.elementType == .int32, bt.elementCount == rows, let b = bt.int64Values() else { return }
            intBias = b.map { Int32(truncatingIfNeeded: $0) }
        }
        let sx = qx.scale
        // ORT: output_scales[i] = X_scale * W_scale[i] / Y_scale.
        let mult = (0..<rows).map { sx * ws[ws.count == 1 ? 0 : $0] / sy }
        let name = n.outputs[0]
        weights.addFloats("\(name).requant_scales", mult, shape: [rows])
        if let intBias {
            let blob = "\(n.inputs[biasIndex]).int32"
            weights.add(blob, elementType: "int32", shape: [rows], data: intBias.withUnsafeBytes { Array($0) })
            guard let at = l.args.firstIndex(of: .blob("\(n.inputs[biasIndex]).bias")) else { return }
            l.args[at] = .blob(blob)
        }
        l.args.append(.blob("\(name).requant_scales"))
        l.defines.removeLast()
        l.defines += [("INT_MODE", "1"), ("XS", CLiteral.float(sx))]
        l.epilogue.steps[0] = .call("qc_requant", .acc, [lo - zy, hi - zy, sy])
        l.epilogue.grids[0] = FakeQuant(scale: sy, zeroPoint: zy, low: lo, high: hi)
    }
}
