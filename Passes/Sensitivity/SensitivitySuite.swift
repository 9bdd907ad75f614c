import IR

/// Runs several sensitivity passes, then ranks each method by the Spearman
/// correlation of its scores with `measured` (over all layer × format pairs,
/// and per format) and marks the best predictor in its table's notes.
public struct SensitivitySuite: Pass {
    public static let name = "sensitivity"
    public static let decidesWeightsOnly = true
    public static let summary = "Run sensitivity methods and rank them by Spearman correlation with the measured distortion."
    static let methods: [any Pass.Type] = [
        MeasuredSensitivity.self, HessianTrace.self, Curvature.self, WeightMagnitude.self, ActivationVariance.self,
        FisherSensitivity.self,
    ]
    public static let options = [
        PassOption("methods", .string, default: methods.map { $0.name }.joined(separator: ";"),
                   help: "Methods to run, separated by ';' (\(methods.map { $0.name }.joined(separator: ", ")))."),
        PassOption("samples", .int, default: "0", help: "Samples for every probing method (0: each method's default)."),
        PassOption("run", .bool, default: "true",
                   help: "false: run nothing, rank the tables already on the IR (methods run as passes with their own options)."),
    ]

    public static func problem(with options: PassOptions) -> String? {
        let names = options.string("methods").split(separator: ";").map(String.init)
        if names.isEmpty { return "methods must name at least one method" }
        for n in names where !methods.contains(where: { $0.name == n }) {
            return "unknown method '\(n)'; the methods are: \(methods.map { $0.name }.joined(separator: ", "))"
        }
        if options.int("samples") < 0 { return "samples must not be negative" }
        return nil
    }

    let names: [String], samples: Int, runMethods: Bool
    public init(options: PassOptions) {
        names = options.string("methods").split(separator: ";").map(String.init)
        samples = options.int("samples")
        runMethods = options.bool("run")
    }
    public var pipelineText: String { "\(Self.name)(methods=\(names.joined(separator: ";")),samples=\(samples),run=\(runMethods))" }

    public func run(on model: inout Model, context: inout PassContext) throws(PassError) {
        // measured first: curvature checks its bounds against it.
        let ordered = names.sorted { ($0 == MeasuredSensitivity.name ? 0 : 1) < ($1 == MeasuredSensitivity.name ? 0 : 1) }
        for name in ordered where runMethods {
            let type = Self.methods.first { $0.name == name }!
            var options: [(String, String)] = []
            if samples > 0, type.options.contains(where: { $0.name == "samples" }) { options.append(("samples", "\(samples)")) }
            let pass: any Pass
            do { pass = try PassRegistry.instantiate(PipelineElement(name: name, options: options)) } catch {
                throw PassError(pass: Self.name, message: "\(error)")
            }
            let start = monotonicSeconds()
            try pass.run(on: &model, context: &context)
            context.note("\(name): \(fmt(monotonicSeconds() - start)) s")
        }
        var state = model.quantization
        guard let best = SpearmanCorrelation.annotate(&state.sensitivities) else {
            context.note(state.sensitivities.contains { $0.method == MeasuredSensitivity.name }
                         ? "no method has a Spearman ρ with measured (constant scores or too few pairs)"
                         : "no 'measured' table: rank correlations not computed")
            model.quantization = state
            return
        }
        for t in state.sensitivities.indices where state.sensitivities[t].method != MeasuredSensitivity.name {
            let table = state.sensitivities[t]
            let perFormat = (table.spearmanByFormat ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key) \(fmt($0.value))" }
            context.note("\(table.method): Spearman vs measured \(table.spearman.map(fmt) ?? "n/a") (\(perFormat.joined(separator: ", ")))")
            if table.method == best { state.sensitivities[t].notes.append("best predictor of measured (highest Spearman)") }
        }
        context.note("best predictor of measured: \(best)")
        model.quantization = state
    }
}
