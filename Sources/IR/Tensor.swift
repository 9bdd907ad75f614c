/// A constant tensor: initializer, `Constant` value or tensor attribute.
///
/// Numeric data is kept in ONNX's raw layout (little-endian, sub-byte types
/// packed two or four per byte, low bits first), so import and export never
/// convert it and the bytes can live in a mapped file.
public struct Tensor: Hashable, Sendable {
    public enum Data: Hashable, Sendable {
        case bytes(ByteBuffer)
        case strings([[UInt8]])
    }

    public var elementType: ElementType
    public var shape: [Int]
    public var data: Data
    /// The name the tensor carried in the file; initializers are keyed by it in
    /// ``Graph/initializers``.
    public var name: String
    public var docString: String
    public var unknownFields: [UnknownField]

    public init(elementType: ElementType, shape: [Int], data: Data, name: String = "",
                docString: String = "", unknownFields: [UnknownField] = []) {
        self.elementType = elementType
        self.shape = shape
        self.data = data
        self.name = name
        self.docString = docString
        self.unknownFields = unknownFields
    }

    /// Number of elements (product of the dims; 1 for a scalar).
    public var elementCount: Int { shape.reduce(1, *) }

    public var type: TensorType { TensorType(elementType, fixed: shape) }

    /// Bytes of the raw data (zero for string tensors).
    public var byteCount: Int {
        if case .bytes(let b) = data { b.count } else { 0 }
    }

    public var rawBytes: ByteBuffer? {
        if case .bytes(let b) = data { b } else { nil }
    }

    /// Product of `dims`, or nil if a dim is negative or the product overflows `Int`.
    public static func checkedElementCount(_ dims: [Int]) -> Int? {
        var n = 1
        for d in dims {
            guard d >= 0 else { return nil }
            let (p, o) = n.multipliedReportingOverflow(by: d)
            guard !o else { return nil }
            n = p
        }
        return n
    }
}

// MARK: - Building tensors from Swift values

extension Tensor {
    /// A tensor holding `values` in raw layout; `T` must match the element
    /// type's width (e.g. `Float` for `.float32`, `UInt16` bit patterns for `.float16`).
    public init<T: BitwiseCopyable>(_ elementType: ElementType, shape: [Int], values: [T], name: String = "") {
        precondition(MemoryLayout<T>.stride * 8 == elementType.bitWidth, "\(T.self) does not fit \(elementType)")
        precondition(Tensor.checkedElementCount(shape) == values.count, "shape \(shape) vs \(values.count) values")
        let buffer = values.withUnsafeBytes { ByteBuffer(copying: $0) }
        self.init(elementType: elementType, shape: shape, data: .bytes(buffer), name: name)
    }

    public init(floats: [Float], shape: [Int], name: String = "") {
        self.init(.float32, shape: shape, values: floats, name: name)
    }

    public init(int64s: [Int64], shape: [Int], name: String = "") {
        self.init(.int64, shape: shape, values: int64s, name: name)
    }
}

// MARK: - Reading values

extension Tensor {
    /// The values converted to `Float` for every computable numeric type; nil
    /// for strings and types carried untouched.
    public func floatValues() -> [Float]? {
        guard case .bytes(let buffer) = data, elementType.isComputable else { return nil }
        let n = elementCount
        return buffer.withUnsafeBytes { raw -> [Float] in
            func load<T: BitwiseCopyable>(_: T.Type, _ f: (T) -> Float) -> [Float] {
                (0..<n).map { f(raw.loadUnaligned(fromByteOffset: $0 * MemoryLayout<T>.stride, as: T.self)) }
            }
            switch elementType {
            case .float32: return load(Float.self) { $0 }
            case .float64: return load(Double.self) { Float($0) }
            case .float16: return load(UInt16.self) { HalfFloat.toFloat($0) }
            case .bfloat16: return load(UInt16.self) { HalfFloat.bfloat16ToFloat($0) }
            case .int8: return load(Int8.self) { Float($0) }
            case .uint8: return load(UInt8.self) { Float($0) }
            case .bool: return load(UInt8.self) { $0 == 0 ? 0 : 1 }
            case .int16: return load(Int16.self) { Float($0) }
            case .uint16: return load(UInt16.self) { Float($0) }
            case .int32: return load(Int32.self) { Float($0) }
            case .uint32: return load(UInt32.self) { Float($0) }
            case .int64: return load(Int64.self) { Float($0) }
            case .uint64: return load(UInt64.self) { Float($0) }
            case .int4, .uint4:
                let signed = elementType == .int4
                return (0..<n).map { Float(Nibbles.value(at: $0, in: raw, signed: signed)) }
            default: return []
            }
        }
    }

    /// The values as `Int64` for integer and bool types; nil otherwise.
    public func int64Values() -> [Int64]? {
        guard case .bytes(let buffer) = data else { return nil }
        let n = elementCount
        return buffer.withUnsafeBytes { raw -> [Int64]? in
            func load<T: BitwiseCopyable & BinaryInteger>(_: T.Type) -> [Int64] {
                (0..<n).map { Int64(truncatingIfNeeded: raw.loadUnaligned(fromByteOffset: $0 * MemoryLayout<T>.stride, as: T.self)) }
            }
            switch elementType {
            case .int64: return load(Int64.self)
            case .int32: return load(Int32.self)
            case .int16: return load(Int16.self)
            case .int8: return load(Int8.self)
            case .uint64: return load(UInt64.self)
            case .uint32: return load(UInt32.self)
            case .uint16: return load(UInt16.self)
            case .uint8, .bool: return load(UInt8.self)
            case .int4, .uint4:
                let signed = elementType == .int4
                return (0..<n).map { Int64(Nibbles.value(at: $0, in: raw, signed: signed)) }
            default: return nil
            }
        }
    }
}

/// 4-bit values packed two per byte in ONNX order: element 2k in the low
/// nibble of byte k, element 2k+1 in the high nibble.
public enum Nibbles {
    @inline(__always)
    public static func value(at index: Int, in raw: UnsafeRawBufferPointer, signed: Bool) -> Int {
        let byte = raw[index >> 1]
        let nibble = Int(index & 1 == 0 ? byte & 0x0F : byte >> 4)
        return signed && nibble >= 8 ? nibble - 16 : nibble
    }

    /// Packs values already in range (−8…7 or 0…15) two per byte.
    public static func pack(_ values: [Int]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: (values.count + 1) / 2)
        for (i, v) in values.enumerated() {
            let nibble = UInt8(truncatingIfNeeded: v) & 0x0F
            out[i >> 1] |= i & 1 == 0 ? nibble : nibble << 4
        }
        return out
    }
}
