import ArgumentParser
import Foundation
import QuantCKit

struct QuantizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quantize",
        abstract: "Quantize a model to INT8 (or INT4 weights) as a QDQ ONNX model, with a per-layer report.",
        discussion: """
        Without --pipeline this runs \(QuantizeOptions.defaultPipeline(method: "auto", weights: "int8")) \
        (--method and --weights change it). Writes OUTPUT and OUTPUT's report \
        (OUTPUT with .onnx replaced by .report.json), prints the per-layer table.

        Mixed precision: --budget 4.5bits (or 1.2MB, 800KB, 123456B: stored weight bytes, SI units, \
        1 MB = 10^6 bytes; scales and zero points count; or 4.5wbits: bits of the weight values \
        alone) runs \
        \(QuantizeOptions.defaultPipeline(method: "auto", weights: "int8", budget: "4.5bits")). \
        --pareto sweeps budgets from the smallest the formats allow to uniform int8, plus uniform \
        int8, int4/g128 (RTN and GPTQ) and float, measures each end to end and writes OUTPUT.pareto.csv and the \
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

    @Option(help: "Mixed precision under a weight budget: average stored bits per weight (4.5bits) or stored bytes (1.2MB, 800KB, 123456B; SI, 1 MB = 10^6 bytes), scales and zero points included; average bits of the weight values alone (4.5wbits: int4 counts 4 whatever its group size); or latency:2ms, the weighted layers' predicted RX 580 time.")
    var budget: String?

    @Option(help: "With --budget or --pareto: pin a layer's weight format, NODE=FORMAT (fp32, fp16, int8/channel, int4/g32, int4/g128, ...; repeatable).")
    var keep: [String] = []

    @Option(help: "With --budget or --pareto: the allocation solver, exact (default), greedy or proportional.")
    var solver: String?

    @Flag(help: "Sweep weight budgets, measure every point end to end, write OUTPUT.pareto.csv and the curve in the report.")
    var pareto = false

    @Option(help: "With --pareto (implied): write the smallest swept model whose task metric is at most this many points below float's; exit status 3 if none is.")
    var maxDrop: Double?

    @Option(help: "With --pareto: also write every swept point's model into this folder (float.onnx is not written; int8.onnx, int4-g128-rtn.onnx, mixed-4.5bits.onnx, ...).")
    var paretoModels: String?

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

    /// The flags as the library's options.
    var options: QuantizeOptions {
        var o = QuantizeOptions()
        o.calibration = calibration
        o.calibrationRandom = calibrationRandom
        o.pipeline = pipeline
        o.method = method
        o.weights = weights
        o.rounding = rounding
        o.biasCorrection = biasCorrection
        o.int4Format = int4Format
        o.exclude = exclude
        o.budget = budget
        o.keep = keep
        o.solver = solver
        o.pareto = pareto
        o.maxDrop = maxDrop
        o.paretoModels = paretoModels
        o.test = test
        o.labels = labels
        o.evalSamples = evalSamples
        o.cacheDirectory = noCache ? nil : (cacheDir ?? QuantizeOptions.defaultCacheDirectory)
        o.threads = threads
        return o
    }

    var outputs: QuantizationOutputs { QuantizationOutputs(model: output, report: report) }

    func validate() throws {
        do { try options.validate() } catch { throw ValidationError(error.message) }
    }

    func run() throws {
        debug.checkPassNames()
        do { _ = try PassRegistry.pipeline(options.pipelineText) } catch { fail(error.description, .usage) }
        let outputs = self.outputs
        try reportingErrors {
            try outputs.checkWritable()
            var quantizer = Quantizer(model: model, options: options)
            quantizer.onWarning = warn
            quantizer.showProgress = isatty(2) != 0 && !quiet
            quantizer.configure = { debug.configure(&$0) }
            if debug.timePasses { quantizer.onTimings = { FileHandle.standardError.write(Data($0.utf8)) } }
            let outcome = try quantizer.run()
            let report = try outcome.write(outputs)
            if !quiet { print(report.table, terminator: "") }
            if let sweep = outcome.sweep {
                print(Sweep.table(sweep.points) + "(written to \(outputs.pareto) and \(outputs.report))\n", terminator: "")
                if sweep.unmet {
                    fail("no swept model is within --max-drop \(maxDrop!) points of float; the best: \(Sweep.describe(sweep.best))", .dropNotMet)
                }
            }
        }
    }
}

func warn(_ message: String) {
    FileHandle.standardError.write(Data("warning: \(message)\n".utf8))
}
