import Foundation
import Interpreter
import IR
import ONNX
import Passes
import Report

/// The outcome of the budget sweep: every measured point, the model returned,
/// and whether `maxDrop` was met.
public struct Sweep: Sendable {
    /// The model returned: the `maxDrop` point, else the `budget` point, else uniform int8.
    public var chosen: Model
    /// Float first, then every quantized point.
    public var points: [ParetoPoint]
    /// What the sweep chose and how well its prediction held.
    public var notes: [String]
    /// True when `maxDrop` was given and no point is within it (``chosen`` is then the best).
    public var unmet: Bool
    /// The point with the best metric.
    public var best: ParetoPoint
    /// The passes after calibration that produced the chosen model.
    public var stages: String
}

/// `quantize --pareto`: sweeps weight budgets and measures every point end to end.
struct ParetoSweep {
    var options: QuantizeOptions
    /// The float model's file, for the float point's size.
    var modelPath: String
    var keep: [String] { options.keep }
    var budget: String? { options.budget }
    var solver: String? { options.solver }
    var maxDrop: Double? { options.maxDrop }
    var threads: Int { options.threads }
    var model: String { modelPath }

    /// Sweeps weight budgets from the smallest the candidate formats allow up to uniform int8's
    /// size in six steps (plus --budget), and adds uniform int8, uniform int4/g128 (RTN and GPTQ) and float.
    /// Each point is allocated, rounded (RTN), written as QDQ and measured end to end on `feed`
    /// (without bias correction); the chosen point is then bias-corrected unless `--no-bias-correction`.
    /// `base` is the calibrated float model (ranges chosen); `seconds` of a point count its
    /// passes and export after calibration (the sensitivity pass included for mixed points).
    func run(base: Model, original: Model, context: PassContext, feed: SampleFeed, labels: [Int64]?, limit: Int) throws -> Sweep {
        let batch = Quantizer.evaluationBatch(original.graph.runtimeInputs)
        // The mixed points run in the context the sensitivity run left (its layer Hessians, for GPTQ).
        var shared = context
        func run(_ text: String, on model: Model, keepContext: Bool = false) throws -> Model {
            var manager = PassManager(passes: try PassRegistry.pipeline(text))
            manager.context = shared
            var m = model
            try manager.run(on: &m)
            if keepContext { shared = manager.context }
            return m
        }
        func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }
        if let dir = options.paretoModels {
            do { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) } catch {
                throw QuantCError(.cannotWrite, "--pareto-models \(dir): cannot create the folder: \(error.localizedDescription)")
            }
        }
        let t0 = now()
        // With --rounding gptq the mixed points are rounded by GPTQ too (on the layer Hessians
        // computed once here), so that they compare like for like with uniform int4 GPTQ.
        let gptq = options.rounding == "gptq"
        let scoring = "quantize(weights=int8,reduce-range=true)," + (gptq ? "layer-hessian," : "") + QuantizeOptions.sensitivityStage
        let scored = try run(scoring, on: base, keepContext: true)
        let sensitivitySeconds = now() - t0
        let shapes = scored.quantization.layers.map { base.graph.initializers[$0.weight]!.shape }
        let weights = shapes.reduce(0) { $0 + $1.reduce(1, *) }
        func bytes(_ m: Model) -> Int {
            zip(m.quantization.layers, shapes).reduce(0) { $0 + $1.0.format.storageBytes(shape: $1.1, channelAxis: $1.0.channelAxis, groupAxis: $1.0.groupAxis) }
        }
        // Budgets: from the smallest total the candidates (and pins) allow to uniform int8.
        let pins = Dictionary(keep.map { k in let p = k.split(separator: "=", maxSplits: 1).map(String.init); return (p[0], WeightFormat(parsing: p[1])!) },
                              uniquingKeysWith: { a, _ in a })
        var smallest = 0, smallestValueBits = 0
        for (l, shape) in zip(scored.quantization.layers, shapes) {
            let options = l.format == .float32 ? [.float32] : pins[l.node].map { [$0] } ?? scored.quantization.formatsConsidered
            smallest += options.map { $0.storageBytes(shape: shape, channelAxis: l.channelAxis, groupAxis: l.groupAxis) }.min()!
            smallestValueBits += options.map { $0.valueBits * shape.reduce(1, *) }.min()!
        }
        let int8Bytes = bytes(try run("quantize(weights=int8)", on: base))
        let low = (Double(smallest) * 8 / Double(weights) * 100).rounded(.up) / 100
        let high = max(low, (Double(int8Bytes) * 8 / Double(weights) * 100).rounded(.down) / 100)
        var budgets: [String] = []
        for k in 0...5 {
            let step: Double = (high - low) / 5
            let bits: Double = k == 0 ? low : ((low + Double(k) * step) * 100).rounded(.down) / 100
            budgets.append(String(format: "%.2fbits", bits))
        }
        // A --budget below the smallest size is not a point of the curve: the sweep goes on without
        // it (a budget alone, without --pareto, is an error that names the minimum).
        var belowSmallest: String?
        if let budget, case .success(let parsed) = AllocationBudget.parse(budget),
           parsed.byteLimit(weights: weights) < smallest || (parsed.valueBitLimit(weights: weights) ?? .max) < smallestValueBits {
            let minimum = parsed.valueBitLimit(weights: weights) != nil
                ? parsed.minimumText(bytes: smallestValueBits, weights: weights) : String(format: "%.2f bits per weight", low)
            belowSmallest = "pareto: --budget \(budget) is below the smallest size the formats allow (\(minimum), "
                + "every layer in its smallest candidate format); it is not a point of the curve"
        } else if let budget, !budgets.contains(budget) {
            budgets.append(budget)
        }
        budgets = budgets.reduce(into: []) { if !$0.contains($1) { $0.append($1) } }

        // Measure every point against the float model.
        var points: [ParetoPoint] = []
        var stages: [String] = []
        // Each point's decisions (its model before insert-qdq), from which the chosen one is written.
        var decisions: [Model] = []
        var measuredMSE: [Double] = []
        var metricName = ""
        // The float model runs once on the test samples, not once per point.
        let floatOutputs = FloatOutputs()
        var floatMetric = 0.0
        func measure(_ label: String, _ q: Model, budget: String?, predicted: Double?, seconds: Double, fileBytes: Int) throws {
            let c = try ModelComparison.run(float: original, quantized: q, feed: feed, watch: [], labels: labels,
                                            batch: batch, limit: limit, threads: threads, floatOutputs: floatOutputs)
            let sqnrs = c.outputs.values.map { min($0.sqnr, 200) }
            let sqnr = sqnrs.isEmpty ? 0 : sqnrs.reduce(0, +) / Double(sqnrs.count)
            let metric: Double
            if let a = c.accuracy, a.total > 0 {
                metricName = "top-1 accuracy"
                floatMetric = 100 * Double(a.float) / Double(a.total)
                metric = 100 * Double(a.quantized) / Double(a.total)
            } else if let name = original.graph.outputs.map(\.name).first(where: { c.top1[$0] != nil }), let t = c.top1[name], t.total > 0 {
                metricName = "top-1 agreement"
                floatMetric = 100
                metric = 100 * Double(t.agree) / Double(t.total)
            } else {
                // No task metric: output SQNR, float capped at 200 dB (JSON has no infinity).
                metricName = "output SQNR dB"
                floatMetric = 200
                metric = sqnr
            }
            let mses = c.outputs.values.map(\.mse)
            measuredMSE.append(mses.isEmpty ? 0 : mses.reduce(0, +) / Double(mses.count))
            points.append(ParetoPoint(label: label, source: "quantc", budget: budget, averageBits: Double(bytes(q)) * 8 / Double(weights),
                                      weightBytes: bytes(q), fileBytes: fileBytes, metricName: metricName, metric: metric, sqnr: sqnr,
                                      predicted: predicted, seconds: seconds,
                                      baselines: q.quantization.allocation?.baselines?.map(SolverBaseline.init)))
        }
        // Each point is written once to measure its file size.
        let scratch = NSTemporaryDirectory() + "/quantc-sweep-\(getpid())-\(UInt64(DispatchTime.now().uptimeNanoseconds)).onnx"
        defer { unlink(scratch); unlink(scratch + ".data") }
        func produce(_ label: String, _ text: String, from start: Model, budget: String?, extraSeconds: Double = 0) throws {
            let t = now()
            let decided = try run(text, on: start)
            var q = try run("insert-qdq", on: decided)
            q.producerName = "quantc"
            q.producerVersion = QuantCInfo.version
            // With --pareto-models the point's own file is the one measured.
            let path = options.paretoModels.map { $0 + "/" + Self.fileName(label) } ?? scratch
            try ONNXExporter.write(q, to: path)
            let seconds = now() - t + extraSeconds
            stages.append(start.quantization.sensitivities.isEmpty ? text : "\(scoring),\(text)")
            decisions.append(decided)
            try measure(label, q, budget: budget, predicted: q.quantization.allocation?.predicted, seconds: seconds, fileBytes: fileSize(path))
        }
        try produce("int8", "quantize(weights=int8,reduce-range=true)", from: base, budget: nil)
        try produce("int4/g128 rtn", "quantize(weights=int4,granularity=per-group,group=128)", from: base, budget: nil)
        try produce("int4/g128 gptq", "quantize(weights=int4,granularity=per-group,group=128),layer-hessian,round(method=gptq)",
                    from: base, budget: nil)
        for b in budgets {
            try produce("mixed \(b)" + (gptq ? " gptq" : ""),
                        QuantizeOptions.allocateStage(budget: b, solver: solver ?? "exact", keep: keep) + (gptq ? ",round(method=gptq)" : ""),
                        from: scored, budget: b, extraSeconds: sensitivitySeconds)
        }
        let floatPoint = ParetoPoint(label: "float", source: "float", averageBits: 32, weightBytes: weights * 4,
                                     fileBytes: fileSize(model), metricName: metricName, metric: floatMetric, sqnr: nil)

        // The point returned.
        let quantized = points.indices
        let best = quantized.max { (points[$0].metric, -points[$0].weightBytes) < (points[$1].metric, -points[$1].weightBytes) }!
        var chosen: Int
        var unmet = false
        var notes: [String] = belowSmallest.map { [$0] } ?? []
        if let maxDrop {
            if metricName == "output SQNR dB" {
                throw QuantCError(.usage, "max-drop needs a task metric: give test data with labels, or a model with class-score outputs")
            }
            let within = quantized.filter { floatMetric - points[$0].metric <= maxDrop + 1e-9 }
            if let smallest = within.min(by: { (points[$0].weightBytes, -points[$0].metric) < (points[$1].weightBytes, -points[$1].metric) }) {
                chosen = smallest
                notes.append(String(format: "pareto: %@ is the smallest swept model within %g points of float (%@ %.2f vs %.2f)",
                                    points[smallest].label, maxDrop, metricName, points[smallest].metric, floatMetric))
            } else {
                chosen = best
                unmet = true
                notes.append(String(format: "pareto: no swept model is within %g points of float; wrote the best, %@", maxDrop, points[best].label))
            }
        } else if let budget, let k = points.firstIndex(where: { $0.budget == budget }) {
            chosen = k
        } else {
            chosen = 0   // uniform int8, the default pipeline's model
        }
        points[chosen].chosen = true

        // Is the additive model right? Predicted Σ Ω against measured output MSE over the mixed points.
        let mixed = points.indices.filter { points[$0].predicted != nil }
        if let p = points[chosen].predicted {
            let rho = SpearmanCorrelation.rho(mixed.map { points[$0].predicted! }, mixed.map { measuredMSE[$0] })
            let objective = decisions[chosen].quantization.allocation?.objective ?? "?"
            notes.append(String(format: "pareto: chosen %@: predicted Σ Ω (%@) = %.4g, measured output MSE = %.4g (SQNR %.1f dB); ",
                                points[chosen].label, objective, p, measuredMSE[chosen], points[chosen].sqnr ?? 0)
                + "over the \(mixed.count) mixed points Spearman ρ(predicted, measured MSE) = " + (rho.map { String(format: "%.3f", $0) } ?? "n/a"))
        }
        if let line = Self.solverComparison(points) { notes.append(line) }
        // The points compare allocations (and roundings) without bias correction, uniform and
        // mixed alike; the model written is the chosen point bias-corrected as the default
        // pipeline does, i.e. the model `--budget` alone writes (insert-qdq alone gives the
        // point's measured model again).
        let finish = (options.biasCorrection ? QuantizeOptions.biasCorrectionStage + "," : "") + "insert-qdq"
        var model = try run(finish, on: decisions[chosen])
        let stage = stages[chosen] + "," + finish
        if options.biasCorrection {
            notes.append("pareto: the curve's points are not bias-corrected; the model written (\(points[chosen].label)) is, "
                         + "as --budget alone writes it (its end-to-end figures above)")
        }
        model.producerName = "quantc"
        model.producerVersion = QuantCInfo.version
        return Sweep(chosen: model, points: [floatPoint] + points, notes: notes, unmet: unmet, best: points[best], stages: stage)
    }

}

extension ParetoSweep {
    /// The file a point's model is written to with `paretoModels`: its label, spaces and
    /// slashes as dashes (`int4/g128 rtn` → `int4-g128-rtn.onnx`).
    static func fileName(_ label: String) -> String {
        label.replacingOccurrences(of: "/", with: "-").replacingOccurrences(of: " ", with: "-") + ".onnx"
    }

    /// Whether the exact solver's predicted Σ Ω is at most each baseline's at every swept
    /// budget (nil when the sweep used another solver). Proportional ignores the budget, so
    /// where it exceeds it the comparison is not like for like; those budgets are counted.
    static func solverComparison(_ points: [ParetoPoint]) -> String? {
        let mixed = points.filter { $0.baselines != nil && $0.predicted != nil }
        guard !mixed.isEmpty, mixed.allSatisfy({ p in !p.baselines!.contains { $0.solver == "exact" } }) else { return nil }
        var parts: [String] = []
        for solver in ["greedy", "proportional"] {
            let pairs = mixed.compactMap { p in p.baselines!.first { $0.solver == solver }.map { (p.predicted!, $0) } }
            guard !pairs.isEmpty else { continue }
            // A relative slack for the last bits of floating-point summation order.
            let atMost = pairs.filter { $0.0 <= $0.1.predicted * (1 + 1e-12) }.count
            let over = pairs.filter { !$0.1.withinBudget }.count
            parts.append("≤ \(solver)'s at \(atMost) of \(pairs.count) budgets" + (over > 0 ? " (\(solver) exceeds the budget at \(over))" : ""))
        }
        return parts.isEmpty ? nil : "pareto: exact's predicted Σ Ω is " + parts.joined(separator: ", ")
    }
}

/// The size of the file at `path`, 0 when it cannot be read.
func fileSize(_ path: String) -> Int {
    var st = stat()
    return stat(path, &st) == 0 ? Int(st.st_size) : 0
}

extension Sweep {
    /// The points as CSV, one row per point (`OUT.pareto.csv`). Durations are left out (as from
    /// the report): they differ on every run, and the files quantc writes are byte-identical
    /// across runs (README, Determinism).
    public static func csv(_ points: [ParetoPoint]) -> String {
        func num(_ v: Double?) -> String { v.map { String(format: "%.6g", $0) } ?? "" }
        var lines = ["label,source,budget,average_bits,weight_bytes,file_bytes,metric_name,metric,sqnr_db,predicted,chosen"]
        for p in points {
            lines.append([p.label, p.source, p.budget ?? "", String(format: "%.4f", p.averageBits), "\(p.weightBytes)",
                          p.fileBytes.map(String.init) ?? "", p.metricName, String(format: "%.4f", p.metric), num(p.sqnr),
                          num(p.predicted), p.chosen ? "yes" : ""].joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// One line describing a point.
    public static func describe(_ p: ParetoPoint) -> String {
        String(format: "%@: %.3f bits per weight, %d weight bytes, %@ %.2f", p.label, p.averageBits, p.weightBytes, p.metricName, p.metric)
            + (p.sqnr.map { String(format: ", SQNR %.1f dB", $0) } ?? "")
    }

    /// The points as a text table, the chosen one marked.
    public static func table(_ points: [ParetoPoint]) -> String {
        var rows: [[String]] = [["point", "bits/w", "weight bytes", "file bytes", points.first?.metricName ?? "metric", "SQNR", "predicted Σ Ω",
                                 "greedy Σ Ω", "proportional Σ Ω", "seconds", ""]]
        func baseline(_ p: ParetoPoint, _ solver: String) -> String {
            guard let b = p.baselines?.first(where: { $0.solver == solver }) else { return "-" }
            return String(format: "%.4g", b.predicted) + (b.withinBudget ? "" : " (over)")
        }
        for p in points {
            rows.append([p.label, String(format: "%.3f", p.averageBits), "\(p.weightBytes)", p.fileBytes.map(String.init) ?? "-",
                         String(format: "%.2f", p.metric), p.sqnr.map { String(format: "%.1f dB", $0) } ?? "-",
                         p.predicted.map { String(format: "%.4g", $0) } ?? "-", baseline(p, "greedy"), baseline(p, "proportional"),
                         p.seconds.map { String(format: "%.2f", $0) } ?? "-", p.chosen ? "<- chosen" : ""])
        }
        let widths = rows[0].indices.map { c in rows.map { $0[c].count }.max()! }
        var out = rows.map { r in
            r.indices.map { c in
                let pad = String(repeating: " ", count: widths[c] - r[c].count)
                return c == 0 || c == 10 ? r[c] + pad : pad + r[c]
            }.joined(separator: "  ").replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression)
        }
        out.insert(String(repeating: "-", count: out.map(\.count).max()!), at: 1)
        return "\npareto front:\n" + out.joined(separator: "\n") + "\n"
    }
}
