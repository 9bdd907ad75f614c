#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Immutable bytes in memory, kept alive by an owner: memory quantc allocated,
/// a memory-mapped file, or a decoded protobuf message. Slicing shares the owner,
/// so tensors can point into a mapped external-data file without copying it.
public struct ByteBuffer: @unchecked Sendable {
    public let baseAddress: UnsafeRawPointer?
    public let count: Int
    /// Keeps `baseAddress` valid; never read.
    public let owner: AnyObject?

    public init(baseAddress: UnsafeRawPointer?, count: Int, owner: AnyObject?) {
        precondition(count == 0 || baseAddress != nil)
        self.baseAddress = baseAddress
        self.count = count
        self.owner = owner
    }

    /// Copies `bytes` into memory owned by the buffer.
    public init<C: Collection>(copying bytes: C) where C.Element == UInt8 {
        let memory = OwnedMemory(byteCount: bytes.count)
        let dst = UnsafeMutableRawBufferPointer(start: memory.pointer, count: bytes.count)
        _ = dst.initializeMemory(as: UInt8.self, from: bytes)
        self.init(baseAddress: UnsafeRawPointer(memory.pointer), count: bytes.count, owner: memory)
    }

    /// Fills `byteCount` fresh bytes through `body`.
    public init(byteCount: Int, initializingWith body: (UnsafeMutableRawBufferPointer) throws -> Void) rethrows {
        let memory = OwnedMemory(byteCount: byteCount)
        try body(UnsafeMutableRawBufferPointer(start: memory.pointer, count: byteCount))
        self.init(baseAddress: UnsafeRawPointer(memory.pointer), count: byteCount, owner: memory)
    }

    public static let empty = ByteBuffer(baseAddress: nil, count: 0, owner: nil)

    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: baseAddress, count: count) }

    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try withExtendedLifetime(owner) { try body(bytes) }
    }

    /// A sub-range sharing this buffer's owner.
    public func slice(offset: Int, count: Int) -> ByteBuffer {
        precondition(offset >= 0 && count >= 0 && offset + count <= self.count)
        return ByteBuffer(baseAddress: count == 0 ? nil : baseAddress! + offset, count: count, owner: owner)
    }

    /// Whether the bytes live in a memory-mapped file.
    public var isMapped: Bool { owner is MappedFile }

    public var array: [UInt8] { withUnsafeBytes { Array($0) } }
}

extension ByteBuffer: Equatable {
    public static func == (a: ByteBuffer, b: ByteBuffer) -> Bool {
        guard a.count == b.count else { return false }
        if a.count == 0 || a.baseAddress == b.baseAddress { return true }
        return a.withUnsafeBytes { x in b.withUnsafeBytes { y in memcmp(x.baseAddress!, y.baseAddress!, a.count) == 0 } }
    }
}

extension ByteBuffer: Hashable {
    public func hash(into hasher: inout Hasher) {
        hasher.combine(count)
        hasher.combine(fnv1a64)
    }

    /// FNV-1a 64-bit hash of the bytes: stable across runs and machines, used in
    /// the IR printer and for cache keys.
    public var fnv1a64: UInt64 {
        withUnsafeBytes { raw in
            var h = FNV1a64()
            h.add(bytes: raw)
            return h.value
        }
    }
}

/// Heap memory owned by one `ByteBuffer` family, 64-byte aligned for SIMD loads.
public final class OwnedMemory: @unchecked Sendable {
    public let pointer: UnsafeMutableRawPointer
    public let byteCount: Int

    public init(byteCount: Int) {
        self.byteCount = byteCount
        pointer = UnsafeMutableRawPointer.allocate(byteCount: max(byteCount, 1), alignment: 64)
    }

    deinit { pointer.deallocate() }
}

/// A read-only, private memory mapping of a whole file. Pages are read by the
/// kernel only when touched, so mapping a multi-gigabyte weight file costs
/// nothing until its tensors are used.
public final class MappedFile: @unchecked Sendable {
    public let path: String
    public let pointer: UnsafeRawPointer?
    public let size: Int

    /// Maps `path`. `fd` must be open for reading; the mapping outlives it.
    public init(path: String, fd: Int32, size: Int) throws(SystemError) {
        self.path = path
        self.size = size
        if size == 0 {
            pointer = nil
            return
        }
        let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let p, p != MAP_FAILED else { throw SystemError(path: path, operation: "mmap", errno: errno) }
        pointer = UnsafeRawPointer(p)
    }

    /// Maps the regular file at `path` read-only.
    public convenience init(path: String) throws(SystemError) {
        // O_NONBLOCK: opening a FIFO must not wait for a writer; fstat then rejects it.
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { throw SystemError(path: path, operation: "open", errno: errno) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw SystemError(path: path, operation: "stat", errno: errno) }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw SystemError(path: path, operation: "open", errno: EISDIR) }
        try self.init(path: path, fd: fd, size: Int(st.st_size))
    }

    deinit {
        if let pointer { munmap(UnsafeMutableRawPointer(mutating: pointer), size) }
    }

    public var buffer: ByteBuffer { ByteBuffer(baseAddress: pointer, count: size, owner: self) }
}

/// An operating-system call that failed on a path.
public struct SystemError: Error, CustomStringConvertible, Sendable {
    public var path: String
    public var operation: String
    public var code: Int32

    public init(path: String, operation: String, errno code: Int32) {
        self.path = path
        self.operation = operation
        self.code = code
    }

    /// strerror's text, with the errno name of the write failures scripts look for.
    public var message: String {
        let names: [Int32: String] = [ENOSPC: "ENOSPC", EDQUOT: "EDQUOT", EROFS: "EROFS", EIO: "EIO", EFBIG: "EFBIG"]
        return String(cString: strerror(code)) + (names[code].map { " (\($0))" } ?? "")
    }
    public var description: String { "\(path): \(operation) failed: \(message)" }
}
