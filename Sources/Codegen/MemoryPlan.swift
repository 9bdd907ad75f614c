import Artifact

/// Places arena values by liveness: each value lives from the launch that
/// first writes it to the launch that last reads it (graph inputs from -1,
/// outputs to the end); values whose lifetimes overlap get disjoint bytes.
/// Greedy best fit, largest values first: each goes into the smallest free
/// gap (256-byte aligned) among the values it overlaps, else on top.
struct MemoryPlan {
    struct Item {
        var name: String
        var bytes: Int
        var first: Int
        var last: Int
    }
    private(set) var offsets: [String: Int] = [:]
    private(set) var peak = 0
    private(set) var sumOfValues = 0

    init(_ items: [Item]) {
        let order = items.sorted { ($0.bytes, $1.first, $1.name) > ($1.bytes, $0.first, $0.name) }
        var placed: [(item: Item, offset: Int)] = []
        for it in order {
            let size = roundUp(max(it.bytes, 1), Plan.alignment)
            sumOfValues += roundUp(max(it.bytes, 1), Plan.alignment)
            let busy = placed.filter { $0.item.first <= it.last && it.first <= $0.item.last }
                .map { (start: $0.offset, end: $0.offset + roundUp(max($0.item.bytes, 1), Plan.alignment)) }
                .sorted { $0.start < $1.start }
            var best: (offset: Int, gap: Int)?
            var cursor = 0
            for b in busy {
                if b.start - cursor >= size, best == nil || b.start - cursor < best!.gap { best = (cursor, b.start - cursor) }
                cursor = max(cursor, b.end)
            }
            let offset = best?.offset ?? cursor
            placed.append((it, offset))
            offsets[it.name] = offset
            peak = max(peak, offset + size)
        }
    }
}
