import Foundation
import IR
import Interpreter

/// Baseline: empirical-Fisher (squared-gradient) sensitivity without autodiff.
/// The task loss ℓ is the cross-entropy of the model's own top-1 class
/// (pseudo-labels; classifiers, loss=kl) or ½·mean(z²) of the outputs
/// (otherwise). Its gradient g at the layer output y is probed by central
/// differences along Rademacher directions u: gᵀu ≈ (ℓ(y + εu) − ℓ(y − εu))/2ε,
/// and E[(gᵀu)²] = ‖g‖². F = E_samples[‖g‖²]/|y| is the mean squared gradient
/// per output element (the diagonal empirical Fisher, averaged).
///
/// Score: F · E‖Δy‖², Δy the layer output's error with the weight in the
/// format: the first-order loss change (gᵀΔy)² when g and Δy are uncorrelated.
public struct FisherSensitivity: Pass {
    public static let name = "fisher"
    public static let decidesWeightsOnly = true
    public static let summary = "Baseline: empirical Fisher (squared gradient at the layer output, by forward differences) × output error."
    public static let options = [
        SensitivityOptions.samples(16), SensitivityOptions.batch, SensitivityOptions.loss,
        PassOption("probes", .int, default: "8", help: "Rademacher directions per sample."),
        PassOption("epsilon", .double, default: "0.004", help: "Step relative to rms(y)."),
        PassOption("seed", .int, default: "1", help: "Seed of the probes."),
    ]
    public static func problem(with options: PassOptions) -> String? {
        if let p = SensitivityOptions.problem(options) { return p }
        if options.int("probes") < 1 { return "probes must be at least 1" }
        if !(options.double("epsilon") > 0 && options.double("epsilon") < 1) { return "epsilon must be in (0, 1)" }
        return nil
    }

    let samples: Int, batch: Int, loss: OutputLoss?, probes: Int, eta: Double, seed: Int
    public init(options: PassOptions) {
        samples = options.int("samples")
        batch = options.int("batch")
        loss = SensitivityOptions.loss(options)
        probes = options.int("probes")
        eta = options.double("epsilon")
        seed = options.int("seed")
    }
    public var pipelineText: String {
        "\(Self.name)(samples=\(samples),batch=\(batch),loss=\(loss?.rawValue ?? "auto"),probes=\(probes),epsilon=\(eta),seed=\(seed))"
    }

    /// The task loss per sample of batch `b`'s targets `z`.
    static func taskLoss(_ probe: SensitivityProbe, batch b: Int, _ z: [String: RTensor]) -> [Double] {
        let n = probe.batchSizes[b]
        var out = [Double](repeating: 0, count: n)
        switch probe.loss {
        case .kl:
            let ref = probe.cuts[b][probe.targets[0]]!, t = z[probe.targets[0]]!
            let c = ref.shape.last!, rows = ref.count / c, per = rows / n
            let rv = ref.array(Float.self), tv = t.array(Float.self)
            for row in 0..<rows {
                var label = 0
                for j in 1..<c where rv[row * c + j] > rv[row * c + label] { label = j }
                out[row / per] -= SensitivityProbe.logSoftmax(tv, row * c, c)[label] / Double(per)
            }
        case .mse:
            for name in probe.targets {
                let v = z[name]!.array(Float.self), per = v.count / n
                for i in v.indices { out[i / per] += 0.5 * Double(v[i]) * Double(v[i]) / Double(per) }
            }
        }
        return out
    }

    public func run(on model: inout Model, context: inout PassContext) throws(PassError) {
        let probe = try SensitivityProbe(model: model, context: context, samples: samples, batch: batch, loss: loss, pass: Self.name)
        var table = SensitivityTable(method: Self.name,
                                     unit: "E[(∂ℓ/∂y)²]·E‖Δy‖² (\(probe.loss == .kl ? "cross-entropy of own top-1" : "½·mean z²"), \(probe.samples) samples)")
        for l in probe.layers {
            guard let y = probe.layerOutput(l) else { continue }
            var rng = SplitMix64(seed: SensitivityProbe.seed(UInt64(seed), l.node))
            var fisher = 0.0, elements = 0
            for b in probe.cuts.indices {
                let ref = probe.cuts[b][y]!
                let values = ref.array(Float.self)
                let rms = (values.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(max(values.count, 1))).squareRoot()
                let eps = Float(rms > 0 ? eta * rms : eta)
                let n = probe.batchSizes[b]
                elements = ref.count / n
                for _ in 0..<probes {
                    let u = (0..<ref.count).map { _ -> Float in rng.next() & 1 == 0 ? 1 : -1 }
                    let plus = RTensor(floats: (0..<ref.count).map { values[$0] + eps * u[$0] }, shape: ref.shape)
                    let minus = RTensor(floats: (0..<ref.count).map { values[$0] - eps * u[$0] }, shape: ref.shape)
                    let lp = Self.taskLoss(probe, batch: b, try probe.run(batch: b, overriding: [y: plus]))
                    let lm = Self.taskLoss(probe, batch: b, try probe.run(batch: b, overriding: [y: minus]))
                    for s in 0..<n { let g = (lp[s] - lm[s]) / (2 * Double(eps)); fisher += g * g }
                }
            }
            fisher /= Double(probe.samples * probes * max(elements, 1))
            for f in probe.formats {
                var err = 0.0
                for b in probe.cuts.indices {
                    let out = try probe.run(batch: b, layer: l, weight: probe.fakeQuantized(l, f), wanted: [y])
                    let r = probe.cuts[b][y]!.array(Float.self), a = out[y]!.array(Float.self)
                    for i in r.indices { let d = Double(a[i]) - Double(r[i]); err += d * d }
                }
                table.scores[l.node, default: [:]][f.description] = fisher * err / Double(probe.samples)
            }
            table.notes.append("\(l.node): mean squared gradient at '\(y)' \(fmt(fisher))")
        }
        var state = model.quantization
        state.record(table)
        model.quantization = state
    }
}
