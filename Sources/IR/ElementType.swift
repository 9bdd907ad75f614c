/// The element type of a tensor, numbered as ONNX's `TensorProto.DataType`.
///
/// Every ONNX type is representable so that any model round-trips; the types
/// quantc computes with are marked by ``isComputable``. Types newer than the
/// onnx.proto the bindings were generated from (int4, float8, ...) arrive as
/// plain integers and are matched here by number.
public enum ElementType: Int32, Sendable, CaseIterable, Hashable {
    case undefined = 0
    case float32 = 1
    case uint8 = 2
    case int8 = 3
    case uint16 = 4
    case int16 = 5
    case int32 = 6
    case int64 = 7
    case string = 8
    case bool = 9
    case float16 = 10
    case float64 = 11
    case uint32 = 12
    case uint64 = 13
    case complex64 = 14
    case complex128 = 15
    case bfloat16 = 16
    case float8e4m3fn = 17
    case float8e4m3fnuz = 18
    case float8e5m2 = 19
    case float8e5m2fnuz = 20
    case uint4 = 21
    case int4 = 22
    case float4e2m1 = 23
    case float8e8m0 = 24
    case uint2 = 25
    case int2 = 26
    case float6e2m3 = 27
    case float6e3m2 = 28

    /// Short name used by the IR printer (`f32`, `i8`, `u4`, ...).
    public var shortName: String {
        switch self {
        case .undefined: "undef"
        case .float32: "f32"
        case .uint8: "u8"
        case .int8: "i8"
        case .uint16: "u16"
        case .int16: "i16"
        case .int32: "i32"
        case .int64: "i64"
        case .string: "str"
        case .bool: "bool"
        case .float16: "f16"
        case .float64: "f64"
        case .uint32: "u32"
        case .uint64: "u64"
        case .complex64: "c64"
        case .complex128: "c128"
        case .bfloat16: "bf16"
        case .float8e4m3fn: "f8e4m3fn"
        case .float8e4m3fnuz: "f8e4m3fnuz"
        case .float8e5m2: "f8e5m2"
        case .float8e5m2fnuz: "f8e5m2fnuz"
        case .uint4: "u4"
        case .int4: "i4"
        case .float4e2m1: "f4e2m1"
        case .float8e8m0: "f8e8m0"
        case .uint2: "u2"
        case .int2: "i2"
        case .float6e2m3: "f6e2m3"
        case .float6e3m2: "f6e3m2"
        }
    }

    /// ONNX's spelling of the type (`FLOAT`, `INT8`, ...), for messages and reports.
    public var onnxName: String {
        switch self {
        case .undefined: "UNDEFINED"
        case .float32: "FLOAT"
        case .uint8: "UINT8"
        case .int8: "INT8"
        case .uint16: "UINT16"
        case .int16: "INT16"
        case .int32: "INT32"
        case .int64: "INT64"
        case .string: "STRING"
        case .bool: "BOOL"
        case .float16: "FLOAT16"
        case .float64: "DOUBLE"
        case .uint32: "UINT32"
        case .uint64: "UINT64"
        case .complex64: "COMPLEX64"
        case .complex128: "COMPLEX128"
        case .bfloat16: "BFLOAT16"
        case .float8e4m3fn: "FLOAT8E4M3FN"
        case .float8e4m3fnuz: "FLOAT8E4M3FNUZ"
        case .float8e5m2: "FLOAT8E5M2"
        case .float8e5m2fnuz: "FLOAT8E5M2FNUZ"
        case .uint4: "UINT4"
        case .int4: "INT4"
        case .float4e2m1: "FLOAT4E2M1"
        case .float8e8m0: "FLOAT8E8M0"
        case .uint2: "UINT2"
        case .int2: "INT2"
        case .float6e2m3: "FLOAT6E2M3"
        case .float6e3m2: "FLOAT6E3M2"
        }
    }

    /// Bits one element occupies in ONNX's raw (little-endian, packed) layout;
    /// 0 for strings and `undefined`, which have no fixed width.
    public var bitWidth: Int {
        switch self {
        case .undefined, .string: 0
        case .int2, .uint2: 2
        case .int4, .uint4, .float4e2m1: 4
        case .float6e2m3, .float6e3m2: 6
        case .uint8, .int8, .bool, .float8e4m3fn, .float8e4m3fnuz, .float8e5m2,
             .float8e5m2fnuz, .float8e8m0: 8
        case .uint16, .int16, .float16, .bfloat16: 16
        case .int32, .uint32, .float32: 32
        case .int64, .uint64, .float64, .complex64: 64
        case .complex128: 128
        }
    }

    /// Whether elements are packed below byte granularity (2-, 4- and 6-bit types).
    public var isSubByte: Bool { bitWidth > 0 && bitWidth < 8 }

    /// Bytes `count` elements take in ONNX's raw layout (sub-byte types packed,
    /// rounded up to whole bytes). Nil for types without a fixed width or when
    /// the size overflows.
    public func byteCount(elements count: Int) -> Int? {
        guard bitWidth > 0, count >= 0 else { return nil }
        let (bits, overflow) = count.multipliedReportingOverflow(by: bitWidth)
        return overflow ? nil : (bits + 7) / 8
    }

    /// Types quantc's own passes and interpreter compute with. The rest
    /// (strings, complex, float8, float4, 2-bit) are carried through untouched.
    public var isComputable: Bool {
        switch self {
        case .float32, .float16, .bfloat16, .float64, .int8, .uint8, .int4, .uint4,
             .int16, .uint16, .int32, .uint32, .int64, .uint64, .bool: true
        default: false
        }
    }

    public var isFloatingPoint: Bool {
        switch self {
        case .float32, .float16, .bfloat16, .float64, .float8e4m3fn, .float8e4m3fnuz,
             .float8e5m2, .float8e5m2fnuz, .float4e2m1, .float8e8m0, .float6e2m3, .float6e3m2: true
        default: false
        }
    }

    public var isSigned: Bool {
        switch self {
        case .int2, .int4, .int8, .int16, .int32, .int64: true
        default: isFloatingPoint
        }
    }

    /// Parses a printer short name back (`f32`, `i4`, ...).
    public init?(shortName: String) {
        guard let t = ElementType.allCases.first(where: { $0.shortName == shortName }) else { return nil }
        self = t
    }
}

extension ElementType {
    /// The integer range QuantizeLinear saturates to for this output type, as floats;
    /// nil for types that are not quantized integer types. int32's upper end is the
    /// largest float32 below 2^31.
    public var quantizedRange: (low: Float, high: Float)? {
        switch self {
        case .uint8: (0, 255)
        case .int8: (-128, 127)
        case .uint16: (0, 65535)
        case .int16: (-32768, 32767)
        case .uint4: (0, 15)
        case .int4: (-8, 7)
        case .uint2: (0, 3)
        case .int2: (-2, 1)
        case .int32: (-2_147_483_648, 2_147_483_520)
        default: nil
        }
    }
}
