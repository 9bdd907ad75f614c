#if canImport(Glibc)
import Glibc
#endif

/// A file written where nobody can see it and renamed into place only when complete, so
/// readers (and a crash, SIGKILL or full disk at any moment) never see a partial file at
/// `path`: it holds the old file or the complete new one.
///
/// Where the temporary goes: an unnamed file in the destination folder (Linux `O_TMPFILE`),
/// which the kernel frees when the process dies, so a killed run leaves nothing behind. At
/// commit it is linked in as `.NAME.tmp-PID-N` and renamed over `NAME` (rename(2) is atomic
/// within a folder). On file systems without `O_TMPFILE` the temporary is that named file
/// from the start; a run killed then leaves it behind, and the next `AtomicFile` for the same
/// path removes such files whose process is gone. Nothing else ever reads them.
///
/// ```swift
/// let out = try AtomicFile(path: "model.onnx")
/// try out.write(bytes)
/// try out.commit()   // without commit, deinit removes the temporary file
/// ```
public final class AtomicFile {
    public let path: String
    public let fd: Int32
    /// The temporary's name while it has one (always, without `O_TMPFILE`; during commit with it).
    public private(set) var temporaryPath: String?
    private let folder: String
    private let base: String
    private var finished = false

    public init(path: String) throws(SystemError) {
        self.path = path
        let slash = path.lastIndex(of: "/")
        let f = slash.map { String(path[..<$0]) } ?? "."
        folder = f.isEmpty ? "/" : f
        base = slash.map { String(path[path.index(after: $0)...]) } ?? path
        Self.removeStaleTemporaries(folder: folder, base: base)
        var fd = open(folder, Self.O_TMPFILE | O_RDWR | O_CLOEXEC, 0o644)
        if fd < 0 {
            let e = errno
            // Only "not supported here" falls back to a named temporary; other errors are real.
            guard e == EOPNOTSUPP || e == EISDIR || e == EINVAL else {
                throw SystemError(path: path, operation: "create", errno: e)
            }
            var template = Array("\(folder)/\(Self.prefix(base))XXXXXX".utf8CString)
            fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
            guard fd >= 0 else { throw SystemError(path: path, operation: "create", errno: errno) }
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            temporaryPath = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        }
        self.fd = fd
        fchmod(fd, 0o644)
    }

    // Linux's values (include/uapi/asm-generic/fcntl.h, linux/fcntl.h); Glibc's Swift module
    // leaves out these _GNU_SOURCE names.
    static let O_TMPFILE: Int32 = 0o20000000 | O_DIRECTORY
    static let AT_EMPTY_PATH: Int32 = 0x1000

    /// `.NAME.tmp-PID-`: the process id lets a later run tell a dead run's leftovers.
    static func prefix(_ base: String) -> String { ".\(base).tmp-\(getpid())-" }

    /// Removes `.BASE.tmp-PID-*` files in `folder` whose process no longer exists.
    static func removeStaleTemporaries(folder: String, base: String) {
        guard let dir = opendir(folder) else { return }
        defer { closedir(dir) }
        let marker = ".\(base).tmp-"
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            guard name.hasPrefix(marker) else { continue }
            let rest = name.dropFirst(marker.count)
            guard let dash = rest.firstIndex(of: "-"), let pid = Int32(rest[..<dash]), pid > 0 else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH { unlink("\(folder)/\(name)") }
        }
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
        func failing(_ operation: String, _ e: Int32) -> SystemError {
            if let t = temporaryPath { unlink(t) }
            return SystemError(path: path, operation: operation, errno: e)
        }
        guard fsync(fd) == 0 else { throw failing("fsync", errno) }
        if temporaryPath == nil { try link() }
        guard rename(temporaryPath!, path) == 0 else { throw failing("rename", errno) }
        temporaryPath = nil
    }

    /// Gives the unnamed temporary a name beside `path` (through /proc/self/fd, which needs
    /// no privilege; AT_EMPTY_PATH where /proc is missing and we may).
    private func link() throws(SystemError) {
        for attempt in 0..<100 {
            let name = "\(folder)/\(Self.prefix(base))\(attempt)"
            var r = linkat(AT_FDCWD, "/proc/self/fd/\(fd)", AT_FDCWD, name, AT_SYMLINK_FOLLOW)
            if r != 0 && errno == ENOENT { r = linkat(fd, "", AT_FDCWD, name, Self.AT_EMPTY_PATH) }
            if r == 0 {
                temporaryPath = name
                return
            }
            guard errno == EEXIST else { break }
        }
        throw SystemError(path: path, operation: "link", errno: errno)
    }

    /// Removes the temporary file without touching `path`.
    public func discard() {
        guard !finished else { return }
        finished = true
        close(fd)
        if let t = temporaryPath { unlink(t) }
    }

    deinit { discard() }
}
