import CZlib
#if canImport(Glibc)
import Glibc
#endif

/// Reads the members of a zip archive (as `numpy.savez` writes them): stored
/// or deflated entries, with ZIP64 sizes and offsets
/// (PKWARE APPNOTE.TXT 6.3, sections 4.3 and 4.5.3).
public struct ZipArchive {
    public struct Entry: Sendable {
        public var name: String
        public var method: UInt16
        public var compressedSize: Int
        public var size: Int
        public var localHeaderOffset: Int
    }

    public struct FormatError: Error, CustomStringConvertible, Sendable {
        public var path: String
        public var problem: String
        public var description: String { "\(path): \(problem)" }
    }

    public let path: String
    public let entries: [Entry]
    private let file: MappedFile

    public init(path: String) throws(FormatError) {
        self.path = path
        do throws(SystemError) {
            file = try MappedFile(path: path)
        } catch {
            throw FormatError(path: path, problem: "cannot read: \(error.message)")
        }
        entries = try Self.readDirectory(file.buffer.bytes, path: path)
    }

    /// The uncompressed bytes of `entry`.
    public func data(of entry: Entry) throws(FormatError) -> [UInt8] {
        let b = file.buffer.bytes
        func fail(_ p: String) -> FormatError { FormatError(path: path, problem: "member '\(entry.name)': \(p)") }
        let h = entry.localHeaderOffset
        guard h + 30 <= b.count, u32(b, h) == 0x0403_4B50 else { throw fail("bad local header") }
        let start = h + 30 + Int(u16(b, h + 26)) + Int(u16(b, h + 28))
        guard start + entry.compressedSize <= b.count else { throw fail("is truncated") }
        let src = UnsafeRawBufferPointer(rebasing: b[start..<start + entry.compressedSize])
        switch entry.method {
        case 0:
            return Array(src)
        case 8:
            var out = [UInt8](repeating: 0, count: entry.size)
            var stream = z_stream()
            guard inflateInit2_(&stream, -MAX_WBITS, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
                throw fail("zlib could not start")
            }
            defer { inflateEnd(&stream) }
            let status = out.withUnsafeMutableBufferPointer { o -> Int32 in
                stream.next_in = UnsafeMutablePointer(mutating: src.baseAddress?.assumingMemoryBound(to: UInt8.self))
                stream.avail_in = UInt32(src.count)
                stream.next_out = o.baseAddress
                stream.avail_out = UInt32(o.count)
                return inflate(&stream, Z_FINISH)
            }
            guard status == Z_STREAM_END, Int(stream.total_out) == entry.size else { throw fail("deflate data is corrupt") }
            return out
        default:
            throw fail("uses compression method \(entry.method); only stored and deflate are supported")
        }
    }

    private static func readDirectory(_ b: UnsafeRawBufferPointer, path: String) throws(FormatError) -> [Entry] {
        func fail(_ p: String) -> FormatError { FormatError(path: path, problem: p) }
        // The end-of-central-directory record is within the last 64 KiB + 22 bytes.
        guard b.count >= 22 else { throw fail("is not a zip archive (too short)") }
        var eocd = -1
        for i in stride(from: b.count - 22, through: max(0, b.count - 22 - 65535), by: -1) where u32(b, i) == 0x0605_4B50 {
            eocd = i
            break
        }
        guard eocd >= 0 else { throw fail("is not a zip archive (no end of central directory)") }
        var count = Int(u16(b, eocd + 10))
        var offset = Int(u32(b, eocd + 16))
        // ZIP64: a locator right before the record points at the ZIP64 record.
        if (count == 0xFFFF || offset == 0xFFFF_FFFF), eocd >= 20, u32(b, eocd - 20) == 0x0706_4B50 {
            let z = Int(u64(b, eocd - 12))
            guard z + 56 <= b.count, u32(b, z) == 0x0606_4B50 else { throw fail("bad ZIP64 end record") }
            count = Int(u64(b, z + 32))
            offset = Int(u64(b, z + 48))
        }
        var entries: [Entry] = []
        var p = offset
        for _ in 0..<count {
            guard p + 46 <= b.count, u32(b, p) == 0x0201_4B50 else { throw fail("the central directory is corrupt") }
            let nameLength = Int(u16(b, p + 28)), extraLength = Int(u16(b, p + 30)), commentLength = Int(u16(b, p + 32))
            guard p + 46 + nameLength + extraLength <= b.count else { throw fail("the central directory is truncated") }
            var e = Entry(name: String(decoding: UnsafeRawBufferPointer(rebasing: b[p + 46..<p + 46 + nameLength]), as: UTF8.self),
                          method: u16(b, p + 10), compressedSize: Int(u32(b, p + 20)), size: Int(u32(b, p + 24)),
                          localHeaderOffset: Int(u32(b, p + 42)))
            // ZIP64 extended information (header 0x0001) replaces saturated fields, in order.
            var x = p + 46 + nameLength
            let extraEnd = x + extraLength
            while x + 4 <= extraEnd {
                let id = u16(b, x), size = Int(u16(b, x + 2))
                if id == 1 {
                    var q = x + 4
                    if e.size == 0xFFFF_FFFF { e.size = Int(u64(b, q)); q += 8 }
                    if e.compressedSize == 0xFFFF_FFFF { e.compressedSize = Int(u64(b, q)); q += 8 }
                    if e.localHeaderOffset == 0xFFFF_FFFF { e.localHeaderOffset = Int(u64(b, q)) }
                }
                x += 4 + size
            }
            entries.append(e)
            p += 46 + nameLength + extraLength + commentLength
        }
        return entries
    }
}

private func u16(_ b: UnsafeRawBufferPointer, _ i: Int) -> UInt16 { UInt16(b[i]) | UInt16(b[i + 1]) << 8 }
private func u32(_ b: UnsafeRawBufferPointer, _ i: Int) -> UInt32 { UInt32(u16(b, i)) | UInt32(u16(b, i + 2)) << 16 }
private func u64(_ b: UnsafeRawBufferPointer, _ i: Int) -> UInt64 { UInt64(u32(b, i)) | UInt64(u32(b, i + 4)) << 32 }

extension NumpyFile {
    /// Reads every array of a `.npz` archive, keyed by name (without `.npy`).
    public static func readArchive(_ path: String) throws(ZipArchive.FormatError) -> [(name: String, tensor: Tensor)] {
        let zip = try ZipArchive(path: path)
        var out: [(String, Tensor)] = []
        for e in zip.entries where e.name.hasSuffix(".npy") {
            let bytes = try zip.data(of: e)
            let decoded = bytes.withUnsafeBytes { raw in Result { () throws(FormatError) in try decode(raw, path: path) } }
            switch decoded {
            case .success(let t): out.append((String(e.name.dropLast(4)), t))
            case .failure(let error): throw ZipArchive.FormatError(path: path, problem: "member '\(e.name)': \(error.problem)")
            }
        }
        return out
    }
}
