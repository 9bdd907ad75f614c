import IR
import Interpreter

/// A transformation of the IR, run by a ``PassManager``.
///
/// A pass declares its name (the word used in pipeline text), a one-line
/// summary and its options; the manager parses options into a
/// ``PassOptions`` value handed to `init`, runs the pass, verifies the IR
/// after it and collects the statistics it records.
///
/// ```swift
/// struct DeadCodeElimination: Pass {
///     static let name = "dce"
///     static let summary = "Remove nodes and initializers no output depends on."
///     init(options: PassOptions) {}
///     func run(on model: inout Model, context: inout PassContext) throws(PassError) { ... }
/// }
/// ```
public protocol Pass: Sendable {
    static var name: String { get }
    static var summary: String { get }
    static var options: [PassOption] { get }
    /// Why these option values cannot work together, if they cannot; each
    /// value has already been checked against its declared kind.
    static func problem(with options: PassOptions) -> String?
    init(options: PassOptions)
    /// The options this instance runs with, printed back as pipeline text.
    var pipelineText: String { get }
    /// True for passes that only decide or correct weights (sensitivity analysis, allocation,
    /// rounding, bias correction): `calibrate(method=auto)` judges its candidate ranges
    /// without them and runs them once, on the chosen ranges.
    static var decidesWeightsOnly: Bool { get }
    func run(on model: inout Model, context: inout PassContext) throws(PassError)
}

extension Pass {
    public static var options: [PassOption] { [] }
    public static var decidesWeightsOnly: Bool { false }
    public static func problem(with options: PassOptions) -> String? { nil }
    public var pipelineText: String { Self.name }
}

/// A declared option of a pass: name, kind, default and help.
public struct PassOption: Sendable {
    public enum Kind: Sendable, CustomStringConvertible {
        case int, double, bool, string
        case choice([String])

        public var description: String {
            switch self {
            case .int: "int"
            case .double: "number"
            case .bool: "bool"
            case .string: "string"
            case .choice(let cs): cs.joined(separator: "|")
            }
        }
    }

    public var name: String
    public var kind: Kind
    public var defaultValue: String
    public var help: String

    public init(_ name: String, _ kind: Kind, default defaultValue: String, help: String) {
        self.name = name
        self.kind = kind
        self.defaultValue = defaultValue
        self.help = help
    }
}

/// Option values of one pass in a pipeline, checked against its declared options.
public struct PassOptions: Sendable {
    public let pass: String
    private var values: [String: String]

    init(pass: String, values: [String: String]) {
        self.pass = pass
        self.values = values
    }

    public func string(_ name: String) -> String { values[name]! }
    public func int(_ name: String) -> Int { Int(values[name]!)! }
    public func double(_ name: String) -> Double { Double(values[name]!)! }
    public func bool(_ name: String) -> Bool { values[name]! == "true" }
}

/// What a pass reports while it runs: counted statistics and notes for the user.
public struct PassContext: Sendable {
    public private(set) var statistics: [(pass: String, name: String, value: Int)] = []
    public private(set) var notes: [String] = []
    var currentPass = ""

    /// Calibration samples, for passes that run the model.
    public var samples: SampleSource?
    /// Without samples: how many random samples to calibrate on (data-free).
    public var randomSamples: Int?
    /// Where passes may cache expensive results (calibration statistics).
    public var cacheDirectory: String?
    /// Whether to draw progress on stderr (a terminal).
    public var showProgress = false
    /// Nodes to keep in float whatever the pipeline says (`--exclude`).
    public var excludedNodes: Set<String> = []
    /// Threads for the interpreter.
    public var threads = Parallel.defaultThreads
    /// Layer-input Hessians H = E[x xᵀ] from `layer-hessian`, keyed by node name, for
    /// passes that need them (`round(method=gptq)`); kept here, not on the IR, so they
    /// are never printed or exported.
    public var layerHessians: [String: LayerHessian] = [:]
    /// What `layerHessians` were computed from (model and samples), so a rerun of the
    /// pipeline's tail on the same float model reuses them.
    public var layerHessiansKey: String?
    /// How many calibration samples `calibrate` should sum the float layer outputs of, for a
    /// later `bias-correct` (set by ``PassManager`` from its passes, or by whoever splits a
    /// pipeline over several managers); nil: none.
    public var layerOutputSamples: Int?
    /// What `calibrate` recorded for `layerOutputSamples` (``LayerOutputSums``).
    public var layerOutputSums: LayerOutputSums?

    public init() {}

    public mutating func count(_ name: String, _ value: Int = 1) {
        if let i = statistics.firstIndex(where: { $0.pass == currentPass && $0.name == name }) {
            statistics[i].value += value
        } else {
            statistics.append((currentPass, name, value))
        }
    }

    public mutating func note(_ text: String) { notes.append("\(currentPass): \(text)") }
}

/// A pass that could not do its work on this model.
public struct PassError: Error, CustomStringConvertible, Sendable {
    public var pass: String
    public var message: String

    public init(pass: String, message: String) {
        self.pass = pass
        self.message = message
    }

    public var description: String { "pass '\(pass)': \(message)" }
}
