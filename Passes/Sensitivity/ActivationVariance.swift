import IR
import Interpreter

/// Baseline: Var(x) · ‖Q(W) − W‖²_F, with Var(x) the variance of the layer's
/// input over the calibration samples (all its elements pooled). For inputs
/// with zero mean and uncorrelated elements of variance σ², E‖ΔW·x‖² =
/// σ²·‖ΔW‖²_F per output vector: the expected error of the layer's own output,
/// blind to what the rest of the network does with it.
public struct ActivationVariance: Pass {
    public static let name = "activation-variance"
    public static let decidesWeightsOnly = true
    public static let summary = "Baseline: variance of the layer's input over calibration × ‖ΔW‖² per layer × format."
    public static let options = [SensitivityOptions.samples(32), SensitivityOptions.batch]
    public static func problem(with options: PassOptions) -> String? { SensitivityOptions.problem(options) }

    let samples: Int, batch: Int
    public init(options: PassOptions) {
        samples = options.int("samples")
        batch = options.int("batch")
    }
    public var pipelineText: String { "\(Self.name)(samples=\(samples),batch=\(batch))" }

    public func run(on model: inout Model, context: inout PassContext) throws(PassError) {
        let probe = try SensitivityProbe(model: model, context: context, samples: samples, batch: batch, loss: .mse, pass: Self.name)
        var table = SensitivityTable(method: Self.name, unit: "Var(x)·‖ΔW‖²_F (\(probe.samples) samples)")
        for l in probe.layers {
            guard let input = probe.dataInput(l) else { continue }
            var sum = 0.0, sq = 0.0, n = 0
            for cut in probe.cuts {
                guard let t = cut[input], t.type == .float32 else {
                    throw PassError(pass: Self.name, message: "layer \(l.node): input '\(input)' is not a float32 value")
                }
                for x in t.array(Float.self) { sum += Double(x); sq += Double(x) * Double(x) }
                n += t.count
            }
            let mean = sum / Double(max(n, 1))
            let variance = max(sq / Double(max(n, 1)) - mean * mean, 0)
            for f in probe.formats {
                table.scores[l.node, default: [:]][f.description] = variance * probe.weightErrorSquared(l, f)
            }
            table.notes.append("\(l.node): Var(\(input))=\(fmt(variance))")
        }
        var state = model.quantization
        state.record(table)
        model.quantization = state
    }
}
