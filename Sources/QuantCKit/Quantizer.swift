import Foundation
import Interpreter
import IR
import ONNX
import Passes
import Report

/// Runs quantc's quantization flow on one model: import, calibration data, the pass pipeline
/// (with `auto` calibration's choice between range sets, or the budget sweep), and the
/// comparison with the float model that the report is made of. `quantc quantize` and
/// `quantc build` are thin wrappers around it.
///
/// ```swift
/// var options = QuantizeOptions()
/// options.calibration = "models/digits/calib_x.npy"
/// let outcome = try Quantizer(model: "models/digits_mlp.onnx", options: options).run()
/// let report = try outcome.write(QuantizationOutputs(model: "/tmp/mlp.int8.onnx"))
/// print(report.table)
/// ```
public struct Quantizer {
    /// Path of the float ONNX model.
    public var model: String
    /// The quantize options.
    public var options: QuantizeOptions
    /// Passes built in code; when set they run instead of ``QuantizeOptions/pipelineText``.
    public var passes: [any Pass]?
    /// Receives warnings (random calibration, the passes' notes) as they happen.
    public var onWarning: (String) -> Void = { _ in }
    /// Receives each pipeline run's timing report (`--time-passes`); nil: not reported.
    public var onTimings: ((String) -> Void)?
    /// Sets IR printing and other debugging on each pass manager before it runs.
    public var configure: (inout PassManager) -> Void = { _ in }
    /// Shows a progress line on stderr during calibration.
    public var showProgress = false
    /// Names an option in error messages the way the caller's user writes it (`--exclude`, `'exclude'`).
    public var spell: (String) -> String = { "--" + $0 }

    /// A quantizer for the model at `model` with `options`.
    public init(model: String, options: QuantizeOptions, passes: [any Pass]? = nil) {
        self.model = model
        self.options = options
        self.passes = passes
    }

    /// Reads a folder or `.npy`/`.npz` file of samples for `model`'s inputs (TensorProto files included).
    public static func samples(at path: String, for model: Model) throws(QuantCError) -> SampleSource {
        let readProto: SampleSource.ProtoReader = { try ONNXImporter.importTensor(at: $0) }
        return try QuantCError.wrapping { try SampleSource(folder: path, inputs: model.graph.runtimeInputs, readProto: readProto) }
    }

    /// Reads class labels (a 1-D `.npy` of integers), checking there is one per test sample.
    public static func labels(at path: String, expected: Int?, option: String = "labels") throws(QuantCError) -> [Int64] {
        let t = try QuantCError.wrapping { try NumpyFile.read(path) }
        guard let values = t.int64Values(), t.shape.count <= 2 else {
            throw QuantCError(.badInput, "\(option) \(path): expected a 1-D array of integer class labels, found \(t.type)")
        }
        if let expected, values.count != expected {
            throw QuantCError(.badInput, "\(option) \(path): \(values.count) labels for \(expected) test samples")
        }
        return values
    }

    /// Quantizes the model in memory: nothing is written until ``QuantizationOutcome/write(_:)``.
    public func run() throws(QuantCError) -> QuantizationOutcome {
        try options.validate(spell: spell)
        let passes: [any Pass]
        if let custom = self.passes {
            passes = custom
        } else {
            do { passes = try PassRegistry.pipeline(options.pipelineText) } catch { throw QuantCError(.usage, error.description) }
        }
        let calibrates = passes.contains { type(of: $0).name == Calibrate.name }
        if calibrates, options.calibration == nil, options.calibrationRandom == nil {
            throw QuantCError(.usage, "the pipeline calibrates: give \(spell("calibration")) DIR (or \(spell("calibration-random")) N for data-free calibration)")
        }
        let original = try QuantCError.wrapping { try ONNXImporter.importModel(at: model) }
        // Names the quantize pass gives unnamed nodes, so exclude can use them.
        var named = original.graph
        Quantize.nameNodes(&named)
        for name in options.exclude where !named.nodes.contains(where: { $0.name == name }) {
            throw QuantCError(.usage, "\(spell("exclude")): \(model) has no node named '\(name)'\(Quantize.suggestion(for: name, among: named.nodes))")
        }
        for k in options.keep {
            let name = String(k.split(separator: "=", maxSplits: 1)[0])
            if !named.nodes.contains(where: { $0.name == name }) {
                throw QuantCError(.usage, "\(spell("keep")): \(model) has no node named '\(name)'\(Quantize.suggestion(for: name, among: named.nodes))")
            }
        }
        let calibrationSource = try options.calibration.map { (p) throws(QuantCError) in try Self.samples(at: p, for: original) }
        let testSource = try options.test.map { (p) throws(QuantCError) in try Self.samples(at: p, for: original) }
        let labelValues = try options.labels.map { (p) throws(QuantCError) in try Self.labels(at: p, expected: testSource?.sampleCount, option: spell("labels")) }
        if calibrates, let n = options.calibrationRandom {
            onWarning("calibrating on \(n) random inputs (data-free): ranges may not match real data")
        }

        var manager = PassManager(passes: passes)
        configure(&manager)
        manager.context.samples = calibrationSource
        manager.context.randomSamples = options.calibrationRandom
        manager.context.excludedNodes = Set(options.exclude)
        manager.context.threads = options.threads
        manager.context.showProgress = showProgress
        manager.context.cacheDirectory = options.cacheDirectory
        var m = original
        // The float weights the quantize pass starts from (after canonicalization), and the
        // calibrated float model the sweep starts from.
        var floatWeights = Dictionary(uniqueKeysWithValues: original.graph.initializers.map { ($0.key, $0.value) })
        var base: Model?
        manager.willRun = { name, model in
            if name == Quantize.name {
                floatWeights = Dictionary(uniqueKeysWithValues: model.graph.initializers.map { ($0.key, $0.value) })
                base = model
            }
        }
        let (feed, evaluation) = evaluationFeed(testSource, calibrationSource)
        let limit = options.evalSamples > 0 ? options.evalSamples : (testSource == nil ? 32 : .max)
        var selection: String?
        var sweep: Sweep?
        do {
            selection = try runPipeline(&manager, on: &m, original: original, calibration: calibrationSource)
            if options.sweeps {
                guard var b = base else { throw QuantCError(.internalError, "\(model): the pipeline did not reach quantize") }
                // The calibrated float model with the range set the int8 pipeline chose.
                b.quantization.ranges = m.quantization.ranges
                b.quantization.calibration = m.quantization.calibration
                b.quantization.candidates = []
                sweep = try ParetoSweep(options: options, modelPath: model).run(base: b, original: original, context: manager.context,
                                                                                feed: feed, labels: labelValues, limit: limit)
                m = sweep!.chosen
            }
        } catch let e as PassError {
            throw QuantCError(.badInput, "\(model): \(e)")
        } catch let e as InterpreterError {
            throw QuantCError(.badInput, "\(model): \(e)")
        } catch {
            throw QuantCError(wrapping: error)
        }
        var seen = Set<String>()
        let passNotes = manager.context.notes.filter { seen.insert($0).inserted }
        for n in passNotes { onWarning(n) }
        m.producerName = "quantc"
        m.producerVersion = QuantCInfo.version

        // End-to-end and per-layer figures against the float model.
        let watch = Self.watchList(m)
        let comparison: ModelComparison
        do {
            comparison = try ModelComparison.run(float: original, quantized: m, feed: feed, watch: Array(watch.values),
                                                 labels: labelValues, batch: Self.evaluationBatch(original.graph.runtimeInputs),
                                                 limit: limit, threads: options.threads)
        } catch {
            throw QuantCError(.badInput, "\(model): comparing the quantized model with the float one: \(error)")
        }
        var notes = passNotes
        if let selection { notes.append(selection) }
        if let a = m.quantization.allocation {
            notes.append(String(format: "allocation: %@ solver, objective %@, budget %@: %.3f bits per weight, %d weight bytes, predicted Σ Ω = %.4g",
                                a.solver, a.objective, a.budget, a.averageBits, a.bytes, a.predicted))
            notes += a.notes.map { "allocation: \($0)" }
        }
        if let sweep { notes += sweep.notes }
        if options.calibrationRandom != nil { notes.append("calibrated on random inputs") }
        let pipeline = sweep.map { s in (manager.passes.prefix { type(of: $0).name != Quantize.name }.map(\.pipelineText) + [s.stages]).joined(separator: ",") }
            ?? manager.pipelineText
        var outcome = QuantizationOutcome(modelPath: model, floatModel: original, model: m, floatWeights: floatWeights,
                                          comparison: comparison, watch: watch, pipeline: pipeline, evaluation: evaluation,
                                          notes: notes, sweep: sweep)
        outcome.threads = options.threads
        return outcome
    }

    /// Runs the pipeline. When calibration offers several range sets (`calibrate(method=auto)`),
    /// each is tried with the passes after it (those that only decide weights aside, ``Pass/decidesWeightsOnly``)
    /// and the one whose quantized outputs are closest to the float model's on (up to 600; 64 for
    /// large inputs) calibration samples is kept: ``CandidateSelection``.
    func runPipeline(_ manager: inout PassManager, on m: inout Model, original: Model, calibration: SampleSource?) throws -> String? {
        let all = manager.passes
        // Calibration sums the float layer outputs the pipeline's bias correction reads (it runs
        // in a later manager).
        manager.context.layerOutputSamples = PassManager.layerOutputSamples(all)
        guard let split = all.firstIndex(where: { type(of: $0).name == Calibrate.name }) else {
            try manager.run(on: &m)
            onTimings?(manager.timingAndCountersReport)
            return nil
        }
        manager.passes = Array(all[...split])
        try manager.run(on: &m)
        onTimings?(manager.timingAndCountersReport)
        let candidates = m.quantization.candidates
        var rest = manager
        rest.passes = Array(all[(split + 1)...])
        if candidates.isEmpty || rest.passes.isEmpty {
            try rest.run(on: &m)
            onTimings?(rest.timingAndCountersReport)
            manager = rest
            manager.passes = all
            return nil
        }
        // The candidates are judged on the pipeline's activation quantization with the quantize
        // pass's weight formats. What decides or corrects weights (sensitivity analysis,
        // allocation, rounding, bias correction) runs once, on the chosen ranges: it costs more
        // than the rest of the pipeline, and would otherwise run once per candidate.
        var trial = rest
        trial.passes.removeAll { type(of: $0).decidesWeightsOnly }
        var versions: [(name: String, model: Model)] = []
        for c in candidates {
            var v = m
            v.quantization.ranges = c.ranges
            v.quantization.candidates = []
            var run = trial  // a copy per candidate, so each report counts its own run only
            try run.run(on: &v)
            onTimings?("(ranges: \(c.method))\n" + run.timingAndCountersReport)
            versions.append((c.method, v))
        }
        let feed: SampleFeed = calibration.map { .files($0) } ?? .random(count: 32, seed: 0x5E1EC7)
        let batch = Self.evaluationBatch(original.graph.runtimeInputs)
        let scores = try CandidateSelection.score(float: original, candidates: versions, feed: feed, batch: batch,
                                                  limit: batch == 64 ? 600 : 64, threads: options.threads)
        let best = CandidateSelection.best(scores)
        if trial.passes.count < rest.passes.count {
            m.quantization.ranges = candidates[best].ranges
            m.quantization.candidates = []
            try rest.run(on: &m)
            onTimings?("(ranges: \(candidates[best].method), the whole pipeline)\n" + rest.timingAndCountersReport)
        } else {
            m = versions[best].model
        }
        m.quantization.calibration = (m.quantization.calibration ?? "")
            .replacingOccurrences(of: "auto over", with: "\(versions[best].name) (chosen by auto) over")
        manager = rest
        manager.passes = all
        return "calibration ranges chosen by output SQNR on calibration samples: "
            + scores.map { s in
                "\(s.name) " + String(format: "%.1f dB", s.sqnr) + (s.top1.map { String(format: " (top-1 %.2f%%)", 100 * $0) } ?? "")
            }.joined(separator: ", ")
            + " -> \(versions[best].name)"
    }

    /// Where the end-to-end figures are measured: the test split, else calibration samples, else random inputs.
    func evaluationFeed(_ testSource: SampleSource?, _ calibrationSource: SampleSource?) -> (feed: SampleFeed, evaluation: String) {
        if let testSource, let test = options.test { return (.files(testSource), "test data \(test)") }
        if let calibrationSource { return (.files(calibrationSource), "the first calibration samples (no --test given)") }
        return (.random(count: min(options.calibrationRandom ?? 64, 64), seed: 0x7E57), "random inputs")
    }

    /// Per layer: its output value in the float model and the value consumers read
    /// in the quantized one (the dequantized output when it is quantized).
    public static func watchList(_ m: Model) -> [String: ModelComparison.Watch] {
        let byName = Dictionary(m.graph.nodes.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        // Q(x) -> DQ: x's dequantized form is the output of the DQ reading Q's output.
        var dequantizerOf: [String: String] = [:]
        for n in m.graph.nodes where n.opType == "DequantizeLinear" {
            if let q = n.inputs.first, dequantizerOf[q] == nil { dequantizerOf[q] = n.outputs[0] }
        }
        var dequantized: [String: String] = [:]
        for n in m.graph.nodes where n.opType == "QuantizeLinear" {
            if let dq = dequantizerOf[n.outputs[0]] { dequantized[n.inputs[0]] = dq }
        }
        var watch: [String: ModelComparison.Watch] = [:]
        for l in m.quantization.layers {
            guard let node = byName[l.node], let out = node.outputs.first else { continue }
            watch[l.node] = .init(float: out, quantized: dequantized[out] ?? out)
        }
        return watch
    }

    /// Samples per evaluation batch: large inputs one at a time, small ones 64 at once.
    public static func evaluationBatch(_ inputs: [ValueInfo]) -> Int {
        let elements = inputs.map { ($0.type?.tensorType?.shape ?? []).dropFirst().reduce(1) { $0 * ($1.value ?? 64) } }.reduce(0, +)
        return elements > 100_000 ? 1 : elements > 10_000 ? 8 : 64
    }
}
