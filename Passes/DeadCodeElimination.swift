import IR

/// Removes nodes whose outputs nothing reads, then initializers and
/// `value_info` entries nothing refers to, in every graph and subgraph.
/// Graph inputs and outputs are the interface and always stay.
public struct DeadCodeElimination: Pass {
    public static let name = "dce"
    public static let summary = "Remove nodes, initializers and value_info that no graph output depends on."

    public init(options: PassOptions) {}

    public func run(on model: inout Model, context: inout PassContext) throws(PassError) {
        Self.eliminate(in: &model.graph, context: &context)
    }

    static func eliminate(in graph: inout Graph, context: inout PassContext) {
        var live = Set(graph.outputs.map(\.name))
        var kept: [Node] = []
        // Nodes are topologically sorted, so one backward sweep finds all dead ones.
        for var node in graph.nodes.reversed() {
            guard node.outputs.contains(where: { live.contains($0) }) else {
                context.count("nodes removed")
                continue
            }
            for i in node.attributes.indices {
                switch node.attributes[i].value {
                case .graph(var g):
                    eliminate(in: &g, context: &context)
                    node.attributes[i].value = .graph(g)
                case .graphs(var gs):
                    for k in gs.indices { eliminate(in: &gs[k], context: &context) }
                    node.attributes[i].value = .graphs(gs)
                default: break
                }
            }
            live.formUnion(node.inputs.filter { !$0.isEmpty })
            for (_, g) in node.subgraphs { live.formUnion(g.freeVariables()) }
            kept.append(node)
        }
        graph.nodes = kept.reversed()

        let inputs = Set(graph.inputs.map(\.name))
        let before = graph.initializers.count
        graph.initializers.removeAll { !live.contains($0.key) && !inputs.contains($0.key) }
        if graph.initializers.count < before { context.count("initializers removed", before - graph.initializers.count) }
        var defined = live
        for n in graph.nodes { defined.formUnion(n.outputs) }
        graph.valueInfo.removeAll { !defined.contains($0.key) }
    }
}
