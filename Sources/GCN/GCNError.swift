/// What can go wrong in the GCN model; every case names the file, kernel or layer.
public enum GCNError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The compiler executable is not installed (or not runnable).
    case compilerMissing(compiler: String, reason: String)
    /// clang rejected the source: its first error, with the kernel it falls in when known.
    case compileFailed(file: String, kernel: String?, diagnostic: String)
    /// clang succeeded but its output could not be read as expected.
    case unreadableOutput(file: String, message: String)
    /// The candidates of a tuning problem are malformed (duplicate kernel names, bad geometry, ...).
    case badCandidate(layer: String, config: String, message: String)
    /// Every candidate of a layer was rejected; the reasons, one per candidate.
    case noViableCandidate(layer: String, rejected: [String])

    public var description: String {
        switch self {
        case .compilerMissing(let c, let r):
            return "\(c) is needed to compile kernels for gfx803 and could not be run (\(r)); install it with `apt-get install clang-15` (tools/setup.sh does)"
        case .compileFailed(let f, let k, let d):
            return "\(f): " + (k.map { "kernel '\($0)': " } ?? "") + "clang-15 failed: \(d)"
        case .unreadableOutput(let f, let m):
            return "\(f): cannot read clang-15's output: \(m)"
        case .badCandidate(let l, let c, let m):
            return "layer '\(l)', candidate '\(c)': \(m)"
        case .noViableCandidate(let l, let r):
            return "layer '\(l)': no candidate kernel is usable on gfx803: " + r.joined(separator: "; ")
        }
    }
}
