import IR

/// Baseline: the weight error's energy ‖Q(W) − W‖²_F, i.e. ‖W‖²_F times the
/// format's squared relative error on this layer (‖ΔW‖/‖W‖)². Large weights
/// and coarse formats score high; what the layer's inputs and the rest of the
/// network do with the error is ignored. Needs no data.
public struct WeightMagnitude: Pass {
    public static let name = "weight-magnitude"
    public static let summary = "Baseline: ‖W‖² × the format's squared relative weight error (= ‖ΔW‖²) per layer × format."
    public init(options: PassOptions) {}

    public func run(on model: inout Model, context: inout PassContext) throws(PassError) {
        let state = model.quantization
        guard !state.layers.isEmpty else {
            throw PassError(pass: Self.name, message: "no layers to score: run 'quantize' first (it lists the quantizable layers)")
        }
        var table = SensitivityTable(method: Self.name, unit: "‖Q(W) − W‖²_F")
        for l in state.layers {
            guard let w = model.graph.initializers[l.weight], let values = w.floatValues() else {
                throw PassError(pass: Self.name, message: "layer \(l.node): weight '\(l.weight)' is not a float initializer")
            }
            var norm = 0.0
            for x in values { norm += Double(x) * Double(x) }
            for f in state.formatsConsidered {
                let q = FakeQuantizer.apply(values, shape: w.shape, format: f, layer: l)
                var e = 0.0
                for i in values.indices { let d = Double(q[i]) - Double(values[i]); e += d * d }
                table.scores[l.node, default: [:]][f.description] = e
            }
            table.notes.append("\(l.node): ‖W‖²=\(fmt(norm))")
        }
        var s = state
        s.record(table)
        model.quantization = s
    }
}

/// A weight in a format and back in float: fp16 rounding, or RTN integers dequantized.
public enum FakeQuantizer {
    public static func apply(_ w: [Float], shape: [Int], format: WeightFormat, layer l: LayerQuantization) -> [Float] {
        switch format {
        case .float32: return w
        case .float16: return w.map { HalfFloat.toFloat(HalfFloat.fromFloat($0)) }
        case .integer(_, let granularity, _):
            let q = WeightQuantizer.quantize(w, shape: shape, format: format, channelAxis: l.channelAxis, groupAxis: l.groupAxis)!
            return WeightQuantizer.dequantize(q, shape: shape, granularity: granularity, channelAxis: l.channelAxis, groupAxis: l.groupAxis)
        }
    }
}
