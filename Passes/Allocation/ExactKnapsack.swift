/// The multiple-choice knapsack solved exactly: dynamic programming over
/// Pareto-optimal (cost, score) states — a state is kept only if no state with
/// cost ≤ its cost has a lower score — with two prunings that provably never
/// drop the optimum:
///
/// - feasibility: a state whose cost plus the cheapest completion exceeds the budget;
/// - a Lagrangian bound (Martello & Toth, *Knapsack Problems*, 1990, §6.4;
///   Dyer, Kayal & Walker 1984 use it the same way for the MCKP): for any
///   λ ≥ 0 the remaining layers j add at least Σⱼ minₒ(Ωⱼ(o) + λ·cⱼ(o)) − λ·(B − c),
///   because their costs sum to at most B − c. The bound takes the best of a few
///   multipliers: the LP relaxation's λ* (where the greedy over convex-hull
///   segments stops) and hull ratios at exponentially spaced ranks around it,
///   so that states with much more or less budget left than the LP's path are
///   bounded by a multiplier that fits them. A state whose bound is above the
///   best known solution (the LP solution rounded down, then filled with the
///   upgrades that still fit) cannot lead to a better one and is dropped; the
///   search first prunes against tighter targets between the LP bound and that
///   solution (see `solve`).
///
/// Costs are integer bytes, so cost comparisons are exact; scores are compared
/// with a relative tolerance of 1e-9 only when pruning, so rounding in the bound
/// never removes the optimum.
public enum ExactKnapsack {
    public static func solve(_ p: AllocationProblem) -> [Int]? {
        let n = p.layers.count
        let budget = p.budget
        guard p.layers.allSatisfy({ !$0.isEmpty }), p.minimumCost <= budget else { return nil }
        if n == 0 { return [] }
        let options = p.layers.map(undominated)
        let (lambda, lpChoice, gains) = lagrangeMultiplier(p, options)
        let incumbent = lpChoice
        let incumbentScore = p.score(lpChoice)
        // Multipliers: λ* and the upgrade ratios at exponentially spaced ranks around the LP's
        // cut, so that states far from the LP's path (much more or less budget left) get a
        // bound from a multiplier that fits them; λ = 0 too. Ascending.
        var grid: Set<Double> = [0, lambda]
        if let cut = gains.firstIndex(where: { $0 <= lambda }) ?? (gains.isEmpty ? nil : gains.count - 1) {
            var d = 1
            while d < 2 * gains.count {
                for k in [cut - d, cut + d] where k >= 0 && k < gains.count { grid.insert(gains[k]) }
                d *= 2
            }
        }
        let lambdas = grid.sorted()
        let m = lambdas.count
        // Suffix sums over layers i..<n: cheapest cost, and for each λⱼ Σ minₒ(Ω + λⱼ·c).
        var minCost = [Int](repeating: 0, count: n + 1)
        var lagrangian = [Double](repeating: 0, count: (n + 1) * m)
        for i in stride(from: n - 1, through: 0, by: -1) {
            let l = p.layers[i]
            minCost[i] = minCost[i + 1] + options[i].map { l[$0].cost }.min()!
            for (j, lj) in lambdas.enumerated() {
                lagrangian[i * m + j] = lagrangian[(i + 1) * m + j] + options[i].map { l[$0].score + lj * Double(l[$0].cost) }.min()!
            }
        }
        let bounds = LagrangianBounds(lambdas: lambdas, sums: lagrangian)
        // The LP bound; the optimum lies in [lowerBound, incumbentScore].
        let lowerBound = bounds.bound(suffix: 0, remaining: budget)
        let magnitude = lambdas.indices.map { abs(lagrangian[$0]) + lambdas[$0] * Double(budget) }.max()!
        let tolerance = 1e-9 * (abs(incumbentScore) + magnitude) + 1e-300
        // Prune against a target below the incumbent first: the fewer states, the faster. If the
        // best completed state is within the target it is optimal (every solution scoring at most
        // the target has all its prefix bounds within it, so its prefixes, or states dominating
        // them, survived); otherwise widen the target, up to the incumbent.
        var gap = max((incumbentScore - lowerBound) / 16, tolerance)
        while true {
            let target = min(lowerBound + gap, incumbentScore)
            if let (choice, score) = search(p, options, bounds: bounds, minCost: minCost, target: target + tolerance), score <= target + tolerance {
                return score < incumbentScore ? choice : incumbent
            }
            if target >= incumbentScore { return incumbent }
            gap *= 2
        }
    }

    /// The DP over Pareto states, keeping states whose bound is at most `target`; the best
    /// complete choice it finds, if any.
    static func search(_ p: AllocationProblem, _ options: [[Int]], bounds: LagrangianBounds, minCost: [Int],
                       target: Double) -> ([Int], Double)? {
        let n = p.layers.count, budget = p.budget
        var costs = [0], scores = [0.0]
        var parents: [[Int32]] = [], picks: [[Int32]] = []
        parents.reserveCapacity(n)
        picks.reserveCapacity(n)
        struct Candidate { var cost: Int; var score: Double; var parent: Int32; var pick: Int32 }
        var next: [Candidate] = []
        for i in 0..<n {
            next.removeAll(keepingCapacity: true)
            let l = p.layers[i]
            let restCost = minCost[i + 1]
            for s in costs.indices {
                for o in options[i] {
                    let c = costs[s] + l[o].cost
                    if c + restCost > budget { continue }
                    let sc = scores[s] + l[o].score
                    if sc + bounds.bound(suffix: i + 1, remaining: budget - c) > target { continue }
                    next.append(Candidate(cost: c, score: sc, parent: Int32(s), pick: Int32(o)))
                }
            }
            if next.isEmpty { return nil }
            next.sort { ($0.cost, $0.score, $0.parent, $0.pick) < ($1.cost, $1.score, $1.parent, $1.pick) }
            costs.removeAll(keepingCapacity: true)
            scores.removeAll(keepingCapacity: true)
            var parent: [Int32] = [], pick: [Int32] = []
            var lowest = Double.infinity
            for c in next where c.score < lowest {
                lowest = c.score
                costs.append(c.cost)
                scores.append(c.score)
                parent.append(c.parent)
                pick.append(c.pick)
            }
            parents.append(parent)
            picks.append(pick)
        }
        // States are Pareto-sorted: the last has the lowest score.
        let last = scores.count - 1
        var choice = [Int](repeating: 0, count: n)
        var s = last
        for i in stride(from: n - 1, through: 0, by: -1) {
            choice[i] = Int(picks[i][s])
            s = Int(parents[i][s])
        }
        return (choice, scores[last])
    }

    /// Option indices not dominated by another of the same layer, by increasing cost
    /// (and so strictly decreasing score).
    static func undominated(_ options: [AllocationProblem.Option]) -> [Int] {
        let order = options.indices.sorted { (options[$0].cost, options[$0].score, $0) < (options[$1].cost, options[$1].score, $1) }
        var kept: [Int] = []
        var lowest = Double.infinity
        for o in order where options[o].score < lowest {
            lowest = options[o].score
            kept.append(o)
        }
        return kept
    }

    /// The LP relaxation's multiplier and a feasible solution near it: start every layer at its
    /// cheapest option and take convex-hull upgrades by decreasing Δscore/Δcost; the LP stops
    /// at the first that does not fit (Sinha & Zoltners 1979), λ = that upgrade's ratio (0 when
    /// every upgrade fits); the solution takes every later upgrade that still fits.
    static func lagrangeMultiplier(_ p: AllocationProblem, _ options: [[Int]]) -> (Double, [Int], [Double]) {
        struct Segment { var layer: Int; var step: Int; var from: Int; var to: Int; var gain: Double; var extra: Int }
        var segments: [Segment] = []
        var choice = [Int](repeating: 0, count: p.layers.count)
        for (i, opts) in options.enumerated() {
            let l = p.layers[i]
            // Lower convex hull of the undominated options (cost ascending, score descending).
            var hull: [Int] = []
            for o in opts {
                while hull.count >= 2 {
                    let a = l[hull[hull.count - 2]], b = l[hull[hull.count - 1]], c = l[o]
                    // b lies on or above segment a–c: drop it.
                    let lhs = (b.score - a.score) * Double(c.cost - a.cost)
                    let rhs = (c.score - a.score) * Double(b.cost - a.cost)
                    if lhs >= rhs { hull.removeLast() } else { break }
                }
                hull.append(o)
            }
            choice[i] = hull[0]
            for k in 1..<max(hull.count, 1) {
                let a = l[hull[k - 1]], b = l[hull[k]]
                segments.append(Segment(layer: i, step: k, from: hull[k - 1], to: hull[k],
                                        gain: (a.score - b.score) / Double(b.cost - a.cost), extra: b.cost - a.cost))
            }
        }
        segments.sort { ($1.gain, $0.layer, $0.step) < ($0.gain, $1.layer, $1.step) }
        var room = p.budget - p.minimumCost
        var lambda: Double?
        for s in segments where choice[s.layer] == s.from {
            if s.extra > room {
                // The LP stops here; the rounded solution goes on with the upgrades that still fit.
                if lambda == nil { lambda = s.gain }
                continue
            }
            room -= s.extra
            choice[s.layer] = s.to
        }
        return (lambda ?? 0, choice, segments.map(\.gain))
    }
}

/// Lower bounds on what layers i..<n add to the score with `remaining` bytes left:
/// maxⱼ Σ_{k≥i} minₒ(Ωₖ(o) + λⱼ·cₖ(o)) − λⱼ·remaining, each term valid for λⱼ ≥ 0
/// (Lagrangian relaxation of the budget). The term is concave in λ, so the best λⱼ
/// is found by bisection; stopping early on a rounding tie still gives a valid bound.
struct LagrangianBounds {
    let lambdas: [Double]
    /// (n + 1) × m, row i for the suffix starting at layer i.
    let sums: [Double]

    @inline(__always)
    func bound(suffix i: Int, remaining: Int) -> Double {
        let m = lambdas.count, row = i * m, r = Double(remaining)
        var lo = 0, hi = m - 1
        while lo < hi {
            let mid = (lo + hi) / 2
            if sums[row + mid] - lambdas[mid] * r < sums[row + mid + 1] - lambdas[mid + 1] * r { lo = mid + 1 } else { hi = mid }
        }
        return sums[row + lo] - lambdas[lo] * r
    }
}
