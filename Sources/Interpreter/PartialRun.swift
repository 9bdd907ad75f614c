import Foundation
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
    /// - `threads`: kernel threads of this run (default: the interpreter's); 1
    ///   when the caller runs several partial runs at once, one per core.
    ///
    /// Throws ``InterpreterError/cannotOverride(name:reason:)`` for a name the model
    /// does not have or a constant folded at load (its override could not take
    /// effect), and ``InterpreterError/missingCutValue(value:node:)`` when `known`
    /// lacks a value a re-executed node reads.
    public func run(reusing known: [String: RTensor], overriding: [String: RTensor],
                    outputs wanted: [String]? = nil, threads: Int? = nil) throws(InterpreterError) -> [String: RTensor] {
        let targets = wanted ?? graph.outputs.map(\.name)
        let key = overriding.keys.sorted().joined(separator: "\u{0}") + "\u{1}" + targets.joined(separator: "\u{0}")
        let plan: PartialRunPlan
        if let p = partialRunPlans.get(key) { plan = p } else {
            plan = try makePlan(overriding: Set(overriding.keys), targets: targets)
            partialRunPlans.set(key, plan)
        }
        for (value, node) in plan.externalReads where overriding[value] == nil && known[value] == nil && initializers[value] == nil {
            throw .missingCutValue(value: value, node: node)
        }
        let base = Scope(parent: nil)
        base.values = initializers
        let scope = Scope(parent: base)
        scope.values = known
        for (name, t) in overriding { scope.values[name] = t }
        var memory = MemoryTracker()
        let results = try execute(plan.graph, scope: scope, observer: nil, memory: &memory, epilogues: [:], threads: threads ?? self.threads)
        return Dictionary(zip(targets, results), uniquingKeysWith: { a, _ in a })
    }

    /// Which nodes a partial run executes, and the values they read from outside.
    private func makePlan(overriding: Set<String>, targets: [String]) throws(InterpreterError) -> PartialRunPlan {
        let g = graph
        var produced: [String: Int] = [:]
        for (i, n) in g.nodes.enumerated() { for o in n.outputs where !o.isEmpty { produced[o] = i } }
        let inputNames = Set(g.inputs.map(\.name))
        for name in overriding.sorted() {
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
        var dirtyValues = overriding
        var dirty = [Bool](repeating: false, count: g.nodes.count)
        for (i, n) in g.nodes.enumerated() where !reads(n).isDisjoint(with: dirtyValues) {
            if n.outputs.allSatisfy({ $0.isEmpty || overriding.contains($0) }) { continue }
            dirty[i] = true
            for o in n.outputs where !o.isEmpty { dirtyValues.insert(o) }
        }
        // Backward: of those, the ones the wanted values need.
        var needed = Set(targets)
        var selected = [Bool](repeating: false, count: g.nodes.count)
        for i in g.nodes.indices.reversed() where dirty[i] {
            let n = g.nodes[i]
            guard n.outputs.contains(where: { needed.contains($0) && !overriding.contains($0) }) else { continue }
            selected[i] = true
            needed.formUnion(reads(n))
        }
        var sub = g
        sub.nodes = g.nodes.indices.filter { selected[$0] }.map { g.nodes[$0] }
        sub.outputs = targets.map { ValueInfo(name: $0, type: nil) }
        var external: [(String, String)] = []
        var computedHere = Set<String>()
        for n in sub.nodes {
            for r in reads(n).sorted() where !computedHere.contains(r) { external.append((r, n.label)) }
            for o in n.outputs where !o.isEmpty { computedHere.insert(o) }
        }
        for name in targets where !computedHere.contains(name) { external.append((name, "(wanted output)")) }
        return PartialRunPlan(graph: sub, externalReads: external)
    }
}

/// The nodes a partial run executes (as a graph whose outputs are the wanted
/// values) and the values they read that it does not compute, with a reader each.
struct PartialRunPlan {
    var graph: Graph
    var externalReads: [(String, String)]
}

/// Partial-run plans by override names and wanted values: probes repeat the same
/// cut thousands of times.
final class PartialRunPlans: @unchecked Sendable {
    private var plans: [String: PartialRunPlan] = [:]
    private let lock = NSLock()
    func get(_ key: String) -> PartialRunPlan? { lock.lock(); defer { lock.unlock() }; return plans[key] }
    func set(_ key: String, _ plan: PartialRunPlan) { lock.lock(); defer { lock.unlock() }; plans[key] = plan }
}
