import CKernels
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
        self = acc.statistics
        let n = min(x.count, y.count)
        guard n > 0 else {
            (p50, p95, p99) = (0, 0, 0)
            return
        }
        func rank(_ p: Double) -> Int { min(n - 1, Int((p * Double(n - 1)).rounded())) }
        var errors = [Double](repeating: 0, count: n)
        var orderable = true
        x.withUnsafeBufferPointer { xp in
            y.withUnsafeBufferPointer { yp in
                for i in 0..<n {
                    let e = abs(Double(xp[i]) - Double(yp[i]))
                    errors[i] = e
                    if e.isNaN { orderable = false }
                }
            }
        }
        let ranks = [rank(0.99), rank(0.95), rank(0.50)]
        let values = orderable ? Self.orderStatistics(errors, ranks: ranks) : Self.selectingInPlace(&errors, ranks: ranks)
        (p99, p95, p50) = (values[0], values[1], values[2])
    }

    /// The values of the given ranks (in ascending order, 0-based) of `values`, none NaN: by
    /// the top 16 bits of their bit patterns (non-negative doubles order as their patterns),
    /// then a selection among the few values in each rank's bucket.
    static func orderStatistics(_ values: [Double], ranks: [Int]) -> [Double] {
        var counts = [Int](repeating: 0, count: 1 << 16)
        values.withUnsafeBufferPointer { v in
            for e in v { counts[Int(e.bitPattern >> 48)] += 1 }
        }
        // Each rank's bucket, and its rank within the bucket.
        var where_: [(bucket: Int, rank: Int)] = []
        for k in ranks {
            var seen = 0, b = 0
            while seen + counts[b] <= k { seen += counts[b]; b += 1 }
            where_.append((b, k - seen))
        }
        // The values of those (at most three) buckets, gathered in one pass.
        let buckets = Array(Set(where_.map(\.bucket))).sorted()
        var members = [[Double]](repeating: [], count: buckets.count)
        values.withUnsafeBufferPointer { v in
            for e in v {
                let b = Int(e.bitPattern >> 48)
                for j in buckets.indices where buckets[j] == b { members[j].append(e) }
            }
        }
        return where_.map { bucket, k in
            members[buckets.firstIndex(of: bucket)!].withUnsafeMutableBufferPointer { m in
                select(m, k, in: 0..<m.count)
                return m[k]
            }
        }
    }

    /// The values of descending ranks by selection in place (each selection leaves everything
    /// left of its rank no larger: the next, lower rank is found there).
    static func selectingInPlace(_ values: inout [Double], ranks: [Int]) -> [Double] {
        values.withUnsafeMutableBufferPointer { e in
            var upper = e.count
            for k in ranks {
                select(e, k, in: 0..<upper)
                upper = k + 1
            }
        }
        return ranks.map { values[$0] }
    }

    /// Puts the k-th smallest of `a[range]` at index k, smaller-or-equal values before it and
    /// larger-or-equal after (Hoare's FIND with a median-of-three pivot). NaN-free input is
    /// ordered so; with NaN (``selectingInPlace(_:ranks:)``, as before) the loop still ends.
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
        guard let xp = x.baseAddress, let yp = y.baseAddress else { return }
        var sums = [signal, noise, dot, xx, yy, absSum]
        var c = count, z = zeros
        Self.octaveSteps.withUnsafeBufferPointer { steps in
            Self.octaveCells.withUnsafeBufferPointer { cells in
                qc_error_accumulate(xp, yp, x.count, steps.baseAddress!, cells.baseAddress!, &sums, &c, &z, &bins)
            }
        }
        (signal, noise, dot, xx, yy, absSum) = (sums[0], sums[1], sums[2], sums[3], sums[4], sums[5])
        count = c
        zeros = z
    }

    /// Smallest doubles ≥ 2^(j/16), j = 0…16: a mantissa's place among them is its sub-octave bin.
    static let octaveSteps: [Double] = (0...16).map { j in
        let t = exp2l(Float80(j) / 16)
        let d = Double(t)
        return Float80(d) < t ? d.nextUp : d
    }

    /// The error bin of x > 0, finite: ⌊(log₂ x + 64) · 16⌋ clamped to the bins, found from
    /// x's exponent and where its mantissa falls among ``octaveSteps`` (exact, unlike
    /// rounding log₂, and cheaper).
    static func bin(_ x: Double) -> Int {
        octaveSteps.withUnsafeBufferPointer { steps in
            octaveCells.withUnsafeBufferPointer { Int(qc_error_bin(x, steps.baseAddress!, $0.baseAddress!)) }
        }
    }

    /// Per 1/256 of the octave [1, 2): how many of octaveSteps[1...15] lie at or below its start.
    static let octaveCells: [UInt8] = (0..<256).map { i in
        UInt8(octaveSteps[1...15].filter { $0 <= 1 + Double(i) / 256 }.count)
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
