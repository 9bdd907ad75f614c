#if canImport(Glibc)
import Glibc
#endif

/// An exclusive advisory lock (flock(2)) on a lock file, held until `unlock()` or deinit.
///
/// Processes sharing a cache folder take it around compute-and-store of one entry, so
/// parallel builds compute an entry once and the others wait and read it. The kernel drops
/// the lock when the holder exits, also on SIGKILL, so a killed run never wedges the cache.
/// The lock file itself stays: removing it would let two processes lock different inodes.
public final class FileLock {
    public let path: String
    private var fd: Int32

    /// Opens (creating) `path` and blocks until the lock is ours.
    public init(path: String) throws(SystemError) {
        self.path = path
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw SystemError(path: path, operation: "open lock", errno: errno) }
        while flock(fd, LOCK_EX) != 0 {
            let e = errno
            if e == EINTR { continue }
            close(fd)
            fd = -1
            throw SystemError(path: path, operation: "flock", errno: e)
        }
    }

    public func unlock() {
        guard fd >= 0 else { return }
        flock(fd, LOCK_UN)
        close(fd)
        fd = -1
    }

    deinit { unlock() }
}
