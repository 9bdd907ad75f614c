import Foundation
import IR
import Interpreter

/// HAWQ-V2 (Dong et al. 2020, arXiv 1911.03852, §3): a layer's sensitivity to a
/// weight perturbation ΔW is Ω = Tr(H)/n · ‖ΔW‖², with H the Hessian of the
/// loss with respect to its n weights. We use the Gauss-Newton form of H for
/// the output-distortion loss (``OutputLoss``), which is exact at the float
/// point where the loss and its gradient vanish: G = E[Jᵀ H_z J], H_z = (2/m)·I
/// for MSE, diag(p) − ppᵀ per row for softmax KL.
///
/// Tr(G) by Hutchinson's estimator (Hutchinson 1990; HAWQ-V2 Alg. 1): Tr(G) =
/// E[vᵀGv] for Rademacher v, with vᵀGv = (Jv)ᵀ H_z (Jv) and Jv by central
/// differences on the interpreter, (z(W + εv) − z(W − εv)) / 2ε, re-running only
/// the nodes after the layer, with an independent v per batch of samples
/// (`batch=1`, the default: per sample), which keeps the estimate unbiased and
/// cuts its variance when the per-sample G_s are low-rank and alike (confident
/// classifiers: one v shared by all samples needed over 200 probes on the
/// digits MLP). ε = η·rms(W), so ‖εv‖ = η‖W‖: central
/// differences err by O(ε²) (truncation) plus O(u/ε) (float32 rounding,
/// u = 2⁻²⁴), balanced at η ≈ u^(1/3) ≈ 4·10⁻³, the default.
/// Probes are added until the standard error of the mean is under `tolerance`
/// of the mean (at least `min-probes`, at most `max-probes`).
///
/// Score: ½·Tr(G)/n·‖Q(W) − W‖², the second-order prediction of the measured
/// loss when ΔW is isotropic (so it is in the same unit as `measured`).
public struct HessianTrace: Pass {
    public static let name = "hessian-trace"
    public static let decidesWeightsOnly = true
    public static let summary = "HAWQ-V2: Hutchinson trace of the Gauss-Newton output-loss Hessian × ‖ΔW‖²/n per layer × format."
    public static let options = [
        SensitivityOptions.samples(16),
        PassOption("batch", .int, default: "1", help: "Samples per run; each batch gets its own probe vector."),
        SensitivityOptions.loss,
        PassOption("tolerance", .double, default: "0.05", help: "Stop when the standard error is below this share of the trace."),
        PassOption("min-probes", .int, default: "8", help: "Rademacher probes before the stopping test."),
        PassOption("max-probes", .int, default: "200", help: "Most probes per layer."),
        PassOption("epsilon", .double, default: "0.004", help: "Finite-difference step relative to ‖W‖ (η: ‖εv‖ = η‖W‖)."),
        PassOption("seed", .int, default: "1", help: "Seed of the Rademacher probes."),
    ]

    public static func problem(with options: PassOptions) -> String? {
        if let p = SensitivityOptions.problem(options) { return p }
        if options.double("tolerance") <= 0 { return "tolerance must be positive" }
        if options.int("min-probes") < 2 { return "min-probes must be at least 2" }
        if options.int("max-probes") < options.int("min-probes") { return "max-probes must be at least min-probes" }
        if !(options.double("epsilon") > 0 && options.double("epsilon") < 1) { return "epsilon must be in (0, 1)" }
        return nil
    }

    let samples: Int, batch: Int, loss: OutputLoss?
    let tolerance: Double, minProbes: Int, maxProbes: Int, eta: Double, seed: Int
    public init(options: PassOptions) {
        samples = options.int("samples")
        batch = options.int("batch")
        loss = SensitivityOptions.loss(options)
        tolerance = options.double("tolerance")
        minProbes = options.int("min-probes")
        maxProbes = options.int("max-probes")
        eta = options.double("epsilon")
        seed = options.int("seed")
    }
    public var pipelineText: String {
        "\(Self.name)(samples=\(samples),batch=\(batch),loss=\(loss?.rawValue ?? "auto"),tolerance=\(tolerance),min-probes=\(minProbes),max-probes=\(maxProbes),epsilon=\(eta),seed=\(seed))"
    }

    /// The Hutchinson estimate of Tr(G) for one layer.
    public struct Estimate: Sendable {
        public var trace: Double
        public var probes: Int
        /// Standard error of the mean over the trace (0 when the trace is 0).
        public var relativeError: Double
    }

    /// The finite-difference step for a weight: η·rms(W) (η itself for an all-zero weight).
    public static func step(_ w: [Float], eta: Double) -> Float {
        let rms = (w.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(max(w.count, 1))).squareRoot()
        return Float(rms > 0 ? eta * rms : eta)
    }

    public func estimate(_ l: LayerQuantization, probe: SensitivityProbe) throws(PassError) -> Estimate {
        let w = probe.weight(l).values
        let eps = Self.step(w, eta: eta)
        var rng = SplitMix64(seed: SensitivityProbe.seed(UInt64(seed), l.node))
        var values: [Double] = []
        let n = w.count
        while values.count < maxProbes {
            // An independent Rademacher vector per batch (per sample with batch=1).
            values.append(try probe.gaussNewtonQuadratic(l, epsilon: eps) { _ in
                (0..<n).map { _ in rng.next() & 1 == 0 ? 1 : -1 }
            })
            let k = Double(values.count)
            let mean = values.reduce(0, +) / k
            if values.count >= minProbes {
                let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / (k - 1)
                let se = (variance / k).squareRoot()
                if mean <= 0 { return Estimate(trace: max(mean, 0), probes: values.count, relativeError: 0) }
                if se < tolerance * mean || values.count == maxProbes {
                    return Estimate(trace: mean, probes: values.count, relativeError: se / mean)
                }
            }
        }
        return Estimate(trace: 0, probes: 0, relativeError: 0)
    }

    public func run(on model: inout Model, context: inout PassContext) throws(PassError) {
        let probe = try SensitivityProbe(model: model, context: context, samples: samples, batch: batch, loss: loss, pass: Self.name)
        var table = SensitivityTable(method: Self.name,
                                     unit: "½·Tr(G)/n·‖ΔW‖² (Gauss-Newton, \(probe.loss.rawValue) loss, \(probe.samples) samples)")
        table.notes.append("Hutchinson with Rademacher probes, central differences, step \(eta)·rms(W); stop at SE < \(tolerance)·trace, \(minProbes)–\(maxProbes) probes")
        var unconverged: [String] = []
        for l in probe.layers {
            let e = try estimate(l, probe: probe)
            let n = Double(probe.weight(l).values.count)
            for f in probe.formats {
                table.scores[l.node, default: [:]][f.description] = 0.5 * e.trace / n * probe.weightErrorSquared(l, f)
            }
            table.notes.append("\(l.node): Tr(G)=\(fmt(e.trace)) probes=\(e.probes) relative SE=\(fmt(e.relativeError))")
            if e.relativeError >= tolerance { unconverged.append(l.node) }
            context.count("probes", e.probes)
        }
        if !unconverged.isEmpty {
            let text = "standard error above \(tolerance) after \(maxProbes) probes on \(unconverged.joined(separator: ", "))"
            table.notes.append(text)
            context.note(text)
        }
        var state = model.quantization
        state.record(table)
        model.quantization = state
    }
}
