import IR

/// Load-time rewrites of the interpreter's graph that save passes over memory
/// (as ONNX Runtime's graph optimizations do at session creation):
///
///  1. an inference BatchNormalization after a Conv, ConvTranspose or Gemm
///     with constant weights is folded into them (BatchNormFolding, the same
///     arithmetic as the fold-batchnorm pass; results change by rounding only);
///  2. a chain of elementwise nodes after a Conv, ConvTranspose, Gemm, MatMul,
///     BatchNormalization or Add (each node the only reader of the previous
///     one's output) becomes that node's ``Epilogue``: Mul/Add/Sub/Div by
///     scalar or per-channel constants, Add/Sum of a same-shaped tensor (a
///     residual), the activations of ``Activation``, and gates y·g(y) where g
///     is such a chain read only by that Mul (SiLU y·sigmoid(y), HardSwish
///     written out as y·clip(y + 3, 0, 6)). The fused node runs where the
///     chain's last node was, reads the chain's other inputs as extra inputs
///     and produces its output; the epilogue computes exactly what the nodes
///     did, in one pass over the output (Conv and BatchNormalization run it on
///     each block they write, while it is in cache).
///
/// Values that are graph outputs, or read by a subgraph, are never fused away.
struct Fusion {
    var nodes: [Node]
    /// Constant values (initializers a caller cannot override); new folded
    /// weights are added here.
    var constants: [String: RTensor]
    let outputs: Set<String>
    let opset: Int64
    /// Epilogues by the output name of the node they follow.
    var epilogues: [String: Epilogue] = [:]
    private var counter = 0

    init(graph: Graph, constants: [String: RTensor], opset: Int64) {
        nodes = graph.nodes
        self.constants = constants
        outputs = Set(graph.outputs.map(\.name))
        self.opset = opset
    }

    /// Operators that can head a fused chain, with their input count
    /// (extra inputs of the chain are appended after it).
    static let heads: [String: Int] = ["Conv": 3, "ConvTranspose": 3, "Gemm": 3, "MatMul": 2, "BatchNormalization": 5, "Add": 2]

    mutating func run() {
        // Readers of each value; subgraph captures count as uses that cannot
        // be fused, graph outputs are never fused away.
        var uses: [String: Int] = [:]
        var readers: [String: [Int]] = [:]
        for (i, n) in nodes.enumerated() {
            for input in n.inputs where !input.isEmpty {
                uses[input, default: 0] += 1
                if readers[input]?.last != i { readers[input, default: []].append(i) }
            }
            for (_, sub) in n.subgraphs { for v in sub.freeVariables() { uses[v, default: 0] += 2 } }
        }
        var alive = [Bool](repeating: true, count: nodes.count)
        var fused = [Bool](repeating: false, count: nodes.count)
        /// The nodes reading `value` (each once), if there are `count` and it may be fused away.
        func readersOf(_ value: String, count: Int) -> [Int]? {
            guard !outputs.contains(value), uses[value] == count, let r = readers[value], r.count == count,
                  r.allSatisfy({ alive[$0] }) else { return nil }
            return r
        }
        for i in nodes.indices where alive[i] && !fused[i] {
            var head = nodes[i]
            guard head.isDefaultDomain, let arity = Self.heads[head.opType], head.inputs.count <= arity, head.subgraphs.isEmpty,
                  head.outputs.count == 1 || (head.opType == "BatchNormalization" && BatchNormFolding.isInference(head)),
                  let out = head.outputs.first, !out.isEmpty else { continue }
            var at = i
            // 1. Batch norms folded into the weights.
            while BatchNormFolding.canFold(into: head), let j = readersOf(head.outputs[0], count: 1)?.first,
                  BatchNormFolding.isInference(nodes[j]), nodes[j].inputs[0] == head.outputs[0],
                  let folded = foldBatchNorm(head, nodes[j]) {
                alive[at] = false
                head = folded
                nodes[j] = head
                at = j
            }
            // 2. The elementwise chain after it.
            var epilogue = Epilogue(headOutput: head.outputs[0])
            var value = head.outputs[0]
            var absorbed: [Int] = []
            while true {
                if let j = readersOf(value, count: 1)?.first, let step = epilogueStep(nodes[j], reading: value) {
                    epilogue.steps.append(step)
                    absorbed.append(j)
                    value = nodes[j].outputs[0]
                    continue
                }
                // value · g(value), g a chain of single-input steps (SiLU: x·sigmoid(x); HardSwish written out).
                if let pair = readersOf(value, count: 2),
                   let (gate, path) = gateStep(value, pair[0], pair[1], readersOf) ?? gateStep(value, pair[1], pair[0], readersOf) {
                    epilogue.steps.append(gate)
                    absorbed += path
                    value = nodes[path.last!].outputs[0]
                    continue
                }
                break
            }
            if !absorbed.isEmpty {
                // Inputs the fused nodes read from outside the chain become extra inputs.
                var inside: Set<String> = [head.outputs[0]]
                var extra: [String] = []
                for j in absorbed {
                    for input in nodes[j].inputs where !input.isEmpty && !inside.contains(input) && !extra.contains(input) {
                        extra.append(input)
                    }
                    inside.insert(nodes[j].outputs[0])
                    epilogue.nodes.append(nodes[j])
                    alive[j] = false
                }
                epilogue.inputIndex = Dictionary(uniqueKeysWithValues: extra.enumerated().map { ($1, arity + $0) })
                alive[at] = false
                at = absorbed.max()!
                alive[at] = true
                head.inputs += [String](repeating: "", count: arity - head.inputs.count) + extra
                head.outputs = [value]
                epilogues[value] = epilogue
            }
            nodes[at] = head
            fused[at] = true
        }
        nodes = nodes.indices.filter { alive[$0] }.map { nodes[$0] }
    }

    /// For `value` read by nodes `first` and `mul`: if `first` starts a chain of
    /// single-input steps whose result g is only read by `mul` = Mul(value, g),
    /// the step value·g and the chain's nodes (ending with `mul`).
    private func gateStep(_ value: String, _ first: Int, _ mul: Int, _ readersOf: (String, Int) -> [Int]?)
        -> (Epilogue.Step, [Int])? {
        var inner: [Epilogue.Step] = [], path: [Int] = []
        var j = first, v = value
        while true {
            guard let step = epilogueStep(nodes[j], reading: v) else { return nil }
            if case .residual = step { return nil }
            inner.append(step)
            path.append(j)
            v = nodes[j].outputs[0]
            guard let next = readersOf(v, 1)?.first else { return nil }
            if next == mul {
                let m = nodes[mul]
                guard m.isDefaultDomain, m.opType == "Mul", m.outputs.count == 1, !m.outputs[0].isEmpty,
                      Set(m.inputs) == [value, v], m.inputs.count == 2 else { return nil }
                return (.gate(inner), path + [mul])
            }
            j = next
        }
    }

    /// How `node` continues an epilogue whose current value is `value`.
    private func epilogueStep(_ node: Node, reading value: String) -> Epilogue.Step? {
        guard node.isDefaultDomain, node.outputs.count == 1, !node.outputs[0].isEmpty, node.subgraphs.isEmpty else { return nil }
        if let f = Activation.of(node, opset: opset, constant: { constants[$0] }), node.inputs[0] == value {
            return .activation(f)
        }
        guard node.inputs.count == 2, node.inputs.allSatisfy({ !$0.isEmpty }) else { return nil }
        let k = node.inputs[0] == value ? 1 : 0
        let other = node.inputs[k]
        guard node.inputs[1 - k] == value, other != value else { return nil }
        let c = constants[other]
        if let c, c.type != .float32 { return nil }
        switch node.opType {
        case "Add", "Sum":
            return c.map { .shift($0, negate: false) } ?? .residual(other)
        case "Mul":
            return c.map { .scale($0) }
        case "Sub":
            return k == 1 ? c.map { .shift($0, negate: true) } : nil
        case "Div":
            return k == 1 ? c.map { .divide($0) } : nil
        default:
            return nil
        }
    }

    /// `conv` with `bn` folded into new constant weights and bias, or nil.
    private mutating func foldBatchNorm(_ producer: Node, _ bn: Node) -> Node? {
        func floats(_ name: String) -> [Float]? {
            guard let t = constants[name], t.type == .float32 else { return nil }
            return t.array(Float.self)
        }
        guard let w = constants[producer.inputs[1]], w.type == .float32,
              let scale = floats(bn.inputs[1]), let shift = floats(bn.inputs[2]),
              let mean = floats(bn.inputs[3]), let variance = floats(bn.inputs[4]) else { return nil }
        var bias: [Float]?
        if producer.inputs.count >= 3, !producer.inputs[2].isEmpty {
            guard let b = floats(producer.inputs[2]) else { return nil }
            bias = b
        }
        guard let (newW, newB) = BatchNormFolding.fold(producer: producer, weights: w.array(Float.self), weightShape: w.shape,
                                                       bias: bias, batchNorm: bn, scale: scale, shift: shift, mean: mean,
                                                       variance: variance) else { return nil }
        counter += 1
        let wName = "quantc.fused.\(counter).weight", bName = "quantc.fused.\(counter).bias"
        constants[wName] = RTensor(floats: newW, shape: w.shape)
        constants[bName] = RTensor(floats: newB, shape: [newB.count])
        var fused = producer
        fused.inputs[1] = wName
        if fused.inputs.count < 3 { fused.inputs.append(bName) } else { fused.inputs[2] = bName }
        if fused.opType == "Gemm" { fused[attribute: "beta"] = nil }
        fused.outputs = [bn.outputs[0]]
        return fused
    }

}

/// Elementwise work fused after a node's kernel (see ``Fusion``).
struct Epilogue: @unchecked Sendable {
    indirect enum Step {
        /// y·c with a constant c that is a scalar or one value per channel (axis 1).
        case scale(RTensor)
        /// y + c (y − c when negated), c as for scale.
        case shift(RTensor, negate: Bool)
        /// y / c, c as for scale.
        case divide(RTensor)
        /// y + r, r a value of y's shape (an extra input of the fused node).
        case residual(String)
        case activation(Activation)
        /// y · g(y), g a sequence of the steps above but residual.
        case gate([Step])
    }

    /// The head node's own output value (no longer in the graph).
    let headOutput: String
    /// The fused nodes, in order; `apply` falls back to their kernels.
    var nodes: [Node] = []
    var steps: [Step] = []
    /// Position of each extra input among the fused node's inputs.
    var inputIndex: [String: Int] = [:]

    init(headOutput: String) { self.headOutput = headOutput }

    /// One step with its constants resolved for an output of a given shape.
    fileprivate indirect enum Resolved {
        case scale(UnsafePointer<Float>, perChannel: Bool)
        case shift(UnsafePointer<Float>, perChannel: Bool, negate: Bool)
        case divide(UnsafePointer<Float>, perChannel: Bool)
        case residual(UnsafePointer<Float>)
        case activation(Activation)
        case gate([Resolved])
    }

    /// Applies the epilogue to `y`, the head node's output, in place when no
    /// other value shares its memory. In one pass when `y` is float32, every
    /// constant is a scalar or per channel, and every residual has y's shape;
    /// otherwise by the fused nodes' own kernels. Either way the result is
    /// the one the nodes compute.
    func apply(to y: inout RTensor, inputs: [RTensor?], node: Node, opset: Int64, threads: Int) throws {
        if let plan = plan(for: y, inputs: inputs) {
            if !isKnownUniquelyReferenced(&y.buffer) {
                let copy = RTensor(type: y.type, shape: y.shape)
                copy.buffer.pointer.copyMemory(from: y.buffer.pointer, byteCount: y.byteCount)
                y = copy
            }
            plan.runAll(y.buffer.pointer, threads: threads)
            return
        }
        // The general path: the fused nodes one after another.
        var values: [String: RTensor] = [headOutput: y]
        for (name, t) in zip(node.inputs, inputs) where !name.isEmpty { values[name] = t }
        for n in nodes {
            let ins = n.inputs.map { $0.isEmpty ? nil : values[$0] }
            guard let entry = OpRegistry.entry(for: n) else { throw OpError("no kernel for \(n.opType)") }
            let ctx = KernelContext(node: n, opset: opset, inputs: ins, runSubgraph: { _, _ in throw OpError("no subgraphs") },
                                    threads: threads)
            guard let out = try entry.kernel(ctx).first else { throw OpError("\(n.opType) produced no output") }
            values[n.outputs[0]] = out
        }
        y = values[nodes.last!.outputs[0]]!
    }

    /// Elements per block: a gate's scratch, and the stretch every step runs over while it is in cache.
    static let block = 2048

    /// The fast path for an output `y`, or nil when it does not apply.
    func plan(for y: RTensor, inputs: [RTensor?]) -> EpiloguePlan? {
        guard let steps = resolve(steps, for: y, inputs: inputs) else { return nil }
        let channels = y.rank >= 2 ? y.shape[1] : 1
        let inner = y.rank >= 2 ? y.shape[2...].reduce(1, *) : y.count
        let perChannel = Self.perChannel(steps)
        // Per-channel values on tiny planes (a MatMul's bias per column) would
        // cost a step per element: the nodes' own kernels do better.
        if perChannel && inner < 16 { return nil }
        return EpiloguePlan(steps: steps, perChannel: perChannel, count: y.count, planes: inner == 0 ? 0 : y.count / inner, channels: channels, inner: inner)
    }

    /// Whether a step reads one value per channel.
    fileprivate static func perChannel(_ steps: [Resolved]) -> Bool {
        steps.contains {
            switch $0 {
            case .scale(_, let per), .shift(_, let per, _), .divide(_, let per): per
            case .gate(let inner): perChannel(inner)
            case .residual, .activation: false
            }
        }
    }

    /// Steps with their data pointers, or nil when the fast path does not apply.
    private func resolve(_ steps: [Step], for y: RTensor, inputs: [RTensor?]) -> [Resolved]? {
        guard y.type == .float32 else { return nil }
        func constant(_ c: RTensor) -> (UnsafePointer<Float>, Bool)? {
            let p = UnsafePointer(c.pointer(Float.self))
            if c.count == 1 && c.rank <= y.rank { return (p, false) }
            // Per channel: c right-aligned to y's rank varies along axis 1 only, with y's channel count.
            guard y.rank >= 2, c.rank <= y.rank else { return nil }
            let padded = [Int](repeating: 1, count: y.rank - c.rank) + c.shape
            guard padded[1] == y.shape[1], padded.indices.allSatisfy({ $0 == 1 || padded[$0] == 1 }) else { return nil }
            return (p, true)
        }
        var out: [Resolved] = []
        for s in steps {
            switch s {
            case .scale(let c):
                guard let (p, per) = constant(c) else { return nil }
                out.append(.scale(p, perChannel: per))
            case .shift(let c, let negate):
                guard let (p, per) = constant(c) else { return nil }
                out.append(.shift(p, perChannel: per, negate: negate))
            case .divide(let c):
                guard let (p, per) = constant(c) else { return nil }
                out.append(.divide(p, perChannel: per))
            case .residual(let name):
                guard let i = inputIndex[name], i < inputs.count, let r = inputs[i], r.type == .float32, r.shape == y.shape else { return nil }
                out.append(.residual(UnsafePointer(r.pointer(Float.self))))
            case .activation(let f):
                out.append(.activation(f))
            case .gate(let inner):
                guard let g = resolve(inner, for: y, inputs: inputs) else { return nil }
                out.append(.gate(g))
            }
        }
        return out
    }

    /// Runs the steps in place on `count` elements of one channel plane, at
    /// element `offset` of the output (residuals are read at the same offset).
    fileprivate static func run(_ steps: [Resolved], on row: UnsafeMutablePointer<Float>, offset: Int, count: Int,
                            channel: Int, scratch: UnsafeMutablePointer<Float>) {
        for s in steps {
            switch s {
            case .gate(let inner):
                // g(y) in scratch (its steps hold no gate), then y·g.
                scratch.update(from: row, count: count)
                run(inner, on: scratch, offset: offset, count: count, channel: channel, scratch: scratch)
                for i in 0..<count { row[i] = row[i] * scratch[i] }
            case .scale(let c, let per):
                let v = c[per ? channel : 0]
                for i in 0..<count { row[i] = row[i] * v }
            case .shift(let c, let per, let negate):
                let v = c[per ? channel : 0]
                if negate {
                    for i in 0..<count { row[i] = row[i] - v }
                } else {
                    for i in 0..<count { row[i] = row[i] + v }
                }
            case .divide(let c, let per):
                let v = c[per ? channel : 0]
                for i in 0..<count { row[i] = row[i] / v }
            case .residual(let r):
                let src = r + offset
                for i in 0..<count { row[i] = row[i] + src[i] }
            case .activation(let f):
                f.apply(row, count)
            }
        }
    }
}

/// An epilogue resolved for one float32 output [N, C, inner...] (N·C planes of
/// `inner` elements). A kernel that writes its output in blocks runs it on
/// each block while the block is in cache; steps are elementwise, so the
/// result does not depend on the blocks.
struct EpiloguePlan: @unchecked Sendable {
    fileprivate let steps: [Epilogue.Resolved]
    /// Whether a step reads per-channel values (else elements are interchangeable).
    let perChannel: Bool
    let count: Int, planes: Int, channels: Int, inner: Int

    /// Runs the epilogue in place on elements `columns` of plane `plane` of y.
    func run(_ y: UnsafeMutableRawPointer, plane: Int, columns: Range<Int>) {
        let p = y.assumingMemoryBound(to: Float.self)
        let base = plane * inner, channel = plane % channels
        withUnsafeTemporaryAllocation(of: Float.self, capacity: Epilogue.block) { scratch in
            var lo = columns.lowerBound
            while lo < columns.upperBound {
                let n = min(Epilogue.block, columns.upperBound - lo)
                Epilogue.run(steps, on: p + base + lo, offset: base + lo, count: n, channel: channel, scratch: scratch.baseAddress!)
                lo += n
            }
        }
    }

    /// Runs the epilogue on whole planes `planes` of y.
    func run(_ y: UnsafeMutableRawPointer, planes: Range<Int>) {
        if perChannel {
            for plane in planes { run(y, plane: plane, columns: 0..<inner) }
        } else {
            // One stretch: no step cares which channel an element is in.
            run(y, plane: 0, columns: planes.lowerBound * inner..<planes.upperBound * inner)
        }
    }

    /// Runs the epilogue on all of y, split across threads.
    func runAll(_ y: UnsafeMutableRawPointer, threads: Int) {
        if perChannel {
            Parallel.forEach(planes, threads: threads, minimumChunk: max(1, (1 << 15) / max(inner, 1))) { r in
                for plane in r { run(y, plane: plane, columns: 0..<inner) }
            }
        } else {
            let blocks = (count + Epilogue.block - 1) / Epilogue.block
            Parallel.forEach(blocks, threads: threads, minimumChunk: 16) { r in
                run(y, plane: 0, columns: r.lowerBound * Epilogue.block..<min(count, r.upperBound * Epilogue.block))
            }
        }
    }
}

/// Offers a node's epilogue to its kernel (``KernelContext/epilogue``): a
/// kernel that takes the plan for its (float32, freshly allocated) output
/// must run it over every element; otherwise the interpreter applies the
/// epilogue after the kernel.
final class EpilogueHook: @unchecked Sendable {
    let epilogue: Epilogue
    let inputs: [RTensor?]
    private(set) var taken = false

    init(_ epilogue: Epilogue, inputs: [RTensor?]) {
        self.epilogue = epilogue
        self.inputs = inputs
    }

    func plan(for y: RTensor) -> EpiloguePlan? {
        guard !taken, let plan = epilogue.plan(for: y, inputs: inputs) else { return nil }
        taken = true
        return plan
    }
}
