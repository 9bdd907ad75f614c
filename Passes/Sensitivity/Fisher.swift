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
        case .nmse:
            // ½·z² weighted as nmse weighs each target's squared errors.
            for name in probe.targets {
                let v = z[name]!.array(Float.self), per = v.count / n, weight = probe.squaredErrorWeight(name, batch: b)
                for i in v.indices { out[i / per] += 0.5 * Double(v[i]) * Double(v[i]) * weight }
            }
        }
        return out
    }

    public func run(on model: inout Model, context: inout PassContext) throws(PassError) {
        let probe = try SensitivityProbe(model: model, context: context, samples: samples, batch: batch, loss: loss, pass: Self.name)
        var table = SensitivityTable(method: Self.name,
                                     unit: "E[(∂ℓ/∂y)²]·E‖Δy‖² (\(probe.loss == .kl ? "cross-entropy of own top-1" : probe.loss == .nmse ? "½·z² weighted as nmse" : "½·mean z²"), \(probe.samples) samples)")
        let batches = probe.cuts.count
        for l in probe.layers {
            guard let y = probe.layerOutput(l) else { continue }
            let layerSeed = SensitivityProbe.seed(UInt64(seed), l.node)
            // One item per (batch, probe), each with its own directions, on every core.
            let sums = try probe.parallel(batches * probes) { (i: Int, threads: Int) throws(PassError) -> Double in
                let b = i / probes
                var mix = SplitMix64(seed: layerSeed ^ UInt64(i))  // a well-mixed start per item, not overlapping streams
                var rng = SplitMix64(seed: mix.next())
                let ref = probe.cuts[b][y]!
                let values = ref.array(Float.self)
                let rms = (values.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(max(values.count, 1))).squareRoot()
                let eps = Float(rms > 0 ? eta * rms : eta)
                let u = (0..<ref.count).map { _ -> Float in rng.next() & 1 == 0 ? 1 : -1 }
                let plus = RTensor(floats: (0..<ref.count).map { values[$0] + eps * u[$0] }, shape: ref.shape)
                let minus = RTensor(floats: (0..<ref.count).map { values[$0] - eps * u[$0] }, shape: ref.shape)
                let lp = Self.taskLoss(probe, batch: b, try probe.run(batch: b, overriding: [y: plus], threads: threads))
                let lm = Self.taskLoss(probe, batch: b, try probe.run(batch: b, overriding: [y: minus], threads: threads))
                var sum = 0.0
                for s in 0..<probe.batchSizes[b] { let g = (lp[s] - lm[s]) / (2 * Double(eps)); sum += g * g }
                return sum
            }
            let elements = probe.cuts[batches - 1][y]!.count / probe.batchSizes[batches - 1]
            let fisher = sums.reduce(0, +) / Double(probe.samples * probes * max(elements, 1))
            let (perFormat, _) = try probe.probeFormats(l) { (w: RTensor, b: Int, threads: Int) throws(PassError) -> Double in
                let out = try probe.run(batch: b, layer: l, weight: w, wanted: [y], threads: threads)
                let r = probe.cuts[b][y]!.array(Float.self), a = out[y]!.array(Float.self)
                var err = 0.0
                for k in r.indices { let d = Double(a[k]) - Double(r[k]); err += d * d }
                return err
            }
            for (f, errors) in zip(probe.formats, perFormat) {
                table.scores[l.node, default: [:]][f.description] = fisher * errors.reduce(0, +) / Double(probe.samples)
            }
            table.notes.append("\(l.node): mean squared gradient at '\(y)' \(fmt(fisher))")
        }
        var state = model.quantization
        state.record(table)
        model.quantization = state
    }
}
