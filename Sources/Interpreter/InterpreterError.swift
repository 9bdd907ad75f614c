import IR

/// Why the interpreter cannot run a model or a node. Raised before any
/// compute for unsupported operators and mismatched inputs.
public enum InterpreterError: Error, CustomStringConvertible, Sendable {
    case unsupportedOperator(op: String, domain: String, opset: Int64, node: String)
    case missingInput(name: String, expected: String)
    case unknownInput(name: String, inputs: [String])
    case inputMismatch(name: String, expected: String, given: String)
    case kernelFailed(node: String, message: String)
    /// A partial run (``Interpreter/run(reusing:overriding:outputs:)``) was asked to
    /// override `name`, which it cannot: `reason` says why.
    case cannotOverride(name: String, reason: String)
    /// A partial run needs `value` (read by `node`, which it re-executes) but was not given it.
    case missingCutValue(value: String, node: String)

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
        case .cannotOverride(let name, let reason):
            "cannot override '\(name)': \(reason)"
        case .missingCutValue(let value, let node):
            "partial run: node \(node) reads '\(value)', which is neither recomputed nor among the given values"
        }
    }
}
