import IR

/// The cheapest sensitivity baseline, weight magnitude: Ωᵢ(f) = ‖Q_f(Wᵢ) − Wᵢ‖²_F,
/// the squared error RTN rounding to format f leaves in layer i's weights (‖Wᵢ‖²
/// times the format's squared relative error). Large weights and coarse formats
/// score high; what the layer's inputs and the rest of the network make of the
/// error is ignored, so it only ranks layers of similar role — the Hessian-based
/// and measured methods account for both. Needs no data.
public struct WeightMagnitude: Pass {
    public static let name = "weight-magnitude"
    public static let decidesWeightsOnly = true
    public static let summary = "Score every layer in every candidate format by its squared weight error ‖Q(W) − W‖² (RTN)."
    public static let options = [
        PassOption("formats", .string, default: "",
                   help: "Candidate formats separated by ';' (default: the model's candidate formats, else fp16;int8/channel;int4/g32;int4/g64;int4/g128)."),
        PassOption("reduce-range", .bool, default: "false", help: "Score int8 with 7-bit weights (they are whenever quantize(reduce-range=true) ran before)."),
    ]
    public static let method = name

    let formats: String
    let reduceRange: Bool

    public static func problem(with options: PassOptions) -> String? {
        let f = options.string("formats")
        if f.isEmpty { return nil }
        if case .failure(let e) = FormatList.parse(f) { return e.message }
        return nil
    }

    public init(options: PassOptions) {
        formats = options.string("formats")
        reduceRange = options.bool("reduce-range")
    }

    public var pipelineText: String {
        var parts: [String] = []
        if !formats.isEmpty { parts.append("formats=\(formats)") }
        if reduceRange { parts.append("reduce-range=true") }
        return parts.isEmpty ? Self.name : "\(Self.name)(\(parts.joined(separator: ",")))"
    }

    public func run(on model: inout Model, context: inout PassContext) throws(PassError) {
        var state = model.quantization
        guard !state.layers.isEmpty else {
            throw PassError(pass: Self.name, message: "no quantized layers to score: run `quantize` before \(Self.name)")
        }
        let candidates: [WeightFormat]
        if formats.isEmpty {
            candidates = state.formatsConsidered
        } else {
            guard case .success(let fs) = FormatList.parse(formats) else { fatalError("checked by problem(with:)") }
            if !state.candidateFormats.isEmpty, Set(state.candidateFormats) != Set(fs) {
                throw PassError(pass: Self.name, message: "formats=\(formats) differs from the candidate formats an earlier pass set ("
                    + state.candidateFormats.map(\.description).joined(separator: ";") + "); give every sensitivity pass the same formats")
            }
            candidates = fs
        }
        if state.candidateFormats.isEmpty { state.candidateFormats = candidates }
        var table = SensitivityTable(method: Self.method, unit: "‖Q(W) − W‖²_F (RTN)")
        for layer in state.layers where layer.format != .float32 {
            guard let t = model.graph.initializers[layer.weight], let w = t.floatValues() else {
                throw PassError(pass: Self.name, message: "layer '\(layer.node)': weight '\(layer.weight)' is not a float initializer")
            }
            var row: [String: Double] = [:]
            for f in candidates {
                let q = WeightQuantizer.roundTrip(w, shape: t.shape, format: f, channelAxis: layer.channelAxis,
                                                  groupAxis: layer.groupAxis, reduceRange: reduceRange || state.int8ReducedRange)
                var sum = 0.0
                for i in w.indices {
                    let e = Double(q[i]) - Double(w[i])
                    sum += e * e
                }
                row[f.description] = sum
            }
            table.scores[layer.node] = row
            context.count("layers scored")
        }
        table.notes = ["\(candidates.count) formats: " + candidates.map(\.description).joined(separator: ", ")]
        state.sensitivities.removeAll { $0.method == Self.method }
        state.sensitivities.append(table)
        model.quantization = state
    }
}
