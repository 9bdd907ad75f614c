import IR
import Interpreter

/// Chooses how the model is quantized: the activation format, and for every
/// quantizable layer (a Conv, ConvTranspose, Gemm or MatMul whose weight is a
/// float initializer; see ``QDQRule/weighted(weight:bias:axes:)``) a weight
/// format, then rounds each layer's weights to the nearest level (RTN).
/// Later passes may change a layer's format or rounding; `insert-qdq` turns the
/// decisions into QuantizeLinear/DequantizeLinear nodes.
///
/// Unnamed nodes get names (`Conv_3`: op type and position) so that layers can
/// be named in options, the report and `--exclude`.
public struct Quantize: Pass {
    public static let name = "quantize"
    public static let summary = "Choose weight and activation formats per layer and round weights to nearest (RTN)."
    public static let options = [
        PassOption("weights", .choice(["int8", "int4"]), default: "int8", help: "Weight integer width."),
        PassOption("granularity", .choice(["auto", "per-tensor", "per-channel", "per-group"]), default: "auto",
                   help: "Weights sharing one scale; auto: per-channel for int8, per-group for int4."),
        PassOption("group", .int, default: "32", help: "Weights per group (along the reduction axis) for per-group."),
        PassOption("symmetric", .bool, default: "true", help: "Symmetric weights (zero point 0)."),
        PassOption("reduce-range", .bool, default: "false",
                   help: "7-bit int8 weights ([-64, 64]), for ONNX Runtime's x86 kernels without VNNI, whose 16-bit pair sums saturate."),
        PassOption("activations", .choice(["uint8", "int8"]), default: "uint8", help: "Activation integer type."),
        PassOption("activation-symmetric", .bool, default: "false", help: "Symmetric activation ranges."),
        PassOption("exclude", .string, default: "", help: "Nodes kept in float, separated by ';'."),
    ]

    let format: WeightFormat
    let activations: ActivationFormat
    let exclude: [String]
    let reduceRange: Bool

    public static func problem(with options: PassOptions) -> String? {
        let g = options.int("group")
        if options.string("granularity") == "per-group" || (options.string("granularity") == "auto" && options.string("weights") == "int4") {
            if g < 8 || g > 4096 { return "group must be between 8 and 4096 (32–256 are usual)" }
        }
        return nil
    }

    public init(options: PassOptions) {
        let bits = options.string("weights") == "int4" ? 4 : 8
        let granularity: Granularity = switch options.string("granularity") {
        case "per-tensor": .perTensor
        case "per-channel": .perChannel
        case "per-group": .perGroup(options.int("group"))
        default: bits == 8 ? .perChannel : .perGroup(options.int("group"))
        }
        format = .integer(bits: bits, granularity: granularity, symmetric: options.bool("symmetric"))
        activations = ActivationFormat(elementType: options.string("activations") == "int8" ? .int8 : .uint8,
                                       symmetric: options.bool("activation-symmetric"))
        reduceRange = options.bool("reduce-range")
        exclude = options.string("exclude").split(separator: ";").map { String($0) }.filter { !$0.isEmpty }
    }

    public var pipelineText: String {
        var parts = ["weights=int\(format.bits)"]
        if case .integer(_, let g, let sym) = format {
            switch g {
            case .perTensor: parts.append("granularity=per-tensor")
            case .perChannel: parts.append("granularity=per-channel")
            case .perGroup(let n): parts += ["granularity=per-group", "group=\(n)"]
            }
            parts.append("symmetric=\(sym)")
        }
        if reduceRange { parts.append("reduce-range=true") }
        parts.append("activations=\(activations.elementType == .int8 ? "int8" : "uint8")")
        parts.append("activation-symmetric=\(activations.symmetric)")
        if !exclude.isEmpty { parts.append("exclude=\(exclude.joined(separator: ";"))") }
        return "\(Self.name)(\(parts.joined(separator: ",")))"
    }

    public func run(on model: inout Model, context: inout PassContext) throws(PassError) {
        Self.nameNodes(&model.graph)
        let names = Set(model.graph.nodes.map(\.name))
        let excluded = Set(exclude).union(context.excludedNodes)
        for name in excluded.sorted() where !names.contains(name) {
            throw PassError(pass: Self.name, message: "cannot exclude node '\(name)': the model has no node of that name"
                + Self.suggestion(for: name, among: model.graph.nodes))
        }
        var state = model.quantization
        state.activations = activations
        state.excluded = model.graph.nodes.map(\.name).filter { excluded.contains($0) }
        state.layers = []
        state.int8ReducedRange = reduceRange
        let g = model.graph
        for node in g.nodes {
            guard let layer = Self.layer(for: node, in: g) else { continue }
            var l = layer
            if excluded.contains(node.name) {
                l.format = .float32
                context.count("layers kept in float")
            } else {
                l.format = format
                if let w = g.initializers[l.weight]?.floatValues() {
                    l.quantized = WeightQuantizer.quantize(w, shape: g.initializers[l.weight]!.shape, format: format,
                                                           channelAxis: l.channelAxis, groupAxis: l.groupAxis, reduceRange: reduceRange,
                                                           threads: context.threads)
                }
                context.count("layers quantized")
            }
            state.layers.append(l)
        }
        model.quantization = state
    }

    /// The layer description of `node` if it is a quantizable layer: its QDQ rule is
    /// `weighted` and its weight a float32 initializer of rank ≥ 2.
    public static func layer(for node: Node, in g: Graph) -> LayerQuantization? {
        guard node.isDefaultDomain, let entry = OpRegistry.entry(for: node),
              case .weighted(let wi, let bi, let axes) = entry.qdq, wi < node.inputs.count,
              let w = g.initializers[node.inputs[wi]], w.elementType == .float32, w.shape.count >= 2 else { return nil }
        // Only the second MatMul operand counts as a weight; MatMul(W, x) stays as it is.
        if node.opType == "MatMul", g.initializers[node.inputs[0]] != nil { return nil }
        var bias: String?
        if let bi, bi < node.inputs.count, let b = g.initializers[node.inputs[bi]], b.elementType == .float32, b.shape.count == 1 {
            bias = node.inputs[bi]
        }
        let (channel, group) = axes(node, w.shape.count)
        return LayerQuantization(node: node.name, opType: node.opType, weight: node.inputs[wi], weightInput: wi, bias: bias,
                                 channelAxis: channel, groupAxis: group, format: .float32)
    }

    /// Gives every unnamed node (and every node whose name repeats) a unique name.
    public static func nameNodes(_ g: inout Graph) {
        var seen = Set<String>()
        let all = Set(g.nodes.map(\.name))
        for i in g.nodes.indices {
            var name = g.nodes[i].name
            if name.isEmpty || seen.contains(name) {
                let base = name.isEmpty ? "\(g.nodes[i].opType)_\(i)" : name
                name = base
                var k = 1
                while seen.contains(name) || (name != g.nodes[i].name && all.contains(name)) {
                    k += 1
                    name = "\(base)_\(k)"
                }
                g.nodes[i].name = name
            }
            seen.insert(name)
        }
    }

    public static func suggestion(for name: String, among nodes: [Node]) -> String {
        let close = nodes.map(\.name).filter { $0.lowercased().contains(name.lowercased()) || name.lowercased().contains($0.lowercased()) }
        if !close.isEmpty { return "; did you mean \(close.prefix(5).map { "'\($0)'" }.joined(separator: ", "))?" }
        let layers = nodes.filter { ["Conv", "Gemm", "MatMul", "ConvTranspose"].contains($0.opType) }.map(\.name)
        return layers.isEmpty ? "" : "; its layers are \(layers.prefix(8).joined(separator: ", "))\(layers.count > 8 ? ", ..." : "")"
    }
}
