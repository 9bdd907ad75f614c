import IR

/// Scale and zero point of an affine integer quantization q = round(x / scale) + zeroPoint,
/// clamped to [qmin, qmax].
public struct QuantParameters: Hashable, Sendable {
    public var scale: Float
    public var zeroPoint: Int32
    public var qmin: Int32
    public var qmax: Int32

    /// The integer range of a format: unsigned [0, 2ᵇ−1]; signed [−2ᵇ⁻¹, 2ᵇ⁻¹−1], or
    /// [−(2ᵇ⁻¹−1), 2ᵇ⁻¹−1] when symmetric, so that zero sits in the middle as in
    /// ONNX Runtime's `get_qmin_qmax_for_qType` (quant_utils.py).
    /// `reduced` takes one bit less, as ONNX Runtime's `reduce_range` ([−64, 64] for int8).
    public static func integerRange(bits: Int, signed: Bool, symmetric: Bool, reduced: Bool = false) -> (Int32, Int32) {
        if reduced {
            return signed ? (-Int32(1 << (bits - 2)), Int32(1 << (bits - 2))) : (0, Int32(1 << (bits - 1)) - 1)
        }
        if !signed { return (0, Int32(1 << bits) - 1) }
        let half = Int32(1 << (bits - 1))
        return (symmetric ? -(half - 1) : -half, half - 1)
    }

    /// From a real range, as ONNX Runtime's `compute_scale_zp` does it (quant_utils.py):
    /// the range is widened to contain 0; symmetric ranges become ±max(|low|, |high|);
    /// scale = (high − low) / (qmax − qmin) in float64, rounded once to float32;
    /// zero point = round((qmin+qmax)/2) when symmetric, else round(qmin − low/scale),
    /// rounding half to even like numpy. A range narrower than float32's smallest
    /// normal number gets scale 1, zero point 0.
    public init(range: ValueRange, bits: Int, signed: Bool, symmetric: Bool, reduced: Bool = false) {
        let (qmin, qmax) = Self.integerRange(bits: bits, signed: signed, symmetric: symmetric, reduced: reduced)
        var low = min(range.low.isFinite ? range.low : 0, 0)
        var high = max(range.high.isFinite ? range.high : 0, 0)
        if symmetric {
            let m = max(abs(low), abs(high))
            low = -m
            high = m
        }
        self.qmin = qmin
        self.qmax = qmax
        let s = (Double(high) - Double(low)) / Double(qmax - qmin)
        if s < Double(Float.leastNormalMagnitude) {
            scale = 1
            zeroPoint = 0
            return
        }
        scale = Float(s)
        if symmetric {
            zeroPoint = Int32((Double(qmin + qmax) / 2).rounded(.toNearestOrEven))
        } else {
            let z = (Float(qmin) - low / scale).rounded(.toNearestOrEven)
            zeroPoint = Int32(min(max(z, Float(qmin)), Float(qmax)))
        }
    }

    public init(scale: Float, zeroPoint: Int32, qmin: Int32, qmax: Int32) {
        self.scale = scale
        self.zeroPoint = zeroPoint
        self.qmin = qmin
        self.qmax = qmax
    }

    /// The integer ONNX's QuantizeLinear produces: x / scale rounded half to even,
    /// plus the zero point, saturated.
    @inline(__always)
    public func quantize(_ x: Float) -> Int32 {
        let q = (x / scale).rounded(.toNearestOrEven) + Float(zeroPoint)
        if q.isNaN { return zeroPoint }
        return Int32(min(max(q, Float(qmin)), Float(qmax)))
    }

    @inline(__always)
    public func dequantize(_ q: Int32) -> Float { Float(q - zeroPoint) * scale }
}
