import Foundation
#if canImport(Glibc)
import Glibc
#endif
import IR

/// Memory of one runtime tensor, from plain malloc (16-byte aligned, which
/// every kernel and OpenBLAS accept). Tensors share a buffer when an op only
/// changes the shape (Reshape, Squeeze, Identity); kernels never write into
/// an input's buffer (a fused epilogue writes into its own node's output).
///
/// Not a stricter alignment: with 64-byte aligned allocations the
/// intermediates of a run kept landing on fresh, page-faulting memory, while
/// plain malloc reuses the memory of values freed earlier in the run.
public final class Buffer: @unchecked Sendable {
    public let pointer: UnsafeMutableRawPointer
    public let byteCount: Int
    /// Keeps borrowed memory (a mapped initializer) alive.
    private let owner: AnyObject?
    private let owned: Bool

    public init(byteCount: Int) {
        self.byteCount = byteCount
        guard let p = malloc(max(byteCount, 1)) else { fatalError("out of memory allocating \(byteCount) bytes") }
        pointer = p
        owner = nil
        owned = true
    }

    /// Wraps memory something else owns; it is never written.
    init(borrowing bytes: ByteBuffer) {
        byteCount = bytes.count
        if let base = bytes.baseAddress {
            pointer = UnsafeMutableRawPointer(mutating: base)
            owner = bytes.owner
            owned = false
        } else {
            pointer = malloc(1)!
            owner = nil
            owned = true
        }
    }

    deinit { if owned { free(pointer) } }

    /// Tensors computed from this buffer's contents (a weight's zero-point-centred
    /// float64 copy for the integer operators), kept as long as the buffer: once
    /// written, a buffer's contents never change. Keys name the derivation.
    private var derived: [String: RTensor] = [:]
    private let lock = NSLock()

    /// The tensor `key` names, made by `make` the first time it is asked for.
    func derived(_ key: String, _ make: () -> RTensor) -> RTensor {
        lock.lock()
        defer { lock.unlock() }
        if let t = derived[key] { return t }
        let t = make()
        derived[key] = t
        return t
    }
}

/// A tensor while the interpreter runs: element type, shape and memory.
///
/// Numeric data is stored one element per slot of the element type's width;
/// 4-bit types are unpacked to one byte per element (`Int8`/`UInt8`) so that
/// kernels index them like int8, and packed again when leaving the interpreter.
public struct RTensor: @unchecked Sendable {
    public var type: ElementType
    public var shape: [Int]
    public var buffer: Buffer
    /// Strings, for the few ops that move them (Identity, Reshape, Gather, ...).
    public var strings: [String]?

    public var count: Int { shape.reduce(1, *) }
    public var rank: Int { shape.count }

    /// Bytes one element takes at run time.
    public static func stride(of type: ElementType) -> Int {
        switch type {
        case .int4, .uint4, .int2, .uint2, .float4e2m1: 1
        case .float6e2m3, .float6e3m2: 1
        default: max(type.bitWidth / 8, 1)
        }
    }

    public init(type: ElementType, shape: [Int], buffer: Buffer) {
        self.type = type
        self.shape = shape
        self.buffer = buffer
    }

    /// Uninitialized memory for `shape`.
    public init(type: ElementType, shape: [Int]) {
        self.init(type: type, shape: shape, buffer: Buffer(byteCount: shape.reduce(1, *) * Self.stride(of: type)))
    }

    public init(strings: [String], shape: [Int]) {
        self.init(type: .string, shape: shape, buffer: Buffer(byteCount: 0))
        self.strings = strings
    }

    public init<T: BitwiseCopyable>(_ type: ElementType, shape: [Int], values: [T]) {
        precondition(MemoryLayout<T>.stride == Self.stride(of: type) && values.count == shape.reduce(1, *))
        self.init(type: type, shape: shape)
        values.withUnsafeBytes { buffer.pointer.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
    }

    public init(floats: [Float], shape: [Int]) { self.init(.float32, shape: shape, values: floats) }

    public var byteCount: Int { count * Self.stride(of: type) }

    /// Typed view of the elements; `T` must have the element type's runtime width.
    @inline(__always)
    public func pointer<T>(_: T.Type) -> UnsafeMutablePointer<T> {
        buffer.pointer.assumingMemoryBound(to: T.self)
    }

    @inline(__always)
    public func elements<T>(_: T.Type) -> UnsafeMutableBufferPointer<T> {
        UnsafeMutableBufferPointer(start: pointer(T.self), count: count)
    }

    public func array<T>(_: T.Type) -> [T] { Array(elements(T.self)) }

    /// The same data under another shape (no copy).
    public func reshaped(_ newShape: [Int]) -> RTensor {
        var t = self
        t.shape = newShape
        return t
    }

    public var typeDescription: String { TensorType(type, fixed: shape).description }
}

// MARK: - Conversion from and to IR tensors

extension RTensor {
    /// A runtime tensor over an IR constant. float32 and other byte-aligned
    /// data is used in place (a mapped initializer stays mapped); sub-byte
    /// types are unpacked.
    public init(_ t: Tensor) {
        switch t.data {
        case .strings(let ss):
            self.init(strings: ss.map { String(decoding: $0, as: UTF8.self) }, shape: t.shape)
        case .bytes(let b):
            if t.elementType.isSubByte {
                // One element per byte at run time; integers sign-extended, float4 codes kept as is.
                self.init(type: t.elementType, shape: t.shape)
                let n = t.elementCount, bits = t.elementType.bitWidth
                let signed = t.elementType == .int4 || t.elementType == .int2
                let out = buffer.pointer.assumingMemoryBound(to: UInt8.self)
                b.withUnsafeBytes { raw in
                    for i in 0..<n {
                        let bit = i * bits
                        var v = Int(raw[bit / 8] >> UInt8(bit % 8)) & ((1 << bits) - 1)
                        if signed && v >= 1 << (bits - 1) { v -= 1 << bits }
                        out[i] = UInt8(truncatingIfNeeded: v)
                    }
                }
            } else {
                self.init(type: t.elementType, shape: t.shape, buffer: Buffer(borrowing: b))
            }
        }
    }

    /// An IR tensor holding a copy of this one in ONNX raw layout.
    public func irTensor(name: String = "") -> Tensor {
        if let strings {
            return Tensor(elementType: .string, shape: shape, data: .strings(strings.map { Array($0.utf8) }), name: name)
        }
        let bytes: ByteBuffer
        if type.isSubByte && type.bitWidth <= 4 {
            let src = pointer(UInt8.self), bits = type.bitWidth, mask = UInt8((1 << bits) - 1)
            var packed = [UInt8](repeating: 0, count: (count * bits + 7) / 8)
            for i in 0..<count { packed[i * bits / 8] |= (src[i] & mask) << UInt8(i * bits % 8) }
            bytes = ByteBuffer(copying: packed)
        } else {
            bytes = ByteBuffer(copying: UnsafeRawBufferPointer(start: buffer.pointer, count: byteCount))
        }
        return Tensor(elementType: type, shape: shape, data: .bytes(bytes), name: name)
    }

    /// Elements converted to Float (for comparisons, reports and calibration).
    public func floatArray() -> [Float] {
        let n = count
        switch type {
        case .float32: return array(Float.self)
        case .float64: return elements(Double.self).map { Float($0) }
        case .float16: return elements(UInt16.self).map(HalfFloat.toFloat)
        case .bfloat16: return elements(UInt16.self).map(HalfFloat.bfloat16ToFloat)
        case .int8, .int4, .int2: return elements(Int8.self).map { Float($0) }
        case .uint8, .uint4, .uint2, .bool: return elements(UInt8.self).map { Float($0) }
        case .int16: return elements(Int16.self).map { Float($0) }
        case .uint16: return elements(UInt16.self).map { Float($0) }
        case .int32: return elements(Int32.self).map { Float($0) }
        case .uint32: return elements(UInt32.self).map { Float($0) }
        case .int64: return elements(Int64.self).map { Float($0) }
        case .uint64: return elements(UInt64.self).map { Float($0) }
        default:
            if let f = MiniFloat.format(type) { return elements(UInt8.self).map { f.decode($0) } }
            return [Float](repeating: .nan, count: n)
        }
    }

    /// Elements as Int64 for integer and bool types (shape arithmetic).
    public func int64Array() -> [Int64]? {
        switch type {
        case .int64: return array(Int64.self)
        case .int32: return elements(Int32.self).map { Int64($0) }
        case .int16: return elements(Int16.self).map { Int64($0) }
        case .int8, .int4, .int2: return elements(Int8.self).map { Int64($0) }
        case .uint8, .uint4, .uint2, .bool: return elements(UInt8.self).map { Int64($0) }
        case .uint16: return elements(UInt16.self).map { Int64($0) }
        case .uint32: return elements(UInt32.self).map { Int64($0) }
        case .uint64: return elements(UInt64.self).map { Int64(truncatingIfNeeded: $0) }
        default: return nil
        }
    }
}
