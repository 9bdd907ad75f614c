/// The arithmetic of folding an inference BatchNormalization into the Conv,
/// ConvTranspose or Gemm that feeds it: with s = scale / √(var + ε),
/// W′ = W·s along the output-channel axis and B′ = (B − mean)·s + bias,
/// in float64 rounded once to float32. The fold-batchnorm pass and the
/// interpreter's load-time fusion both use it.
public enum BatchNormFolding {
    /// Whether `node` is a BatchNormalization in inference form: five inputs,
    /// no training mode, no running-statistics outputs.
    public static func isInference(_ node: Node) -> Bool {
        node.isDefaultDomain && node.opType == "BatchNormalization" && node.inputs.count == 5
            && node.outputs.count >= 1 && node.outputs.dropFirst().allSatisfy({ $0.isEmpty })
            && (node[attribute: "training_mode"]?.intValue ?? 0) == 0
    }

    /// Whether `node` is an operator a batch norm can fold into.
    public static func canFold(into node: Node) -> Bool {
        node.isDefaultDomain && ["Conv", "ConvTranspose", "Gemm"].contains(node.opType) && node.inputs.count >= 2
    }

    /// The folded weights (W's shape) and bias ([channels]) of `producer`
    /// (Conv, ConvTranspose or Gemm) followed by `batchNorm`, given the
    /// producer's weights and optional bias and the batch norm's scale, bias,
    /// mean and variance; nil when their shapes or the producer's attributes
    /// do not allow it.
    public static func fold(producer: Node, weights wv: [Float], weightShape: [Int], bias: [Float]?,
                            batchNorm bn: Node, scale: [Float], shift: [Float], mean: [Float], variance: [Float])
        -> (weights: [Float], bias: [Float])? {
        let eps = Double(bn[attribute: "epsilon"]?.floatValue ?? 1e-5)
        let channels = scale.count
        guard [shift.count, mean.count, variance.count].allSatisfy({ $0 == channels }),
              wv.count == weightShape.reduce(1, *), !wv.isEmpty else { return nil }

        // Where each weight element's output channel is.
        let channelOf: (Int) -> Int
        switch producer.opType {
        case "Conv":
            guard weightShape.first == channels else { return nil }
            let per = wv.count / channels
            channelOf = { $0 / per }
        case "ConvTranspose":
            // W is [C_in, C_out/group, k...]; output channel = group·(C_out/group) + j.
            let group = Int(producer[attribute: "group"]?.intValue ?? 1)
            guard weightShape.count >= 2, group > 0, weightShape[1] * group == channels, weightShape[0] % group == 0 else { return nil }
            let cinPerGroup = weightShape[0] / group, coutPerGroup = weightShape[1]
            let per = wv.count / (weightShape[0] * weightShape[1])
            channelOf = { e in
                let ci = e / (coutPerGroup * per), j = (e / per) % coutPerGroup
                return (ci / cinPerGroup) * coutPerGroup + j
            }
        case "Gemm":  // Y = A·B (+C); output channels are B's columns (rows when transB)
            let transB = (producer[attribute: "transB"]?.intValue ?? 0) != 0
            let alpha = producer[attribute: "alpha"]?.floatValue ?? 1, beta = producer[attribute: "beta"]?.floatValue ?? 1
            guard weightShape.count == 2, alpha == 1, beta == 1 || bias == nil else { return nil }
            guard (transB ? weightShape[0] : weightShape[1]) == channels else { return nil }
            let cols = weightShape[1]
            channelOf = transB ? { $0 / cols } : { $0 % cols }
        default:
            return nil
        }
        var oldBias = [Float](repeating: 0, count: channels)
        if let bias {
            guard bias.count == channels || bias.count == 1 else { return nil }
            oldBias = bias.count == 1 ? [Float](repeating: bias[0], count: channels) : bias
        }
        let s = (0..<channels).map { Double(scale[$0]) / (Double(variance[$0]) + eps).squareRoot() }
        let newW = wv.indices.map { Float(Double(wv[$0]) * s[channelOf($0)]) }
        let newB = (0..<channels).map { c -> Float in
            let centered: Double = Double(oldBias[c]) - Double(mean[c])
            return Float(centered * s[c] + Double(shift[c]))
        }
        return (newW, newB)
    }
}
