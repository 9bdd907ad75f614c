/// Why an artifact directory cannot be written or used; each case names the
/// directory and file.
public enum ArtifactError: Error, CustomStringConvertible, Equatable, Sendable {
    case notADirectory(path: String)
    case missingFile(directory: String, file: String)
    case hashMismatch(directory: String, file: String, expected: String, actual: String)
    case unlistedFile(directory: String, file: String)
    case versionMismatch(directory: String, file: String, found: Int, expected: Int)
    case malformed(directory: String, file: String, detail: String)
    case io(path: String, operation: String, errno: Int32)

    public var description: String {
        switch self {
        case .notADirectory(let p):
            return "\(p): not a quantc artifact directory"
        case .missingFile(let d, let f):
            return "\(d): artifact file '\(f)' is missing"
        case .hashMismatch(let d, let f, let e, let a):
            return "\(d): artifact file '\(f)' is corrupted: SHA-256 \(a.prefix(16))… does not match the manifest's \(e.prefix(16))…"
        case .unlistedFile(let d, let f):
            return "\(d): manifest.json does not list a hash for '\(f)'"
        case .versionMismatch(let d, let f, let found, let expected):
            return "\(d): \(f) has format version \(found), but this quantc reads version \(expected); recompile the model with this quantc"
        case .malformed(let d, let f, let detail):
            return "\(d): \(f) cannot be read: \(detail)"
        case .io(let p, let op, let e):
            return "\(p): cannot \(op): \(String(cString: strerror(e)))"
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
