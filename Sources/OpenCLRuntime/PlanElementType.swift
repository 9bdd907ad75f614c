import IR
import Interpreter

extension ElementType {
    /// The element type a plan names: the lower-case Swift spelling the code
    /// generator writes ("float32", "int64", "uint8"), or ONNX's spelling in
    /// lower case ("float", "double", "int8").
    public init?(planName: String) {
        guard let t = Self.byPlanName[planName.lowercased()] else { return nil }
        self = t
    }

    /// The plan's spelling of this type ("float32", "int8", ...).
    public var planName: String { Self.planNames[self] ?? onnxName.lowercased() }

    private static let planNames: [ElementType: String] = [
        .float32: "float32", .float64: "float64", .float16: "float16", .bfloat16: "bfloat16",
        .int8: "int8", .uint8: "uint8", .int16: "int16", .uint16: "uint16", .int32: "int32", .uint32: "uint32",
        .int64: "int64", .uint64: "uint64", .bool: "bool", .int4: "int4", .uint4: "uint4",
    ]

    private static let byPlanName: [String: ElementType] = {
        var m: [String: ElementType] = [:]
        for t in ElementType.allCases where t != .undefined { m[t.onnxName.lowercased()] = t }
        for (t, n) in planNames { m[n] = t }
        return m
    }()

    /// Whether values of this type sit in the arena byte for byte as the
    /// interpreter holds them (no sub-byte packing, no strings).
    var isArenaCompatible: Bool { bitWidth >= 8 && self != .string && RTensor.stride(of: self) * 8 == bitWidth }
}
