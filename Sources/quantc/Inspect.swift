import ArgumentParser
import Foundation
import IR
import Interpreter
import ONNX

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Summarize a model: producer, opsets, inputs and outputs, operators, parameters.",
        discussion: "External data is mapped, not read, so inspecting a large model is quick."
    )

    @Argument(help: "The ONNX model to read.")
    var model: String

    @Flag(help: "Print the summary as JSON.")
    var json = false

    @Flag(help: "Print quantc's textual IR of the model instead of the summary.")
    var ir = false

    @Flag(help: "Infer the type of every intermediate value (folding constant shape computations) before printing.")
    var inferShapes = false

    @Flag(help: "Print each weighted layer's stored format (int8/int4, per tensor/channel/group, sym/asym), parameters and bytes, for quantc's, ONNX Runtime's QDQ and QOperator, and MatMulNBits models.")
    var precision = false

    func validate() throws {
        if json && ir { throw ValidationError("--json and --ir exclude each other") }
        if precision && ir { throw ValidationError("--precision and --ir exclude each other") }
    }

    func run() throws {
        try reportingErrors {
            var m = try ONNXImporter.importModel(at: model)
            if inferShapes { _ = ShapeInference.annotate(&m) }
            if ir {
                print(Printer.print(m), terminator: "")
                return
            }
            if precision {
                let p = PrecisionSummary(m, file: model)
                if json {
                    let encoder = JSONEncoder()
                    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                    print(String(decoding: try encoder.encode(p), as: UTF8.self))
                } else {
                    print(p.text, terminator: "")
                }
                return
            }
            let summary = ModelSummary(m, file: model)
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                print(String(decoding: try encoder.encode(summary), as: UTF8.self))
            } else {
                print(summary.text, terminator: "")
            }
        }
    }
}

/// What `inspect` reports about a model.
struct ModelSummary: Codable {
    struct Value: Codable {
        var name: String
        var type: String
    }
    struct OpCount: Codable {
        var op: String
        var count: Int
    }
    struct ParameterGroup: Codable {
        var elementType: String
        var tensors: Int
        var elements: Int
        var bytes: Int
    }
    struct LargeTensor: Codable {
        var name: String
        var type: String
        var bytes: Int
        var external: Bool
    }

    var file: String
    var producer: String
    var irVersion: Int64
    var opsets: [String: Int64]
    var inputs: [Value]
    var outputs: [Value]
    var nodes: Int
    var ops: [OpCount]
    var parameters: [ParameterGroup]
    var parameterCount: Int
    var parameterBytes: Int
    var largestTensors: [LargeTensor]
    var unsupportedOps: [String]

    init(_ m: Model, file: String) {
        self.file = file
        producer = [m.producerName, m.producerVersion].filter { !$0.isEmpty }.joined(separator: " ")
        irVersion = m.irVersion
        opsets = Dictionary(m.opsetImports.map { ($0.domain.isEmpty ? "ai.onnx" : $0.domain, $0.version) }, uniquingKeysWith: max)
        inputs = m.graph.runtimeInputs.map { Value(name: $0.name, type: $0.type?.description ?? "?") }
        outputs = m.graph.outputs.map { Value(name: $0.name, type: $0.type?.description ?? "?") }

        var histogram: [String: Int] = [:]
        var constants: [(name: String, tensor: Tensor)] = []
        var unsupported: Set<String> = []
        var nodeCount = 0
        m.graph.walk { g, _ in
            constants += g.initializers.map { ($0.key, $0.value) }
            for n in g.nodes {
                nodeCount += 1
                let op = n.isDefaultDomain ? n.opType : "\(n.domain)::\(n.opType)"
                histogram[op, default: 0] += 1
                if OpRegistry.entry(for: n) == nil { unsupported.insert(op) }
                if n.opType == "Constant", n.isDefaultDomain, let t = n[attribute: "value"]?.tensorValue {
                    constants.append((n.outputs.first ?? n.name, t))
                }
            }
        }
        nodes = nodeCount
        ops = histogram.map { OpCount(op: $0.key, count: $0.value) }
            .sorted { ($0.count, $1.op) > ($1.count, $0.op) }
        var groups: [ElementType: ParameterGroup] = [:]
        for (_, t) in constants {
            groups[t.elementType, default: ParameterGroup(elementType: t.elementType.onnxName, tensors: 0, elements: 0, bytes: 0)]
                .tensors += 1
            groups[t.elementType]!.elements += t.elementCount
            groups[t.elementType]!.bytes += t.byteCount
        }
        parameters = groups.values.sorted { ($0.bytes, $1.elementType) > ($1.bytes, $0.elementType) }
        parameterCount = parameters.reduce(0) { $0 + $1.elements }
        parameterBytes = parameters.reduce(0) { $0 + $1.bytes }
        largestTensors = constants
            .sorted { ($0.tensor.byteCount, $1.name) > ($1.tensor.byteCount, $0.name) }
            .prefix(10)
            .map { LargeTensor(name: $0.name, type: $0.tensor.type.description, bytes: $0.tensor.byteCount,
                               external: $0.tensor.rawBytes?.isMapped ?? false) }
        unsupportedOps = unsupported.sorted()
    }

    var text: String {
        var s = ""
        s += "model     \(file)\n"
        s += "producer  \(producer.isEmpty ? "(none)" : producer)\n"
        s += "ir        \(irVersion)\n"
        s += "opsets    \(opsets.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))\n"
        s += "\ninputs\n"
        for v in inputs { s += "  \(v.name): \(v.type)\n" }
        s += "outputs\n"
        for v in outputs { s += "  \(v.name): \(v.type)\n" }
        s += "\noperators (\(nodes) nodes)\n"
        for o in ops { s += "  \(pad(String(o.count), 6)) \(o.op)\n" }
        s += "\nparameters: \(parameterCount) values, \(bytes(parameterBytes))\n"
        for p in parameters {
            s += "  \(p.elementType.padding(toLength: 10, withPad: " ", startingAt: 0)) \(pad(String(p.tensors), 5)) tensors \(pad(String(p.elements), 12)) values \(pad(bytes(p.bytes), 12))\n"
        }
        if !largestTensors.isEmpty {
            s += "\nlargest tensors\n"
            for t in largestTensors {
                s += "  \(pad(bytes(t.bytes), 12))  \(t.name): \(t.type)\(t.external ? " (external)" : "")\n"
            }
        }
        s += "\nunsupported operators: \(unsupportedOps.isEmpty ? "none" : unsupportedOps.joined(separator: ", "))\n"
        return s
    }
}

private func pad(_ s: String, _ width: Int) -> String {
    s.count >= width ? s : String(repeating: " ", count: width - s.count) + s
}

/// Bytes in binary units, e.g. `1.5 MiB`.
func bytes(_ n: Int) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var v = Double(n)
    var u = 0
    while v >= 1024 && u < units.count - 1 {
        v /= 1024
        u += 1
    }
    return u == 0 ? "\(n) B" : String(format: "%.1f %@", v, units[u])
}
