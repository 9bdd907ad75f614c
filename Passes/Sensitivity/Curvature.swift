import Foundation
import IR
import Interpreter

/// Error bounds from numerical analysis, in the style of homotopy numerical
/// foundations (HNF): per layer a Lipschitz constant, the curvature of the map
/// with its activation, the error a format's weights add, the compositional
/// bound on the error at the compared outputs, and the precision obstruction
/// p ≥ log₂(c·κ·D²/ε). The derivation is in docs/sensitivity.md.
///
/// - L = ‖W‖₂ by power iteration on W reshaped to [out, rest]; for a
///   convolution the operator norm is bounded by √(kh·kw)·‖W_mat‖₂ (each input
///   element enters at most kh·kw patches), which is what we use: an upper-bound
///   proxy, not the exact conv norm.
/// - Φᵢ(f) = ‖ΔW_f‖_op · max|x|·√(numel x): the largest per-sample ‖Δy‖₂ the
///   format's weight error can cause at the layer's output, with x's range
///   from calibration.
/// - Score: (∏_{j after i} L_j)·Φᵢ(f), the product along the worst path from the
///   layer to the compared values of layer norms and activation Lipschitz
///   constants (other operators counted as 1-Lipschitz, so residual sums and
///   normalizations are not bounded: see the notes).
/// - κ = κ_σ·L², κ_σ = sup|σ''| of the following activation; D = the diameter
///   (high − low)·√(numel x) of the calibrated input box; ε = the option, or the
///   layer's own int8 bound Φᵢ(int8/channel); min-bits = ⌈log₂(c·κ·D²/ε)⌉ (0 for
///   κ = 0: piecewise-linear layers have no curvature obstruction).
///
/// A layer is flagged (`curvature.violated` = 1, and a note) when a `measured`
/// run's largest per-sample output error exceeds the bound for some format.
public struct Curvature: Pass {
    public static let name = "curvature"
    public static let decidesWeightsOnly = true
    public static let summary = "HNF-style Lipschitz/curvature error bounds and minimum bits per layer; flags bounds the measured errors break."
    public static let options = [
        PassOption("epsilon", .double, default: "0", help: "Target output error for min-bits (0: the layer's int8 bound)."),
        PassOption("c", .double, default: "1", help: "The constant c of the precision bound p ≥ log₂(c·κ·D²/ε)."),
        PassOption("iterations", .int, default: "200", help: "Power-iteration steps."),
        SensitivityOptions.batch,
    ]
    public static func problem(with options: PassOptions) -> String? {
        if options.double("epsilon") < 0 { return "epsilon must not be negative" }
        if options.double("c") <= 0 { return "c must be positive" }
        if options.int("iterations") < 1 { return "iterations must be at least 1" }
        return nil
    }

    let epsilon: Double, c: Double, iterations: Int, batch: Int
    public init(options: PassOptions) {
        epsilon = options.double("epsilon")
        c = options.double("c")
        iterations = options.int("iterations")
        batch = options.int("batch")
    }
    public var pipelineText: String { "\(Self.name)(epsilon=\(epsilon),c=\(c),iterations=\(iterations),batch=\(batch))" }

    /// Lipschitz constant and sup|σ''| of an activation node (Relu family piecewise
    /// linear: κ = 0; sigmoid σ'' peaks at 1/(6√3), tanh's at 4/(3√3); hard-swish
    /// x·(x+3)/6 on [−3, 3] has σ' ≤ 3/2, σ'' = 1/3; softmax: ‖J‖ = ‖diag p − ppᵀ‖ ≤ 1/2,
    /// second derivatives bounded by 1, a conservative constant).
    static func activation(_ n: Node) -> (lipschitz: Double, kappa: Double)? {
        func attr(_ name: String) -> Double? {
            n.attributes.first { $0.name == name }.flatMap { if case .float(let v) = $0.value { Double(v) } else { nil } }
        }
        switch n.opType {
        case "Relu", "Clip": return (1, 0)
        case "LeakyRelu": return (max(1, abs(attr("alpha") ?? 0.01)), 0)
        case "Sigmoid": return (0.25, 1 / (6 * 3.0.squareRoot()))
        case "Tanh": return (1, 4 / (3 * 3.0.squareRoot()))
        case "HardSigmoid": return (abs(attr("alpha") ?? 0.2), 0)
        case "HardSwish": return (1.5, 1.0 / 3)
        case "Softmax": return (0.5, 1)
        case "Elu": return (max(1, attr("alpha") ?? 1), attr("alpha") ?? 1)
        case "Gelu": return (1.13, 0.798)
        default: return nil
        }
    }

    /// [rows, cols] of the weight as a linear map, and the factor from the reshaped
    /// matrix's norm to the layer's operator norm.
    static func matrixView(_ l: LayerQuantization, shape: [Int]) -> (rows: Int, cols: Int, factor: Double) {
        let n = shape.reduce(1, *)
        switch l.opType {
        case "Conv", "ConvTranspose":
            let k = shape.dropFirst(2).reduce(1, *)
            return (shape[0], n / max(shape[0], 1), Double(k).squareRoot())
        case "MatMul":
            let cols = shape.last ?? 1
            return (n / max(cols, 1), cols, 1)
        default:
            return (shape[0], n / max(shape[0], 1), 1)
        }
    }

    public func run(on model: inout Model, context: inout PassContext) throws(PassError) {
        func fail(_ m: String) -> PassError { PassError(pass: Self.name, message: m) }
        // One sample gives each layer input's size per sample and the compared values.
        let probe = try SensitivityProbe(model: model, context: context, samples: 1, batch: batch, loss: nil, pass: Self.name)
        var state = model.quantization
        let g = model.graph
        let nodeByName = Dictionary(g.nodes.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        var consumers: [String: [Node]] = [:]
        for n in g.nodes { for i in n.inputs where !i.isEmpty { consumers[i, default: []].append(n) } }

        // Per layer: operator norm of W (with the conv factor) and its activation.
        var layerNorm: [String: Double] = [:]
        var act: [String: (node: String, lipschitz: Double, kappa: Double)] = [:]
        for l in probe.layers {
            let (w, shape) = probe.weight(l)
            let view = Self.matrixView(l, shape: shape)
            layerNorm[l.node] = view.factor * SpectralNorm.largestSingularValue(w, rows: view.rows, cols: view.cols, iterations: iterations)
            // The activation that follows, through a bias Add with a constant operand.
            var value = nodeByName[l.node]?.outputs.first ?? ""
            while let next = consumers[value], next.count == 1 {
                let n = next[0]
                if let a = Self.activation(n) { act[l.node] = (n.name, a.lipschitz, a.kappa); break }
                guard n.opType == "Add", n.inputs.contains(where: { g.initializers[$0] != nil }), let o = n.outputs.first else { break }
                value = o
            }
        }
        // Worst-path gain from each value to the compared values, consumers first.
        var gain: [String: Double] = [:]
        for t in probe.targets { gain[t] = 1 }
        for n in g.nodes.reversed() {
            let out = n.outputs.map { gain[$0] ?? 0 }.max() ?? 0
            guard out > 0, !["Shape", "Size"].contains(n.opType) else { continue }
            let factor = layerNorm[n.name] ?? Self.activation(n)?.lipschitz ?? 1
            for i in n.inputs where !i.isEmpty && g.initializers[i] == nil { gain[i] = max(gain[i] ?? 0, factor * out) }
        }

        var table = SensitivityTable(method: Self.name, unit: "bound on the largest per-sample ‖Δz‖₂ of \(probe.targets.joined(separator: ", ")) (∏ L_j·Φᵢ)")
        var violations: [String] = []
        var totals: [String: Double] = [:]
        for (li, l) in state.layers.enumerated() {
            guard let input = probe.dataInput(l), let x = probe.cuts[0][input], let y = probe.layerOutput(l) else { continue }
            guard let range = state.ranges[input] else {
                throw fail("layer \(l.node): no calibrated range for its input '\(input)'; run 'calibrate' before 'curvature'")
            }
            let perSample = Double(x.count / max(probe.batchSizes[0], 1))
            let xmax = Double(max(abs(range.low), abs(range.high)))
            let diameter = Double(range.high - range.low) * perSample.squareRoot()
            let (w, shape) = probe.weight(l)
            let view = Self.matrixView(l, shape: shape)
            func phi(_ f: WeightFormat) -> Double {
                let q = probe.fakeQuantized(l, f)
                let dw = zip(q, w).map { $0 - $1 }
                return view.factor * SpectralNorm.largestSingularValue(dw, rows: view.rows, cols: view.cols, iterations: iterations)
                    * xmax * perSample.squareRoot()
            }
            let lw = layerNorm[l.node] ?? 0
            let a = act[l.node]
            let kappa = (a?.kappa ?? 0) * lw * lw
            let downstream = gain[y] ?? 0
            var violated = false
            for f in probe.formats {
                let bound = downstream * phi(f)
                table.scores[l.node, default: [:]][f.description] = bound
                totals[f.description, default: 0] += bound
                if let measured = l.metrics["measured.max-l2.\(f.description)"], measured > bound * (1 + 1e-6) + 1e-12 {
                    violated = true
                    violations.append("\(l.node) \(f.description): measured ‖Δz‖₂ \(fmt(measured)) > bound \(fmt(bound))")
                }
            }
            let target = epsilon > 0 ? epsilon : phi(.int8PerChannel)
            let ratio = c * kappa * diameter * diameter / target
            let minBits = kappa > 0 && target > 0 && ratio > 1 ? ceil(log2(ratio)) : 0
            state.layers[li].metrics["curvature.kappa"] = kappa
            state.layers[li].metrics["curvature.lipschitz"] = lw
            state.layers[li].metrics["curvature.min-bits"] = minBits
            if l.metrics.keys.contains(where: { $0.hasPrefix("measured.max-l2.") }) {
                state.layers[li].metrics["curvature.violated"] = violated ? 1 : 0
            }
            table.notes.append("\(l.node): L=\(fmt(lw)) activation=\(a?.node ?? "none") κ=\(fmt(kappa)) D=\(fmt(diameter)) ε=\(fmt(target)) gain after=\(fmt(downstream)) min-bits=\(Int(minBits))")
        }
        for f in probe.formats {
            table.notes.append("all layers \(f.description): compositional bound Σᵢ ∏L_j·Φᵢ = \(fmt(totals[f.description] ?? 0))")
        }
        if !state.layers.contains(where: { $0.metrics.keys.contains { $0.hasPrefix("measured.max-l2.") } }) {
            table.notes.append("no measured errors to check the bounds against: run 'measured' first")
        }
        for v in violations {
            table.notes.append("bound violated: \(v)")
            context.note("bound violated: \(v)")
        }
        context.count("bounds violated", violations.count)
        state.record(table)
        model.quantization = state
    }
}
