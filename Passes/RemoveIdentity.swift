import IR

/// Removes Identity nodes and inference-time Dropout (whose mask nobody
/// reads): readers of the output read the input instead. When the output is a
/// graph output, the producer of the input is renamed to it, unless the input
/// is itself a graph input, initializer or output, in which case the node stays.
public struct RemoveIdentity: Pass {
    public static let name = "remove-identity"
    public static let summary = "Remove Identity nodes and inference Dropout, rewiring their readers."

    public init(options: PassOptions) {}

    public func run(on model: inout Model, context: inout PassContext) throws(PassError) {
        Self.run(on: &model.graph, context: &context)
    }

    static func run(on g: inout Graph, context: inout PassContext) {
        var i = 0
        while i < g.nodes.count {
            let n = g.nodes[i]
            let removable = n.isDefaultDomain && (n.opType == "Identity"
                || (n.opType == "Dropout" && (n.outputs.count < 2 || n.outputs[1].isEmpty) && isInference(n)))
            guard removable, let input = n.inputs.first, !input.isEmpty, let output = n.outputs.first else {
                i += 1
                continue
            }
            if !g.isOutput(output) {
                g.nodes.remove(at: i)
                g.replaceUses(of: output, with: input)
                g.valueInfo[output] = nil
                context.count("nodes removed")
                continue
            }
            // The output is part of the interface: rename the input's producer instead.
            let fixed = g.inputs.contains { $0.name == input } || g.initializers[input] != nil || g.isOutput(input)
            guard !fixed, let producer = g.nodes.firstIndex(where: { $0.outputs.contains(input) }) else {
                i += 1
                continue
            }
            g.nodes.remove(at: i)
            let k = g.nodes[producer].outputs.firstIndex(of: input)!
            g.nodes[producer].outputs[k] = output
            g.replaceUses(of: input, with: output)
            g.valueInfo[input] = nil
            context.count("nodes removed")
        }
    }

    /// Dropout with training_mode set (opset 12+, as an input) is not an identity.
    static func isInference(_ n: Node) -> Bool { n.inputs.count < 3 || n.inputs[2].isEmpty }
}
