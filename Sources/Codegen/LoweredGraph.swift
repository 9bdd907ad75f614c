import IR
import Interpreter

/// Fake quantization parameters of one Q→DQ pair (per tensor).
struct FakeQuant: Equatable {
    var scale: Float, zeroPoint: Float, low: Float, high: Float
}

/// A node as the lowering sees it: Q→DQ pairs on activations become one
/// `FakeQuant` node; DequantizeLinear of constants and nodes whose outputs
/// shape inference folded to constants are gone (their values are constants).
struct LNode {
    var name: String
    var op: String
    var inputs: [String]
    var outputs: [String]
    /// The original node (attributes); for a fake-quant pair, the DQ.
    var node: Node
    var fakeQuant: FakeQuant?
    /// IR node names this stands for (both halves of a Q→DQ pair).
    var sources: [String]
}

/// The QDQ model with static shapes, constants and the lowered node list.
struct LoweredGraph {
    let graph: Graph
    let opset: Int64
    var shapes: [String: [Int]] = [:]
    var elementTypes: [String: ElementType] = [:]
    let inference: ShapeInference
    var nodes: [LNode] = []
    /// DequantizeLinear nodes of constant integer tensors, by output (weights, biases).
    var dequantizedConstants: [String: Node] = [:]
    var consumers: [String: [Int]] = [:]
    let graphOutputs: Set<String>

    init(model: Model, inputShapes: [String: [Int]]) throws(CodegenError) {
        var m = model
        for name in inputShapes.keys.sorted() where !m.graph.runtimeInputs.contains(where: { $0.name == name }) {
            throw .badInputShape(input: name, detail: "the model has no such input (inputs: \(m.graph.runtimeInputs.map(\.name).joined(separator: ", ")))")
        }
        for i in m.graph.inputs.indices where m.graph.initializers[m.graph.inputs[i].name] == nil {
            let v = m.graph.inputs[i]
            guard let t = v.type?.tensorType, let dims = t.shape else {
                throw .badInputShape(input: v.name, detail: "the input has no tensor shape")
            }
            if let given = inputShapes[v.name] {
                guard given.count == dims.count else {
                    throw .badInputShape(input: v.name, detail: "rank \(given.count) given, the input has rank \(dims.count)")
                }
                for (d, (g, dim)) in zip(given, dims).enumerated() {
                    if let f = dim.value, f != g { throw .badInputShape(input: v.name, detail: "dimension \(d) is fixed at \(f), \(g) given") }
                }
                m.graph.inputs[i].type = .tensor(TensorType(t.elementType, fixed: given))
            } else {
                var fixed: [Int] = []
                for (d, dim) in dims.enumerated() {
                    if let f = dim.value { fixed.append(f); continue }
                    // A symbolic leading dimension is the batch: compile for one sample.
                    guard d == 0 else {
                        if case .symbolic(let s) = dim { throw .symbolicInput(input: v.name, dim: d, name: s) }
                        throw .symbolicInput(input: v.name, dim: d, name: "?")
                    }
                    fixed.append(1)
                }
                m.graph.inputs[i].type = .tensor(TensorType(t.elementType, fixed: fixed))
            }
        }
        // Output types from the model would pin the old symbolic batch: let inference decide.
        for i in m.graph.outputs.indices { m.graph.outputs[i].type = nil }
        m.graph.valueInfo = [:]
        // Shape inference has no rule for some operators (Gemm, Conv, …): one run of
        // the interpreter on zeros gives every value's shape and type exactly; as
        // value_info they also let inference fold Shape → … → Reshape chains.
        var seen: [String: TensorType] = [:]
        if let interpreter = try? Interpreter(model: m, threads: 1, fuse: false) {
            var feeds: [String: RTensor] = [:]
            for v in m.graph.runtimeInputs {
                if let t = v.type?.tensorType, let s = t.fixedShape { feeds[v.name] = RTensor(type: t.elementType, shape: s) }
            }
            _ = try? interpreter.run(inputs: feeds) { value, _, tensor in seen[value] = TensorType(tensor.type, fixed: tensor.shape) }
        }
        let declared = Set(m.graph.inputs.map(\.name))
        for name in seen.keys.sorted() where !declared.contains(name) && m.graph.initializers[name] == nil {
            m.graph.valueInfo[name] = ValueInfo(name: name, type: .tensor(seen[name]!))
        }
        graph = m.graph
        opset = m.opsetVersion(domain: "") ?? 1
        inference = ShapeInference(model: m)
        for (name, t) in inference.types {
            if let s = t.fixedShape { shapes[name] = s }
            elementTypes[name] = t.elementType
        }
        for (name, t) in seen {
            shapes[name] = t.fixedShape
            elementTypes[name] = t.elementType
        }
        graphOutputs = Set(graph.outputs.map(\.name))
        try buildNodes()
    }

    func constant(_ name: String) -> RTensor? {
        if let c = inference.constants[name] { return c }
        if let t = graph.initializers[name] { return RTensor(t) }
        return nil
    }

    func isConstant(_ name: String) -> Bool {
        inference.constants[name] != nil || graph.initializers[name] != nil
    }

    func shape(_ name: String, node: String) throws(CodegenError) -> [Int] {
        guard let s = shapes[name] else { throw .unknownShape(value: name, node: node) }
        return s
    }

    private mutating func buildNodes() throws(CodegenError) {
        var uses: [String: [Int]] = [:]
        for (i, n) in graph.nodes.enumerated() { for v in n.inputs where !v.isEmpty { uses[v, default: []].append(i) } }
        var pairedQ: [String: Node] = [:]
        for n in graph.nodes {
            let label = n.name.isEmpty ? n.outputs.first ?? n.opType : n.name
            let outs = n.outputs.filter { !$0.isEmpty }
            if n.opType == "DequantizeLinear", n.isDefaultDomain, isConstant(n.inputs[0]) {
                dequantizedConstants[n.outputs[0]] = n
                continue
            }
            // A weight dequantized flat ([O][C·kh·kw], groups over a convolution's
            // flattened axes) and reshaped to [O][C][kh][kw]: the same elements in
            // the same order, so the layer reads the integers directly.
            if n.opType == "Reshape", n.isDefaultDomain, n.inputs.count >= 2, let dq = dequantizedConstants[n.inputs[0]],
               dq[attribute: "block_size"] != nil, let stored = graph.initializers[dq.inputs[0]]?.shape, stored.count == 2,
               let target = constant(n.inputs[1])?.int64Array()?.map({ Int($0) }), target.count > 2,
               stored == [target[0], target[1...].reduce(1, *)], !graphOutputs.contains(n.outputs[0]) {
                dequantizedConstants[n.outputs[0]] = dq
                continue
            }
            if !outs.isEmpty, outs.allSatisfy({ inference.constants[$0] != nil }), !outs.contains(where: graphOutputs.contains) {
                continue
            }
            if n.opType == "QuantizeLinear", n.isDefaultDomain, n.inputs.count >= 2, !graphOutputs.contains(n.outputs[0]),
               let readers = uses[n.outputs[0]], readers.allSatisfy({ graph.nodes[$0].opType == "DequantizeLinear" && Self.sameParameters(graph.nodes[$0], n) }) {
                pairedQ[n.outputs[0]] = n
                continue
            }
            if n.opType == "DequantizeLinear", n.isDefaultDomain, let q = pairedQ[n.inputs[0]] {
                let fq = try fakeQuant(q, label: label)
                nodes.append(LNode(name: label, op: "FakeQuant", inputs: [q.inputs[0]], outputs: [n.outputs[0]], node: n,
                                   fakeQuant: fq, sources: [q.name, n.name]))
                continue
            }
            nodes.append(LNode(name: label, op: n.opType, inputs: n.inputs, outputs: n.outputs, node: n, sources: [n.name]))
        }
        for (i, n) in nodes.enumerated() { for v in Set(n.inputs) where !v.isEmpty { consumers[v, default: []].append(i) } }
    }

    static func sameParameters(_ dq: Node, _ q: Node) -> Bool {
        dq.inputs.count == q.inputs.count && Array(dq.inputs.dropFirst()) == Array(q.inputs.dropFirst())
            && (dq[attribute: "axis"] == q[attribute: "axis"])
    }

    private func fakeQuant(_ q: Node, label: String) throws(CodegenError) -> FakeQuant {
        guard let s = constant(q.inputs[1]), s.count == 1 else {
            throw .unsupported(node: label, opType: "QuantizeLinear", detail: "activation scale must be one constant (per-tensor)")
        }
        let zp = q.inputs.count > 2 && !q.inputs[2].isEmpty ? constant(q.inputs[2]) : nil
        if q.inputs.count > 2, !q.inputs[2].isEmpty, zp == nil || zp!.count != 1 {
            throw .unsupported(node: label, opType: "QuantizeLinear", detail: "activation zero point must be one constant")
        }
        let type = zp?.type ?? .uint8
        guard let (lo, hi) = type.quantizedRange else {
            throw .unsupported(node: label, opType: "QuantizeLinear", detail: "zero point type \(type) is not an integer type")
        }
        return FakeQuant(scale: s.floatArray()[0], zeroPoint: zp?.floatArray()[0] ?? 0, low: lo, high: hi)
    }
}
