import Artifact
import IR
import Interpreter

extension Lowering {
    /// An elementwise node as the anchor of an eltwise launch.
    mutating func eltwise(_ n: LNode) throws(CodegenError) -> KernelLaunch? {
        let os = try g.shape(n.outputs[0], node: n.name)
        var epi = Epilogue()
        var values: [String: Epilogue.Expr] = [:]
        guard let e = expression(n, shape: os, values: &values, epilogue: &epi) else {
            throw .unsupported(node: n.name, opType: n.op, detail: "operands cannot be broadcast in one pass (or a non-constant parameter)")
        }
        epi.result = e
        let count = os.reduce(1, *)
        var l = KernelLaunch(nodes: n.sources, template: .eltwise, shape: LayerShape(template: .eltwise, m: 1, n: count, k: 1),
                             defines: [("COUNT", "\(count)")], output: n.outputs[0], outputShape: os, args: [], flops: Double(count), bytes: Double(4 * count)) { cfg in
            let global = [roundUp(ceilDiv(max(count, 1), cfg["VPT"]), cfg["WG"])]
            return .init(config: cfg, global: global, local: [cfg["WG"]],
                         efficiency: Double(max(count, 1)) / Double(global[0] * cfg["VPT"]))
        }
        l.epilogue = epi
        return l
    }

    /// The expression of an elementwise node whose inputs are in `values`
    /// (computed in registers), constants, or arena values already written;
    /// nil if the node cannot be fused at `shape`.
    mutating func expression(_ n: LNode, shape: [Int], values: inout [String: Epilogue.Expr], epilogue epi: inout Epilogue) -> Epilogue.Expr? {
        guard n.node.isDefaultDomain || n.op == "FakeQuant", (try? g.shape(n.outputs[0], node: n.name)) == shape else { return nil }
        func input(_ v: String) -> Epilogue.Expr? {
            if let e = values[v] { return e }
            if let c = g.constant(v), !available.contains(rootOf(v)) {
                guard c.type == .float32 || c.type == .float16 || c.type == .float64, Self.broadcasts(c.shape, to: shape) else { return nil }
                if c.count == 1 { return .constant(c.floatArray()[0]) }
                if !weights.contains("\(v).const") { weights.addFloats("\(v).const", c.floatArray(), shape: c.shape) }
                return epi.operand(.weights, "\(v).const", c.shape)
            }
            let r = rootOf(v)
            guard available.contains(r), g.elementTypes[v] == .float32, let s = g.shapes[v], Self.broadcasts(s, to: shape) else { return nil }
            return epi.operand(.arena, r, s)
        }
        let ins = n.inputs.filter { !$0.isEmpty }
        if n.op == "FakeQuant", let fq = n.fakeQuant {
            guard let x = input(n.inputs[0]) else { return nil }
            return epi.append(.fakeQuant(x, scale: fq.scale, zeroPoint: fq.zeroPoint, low: fq.low, high: fq.high))
        }
        if let fn = Self.unary[n.op] {
            if n.op == "Gelu", (n.node[attribute: "approximate"]?.stringValue ?? "none") != "none" { return nil }
            guard ins.count == 1, let x = input(ins[0]) else { return nil }
            return epi.append(.call(fn, x, []))
        }
        switch n.op {
        case "HardSigmoid":
            guard let x = input(ins[0]) else { return nil }
            return epi.append(.call("qc_hardsigmoid", x, [n.node[attribute: "alpha"]?.floatValue ?? 0.2, n.node[attribute: "beta"]?.floatValue ?? 0.5]))
        case "LeakyRelu":
            guard let x = input(ins[0]) else { return nil }
            return epi.append(.call("qc_leakyrelu", x, [n.node[attribute: "alpha"]?.floatValue ?? 0.01]))
        case "Neg":
            guard let x = input(ins[0]) else { return nil }
            return epi.append(.binary("*", x, .constant(-1)))
        case "Clip":
            guard let x = input(n.inputs[0]) else { return nil }
            var lo = n.node[attribute: "min"]?.floatValue ?? -.infinity, hi = n.node[attribute: "max"]?.floatValue ?? .infinity
            if n.inputs.count > 1, !n.inputs[1].isEmpty {
                guard let c = g.constant(n.inputs[1]), c.count == 1 else { return nil }
                lo = c.floatArray()[0]
            }
            if n.inputs.count > 2, !n.inputs[2].isEmpty {
                guard let c = g.constant(n.inputs[2]), c.count == 1 else { return nil }
                hi = c.floatArray()[0]
            }
            return epi.append(.call("qc_clamp", x, [lo, hi]))
        case "Pow":
            guard let x = input(ins[0]), let c = g.constant(ins[1]), c.count == 1 else { return nil }
            switch c.floatArray()[0] {
            case 1: return x
            case 2: return epi.append(.binary("*", x, x))
            case 0.5: return epi.append(.call("qc_sqrt", x, []))
            default: return nil
            }
        default:
            guard let op = Self.binary[n.op], ins.count == 2, let a = input(ins[0]), let b = input(ins[1]) else { return nil }
            return epi.append(.binary(op, a, b))
        }
    }

    static func broadcasts(_ s: [Int], to out: [Int]) -> Bool {
        guard s.count <= out.count else { return false }
        return zip(s.reversed(), out.reversed()).allSatisfy { $0 == 1 || $0 == $1 }
    }

    /// Fuses the elementwise nodes that follow a launch's output into its
    /// epilogue: repeatedly takes a consumer of a value computed in registers
    /// whose other inputs are ready, then keeps the longest prefix of those
    /// nodes whose intermediate values nobody else reads.
    mutating func fuseEpilogue(into l: inout KernelLaunch, anchor: Int, value: String? = nil) {
        let start = value ?? l.output
        guard g.elementTypes[start] == .float32 else { return }
        var values: [String: Epilogue.Expr] = [start: l.epilogue.isEmpty ? .acc : l.epilogue.result]
        var epi = l.epilogue
        var taken: [(node: Int, epilogue: Epilogue, values: [String: Epilogue.Expr])] = []
        var inGroup: Set<Int> = [anchor]
        while true {
            var candidates = Set<Int>()
            for v in values.keys { for c in g.consumers[v] ?? [] where !done[c] && !inGroup.contains(c) { candidates.insert(c) } }
            var progressed = false
            for c in candidates.sorted() {
                let n = g.nodes[c]
                guard n.outputs.filter({ !$0.isEmpty }).count == 1 else { continue }
                var e2 = epi, v2 = values
                guard let e = expression(n, shape: l.outputShape, values: &v2, epilogue: &e2) else { continue }
                v2[n.outputs[0]] = e
                e2.result = e
                epi = e2; values = v2
                inGroup.insert(c)
                taken.append((c, e2, v2))
                progressed = true
                break
            }
            if !progressed { break }
        }
        // The longest prefix whose values, all but the last, are read only inside it.
        var chosen = 0
        for len in stride(from: taken.count, through: 1, by: -1) {
            let members = Set([anchor] + taken.prefix(len).map(\.node))
            let last = g.nodes[taken[len - 1].node].outputs[0]
            var ok = true
            for v in taken[len - 1].values.keys where v != last {
                if g.graphOutputs.contains(v) || (g.consumers[v] ?? []).contains(where: { !members.contains($0) }) { ok = false; break }
            }
            if ok { chosen = len; break }
        }
        guard chosen > 0 else { return }
        let pick = taken[chosen - 1]
        for t in taken.prefix(chosen) {
            done[t.node] = true
            l.nodes += g.nodes[t.node].sources
        }
        l.epilogue = pick.epilogue
        let last = g.nodes[pick.node].outputs[0]
        if value == nil { l.output = last } else { l.output = last }
        l.flops += Double(l.outputShape.reduce(1, *) * chosen)
        if let fq = g.nodes[pick.node].fakeQuant { quantized[last] = fq }
    }
}
