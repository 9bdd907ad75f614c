/// A multiple-choice knapsack: pick one option per layer so that the total
/// cost (stored bytes) stays within `budget` and the total score (predicted
/// distortion Σᵢ Ωᵢ(fᵢ)) is smallest. Costs are integers (bytes), so every
/// solver compares them exactly.
public struct AllocationProblem: Sendable {
    public struct Option: Sendable, Hashable {
        public var cost: Int
        public var score: Double
        /// What the option is (a format description), for baselines that rank formats by name.
        public var label: String
        public init(cost: Int, score: Double, label: String = "") {
            self.cost = cost
            self.score = score
            self.label = label
        }
    }

    /// Options per layer; a pinned layer has one.
    public var layers: [[Option]]
    public var budget: Int

    public init(layers: [[Option]], budget: Int) {
        self.layers = layers
        self.budget = budget
    }

    /// The smallest total cost any choice has.
    public var minimumCost: Int { layers.reduce(0) { $0 + ($1.map(\.cost).min() ?? 0) } }

    public func cost(_ choice: [Int]) -> Int { zip(layers, choice).reduce(0) { $0 + $1.0[$1.1].cost } }
    public func score(_ choice: [Int]) -> Double { zip(layers, choice).reduce(0) { $0 + $1.0[$1.1].score } }
    public func isFeasible(_ choice: [Int]) -> Bool { cost(choice) <= budget }
}

/// How `allocate` chooses: exactly, or by one of the two baselines.
public enum AllocationSolver: String, CaseIterable, Sendable {
    case exact, greedy, proportional

    /// One option index per layer; nil when no choice fits the budget
    /// (`proportional` ignores the budget and always answers).
    public func solve(_ p: AllocationProblem) -> [Int]? {
        switch self {
        case .exact: ExactKnapsack.solve(p)
        case .greedy: GreedyAllocation.solve(p)
        case .proportional: ProportionalAllocation.solve(p)
        }
    }
}
