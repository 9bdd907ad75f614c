import Foundation

/// How far approximate values are from reference values: signal-to-quantization-
/// noise ratio, cosine similarity, mean squared and absolute error, and
/// percentiles of the absolute error.
public struct ErrorStatistics: Sendable, Codable, Equatable {
    /// 10·log10(Σx² / Σ(x−y)²) in dB; +inf when the values agree exactly.
    public var sqnr: Double
    public var cosine: Double
    public var mse: Double
    public var mae: Double
    public var p50: Double
    public var p95: Double
    public var p99: Double
    public var count: Int

    enum CodingKeys: String, CodingKey { case sqnr = "sqnr_db", cosine, mse, mae, p50, p95, p99, count }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        // JSON has no infinity: exact agreement is written as null SQNR.
        if sqnr.isFinite { try c.encode(sqnr, forKey: .sqnr) } else { try c.encodeNil(forKey: .sqnr) }
        try c.encode(cosine, forKey: .cosine)
        try c.encode(mse, forKey: .mse)
        try c.encode(mae, forKey: .mae)
        try c.encode(p50, forKey: .p50)
        try c.encode(p95, forKey: .p95)
        try c.encode(p99, forKey: .p99)
        try c.encode(count, forKey: .count)
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        sqnr = try c.decodeIfPresent(Double.self, forKey: .sqnr) ?? .infinity
        cosine = try c.decode(Double.self, forKey: .cosine)
        mse = try c.decode(Double.self, forKey: .mse)
        mae = try c.decode(Double.self, forKey: .mae)
        p50 = try c.decode(Double.self, forKey: .p50)
        p95 = try c.decode(Double.self, forKey: .p95)
        p99 = try c.decode(Double.self, forKey: .p99)
        count = try c.decode(Int.self, forKey: .count)
    }

    init(sqnr: Double, cosine: Double, mse: Double, mae: Double, p50: Double, p95: Double, p99: Double, count: Int) {
        (self.sqnr, self.cosine, self.mse, self.mae, self.p50, self.p95, self.p99, self.count) = (sqnr, cosine, mse, mae, p50, p95, p99, count)
    }

    /// Exact statistics of two equally long arrays (percentiles as order statistics,
    /// found by selection: the values a full sort would give, in linear time).
    public init(reference x: [Float], approximation y: [Float]) {
        var acc = ErrorAccumulator()
        acc.add(reference: x, approximation: y)
        var errors = zip(x, y).map { abs(Double($0) - Double($1)) }
        self = acc.statistics
        guard !errors.isEmpty else {
            (p50, p95, p99) = (0, 0, 0)
            return
        }
        func rank(_ p: Double) -> Int { min(errors.count - 1, Int((p * Double(errors.count - 1)).rounded())) }
        let (k99, k95, k50) = (rank(0.99), rank(0.95), rank(0.50))
        // Each selection leaves everything left of its rank no larger: the next, lower rank is found there.
        errors.withUnsafeMutableBufferPointer { e in
            Self.select(e, k99, in: 0..<e.count)
            Self.select(e, k95, in: 0..<(k99 + 1))
            Self.select(e, k50, in: 0..<(k95 + 1))
        }
        p99 = errors[k99]
        p95 = errors[k95]
        p50 = errors[k50]
    }

    /// Puts the k-th smallest of `a[range]` at index k, smaller-or-equal values before it and
    /// larger-or-equal after (Hoare's FIND with a median-of-three pivot). NaN-free input.
    static func select(_ a: UnsafeMutableBufferPointer<Double>, _ k: Int, in range: Range<Int>) {
        var lo = range.lowerBound, hi = range.upperBound - 1
        while lo < hi {
            let mid = lo + (hi - lo) / 2
            if a[mid] < a[lo] { a.swapAt(mid, lo) }
            if a[hi] < a[lo] { a.swapAt(hi, lo) }
            if a[hi] < a[mid] { a.swapAt(hi, mid) }
            let pivot = a[mid]
            var i = lo, j = hi
            while i <= j {
                while a[i] < pivot { i += 1 }
                while pivot < a[j] { j -= 1 }
                if i <= j {
                    a.swapAt(i, j)
                    i += 1
                    j -= 1
                }
            }
            if k <= j { hi = j } else if k >= i { lo = i } else { return }
        }
    }
}

/// Streams pairs of values into ``ErrorStatistics`` in constant memory: sums for
/// SQNR, cosine and the means, and a log-spaced histogram of |error| (16 bins
/// per octave from 2⁻⁶⁴, so percentiles are within about 4%).
public struct ErrorAccumulator: Sendable {
    var signal = 0.0, noise = 0.0, dot = 0.0, xx = 0.0, yy = 0.0, absSum = 0.0
    var count = 0
    var zeros = 0
    var bins = [Int](repeating: 0, count: Self.binCount)
    static let binsPerOctave = 16.0
    static let lowestExponent = -64.0
    static let binCount = 128 * 16

    public init() {}

    public mutating func add(reference x: UnsafeBufferPointer<Float>, approximation y: UnsafeBufferPointer<Float>) {
        precondition(x.count == y.count)
        for i in 0..<x.count {
            let a = Double(x[i]), b = Double(y[i])
            guard a.isFinite, b.isFinite else { continue }
            let e = a - b
            signal += a * a
            noise += e * e
            dot += a * b
            xx += a * a
            yy += b * b
            absSum += abs(e)
            count += 1
            if e == 0 {
                zeros += 1
            } else {
                let k = Int(((log2(abs(e)) - Self.lowestExponent) * Self.binsPerOctave).rounded(.down))
                bins[min(max(k, 0), Self.binCount - 1)] += 1
            }
        }
    }

    public mutating func add(reference x: [Float], approximation y: [Float]) {
        x.withUnsafeBufferPointer { xp in y.withUnsafeBufferPointer { yp in add(reference: xp, approximation: yp) } }
    }

    /// The upper edge of the bin holding the p-quantile of |error|.
    func percentile(_ p: Double) -> Double {
        guard count > 0 else { return 0 }
        let rank = Int((p * Double(count)).rounded(.up))
        var seen = zeros
        if seen >= rank { return 0 }
        for (k, c) in bins.enumerated() {
            seen += c
            if seen >= rank { return exp2(Self.lowestExponent + Double(k + 1) / Self.binsPerOctave) }
        }
        return exp2(Self.lowestExponent + Double(Self.binCount) / Self.binsPerOctave)
    }

    public var statistics: ErrorStatistics {
        let n = Double(max(count, 1))
        let sqnr = noise == 0 ? Double.infinity : (signal == 0 ? -Double.infinity : 10 * log10(signal / noise))
        let cosine = (xx == 0 || yy == 0) ? (xx == yy ? 1 : 0) : dot / (xx.squareRoot() * yy.squareRoot())
        return ErrorStatistics(sqnr: sqnr, cosine: cosine, mse: noise / n, mae: absSum / n,
                               p50: percentile(0.50), p95: percentile(0.95), p99: percentile(0.99), count: count)
    }
}
