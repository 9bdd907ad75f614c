import IR

/// Why the interpreter cannot run a model or a node. Raised before any
/// compute for unsupported operators and mismatched inputs.
public enum InterpreterError: Error, CustomStringConvertible, Sendable {
    case unsupportedOperator(op: String, domain: String, opset: Int64, node: String)
    case missingInput(name: String, expected: String)
    case unknownInput(name: String, inputs: [String])
    case inputMismatch(name: String, expected: String, given: String)
    case kernelFailed(node: String, message: String)

    public var description: String {
        switch self {
        case .unsupportedOperator(let op, let domain, let opset, let node):
            "unsupported operator \(op) (domain '\(domain.isEmpty ? "ai.onnx" : domain)', opset \(opset)) at node \(node)"
        case .missingInput(let name, let expected):
            "input '\(name)' (\(expected)) is not given"
        case .unknownInput(let name, let inputs):
            "the model has no input '\(name)'; its inputs are: \(inputs.joined(separator: ", "))"
        case .inputMismatch(let name, let expected, let given):
            "input '\(name)': expected \(expected), given \(given)"
        case .kernelFailed(let node, let message):
            "node \(node): \(message)"
        }
    }
}
