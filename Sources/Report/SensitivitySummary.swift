import IR
import Passes

/// One sensitivity method as the report shows it: what its scores mean, the
/// pass's notes, and how well it ranks (layer, format) pairs like the
/// `measured` method does.
public struct SensitivitySummary: Codable, Sendable, Equatable {
    /// The method whose scores are end-to-end measurements, the reference for every other one.
    public static let measuredMethod = "measured"

    public var method: String
    public var unit: String
    public var notes: [String]
    /// Spearman's rank correlation between this method's and `measured`'s scores over the
    /// (layer, format) pairs both scored; nil for `measured` itself or with fewer than 3 pairs.
    public var spearman: Double?
    /// How many (layer, format) pairs the correlation is over.
    public var pairs: Int?

    public init(method: String, unit: String, notes: [String], spearman: Double? = nil, pairs: Int? = nil) {
        self.method = method
        self.unit = unit
        self.notes = notes
        self.spearman = spearman
        self.pairs = pairs
    }

    public static func summaries(of tables: [SensitivityTable]) -> [SensitivitySummary] {
        let measured = tables.first { $0.method == measuredMethod }
        return tables.map { t in
            var s = SensitivitySummary(method: t.method, unit: t.unit, notes: t.notes)
            if let measured, t.method != measuredMethod {
                let (a, b, _) = SpearmanCorrelation.pairs(t, measured)
                if let r = SpearmanCorrelation.rho(a, b) {
                    s.spearman = r
                    s.pairs = a.count
                }
            }
            return s
        }
    }
}

/// ``AllocationRecord`` in the report's snake_case form.
public struct Allocation: Codable, Sendable, Equatable {
    public var budget: String
    public var objective: String
    public var solver: String
    public var predicted: Double
    public var averageBits: Double
    public var bytes: Int
    public var pinned: [String: String]
    public var notes: [String]

    public init(_ r: AllocationRecord) {
        budget = r.budget
        objective = r.objective
        solver = r.solver
        predicted = r.predicted.isFinite ? r.predicted : .greatestFiniteMagnitude
        averageBits = r.averageBits
        bytes = r.bytes
        pinned = r.pinned
        notes = r.notes
    }

    enum CodingKeys: String, CodingKey {
        case budget, objective, solver, predicted, averageBits = "average_bits", bytes, pinned, notes
    }
}
