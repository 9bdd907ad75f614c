import Foundation
import Interpreter
import IR
import Passes

/// Everything `quantc quantize` takes besides the model and output paths: the calibration and
/// test data, the pipeline (as text, or the options that build the default one), mixed precision
/// and the sweep. `quantc quantize` flags and `quantc build` recipe keys map one to one onto
/// these fields (``Recipe`` lists the keys).
public struct QuantizeOptions: Sendable, Equatable {
    /// Calibration samples: a folder (or one `.npy`/`.npz` file), see ``SampleSource``.
    public var calibration: String?
    /// Calibrate on this many random inputs instead (data-free).
    public var calibrationRandom: Int?
    /// Pipeline text (see `quantc passes`); nil builds ``defaultPipeline`` from the fields below.
    public var pipeline: String?
    /// Calibration method of the default pipeline (nil: `auto`).
    public var method: String?
    /// Weight format of the default pipeline: `int8` or `int4` (nil: `int8`).
    public var weights: String?
    /// Weight rounding of the default pipeline: `rtn` or `gptq` (nil: `rtn`).
    public var rounding: String?
    /// Bias correction in the default pipeline.
    public var biasCorrection = true
    /// How the default pipeline writes int4 MatMul/Gemm weights: `qdq` or `matmulnbits` (nil: `qdq`).
    public var int4Format: String?
    /// Nodes kept in float.
    public var exclude: [String] = []
    /// Mixed-precision weight budget (`4.5bits`, `1.2MB`, ...).
    public var budget: String?
    /// Pinned layer formats, `NODE=FORMAT`.
    public var keep: [String] = []
    /// Allocation solver: `exact`, `greedy` or `proportional` (nil: `exact`).
    public var solver: String?
    /// Sweep budgets and measure each point end to end (``ParetoSweep``).
    public var pareto = false
    /// With the sweep: keep the smallest point whose metric is at most this many points below float's.
    public var maxDrop: Double?
    /// With the sweep: also write every point's model into this folder (``ParetoSweep/fileName(_:)``).
    public var paretoModels: String?
    /// Held-out samples for the end-to-end figures (nil: calibration samples).
    public var test: String?
    /// Class labels of the test samples (`.npy` of integers), for accuracy.
    public var labels: String?
    /// Compare on at most this many samples (0: all test samples; without test data, 32 calibration samples).
    public var evalSamples = 0
    /// Calibration-statistics cache folder; nil reads and writes no cache.
    public var cacheDirectory: String? = QuantizeOptions.defaultCacheDirectory
    /// Interpreter threads.
    public var threads = Parallel.defaultThreads

    /// Options of the default INT8 pipeline, calibrated on nothing yet.
    public init() {}

    /// `$XDG_CACHE_HOME/quantc`, else `~/.cache/quantc`.
    public static var defaultCacheDirectory: String {
        if let x = ProcessInfo.processInfo.environment["XDG_CACHE_HOME"], !x.isEmpty { return "\(x)/quantc" }
        return "\(NSHomeDirectory())/.cache/quantc"
    }

    /// True when the options ask for mixed precision or the sweep.
    public var mixed: Bool { budget != nil || pareto || maxDrop != nil }

    /// True when the sweep runs (`pareto`, implied by `maxDrop`).
    public var sweeps: Bool { pareto || maxDrop != nil }

    /// The pipeline text that runs: ``pipeline`` if set, else the default one these options build.
    public var pipelineText: String {
        if let pipeline { return pipeline }
        let format = int4Format ?? "qdq"
        return Self.defaultPipeline(method: method ?? "auto", weights: weights ?? (format == "matmulnbits" ? "int4" : "int8"),
                                    rounding: sweeps ? "rtn" : rounding ?? "rtn", int4Format: format, budget: sweeps ? nil : budget,
                                    solver: solver ?? "exact", keep: keep,
                                    // The sweep keeps only the ranges of this pipeline's run; it bias-corrects the point it returns.
                                    biasCorrection: biasCorrection && !sweeps)
    }

    /// The sensitivity stage of the mixed-precision pipeline: one place to switch methods.
    /// `measured` is the ground truth the allocator's `objective=auto` ranks the predictors
    /// against (Spearman); `fisher` predicted it best after `hessian-trace` on every bundled
    /// model and best on orientation, at a tenth of hessian-trace's time (README, sensitivity table).
    /// Sample counts: each probe re-runs the rest of the model, and on the largest real model
    /// (common) 4 samples rank the 110 (layer, format) pairs as 16 do (Spearman 0.984; 8: 0.996)
    /// at a quarter of the time, which keeps the stage within 2× ONNX Runtime's Entropy calibration.
    public static let sensitivityStage = "measured(samples=4),fisher(samples=4,probes=2),weight-magnitude,activation-variance(samples=8),sensitivity(run=false)"

    /// Bias correction of the default pipeline. 64 samples: on orientation 32 left top-1
    /// agreement with float at 99.38% and accuracy below ONNX Runtime's, 64 reached 100%
    /// (README, bias correction); cost grows with samples × layers².
    public static let biasCorrectionStage = "bias-correct(samples=64)"

    /// The default pipeline for these choices (what `quantc quantize` runs without `--pipeline`).
    public static func defaultPipeline(method: String, weights: String, rounding: String = "rtn", int4Format: String = "qdq", budget: String? = nil,
                                       solver: String = "exact", keep: [String] = [], biasCorrection: Bool = true) -> String {
        // 7-bit int8 weights: ONNX Runtime's fused x86 kernels without VNNI saturate otherwise.
        var stages = ["canonicalize", "calibrate(method=\(method))", "quantize(weights=\(weights)\(weights == "int8" ? ",reduce-range=true" : ""))"]
        if rounding == "gptq" { stages.append("layer-hessian") }
        if let budget { stages += [sensitivityStage, allocateStage(budget: budget, solver: solver, keep: keep)] }
        if rounding == "gptq" { stages.append("round(method=gptq)") }
        if biasCorrection { stages.append(biasCorrectionStage) }
        return (stages + [int4Format == "qdq" ? "insert-qdq" : "insert-qdq(int4-format=\(int4Format))"]).joined(separator: ",")
    }

    /// The allocate stage for a budget, solver and pinned formats.
    public static func allocateStage(budget: String, solver: String, keep: [String]) -> String {
        "allocate(budget=\(budget),solver=\(solver)\(keep.isEmpty ? "" : ",keep=" + keep.joined(separator: ";")),reduce-range=true)"
    }

    /// Checks the options against each other, before any file is read. `spell` names an option
    /// the way the caller's user wrote it (`--max-drop` on the command line, `'max-drop'` in a recipe).
    public func validate(spell: (String) -> String = { "--" + $0 }) throws(QuantCError) {
        func usage(_ m: String) -> QuantCError { QuantCError(.usage, m) }
        if pipeline != nil, method != nil { throw usage("\(spell("method")) sets the default pipeline's calibration; with \(spell("pipeline")), write calibrate(method=...) instead") }
        if pipeline != nil, weights != nil { throw usage("\(spell("weights")) sets the default pipeline's format; with \(spell("pipeline")), write quantize(weights=...) instead") }
        if let method, CalibrationMethod(rawValue: method) == nil {
            throw usage("unknown \(spell("method")) '\(method)'; the methods are: \(CalibrationMethod.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if pipeline != nil, rounding != nil { throw usage("\(spell("rounding")) sets the default pipeline's rounding; with \(spell("pipeline")), write layer-hessian,round(method=gptq) before insert-qdq instead") }
        if let rounding, !["rtn", "gptq"].contains(rounding) { throw usage("unknown \(spell("rounding")) '\(rounding)'; use rtn or gptq") }
        if let weights, !["int8", "int4"].contains(weights) { throw usage("unknown \(spell("weights")) '\(weights)'; use int8 or int4") }
        if let int4Format {
            guard let format = Int4Format(rawValue: int4Format) else {
                throw usage("unknown \(spell("int4-format")) '\(int4Format)'; use \(Int4Format.allCases.map(\.rawValue).joined(separator: " or "))")
            }
            if pipeline != nil { throw usage("\(spell("int4-format")) sets the default pipeline's export; with \(spell("pipeline")), write insert-qdq(int4-format=\(int4Format)) instead") }
            if format == .matmulnbits, weights == "int8" { throw usage("\(spell("int4-format")) matmulnbits writes int4 weights; it cannot go with \(spell("weights")) int8") }
        }
        if calibration != nil, calibrationRandom != nil { throw usage("give \(spell("calibration")) or \(spell("calibration-random")), not both") }
        if let n = calibrationRandom, n < 1 { throw usage("\(spell("calibration-random")) needs a positive count") }
        if threads < 1 { throw usage("\(spell("threads")) must be at least 1") }
        if evalSamples < 0 { throw usage("\(spell("eval-samples")) must not be negative") }
        if labels != nil, test == nil { throw usage("\(spell("labels")) describes the \(spell("test")) samples; give \(spell("test")) too") }
        if pipeline != nil, mixed { throw usage("\(spell("budget")), \(spell("pareto")) and \(spell("max-drop")) set the default pipeline; with \(spell("pipeline")), write weight-magnitude,allocate(budget=...) instead") }
        if !mixed, !keep.isEmpty || solver != nil { throw usage("\(spell("keep")) and \(spell("solver")) choose formats under a budget: give \(spell("budget")) (or \(spell("pareto")))") }
        if let budget, case .failure(let e) = AllocationBudget.parse(budget) { throw usage("\(spell("budget")): \(e.message)") }
        if let solver, AllocationSolver(rawValue: solver) == nil {
            throw usage("unknown \(spell("solver")) '\(solver)'; the solvers are: \(AllocationSolver.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        for k in keep {
            let parts = k.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, !parts[0].isEmpty else { throw usage("\(spell("keep")) '\(k)' is not NODE=FORMAT (e.g. \(spell("keep")) fc1=fp16)") }
            if WeightFormat(parsing: String(parts[1])) == nil {
                throw usage("\(spell("keep")): unknown format '\(parts[1])' for node '\(parts[0])'; formats are written fp32, \(FormatList.syntax)")
            }
        }
        if let maxDrop, !(maxDrop >= 0) { throw usage("\(spell("max-drop")) must be a non-negative number of points") }
        if paretoModels != nil, !sweeps { throw usage("\(spell("pareto-models")) writes the swept points' models: give \(spell("pareto")) too") }
    }
}
