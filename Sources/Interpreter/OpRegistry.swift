import IR

/// Everything quantc knows about one operator, in one place: how to bring old
/// opset forms to the current one, its shape rule and its CPU kernel.
/// Later stages (QDQ rules, GCN kernels) hang off the same entry.
public struct OpEntry: Sendable {
    public typealias Kernel = @Sendable (KernelContext) throws -> [RTensor]
    public typealias Normalizer = @Sendable (inout Node, inout NormalizeContext) -> Void
    public typealias ShapeRule = @Sendable (ShapeContext) throws -> [TensorType?]

    public var opType: String
    public var domain: String
    /// Rewrites a node written for an older opset into the form `kernel` expects
    /// (attributes that became inputs, renamed attributes, changed defaults).
    public var normalize: Normalizer?
    /// Output types from input types (and constant inputs); nil when the op
    /// has no rule yet, in which case shape inference leaves outputs unknown.
    public var shape: ShapeRule?
    public var kernel: Kernel
    /// How the operator is quantized in QDQ form; nil: it is not (it reads dequantized inputs).
    public var qdq: QDQRule?

    public init(_ opType: String, domain: String = "", normalize: Normalizer? = nil, shape: ShapeRule? = nil,
                kernel: @escaping Kernel) {
        self.opType = opType
        self.domain = domain
        self.normalize = normalize
        self.shape = shape
        self.kernel = kernel
    }
}

/// The operators the interpreter runs, keyed by domain and op type. Each
/// family of operators lives in its own file under Ops/ and contributes an
/// array of entries here.
public enum OpRegistry {
    public static let entries: [String: OpEntry] = {
        var map: [String: OpEntry] = [:]
        for family in families {
            for e in family {
                let key = e.domain.isEmpty ? e.opType : "\(e.domain)::\(e.opType)"
                precondition(map[key] == nil, "operator \(key) registered twice")
                var e = e
                if e.domain.isEmpty, let rule = QDQRule.table[e.opType] { e.qdq = rule }
                map[key] = e
            }
        }
        return map
    }()

    static var families: [[OpEntry]] {
        [Ops.elementwiseUnary, Ops.elementwiseBinary, Ops.linear, Ops.convolution, Ops.normalization,
         Ops.pooling, Ops.reduction, Ops.shapeOps, Ops.dataMovement, Ops.resize, Ops.controlFlow, Ops.recurrent,
         Ops.quantization, Ops.qlinear, Ops.contribMicrosoft]
    }

    public static func entry(for node: Node) -> OpEntry? {
        entries[node.isDefaultDomain ? node.opType : "\(node.domain)::\(node.opType)"]
    }

    /// Operator names the interpreter runs, for `inspect` and the conformance table.
    public static var supportedOps: [String] { entries.keys.sorted() }
}

/// Namespace for the operator families (one extension per file in Ops/).
public enum Ops {}

/// A kernel failed on its inputs (bad shapes, values out of range, ...).
public struct OpError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// What a kernel sees: its node, inputs and attributes, and a way to run subgraphs.
public struct KernelContext {
    public let node: Node
    /// Version of the default ONNX opset the model imports.
    public let opset: Int64
    /// Inputs by position; nil where an optional input is left out.
    public let inputs: [RTensor?]
    let runSubgraph: (Graph, [RTensor]) throws -> [RTensor]
    public let threads: Int
    /// The work fused after this node at load, which the kernel may do
    /// itself while its output is in cache (Conv does).
    var epilogue: EpilogueHook? = nil

    public var inputCount: Int { inputs.count }

    /// A required input.
    public func input(_ i: Int) throws -> RTensor {
        guard i < inputs.count, let t = inputs[i] else {
            throw OpError("input \(i) is required but missing")
        }
        return t
    }

    /// An optional input, nil when left out.
    public func optionalInput(_ i: Int) -> RTensor? { i < inputs.count ? inputs[i] : nil }

    public func attribute(_ name: String) -> AttributeValue? { node[attribute: name] }

    public func int(_ name: String, _ defaultValue: Int) -> Int {
        node[attribute: name]?.intValue.map { Int($0) } ?? defaultValue
    }

    public func ints(_ name: String) -> [Int]? { node[attribute: name]?.intsValue?.map { Int($0) } }

    public func float(_ name: String, _ defaultValue: Float) -> Float {
        node[attribute: name]?.floatValue ?? defaultValue
    }

    public func floats(_ name: String) -> [Float]? { node[attribute: name]?.floatsValue }

    public func string(_ name: String, _ defaultValue: String) -> String {
        node[attribute: name]?.stringValue ?? defaultValue
    }

    /// Runs a subgraph attribute (If branch, Loop body) with the given inputs;
    /// it sees every value visible at this node.
    public func run(subgraph: Graph, inputs: [RTensor]) throws -> [RTensor] {
        try runSubgraph(subgraph, inputs)
    }
}

/// What a normalizer sees besides the node: the opset version, and a way to
/// turn attribute values that later opsets take as inputs into constants.
public struct NormalizeContext {
    public let opset: Int64
    var constants: [(String, Tensor)] = []
    private let prefix: String

    init(opset: Int64, prefix: String) {
        self.opset = opset
        self.prefix = prefix
    }

    /// Adds a constant to the graph and returns its value name.
    public mutating func constant(_ t: Tensor) -> String {
        let name = "\(prefix).\(constants.count)"
        var t = t
        t.name = name
        constants.append((name, t))
        return name
    }

    /// Sets input `index` of `node` (padding with omitted inputs).
    public static func setInput(_ node: inout Node, _ index: Int, _ name: String) {
        while node.inputs.count <= index { node.inputs.append("") }
        node.inputs[index] = name
    }
}

/// What a shape rule sees: the node and its inputs' types, with constant
/// inputs' values where they are known.
public struct ShapeContext {
    public let node: Node
    public let opset: Int64
    public let inputTypes: [TensorType?]
    public let constants: [RTensor?]

    public func int(_ name: String, _ defaultValue: Int) -> Int {
        node[attribute: name]?.intValue.map { Int($0) } ?? defaultValue
    }

    public func ints(_ name: String) -> [Int]? { node[attribute: name]?.intsValue?.map { Int($0) } }
}
