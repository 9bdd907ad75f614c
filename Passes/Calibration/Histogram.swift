/// A streaming histogram of |x| over [0, width·bins), plus exact min, max and
/// count. When a batch exceeds the range, the bin width doubles and adjacent
/// bins merge pairwise, which re-bins exactly; so batches can be merged one
/// at a time and memory stays O(bins) per tensor, whatever the sample count.
public struct AbsHistogram: Sendable, Equatable, Codable {
    public private(set) var counts: [Double]
    public private(set) var width: Double
    public private(set) var minimum: Float = .infinity
    public private(set) var maximum: Float = -.infinity
    public private(set) var total: Double = 0
    /// How many values were exactly 0 (all in bin 0): ReLU outputs are mostly zeros,
    /// which every range represents exactly.
    public private(set) var zeros: Double = 0

    public init(bins: Int = 2048) {
        counts = [Double](repeating: 0, count: bins)
        width = 0
    }

    public var bins: Int { counts.count }
    /// Upper end of the histogram's range.
    public var range: Double { width * Double(bins) }
    public var absMax: Float { max(abs(minimum), abs(maximum)) }

    /// Adds values (NaN ignored; ±Inf counted in min/max only).
    public mutating func add(_ values: UnsafeBufferPointer<Float>) {
        var lo = minimum, hi = maximum, peak: Float = 0
        var z = 0.0
        for v in values where v.isFinite {
            if v == 0 { z += 1 }
            lo = min(lo, v)
            hi = max(hi, v)
            peak = max(peak, abs(v))
        }
        minimum = lo
        maximum = hi
        zeros += z
        if width == 0 {
            // First data: size bins so the peak lands in the last bin.
            width = peak > 0 ? Double(peak) / Double(bins) * (1 + 1e-7) : 0
            if width == 0 {
                counts[0] += Double(values.count { $0.isFinite })
                total += Double(values.count { $0.isFinite })
                return
            }
        }
        while Double(peak) >= range { grow() }
        let scale = 1 / width
        let last = bins - 1
        for v in values where v.isFinite {
            counts[min(Int(Double(abs(v)) * scale), last)] += 1
        }
        total += Double(values.count { $0.isFinite })
    }

    /// Doubles the bin width, merging bins pairwise.
    private mutating func grow() {
        let half = bins / 2
        for i in 0..<half { counts[i] = counts[2 * i] + counts[2 * i + 1] }
        for i in half..<bins { counts[i] = 0 }
        width *= 2
    }

    /// Merges another histogram (e.g. from another thread) into this one.
    public mutating func merge(_ other: AbsHistogram) {
        guard other.total > 0 else { return }
        guard total > 0 else {
            self = other
            return
        }
        var o = other
        while o.width < width { o.grow() }
        while width < o.width { grow() }
        for i in 0..<bins { counts[i] += o.counts[i] }
        total += o.total
        zeros += o.zeros
        minimum = min(minimum, o.minimum)
        maximum = max(maximum, o.maximum)
    }

    /// The |x| below which `fraction` of the values lie (linear within a bin).
    public func percentile(_ fraction: Double) -> Double {
        guard total > 0 else { return 0 }
        let target = fraction * total
        var seen = 0.0
        for (i, c) in counts.enumerated() {
            if seen + c >= target {
                let within = c > 0 ? (target - seen) / c : 0
                return (Double(i) + within) * width
            }
            seen += c
        }
        return range
    }
}
