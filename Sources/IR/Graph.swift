import OrderedCollections

/// A computation graph: ordered nodes over named values, with the graph's
/// inputs, outputs, declared value types and constant initializers.
///
/// Values are identified by name, as in ONNX; a subgraph (an `If` branch or a
/// `Loop` body) may use names defined in the graphs that enclose it.
public struct Graph: Hashable, Sendable {
    public var name: String
    public var docString: String
    public var inputs: [ValueInfo]
    public var outputs: [ValueInfo]
    /// Types of intermediate values (`value_info`), keyed by value name.
    public var valueInfo: OrderedDictionary<String, ValueInfo>
    /// Constant tensors keyed by name, in file order.
    public var initializers: OrderedDictionary<String, Tensor>
    public var nodes: [Node]
    public var sparseInitializers: [OpaqueMessage]
    public var quantizationAnnotations: [OpaqueMessage]
    public var unknownFields: [UnknownField]

    public init(name: String, docString: String = "", inputs: [ValueInfo] = [], outputs: [ValueInfo] = [],
                valueInfo: OrderedDictionary<String, ValueInfo> = [:],
                initializers: OrderedDictionary<String, Tensor> = [:], nodes: [Node] = [],
                sparseInitializers: [OpaqueMessage] = [], quantizationAnnotations: [OpaqueMessage] = [],
                unknownFields: [UnknownField] = []) {
        self.name = name
        self.docString = docString
        self.inputs = inputs
        self.outputs = outputs
        self.valueInfo = valueInfo
        self.initializers = initializers
        self.nodes = nodes
        self.sparseInitializers = sparseInitializers
        self.quantizationAnnotations = quantizationAnnotations
        self.unknownFields = unknownFields
    }

    /// Graph inputs that are not initializers: what a caller must feed.
    public var runtimeInputs: [ValueInfo] { inputs.filter { initializers[$0.name] == nil } }

    /// The declared or implied type of a value of this graph (not of enclosing graphs).
    public func type(of value: String) -> ValueType? {
        if let t = initializers[value] { return .tensor(t.type) }
        if let v = inputs.first(where: { $0.name == value }), let t = v.type { return t }
        if let v = valueInfo[value]?.type { return v }
        return outputs.first(where: { $0.name == value })?.type
    }

    /// Index of the node producing each value.
    public func producers() -> [String: Int] {
        var map: [String: Int] = [:]
        for (i, n) in nodes.enumerated() { for o in n.outputs where !o.isEmpty { map[o] = i } }
        return map
    }

    /// Calls `body` on this graph and every nested subgraph, outermost first,
    /// with the nesting depth.
    public func walk(depth: Int = 0, _ body: (Graph, Int) throws -> Void) rethrows {
        try body(self, depth)
        for node in nodes {
            for (_, g) in node.subgraphs { try g.walk(depth: depth + 1, body) }
        }
    }
}

/// An operator set a model imports.
public struct OpsetImport: Hashable, Sendable {
    public var domain: String
    public var version: Int64
    public init(domain: String, version: Int64) {
        self.domain = domain
        self.version = version
    }
}

/// A model-local function (`FunctionProto`).
public struct Function: Hashable, Sendable {
    public var name: String
    public var domain: String
    public var inputs: [String]
    public var outputs: [String]
    public var attributeNames: [String]
    public var nodes: [Node]
    public var opsetImports: [OpsetImport]
    public var docString: String
    public var unknownFields: [UnknownField]

    public init(name: String, domain: String, inputs: [String], outputs: [String], attributeNames: [String],
                nodes: [Node], opsetImports: [OpsetImport], docString: String = "",
                unknownFields: [UnknownField] = []) {
        self.name = name
        self.domain = domain
        self.inputs = inputs
        self.outputs = outputs
        self.attributeNames = attributeNames
        self.nodes = nodes
        self.opsetImports = opsetImports
        self.docString = docString
        self.unknownFields = unknownFields
    }
}

/// A whole model: the main graph plus everything the file says about it.
public struct Model: Hashable, Sendable {
    public var irVersion: Int64
    public var opsetImports: [OpsetImport]
    public var producerName: String
    public var producerVersion: String
    public var domain: String
    public var modelVersion: Int64
    public var docString: String
    /// `metadata_props`, in file order.
    public var metadata: [(key: String, value: String)]
    public var graph: Graph
    public var functions: [Function]
    public var trainingInfo: [OpaqueMessage]
    public var unknownFields: [UnknownField]
    /// Analysis results of quantization passes (not part of the ONNX file).
    public var quantization = QuantizationState()

    public init(irVersion: Int64 = 8, opsetImports: [OpsetImport] = [OpsetImport(domain: "", version: 17)],
                producerName: String = "", producerVersion: String = "", domain: String = "",
                modelVersion: Int64 = 0, docString: String = "", metadata: [(key: String, value: String)] = [],
                graph: Graph, functions: [Function] = [], trainingInfo: [OpaqueMessage] = [],
                unknownFields: [UnknownField] = []) {
        self.irVersion = irVersion
        self.opsetImports = opsetImports
        self.producerName = producerName
        self.producerVersion = producerVersion
        self.domain = domain
        self.modelVersion = modelVersion
        self.docString = docString
        self.metadata = metadata
        self.graph = graph
        self.functions = functions
        self.trainingInfo = trainingInfo
        self.unknownFields = unknownFields
    }

    /// The imported version of an operator set ("" or "ai.onnx" for the default one).
    public func opsetVersion(domain: String) -> Int64? {
        let d = domain == "ai.onnx" ? "" : domain
        return opsetImports.first { ($0.domain == "ai.onnx" ? "" : $0.domain) == d }?.version
    }

    public static func == (a: Model, b: Model) -> Bool {
        a.irVersion == b.irVersion && a.opsetImports == b.opsetImports && a.producerName == b.producerName
            && a.producerVersion == b.producerVersion && a.domain == b.domain && a.modelVersion == b.modelVersion
            && a.docString == b.docString && a.metadata.elementsEqual(b.metadata, by: { $0 == $1 })
            && a.graph == b.graph && a.functions == b.functions && a.trainingInfo == b.trainingInfo
            && a.unknownFields == b.unknownFields && a.quantization == b.quantization
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(irVersion)
        hasher.combine(graph)
    }
}
