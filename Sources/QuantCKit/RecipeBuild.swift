import Foundation
import Interpreter
import IR
import ONNX
import Report

/// What `quantc build` did: the outputs written and how the gate judged the model.
public struct RecipeBuildResult: Sendable {
    /// The quantization, in memory.
    public var outcome: QuantizationOutcome
    /// The report written (nil when the gate failed: nothing is written then).
    public var report: QuantizationReport?
    /// The gate's verdict in one line (nil without a gate).
    public var gateSummary: String?
}

extension Recipe {
    /// The files written when the build succeeds (the Pareto CSV only when the recipe sweeps).
    public var outputFiles: [String] {
        [outputs.model, outputs.report] + (options.sweeps ? [outputs.pareto] : [])
    }

    /// Every file the build reads: the recipe, the model and its external data, the calibration
    /// and test samples (and the folders listed for them), the labels. Reads the model and opens
    /// the sample sources, but runs nothing.
    public func inputFiles() throws(QuantCError) -> [String] {
        let m = try QuantCError.wrapping { try ONNXImporter.importModel(at: model) }
        var files = [path] + InputFiles.of(model: m, at: model)
        for data in [options.calibration, options.test].compactMap({ $0 }) {
            files += InputFiles.of(samples: try inRecipe { () throws(QuantCError) in try Quantizer.samples(at: data, for: m) }, given: data)
        }
        if let labels = options.labels { files.append(labels) }
        var seen = Set<String>()
        return files.filter { seen.insert($0).inserted }
    }

    /// Writes the Make depfile `outputs: inputs` atomically at `depfile` (its folder is made if missing).
    public func writeDepfile(_ depfile: String, inputs: [String]) throws(QuantCError) {
        let text = InputFiles.depfile(outputs: outputFiles, inputs: inputs)
        try QuantCError.wrapping {
            if depfile.contains("/") { try FileManager.default.createDirectory(atPath: Recipe.folder(of: depfile), withIntermediateDirectories: true) }
            let f = try AtomicFile(path: depfile)
            try f.write(Array(text.utf8))
            try f.commit()
        }
    }

    /// Quantizes as the recipe says, applies the gate and writes the outputs only when it passes.
    /// A failed gate throws ``QuantCError/Kind/gateFailed`` and leaves earlier outputs as they were.
    public func build(configure: (inout Quantizer) -> Void = { _ in }) throws(QuantCError) -> RecipeBuildResult {
        switch target {
        case .onnx: break
        }
        // Output folders are made up front, so a missing one is no reason to fail late.
        try QuantCError.wrapping { () throws -> Void in
            for f in outputFiles where f.contains("/") {
                try FileManager.default.createDirectory(atPath: Recipe.folder(of: f), withIntermediateDirectories: true)
            }
        }
        try outputs.checkWritable()
        var q = Quantizer(model: model, options: options)
        q.spell = { "key '\($0)'" }
        configure(&q)
        let outcome = try inRecipe { () throws(QuantCError) in try q.run() }
        let summary = try judge(outcome)
        let report = try outcome.write(outputs)
        return RecipeBuildResult(outcome: outcome, report: report, gateSummary: summary)
    }

    /// The gate's verdict: a one-line summary, or ``QuantCError/Kind/gateFailed``.
    func judge(_ outcome: QuantizationOutcome) throws(QuantCError) -> String? {
        guard let gate else { return nil }
        if let sweep = outcome.sweep, sweep.unmet {
            throw QuantCError(.gateFailed, "\(path): gate failed: no swept model is within \(gate.maxDrop) points of float; the best: \(Sweep.describe(sweep.best)) (nothing written)")
        }
        guard let (float, quantized) = outcome.metric(gate.metric) else {
            throw QuantCError(.badInput, "\(path): key 'gate.metric': \(gate.metric.rawValue) cannot be measured: the model has no class-score output to compare")
        }
        let drop = float - quantized
        let line = String(format: "%@ %.2f%% against float %.2f%%, a drop of %.2f points", gate.metric.rawValue, quantized, float, drop)
        if drop > gate.maxDrop + 1e-9 {
            throw QuantCError(.gateFailed, "\(path): gate failed: \(line) > max-drop \(gate.maxDrop) (nothing written)")
        }
        return "gate passed: \(line) <= max-drop \(gate.maxDrop)"
    }

    /// Runs `body`, naming the recipe in its errors; option mistakes are bad input here (they are in the file).
    func inRecipe<T>(_ body: () throws(QuantCError) -> T) throws(QuantCError) -> T {
        do { return try body() } catch {
            if error.kind == .usage { throw QuantCError(.badInput, "\(path): \(error.message)") }
            throw error
        }
    }
}

extension QuantizationOutcome {
    /// Float and quantized values of a gate metric, in points; nil when it cannot be measured.
    public func metric(_ metric: Recipe.Gate.Metric) -> (float: Double, quantized: Double)? {
        switch metric {
        case .accuracy:
            guard let a = comparison.accuracy, a.total > 0 else { return nil }
            return (100 * Double(a.float) / Double(a.total), 100 * Double(a.quantized) / Double(a.total))
        case .top1Agreement:
            guard let name = floatModel.graph.outputs.map(\.name).first(where: { comparison.top1[$0] != nil }),
                  let t = comparison.top1[name], t.total > 0 else { return nil }
            return (100, 100 * Double(t.agree) / Double(t.total))
        }
    }
}
