import IR

/// One measured point of a size/accuracy trade-off (`quantc quantize --pareto`),
/// from quantc or from a peer tool measured on the same data.
public struct ParetoPoint: Codable, Sendable, Equatable {
    /// What produced the point, e.g. "float", "int8", "int4/g128 rtn", "mixed 4.5bits", "onnxruntime int8".
    public var label: String
    /// "quantc", "onnxruntime" or "float".
    public var source: String
    /// The budget the point was allocated under, if any (`4.5bits`).
    public var budget: String?
    /// Stored weight bits per weight (scales included) and weight bytes.
    public var averageBits: Double
    public var weightBytes: Int
    /// Size of the exported model file.
    public var fileBytes: Int?
    /// The task metric's name ("top-1 accuracy", "top-1 agreement") and value, in percent.
    public var metricName: String
    public var metric: Double
    /// Output SQNR against the float model, dB.
    public var sqnr: Double?
    /// The allocator's predicted objective for this point.
    public var predicted: Double?
    /// Wall time to produce the point, seconds.
    public var seconds: Double?
    /// Whether this point was the one returned (`--max-drop`, or the requested budget).
    public var chosen: Bool
    /// Mixed points: the other solvers' predicted objective under the same budget.
    public var baselines: [SolverBaseline]?

    public init(label: String, source: String, budget: String? = nil, averageBits: Double, weightBytes: Int,
                fileBytes: Int? = nil, metricName: String, metric: Double, sqnr: Double? = nil,
                predicted: Double? = nil, seconds: Double? = nil, chosen: Bool = false, baselines: [SolverBaseline]? = nil) {
        self.label = label
        self.source = source
        self.budget = budget
        self.averageBits = averageBits
        self.weightBytes = weightBytes
        self.fileBytes = fileBytes
        self.metricName = metricName
        self.metric = metric
        self.sqnr = sqnr
        self.predicted = predicted
        self.seconds = seconds
        self.chosen = chosen
        self.baselines = baselines
    }

    enum CodingKeys: String, CodingKey {
        case label, source, budget, averageBits = "average_bits", weightBytes = "weight_bytes", fileBytes = "file_bytes"
        case metricName = "metric_name", metric, sqnr, predicted, seconds, chosen, baselines
    }
}

/// Another allocation solver on a mixed point's problem: its predicted Σ Ω, its cost
/// (bytes; ns for a latency budget) and whether that fits the budget.
public struct SolverBaseline: Codable, Sendable, Equatable {
    public var solver: String
    public var predicted: Double
    public var cost: Int
    public var withinBudget: Bool

    public init(_ b: AllocationBaseline) {
        solver = b.solver
        predicted = b.predicted.isFinite ? b.predicted : .greatestFiniteMagnitude
        cost = b.cost
        withinBudget = b.withinBudget
    }

    enum CodingKeys: String, CodingKey {
        case solver, predicted, cost, withinBudget = "within_budget"
    }
}
