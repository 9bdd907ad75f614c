import Foundation
import Interpreter
import IR
import ONNX
import Passes
import Report

/// Where a quantization writes: the QDQ model, its report and (after a sweep) the Pareto CSV.
public struct QuantizationOutputs: Sendable, Equatable {
    /// The quantized ONNX model.
    public var model: String
    /// The report (default: ``model`` with `.onnx` replaced by `.report.json`).
    public var report: String
    /// The sweep's CSV (default: ``model`` with `.onnx` replaced by `.pareto.csv`); written only after a sweep.
    public var pareto: String

    /// Outputs beside `model`, with the report and CSV paths defaulted from it.
    public init(model: String, report: String? = nil, pareto: String? = nil) {
        self.model = model
        self.report = report ?? Self.stem(model) + ".report.json"
        self.pareto = pareto ?? Self.paretoPath(for: model)
    }

    static func stem(_ path: String) -> String { path.hasSuffix(".onnx") ? String(path.dropLast(5)) : path }

    /// The default Pareto CSV path for a model output.
    public static func paretoPath(for model: String) -> String { stem(model) + ".pareto.csv" }

    /// Fails early (``QuantCError/Kind/cannotWrite``) when an output cannot be created, before any work is done.
    public func checkWritable() throws(QuantCError) {
        try Self.checkWritable(model)
        try Self.checkWritable(report)
    }

    /// Fails (``QuantCError/Kind/cannotWrite``) when the file at `path` cannot be created.
    public static func checkWritable(_ path: String) throws(QuantCError) {
        let slash = path.lastIndex(of: "/")
        let folder = slash.map { String(path[..<$0]) } ?? "."
        var st = stat()
        if stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR { throw QuantCError(.cannotWrite, "\(path): is a folder, not a file path") }
        guard access(folder.isEmpty ? "/" : folder, W_OK | X_OK) == 0 else {
            throw QuantCError(.cannotWrite, "\(path): cannot write there (\(String(cString: strerror(errno))))")
        }
    }
}

/// A quantized model in memory with everything its report is made of; ``write(_:)`` puts it on disk.
public struct QuantizationOutcome: Sendable {
    /// The float model's path.
    public var modelPath: String
    /// The float model as imported.
    public var floatModel: Model
    /// The quantized (QDQ) model.
    public var model: Model
    /// The float weights the quantize pass started from (after canonicalization).
    public var floatWeights: [String: Tensor]
    /// The end-to-end and per-layer comparison with the float model.
    public var comparison: ModelComparison
    /// Per layer, the values compared.
    public var watch: [String: ModelComparison.Watch]
    /// The pipeline that produced ``model``, as text.
    public var pipeline: String
    /// Which samples the comparison ran on.
    public var evaluation: String
    /// Notes of the passes, the range selection, the allocation and the sweep.
    public var notes: [String]
    /// The budget sweep, when it ran.
    public var sweep: Sweep?
    /// Threads for the report's per-layer figures (the quantize options' `threads`).
    public var threads = Parallel.defaultThreads

    /// The task metric of the float and quantized models, in points (percent):
    /// accuracy against the labels when there are labels, else top-1 agreement of the first
    /// class-score output with the float model (float = 100); nil when the model has neither.
    public var taskMetric: (name: String, float: Double, quantized: Double)? {
        if let a = comparison.accuracy, a.total > 0 {
            return ("accuracy", 100 * Double(a.float) / Double(a.total), 100 * Double(a.quantized) / Double(a.total))
        }
        if let name = floatModel.graph.outputs.map(\.name).first(where: { comparison.top1[$0] != nil }),
           let t = comparison.top1[name], t.total > 0 {
            return ("top-1 agreement", 100, 100 * Double(t.agree) / Double(t.total))
        }
        return nil
    }

    /// Writes the model, then the report (and the sweep's CSV), each atomically; returns the report.
    @discardableResult
    public func write(_ outputs: QuantizationOutputs) throws(QuantCError) -> QuantizationReport {
        // The per-layer figures (weight errors over every weight) need not wait for the file.
        var layers: [QuantizationReport.Layer] = []
        let written = Parallel.map(2, threads: min(2, threads)) { task -> Error? in
            if task == 1 {
                layers = QuantizationReport.layers(of: model, floatWeights: floatWeights, comparison: comparison, watch: watch,
                                                   threads: threads)
                return nil
            }
            do { try ONNXExporter.write(model, to: outputs.model) } catch { return error }
            return nil
        }
        if let e = written[0] { throw QuantCError(wrapping: e) }
        let report = self.report(outputs, layers: layers)
        try QuantCError.wrapping {
            let file = try AtomicFile(path: outputs.report)
            try file.write(try report.json())
            try file.commit()
            if let sweep {
                let csv = try AtomicFile(path: outputs.pareto)
                try csv.write(Array(Sweep.csv(sweep.points).utf8))
                try csv.commit()
            }
        }
        return report
    }

    /// The report of this outcome written to `outputs` (file sizes are read from disk).
    public func report(_ outputs: QuantizationOutputs) -> QuantizationReport { report(outputs, layers: nil) }

    func report(_ outputs: QuantizationOutputs, layers computed: [QuantizationReport.Layer]?) -> QuantizationReport {
        let m = model
        let layers = computed ?? QuantizationReport.layers(of: m, floatWeights: floatWeights, comparison: comparison, watch: watch,
                                                           threads: threads)
        // Stored constants before (canonicalized float model) and after (integers, scales, what stayed float).
        let floatWeightBytes = floatWeights.values.reduce(0) { $0 + $1.byteCount }
        let quantizedWeightBytes = m.graph.initializers.values.reduce(0) { $0 + $1.byteCount }
        let outputFigures = floatModel.graph.outputs.compactMap { o -> QuantizationReport.Output? in
            guard let e = comparison.outputs[o.name] else { return nil }
            let t = comparison.top1[o.name].map { Double($0.agree) / Double(max($0.total, 1)) }
            return QuantizationReport.Output(name: o.name, error: e, top1Agreement: t)
        }
        var r = QuantizationReport(
            model: modelPath, output: outputs.model, pipeline: pipeline, calibration: m.quantization.calibration,
            activations: m.quantization.activations?.description, evaluation: evaluation,
            evaluationSamples: comparison.samples, layers: layers, outputs: outputFigures,
            accuracy: comparison.accuracy.map { .init(float: Double($0.float) / Double(max($0.total, 1)),
                                                      quantized: Double($0.quantized) / Double(max($0.total, 1)), samples: $0.total) },
            floatModelBytes: fileSize(modelPath), quantizedModelBytes: fileSize(outputs.model),
            floatWeightBytes: floatWeightBytes, quantizedWeightBytes: quantizedWeightBytes, notes: notes)
        r.addPrecisionAnalysis(from: m.quantization)
        r.pareto = sweep?.points.map { var p = $0; p.seconds = nil; return p }  // durations vary run to run
        return r
    }
}
