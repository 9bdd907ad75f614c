/// The HNF seed's greedy baseline: every layer starts at its cheapest option;
/// then, while the budget allows, the upgrade with the largest distortion saved
/// per extra byte (ΔΩ/Δbytes, over all layers and all of a layer's costlier,
/// better-scoring options) is taken. Not optimal: an upgrade that does not fit
/// ends nothing, but a better mix of smaller upgrades may be missed.
public enum GreedyAllocation {
    public static func solve(_ p: AllocationProblem) -> [Int]? {
        guard p.layers.allSatisfy({ !$0.isEmpty }), p.minimumCost <= p.budget else { return nil }
        var choice = p.layers.map { l in l.indices.min { (l[$0].cost, l[$0].score, $0) < (l[$1].cost, l[$1].score, $1) }! }
        var room = p.budget - p.cost(choice)
        while true {
            var best: (layer: Int, option: Int, ratio: Double)?
            for (i, l) in p.layers.enumerated() {
                let cur = l[choice[i]]
                for (o, opt) in l.enumerated() where opt.score < cur.score && opt.cost >= cur.cost && opt.cost - cur.cost <= room {
                    let extra = opt.cost - cur.cost
                    let ratio = extra == 0 ? Double.infinity : (cur.score - opt.score) / Double(extra)
                    if best == nil || ratio > best!.ratio { best = (i, o, ratio) }
                }
            }
            guard let b = best else { return choice }
            room -= p.layers[b.layer][b.option].cost - p.layers[b.layer][choice[b.layer]].cost
            choice[b.layer] = b.option
        }
    }
}
