import IR

/// Folds an inference BatchNormalization into the Conv, ConvTranspose or Gemm
/// that feeds it (and nothing else); the arithmetic is BatchNormFolding's
/// (IR), which the interpreter also applies when it loads a model.
/// Weights, bias and BN parameters must be initializers.
public struct FoldBatchNorm: Pass {
    public static let name = "fold-batchnorm"
    public static let summary = "Fold BatchNormalization into the preceding Conv, ConvTranspose or Gemm."

    public init(options: PassOptions) {}

    public func run(on model: inout Model, context: inout PassContext) throws(PassError) {
        var g = model.graph
        var i = 0
        while i < g.nodes.count {
            if Self.fold(at: i, in: &g) {
                context.count("batch norms folded")
            } else {
                i += 1
            }
        }
        model.graph = g
    }

    /// Folds node `index` if it is a foldable BatchNormalization; true if it did.
    static func fold(at index: Int, in g: inout Graph) -> Bool {
        let bn = g.nodes[index]
        guard BatchNormFolding.isInference(bn),
              let p = g.producers()[bn.inputs[0]], g.useCounts()[bn.inputs[0]] == 1, !g.isOutput(bn.inputs[0]) else { return false }
        let producer = g.nodes[p]
        guard BatchNormFolding.canFold(into: producer), let w = g.initializers[producer.inputs[1]], w.elementType == .float32,
              let wv = w.floatValues(),
              let params = bn.inputs[1...4].map({ g.initializers[$0]?.floatValues() }) as [[Float]?]?,
              let scale = params[0], let shift = params[1], let mean = params[2], let variance = params[3] else { return false }
        var oldBias: [Float]?
        if producer.inputs.count >= 3, !producer.inputs[2].isEmpty {
            guard let b = g.initializers[producer.inputs[2]]?.floatValues() else { return false }
            oldBias = b
        }
        guard let (newW, newB) = BatchNormFolding.fold(producer: producer, weights: wv, weightShape: w.shape, bias: oldBias,
                                                       batchNorm: bn, scale: scale, shift: shift, mean: mean, variance: variance)
        else { return false }
        let channels = newB.count

        // New initializers named after the producer, so shared weights stay untouched.
        let base = producer.name.isEmpty ? bn.outputs[0] : producer.name
        let wName = unique("\(base).weight_bn", in: g), bName = unique("\(base).bias_bn", in: g)
        g.initializers[wName] = Tensor(floats: newW, shape: w.shape, name: wName)
        g.initializers[bName] = Tensor(floats: newB, shape: [channels], name: bName)
        var fused = producer
        fused.inputs[1] = wName
        if fused.inputs.count < 3 { fused.inputs.append(bName) } else { fused.inputs[2] = bName }
        if fused.opType == "Gemm" { fused[attribute: "beta"] = nil }
        fused.outputs[0] = bn.outputs[0]
        g.valueInfo[producer.outputs[0]] = nil
        g.nodes[p] = fused
        g.nodes.remove(at: index)
        return true
    }

    static func unique(_ name: String, in g: Graph) -> String {
        var candidate = name, k = 1
        let taken = Set(g.initializers.keys).union(g.nodes.flatMap(\.outputs)).union(g.inputs.map(\.name))
        while taken.contains(candidate) {
            k += 1
            candidate = "\(name)\(k)"
        }
        return candidate
    }
}
