/// The rank-based baseline: layers ranked by sensitivity (their score at their
/// cheapest option, i.e. how much the most aggressive format hurts), the top 20%
/// get fp16, the next 40% int8 and the bottom 40% int4 (the int4 option with the
/// lowest score). The budget is ignored: the caller reports whether it is met.
/// Where a tier's format is not among a layer's options, the costliest (fp16
/// tier), median-cost (int8) or cheapest (int4) option stands in. Layers with
/// one option (pinned) keep it and are not ranked.
public enum ProportionalAllocation {
    public static func solve(_ p: AllocationProblem) -> [Int]? {
        guard p.layers.allSatisfy({ !$0.isEmpty }) else { return nil }
        var choice = [Int](repeating: 0, count: p.layers.count)
        let free = p.layers.indices.filter { p.layers[$0].count > 1 }
        func sensitivity(_ i: Int) -> Double {
            let l = p.layers[i]
            return l[l.indices.min { (l[$0].cost, l[$0].score) < (l[$1].cost, l[$1].score) }!].score
        }
        let ranked = free.sorted { (sensitivity($1), $0) < (sensitivity($0), $1) }
        let top = Int((0.2 * Double(ranked.count)).rounded())
        let middle = Int((0.6 * Double(ranked.count)).rounded())
        for (rank, i) in ranked.enumerated() {
            let l = p.layers[i]
            let byCost = l.indices.sorted { (l[$0].cost, l[$0].score, $0) < (l[$1].cost, l[$1].score, $1) }
            func lowest(_ prefix: String) -> Int? {
                l.indices.filter { l[$0].label.hasPrefix(prefix) }.min { (l[$0].score, $0) < (l[$1].score, $1) }
            }
            if rank < top {
                choice[i] = l.firstIndex { $0.label == "fp16" } ?? byCost.last!
            } else if rank < middle {
                choice[i] = lowest("int8") ?? byCost[byCost.count / 2]
            } else {
                choice[i] = lowest("int4") ?? byCost.first!
            }
        }
        return choice
    }
}
