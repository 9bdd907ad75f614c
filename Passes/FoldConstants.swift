import IR
import Interpreter

/// Evaluates what does not depend on the model's inputs: `Constant` nodes
/// become initializers, and nodes whose inputs are all constant (including
/// `Shape` of a statically shaped value, so Shape → Gather → Concat → Reshape
/// chains collapse) are replaced by their results. Nondeterministic ops and
/// results over `max-bytes` stay as they are. Main graph only.
public struct FoldConstants: Pass {
    public static let name = "fold-constants"
    public static let summary = "Turn Constant nodes into initializers and evaluate nodes whose inputs are all constant."
    public static let options = [
        PassOption("max-bytes", .int, default: "1048576", help: "Largest folded result kept as an initializer."),
    ]

    let maxBytes: Int

    public init(options: PassOptions) { maxBytes = options.int("max-bytes") }

    public func run(on model: inout Model, context: inout PassContext) throws(PassError) {
        var g = model.graph
        // Constant nodes first: their attribute already holds the tensor.
        var kept: [Node] = []
        for n in g.nodes {
            guard n.isDefaultDomain, n.opType == "Constant", let out = n.outputs.first, !g.isOutput(out),
                  var tensor = Self.constantValue(n) else {
                kept.append(n)
                continue
            }
            tensor.name = out
            g.initializers[out] = tensor
            g.valueInfo[out] = nil
            context.count("constants to initializers")
        }
        g.nodes = kept
        model.graph = g
        let inference = ShapeInference(model: model)
        var folded = 0
        kept = []
        for n in g.nodes {
            let outs = n.outputs.filter { !$0.isEmpty }
            let values = outs.compactMap { inference.constants[$0] }
            guard n.subgraphs.isEmpty, !outs.contains(where: { g.isOutput($0) }), !outs.isEmpty,
                  values.count == outs.count, values.allSatisfy({ $0.byteCount <= maxBytes }) else {
                kept.append(n)
                continue
            }
            for (name, t) in zip(outs, values) {
                g.initializers[name] = t.irTensor(name: name)
                g.valueInfo[name] = nil
            }
            folded += 1
        }
        g.nodes = kept
        if folded > 0 { context.count("nodes folded", folded) }
        model.graph = g
    }

    /// The tensor a Constant node produces, from whichever `value*` attribute it has.
    static func constantValue(_ n: Node) -> Tensor? {
        guard let a = n.attributes.first else { return nil }
        switch (a.name, a.value) {
        case ("value", .tensor(let t)): return t
        case ("value_float", .float(let f)): return Tensor(floats: [f], shape: [])
        case ("value_floats", .floats(let fs)): return Tensor(floats: fs, shape: [fs.count])
        case ("value_int", .int(let i)): return Tensor(int64s: [i], shape: [])
        case ("value_ints", .ints(let xs)): return Tensor(int64s: xs, shape: [xs.count])
        case ("value_string", .string(let s)): return Tensor(elementType: .string, shape: [], data: .strings([Array(s.utf8)]))
        case ("value_strings", .strings(let ss)):
            return Tensor(elementType: .string, shape: [ss.count], data: .strings(ss.map { Array($0.utf8) }))
        default: return nil  // sparse_value stays a node
        }
    }
}
