#if canImport(Glibc)
import Glibc
#endif

/// A file written under a temporary name in its destination folder and renamed
/// into place only when complete, so readers (and a crash or kill at any
/// moment) never see a partial file at `path`.
///
/// ```swift
/// let out = try AtomicFile(path: "model.onnx")
/// try out.write(bytes)
/// try out.commit()   // without commit, deinit removes the temporary file
/// ```
public final class AtomicFile {
    public let path: String
    public let temporaryPath: String
    public let fd: Int32
    private var finished = false

    public init(path: String) throws(SystemError) {
        self.path = path
        let slash = path.lastIndex(of: "/")
        let folder = slash.map { String(path[..<$0]) } ?? "."
        let base = slash.map { String(path[path.index(after: $0)...]) } ?? path
        var template = Array("\(folder.isEmpty ? "/" : folder)/.\(base).tmp-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw SystemError(path: path, operation: "create", errno: errno) }
        self.fd = fd
        temporaryPath = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        fchmod(fd, 0o644)
    }

    /// Appends bytes, retrying short writes.
    public func write(_ bytes: UnsafeRawBufferPointer) throws(SystemError) {
        var p = bytes.baseAddress
        var left = bytes.count
        while left > 0 {
            let n = Glibc.write(fd, p, left)
            if n < 0 {
                if errno == EINTR { continue }
                throw SystemError(path: path, operation: "write", errno: errno)
            }
            p = p! + n
            left -= n
        }
    }

    public func write(_ bytes: [UInt8]) throws(SystemError) {
        let copy = ByteBuffer(copying: bytes)
        try write(copy.bytes)
        withExtendedLifetime(copy) {}
    }

    public func write(_ text: String) throws(SystemError) {
        try write(Array(text.utf8))
    }

    /// Flushes to disk and renames over `path`.
    public func commit() throws(SystemError) {
        guard !finished else { return }
        finished = true
        defer { close(fd) }
        guard fsync(fd) == 0 else {
            let e = errno
            unlink(temporaryPath)
            throw SystemError(path: path, operation: "fsync", errno: e)
        }
        guard rename(temporaryPath, path) == 0 else {
            let e = errno
            unlink(temporaryPath)
            throw SystemError(path: path, operation: "rename", errno: e)
        }
    }

    /// Removes the temporary file without touching `path`.
    public func discard() {
        guard !finished else { return }
        finished = true
        close(fd)
        unlink(temporaryPath)
    }

    deinit { discard() }
}
