import IR

/// Load-time rewrite of QDQ patterns into the fused quantized operators that ONNX
/// Runtime's QDQ transformer builds at its default optimization level
/// (onnxruntime/core/optimizer/qdq_transformer/selectors_actions/
/// qdq_selector_action_transformer.cc), so that quantc's simulation of an exported
/// QDQ model computes what ORT computes, byte for byte, instead of DQ → float op → Q:
///
///     DQ(x), DQ(w int8), [DQ(b int32)] → Conv   → Q   ⇒ QLinearConv
///     DQ(a), DQ(b)                     → MatMul → Q   ⇒ QLinearMatMul
///     DQ(a), DQ(b), [DQ(c int32)]      → Gemm  [→ Q]  ⇒ QGemm (float output without Q)
///     DQ(a), DQ(b)                     → Add|Mul → Q  ⇒ QLinearAdd | QLinearMul
///     DQ(x) → GlobalAveragePool → Q                   ⇒ QLinearGlobalAveragePool
///
/// A float op whose float result only its Q reads, with every activation input
/// dequantized from an 8-bit tensor of the Q's type with one constant scale and zero
/// point, as ORT's selectors require. The DQ nodes stay while something else reads
/// them. Everything else (lookup-table operators such as Sigmoid and Concat, whose
/// tables ORT builds from the same float DQ → op → Q arithmetic, pooling, shape ops)
/// runs as written. A graph without QuantizeLinear/DequantizeLinear is untouched.
struct QDQFusion {
    var nodes: [Node]
    var constants: [String: RTensor]
    let outputs: Set<String>
    /// DequantizeLinear nodes of constants that were folded at load, by output.
    let folded: [String: Node]
    private var counter = 0

    init(nodes: [Node], constants: [String: RTensor], outputs: Set<String>, folded: [String: Node]) {
        self.nodes = nodes
        self.constants = constants
        self.outputs = outputs
        self.folded = folded
    }

    /// A dequantized input: the quantized value and its scale and zero point names.
    private struct Dequantized {
        var value: String, scale: String, zeroPoint: String
        /// The DQ's `axis` (ONNX's default 1), for per-channel scales.
        var axis: Int
    }

    mutating func run() {
        guard !folded.isEmpty || nodes.contains(where: { $0.isDefaultDomain && $0.opType == "DequantizeLinear" }) else { return }
        var producer: [String: Int] = [:]
        var uses: [String: Int] = [:]
        for (i, n) in nodes.enumerated() {
            for o in n.outputs where !o.isEmpty { producer[o] = i }
            for input in n.inputs where !input.isEmpty { uses[input, default: 0] += 1 }
            for (_, sub) in n.subgraphs { for v in sub.freeVariables() { uses[v, default: 0] += 2 } }
        }
        var readers: [String: [Int]] = [:]
        for (i, n) in nodes.enumerated() { for input in Set(n.inputs) where !input.isEmpty { readers[input, default: []].append(i) } }
        var alive = [Bool](repeating: true, count: nodes.count)

        /// The DQ producing `value`, if it dequantizes `type` (nil: any 8-bit type) per tensor with constant parameters.
        func dequantized(_ value: String, type: ElementType?, perTensor: Bool = true) -> Dequantized? {
            guard let dq = producer[value].map({ nodes[$0] }) ?? folded[value] else { return nil }
            guard dq.isDefaultDomain, dq.opType == "DequantizeLinear", dq.inputs.count >= 2, let scale = constants[dq.inputs[1]],
                  scale.type == .float32, (dq[attribute: "block_size"]?.intValue ?? 0) == 0 else { return nil }
            if perTensor && scale.count != 1 { return nil }
            let zp = dq.inputs.count > 2 && !dq.inputs[2].isEmpty ? dq.inputs[2] : ""
            if !zp.isEmpty, constants[zp] == nil { return nil }
            return Dequantized(value: dq.inputs[0], scale: dq.inputs[1], zeroPoint: zp, axis: Int(dq[attribute: "axis"]?.intValue ?? 1))
        }
        /// The element type of a value, when known from a constant or the DQ/Q that made it.
        func elementType(_ d: Dequantized) -> ElementType? {
            if let c = constants[d.value] { return c.type }
            if let z = constants[d.zeroPoint] { return z.type }
            if let p = producer[d.value], nodes[p].opType == "QuantizeLinear", nodes[p].inputs.count > 2,
               let z = constants[nodes[p].inputs[2]] { return z.type }
            return nil
        }
        /// The single Q reading `value`, with its output type, if it quantizes per tensor.
        func quantizer(of value: String) -> (index: Int, scale: String, zeroPoint: String, type: ElementType)? {
            guard !outputs.contains(value), uses[value] == 1, let r = readers[value], r.count == 1 else { return nil }
            let q = nodes[r[0]]
            guard q.isDefaultDomain, q.opType == "QuantizeLinear", q.inputs.first == value, q.inputs.count >= 3,
                  let s = constants[q.inputs[1]], s.type == .float32, s.count == 1,
                  let z = constants[q.inputs[2]], z.count == 1, z.type == .uint8 || z.type == .int8,
                  !q.outputs[0].isEmpty else { return nil }
            return (r[0], q.inputs[1], q.inputs[2], z.type)
        }
        /// A zero point name, made (zeros of `type`, `count` of them) when left out.
        func zeroPoint(_ name: String, type: ElementType, count: Int, shape: [Int]) -> String {
            if !name.isEmpty { return name }
            counter += 1
            let n = "quantc.qdq.\(counter).zero_point"
            constants[n] = RTensor(type: type, shape: shape)
            return n
        }

        for i in nodes.indices where alive[i] {
            let node = nodes[i]
            guard node.isDefaultDomain, node.outputs.count == 1, !node.outputs[0].isEmpty, node.subgraphs.isEmpty else { continue }
            let out = node.outputs[0]
            var fused: Node?
            var q: (index: Int, scale: String, zeroPoint: String, type: ElementType)?
            switch node.opType {
            case "Conv":
                guard let qq = quantizer(of: out), node.inputs.count >= 2,
                      let x = dequantized(node.inputs[0], type: qq.type), elementType(x) == qq.type,
                      let w = dequantized(node.inputs[1], type: nil, perTensor: false), let wt = constants[w.value],
                      wt.type == .int8 || wt.type == .uint8, let ws = constants[w.scale],
                      ws.count == 1 || (ws.rank == 1 && ws.count == wt.shape[0] && w.axis == 0)
                else { continue }
                var bias = ""
                if node.inputs.count > 2, !node.inputs[2].isEmpty {
                    guard let b = dequantized(node.inputs[2], type: nil, perTensor: false), let bt = constants[b.value],
                          bt.type == .int32, constants[b.zeroPoint].map({ $0.array(Int32.self).allSatisfy { $0 == 0 } }) ?? true
                    else { continue }
                    bias = b.value
                }
                q = qq
                let wz = zeroPoint(w.zeroPoint, type: wt.type, count: ws.count, shape: ws.shape)
                fused = Node(name: node.name, opType: "QLinearConv",
                             inputs: [x.value, x.scale, zeroPoint(x.zeroPoint, type: qq.type, count: 1, shape: []),
                                      w.value, w.scale, wz, qq.scale, qq.zeroPoint] + (bias.isEmpty ? [] : [bias]),
                             outputs: [nodes[qq.index].outputs[0]], attributes: node.attributes)
            case "MatMul":
                guard let qq = quantizer(of: out), node.inputs.count == 2,
                      let a = dequantized(node.inputs[0], type: qq.type), elementType(a) == qq.type,
                      let b = dequantized(node.inputs[1], type: nil, perTensor: false), let bt = constants[b.value],
                      bt.rank == 2, bt.type == .int8 || bt.type == .uint8, let bs = constants[b.scale],
                      bs.count == 1 || (bs.rank == 1 && bs.count == bt.shape[1] && b.axis == 1)
                else { continue }
                q = qq
                fused = Node(name: node.name, opType: "QLinearMatMul",
                             inputs: [a.value, a.scale, zeroPoint(a.zeroPoint, type: qq.type, count: 1, shape: []),
                                      b.value, b.scale, zeroPoint(b.zeroPoint, type: bt.type, count: bs.count, shape: bs.shape),
                                      qq.scale, qq.zeroPoint],
                             outputs: [nodes[qq.index].outputs[0]])
            case "Gemm":
                let qq = quantizer(of: out)
                let transB = (node[attribute: "transB"]?.intValue ?? 0) != 0
                guard node.inputs.count >= 2, (node[attribute: "beta"]?.floatValue ?? 1) == 1,
                      let a = dequantized(node.inputs[0], type: nil), let at = elementType(a), at == .uint8 || at == .int8,
                      qq.map({ $0.type == at }) ?? true,
                      let b = dequantized(node.inputs[1], type: nil, perTensor: false), let bt = constants[b.value],
                      bt.rank == 2, bt.type == .int8 || bt.type == .uint8, let bs = constants[b.scale],
                      bs.count == 1 || (bs.rank == 1 && bs.count == bt.shape[transB ? 0 : 1]
                                        && b.axis == (transB ? 0 : 1))
                else { continue }
                var c = ""
                if node.inputs.count > 2, !node.inputs[2].isEmpty {
                    guard let cd = dequantized(node.inputs[2], type: nil, perTensor: false), let ct = constants[cd.value],
                          ct.type == .int32, constants[cd.zeroPoint].map({ $0.array(Int32.self).allSatisfy { $0 == 0 } }) ?? true
                    else { continue }
                    c = cd.value
                }
                q = qq
                var inputs = [a.value, a.scale, zeroPoint(a.zeroPoint, type: at, count: 1, shape: []),
                              b.value, b.scale, zeroPoint(b.zeroPoint, type: bt.type, count: bs.count, shape: bs.shape), c]
                if let qq { inputs += [qq.scale, qq.zeroPoint] }
                fused = Node(name: node.name, opType: "QGemm", domain: "com.microsoft", inputs: inputs,
                             outputs: [qq.map { nodes[$0.index].outputs[0] } ?? out],
                             attributes: node.attributes.filter { ["transA", "transB", "alpha"].contains($0.name) })
            case "Add", "Mul":
                guard let qq = quantizer(of: out), node.inputs.count == 2,
                      let a = dequantized(node.inputs[0], type: qq.type), elementType(a) == qq.type,
                      let b = dequantized(node.inputs[1], type: qq.type), elementType(b) == qq.type
                else { continue }
                q = qq
                fused = Node(name: node.name, opType: "QLinear" + node.opType, domain: "com.microsoft",
                             inputs: [a.value, a.scale, zeroPoint(a.zeroPoint, type: qq.type, count: 1, shape: []),
                                      b.value, b.scale, zeroPoint(b.zeroPoint, type: qq.type, count: 1, shape: []),
                                      qq.scale, qq.zeroPoint],
                             outputs: [nodes[qq.index].outputs[0]])
            case "GlobalAveragePool":
                guard let qq = quantizer(of: out), let x = dequantized(node.inputs[0], type: qq.type), elementType(x) == qq.type
                else { continue }
                q = qq
                fused = Node(name: node.name, opType: "QLinearGlobalAveragePool", domain: "com.microsoft",
                             inputs: [x.value, x.scale, zeroPoint(x.zeroPoint, type: qq.type, count: 1, shape: []),
                                      qq.scale, qq.zeroPoint],
                             outputs: [nodes[qq.index].outputs[0]], attributes: [Attribute("channels_last", .int(0))])
            default:
                continue
            }
            guard let fused else { continue }
            // The fused node runs where the op was: its inputs are all made before it,
            // and the Q's output is read only after the Q, which came later.
            nodes[i] = fused
            if let q { alive[q.index] = false }
        }
        nodes = nodes.indices.filter { alive[$0] }.map { nodes[$0] }
        // DequantizeLinear nodes nothing reads any more.
        while true {
            var read = outputs
            for n in nodes {
                read.formUnion(n.inputs)
                for (_, sub) in n.subgraphs { read.formUnion(sub.freeVariables()) }
            }
            let before = nodes.count
            nodes.removeAll { $0.isDefaultDomain && $0.opType == "DequantizeLinear" && !read.contains($0.outputs[0]) }
            if nodes.count == before { break }
        }
    }
}
