import IR

/// A small deterministic generator (SplitMix64), so random inputs repeat
/// across runs and machines.
public struct SplitMix64: Sendable {
    var state: UInt64
    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    public mutating func unit() -> Double { Double(next() >> 11) * 0x1p-53 }
}

/// Random tensors for a declared input type: floats uniform in [−1, 1),
/// integers in [0, 8), symbolic dims set to `symbolicSize`.
public enum RandomTensor {
    /// Most elements generated for one input (1 GiB of floats): a hostile model may declare any shape.
    public static let maxElements = 1 << 28

    /// `name` names the input in errors. Negative dims (some exporters write -1 for "unknown",
    /// and ONNX Runtime accepts them) count as symbolic.
    public static func make(_ type: TensorType, name: String = "input", rng: inout SplitMix64,
                            symbolicSize: Int = 1) throws(DataError) -> RTensor {
        let shape = (type.shape ?? []).map { d -> Int in
            guard let v = d.value, v >= 0 else { return symbolicSize }
            return v
        }
        var n = 1
        for d in shape {
            let (p, overflow) = n.multipliedReportingOverflow(by: d)
            guard !overflow, p <= maxElements else {
                throw DataError(path: "input '\(name)'", problem:
                    "its declared shape \(shape) has more than \(maxElements) elements, too many to generate random values for")
            }
            n = p
        }
        let floats = (0..<n).map { _ in Float(rng.unit() * 2 - 1) }
        let t = RTensor(floats: floats, shape: shape)
        switch type.elementType {
        case .float32, .undefined: return t
        case .bool: return t.converted(to: .bool)
        case let e where e.isFloatingPoint: return t.converted(to: e)
        case let e: return RTensor(floats: floats.map { ($0 + 1) * 4 }, shape: shape).converted(to: e)
        }
    }
}
