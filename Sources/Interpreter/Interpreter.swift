import Foundation
import IR

/// Executes an IR model on the CPU.
///
/// ```swift
/// let interpreter = try Interpreter(model: model)   // checks every operator first
/// let outputs = try interpreter.run(inputs: ["input": x])
/// ```
///
/// Each intermediate buffer is released after its last use, and the peak of
/// live intermediate bytes is reported. An ``Observer`` sees every value as it
/// is produced and may replace it (fake quantization does).
///
/// By default the model is also fused at load (``QDQFusion``: QDQ patterns run
/// as the integer operators ONNX Runtime fuses them into; ``Fusion``: batch norms
/// folded into convolutions, elementwise chains run as a convolution's epilogue),
/// and runs without an observer use the fused graph. A run with an observer
/// uses the model's own graph, so the observer sees (and may replace) every
/// value, unless it asks for `.fusedNodes` (profiling).
public final class Interpreter: @unchecked Sendable {
    /// Called with each value a node produces; may replace it in place.
    public typealias Observer = (_ value: String, _ node: Node, _ tensor: inout RTensor) throws -> Void

    public let model: Model
    /// Version of the default ONNX opset, after which old op forms were normalized.
    public let opset: Int64
    public var threads: Int
    var graph: Graph
    var initializers: [String: RTensor] = [:]
    /// DequantizeLinear nodes of constant weights folded at load, by output
    /// (``QDQFusion`` reads the integer weights through them).
    private var foldedDequantize: [String: Node] = [:]
    /// Initializers read by nodes folded at load (``foldConstants()``): overriding
    /// one of them in ``run(reusing:overriding:outputs:)`` could not take effect.
    var foldedReads: Set<String> = []
    /// Plans of partial runs already made (PartialRun.swift).
    let partialRunPlans = PartialRunPlans()
    /// The fused graph, the constants it reads and the work fused after its
    /// nodes (by the node's output); nil when loaded with `fuse: false`.
    private var fused: (graph: Graph, initializers: [String: RTensor], epilogues: [String: Epilogue])?

    /// Which graph a run with an observer executes.
    public enum Observation: Sendable {
        /// The model's own nodes: the observer sees every value.
        case everyValue
        /// The fused graph (what runs without an observer): the observer sees
        /// the nodes that remain, each fused node once with its chain's last value.
        case fusedNodes
    }
    /// Peak bytes of intermediate values alive at once in the last run (the last to
    /// finish, when several threads share the interpreter: `run` is safe to call
    /// from several threads at once).
    public var peakActivationBytes: Int { peakLock.withLock { lastPeak } }
    private var lastPeak = 0
    private let peakLock = NSLock()

    /// Prepares `model`: normalizes old opset forms and checks that every
    /// operator, in every subgraph, has a kernel; then, with `fuse`, fuses it.
    public init(model: Model, threads: Int = Parallel.defaultThreads, fuse: Bool = true) throws(InterpreterError) {
        self.model = model
        self.threads = threads
        opset = model.opsetVersion(domain: "") ?? 1
        var g = model.graph
        try Self.prepare(&g, opset: opset)
        graph = g
        for (name, t) in g.initializers { initializers[name] = RTensor(t) }
        foldConstants()
        if fuse { self.fuse() }
    }

    /// Initializers a caller cannot override.
    private var constantNames: Set<String> {
        // Before IR version 4 every initializer had to be listed as a graph input,
        // so only from version 4 on does such a listing make it overridable.
        Set(initializers.keys).subtracting(model.irVersion < 4 ? [] : Set(graph.inputs.map(\.name)))
    }

    /// Builds the fused graph (``Fusion`` on the top-level graph), with the
    /// constants it reads (weights replaced by folded ones are left out).
    private func fuse() {
        let names = constantNames
        // QDQ patterns first, into the integer operators ONNX Runtime runs them as.
        var qdq = QDQFusion(nodes: graph.nodes, constants: initializers.filter { names.contains($0.key) },
                            outputs: Set(graph.outputs.map(\.name)), folded: foldedDequantize)
        qdq.run()
        var g = graph
        g.nodes = qdq.nodes
        var fusion = Fusion(graph: g, constants: qdq.constants, opset: opset)
        fusion.run()
        g.nodes = fusion.nodes
        var values = initializers
        for (name, t) in fusion.constants where values[name] == nil { values[name] = t }
        var read = Set(g.inputs.map(\.name)).union(g.outputs.map(\.name))
        for n in g.nodes {
            read.formUnion(n.inputs)
            for (_, sub) in n.subgraphs { read.formUnion(sub.freeVariables()) }
        }
        for name in Array(values.keys) where !read.contains(name) { values[name] = nil }
        fused = (g, values, fusion.epilogues)
    }

    /// Evaluates, once, the nodes that depend on no graph input (weights built
    /// with ConstantOfShape, shape arithmetic on constants), as ONNX Runtime's
    /// session initialization does, so `run` only computes what depends on inputs.
    private func foldConstants() {
        // Before IR version 4 every initializer had to be listed as a graph input,
        // so only from version 4 on does such a listing make it overridable.
        let fed = Set(graph.inputs.map(\.name)).subtracting(model.irVersion < 4 ? Set(initializers.keys) : [])
        var constant = Set(initializers.keys).subtracting(fed)
        var kept: [Node] = []
        for node in graph.nodes {
            let inputsConstant = node.inputs.allSatisfy { $0.isEmpty || constant.contains($0) }
            guard inputsConstant, node.subgraphs.isEmpty, !ShapeInference.nondeterministic.contains(node.opType),
                  !node.outputs.contains(where: { graph.isOutput($0) }), let entry = OpRegistry.entry(for: node) else {
                kept.append(node)
                continue
            }
            let context = KernelContext(node: node, opset: opset, inputs: node.inputs.map { $0.isEmpty ? nil : initializers[$0] },
                                        runSubgraph: { _, _ in throw OpError("no subgraphs") }, threads: threads)
            guard let outs = try? entry.kernel(context) else {
                kept.append(node)  // let `run` report the failure where it happens
                continue
            }
            if node.isDefaultDomain && node.opType == "DequantizeLinear" { foldedDequantize[node.outputs[0]] = node }
            foldedReads.formUnion(node.inputs.filter { !$0.isEmpty })
            for (name, t) in zip(node.outputs, outs) where !name.isEmpty {
                initializers[name] = t
                constant.insert(name)
            }
        }
        graph.nodes = kept
    }

    static func prepare(_ g: inout Graph, opset: Int64) throws(InterpreterError) {
        for i in g.nodes.indices {
            guard let entry = OpRegistry.entry(for: g.nodes[i]) else {
                let n = g.nodes[i]
                throw .unsupportedOperator(op: n.opType, domain: n.domain, opset: opset, node: n.label)
            }
            if let normalize = entry.normalize {
                var context = NormalizeContext(opset: opset, prefix: "quantc.normalized.\(g.name).\(i)")
                normalize(&g.nodes[i], &context)
                for (name, t) in context.constants { g.initializers[name] = t }
            }
            for j in g.nodes[i].attributes.indices {
                switch g.nodes[i].attributes[j].value {
                case .graph(var sub):
                    try prepare(&sub, opset: opset)
                    g.nodes[i].attributes[j].value = .graph(sub)
                case .graphs(var subs):
                    for k in subs.indices { try prepare(&subs[k], opset: opset) }
                    g.nodes[i].attributes[j].value = .graphs(subs)
                default: break
                }
            }
        }
    }

    /// The graph inputs a caller feeds, with their declared types.
    public var inputs: [ValueInfo] { graph.runtimeInputs }

    /// Runs the model. Inputs are checked against the declared types (symbolic
    /// dims must agree across inputs) before any compute.
    public func run(inputs given: [String: RTensor], observer: Observer? = nil,
                    observing: Observation = .everyValue) throws(InterpreterError) -> [String: RTensor] {
        let expected = graph.runtimeInputs
        for name in given.keys.sorted() where !expected.contains(where: { $0.name == name }) {
            if graph.initializers[name] == nil { throw .unknownInput(name: name, inputs: expected.map(\.name)) }
        }
        var bindings: [String: Int] = [:]
        var feeds: [RTensor] = []
        for v in expected {
            let declared = v.type?.tensorType
            guard let t = given[v.name] else {
                throw .missingInput(name: v.name, expected: declared?.description ?? "a tensor")
            }
            if let declared { try check(t, against: declared, name: v.name, bindings: &bindings) }
            feeds.append(t)
        }
        // Initializers that are also graph inputs may be overridden by the caller.
        let scope = Scope(parent: nil)
        let chosen = observer == nil || observing == .fusedNodes ? fused : nil
        for (name, t) in chosen?.initializers ?? initializers { scope.values[name] = t }
        for (v, t) in zip(expected, feeds) { scope.values[v.name] = t }
        for v in graph.inputs where given[v.name] != nil { scope.values[v.name] = given[v.name] }
        var memory = MemoryTracker()
        let outputs = try execute(chosen?.graph ?? graph, scope: scope, observer: observer, memory: &memory,
                                  epilogues: chosen?.epilogues ?? [:], threads: threads)
        peakLock.withLock { lastPeak = memory.peak }
        return Dictionary(uniqueKeysWithValues: zip(graph.outputs.map(\.name), outputs))
    }

    private func check(_ t: RTensor, against declared: TensorType, name: String, bindings: inout [String: Int]) throws(InterpreterError) {
        let given = t.typeDescription
        if declared.elementType != .undefined && declared.elementType != t.type {
            throw .inputMismatch(name: name, expected: declared.description, given: given)
        }
        guard let dims = declared.shape else { return }
        guard dims.count == t.rank else { throw .inputMismatch(name: name, expected: declared.description, given: given) }
        for (d, n) in zip(dims, t.shape) {
            switch d {
            case .fixed(let v) where v >= 0 && v != n:  // negative: "unknown" to some exporters (and ONNX Runtime)
                throw .inputMismatch(name: name, expected: declared.description, given: given)
            case .symbolic(let s):
                if let bound = bindings[s], bound != n {
                    throw .inputMismatch(name: name, expected: "\(declared) with \(s)=\(bound) as bound by an earlier input", given: given)
                }
                bindings[s] = n
            default: break
            }
        }
    }

    /// Values visible while a graph runs: its own, then its enclosing graphs'.
    final class Scope {
        var values: [String: RTensor] = [:]
        let parent: Scope?
        init(parent: Scope?) { self.parent = parent }
        func lookup(_ name: String) -> RTensor? { values[name] ?? parent?.lookup(name) }
    }

    /// Counts live intermediate bytes, once per buffer.
    struct MemoryTracker {
        var live: [ObjectIdentifier: (bytes: Int, refs: Int)] = [:]
        var current = 0
        var peak = 0

        mutating func retain(_ t: RTensor) {
            let id = ObjectIdentifier(t.buffer)
            if let e = live[id] {
                live[id] = (e.bytes, e.refs + 1)
            } else {
                live[id] = (t.buffer.byteCount, 1)
                current += t.buffer.byteCount
                peak = max(peak, current)
            }
        }

        mutating func release(_ t: RTensor) {
            let id = ObjectIdentifier(t.buffer)
            guard let e = live[id] else { return }
            if e.refs == 1 {
                live[id] = nil
                current -= e.bytes
            } else {
                live[id] = (e.bytes, e.refs - 1)
            }
        }
    }

    /// Runs the nodes of `g` in `scope` and returns its outputs.
    func execute(_ g: Graph, scope: Scope, observer: Observer?, memory: inout MemoryTracker,
                         epilogues: [String: Epilogue], threads: Int) throws(InterpreterError) -> [RTensor] {
        // Last node reading each value produced here; graph outputs stay alive.
        var lastUse: [String: Int] = [:]
        for (i, n) in g.nodes.enumerated() {
            for input in n.inputs where !input.isEmpty { lastUse[input] = i }
            for (_, sub) in n.subgraphs { for v in sub.freeVariables() { lastUse[v] = i } }
        }
        for o in g.outputs { lastUse[o.name] = Int.max }
        var producedHere: Set<String> = []

        for (i, node) in g.nodes.enumerated() {
            let inputs: [RTensor?] = node.inputs.map { $0.isEmpty ? nil : scope.lookup($0) }
            for (name, t) in zip(node.inputs, inputs) where !name.isEmpty && t == nil {
                throw .kernelFailed(node: node.label, message: "input '\(name)' has no value")
            }
            let entry = OpRegistry.entry(for: node)!
            let currentScope = scope
            let epilogue = epilogues[node.outputs.first ?? ""]
            var context = KernelContext(node: node, opset: opset, inputs: inputs, runSubgraph: { [unowned self] sub, args in
                let inner = Scope(parent: currentScope)
                for (v, t) in zip(sub.inputs, args) { inner.values[v.name] = t }
                for (name, t) in sub.initializers { inner.values[name] = RTensor(t) }
                var subMemory = MemoryTracker()
                return try self.execute(sub, scope: inner, observer: observer, memory: &subMemory, epilogues: [:], threads: threads)
            }, threads: threads)
            context.epilogue = epilogue.map { EpilogueHook($0, inputs: inputs) }
            var outputs: [RTensor]
            do {
                outputs = try entry.kernel(context)
                if let epilogue, context.epilogue?.taken != true, !outputs.isEmpty {
                    try epilogue.apply(to: &outputs[0], inputs: inputs, node: node, opset: opset, threads: threads)
                }
            } catch let e as InterpreterError {
                throw e
            } catch {
                throw .kernelFailed(node: node.label, message: "\(error)")
            }
            guard outputs.count >= node.outputs.filter({ !$0.isEmpty }).count || outputs.count == node.outputs.count else {
                throw .kernelFailed(node: node.label, message: "kernel produced \(outputs.count) outputs for \(node.outputs.count)")
            }
            for (k, name) in node.outputs.enumerated() where !name.isEmpty && k < outputs.count {
                if let observer {
                    do { try observer(name, node, &outputs[k]) } catch {
                        throw .kernelFailed(node: node.label, message: "observer: \(error)")
                    }
                }
                scope.values[name] = outputs[k]
                producedHere.insert(name)
                memory.retain(outputs[k])
                if lastUse[name] == nil { release(name, scope: scope, memory: &memory) }
            }
            // Release values whose last reader was this node.
            for name in Set(node.inputs) where lastUse[name] == i && producedHere.contains(name) {
                release(name, scope: scope, memory: &memory)
            }
            for (_, sub) in node.subgraphs {
                for name in sub.freeVariables() where lastUse[name] == i && producedHere.contains(name) {
                    release(name, scope: scope, memory: &memory)
                }
            }
        }
        var results: [RTensor] = []
        for o in g.outputs {
            guard let t = scope.lookup(o.name) else {
                throw .kernelFailed(node: "graph '\(g.name)'", message: "output '\(o.name)' was not produced")
            }
            results.append(t)
        }
        return results
    }

    private func release(_ name: String, scope: Scope, memory: inout MemoryTracker) {
        if let t = scope.values.removeValue(forKey: name) { memory.release(t) }
    }
}
