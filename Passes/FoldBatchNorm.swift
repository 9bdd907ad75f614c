import IR

/// Folds an inference BatchNormalization into the Conv, ConvTranspose or Gemm
/// that feeds it (and nothing else): with s = scale / √(var + ε),
/// W′ = W·s along the output-channel axis and B′ = (B − mean)·s + bias.
/// Weights, bias and BN parameters must be initializers; arithmetic is in
/// float64, rounded once to the weights' type (float32).
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
        guard bn.isDefaultDomain, bn.opType == "BatchNormalization", bn.inputs.count == 5,
              bn.outputs.dropFirst().allSatisfy({ $0.isEmpty }),
              (bn[attribute: "training_mode"]?.intValue ?? 0) == 0,
              let p = g.producers()[bn.inputs[0]], g.useCounts()[bn.inputs[0]] == 1, !g.isOutput(bn.inputs[0]) else { return false }
        let producer = g.nodes[p]
        guard producer.isDefaultDomain, ["Conv", "ConvTranspose", "Gemm"].contains(producer.opType),
              producer.inputs.count >= 2, let w = g.initializers[producer.inputs[1]], w.elementType == .float32,
              let wv = w.floatValues(),
              let params = bn.inputs[1...4].map({ g.initializers[$0]?.floatValues() }) as [[Float]?]?,
              let scale = params[0], let bias = params[1], let mean = params[2], let variance = params[3] else { return false }
        let eps = Double(bn[attribute: "epsilon"]?.floatValue ?? 1e-5)
        let channels = scale.count
        guard [bias.count, mean.count, variance.count].allSatisfy({ $0 == channels }) else { return false }

        // Where each weight element's output channel is.
        let channelOf: (Int) -> Int
        switch producer.opType {
        case "Conv":
            guard w.shape.first == channels else { return false }
            let per = w.elementCount / channels
            channelOf = { $0 / per }
        case "ConvTranspose":
            // W is [C_in, C_out/group, k...]; output channel = group·(C_out/group) + j.
            let group = Int(producer[attribute: "group"]?.intValue ?? 1)
            guard w.shape.count >= 2, w.shape[1] * group == channels else { return false }
            let cinPerGroup = w.shape[0] / group, coutPerGroup = w.shape[1]
            let per = w.elementCount / (w.shape[0] * w.shape[1])
            channelOf = { e in
                let ci = e / (coutPerGroup * per), j = (e / per) % coutPerGroup
                return (ci / cinPerGroup) * coutPerGroup + j
            }
        default:  // Gemm: Y = A·B (+C); output channels are B's columns (rows when transB)
            let transB = (producer[attribute: "transB"]?.intValue ?? 0) != 0
            let alpha = producer[attribute: "alpha"]?.floatValue ?? 1, beta = producer[attribute: "beta"]?.floatValue ?? 1
            guard w.shape.count == 2, alpha == 1, beta == 1 || producer.inputs.count < 3 else { return false }
            guard (transB ? w.shape[0] : w.shape[1]) == channels else { return false }
            let cols = w.shape[1]
            channelOf = transB ? { $0 / cols } : { $0 % cols }
        }
        var oldBias = [Float](repeating: 0, count: channels)
        if producer.inputs.count >= 3, !producer.inputs[2].isEmpty {
            guard let b = g.initializers[producer.inputs[2]]?.floatValues(),
                  b.count == channels || b.count == 1 else { return false }
            oldBias = b.count == 1 ? [Float](repeating: b[0], count: channels) : b
        }
        let s = (0..<channels).map { Double(scale[$0]) / (Double(variance[$0]) + eps).squareRoot() }
        let newW = wv.indices.map { Float(Double(wv[$0]) * s[channelOf($0)]) }
        let newB = (0..<channels).map { Float((Double(oldBias[$0]) - Double(mean[$0])) * s[$0] + Double(bias[$0])) }

        // New initializers named after the producer, so shared weights stay untouched.
        let base = producer.name.isEmpty ? bn.outputs[0] : producer.name
        let wName = unique("\(base).weight_bn", in: g), bName = unique("\(base).bias_bn", in: g)
        g.initializers[wName] = Tensor(floats: newW, shape: w.shape, name: wName)
        g.initializers[bName] = Tensor(floats: newB, shape: producer.opType == "Gemm" ? [channels] : [channels], name: bName)
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
