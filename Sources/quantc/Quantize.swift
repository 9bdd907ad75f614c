import ArgumentParser
import Foundation
import Interpreter
import IR
import ONNX
import Passes
import Report

struct QuantizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quantize",
        abstract: "Quantize a model to INT8 (or INT4 weights) as a QDQ ONNX model, with a per-layer report.",
        discussion: """
        Without --pipeline this runs \(QuantizeCommand.defaultPipeline(method: "auto", weights: "int8")) \
        (--method and --weights change it). Writes OUTPUT and OUTPUT's report \
        (OUTPUT with .onnx replaced by .report.json), prints the per-layer table.

        Mixed precision: --budget 4.5bits (or 1.2MB, 800KB, 123456B: stored weight bytes, SI units, \
        1 MB = 10^6 bytes; scales and zero points count) runs \
        \(QuantizeCommand.defaultPipeline(method: "auto", weights: "int8", budget: "4.5bits")). \
        --pareto sweeps budgets from the smallest the formats allow to uniform int8, plus uniform \
        int8, int4/g128 and float, measures each end to end and writes OUTPUT.pareto.csv and the \
        curve in the report; --max-drop D returns the smallest swept model whose metric is at most \
        D points below float (exit status 3 when none is).

        Calibration and test data: a folder of *.npz files (one array per input), of \
        test_data_set_*/input_*.pb folders, or of *.npy files (single-input models: one \
        sample or a batch each), or a single .npy/.npz file.
        """
    )

    @Argument(help: "The ONNX model to quantize.")
    var model: String

    @Option(help: "Calibration samples (folder, or one .npy/.npz file).")
    var calibration: String?

    @Option(help: "Calibrate on N random inputs instead (data-free; a warning is printed).")
    var calibrationRandom: Int?

    @Option(name: .shortAndLong, help: "Where to write the quantized ONNX model.")
    var output: String

    @Option(help: "Passes to run (see `quantc passes`); default: the INT8 pipeline above.")
    var pipeline: String?

    @Option(help: "Calibration method of the default pipeline: auto (default), entropy, minmax, percentile, mse, moving-average.")
    var method: String?

    @Option(help: "Weight format of the default pipeline: int8 (per channel) or int4 (per group of 32).")
    var weights: String?

    @Option(help: "Weight rounding of the default pipeline: rtn (to nearest) or gptq (layer-hessian, then round(method=gptq)).")
    var rounding: String?

    @Flag(inversion: .prefixedNo,
          help: "Empirical bias correction in the default pipeline (bias-correct(samples=64) before insert-qdq).")
    var biasCorrection = true
    @Option(help: "How the default pipeline writes int4 weights of MatMul/Gemm layers: qdq (blocked DequantizeLinear, default) or matmulnbits (ONNX Runtime's com.microsoft MatMulNBits, weight-only; implies --weights int4).")
    var int4Format: String?

    @Option(help: "Keep this node in float (repeatable).")
    var exclude: [String] = []

    @Option(help: "Mixed precision under a weight budget: average stored bits per weight (4.5bits) or stored bytes (1.2MB, 800KB, 123456B; SI, 1 MB = 10^6 bytes), scales and zero points included.")
    var budget: String?

    @Option(help: "With --budget or --pareto: pin a layer's weight format, NODE=FORMAT (fp32, fp16, int8/channel, int4/g32, int4/g128, ...; repeatable).")
    var keep: [String] = []

    @Option(help: "With --budget or --pareto: the allocation solver, exact (default), greedy or proportional.")
    var solver: String?

    @Flag(help: "Sweep weight budgets, measure every point end to end, write OUTPUT.pareto.csv and the curve in the report.")
    var pareto = false

    @Option(help: "With --pareto (implied): write the smallest swept model whose task metric is at most this many points below float's; exit status 3 if none is.")
    var maxDrop: Double?

    @Option(help: "Held-out samples for the end-to-end figures (default: the calibration samples).")
    var test: String?

    @Option(help: "Class labels of the test samples (.npy of integers, in sample order), for accuracy.")
    var labels: String?

    @Option(help: "Compare on at most this many test samples (0: all test samples; without --test, 32 calibration samples).")
    var evalSamples = 0

    @Option(help: "Where to write the report (default: OUTPUT with .onnx replaced by .report.json).")
    var report: String?

    @Option(help: "Folder for the calibration-statistics cache (default: $XDG_CACHE_HOME/quantc or ~/.cache/quantc).")
    var cacheDir: String?

    @Flag(help: "Do not read or write the calibration-statistics cache.")
    var noCache = false

    @Option(help: "Interpreter threads.")
    var threads = Parallel.defaultThreads

    @OptionGroup var debug: PipelineDebugOptions

    @Flag(name: .shortAndLong, help: "Do not print the per-layer table.")
    var quiet = false

    /// The sensitivity stage of the mixed-precision pipeline: one place to switch methods.
    /// `measured` is the ground truth the allocator's `objective=auto` ranks the predictors
    /// against (Spearman); `fisher` predicted it best after `hessian-trace` on every bundled
    /// model and best on orientation, at a tenth of hessian-trace's time (README, sensitivity table).
    static let sensitivityStage = "measured(samples=16),fisher(samples=8,probes=4),weight-magnitude,activation-variance(samples=16),sensitivity(run=false)"

    /// Bias correction of the default pipeline. 64 samples: on orientation 32 left top-1
    /// agreement with float at 99.38% and accuracy below ONNX Runtime's, 64 reached 100%
    /// (README, bias correction); cost grows with samples × layers².
    static let biasCorrectionStage = "bias-correct(samples=64)"

    static func defaultPipeline(method: String, weights: String, rounding: String = "rtn", int4Format: String = "qdq", budget: String? = nil,
                                solver: String = "exact", keep: [String] = [], biasCorrection: Bool = true) -> String {
        // 7-bit int8 weights: ONNX Runtime's fused x86 kernels without VNNI saturate otherwise.
        var stages = ["canonicalize", "calibrate(method=\(method))", "quantize(weights=\(weights)\(weights == "int8" ? ",reduce-range=true" : ""))"]
        if rounding == "gptq" { stages.append("layer-hessian") }
        if let budget { stages += [sensitivityStage, allocateStage(budget: budget, solver: solver, keep: keep)] }
        if rounding == "gptq" { stages.append("round(method=gptq)") }
        if biasCorrection { stages.append(biasCorrectionStage) }
        return (stages + [int4Format == "qdq" ? "insert-qdq" : "insert-qdq(int4-format=\(int4Format))"]).joined(separator: ",")
    }

    static func allocateStage(budget: String, solver: String, keep: [String]) -> String {
        "allocate(budget=\(budget),solver=\(solver)\(keep.isEmpty ? "" : ",keep=" + keep.joined(separator: ";")),reduce-range=true)"
    }

    var mixed: Bool { budget != nil || pareto || maxDrop != nil }

    var reportPath: String {
        report ?? (output.hasSuffix(".onnx") ? String(output.dropLast(5)) : output) + ".report.json"
    }

    func validate() throws {
        if pipeline != nil, method != nil { throw ValidationError("--method sets the default pipeline's calibration; with --pipeline, write calibrate(method=...) instead") }
        if pipeline != nil, weights != nil { throw ValidationError("--weights sets the default pipeline's format; with --pipeline, write quantize(weights=...) instead") }
        if let method, CalibrationMethod(rawValue: method) == nil {
            throw ValidationError("unknown --method '\(method)'; the methods are: \(CalibrationMethod.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if pipeline != nil, rounding != nil { throw ValidationError("--rounding sets the default pipeline's rounding; with --pipeline, write layer-hessian,round(method=gptq) before insert-qdq instead") }
        if let rounding, !["rtn", "gptq"].contains(rounding) { throw ValidationError("unknown --rounding '\(rounding)'; use rtn or gptq") }
        if let weights, !["int8", "int4"].contains(weights) { throw ValidationError("unknown --weights '\(weights)'; use int8 or int4") }
        if let int4Format {
            guard let format = Int4Format(rawValue: int4Format) else {
                throw ValidationError("unknown --int4-format '\(int4Format)'; use \(Int4Format.allCases.map(\.rawValue).joined(separator: " or "))")
            }
            if pipeline != nil { throw ValidationError("--int4-format sets the default pipeline's export; with --pipeline, write insert-qdq(int4-format=\(int4Format)) instead") }
            if format == .matmulnbits, weights == "int8" { throw ValidationError("--int4-format matmulnbits writes int4 weights; it cannot go with --weights int8") }
        }
        if calibration != nil, calibrationRandom != nil { throw ValidationError("give --calibration or --calibration-random, not both") }
        if let n = calibrationRandom, n < 1 { throw ValidationError("--calibration-random needs a positive count") }
        if threads < 1 { throw ValidationError("--threads must be at least 1") }
        if evalSamples < 0 { throw ValidationError("--eval-samples must not be negative") }
        if labels != nil, test == nil { throw ValidationError("--labels describes the --test samples; give --test too") }
        if pipeline != nil, mixed { throw ValidationError("--budget, --pareto and --max-drop set the default pipeline; with --pipeline, write sensitivity-weight-error,allocate(budget=...) instead") }
        if !mixed, !keep.isEmpty || solver != nil { throw ValidationError("--keep and --solver choose formats under a budget: give --budget (or --pareto)") }
        if let budget, case .failure(let e) = AllocationBudget.parse(budget) { throw ValidationError("--budget: \(e.message)") }
        if let solver, AllocationSolver(rawValue: solver) == nil {
            throw ValidationError("unknown --solver '\(solver)'; the solvers are: \(AllocationSolver.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        for k in keep {
            let parts = k.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, !parts[0].isEmpty else { throw ValidationError("--keep '\(k)' is not NODE=FORMAT (e.g. --keep fc1=fp16)") }
            if WeightFormat(parsing: String(parts[1])) == nil {
                throw ValidationError("--keep: unknown format '\(parts[1])' for node '\(parts[0])'; formats are written fp32, \(FormatList.syntax)")
            }
        }
        if let maxDrop, !(maxDrop >= 0) { throw ValidationError("--max-drop must be a non-negative number of points") }
    }

    func run() throws {
        let format = int4Format ?? "qdq"
        let text = pipeline ?? Self.defaultPipeline(method: method ?? "auto", weights: weights ?? (format == "matmulnbits" ? "int4" : "int8"),
                                                     rounding: rounding ?? "rtn", int4Format: format,
                                                     budget: pareto || maxDrop != nil ? nil : budget, solver: solver ?? "exact", keep: keep,
                                                     biasCorrection: biasCorrection)
        let passes: [any Pass]
        do { passes = try PassRegistry.pipeline(text) } catch { fail(error.description, .usage) }
        debug.checkPassNames()
        let calibrates = passes.contains { type(of: $0).name == Calibrate.name }
        if calibrates, calibration == nil, calibrationRandom == nil {
            fail("the pipeline calibrates: give --calibration DIR (or --calibration-random N for data-free calibration)", .usage)
        }
        try Self.checkWritable(output)
        try Self.checkWritable(reportPath)

        try reportingErrors {
            let original = try ONNXImporter.importModel(at: model)
            // Names the quantize pass gives unnamed nodes, so --exclude can use them.
            var named = original.graph
            Quantize.nameNodes(&named)
            for name in exclude where !named.nodes.contains(where: { $0.name == name }) {
                fail("--exclude: \(model) has no node named '\(name)'\(Quantize.suggestion(for: name, among: named.nodes))", .usage)
            }
            for k in keep {
                let name = String(k.split(separator: "=", maxSplits: 1)[0])
                if !named.nodes.contains(where: { $0.name == name }) {
                    fail("--keep: \(model) has no node named '\(name)'\(Quantize.suggestion(for: name, among: named.nodes))", .usage)
                }
            }
            let readProto: SampleSource.ProtoReader = { try ONNXImporter.importTensor(at: $0) }
            let inputs = original.graph.runtimeInputs
            let calibrationSource = try calibration.map { try SampleSource(folder: $0, inputs: inputs, readProto: readProto) }
            let testSource = try test.map { try SampleSource(folder: $0, inputs: inputs, readProto: readProto) }
            let labelValues = try labels.map { try readLabels($0, expected: testSource?.sampleCount) }
            if calibrates, let n = calibrationRandom {
                warn("calibrating on \(n) random inputs (data-free): ranges may not match real data")
            }

            var manager = PassManager(passes: passes)
            debug.configure(&manager)
            manager.context.samples = calibrationSource
            manager.context.randomSamples = calibrationRandom
            manager.context.excludedNodes = Set(exclude)
            manager.context.threads = threads
            manager.context.showProgress = isatty(2) != 0 && !quiet
            manager.context.cacheDirectory = noCache ? nil : (cacheDir ?? Self.defaultCacheDirectory)
            var m = original
            // The float weights the quantize pass starts from (after canonicalization).
            var floatWeights = Dictionary(uniqueKeysWithValues: original.graph.initializers.map { ($0.key, $0.value) })
            manager.willRun = { name, model in
                if name == Quantize.name { floatWeights = Dictionary(uniqueKeysWithValues: model.graph.initializers.map { ($0.key, $0.value) }) }
            }
            var selection: String?
            var sweep: Sweep?
            do {
                if pareto || maxDrop != nil {
                    var base: Model?
                    manager.willRun = { name, model in
                        if name == Quantize.name {
                            floatWeights = Dictionary(uniqueKeysWithValues: model.graph.initializers.map { ($0.key, $0.value) })
                            base = model
                        }
                    }
                    selection = try runPipeline(&manager, on: &m, original: original, calibration: calibrationSource)
                    guard var b = base else { fail("\(model): the pipeline did not reach quantize", .internalError) }
                    // The calibrated float model with the range set the int8 pipeline chose.
                    b.quantization.ranges = m.quantization.ranges
                    b.quantization.calibration = m.quantization.calibration
                    b.quantization.candidates = []
                    sweep = try runSweep(base: b, original: original, context: manager.context,
                                         feed: evaluationFeed(testSource, calibrationSource).feed, labels: labelValues,
                                         limit: evalSamples > 0 ? evalSamples : (testSource == nil ? 32 : .max))
                    m = sweep!.chosen
                } else {
                    selection = try runPipeline(&manager, on: &m, original: original, calibration: calibrationSource)
                }
            } catch let e as PassError {
                fail("\(model): \(e)", .badInput)
            } catch let e as InterpreterError {
                fail("\(model): \(e)", .badInput)
            }
            var seen = Set<String>()
            let passNotes = manager.context.notes.filter { seen.insert($0).inserted }
            for n in passNotes { warn(n) }
            m.producerName = "quantc"
            m.producerVersion = QuantCInfo.version
            try ONNXExporter.write(m, to: output)

            // End-to-end and per-layer figures against the float model.
            let (feed, evaluation) = evaluationFeed(testSource, calibrationSource)
            let watch = Self.watchList(m)
            let comparison: ModelComparison
            do {
                comparison = try ModelComparison.run(float: original, quantized: m, feed: feed, watch: Array(watch.values),
                                                     labels: labelValues, batch: Self.evaluationBatch(inputs),
                                                     limit: evalSamples > 0 ? evalSamples : (testSource == nil ? 32 : .max), threads: threads)
            } catch {
                fail("\(model): comparing the quantized model with the float one: \(error)", .badInput)
            }
            let layers = QuantizationReport.layers(of: m, floatWeights: floatWeights, comparison: comparison, watch: watch)
            // Stored constants before (canonicalized float model) and after (integers, scales, what stayed float).
            let floatWeightBytes = floatWeights.values.reduce(0) { $0 + $1.byteCount }
            let quantizedWeightBytes = m.graph.initializers.values.reduce(0) { $0 + $1.byteCount }
            var notes = passNotes
            if let selection { notes.append(selection) }
            if let a = m.quantization.allocation {
                notes.append(String(format: "allocation: %@ solver, objective %@, budget %@: %.3f bits per weight, %d weight bytes, predicted Σ Ω = %.4g",
                                    a.solver, a.objective, a.budget, a.averageBits, a.bytes, a.predicted))
                notes += a.notes.map { "allocation: \($0)" }
            }
            if let sweep { notes += sweep.notes }
            if calibrationRandom != nil { notes.append("calibrated on random inputs") }
            let outputs = original.graph.outputs.compactMap { o -> QuantizationReport.Output? in
                guard let e = comparison.outputs[o.name] else { return nil }
                let t = comparison.top1[o.name].map { Double($0.agree) / Double(max($0.total, 1)) }
                return QuantizationReport.Output(name: o.name, error: e, top1Agreement: t)
            }
            var r = QuantizationReport(
                model: model, output: output,
                pipeline: sweep.map { s in (manager.passes.prefix { type(of: $0).name != Quantize.name }.map(\.pipelineText) + [s.stages]).joined(separator: ",") }
                    ?? manager.pipelineText, calibration: m.quantization.calibration,
                activations: m.quantization.activations?.description, evaluation: evaluation,
                evaluationSamples: comparison.samples, layers: layers, outputs: outputs,
                accuracy: comparison.accuracy.map { .init(float: Double($0.float) / Double(max($0.total, 1)),
                                                          quantized: Double($0.quantized) / Double(max($0.total, 1)), samples: $0.total) },
                floatModelBytes: Self.fileSize(model), quantizedModelBytes: Self.fileSize(output),
                floatWeightBytes: floatWeightBytes, quantizedWeightBytes: quantizedWeightBytes, notes: notes)
            r.addPrecisionAnalysis(from: m.quantization)
            var report = r
            report.pareto = sweep?.points.map { var p = $0; p.seconds = nil; return p }  // durations vary run to run
            let file = try AtomicFile(path: reportPath)
            try file.write(try report.json())
            try file.commit()
            if let sweep {
                let csv = try AtomicFile(path: paretoPath)
                try csv.write(Array(Self.csv(sweep.points).utf8))
                try csv.commit()
            }
            if !quiet { print(report.table, terminator: "") }
            if let sweep {
                print(Self.paretoTable(sweep.points) + "(written to \(paretoPath) and \(reportPath))\n", terminator: "")
                if sweep.unmet {
                    FileHandle.standardError.write(Data("error: no swept model is within --max-drop \(maxDrop!) points of float; the best: \(Self.describe(sweep.best))\n".utf8))
                    Foundation.exit(ExitStatus.dropNotMet.rawValue)
                }
            }
        }
    }

    /// Runs the pipeline. When calibration offers several range sets (`calibrate(method=auto)`),
    /// the passes after it run once per set and the quantized model whose outputs are closest
    /// to the float model's on (up to 600; 64 for large inputs) calibration samples is kept:
    /// ``CandidateSelection``.
    func runPipeline(_ manager: inout PassManager, on m: inout Model, original: Model, calibration: SampleSource?) throws -> String? {
        let all = manager.passes
        guard let split = all.firstIndex(where: { type(of: $0).name == Calibrate.name }) else {
            try manager.run(on: &m)
            debug.reportTimes(manager)
            return nil
        }
        manager.passes = Array(all[...split])
        try manager.run(on: &m)
        debug.reportTimes(manager)
        let candidates = m.quantization.candidates
        var rest = manager
        rest.passes = Array(all[(split + 1)...])
        if candidates.isEmpty || rest.passes.isEmpty {
            try rest.run(on: &m)
            debug.reportTimes(rest)
            manager = rest
            manager.passes = all
            return nil
        }
        // Bias correction runs once, on the chosen ranges: it costs more than the rest of the
        // pipeline and shifts every candidate's outputs the same way.
        var trial = rest
        trial.passes.removeAll { type(of: $0).name == BiasCorrection.name }
        let deferred = trial.passes.count < rest.passes.count
        var versions: [(name: String, model: Model)] = []
        for c in candidates {
            var v = m
            v.quantization.ranges = c.ranges
            v.quantization.candidates = []
            try trial.run(on: &v)
            debug.reportTimes(trial, heading: "(ranges: \(c.method))\n")
            versions.append((c.method, v))
        }
        let feed: SampleFeed = calibration.map { .files($0) } ?? .random(count: 32, seed: 0x5E1EC7)
        let batch = Self.evaluationBatch(original.graph.runtimeInputs)
        let scores = try CandidateSelection.score(float: original, candidates: versions, feed: feed, batch: batch,
                                                  limit: batch == 64 ? 600 : 64, threads: threads)
        let best = CandidateSelection.best(scores)
        if deferred {
            m.quantization.ranges = candidates[best].ranges
            m.quantization.candidates = []
            try rest.run(on: &m)
            debug.reportTimes(rest, heading: "(ranges: \(candidates[best].method), with bias correction)\n")
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
        if let testSource { return (.files(testSource), "test data \(test!)") }
        if let calibrationSource { return (.files(calibrationSource), "the first calibration samples (no --test given)") }
        return (.random(count: min(calibrationRandom ?? 64, 64), seed: 0x7E57), "random inputs")
    }

    /// Per layer: its output value in the float model and the value consumers read
    /// in the quantized one (the dequantized output when it is quantized).
    static func watchList(_ m: Model) -> [String: ModelComparison.Watch] {
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
    static func evaluationBatch(_ inputs: [ValueInfo]) -> Int {
        let elements = inputs.map { ($0.type?.tensorType?.shape ?? []).dropFirst().reduce(1) { $0 * ($1.value ?? 64) } }.reduce(0, +)
        return elements > 100_000 ? 1 : elements > 10_000 ? 8 : 64
    }

    static var defaultCacheDirectory: String {
        if let x = ProcessInfo.processInfo.environment["XDG_CACHE_HOME"], !x.isEmpty { return "\(x)/quantc" }
        return "\(NSHomeDirectory())/.cache/quantc"
    }

    static func fileSize(_ path: String) -> Int {
        var st = stat()
        return stat(path, &st) == 0 ? Int(st.st_size) : 0
    }

    func readLabels(_ path: String, expected: Int?) throws -> [Int64] {
        let t = try NumpyFile.read(path)
        guard let values = t.int64Values(), t.shape.count <= 2 else {
            fail("--labels \(path): expected a 1-D array of integer class labels, found \(t.type)", .badInput)
        }
        if let expected, values.count != expected {
            fail("--labels \(path): \(values.count) labels for \(expected) test samples", .badInput)
        }
        return values
    }

    /// Fails early (exit 73) when `path` cannot be created, before any work is done.
    static func checkWritable(_ path: String) throws {
        let slash = path.lastIndex(of: "/")
        let folder = slash.map { String(path[..<$0]) } ?? "."
        var st = stat()
        if stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR { fail("\(path): is a folder, not a file path", .cannotWrite) }
        guard access(folder.isEmpty ? "/" : folder, W_OK | X_OK) == 0 else {
            fail("\(path): cannot write there (\(String(cString: strerror(errno))))", .cannotWrite)
        }
    }
}

func warn(_ message: String) {
    FileHandle.standardError.write(Data("warning: \(message)\n".utf8))
}
