import IR

/// How `insert-qdq` writes int4 per-group weights of MatMul and Gemm layers.
public enum Int4Format: String, Sendable, CaseIterable {
    /// Opset-21 DequantizeLinear with `block_size` on int4 (symmetric) or uint4 (asymmetric) integers.
    case qdq
    /// ONNX Runtime's com.microsoft MatMulNBits (weight-only; Conv layers stay QDQ).
    case matmulnbits
}

/// The packed inputs of one MatMulNBits node (docs/ContribOperators.md, and the layout of
/// onnxruntime/python/tools/quantization/matmul_nbits_quantizer.py, QOperator format):
/// W [N, K] in blocks of `blockSize` along K; B uint8 [N, k_blocks, blockSize/2], codes
/// q + 8 two per byte, element 2j of a block in the low nibble of byte j; the tail of the last
/// block padded with the block's zero-point code (it multiplies nothing: A has K columns);
/// scales [N, k_blocks]; zero points (asymmetric only; symmetric uses the default 8) uint8
/// [N, ceil(k_blocks/2)], block 2j in the low nibble.
public struct MatMulNBitsWeights: Sendable {
    public let k: Int, n: Int, blockSize: Int
    public var blocks: Int { (k + blockSize - 1) / blockSize }
    public var packed: [UInt8]
    public var scales: [Float]
    /// Nil for symmetric weights (every zero point 0, stored code 8 = MatMulNBits' default).
    public var zeroPoints: [UInt8]?

    /// Packs `q` (laid out over the weight's shape, K on `kAxis` of a rank-2 weight), scaling
    /// every scale by `alpha` (Gemm's alpha folded into the weight).
    public init(_ q: QuantizedWeight, shape: [Int], kAxis: Int, alpha: Float = 1, symmetric: Bool) {
        precondition(shape.count == 2 && q.bits == 4 && q.blockSize != nil)
        k = shape[kAxis]
        n = shape[1 - kAxis]
        // A group longer than K is one block per column: write it as the smallest power of two
        // ≥ K (and ≥ 16, MatMulNBits' minimum), the same quantization without the padding.
        var fit = 16
        while fit < k { fit *= 2 }
        blockSize = min(q.blockSize!, fit)
        let blocks = (k + blockSize - 1) / blockSize, blob = blockSize / 2
        let (k, n) = (self.k, self.n)
        // Element (row k, column n) and scale (block b, column n) in q's layout.
        func element(_ kk: Int, _ nn: Int) -> Int { kAxis == 0 ? kk * n + nn : nn * k + kk }
        func scaleIndex(_ b: Int, _ nn: Int) -> Int { kAxis == 0 ? b * n + nn : nn * blocks + b }
        var packed = [UInt8](repeating: 0, count: n * blocks * blob)
        var scales = [Float](repeating: 0, count: n * blocks)
        var zps = [UInt8](repeating: 0, count: n * ((blocks + 1) / 2))
        for col in 0..<n {
            for b in 0..<blocks {
                let s = scaleIndex(b, col)
                scales[col * blocks + b] = q.scales[s] * alpha
                let zero = UInt8(Int(q.zeroPoints[s]) + 8)
                zps[col * ((blocks + 1) / 2) + b / 2] |= b % 2 == 0 ? zero : zero << 4
                let base = (col * blocks + b) * blob
                for j in 0..<blockSize {
                    let kk = b * blockSize + j
                    let code = kk < k ? UInt8(Int(q.values[element(kk, col)]) + 8) : zero
                    packed[base + j / 2] |= j % 2 == 0 ? code : code << 4
                }
            }
        }
        self.packed = packed
        self.scales = scales
        zeroPoints = symmetric ? nil : zps
    }
}

extension QDQBuilder {
    /// Why a quantized MatMul/Gemm layer cannot be written as MatMulNBits and stays QDQ,
    /// or nil when it can. Throws when the layer's format can never be (block size).
    func matMulNBitsObstacle(_ node: Node, layer: LayerQuantization) throws(PassError) -> String? {
        guard ["MatMul", "Gemm"].contains(node.opType),
              case .integer(4, .perGroup(let group), _) = layer.format else { return "" }
        guard group >= 16, group & (group - 1) == 0 else {
            throw PassError(pass: InsertQDQ.name, message: "layer '\(layer.node)' (\(node.opType)): int4-format=matmulnbits needs a group size that is a power of two of at least 16 (MatMulNBits' block_size), but the layer has int4 groups of \(group); use quantize(group=32|64|128) or int4-format=qdq")
        }
        guard let w = g.initializers[layer.weight], w.shape.count == 2 else { return "its weight is not a matrix" }
        if node.opType == "Gemm" {
            if node[attribute: "transA"]?.intValue ?? 0 != 0 { return "Gemm with transA=1" }
            let beta = node[attribute: "beta"]?.floatValue ?? 1
            if node.inputs.count > 2, !node.inputs[2].isEmpty, g.initializers[node.inputs[2]] == nil, beta != 1 {
                return "Gemm with a computed C and beta≠1"
            }
        }
        return nil
    }

    /// Replaces the layer's node (keeping its name, so reports and watch lists find it) with a
    /// MatMulNBits; returns nodes to place after it (an Add for a C that is not a [N] bias).
    mutating func writeMatMulNBits(_ node: Node, at index: Int, layer: LayerQuantization, weightShared: Bool,
                                   context: inout PassContext) throws(PassError) -> [Node] {
        guard let q = layer.quantized, let w = g.initializers[layer.weight],
              case .integer(_, _, let symmetric) = layer.format else {
            throw PassError(pass: InsertQDQ.name, message: "layer '\(layer.node)' has no rounded weights: run 'quantize' (or 'round') before 'insert-qdq'")
        }
        let isGemm = node.opType == "Gemm"
        let alpha = isGemm ? node[attribute: "alpha"]?.floatValue ?? 1 : 1
        let beta = isGemm ? node[attribute: "beta"]?.floatValue ?? 1 : 1
        let packed = MatMulNBitsWeights(q, shape: w.shape, kAxis: layer.groupAxis, alpha: alpha, symmetric: symmetric)
        let base = weightShared ? "\(layer.weight)_\(layer.node)" : layer.weight
        let bName = unique("\(base)_Q4"), sName = unique("\(base)_scales")
        model.graph.initializers[bName] = Tensor(.uint8, shape: [packed.n, packed.blocks, packed.blockSize / 2], values: packed.packed, name: bName)
        model.graph.initializers[sName] = Tensor(floats: packed.scales, shape: [packed.n, packed.blocks], name: sName)
        var inputs = [node.inputs[0], bName, sName, "", "", ""]
        if let zps = packed.zeroPoints {
            let zName = unique("\(base)_zero_points")
            model.graph.initializers[zName] = Tensor(.uint8, shape: [packed.n, (packed.blocks + 1) / 2], values: zps, name: zName)
            inputs[3] = zName
        }
        replacedConstants.append(layer.weight)

        // Gemm's C: a constant of N values becomes the bias input (times beta); anything else an Add.
        var after: [Node] = []
        var output = node.outputs[0]
        if isGemm, node.inputs.count > 2, !node.inputs[2].isEmpty {
            let c = node.inputs[2]
            var addend = c
            if let ct = g.initializers[c], let values = ct.floatValues() {
                let scaled = beta == 1 ? values : values.map { $0 * beta }
                if values.count == packed.n, ct.shape.last == packed.n {
                    let name = ct.shape == [packed.n] && beta == 1 ? c : unique("\(c)_bias")
                    if name != c { model.graph.initializers[name] = Tensor(floats: scaled, shape: [packed.n], name: name) }
                    inputs[5] = name
                    addend = ""
                } else if beta != 1 {
                    addend = unique("\(c)_scaled")
                    model.graph.initializers[addend] = Tensor(floats: scaled, shape: ct.shape, name: addend)
                }
                if addend != c { replacedConstants.append(c) }
            }
            if !addend.isEmpty {
                output = unique("\(node.outputs[0])_MatMulNBits")
                after.append(Node(name: unique("\(node.name)_Add"), opType: "Add", inputs: [output, addend], outputs: [node.outputs[0]]))
            }
        }
        while inputs.last == "" { inputs.removeLast() }
        model.graph.nodes[index] = Node(
            name: node.name, opType: "MatMulNBits", domain: "com.microsoft", inputs: inputs, outputs: [output],
            attributes: [Attribute("K", .int(Int64(packed.k))), Attribute("N", .int(Int64(packed.n))),
                         Attribute("bits", .int(4)), Attribute("block_size", .int(Int64(packed.blockSize)))])
        usesMicrosoftDomain = true
        context.count("layers written as MatMulNBits")
        return after
    }
}
