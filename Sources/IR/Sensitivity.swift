/// What the mixed-precision passes add to ``QuantizationState``: the formats
/// a layer may take, how much each format is predicted (or measured) to hurt
/// the model per layer, and the allocation chosen under a budget.
///
/// Scores are distortions: larger is worse, 0 is no loss. Every method scores
/// a layer per candidate format (keyed by ``WeightFormat/description``), so an
/// allocator can use any of them as its objective Σᵢ Ωᵢ(fᵢ).
public struct SensitivityTable: Hashable, Sendable, Codable {
    /// The method, e.g. `layer-hessian`, `hessian-trace`, `measured`, `curvature`, `weight-magnitude`.
    public var method: String
    /// What a score is, e.g. "output MSE on 64 calibration samples" or "tr(ΔW H ΔWᵀ)".
    public var unit: String
    /// node name → format description → score.
    public var scores: [String: [String: Double]]
    /// Free-form facts about the run (probes used, standard error, samples).
    public var notes: [String]
    /// Spearman rank correlation of these scores with the `measured` table's over
    /// all (layer, format) pairs; nil until computed (`sensitivity` pass).
    public var spearman: Double?
    /// The same correlation within each format (format description → ρ).
    public var spearmanByFormat: [String: Double]?

    public init(method: String, unit: String, scores: [String: [String: Double]] = [:], notes: [String] = []) {
        self.method = method
        self.unit = unit
        self.scores = scores
        self.notes = notes
    }

    public func score(node: String, format: WeightFormat) -> Double? { scores[node]?[format.description] }
}

/// The formats mixed precision chooses among unless told otherwise: fp16,
/// int8 per channel, int4 per group of 32, 64 and 128.
public enum CandidateFormats {
    public static let standard: [WeightFormat] = [
        .float16,
        .int8PerChannel,
        .integer(bits: 4, granularity: .perGroup(32), symmetric: true),
        .integer(bits: 4, granularity: .perGroup(64), symmetric: true),
        .integer(bits: 4, granularity: .perGroup(128), symmetric: true),
    ]
}

/// The outcome of an `allocate` pass: what it was asked and what it found.
public struct AllocationRecord: Hashable, Sendable, Codable {
    /// The budget as written (`4.5bits`, `1.2MB`, `latency:2ms`).
    public var budget: String
    /// The sensitivity method whose scores were minimised.
    public var objective: String
    public var solver: String
    /// Σᵢ Ωᵢ(fᵢ) of the chosen formats under `objective`.
    public var predicted: Double
    /// Stored bits per weight over all layers, scales and zero points included.
    public var averageBits: Double
    /// Stored weight bytes of all layers, scales and zero points included.
    public var bytes: Int
    /// Layers pinned by the user (`--keep NODE=FORMAT`), node → format.
    public var pinned: [String: String]
    public var notes: [String]
    /// The other solvers on the same problem, so the report shows what exactness buys.
    public var baselines: [AllocationBaseline]?

    public init(budget: String, objective: String, solver: String, predicted: Double, averageBits: Double, bytes: Int,
                pinned: [String: String] = [:], notes: [String] = []) {
        self.budget = budget
        self.objective = objective
        self.solver = solver
        self.predicted = predicted
        self.averageBits = averageBits
        self.bytes = bytes
        self.pinned = pinned
        self.notes = notes
    }
}

/// Another solver's answer to an allocation problem: its predicted Σ Ω and cost (bytes,
/// or ns for a latency budget), and whether that cost fits the budget (`proportional`
/// ignores it).
public struct AllocationBaseline: Hashable, Sendable, Codable {
    public var solver: String
    public var predicted: Double
    public var cost: Int
    public var withinBudget: Bool
    public init(solver: String, predicted: Double, cost: Int, withinBudget: Bool) {
        self.solver = solver
        self.predicted = predicted
        self.cost = cost
        self.withinBudget = withinBudget
    }
}

extension WeightFormat {
    /// Bits of one weight value, scales and zero points not counted.
    public var valueBits: Int {
        switch self {
        case .float32: return 32
        case .float16: return 16
        case .integer(let bits, _, _): return bits
        }
    }

    /// Bytes this format stores for a weight of `shape`: the values (packed,
    /// two int4 per byte), one float32 scale per tensor, channel or group, and
    /// for asymmetric formats one zero point of the same width per scale.
    /// This is the cost every budget and size figure in quantc counts.
    public func storageBytes(shape: [Int], channelAxis: Int, groupAxis: Int) -> Int {
        let n = shape.reduce(1, *)
        switch self {
        case .float32: return n * 4
        case .float16: return n * 2
        case .integer(let bits, let granularity, let symmetric):
            let scales: Int
            switch granularity {
            case .perTensor: scales = 1
            case .perChannel: scales = channelAxis < shape.count ? shape[channelAxis] : 1
            case .perGroup(let g):
                let e = GroupSpan.extent(shape: shape, channelAxis: channelAxis, groupAxis: groupAxis)
                scales = e.outer * ((e.k + g - 1) / g) * e.inner
            }
            return (n * bits + 7) / 8 + scales * 4 + (symmetric ? 0 : (scales * bits + 7) / 8)
        }
    }
}
