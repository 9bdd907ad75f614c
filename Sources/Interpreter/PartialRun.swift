import IR

extension Interpreter {
    /// Runs only the part of the model that depends on `overriding`, taking every
    /// other value from `known` (values of an earlier run, e.g. one captured with
    /// an observer): the cut execution sensitivity probes use, where one weight
    /// or one activation changes and only the nodes downstream of it need to run.
    ///
    /// - `overriding`: new values for initializers (a layer's weight), graph
    ///   inputs or values produced by nodes (an activation: its producer does not
    ///   run). Nodes that read an overridden value, directly or through other
    ///   recomputed nodes, are re-executed on the model's own (unfused) graph.
    /// - `known`: values of the cut. A re-executed node reading a value that is
    ///   not recomputed finds it here, or among the initializers.
    /// - `outputs`: the values wanted (default: the graph outputs). Only the
    ///   recomputed nodes they need run; a wanted value that does not depend on
    ///   `overriding` is returned from `known`.
    ///
    /// ```swift
    /// var cut: [String: RTensor] = [:]
    /// let base = try interpreter.run(inputs: feed) { name, _, t in cut[name] = t }
    /// for (k, v) in feed { cut[k] = v }
    /// let probed = try interpreter.run(reusing: cut, overriding: ["fc2.weight": w2])
    /// ```
    ///
    /// Throws ``InterpreterError/cannotOverride(name:reason:)`` for a name the model
    /// does not have or a constant folded at load (its override could not take
    /// effect), and ``InterpreterError/missingCutValue(value:node:)`` when `known`
    /// lacks a value a re-executed node reads.
    public func run(reusing known: [String: RTensor], overriding: [String: RTensor],
                    outputs wanted: [String]? = nil) throws(InterpreterError) -> [String: RTensor] {
        let g = graph
        var produced: [String: Int] = [:]
        for (i, n) in g.nodes.enumerated() { for o in n.outputs where !o.isEmpty { produced[o] = i } }
        let inputNames = Set(g.inputs.map(\.name))
        for name in overriding.keys.sorted() {
            if foldedReads.contains(name) {
                throw .cannotOverride(name: name, reason: "it is read by nodes folded into constants when the model was loaded")
            }
            if initializers[name] == nil && produced[name] == nil && !inputNames.contains(name) {
                throw .cannotOverride(name: name, reason: "the model has no initializer, input or node output of that name")
            }
        }
        func reads(_ n: Node) -> Set<String> {
            var r = Set(n.inputs.filter { !$0.isEmpty })
            for (_, sub) in n.subgraphs { r.formUnion(sub.freeVariables()) }
            return r
        }
        // Forward: nodes whose result changes with the overrides (overridden outputs excepted).
        var dirtyValues = Set(overriding.keys)
        var dirty = [Bool](repeating: false, count: g.nodes.count)
        for (i, n) in g.nodes.enumerated() where !reads(n).isDisjoint(with: dirtyValues) {
            if n.outputs.allSatisfy({ $0.isEmpty || overriding[$0] != nil }) { continue }
            dirty[i] = true
            for o in n.outputs where !o.isEmpty { dirtyValues.insert(o) }
        }
        // Backward: of those, the ones the wanted values need.
        let targets = wanted ?? g.outputs.map(\.name)
        var needed = Set(targets)
        var selected = [Bool](repeating: false, count: g.nodes.count)
        for i in g.nodes.indices.reversed() where dirty[i] {
            let n = g.nodes[i]
            guard n.outputs.contains(where: { needed.contains($0) && overriding[$0] == nil }) else { continue }
            selected[i] = true
            needed.formUnion(reads(n))
        }
        let scope = Scope(parent: nil)
        for (name, t) in initializers { scope.values[name] = t }
        for (name, t) in known { scope.values[name] = t }
        for (name, t) in overriding { scope.values[name] = t }
        var sub = g
        sub.nodes = g.nodes.indices.filter { selected[$0] }.map { g.nodes[$0] }
        var computedHere = Set<String>()
        for n in sub.nodes {
            for r in reads(n).sorted() where !computedHere.contains(r) && scope.values[r] == nil {
                throw .missingCutValue(value: r, node: n.label)
            }
            for o in n.outputs where !o.isEmpty { computedHere.insert(o) }
        }
        for name in targets where !computedHere.contains(name) && scope.values[name] == nil {
            throw .missingCutValue(value: name, node: "(wanted output)")
        }
        sub.outputs = targets.map { ValueInfo(name: $0, type: nil) }
        var memory = MemoryTracker()
        let results = try execute(sub, scope: scope, observer: nil, memory: &memory, epilogues: [:])
        return Dictionary(zip(targets, results), uniquingKeysWith: { a, _ in a })
    }
}
