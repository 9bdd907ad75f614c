/// Why a model cannot be compiled; every case names the node, value or option.
public enum CodegenError: Error, CustomStringConvertible, Equatable, Sendable {
    /// A value whose shape is not fully known after shape inference.
    case unknownShape(value: String, node: String)
    /// A graph input with a symbolic dimension no `--input-shape` fixed.
    case symbolicInput(input: String, dim: Int, name: String)
    /// An `--input-shape` naming no graph input, or with the wrong rank.
    case badInputShape(input: String, detail: String)
    /// A node the lowering understands but whose form it does not support.
    case unsupported(node: String, opType: String, detail: String)
    case unknownTarget(String, valid: [String])
    /// Compiling the kernels for gfx803 with clang-15 failed.
    case gcn(String)
    /// A `--kernel-config` value that names no template or parameter.
    case badKernelConfig(String, String)

    public var description: String {
        switch self {
        case .unknownShape(let v, let n):
            return "value '\(v)' (produced by \(n)) has no static shape after shape inference; give the graph inputs fixed shapes (--input-shape)"
        case .symbolicInput(let i, let d, let n):
            return "graph input '\(i)' has symbolic dimension \(d) ('\(n)'); fix it with --input-shape \(i)=D0xD1x…"
        case .badInputShape(let i, let d):
            return "--input-shape '\(i)': \(d)"
        case .unsupported(let n, let op, let d):
            return "node '\(n)' (\(op)): \(d)"
        case .badKernelConfig(let spec, let detail):
            return "--kernel-config '\(spec)': \(detail)"
        case .gcn(let message):
            return "compiling the kernels for gfx803: \(message)"
        case .unknownTarget(let t, let valid):
            return "unknown target '\(t)'; valid targets: \(valid.joined(separator: ", "))"
        }
    }
}
