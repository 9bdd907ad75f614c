/// A structural defect in a graph: where it is and what is wrong.
public struct VerificationError: Error, CustomStringConvertible, Sendable, Equatable {
    /// Graph names from the model's main graph down to the one at fault.
    public var graphPath: [String]
    /// The node at fault, as ``Node/label``, if the defect is in a node.
    public var node: String?
    public var message: String

    public init(graphPath: [String], node: String? = nil, message: String) {
        self.graphPath = graphPath
        self.node = node
        self.message = message
    }

    public var description: String {
        let graph = graphPath.map { "'\($0)'" }.joined(separator: " > ")
        if let node { return "graph \(graph): node \(node): \(message)" }
        return "graph \(graph): \(message)"
    }
}

/// Checks the IR invariants every pass may rely on: each value is defined once
/// (single assignment, also against enclosing graphs), defined before it is
/// used, nodes are in topological order, graph outputs exist, attribute names
/// are unique, and function-attribute references appear only inside functions.
public enum Verifier {
    public static func verify(_ model: Model) throws(VerificationError) {
        var scope = Scope()
        try verify(graph: model.graph, path: [model.graph.name], scope: &scope)
        for f in model.functions {
            var fscope = Scope()
            let path = ["function \(f.domain.isEmpty ? "" : f.domain + ".")\(f.name)"]
            for i in f.inputs where !i.isEmpty { fscope.define(i) }
            try verify(nodes: f.nodes, path: path, scope: &fscope, inFunction: true)
            for o in f.outputs where !o.isEmpty && !fscope.contains(o) {
                throw VerificationError(graphPath: path, message: "output '\(o)' is never defined")
            }
        }
    }

    public static func verify(graph: Graph) throws(VerificationError) {
        var scope = Scope()
        try verify(graph: graph, path: [graph.name], scope: &scope)
    }

    /// Names visible at a point: those of enclosing graphs plus this graph's so far.
    struct Scope {
        /// Each visible name and what defines it, for messages.
        private var names: [String: String] = [:]
        private var log: [String] = []

        func contains(_ name: String) -> Bool { names[name] != nil }
        func definer(of name: String) -> String? { names[name] }
        mutating func define(_ name: String, by definer: String = "a graph input") {
            if names[name] == nil {
                names[name] = definer
                log.append(name)
            }
        }
        var mark: Int { log.count }
        mutating func pop(to mark: Int) {
            while log.count > mark { names[log.removeLast()] = nil }
        }
    }

    static func verify(graph: Graph, path: [String], scope: inout Scope) throws(VerificationError) {
        let mark = scope.mark
        defer { scope.pop(to: mark) }
        var own: Set<String> = []
        for input in graph.inputs {
            guard !input.name.isEmpty else { throw VerificationError(graphPath: path, message: "a graph input has an empty name") }
            guard own.insert(input.name).inserted else {
                throw VerificationError(graphPath: path, message: "graph input '\(input.name)' is declared twice")
            }
            scope.define(input.name)
        }
        for (name, _) in graph.initializers {
            guard !name.isEmpty else { throw VerificationError(graphPath: path, message: "an initializer has an empty name") }
            scope.define(name, by: "an initializer")  // may also be a graph input (a default value)
            own.insert(name)
        }
        try verify(nodes: graph.nodes, path: path, scope: &scope, inFunction: false)
        for output in graph.outputs {
            guard !output.name.isEmpty, scope.contains(output.name) else {
                throw VerificationError(graphPath: path, message: "graph output '\(output.name)' is never defined")
            }
        }
    }

    static func verify(nodes: [Node], path: [String], scope: inout Scope, inFunction: Bool) throws(VerificationError) {
        for node in nodes {
            for input in node.inputs where !input.isEmpty && !scope.contains(input) {
                throw VerificationError(graphPath: path, node: node.label,
                                        message: "input '\(input)' is never defined before this node (no graph input, initializer or earlier node output has that name)")
            }
            var attributeNames: Set<String> = []
            for a in node.attributes {
                guard !a.name.isEmpty else {
                    throw VerificationError(graphPath: path, node: node.label, message: "an attribute has an empty name")
                }
                guard attributeNames.insert(a.name).inserted else {
                    throw VerificationError(graphPath: path, node: node.label, message: "attribute '\(a.name)' appears twice")
                }
                if a.referencedAttribute != nil && !inFunction {
                    throw VerificationError(graphPath: path, node: node.label,
                                            message: "attribute '\(a.name)' refers to a function attribute outside a function")
                }
            }
            for (attribute, g) in node.subgraphs {
                try verify(graph: g, path: path + ["\(node.name.isEmpty ? node.opType : node.name).\(attribute)"], scope: &scope)
            }
            for output in node.outputs where !output.isEmpty {
                if let definer = scope.definer(of: output) {
                    throw VerificationError(graphPath: path, node: node.label,
                                            message: "output '\(output)' is already defined by \(definer) (values must be assigned once)")
                }
                scope.define(output, by: "node \(node.label)")
            }
        }
    }
}
