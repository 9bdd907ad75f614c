import Foundation
import IR
import Interpreter

/// `--input` values of `run` and `exec`: `NAME=FILE` (one tensor, read by `read`) or an
/// archive `FILE.npz` holding one array per input, keyed by input name.
enum InputSpecs {
    static func load(_ specs: [String], expected: String, read: (String) throws -> Tensor) throws -> [String: RTensor] {
        var feeds: [String: RTensor] = [:]
        for spec in specs {
            if spec.hasSuffix(".npz"), !spec.contains("=") {
                let arrays: [(name: String, tensor: Tensor)]
                do { arrays = try NumpyFile.readArchive(spec) } catch { fail(error.description, .badInput) }
                for (name, t) in arrays { feeds[name] = RTensor(t) }
                continue
            }
            guard let eq = spec.firstIndex(of: "=") else { fail("--input \(spec): expected \(expected) or FILE.npz", .usage) }
            let name = String(spec[..<eq]), path = String(spec[spec.index(after: eq)...])
            feeds[name] = RTensor(try read(path))
        }
        return feeds
    }
}
