extension Graph {
    /// Replaces every read of value `old` with `new`: node inputs here and in
    /// subgraphs (which capture outer values by name) and graph outputs.
    public mutating func replaceUses(of old: String, with new: String) {
        for i in nodes.indices {
            for j in nodes[i].inputs.indices where nodes[i].inputs[j] == old { nodes[i].inputs[j] = new }
            for a in nodes[i].attributes.indices {
                switch nodes[i].attributes[a].value {
                case .graph(var g):
                    g.replaceUses(of: old, with: new)
                    nodes[i].attributes[a].value = .graph(g)
                case .graphs(var gs):
                    for k in gs.indices { gs[k].replaceUses(of: old, with: new) }
                    nodes[i].attributes[a].value = .graphs(gs)
                default: break
                }
            }
        }
        for i in outputs.indices where outputs[i].name == old { outputs[i].name = new }
    }

    /// How many node inputs (including subgraph captures) read each value.
    public func useCounts() -> [String: Int] {
        var counts: [String: Int] = [:]
        for n in nodes {
            for i in n.inputs where !i.isEmpty { counts[i, default: 0] += 1 }
            for (_, g) in n.subgraphs { for v in g.freeVariables() { counts[v, default: 0] += 1 } }
        }
        for o in outputs { counts[o.name, default: 0] += 1 }
        return counts
    }

    /// Whether `name` is one of the graph's outputs.
    public func isOutput(_ name: String) -> Bool { outputs.contains { $0.name == name } }
}
