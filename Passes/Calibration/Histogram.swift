import CKernels
import Interpreter

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

    /// Adds values (NaN and ±Inf ignored, in the bins and in min/max) and returns the
    /// batch's own finite minimum and maximum (nil if it has none). Both passes
    /// split the values over `threads`; bin counts are integers, so the result
    /// does not depend on the split.
    @discardableResult
    public mutating func add(_ values: UnsafeBufferPointer<Float>, threads: Int = 1) -> (low: Float, high: Float)? {
        let chunks = max(1, min(threads, values.count / 65_536))
        let step = (values.count + chunks - 1) / max(chunks, 1)
        var parts = [(low: Float, high: Float, finite: Int, zeros: Int)](repeating: (.infinity, -.infinity, 0, 0), count: chunks)
        parts.withUnsafeMutableBufferPointer { out in
            let out = out
            Parallel.forEach(chunks, threads: chunks) { r in
                for c in r { out[c] = Self.extremes(values, (c * step)..<min(values.count, (c + 1) * step)) }
            }
        }
        let lo = parts.map(\.low).min()!, hi = parts.map(\.high).max()!
        let n = parts.reduce(0) { $0 + $1.finite }
        zeros += Double(parts.reduce(0) { $0 + $1.zeros })
        guard n > 0 else { return nil }
        minimum = min(minimum, lo)
        maximum = max(maximum, hi)
        let peak = max(abs(lo), abs(hi))
        total += Double(n)
        if width == 0 {
            // First data: size bins so the peak lands in the last bin.
            width = peak > 0 ? Double(peak) / Double(bins) * (1 + 1e-7) : 0
            if width == 0 {
                counts[0] += Double(n)
                return (lo, hi)
            }
        }
        while Double(peak) >= range { grow() }
        let scale = 1 / width
        let bins = self.bins
        var partial = [[Int32]](repeating: [Int32](repeating: 0, count: bins), count: chunks)
        partial.withUnsafeMutableBufferPointer { parts in
            let parts = parts
            Parallel.forEach(chunks, threads: chunks) { r in
                for c in r {
                    parts[c].withUnsafeMutableBufferPointer { counts in
                        Self.bin(values, (c * step)..<min(values.count, (c + 1) * step), scale: scale, into: counts)
                    }
                }
            }
        }
        counts.withUnsafeMutableBufferPointer { total in
            for part in partial { for k in 0..<bins where part[k] != 0 { total[k] += Double(part[k]) } }
        }
        return (lo, hi)
    }

    /// Finite minimum, maximum, count and zero count of `values[range]`, eight at a time
    /// (the lanes in C, `qc_extremes8`: 256-bit vectors).
    static func extremes(_ values: UnsafeBufferPointer<Float>, _ range: Range<Int>) -> (Float, Float, Int, Int) {
        var lo8 = SIMD8<Float>(repeating: .infinity), hi8 = SIMD8<Float>(repeating: -.infinity)
        var zeros8 = SIMD8<Int32>(repeating: 0), bad8 = SIMD8<Int32>(repeating: 0)
        let blocks = range.count / 8
        if blocks > 0 {
            withUnsafeMutableBytes(of: &lo8) { lo in
                withUnsafeMutableBytes(of: &hi8) { hi in
                    withUnsafeMutableBytes(of: &zeros8) { z in
                        withUnsafeMutableBytes(of: &bad8) { b in
                            qc_extremes8(values.baseAddress! + range.lowerBound, blocks,
                                         lo.baseAddress!.assumingMemoryBound(to: Float.self), hi.baseAddress!.assumingMemoryBound(to: Float.self),
                                         z.baseAddress!.assumingMemoryBound(to: Int32.self), b.baseAddress!.assumingMemoryBound(to: Int32.self))
                        }
                    }
                }
            }
        }
        var i = range.lowerBound + 8 * blocks
        var lo = lo8.min(), hi = hi8.max()
        var zeros = Int(zeros8.wrappedSum()), bad = Int(bad8.wrappedSum())
        while i < range.upperBound {
            let v = values[i]
            if v.isFinite {
                lo = min(lo, v)
                hi = max(hi, v)
                if v == 0 { zeros += 1 }
            } else {
                bad += 1
            }
            i += 1
        }
        return (lo, hi, range.count - bad, zeros)
    }

    /// Counts the finite values of `values[range]` into bins of 1/`scale`.
    static func bin(_ values: UnsafeBufferPointer<Float>, _ range: Range<Int>, scale: Double, into counts: UnsafeMutableBufferPointer<Int32>) {
        guard !range.isEmpty else { return }
        // bin = min(trunc(|v|·scale), bins − 1) in double precision, non-finite values skipped.
        qc_histogram_bin_abs(values.baseAddress! + range.lowerBound, range.count, scale, counts.baseAddress!, Int32(counts.count))
    }

    /// Doubles the bin width, merging bins pairwise.
    private mutating func grow() {
        let half = bins / 2
        let odd = bins % 2 == 1 ? counts[bins - 1] : 0
        for i in 0..<half { counts[i] = counts[2 * i] + counts[2 * i + 1] }
        for i in half..<bins { counts[i] = 0 }
        // With an odd bin count the last bin has no pair: it lands in bin `half`.
        counts[half] += odd
        width *= 2
    }

    /// An empty histogram with this one's bins and bin width: when the width is not 0,
    /// batches binned into it merge back exactly (both widths are this width times a power of
    /// two).
    public func emptied() -> AbsHistogram {
        var h = AbsHistogram(bins: bins)
        h.width = width
        return h
    }

    /// Merges another histogram (e.g. from another thread) into this one. When the widths
    /// differ by a power of two (``emptied()``) the result is what adding the other's values
    /// here would have given.
    public mutating func merge(_ other: AbsHistogram) {
        guard other.total > 0 else { return }
        guard total > 0 else {
            self = other
            return
        }
        // Only zeros so far (no width yet): they stay in bin 0 at any width.
        if width == 0 || other.width == 0 {
            let (wide, zero) = width == 0 ? (other, self) : (self, other)
            self = wide
            counts[0] += zero.counts[0]
            total += zero.total
            zeros += zero.zeros
            minimum = min(minimum, zero.minimum)
            maximum = max(maximum, zero.maximum)
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
