/// Conversions between `Float` and the 16-bit float formats, on bit patterns so
/// that they work the same on every platform.
public enum HalfFloat {
    /// IEEE 754 binary16 → binary32, exact (every half is a float).
    public static func toFloat(_ h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exp = Int(h >> 10) & 0x1F
        let frac = UInt32(h & 0x03FF)
        if exp == 0x1F {  // Inf / NaN, payload kept
            return Float(bitPattern: sign | 0x7F80_0000 | (frac << 13))
        }
        if exp == 0 {
            // Zero or subnormal: value = frac · 2^-24.
            let magnitude = Float(frac) * 0x1p-24
            return sign != 0 ? -magnitude : magnitude
        }
        return Float(bitPattern: sign | UInt32(exp + 112) << 23 | (frac << 13))
    }

    /// binary32 → binary16 with round-to-nearest-even, as ONNX's Cast does.
    public static func fromFloat(_ f: Float) -> UInt16 {
        Float16(f).bitPattern
    }

    /// bfloat16 is the top half of a binary32.
    public static func bfloat16ToFloat(_ b: UInt16) -> Float {
        Float(bitPattern: UInt32(b) << 16)
    }

    /// binary32 → bfloat16 with round-to-nearest-even; NaN stays a quiet NaN.
    public static func bfloat16FromFloat(_ f: Float) -> UInt16 {
        let bits = f.bitPattern
        if f.isNaN { return UInt16(bits >> 16) | 0x0040 }
        let rounding = UInt32(0x7FFF) + ((bits >> 16) & 1)
        return UInt16((bits &+ rounding) >> 16)
    }
}
