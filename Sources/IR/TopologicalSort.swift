extension Graph {
    /// Names this graph's nodes (and their subgraphs) read but do not define:
    /// the values a subgraph captures from the graphs around it.
    public func freeVariables() -> Set<String> {
        var defined = Set(inputs.map(\.name))
        defined.formUnion(initializers.keys)
        var free: Set<String> = []
        for node in nodes {
            for i in node.inputs where !i.isEmpty && !defined.contains(i) { free.insert(i) }
            for (_, g) in node.subgraphs { free.formUnion(g.freeVariables().subtracting(defined)) }
            for o in node.outputs where !o.isEmpty { defined.insert(o) }
        }
        return free
    }

    /// Reorders `nodes` so every value is produced before it is used, keeping
    /// file order wherever the graph allows (an already sorted graph is
    /// unchanged). Values a subgraph captures count as inputs of its node.
    /// Throws naming the nodes of a cycle if there is one.
    public mutating func sortTopologically(path: [String] = []) throws(VerificationError) {
        let n = nodes.count
        var producer: [String: Int] = [:]
        for (i, node) in nodes.enumerated() { for o in node.outputs where !o.isEmpty { producer[o] = i } }
        var deps = [[Int]](repeating: [], count: n)
        var users = [[Int]](repeating: [], count: n)
        var pending = [Int](repeating: 0, count: n)
        var sorted = true
        for (i, node) in nodes.enumerated() {
            var reads = Set(node.inputs.filter { !$0.isEmpty })
            for (_, g) in node.subgraphs { reads.formUnion(g.freeVariables()) }
            for r in reads.sorted() {
                guard let p = producer[r], p != i || node.outputs.contains(r) else { continue }
                deps[i].append(p)
                users[p].append(i)
                pending[i] += 1
                if p >= i { sorted = false }
            }
        }
        if sorted { return }
        // Kahn's algorithm with a min-heap on the original index.
        var heap = MinHeap()
        for i in 0..<n where pending[i] == 0 { heap.push(i) }
        var order: [Int] = []
        order.reserveCapacity(n)
        while let i = heap.pop() {
            order.append(i)
            for u in users[i] {
                pending[u] -= 1
                if pending[u] == 0 { heap.push(u) }
            }
        }
        if order.count < n {
            throw VerificationError(graphPath: path.isEmpty ? [name] : path, message: "the nodes form a cycle: " + cycle(deps: deps, pending: pending))
        }
        nodes = order.map { nodes[$0] }
    }

    /// Describes one cycle among the nodes left unsorted.
    private func cycle(deps: [[Int]], pending: [Int]) -> String {
        var current = pending.firstIndex { $0 > 0 }!
        var seen: [Int: Int] = [:]
        var walk: [Int] = []
        while seen[current] == nil {
            seen[current] = walk.count
            walk.append(current)
            current = deps[current].first { pending[$0] > 0 }!
        }
        let loop = walk[seen[current]!...] + [current]
        return loop.map { nodes[$0].label }.joined(separator: " -> ")
    }
}

/// A binary min-heap of indices.
struct MinHeap {
    private var items: [Int] = []

    mutating func push(_ x: Int) {
        items.append(x)
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard items[parent] > items[i] else { break }
            items.swapAt(parent, i)
            i = parent
        }
    }

    mutating func pop() -> Int? {
        guard let first = items.first else { return nil }
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var i = 0
            while true {
                let l = 2 * i + 1, r = l + 1
                var m = i
                if l < items.count && items[l] < items[m] { m = l }
                if r < items.count && items[r] < items[m] { m = r }
                if m == i { break }
                items.swapAt(i, m)
                i = m
            }
        }
        return first
    }
}
