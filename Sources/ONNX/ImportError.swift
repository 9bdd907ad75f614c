import IR

/// Why a model file could not be imported. Each case names the file and, where
/// there is one, the tensor, node or value at fault.
public enum ImportError: Error, CustomStringConvertible, Sendable {
    case unreadable(file: String, reason: String)
    case empty(file: String)
    case notONNX(file: String, format: String)
    case malformedProtobuf(file: String, size: Int)
    case missingGraph(file: String)
    case badTensor(file: String, tensor: String, problem: String)
    case badExternalData(file: String, tensor: String, location: String, problem: String)
    case badAttribute(file: String, node: String, attribute: String, problem: String)
    case badType(file: String, value: String, problem: String)
    case invalidGraph(file: String, VerificationError)
    /// The model asks for more than ``ImportLimits`` allow; `where` is the path to the place.
    case limitExceeded(file: String, where: String, problem: String)

    /// One line: control characters a hostile file puts in its names (newlines, terminal
    /// escapes) are written as escapes, so they can neither split the message nor act on a terminal.
    public var description: String {
        var out = ""
        for u in text.unicodeScalars {
            switch u {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where u.value < 0x20 || (0x7F..<0xA0).contains(u.value) || u == "\u{2028}" || u == "\u{2029}":
                out += "\\u{\(String(u.value, radix: 16))}"
            default: out.unicodeScalars.append(u)
            }
        }
        return out
    }

    private var text: String {
        switch self {
        case .unreadable(let file, let reason):
            "\(file): cannot read the model: \(reason)"
        case .empty(let file):
            "\(file): the file is empty, not an ONNX model"
        case .notONNX(let file, let format):
            "\(file): this is \(format), not an ONNX model"
        case .malformedProtobuf(let file, let size):
            "\(file): not a valid ONNX protobuf (\(size) bytes could not be decoded as a ModelProto: the file is truncated, corrupt, or not ONNX)"
        case .missingGraph(let file):
            "\(file): the ModelProto has no graph, so it is not a usable ONNX model"
        case .badTensor(let file, let tensor, let problem):
            "\(file): tensor '\(tensor)': \(problem)"
        case .badExternalData(let file, let tensor, let location, let problem):
            "\(file): tensor '\(tensor)': external data '\(location)' \(problem)"
        case .badAttribute(let file, let node, let attribute, let problem):
            "\(file): node \(node): attribute '\(attribute)': \(problem)"
        case .badType(let file, let value, let problem):
            "\(file): value '\(value)': \(problem)"
        case .invalidGraph(let file, let error):
            "\(file): \(error)"
        case .limitExceeded(let file, let place, let problem):
            "\(file): \(place): \(problem)"
        }
    }
}
