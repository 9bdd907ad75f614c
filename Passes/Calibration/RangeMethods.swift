import Foundation
import IR

/// Ways to choose a quantization range from calibration statistics.
public enum CalibrationMethod: String, Sendable, CaseIterable, Codable {
    /// The observed minimum and maximum.
    case minmax
    /// Exponential moving average of each batch's minimum and maximum.
    case movingAverage = "moving-average"
    /// Clip |x| at a percentile (99.99 by default).
    case percentile
    /// TensorRT's KL-divergence threshold (entropy calibration).
    case entropy
    /// The symmetric clipping threshold with the least expected quantization MSE.
    case mse
    /// Clipping ranges by percentile (99.99 and 99.999) and MSE-optimal threshold, all
    /// kept on the IR; `quantc quantize` quantizes with each and keeps the one whose
    /// outputs are closest to the float model's on calibration samples. Entropy and
    /// minmax are not offered: minmax never won on our models, and entropy's output
    /// SQNR misled on the layout detector (the best SQNR, the worst detection F1:
    /// 0.38 against percentile's 0.69). Alone (without a driver), it is percentile.
    case auto

    /// The candidates `auto` offers, in order of preference on ties.
    public static let autoCandidates: [(name: String, method: CalibrationMethod, percentile: Double)] = [
        ("percentile-99.99", .percentile, 99.99), ("percentile-99.999", .percentile, 99.999), ("mse", .mse, 99.99),
    ]
}


public enum RangeSelection {
    /// Clips the observed [min, max] to ±threshold.
    static func clipped(_ h: AbsHistogram, _ t: Double) -> ValueRange {
        ValueRange(low: max(h.minimum, Float(-t)), high: min(h.maximum, Float(t)))
    }

    public static func percentile(_ h: AbsHistogram, _ p: Double) -> ValueRange {
        clipped(h, h.percentile(p / 100))
    }

    /// TensorRT's entropy calibration (Migacz, "8-bit Inference with TensorRT",
    /// GTC 2017; same as MXNet's `_get_optimal_threshold`): for each candidate
    /// threshold of i ≥ `levels` bins, P is the histogram's first i bins with
    /// the clipped tail added to the last one; Q quantizes those i bins (without
    /// the tail) into `levels` groups and spreads each group's mass evenly over
    /// the bins where P is non-zero. The i with the least KL(P‖Q) gives the
    /// threshold (i + 0.5)·width.
    public static func entropy(_ h: AbsHistogram, levels: Int = 128, maxClipped: Double = 0.01) -> ValueRange {
        guard h.total > 0, h.width > 0 else { return ValueRange(low: h.minimum, high: h.maximum) }
        // Bins past the last non-empty one change nothing.
        let used = (h.counts.lastIndex { $0 > 0 } ?? 0) + 1
        if used <= levels { return ValueRange(low: h.minimum, high: h.maximum) }
        var best = Double.infinity, bestI = used
        let counts = Array(h.counts[0..<used])
        // Safeguard (ours, not TensorRT's): thresholds that clip more than `maxClipped`
        // of the non-zero values are not candidates. On discrete data (pixels in
        // 1/16 steps) P is a few spikes, and KL(P‖Q) is 0 for a threshold just past
        // the first spike, which would clip almost everything.
        let nonzero = max(h.total - h.zeros, 1)
        var suffix = [Double](repeating: 0, count: used + 1)
        for k in stride(from: used - 1, through: 0, by: -1) { suffix[k] = suffix[k + 1] + counts[k] }
        // KL(P‖Q) in O(levels) per candidate from prefix sums: P's total is always
        // every count (the tail is folded into bin i−1), Q's total the counts below i,
        // and Q is constant over the non-empty bins of each group, so
        // KL = Σ p·log p / sp − log sp − Σ_groups (P-mass of group)·log(q_g / sq) / sp.
        var prefix = [Double](repeating: 0, count: used + 1)
        var plogp = [Double](repeating: 0, count: used + 1)
        var nonempty = [Int](repeating: 0, count: used + 1)
        for k in 0..<used {
            prefix[k + 1] = prefix[k] + counts[k]
            plogp[k + 1] = plogp[k] + (counts[k] > 0 ? counts[k] * log(counts[k]) : 0)
            nonempty[k + 1] = nonempty[k] + (counts[k] > 0 ? 1 : 0)
        }
        let sp = prefix[used]
        func divergenceAt(_ i: Int) -> Double {
            let sq = prefix[i]
            guard sq > 0 else { return .infinity }
            let last = counts[i - 1] + suffix[i]
            var sum = plogp[i - 1] + (last > 0 ? last * log(last) : 0)
            // Group j covers bins ⌊j·i/levels⌋ ..< ⌊(j+1)·i/levels⌋, so when i is not a multiple
            // of `levels` group sizes differ by at most one bin. MXNet takes i / levels bins
            // per group and adds the remainder to the last group (up to levels − 1 bins more);
            // spreading it evenly keeps Q's resolution the same across the range.
            let step = Double(i) / Double(levels)
            for j in 0..<levels {
                let start = Int((Double(j) * step).rounded(.down))
                let end = j == levels - 1 ? i : Int((Double(j + 1) * step).rounded(.down))
                guard start < end else { continue }
                let mass = prefix[end] - prefix[start]
                var nonzero = nonempty[end] - nonempty[start]
                var pmass = mass
                if end == i {
                    pmass += suffix[i]
                    if counts[i - 1] == 0 && suffix[i] > 0 { nonzero += 1 }
                }
                guard pmass > 0 else { continue }
                let qb = nonzero > 0 ? max(mass / Double(nonzero) / sq, 1e-12) : 1e-12
                sum -= pmass * log(qb)
            }
            return sum / sp - log(sp)
        }
        // Coarse to fine: every `stride`-th candidate, then every one around the best
        // (TensorRT tries them all; this is ~10x faster and lands on the same bin
        // unless KL(P‖Q) has two nearly equal minima).
        let candidates = (levels...used).filter { suffix[$0] <= maxClipped * nonzero }
        let stride = max(1, candidates.count / 128)
        for i in Swift.stride(from: 0, to: candidates.count, by: stride).map({ candidates[$0] }) + [candidates.last].compactMap({ $0 }) {
            let kl = divergenceAt(i)
            if kl < best {
                best = kl
                bestI = i
            }
        }
        if stride > 1 {
            for i in candidates where abs(i - bestI) < stride && i != bestI {
                let kl = divergenceAt(i)
                if kl < best || (kl == best && i < bestI) {
                    best = kl
                    bestI = i
                }
            }
        }
        return clipped(h, (Double(bestI) + 0.5) * h.width)
    }

    /// KL(P‖Q) of unnormalized histograms; bins where P is 0 contribute nothing,
    /// bins where only Q is 0 are smoothed with a small epsilon.
    static func divergence(_ p: ArraySlice<Double>, _ q: ArraySlice<Double>) -> Double {
        let sp = p.reduce(0, +), sq = q.reduce(0, +)
        guard sp > 0, sq > 0 else { return .infinity }
        var kl = 0.0
        for (a, b) in zip(p, q) where a > 0 {
            let pa = a / sp, qb = max(b / sq, 1e-12)
            kl += pa * log(pa / qb)
        }
        return kl
    }

    /// The symmetric threshold t minimizing the expected squared error of quantizing to
    /// the grid the activation will get: ONNX Runtime's and quantize's default, asymmetric
    /// uint8 over the clipped range [max(min, −t), min(max, t)] (``QuantParameters``' scale:
    /// t/255 for a ReLU output, about 2t/255 for a symmetric tensor). Each
    /// value inside costs the rounding error step²/12, except exact zeros, which the zero
    /// point represents exactly; each value outside costs its clipping error (|x| − t)².
    /// 200 candidates t. (Until 1 Dec 2026 the step was t/127 for every tensor and the
    /// zeros paid rounding error: four times the noise of a ReLU output's grid, and more
    /// where it is mostly zeros, so the thresholds clipped well past the optimum.)
    public static func mse(_ h: AbsHistogram) -> ValueRange {
        guard h.total > 0, h.width > 0 else { return ValueRange(low: h.minimum, high: h.maximum) }
        let peak = Double(h.absMax)
        var best = Double.infinity, bestT = peak
        for candidate in 1...200 {
            let t = peak * Double(candidate) / 200
            let delta = Double(QuantParameters(range: clipped(h, t), bits: 8, signed: false, symmetric: false).scale)
            var err = 0.0
            for (i, c) in h.counts.enumerated() where c > 0 {
                let center = (Double(i) + 0.5) * h.width
                let inside = i == 0 ? c - h.zeros : c
                err += center > t ? c * (center - t) * (center - t) : inside * delta * delta / 12
            }
            if err < best {
                best = err
                bestT = t
            }
        }
        return clipped(h, bestT)
    }
}
