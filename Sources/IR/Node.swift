/// One operator application. Inputs and outputs name values; an empty name
/// marks an optional input or output that is left out, as in ONNX.
public struct Node: Hashable, Sendable {
    public var name: String
    public var opType: String
    /// Operator set domain; "" (and "ai.onnx") is the default ONNX domain.
    public var domain: String
    public var inputs: [String]
    public var outputs: [String]
    public var attributes: [Attribute]
    public var docString: String
    public var unknownFields: [UnknownField]

    public init(name: String = "", opType: String, domain: String = "", inputs: [String], outputs: [String],
                attributes: [Attribute] = [], docString: String = "", unknownFields: [UnknownField] = []) {
        self.name = name
        self.opType = opType
        self.domain = domain
        self.inputs = inputs
        self.outputs = outputs
        self.attributes = attributes
        self.docString = docString
        self.unknownFields = unknownFields
    }

    /// The attribute named `name`, if present.
    public subscript(attribute name: String) -> AttributeValue? {
        get { attributes.first { $0.name == name }?.value }
        set {
            if let i = attributes.firstIndex(where: { $0.name == name }) {
                if let newValue { attributes[i].value = newValue } else { attributes.remove(at: i) }
            } else if let newValue {
                attributes.append(Attribute(name, newValue))
            }
        }
    }

    /// Whether the node belongs to the default ONNX operator set.
    public var isDefaultDomain: Bool { domain.isEmpty || domain == "ai.onnx" }

    /// Human-readable label for messages: the node name, or its op and first output.
    public var label: String {
        name.isEmpty ? "\(opType) producing '\(outputs.first ?? "")'" : "'\(name)' (\(opType))"
    }

    /// Subgraphs held in attributes (If branches, Loop/Scan bodies).
    public var subgraphs: [(attribute: String, graph: Graph)] {
        attributes.flatMap { a -> [(attribute: String, graph: Graph)] in
            switch a.value {
            case .graph(let g): [(a.name, g)]
            case .graphs(let gs): gs.map { (a.name, $0) }
            default: []
            }
        }
    }
}
