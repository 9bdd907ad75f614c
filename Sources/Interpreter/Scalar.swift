import IR

/// Swift types kernels compute with, one per runtime element type. float16
/// and bfloat16 are computed as Float (converted on entry, rounded on exit),
/// which matches NumPy's and ONNX Runtime's results for single operations.
public protocol KernelScalar: BitwiseCopyable, Comparable, Numeric {
    static var elementType: ElementType { get }
    init(fromDouble d: Double)
    var asDouble: Double { get }
}

extension Float: KernelScalar {
    public static var elementType: ElementType { .float32 }
    public init(fromDouble d: Double) { self = Float(d) }
    public var asDouble: Double { Double(self) }
}
extension Double: KernelScalar {
    public static var elementType: ElementType { .float64 }
    public init(fromDouble d: Double) { self = d }
    public var asDouble: Double { self }
}

/// Integer conversions from Double follow C casts: truncate toward zero;
/// NaN and out-of-range values wrap like ONNX Runtime's static_cast.
public protocol KernelInteger: KernelScalar, FixedWidthInteger {}

extension KernelInteger {
    public init(fromDouble d: Double) {
        if d.isNaN { self = 0; return }
        if d >= Double(Self.max) { self = d >= 0x1p64 ? 0 : Self(truncatingIfNeeded: UInt64(d.rounded(.towardZero))) ; return }
        if d <= Double(Self.min) { self = Self(truncatingIfNeeded: Int64(Swift.max(d, -0x1p63).rounded(.towardZero))); return }
        self = Self(d.rounded(.towardZero))
    }
    public var asDouble: Double { Double(self) }
}

extension Int8: KernelInteger { public static var elementType: ElementType { .int8 } }
extension UInt8: KernelInteger { public static var elementType: ElementType { .uint8 } }
extension Int16: KernelInteger { public static var elementType: ElementType { .int16 } }
extension UInt16: KernelInteger { public static var elementType: ElementType { .uint16 } }
extension Int32: KernelInteger { public static var elementType: ElementType { .int32 } }
extension UInt32: KernelInteger { public static var elementType: ElementType { .uint32 } }
extension Int64: KernelInteger { public static var elementType: ElementType { .int64 } }
extension UInt64: KernelInteger { public static var elementType: ElementType { .uint64 } }

/// Calls a generic body with the Swift type of a runtime element type.
public protocol ScalarVisitor {
    associatedtype Result
    func visit<T: KernelScalar>(_ type: T.Type) throws -> Result
}

extension ElementType {
    /// The Swift type computed with (float16/bfloat16 compute as Float); nil for
    /// types kernels do not compute with.
    public func visit<V: ScalarVisitor>(_ v: V) throws -> V.Result? {
        switch self {
        case .float32, .float16, .bfloat16: try v.visit(Float.self)
        case .float64: try v.visit(Double.self)
        case .int8, .int4: try v.visit(Int8.self)
        case .uint8, .uint4, .bool: try v.visit(UInt8.self)
        case .int16: try v.visit(Int16.self)
        case .uint16: try v.visit(UInt16.self)
        case .int32: try v.visit(Int32.self)
        case .uint32: try v.visit(UInt32.self)
        case .int64: try v.visit(Int64.self)
        case .uint64: try v.visit(UInt64.self)
        default: nil
        }
    }

    /// Whether a kernel stores this type with a different layout than it
    /// computes (16-bit floats compute as Float).
    public var computesAsFloat: Bool { self == .float16 || self == .bfloat16 }
}
