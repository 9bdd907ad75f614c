import Foundation
import IR
import Interpreter

/// Ground truth for the other sensitivity methods: quantizes one layer at a
/// time (weights only, activations float) in each candidate format and
/// measures the end-to-end output distortion on calibration samples. Each
/// probe re-runs only the nodes downstream of the layer, from the cached float
/// values (``Interpreter/run(reusing:overriding:outputs:)``).
///
/// Score: the mean per-sample loss (KL of softmax for classifiers, MSE
/// otherwise; see ``OutputLoss``). The other figure (output MSE of a KL run)
/// is in the notes, and every layer gets `measured.max-l2.<format>`, the
/// largest per-sample ‖Δz‖₂ of the compared values, which `curvature` checks
/// its bound against.
public struct MeasuredSensitivity: Pass {
    public static let name = "measured"
    public static let decidesWeightsOnly = true
    public static let summary = "Score each layer × format by the measured output distortion with only that layer quantized."
    public static let options = [SensitivityOptions.samples(32), SensitivityOptions.batch, SensitivityOptions.loss]
    public static func problem(with options: PassOptions) -> String? { SensitivityOptions.problem(options) }

    let samples: Int, batch: Int, loss: OutputLoss?
    public init(options: PassOptions) {
        samples = options.int("samples")
        batch = options.int("batch")
        loss = SensitivityOptions.loss(options)
    }
    public var pipelineText: String { "\(Self.name)(samples=\(samples),batch=\(batch),loss=\(loss?.rawValue ?? "auto"))" }

    public func run(on model: inout Model, context: inout PassContext) throws(PassError) {
        let probe = try SensitivityProbe(model: model, context: context, samples: samples, batch: batch, loss: loss, pass: Self.name)
        let unit = probe.loss == .kl
            ? "mean KL(softmax float ‖ softmax quantized) of '\(probe.targets[0])' over \(probe.samples) samples, one layer quantized"
            : probe.loss == .nmse ? "mean over \(probe.targets.count) outputs of output MSE / output mean square, over \(probe.samples) samples, one layer quantized"
            : "output MSE over \(probe.samples) samples, one layer quantized"
        var table = SensitivityTable(method: Self.name, unit: unit)
        var state = model.quantization
        let wanted = Array(Set(probe.targets + probe.outputs)).sorted()
        for (li, l) in probe.layers.enumerated() {
            // One probe per (distinct weight, batch), on every core; summed in a fixed order.
            let (perFormat, probed) = try probe.probeFormats(l) { (w: RTensor, b: Int, threads: Int) throws(PassError) -> ProbeFigures in
                figures(probe, batch: b, try probe.run(batch: b, layer: l, weight: w, wanted: wanted, threads: threads))
            }
            var other: [String] = []
            for (f, mine) in zip(probe.formats, perFormat) {
                let lossSum = mine.reduce(0) { $0 + $1.loss }, sq = mine.reduce(0) { $0 + $1.squaredError }
                let count = mine.reduce(0) { $0 + $1.count }, maxL2 = mine.map(\.maxL2).max() ?? 0
                table.scores[l.node, default: [:]][f.description] = lossSum / Double(probe.samples)
                state.layers[li].metrics["measured.max-l2.\(f.description)"] = maxL2
                if probe.loss == .kl { other.append("\(f.description)=\(fmt(sq / Double(max(count, 1))))") }
            }
            if !other.isEmpty { table.notes.append("\(l.node): output MSE \(other.joined(separator: " "))") }
            context.count("layer × format probes", probed)
        }
        table.notes.insert("loss \(probe.loss.rawValue) on \(probe.targets.joined(separator: ", ")); \(probe.samples) samples", at: 0)
        state.record(table)
        model.quantization = state
    }

    /// One probe's figures: loss summed over its samples, the largest per-sample
    /// ‖Δz‖₂ of the targets, and the squared error and element count of the outputs.
    struct ProbeFigures { var loss: Double, maxL2: Double, squaredError: Double, count: Int }

    func figures(_ probe: SensitivityProbe, batch b: Int, _ out: [String: RTensor]) -> ProbeFigures {
        let n = probe.batchSizes[b]
        var l2 = [Double](repeating: 0, count: n)
        for name in probe.targets {
            let r = probe.cuts[b][name]!.array(Float.self), a = out[name]!.array(Float.self)
            let per = r.count / n
            for i in r.indices { let d = Double(a[i]) - Double(r[i]); l2[i / per] += d * d }
        }
        var sq = 0.0, count = 0
        for name in probe.outputs {
            let r = probe.cuts[b][name]!.array(Float.self), a = out[name]!.array(Float.self)
            for i in r.indices { let d = Double(a[i]) - Double(r[i]); sq += d * d }
            count += r.count
        }
        return ProbeFigures(loss: probe.lossPerSample(batch: b, out).reduce(0, +), maxL2: l2.map { $0.squareRoot() }.max() ?? 0,
                            squaredError: sq, count: count)
    }
}
