import IR

/// Raises a model's default-domain opset, rewriting the nodes whose form or
/// meaning changed in between: attributes that became inputs (by each
/// operator's own normalizer in the registry, applied only where the old form
/// is no longer valid at the target), Upsample to Resize, Softmax-family axes
/// (before opset 13 they flattened to 2-D at `axis`), Split's `num_outputs`
/// (required from 18 when sizes are not given). A change it cannot make
/// safely is an error naming the node.
public enum OpsetUpgrade {
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var message: String
        public var description: String { message }
    }

    public static func upgrade(_ model: inout Model, to target: Int64) throws(Failure) {
        let current = model.opsetVersion(domain: "") ?? 1
        guard current < target else { return }
        var types: [String: TensorType] = [:]
        for v in model.graph.inputs + model.graph.outputs + Array(model.graph.valueInfo.values) {
            if let t = v.type?.tensorType { types[v.name] = t }
        }
        for (name, t) in model.graph.initializers { types[name] = t.type }
        try upgrade(&model.graph, from: current, to: target, types: types)
        for i in model.opsetImports.indices where model.opsetImports[i].domain.isEmpty || model.opsetImports[i].domain == "ai.onnx" {
            model.opsetImports[i].version = target
        }
    }

    static func upgrade(_ g: inout Graph, from current: Int64, to target: Int64, types: [String: TensorType]) throws(Failure) {
        for i in g.nodes.indices {
            var node = g.nodes[i]
            guard node.isDefaultDomain else { continue }
            guard let entry = OpRegistry.entry(for: node) else {
                throw Failure(message: "operator \(node.opType) of node '\(node.label)' is unknown to quantc's upgrader")
            }
            if let normalize = entry.normalize {
                // Convert only forms that are no longer valid at the target: a node the
                // normalizer leaves alone at the target opset is already in a target form.
                var atTarget = NormalizeContext(opset: target, prefix: "")
                var probe = node
                normalize(&probe, &atTarget)
                var context = NormalizeContext(opset: current, prefix: "\(node.name.isEmpty ? node.opType : node.name).opset\(target)")
                var converted = node
                normalize(&converted, &context)
                if probe == node, converted != node {
                    node = converted
                    for (name, t) in context.constants { g.initializers[name] = t }
                }
            }
            switch node.opType {
            case "Upsample" where target >= 10:
                node.opType = "Resize"
                if target < 11 { node.inputs = [node.inputs[0], node.inputs[2]] }
            case let op where ["Softmax", "LogSoftmax", "Hardmax"].contains(op) && current < 13 && target >= 13:
                let axis = node[attribute: "axis"]?.intValue ?? 1
                let rank = types[node.inputs[0]]?.shape?.count
                if axis == -1 || (rank != nil && Int(axis) == rank! - 1) {
                    node[attribute: "axis"] = .int(-1)
                } else {
                    throw Failure(message: "\(node.opType) node '\(node.label)' normalizes over axis \(axis) of a rank-\(rank.map(String.init) ?? "unknown") input flattened to 2-D, which opset 13 no longer does")
                }
            case "Split" where target >= 18 && (node.inputs.count < 2 || node.inputs[1].isEmpty):
                node[attribute: "num_outputs"] = .int(Int64(node.outputs.count))
            case "GroupNormalization" where current < 21 && target >= 21:
                throw Failure(message: "GroupNormalization node '\(node.label)' changed meaning in opset 21")
            case "BatchNormalization" where current < 9:
                node[attribute: "spatial"] = nil
            case "Dropout" where current < 12 && target >= 12:
                node[attribute: "ratio"] = nil
            default: break
            }
            for j in node.attributes.indices {
                switch node.attributes[j].value {
                case .graph(var sub):
                    try upgrade(&sub, from: current, to: target, types: types)
                    node.attributes[j].value = .graph(sub)
                case .graphs(var subs):
                    for k in subs.indices { try upgrade(&subs[k], from: current, to: target, types: types) }
                    node.attributes[j].value = .graphs(subs)
                default: break
                }
            }
            g.nodes[i] = node
        }
    }
}
