import Foundation
import IR

/// `quantc inspect --precision`: the stored format and size of every weighted layer of any
/// quantized ONNX model, read from the graph alone: quantc's and ONNX Runtime's QDQ form
/// (DequantizeLinear on an integer initializer), ONNX Runtime's QOperator form (QLinearConv,
/// QLinearMatMul, ConvInteger, MatMulInteger) and com.microsoft MatMulNBits; layers with a
/// float initializer weight are listed as fp32/fp16.
struct PrecisionSummary: Codable {
    struct Layer: Codable {
        var node: String
        var op: String
        var weight: String
        /// e.g. `int8/channel`, `uint8/tensor/asym`, `int4/g32`, `fp32`.
        var format: String
        var parameters: Int
        /// Stored bytes of the weight, its scales and zero points.
        var bytes: Int
        /// What the weight would take as float32.
        var floatBytes: Int
        var note: String?
    }

    var file: String
    var layers: [Layer]
    var parameters: Int
    var bytes: Int
    var floatBytes: Int
    /// All initializers and Constant tensors of the file, for comparison.
    var constantBytes: Int

    init(_ m: Model, file: String) {
        self.file = file
        let g = m.graph
        var constants = g.initializers
        var producer: [String: Node] = [:]
        for n in g.nodes {
            for o in n.outputs where !o.isEmpty { producer[o] = n }
            if n.opType == "Constant", n.isDefaultDomain, let t = n[attribute: "value"]?.tensorValue, let o = n.outputs.first {
                constants[o] = t
            }
        }
        func const(_ node: Node, _ i: Int) -> Tensor? { i < node.inputs.count && !node.inputs[i].isEmpty ? constants[node.inputs[i]] : nil }

        var layers: [Layer] = []
        for n in g.nodes {
            let name = n.name.isEmpty ? "(\(n.opType) \(n.outputs.first ?? ""))" : n.name
            let op = n.isDefaultDomain ? n.opType : "\(n.domain)::\(n.opType)"
            switch (n.isDefaultDomain ? "" : n.domain, n.opType) {
            case ("", "Conv"), ("", "ConvTranspose"), ("", "Gemm"), ("", "MatMul"):
                guard n.inputs.count > 1 else { continue }
                let w = n.inputs[1]
                // fp16 weights are stored as float16 and Cast to float (quantc and ONNX Runtime's float16 converter).
                let cast = producer[w].flatMap { $0.opType == "Cast" && $0.isDefaultDomain ? const($0, 0) : nil }
                if let t = constants[w] ?? cast, t.elementType.isFloatingPoint {
                    layers.append(Layer(node: name, op: op, weight: constants[w] == nil ? producer[w]!.inputs[0] : w, format: Self.floatName(t.elementType), parameters: t.elementCount,
                                        bytes: t.byteCount, floatBytes: t.elementCount * 4))
                } else if let dq = Self.dequantizer(of: w, producer), let q = const(dq, 0), let scale = const(dq, 1) {
                    let blockSize = Int(dq[attribute: "block_size"]?.intValue ?? 0)
                    layers.append(Self.integerLayer(name, op, weight: dq.inputs[0], values: q, scale: scale, zeroPoint: const(dq, 2),
                                                    blockSize: blockSize))
                }
            case ("", "QLinearConv"):
                if let w = const(n, 3), let s = const(n, 4) {
                    layers.append(Self.integerLayer(name, op, weight: n.inputs[3], values: w, scale: s, zeroPoint: const(n, 5), blockSize: 0))
                }
            case ("com.microsoft", "QGemm"):
                // A, a_scale, a_zp, B, b_scale, b_zp, C, y_scale, y_zp.
                if let w = const(n, 3), let s = const(n, 4) {
                    layers.append(Self.integerLayer(name, op, weight: n.inputs[3], values: w, scale: s, zeroPoint: const(n, 5), blockSize: 0))
                }
            case ("", "QLinearMatMul"):
                // The constant operand is the weight: usually b (inputs 3–5), else a (0–2).
                for base in [3, 0] {
                    if let w = const(n, base), let s = const(n, base + 1) {
                        layers.append(Self.integerLayer(name, op, weight: n.inputs[base], values: w, scale: s,
                                                        zeroPoint: const(n, base + 2), blockSize: 0))
                        break
                    }
                }
            case ("", "MatMulInteger"), ("", "ConvInteger"):
                // The weight's scale is applied by a later Mul, outside the operator: not counted here.
                if let w = const(n, 1) {
                    var l = Self.integerLayer(name, op, weight: n.inputs[1], values: w, scale: nil, zeroPoint: const(n, 3), blockSize: 0)
                    l.note = "scale applied outside the operator, not counted"
                    layers.append(l)
                }
            case ("com.microsoft", "MatMulNBits"):
                guard let b = const(n, 1) else { continue }
                let k = Int(n[attribute: "K"]?.intValue ?? 0), nOut = Int(n[attribute: "N"]?.intValue ?? 0)
                let bits = Int(n[attribute: "bits"]?.intValue ?? 4), block = Int(n[attribute: "block_size"]?.intValue ?? 0)
                let scales = const(n, 2), zp = const(n, 3)
                // Without zero points the kernel uses 2^(bits-1): symmetric.
                let mid = UInt8(1 << (bits - 1))
                let symmetric = zp.map { z in z.elementType == .uint8 && (z.int64Values() ?? []).allSatisfy {
                    bits == 4 ? UInt8($0) == (mid | mid << 4) : UInt8(truncatingIfNeeded: $0) == mid } } ?? true
                let params = k * nOut
                layers.append(Layer(node: name, op: op, weight: n.inputs[1], format: "uint\(bits)/g\(block)" + (symmetric ? "" : "/asym"),
                                    parameters: params, bytes: b.byteCount + (scales?.byteCount ?? 0) + (zp?.byteCount ?? 0),
                                    floatBytes: params * 4))
            default:
                continue
            }
        }
        self.layers = layers
        parameters = layers.reduce(0) { $0 + $1.parameters }
        bytes = layers.reduce(0) { $0 + $1.bytes }
        floatBytes = layers.reduce(0) { $0 + $1.floatBytes }
        constantBytes = constants.values.reduce(0) { $0 + $1.byteCount }
    }

    static func floatName(_ t: ElementType) -> String {
        switch t {
        case .float16: "fp16"
        case .bfloat16: "bf16"
        case .float64: "fp64"
        default: "fp32"
        }
    }

    /// The DequantizeLinear a weight comes from, directly or through a Reshape (quantc's
    /// convolution weights grouped over C·kh·kw are dequantized flat, then reshaped).
    static func dequantizer(of value: String, _ producer: [String: Node]) -> Node? {
        var v = value
        while let p = producer[v] {
            if p.opType == "DequantizeLinear", p.isDefaultDomain { return p }
            guard p.opType == "Reshape", p.isDefaultDomain, !p.inputs.isEmpty else { return nil }
            v = p.inputs[0]
        }
        return nil
    }

    /// An integer weight with its scale (nil when the operator has none) and zero point: the
    /// granularity from the scale's size (and `block_size`), symmetric when the zero point is
    /// 0 (signed; absent counts as 0) or the middle of the range (unsigned, as ONNX Runtime writes symmetric uint8).
    static func integerLayer(_ node: String, _ op: String, weight: String, values q: Tensor, scale: Tensor?, zeroPoint: Tensor?,
                             blockSize: Int) -> Layer {
        let bits = q.elementType.bitWidth
        let signed = [.int8, .int4, .int16, .int2].contains(q.elementType)
        let granularity: String
        if blockSize > 0 {
            granularity = "g\(blockSize)"
        } else if let scale {
            granularity = scale.elementCount <= 1 ? "tensor" : "channel"
        } else {
            granularity = (zeroPoint?.elementCount ?? 1) <= 1 ? "tensor" : "channel"
        }
        let mid = signed ? Int64(0) : Int64(1) << (bits - 1)
        // An absent zero point is 0.
        let symmetric = (zeroPoint?.int64Values() ?? [0]).allSatisfy { $0 == mid }
        let bytes = q.byteCount + (scale?.byteCount ?? 0) + (zeroPoint?.byteCount ?? 0)
        return Layer(node: node, op: op, weight: weight, format: "\(signed ? "int" : "uint")\(bits)/\(granularity)" + (symmetric ? "" : "/asym"),
                     parameters: q.elementCount, bytes: bytes, floatBytes: q.elementCount * 4)
    }

    var text: String {
        var rows: [[String]] = [["layer", "op", "weight", "format", "parameters", "bytes", "bits/w"]]
        for l in layers {
            rows.append([l.node, l.op, l.weight, l.format + (l.note.map { " (\($0))" } ?? ""), "\(l.parameters)", "\(l.bytes)",
                         l.parameters > 0 ? String(format: "%.2f", Double(l.bytes * 8) / Double(l.parameters)) : "-"])
        }
        let widths = rows[0].indices.map { c in rows.map { $0[c].count }.max()! }
        var out = ["model \(file)", ""]
        out += rows.map { r in
            r.indices.map { c in
                let pad = String(repeating: " ", count: widths[c] - r[c].count)
                return c >= 4 ? pad + r[c] : r[c] + pad
            }.joined(separator: "  ")
        }
        out.insert(String(repeating: "-", count: out[2].count), at: 3)
        out.append("")
        let quantized = layers.filter { !$0.format.hasPrefix("fp") && !$0.format.hasPrefix("bf") }.count
        if layers.isEmpty {
            out.append("no weighted layers (Conv, ConvTranspose, Gemm, MatMul, their QOperator forms or MatMulNBits) with constant weights")
        } else {
            out.append("total: \(layers.count) layers (\(quantized) quantized), \(parameters) parameters, \(bytes) bytes; "
                       + "as float32 \(floatBytes) bytes (" + String(format: "%.2fx, %.2f bits per weight)", Double(bytes) / Double(max(floatBytes, 1)),
                                                                Double(bytes * 8) / Double(max(parameters, 1))))
        }
        out.append("all constant tensors: \(constantBytes) bytes")
        return out.joined(separator: "\n") + "\n"
    }
}
