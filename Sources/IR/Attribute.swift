/// The value of a node attribute, one case per ONNX `AttributeProto.AttributeType`.
public enum AttributeValue: Hashable, Sendable {
    case float(Float)
    case int(Int64)
    case string(String)
    case tensor(Tensor)
    case graph(Graph)
    case sparseTensor(OpaqueMessage)
    case type(ValueType)
    case floats([Float])
    case ints([Int64])
    case strings([String])
    case tensors([Tensor])
    case graphs([Graph])
    case sparseTensors([OpaqueMessage])
    case types([ValueType])

    /// The ONNX attribute kind this value has.
    public var kind: AttributeKind {
        switch self {
        case .float: .float
        case .int: .int
        case .string: .string
        case .tensor: .tensor
        case .graph: .graph
        case .sparseTensor: .sparseTensor
        case .type: .typeProto
        case .floats: .floats
        case .ints: .ints
        case .strings: .strings
        case .tensors: .tensors
        case .graphs: .graphs
        case .sparseTensors: .sparseTensors
        case .types: .typeProtos
        }
    }
}

/// ONNX's `AttributeProto.AttributeType` numbering.
public enum AttributeKind: Int32, Sendable, CaseIterable {
    case float = 1, int = 2, string = 3, tensor = 4, graph = 5, sparseTensor = 11, typeProto = 13
    case floats = 6, ints = 7, strings = 8, tensors = 9, graphs = 10, sparseTensors = 12, typeProtos = 14

    public var name: String {
        switch self {
        case .float: "float"
        case .int: "int"
        case .string: "string"
        case .tensor: "tensor"
        case .graph: "graph"
        case .sparseTensor: "sparse_tensor"
        case .typeProto: "type_proto"
        case .floats: "floats"
        case .ints: "ints"
        case .strings: "strings"
        case .tensors: "tensors"
        case .graphs: "graphs"
        case .sparseTensors: "sparse_tensors"
        case .typeProtos: "type_protos"
        }
    }

    /// An empty value of this kind, used for attributes that only refer to a
    /// function's attribute (`ref_attr_name`).
    public var placeholder: AttributeValue {
        switch self {
        case .float: .float(0)
        case .int: .int(0)
        case .string: .string("")
        case .tensor: .tensor(Tensor(elementType: .float32, shape: [], data: .bytes(ByteBuffer(copying: [0, 0, 0, 0]))))
        case .graph: .graph(Graph(name: ""))
        case .sparseTensor: .sparseTensor(OpaqueMessage([]))
        case .typeProto: .type(.tensor(TensorType(.undefined, nil)))
        case .floats: .floats([])
        case .ints: .ints([])
        case .strings: .strings([])
        case .tensors: .tensors([])
        case .graphs: .graphs([])
        case .sparseTensors: .sparseTensors([])
        case .typeProtos: .types([])
        }
    }
}

/// A named attribute of a node.
public struct Attribute: Hashable, Sendable {
    public var name: String
    public var value: AttributeValue
    /// Inside a function body: the name of the function attribute this one
    /// takes its value from (`value` is then only a placeholder of the right kind).
    public var referencedAttribute: String?
    public var docString: String
    public var unknownFields: [UnknownField]

    public init(_ name: String, _ value: AttributeValue, referencedAttribute: String? = nil,
                docString: String = "", unknownFields: [UnknownField] = []) {
        self.name = name
        self.value = value
        self.referencedAttribute = referencedAttribute
        self.docString = docString
        self.unknownFields = unknownFields
    }
}

extension AttributeValue {
    public var intValue: Int64? { if case .int(let v) = self { v } else { nil } }
    public var floatValue: Float? { if case .float(let v) = self { v } else { nil } }
    public var stringValue: String? { if case .string(let v) = self { v } else { nil } }
    public var intsValue: [Int64]? { if case .ints(let v) = self { v } else { nil } }
    public var floatsValue: [Float]? { if case .floats(let v) = self { v } else { nil } }
    public var tensorValue: Tensor? { if case .tensor(let v) = self { v } else { nil } }
    public var graphValue: Graph? { if case .graph(let v) = self { v } else { nil } }
}
