import Foundation
import Interpreter

extension AllocationProblem {
    /// A random instance shaped like a real model, for the solver benchmark:
    /// layers of 1k–1M weights (log-uniform), the standard formats plus int4/g256
    /// costed as ``WeightFormat/storageBytes`` would (values, scales per channel or
    /// group of a 256-wide reduction axis), scores ∝ n·2^(−2·bits)·sensitivity with
    /// a per-layer sensitivity over three decades and ±50% noise per format, and a
    /// budget halfway between the smallest and the largest total.
    public static func random(layers: Int, formats: Int, seed: UInt64) -> AllocationProblem {
        var rng = SplitMix64(seed: seed)
        let all: [(label: String, bits: Double, group: Int?)] = [
            ("fp16", 16, nil), ("int8/channel", 8, nil), ("int4/g32", 4, 32), ("int4/g64", 4, 64), ("int4/g128", 4, 128), ("int4/g256", 4, 256),
        ]
        let kinds = Array(all.prefix(max(1, min(formats, all.count))))
        var ls: [[Option]] = []
        for _ in 0..<layers {
            let n = Int(pow(10, 3 + 3 * rng.unit())) / 256 * 256 + 256
            let channels = n / 256
            let sensitivity = pow(10, 3 * rng.unit())
            ls.append(kinds.map { k in
                let values = Int((Double(n) * k.bits / 8).rounded(.up))
                let scales = k.bits == 16 ? 0 : (k.group.map { n / $0 } ?? channels)
                let effective = k.bits + (k.group.map { 32 / Double($0) } ?? 0)
                return Option(cost: values + 4 * scales, score: sensitivity * Double(n) * pow(2, -2 * effective) * (0.5 + rng.unit()), label: k.label)
            })
        }
        let lo = ls.reduce(0) { $0 + $1.map(\.cost).min()! }, hi = ls.reduce(0) { $0 + $1.map(\.cost).max()! }
        return AllocationProblem(layers: ls, budget: (lo + hi) / 2)
    }
}
