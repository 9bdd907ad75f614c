/// A pipeline text that does not parse, or names a pass or option that does not exist.
public struct PipelineError: Error, CustomStringConvertible, Sendable, Equatable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { "pipeline: \(message)" }
}

/// One `name(option=value,...)` element of a pipeline text.
struct PipelineElement: Equatable {
    var name: String
    var options: [(String, String)]

    static func == (a: PipelineElement, b: PipelineElement) -> Bool {
        a.name == b.name && a.options.elementsEqual(b.options, by: ==)
    }
}

/// Parses pipeline text: passes separated by commas, each optionally followed
/// by options in parentheses or braces, e.g.
/// `canonicalize,calibrate(method=entropy,samples=256)` or `dce{}`.
enum PipelineParser {
    static func parse(_ text: String) throws(PipelineError) -> [PipelineElement] {
        var elements: [PipelineElement] = []
        let chars = Array(text.unicodeScalars.filter { $0 != " " && $0 != "\n" && $0 != "\t" })
        let compact = String(String.UnicodeScalarView(chars))
        guard !chars.isEmpty else { throw PipelineError("the pipeline is empty") }
        var i = 0
        func isNameChar(_ c: Unicode.Scalar) -> Bool {
            (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9") || c == "-" || c == "_"
        }
        while i < chars.count {
            var name = ""
            while i < chars.count, isNameChar(chars[i]) { name.unicodeScalars.append(chars[i]); i += 1 }
            guard !name.isEmpty else {
                throw PipelineError("expected a pass name at character \(i + 1) of '\(compact)'")
            }
            var options: [(String, String)] = []
            if i < chars.count, chars[i] == "(" || chars[i] == "{" {
                let close: Unicode.Scalar = chars[i] == "(" ? ")" : "}"
                i += 1
                var body = ""
                while i < chars.count, chars[i] != close { body.unicodeScalars.append(chars[i]); i += 1 }
                guard i < chars.count else { throw PipelineError("missing '\(close)' after the options of '\(name)'") }
                i += 1
                for item in body.split(separator: ",", omittingEmptySubsequences: true) {
                    let kv = item.split(separator: "=", maxSplits: 1).map(String.init)
                    guard kv.count == 2, !kv[0].isEmpty, !kv[1].isEmpty else {
                        throw PipelineError("option '\(item)' of '\(name)' is not of the form name=value")
                    }
                    options.append((kv[0], kv[1]))
                }
            }
            elements.append(PipelineElement(name: name, options: options))
            if i < chars.count {
                guard chars[i] == "," else { throw PipelineError("expected ',' after '\(name)' at character \(i + 1) of '\(compact)'") }
                i += 1
                guard i < chars.count else { throw PipelineError("the pipeline ends with ','") }
            }
        }
        return elements
    }
}
