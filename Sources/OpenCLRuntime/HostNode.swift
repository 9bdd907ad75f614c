import Artifact
import IR
import Interpreter

/// A plan node without a kernel, run on the CPU by quantc's interpreter: the
/// node alone, as a one-node model with the source model's opsets, whose
/// inputs are the arena values it reads and whose constants are copied from
/// model.onnx's initializers. Built once, when the artifact is loaded.
final class HostNode {
    enum Source {
        /// Read from the arena before the node runs.
        case arena(PlanValue)
        /// An initializer of model.onnx (kept inside the one-node model).
        case constant
    }

    let site: LaunchSite
    let call: HostCall
    let interpreter: Interpreter
    /// The node's arena inputs, in the order of `call.inputs` (constants left out).
    let arenaInputs: [PlanValue]
    /// Outputs placed in the arena (outputs nobody reads may have no place).
    let arenaOutputs: [PlanValue]

    init(call: HostCall, site: LaunchSite, model: Model, arena: [String: PlanValue], threads: Int) throws(OpenCLError) {
        self.site = site
        self.call = call
        // By name when the name is unique, else by outputs (unique in ONNX's SSA form).
        let named = call.node.isEmpty ? [] : model.graph.nodes.filter { $0.name == call.node }
        let firstOutput = call.outputs.first { !$0.isEmpty }
        guard let node = named.count == 1 ? named[0]
            : model.graph.nodes.first(where: { !call.outputs.isEmpty && $0.outputs == call.outputs })
            ?? model.graph.nodes.first(where: { firstOutput != nil && $0.outputs.contains(firstOutput!) }) else {
            throw .hostLaunch(site, detail: "model.onnx has no node named '\(call.node)' or writing \(call.outputs.filter { !$0.isEmpty })")
        }
        guard node.opType == call.opType else {
            throw .hostLaunch(site, detail: "model.onnx's node '\(call.node)' is a \(node.opType), the plan says \(call.opType)")
        }
        // Everything the node reads: its inputs and the free variables of its subgraphs.
        var reads = node.inputs.filter { !$0.isEmpty }
        for (_, g) in node.subgraphs { reads += g.freeVariables().sorted() }
        var inputs: [ValueInfo] = []
        var placed: [PlanValue] = []
        var constants: [String: Tensor] = [:]
        // Values the plan does not place that model.onnx computes from constants alone
        // (a Constant node, shape arithmetic the compiler folded): their nodes come along
        // and the interpreter folds them when it loads the model.
        let producers = model.graph.producers()
        var constantNodes: [Int] = []
        func resolve(_ name: String, for reader: String) throws(OpenCLError) {
            if inputs.contains(where: { $0.name == name }) || constants[name] != nil { return }
            if let v = arena[name] {
                guard let t = ElementType(planName: v.elementType), t.isArenaCompatible else {
                    throw .hostLaunch(site, detail: "input '\(name)' has element type '\(v.elementType)', which the runtime cannot pass to the host")
                }
                inputs.append(ValueInfo(name: name, type: .tensor(TensorType(t, fixed: v.shape))))
                placed.append(v)
            } else if let t = model.graph.initializers[name] {
                constants[name] = t
            } else if let p = producers[name] {
                if constantNodes.contains(p) { return }
                // Only constant ancestry: an arena value upstream would mean the plan lost a value.
                let producer = model.graph.nodes[p]
                guard producer.subgraphs.isEmpty else {
                    throw .hostLaunch(site, detail: "input '\(name)' of \(reader) has no place in the arena")
                }
                for i in producer.inputs where !i.isEmpty {
                    guard arena[i] == nil else {
                        throw .hostLaunch(site, detail: "input '\(name)' of \(reader) has no place in the arena, and model.onnx computes it from '\(i)', which is not a constant")
                    }
                    try resolve(i, for: "node '\(producer.name)'")
                }
                constantNodes.append(p)
            } else {
                throw .hostLaunch(site, detail: "input '\(name)' of \(reader) is neither in the arena nor an initializer of model.onnx")
            }
        }
        for name in reads { try resolve(name, for: "the node") }
        arenaInputs = placed
        var outs: [PlanValue] = []
        for name in node.outputs where !name.isEmpty {
            guard let v = arena[name] else { continue }
            guard let t = ElementType(planName: v.elementType), t.isArenaCompatible else {
                throw .hostLaunch(site, detail: "output '\(name)' has element type '\(v.elementType)', which the runtime cannot place in the arena")
            }
            outs.append(v)
        }
        guard !outs.isEmpty else { throw .hostLaunch(site, detail: "none of the node's outputs has a place in the arena") }
        arenaOutputs = outs
        var graph = Graph(name: "host.\(call.node)")
        graph.inputs = inputs
        graph.outputs = node.outputs.filter { !$0.isEmpty }.map { ValueInfo(name: $0, type: nil) }
        for name in constants.keys.sorted() { graph.initializers[name] = constants[name] }
        graph.nodes = constantNodes.sorted().map { model.graph.nodes[$0] } + [node]
        var one = Model(irVersion: model.irVersion, opsetImports: model.opsetImports, graph: graph)
        one.functions = model.functions
        do {
            interpreter = try Interpreter(model: one, threads: threads, fuse: false)
        } catch {
            throw .hostLaunch(site, detail: "the interpreter cannot run it: \(error)")
        }
    }

    /// Runs the node on `inputs` (by name) and returns the arena outputs,
    /// checked against their places.
    func run(_ inputs: [String: RTensor]) throws(OpenCLError) -> [(PlanValue, RTensor)] {
        let results: [String: RTensor]
        do { results = try interpreter.run(inputs: inputs) } catch {
            throw .hostLaunch(site, detail: "\(error)")
        }
        var out: [(PlanValue, RTensor)] = []
        for v in arenaOutputs {
            guard let t = results[v.name] else { throw .hostLaunch(site, detail: "the node did not produce '\(v.name)'") }
            guard t.type.planName == ElementType(planName: v.elementType)?.planName, t.shape == v.shape else {
                throw .hostLaunch(site, detail: "output '\(v.name)' is \(t.typeDescription), the plan places \(v.elementType)\(v.shape)")
            }
            out.append((v, t))
        }
        return out
    }
}
