import Foundation
import IR

/// The passes quantc knows, in the order `quantc passes` lists them. Adding a
/// pass means adding its type here.
public enum PassRegistry {
    public static let all: [any Pass.Type] = [
        Canonicalize.self,
        Calibrate.self,
        FoldConstants.self,
        FoldBatchNorm.self,
        RemoveIdentity.self,
        DeadCodeElimination.self,
        Quantize.self,
        LayerHessianPass.self,
        MeasuredSensitivity.self,
        HessianTrace.self,
        Curvature.self,
        WeightMagnitude.self,
        ActivationVariance.self,
        FisherSensitivity.self,
        SensitivitySuite.self,
        Allocate.self,
        Round.self,
        BiasCorrection.self,
        InsertQDQ.self,
    ]

    public static func lookup(_ name: String) -> (any Pass.Type)? {
        all.first { $0.name == name }
    }

    /// Builds the passes of a pipeline text, checking names and options.
    public static func pipeline(_ text: String) throws(PipelineError) -> [any Pass] {
        var passes: [any Pass] = []
        for element in try PipelineParser.parse(text) { passes.append(try instantiate(element)) }
        return passes
    }

    static func instantiate(_ element: PipelineElement) throws(PipelineError) -> any Pass {
        guard let type = lookup(element.name) else {
            throw PipelineError("unknown pass '\(element.name)'; the passes are: \(all.map { $0.name }.joined(separator: ", "))")
        }
        var values: [String: String] = [:]
        for o in type.options { values[o.name] = o.defaultValue }
        for (name, value) in element.options {
            guard let option = type.options.first(where: { $0.name == name }) else {
                let valid = type.options.map(\.name)
                throw PipelineError("pass '\(type.name)' has no option '\(name)'; "
                    + (valid.isEmpty ? "it takes none" : "its options are: \(valid.joined(separator: ", "))"))
            }
            guard Self.accepts(option.kind, value) else {
                throw PipelineError("option '\(name)' of pass '\(type.name)' expects \(option.kind), got '\(value)'")
            }
            values[name] = value
        }
        let options = PassOptions(pass: type.name, values: values)
        if let problem = type.problem(with: options) { throw PipelineError("pass '\(type.name)': \(problem)") }
        return type.init(options: options)
    }

    static func accepts(_ kind: PassOption.Kind, _ value: String) -> Bool {
        switch kind {
        case .int: Int(value) != nil
        case .double: Double(value) != nil
        case .bool: value == "true" || value == "false"
        case .string: true
        case .choice(let cs): cs.contains(value)
        }
    }
}

/// Runs passes in order, verifying the IR after each one.
///
/// ```swift
/// var manager = PassManager(passes: try PassRegistry.pipeline("dce"))
/// manager.printIRAfter = ["dce"]
/// try manager.run(on: &model)
/// ```
public struct PassManager {
    public var passes: [any Pass]
    /// Names of passes after which the IR is printed to `irOutput`.
    public var printIRAfter: Set<String> = []
    public var printIRAfterAll = false
    /// Receives printed IR (stderr by default).
    public var irOutput: (String) -> Void = { FileHandle.standardError.write(Data($0.utf8)) }
    public private(set) var timings: [(pass: String, seconds: Double)] = []
    /// Called with each pass's name and the model it is about to transform
    /// (e.g. to keep the float model as it is before `quantize`).
    public var willRun: ((String, Model) -> Void)?
    /// Resources and statistics shared by the passes; set data sources here before `run`.
    public var context = PassContext()

    public init(passes: [any Pass]) { self.passes = passes }

    /// The pipeline as text that parses back to the same passes.
    public var pipelineText: String { passes.map(\.pipelineText).joined(separator: ",") }

    public mutating func run(on model: inout Model) throws(PassError) {
        timings = []
        if context.layerOutputSamples == nil { context.layerOutputSamples = Self.layerOutputSamples(passes) }
        for pass in passes {
            let name = type(of: pass).name
            context.currentPass = name
            willRun?(name, model)
            let start = monotonicSeconds()
            try pass.run(on: &model, context: &context)
            timings.append((name, monotonicSeconds() - start))
            do {
                try Verifier.verify(model)
            } catch {
                throw PassError(pass: name, message: "left invalid IR: \(error)")
            }
            if printIRAfterAll || printIRAfter.contains(name) {
                irOutput("// IR after \(name)\n" + Printer.print(model))
            }
        }
    }

    /// The calibration samples whose float layer outputs `calibrate` should sum for the
    /// `bias-correct` passes among `passes` (the most any of them reads), if any.
    public static func layerOutputSamples(_ passes: [any Pass]) -> Int? {
        passes.compactMap { ($0 as? BiasCorrection)?.samples }.max()
    }

    /// `--time-passes` report: one line per pass and the total.
    public var timingReport: String {
        let total = timings.reduce(0) { $0 + $1.seconds }
        var lines = timings.map { String(format: "%10.4f s  %5.1f%%  %@", $0.seconds, total > 0 ? 100 * $0.seconds / total : 0, $0.pass) }
        lines.append(String(format: "%10.4f s  100.0%%  total", total))
        return lines.joined(separator: "\n") + "\n"
    }

    /// `timingReport` followed by the counters of the passes this manager ran
    /// (e.g. "calibrate: 1 statistics read from cache").
    public var timingAndCountersReport: String {
        let ran = Set(timings.map(\.pass))
        let counters = context.statistics.filter { ran.contains($0.pass) }.map { "\($0.pass): \($0.value) \($0.name)\n" }
        return timingReport + counters.joined()
    }
}

func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}
