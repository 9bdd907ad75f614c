#if canImport(Glibc)
import Glibc
#endif

/// Reading and writing NumPy `.npy` files (format 1.0–3.0,
/// https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html).
public enum NumpyFile {
    public struct FormatError: Error, CustomStringConvertible, Sendable {
        public var path: String
        public var problem: String
        public var description: String { "\(path): \(problem)" }
    }

    static let magic: [UInt8] = [0x93] + Array("NUMPY".utf8)

    /// Parses `.npy` bytes into a tensor (little-endian numeric, bool, or fixed-width unicode/bytes strings).
    public static func decode(_ bytes: UnsafeRawBufferPointer, path: String) throws(FormatError) -> Tensor {
        func fail(_ p: String) -> FormatError { FormatError(path: path, problem: p) }
        guard bytes.count >= 10, Array(bytes[0..<6]) == magic else { throw fail("not a .npy file (no \\x93NUMPY header)") }
        let major = bytes[6]
        let headerLength: Int, start: Int
        if major == 1 {
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            start = 10
        } else if major == 2 || major == 3, bytes.count >= 12 {
            headerLength = (0..<4).reduce(0) { $0 | Int(bytes[8 + $1]) << (8 * $1) }
            start = 12
        } else {
            throw fail("unsupported .npy version \(major)")
        }
        guard start + headerLength <= bytes.count else { throw fail("the header is truncated") }
        let header = String(decoding: bytes[start..<start + headerLength], as: UTF8.self)
        guard let descr = field("descr", in: header), let shapeText = field("shape", in: header) else {
            throw fail("the header lacks descr or shape: \(header)")
        }
        if field("fortran_order", in: header) == "True" { throw fail("Fortran-ordered arrays are not supported") }
        let dims = shapeText.trimmingCharacters(in: "()").split(separator: ",").compactMap { Int($0.trimmingCharacters(in: " ")) }
        guard let count = Tensor.checkedElementCount(dims) else { throw fail("shape \(dims) is invalid") }
        let dataStart = start + headerLength
        let d = descr.trimmingCharacters(in: "'\"")
        if d.dropFirst().first == "U" || d.dropFirst().first == "S" {
            return try strings(descr: d, dims: dims, count: count, bytes: bytes, at: dataStart, fail: fail)
        }
        guard let type = elementType(d) else {
            throw fail("dtype '\(d)' is not numeric (quantc reads float16/32/64, int8–64, uint8–64 and bool)")
        }
        let byteCount = count * type.bitWidth / 8
        guard dataStart + byteCount <= bytes.count else {
            throw fail("holds \(bytes.count - dataStart) data bytes, shape \(dims) of \(d) needs \(byteCount)")
        }
        let buffer = ByteBuffer(copying: UnsafeRawBufferPointer(rebasing: bytes[dataStart..<dataStart + byteCount]))
        return Tensor(elementType: type, shape: dims, data: .bytes(buffer))
    }

    /// Reads a `.npy` file.
    public static func read(_ path: String) throws(FormatError) -> Tensor {
        let file: MappedFile
        do throws(SystemError) {
            file = try MappedFile(path: path)
        } catch {
            throw FormatError(path: path, problem: "cannot read: \(error.message)")
        }
        return try decode(file.buffer.bytes, path: path)
    }

    /// `.npy` bytes of a numeric or bool tensor.
    public static func encode(_ t: Tensor) -> [UInt8]? {
        guard case .bytes(let b) = t.data, let descr = descr(t.elementType) else { return nil }
        let shape = t.shape.count == 1 ? "(\(t.shape[0]),)" : "(" + t.shape.map(String.init).joined(separator: ", ") + ")"
        var header = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shape), }"
        // Pad so the data starts on a 64-byte boundary, ending with a newline.
        let total = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - total % 64) % 64) + "\n"
        let n = header.utf8.count
        return magic + [1, 0, UInt8(n & 0xFF), UInt8(n >> 8)] + Array(header.utf8) + b.array
    }

    static func field(_ key: String, in header: String) -> String? {
        let needle = Array("'\(key)':")
        let chars = Array(header)
        guard let at = (0...max(0, chars.count - needle.count)).first(where: { Array(chars[$0..<min(chars.count, $0 + needle.count)]) == needle }),
              at + needle.count <= chars.count else { return nil }
        var rest = Substring(String(chars[(at + needle.count)...])).drop { $0 == " " }
        if rest.first == "(" {
            guard let close = rest.firstIndex(of: ")") else { return nil }
            return String(rest[...close])
        }
        if let end = rest.firstIndex(where: { $0 == "," || $0 == "}" }) { rest = rest[..<end] }
        return rest.trimmingCharacters(in: " ")
    }

    static func elementType(_ d: String) -> ElementType? {
        let table: [String: ElementType] = [
            "<f4": .float32, "<f8": .float64, "<f2": .float16, "|i1": .int8, "|u1": .uint8, "<i2": .int16,
            "<u2": .uint16, "<i4": .int32, "<u4": .uint32, "<i8": .int64, "<u8": .uint64, "|b1": .bool,
        ]
        return table[d]
    }

    static func descr(_ t: ElementType) -> String? {
        switch t {
        case .float32: "<f4"
        case .float64: "<f8"
        case .float16: "<f2"
        case .int8: "|i1"
        case .uint8: "|u1"
        case .int16: "<i2"
        case .uint16: "<u2"
        case .int32: "<i4"
        case .uint32: "<u4"
        case .int64: "<i8"
        case .uint64: "<u8"
        case .bool: "|b1"
        default: nil
        }
    }

    private static func strings(descr d: String, dims: [Int], count: Int, bytes: UnsafeRawBufferPointer, at start: Int,
                                fail: (String) -> FormatError) throws(FormatError) -> Tensor {
        let unicode = d.dropFirst().first == "U"
        guard let width = Int(d.dropFirst(2)) else { throw fail("dtype '\(d)' has no width") }
        let itemBytes = unicode ? width * 4 : width
        guard start + count * itemBytes <= bytes.count else { throw fail("string data is truncated") }
        var out: [[UInt8]] = []
        for i in 0..<count {
            let base = start + i * itemBytes
            if unicode {
                var s = String.UnicodeScalarView()
                for k in 0..<width {
                    let o = base + 4 * k
                    let v = UInt32(bytes[o]) | UInt32(bytes[o + 1]) << 8 | UInt32(bytes[o + 2]) << 16 | UInt32(bytes[o + 3]) << 24
                    if v == 0 { break }
                    if let scalar = Unicode.Scalar(v) { s.append(scalar) }
                }
                out.append(Array(String(s).utf8))
            } else {
                out.append(Array(bytes[base..<base + itemBytes].prefix { $0 != 0 }))
            }
        }
        return Tensor(elementType: .string, shape: dims, data: .strings(out))
    }
}

extension StringProtocol {
    func trimmingCharacters(in set: String) -> String {
        let chars = Set(set)
        var s = Substring(self)
        while let f = s.first, chars.contains(f) { s = s.dropFirst() }
        while let l = s.last, chars.contains(l) { s = s.dropLast() }
        return String(s)
    }
}
