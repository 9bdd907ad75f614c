import IR

/// Infers the type of every value in a model and folds constant subgraphs.
///
/// Walking the nodes in order, a node whose inputs are all constant is
/// evaluated with its kernel (so Shape → Gather → Concat → Reshape chains on
/// static shapes collapse to constants); `Shape` of a value with a fully known
/// shape is a constant; otherwise the op's shape rule from the registry gives
/// the output types, keeping symbolic dims by name. Values without a rule
/// stay untyped.
public struct ShapeInference {
    public private(set) var types: [String: TensorType] = [:]
    public private(set) var constants: [String: RTensor] = [:]
    /// Operators that had no shape rule and could not be folded.
    public private(set) var untypedOps: Set<String> = []
    let opset: Int64

    /// Ops whose results change from run to run are never folded.
    static let nondeterministic: Set<String> = ["RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial", "Bernoulli"]
    /// Constants larger than this are not materialized by folding (keeps memory bounded).
    static let foldLimit = 1 << 20

    public init(model: Model) {
        opset = model.opsetVersion(domain: "") ?? 1
        var g = model.graph
        try? Interpreter.prepare(&g, opset: opset)
        run(g)
    }

    /// Fills `value_info` of the model's main graph with the inferred types of
    /// intermediate values (inputs, outputs and initializers keep theirs).
    public static func annotate(_ model: inout Model) -> ShapeInference {
        let inference = ShapeInference(model: model)
        let declared = Set(model.graph.inputs.map(\.name) + model.graph.outputs.map(\.name))
        for node in model.graph.nodes {
            for o in node.outputs where !o.isEmpty && !declared.contains(o) {
                if let t = inference.types[o] { model.graph.valueInfo[o] = ValueInfo(name: o, type: .tensor(t)) }
            }
        }
        for i in model.graph.outputs.indices where model.graph.outputs[i].type == nil {
            if let t = inference.types[model.graph.outputs[i].name] { model.graph.outputs[i].type = .tensor(t) }
        }
        return inference
    }

    private mutating func run(_ g: Graph) {
        for v in g.inputs { if let t = v.type?.tensorType { types[v.name] = t } }
        for v in g.valueInfo.values { if let t = v.type?.tensorType { types[v.name] = t } }
        for (name, t) in g.initializers {
            types[name] = t.type
            if t.byteCount <= Self.foldLimit { constants[name] = RTensor(t) }
        }
        // Graph inputs are fed at run time; an initializer that is also an
        // input is only a default the caller may override, so not constant.
        for v in g.inputs { constants[v.name] = nil }
        for node in g.nodes { visit(node) }
    }

    private mutating func visit(_ node: Node) {
        guard let entry = OpRegistry.entry(for: node) else {
            untypedOps.insert(node.opType)
            return
        }
        let inputs = node.inputs.map { $0.isEmpty ? nil : constants[$0] }
        let allConstant = zip(node.inputs, inputs).allSatisfy { $0.0.isEmpty || $0.1 != nil }
        if allConstant, node.subgraphs.isEmpty, !Self.nondeterministic.contains(node.opType), fold(node, entry, inputs) {
            return
        }
        if node.opType == "Shape", node.isDefaultDomain, let t = types[node.inputs[0]], let dims = t.fixedShape {
            let start = Self.clamp(node[attribute: "start"]?.intValue ?? 0, dims.count)
            let end = Self.clamp(node[attribute: "end"]?.intValue ?? Int64(dims.count), dims.count)
            let values = start < end ? dims[start..<end].map { Int64($0) } : []
            define(node.outputs[0], RTensor(.int64, shape: [values.count], values: values))
            return
        }
        guard let rule = entry.shape else {
            untypedOps.insert(node.opType)
            return
        }
        let context = ShapeContext(node: node, opset: opset, inputTypes: node.inputs.map { $0.isEmpty ? nil : types[$0] },
                                   constants: inputs)
        guard let outs = try? rule(context) else { return }
        for (name, t) in zip(node.outputs, outs) where !name.isEmpty { if let t { types[name] = t } }
    }

    /// Evaluates a node on constant inputs; false if the kernel fails or the result is large.
    private mutating func fold(_ node: Node, _ entry: OpEntry, _ inputs: [RTensor?]) -> Bool {
        let context = KernelContext(node: node, opset: opset, inputs: inputs,
                                    runSubgraph: { _, _ in throw OpError("subgraphs are not folded") }, threads: 1)
        guard let outs = try? entry.kernel(context) else { return false }
        for (name, t) in zip(node.outputs, outs) where !name.isEmpty {
            if t.byteCount <= Self.foldLimit { define(name, t) } else { types[name] = TensorType(t.type, fixed: t.shape) }
        }
        return true
    }

    private mutating func define(_ name: String, _ t: RTensor) {
        constants[name] = t
        types[name] = TensorType(t.type, fixed: t.shape)
    }

    static func clamp(_ v: Int64, _ rank: Int) -> Int {
        let i = Int(v) < 0 ? Int(v) + rank : Int(v)
        return min(max(i, 0), rank)
    }
}
