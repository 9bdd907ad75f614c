import Foundation
import IR
import Interpreter

/// Mixed precision: one weight format per layer, chosen to minimise the
/// predicted distortion Σᵢ Ωᵢ(fᵢ) of a sensitivity table subject to a size
/// budget, a multiple-choice knapsack (issue 6, item 2). Costs are the bytes
/// ``WeightFormat/storageBytes`` counts (scales and zero points included), or
/// for `budget=latency:…` each layer's predicted gfx803 kernel time in whole
/// nanoseconds (``LayerLatency``, issue 7 item 3).
/// Layers that change format are re-rounded to nearest (RTN); every layer's
/// `reason` says why it has its format, and an ``AllocationRecord`` keeps the outcome.
public struct Allocate: Pass {
    public static let name = "allocate"
    public static let decidesWeightsOnly = true
    public static let summary = "Choose each layer's weight format under a size budget to minimise predicted distortion (mixed precision)."
    public static let options = [
        PassOption("budget", .string, default: "",
                   help: "Average stored bits per weight (4.5bits), average bits of the weight values alone, scales and zero points not counted (4.5wbits), stored weight bytes (123456B, 800KB, 1.2MB; SI: 1 MB = 10^6 bytes; scales and zero points count) or predicted gfx803 time of the weighted layers (latency:2ms, latency:500us)."),
        PassOption("objective", .string, default: "auto",
                   help: "Sensitivity table to minimise (layer-hessian, hessian-trace, measured, curvature, weight-magnitude, ...); auto: the one best rank-correlated with measured, else the first present of \(AllocationObjective.preference.joined(separator: ", "))."),
        PassOption("solver", .choice(AllocationSolver.allCases.map(\.rawValue)), default: "exact",
                   help: "exact (multiple-choice knapsack, optimal), greedy (best ΔΩ/Δbytes upgrades) or proportional (top 20% fp16, 40% int8, 40% int4; ignores the budget)."),
        PassOption("keep", .string, default: "", help: "Pinned layers, NODE=FORMAT separated by ';' (e.g. fc1=fp16;fc3=int8)."),
        PassOption("formats", .string, default: "", help: "Candidate formats separated by ';' (default: those the sensitivity passes scored)."),
        PassOption("reduce-range", .bool, default: "false", help: "Re-round int8 layers with 7-bit weights, as quantize(reduce-range=true) does."),
    ]

    let budgetText: String
    let objective: String
    let solver: AllocationSolver
    let keepText: String
    let formatsText: String
    let reduceRange: Bool

    public static func problem(with options: PassOptions) -> String? {
        let b = options.string("budget")
        if b.isEmpty { return "needs budget=… (e.g. budget=4.5bits, budget=1.2MB or budget=latency:2ms)" }
        if case .failure(let e) = AllocationBudget.parse(b) { return e.message }
        if !options.string("formats").isEmpty, case .failure(let e) = FormatList.parse(options.string("formats")) { return e.message }
        if case .failure(let e) = parseKeep(options.string("keep")) { return e.message }
        return nil
    }

    public init(options: PassOptions) {
        budgetText = options.string("budget")
        objective = options.string("objective")
        solver = AllocationSolver(rawValue: options.string("solver"))!
        keepText = options.string("keep")
        formatsText = options.string("formats")
        reduceRange = options.bool("reduce-range")
    }

    public var pipelineText: String {
        var parts = ["budget=\(budgetText)", "objective=\(objective)", "solver=\(solver.rawValue)"]
        if !keepText.isEmpty { parts.append("keep=\(keepText)") }
        if !formatsText.isEmpty { parts.append("formats=\(formatsText)") }
        if reduceRange { parts.append("reduce-range=true") }
        return "\(Self.name)(\(parts.joined(separator: ",")))"
    }

    /// `NODE=FORMAT;…` → pins in order; a format may be any quantc format, fp32 included.
    public static func parseKeep(_ text: String) -> Result<[(node: String, format: WeightFormat)], FormatListError> {
        var pins: [(node: String, format: WeightFormat)] = []
        for item in text.split(separator: ";") where !item.isEmpty {
            let kv = item.split(separator: "=", maxSplits: 1).map(String.init)
            guard kv.count == 2, !kv[0].isEmpty else {
                return .failure(.init("keep: '\(item)' is not NODE=FORMAT (e.g. fc1=fp16)"))
            }
            guard let f = WeightFormat(parsing: kv[1]) else {
                return .failure(.init("keep: unknown format '\(kv[1])' for node '\(kv[0])'; formats are written fp32, \(FormatList.syntax)"))
            }
            if let old = pins.first(where: { $0.node == kv[0] }), old.format != f {
                return .failure(.init("keep: node '\(kv[0])' is pinned twice, to \(old.format) and \(f)"))
            }
            pins.append((kv[0], f))
        }
        return .success(pins)
    }

    func fail(_ message: String) -> PassError { PassError(pass: Self.name, message: message) }

    public func run(on model: inout Model, context: inout PassContext) throws(PassError) {
        var state = model.quantization
        guard !state.layers.isEmpty else { throw fail("no quantized layers to allocate: run `quantize` (and a sensitivity pass) first") }
        guard case .success(let budget) = AllocationBudget.parse(budgetText),
              case .success(let pinList) = Self.parseKeep(keepText) else { fatalError("checked by problem(with:)") }
        for (node, _) in pinList where state.layer(named: node) == nil {
            let isNode = model.graph.nodes.contains { $0.name == node }
            throw fail("keep: " + (isNode ? "node '\(node)' is not a quantizable layer (Conv, ConvTranspose, Gemm, MatMul with a constant weight)"
                : "the model has no node named '\(node)'") + Quantize.suggestion(for: node, among: model.graph.nodes))
        }
        for (node, format) in pinList where state.excluded.contains(node) && format != .float32 {
            throw fail("keep: node '\(node)' is pinned to \(format) but excluded (kept in float); drop one of the two")
        }
        let pins = Dictionary(pinList.map { ($0.node, $0.format) }, uniquingKeysWith: { a, _ in a })

        // Candidates: formats= (a subset of what was scored), else the model's.
        var candidates = state.formatsConsidered
        if !formatsText.isEmpty {
            guard case .success(let fs) = FormatList.parse(formatsText) else { fatalError("checked by problem(with:)") }
            if !state.candidateFormats.isEmpty, let odd = fs.first(where: { !state.candidateFormats.contains($0) }) {
                throw fail("formats: \(odd) is not among the candidate formats the sensitivity passes scored ("
                    + state.candidateFormats.map(\.description).joined(separator: ";") + ")")
            }
            if state.candidateFormats.isEmpty { state.candidateFormats = fs }
            candidates = fs
        }

        // Sizes: every layer counts, excluded (fp32) ones at fp32.
        var shapes: [[Int]] = []
        for l in state.layers {
            guard let t = model.graph.initializers[l.weight] else { throw fail("layer '\(l.node)': weight '\(l.weight)' is not an initializer") }
            shapes.append(t.shape)
        }
        let weights = shapes.reduce(0) { $0 + $1.reduce(1, *) }
        func bytes(_ i: Int, _ f: WeightFormat) -> Int {
            f.storageBytes(shape: shapes[i], channelAxis: state.layers[i].channelAxis, groupAxis: state.layers[i].groupAxis)
        }
        // The knapsack's cost: bytes, or for a latency budget nanoseconds on gfx803.
        var latencies: [LayerLatency]?
        var limit = budget.byteLimit(weights: weights)
        // A wbits budget: costs are the bits of the weight values alone.
        let valueBitLimit = budget.valueBitLimit(weights: weights), valueBits = valueBitLimit != nil
        if let valueBitLimit { limit = valueBitLimit }
        if case .latency(let seconds) = budget {
            let types = ShapeInference(model: model).types
            var ls: [LayerLatency] = []
            for (l, shape) in zip(state.layers, shapes) {
                guard let node = model.graph.nodes.first(where: { $0.name == l.node }) else { throw fail("layer '\(l.node)' has no node in the graph") }
                switch LayerLatency.make(node: node, weightShape: shape, types: types) {
                case .success(let x): ls.append(x)
                case .failure(let e): throw fail("latency of layer '\(l.node)': \(e.message)")
                }
            }
            latencies = ls
            limit = Int((seconds * 1e9).rounded()) // whole ns, as the costs
        }
        let unit = latencies != nil ? "ns" : valueBits ? "value bits" : "bytes"
        func cost(_ i: Int, _ f: WeightFormat) -> Int {
            if valueBits { return shapes[i].reduce(1, *) * f.valueBits }
            guard let ls = latencies else { return bytes(i, f) }
            return LayerLatency.nanoseconds(ls[i].estimate(format: f, weightBytes: bytes(i, f)).seconds)
        }
        func costText(_ c: Int) -> String {
            latencies == nil ? budget.minimumText(bytes: c, weights: weights) : LayerLatency.text(Double(c) / 1e9) + " predicted on gfx803"
        }
        let floatCost = state.layers.indices.reduce(0) { $0 + cost($1, .float32) }
        if limit >= floatCost {
            // No trade-off to make, but what the user pinned still holds.
            var applied: [String] = []
            for i in state.layers.indices {
                guard let f = pins[state.layers[i].node], let w = model.graph.initializers[state.layers[i].weight] else { continue }
                if f != state.layers[i].format { WeightQuantizer.assign(f, to: &state.layers[i], weights: w, reduceRange: reduceRange) }
                state.layers[i].reason = "pinned by --keep"
                applied.append("\(state.layers[i].node)=\(f)")
            }
            context.note("budget \(budgetText) allows float32 weights (\(latencies != nil ? costText(floatCost) : "\(floatCost) \(unit), 32 bits per weight")): nothing to allocate, formats left as they are"
                         + (applied.isEmpty ? "" : " but for the pinned layers (" + applied.joined(separator: ", ") + ")"))
            model.quantization = state
            return
        }

        let (table, why) = try chooseObjective(state.sensitivities)
        var layers: [[AllocationProblem.Option]] = []
        var formatsOf: [[WeightFormat]] = []
        var unscoredPins: [String] = []
        for (i, l) in state.layers.enumerated() {
            if let f = pins[l.node] ?? (l.format == .float32 ? WeightFormat.float32 : nil) {
                let s = table.score(node: l.node, format: f)
                if s == nil, pins[l.node] != nil { unscoredPins.append(l.node) }
                layers.append([.init(cost: cost(i, f), score: s ?? 0, label: f.description)])
                formatsOf.append([f])
                continue
            }
            var opts: [AllocationProblem.Option] = []
            for f in candidates {
                guard let s = table.score(node: l.node, format: f), s.isFinite else {
                    throw fail("objective \(table.method) has no score for layer '\(l.node)' in format \(f); "
                        + "run the sensitivity pass with these formats, or pin the layer with keep=\(l.node)=FORMAT")
                }
                opts.append(.init(cost: cost(i, f), score: s, label: f.description))
            }
            layers.append(opts)
            formatsOf.append(candidates)
        }
        let problem = AllocationProblem(layers: layers, budget: limit)
        let minimum = problem.minimumCost
        if minimum > limit {
            let pinned = pins.isEmpty && state.excluded.isEmpty ? "" : ", pinned and excluded layers as they are"
            if latencies != nil {
                throw fail("budget \(budgetText) is too small: the minimum achievable latency of the weighted layers is "
                    + costText(minimum) + " (\(minimum) ns: every layer in its fastest candidate format\(pinned))")
            }
            throw fail("budget \(budgetText) (\(limit) \(unit) for \(weights) weights) is too small: it needs at least "
                + budget.minimumText(bytes: minimum, weights: weights) + " (\(minimum) \(unit): every layer in its smallest candidate format\(pinned))")
        }
        guard let choice = solver.solve(problem) else { throw fail("the \(solver.rawValue) solver found no allocation within \(limit) \(unit)") }

        var notes = [why, "budget \(budgetText) = \(limit) \(unit)" + (latencies == nil ? " for \(weights) weights" : " for the weighted layers' kernels on gfx803")
            + "; the formats allow " + costText(minimum) + " at least"]
        let total = problem.cost(choice)
        let storedBytes = choice.enumerated().reduce(0) { $0 + bytes($1.offset, formatsOf[$1.offset][$1.element]) }
        if latencies != nil { notes.append("predicted gfx803 latency of the weighted layers: " + LayerLatency.text(Double(total) / 1e9)) }
        if valueBits {
            notes.append(String(format: "%.3f value bits per weight (%d of %d), %.3f stored bits per weight with scales and zero points",
                                Double(total) / Double(max(weights, 1)), total, limit, Double(storedBytes) * 8 / Double(max(weights, 1))))
        }
        if solver == .proportional {
            notes.append(total <= limit ? "proportional meets the budget (\(total) of \(limit) \(unit))"
                : "proportional ignores the budget and exceeds it: \(total) \(unit) for \(limit) allowed")
            if total > limit { context.note(notes.last!) }
        }
        // The baselines on the same problem, so the report shows what exactness buys.
        var baselines: [AllocationBaseline] = []
        for other in AllocationSolver.allCases where other != solver {
            guard let c = other.solve(problem) else { continue }
            let cost = problem.cost(c)
            let baseline = AllocationBaseline(solver: other.rawValue, predicted: problem.score(c), cost: cost, withinBudget: cost <= limit)
            baselines.append(baseline)
            notes.append(String(format: "%@ would predict Σ Ω = %.6g with %d %@ (%@)", other.rawValue, baseline.predicted, baseline.cost, unit,
                                baseline.withinBudget ? "within the budget" : "over the budget"))
        }
        if !unscoredPins.isEmpty { notes.append("pinned layers without a \(table.method) score (counted as 0): " + unscoredPins.joined(separator: ", ")) }

        var changed = 0
        for (i, pick) in choice.enumerated() {
            let f = formatsOf[i][pick]
            var l = state.layers[i]
            if f != l.format, let w = model.graph.initializers[l.weight] {
                WeightQuantizer.assign(f, to: &l, weights: w, reduceRange: reduceRange)
                changed += 1
            }
            l.reason = reason(layer: l, pinned: pins[l.node] != nil, options: layers[i], pick: pick, method: table.method, unit: unit)
            if let ls = latencies { l.metrics["gcn.latency-us"] = ls[i].estimate(format: f, weightBytes: bytes(i, f)).seconds * 1e6 }
            state.layers[i] = l
        }
        context.count("layers changed format", changed)
        var record = AllocationRecord(budget: budgetText, objective: table.method, solver: solver.rawValue,
                                      predicted: problem.score(choice), averageBits: Double(storedBytes) * 8 / Double(max(weights, 1)),
                                      bytes: storedBytes, pinned: Dictionary(pinList.map { ($0.node, $0.format.description) }, uniquingKeysWith: { a, _ in a }),
                                      notes: notes)
        record.baselines = baselines
        state.allocation = record
        model.quantization = state
    }

    func chooseObjective(_ tables: [SensitivityTable]) throws(PassError) -> (SensitivityTable, String) {
        switch AllocationObjective.choose(objective, among: tables) {
        case .success(let r): return r
        case .failure(let e): throw fail(e.message)
        }
    }

    /// Why the layer has its format: pinned, excluded, or the allocation's trade-off
    /// against the next better-scoring (costlier) format.
    func reason(layer: LayerQuantization, pinned: Bool, options: [AllocationProblem.Option], pick: Int, method: String, unit: String) -> String {
        if pinned { return "pinned by --keep" }
        if options.count == 1 { return "excluded: kept in float" }
        let c = options[pick]
        func omega(_ o: AllocationProblem.Option) -> String { "Ω(\(o.label))=\(String(format: "%.3g", o.score))" }
        let better = options.filter { $0.score < c.score }.min { ($0.cost, $0.score) < ($1.cost, $1.score) }
        if let b = better {
            return "allocated (\(method)): \(omega(c)) vs \(omega(b)), saves \(b.cost - c.cost) \(unit)"
        }
        let cheaper = options.filter { $0.cost < c.cost }.min { ($0.score, $0.cost) < ($1.score, $1.cost) }
        return "allocated (\(method)): lowest Ω, \(omega(c))" + (cheaper.map { " vs \(omega($0)) for \(c.cost - $0.cost) \(unit) less" } ?? "")
    }
}
