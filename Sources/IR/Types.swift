/// One dimension of a shape: a fixed size, a named symbolic size (`N`,
/// `batch`), or unknown.
public enum Dim: Hashable, Sendable, CustomStringConvertible {
    case fixed(Int)
    case symbolic(String)
    case unknown

    public var value: Int? { if case .fixed(let v) = self { v } else { nil } }

    public var description: String {
        switch self {
        case .fixed(let v): String(v)
        case .symbolic(let s): s
        case .unknown: "?"
        }
    }
}

/// Element type and shape of a tensor value; `shape == nil` means the rank is unknown.
public struct TensorType: Hashable, Sendable, CustomStringConvertible {
    public var elementType: ElementType
    public var shape: [Dim]?

    public init(_ elementType: ElementType, _ shape: [Dim]?) {
        self.elementType = elementType
        self.shape = shape
    }

    public init(_ elementType: ElementType, fixed dims: [Int]) {
        self.init(elementType, dims.map { .fixed($0) })
    }

    /// The dims when every one is fixed.
    public var fixedShape: [Int]? {
        guard let shape else { return nil }
        var out: [Int] = []
        out.reserveCapacity(shape.count)
        for d in shape {
            guard let v = d.value else { return nil }
            out.append(v)
        }
        return out
    }

    public var description: String {
        guard let shape else { return "\(elementType.shortName)[*]" }
        return "\(elementType.shortName)[\(shape.map(\.description).joined(separator: ","))]"
    }
}

/// The type of a value: ONNX's `TypeProto`, with element types absent where the
/// model leaves them out.
public indirect enum ValueType: Hashable, Sendable, CustomStringConvertible {
    case tensor(TensorType)
    case sparseTensor(TensorType)
    case sequence(ValueType?)
    case map(key: ElementType, value: ValueType?)
    case optional(ValueType?)

    public var tensorType: TensorType? { if case .tensor(let t) = self { t } else { nil } }

    public var description: String {
        switch self {
        case .tensor(let t): t.description
        case .sparseTensor(let t): "sparse<\(t)>"
        case .sequence(let e): "seq<\(e?.description ?? "?")>"
        case .map(let k, let v): "map<\(k.shortName),\(v?.description ?? "?")>"
        case .optional(let e): "opt<\(e?.description ?? "?")>"
        }
    }
}

/// A named value's declared type (graph inputs, outputs and `value_info`).
public struct ValueInfo: Hashable, Sendable {
    public var name: String
    public var type: ValueType?
    public var docString: String
    /// Fields of the ONNX message that the bindings' onnx.proto does not know,
    /// kept as they came so the model round-trips.
    public var unknownFields: [UnknownField]

    public init(name: String, type: ValueType?, docString: String = "", unknownFields: [UnknownField] = []) {
        self.name = name
        self.type = type
        self.docString = docString
        self.unknownFields = unknownFields
    }
}

/// A protobuf field the bindings do not model (from a newer onnx.proto), kept
/// verbatim: tag, wire type and the encoded payload after the tag.
public struct UnknownField: Hashable, Sendable {
    public var tag: UInt32
    public var wireType: UInt8
    public var payload: [UInt8]

    public init(tag: UInt32, wireType: UInt8, payload: [UInt8]) {
        self.tag = tag
        self.wireType = wireType
        self.payload = payload
    }
}

/// A serialized ONNX message quantc carries through without interpreting it
/// (sparse tensors, training info, quantization annotations).
public struct OpaqueMessage: Hashable, Sendable {
    public var bytes: [UInt8]
    public init(_ bytes: [UInt8]) { self.bytes = bytes }
}
