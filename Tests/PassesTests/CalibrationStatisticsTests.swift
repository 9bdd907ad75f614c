import Passes
import XCTest

final class CalibrationStatisticsTests: XCTestCase {
    /// Deterministic standard normal samples (Box–Muller over a fixed LCG).
    func gaussian(_ n: Int, seed: UInt64 = 1) -> [Float] {
        var s = seed
        func unit() -> Double {
            s = s &* 6364136223846793005 &+ 1442695040888963407
            return (Double(s >> 11) + 0.5) * 0x1p-53
        }
        return (0..<n).map { _ in Float((-2 * log(unit())).squareRoot() * cos(2 * .pi * unit())) }
    }

    func histogram(_ values: [Float], batches: Int = 1) -> AbsHistogram {
        var h = AbsHistogram()
        let size = (values.count + batches - 1) / batches
        for b in 0..<batches {
            let part = Array(values[min(values.count, b * size)..<min(values.count, (b + 1) * size)])
            part.withUnsafeBufferPointer { h.add($0) }
        }
        return h
    }

    func testMergingBatchByBatchIsExact() {
        // Growing batches force the range to double several times.
        let values: [Float] = (0..<10_000).map { (i: Int) -> Float in
            let magnitude = Float(i % 997) * (1 + Float(i) / 2000)
            return i % 2 == 0 ? magnitude : -magnitude
        }
        let once = histogram(values.sorted { abs($0) > abs($1) })
        let streamed = histogram(values.sorted { abs($0) < abs($1) }, batches: 50)
        XCTAssertEqual(once.total, streamed.total)
        XCTAssertEqual(once.minimum, streamed.minimum)
        XCTAssertEqual(once.maximum, streamed.maximum)
        // Same counts once both are at the same width.
        var a = once, b = streamed
        let empty = AbsHistogram()
        a.merge(empty)
        b.merge(empty)
        XCTAssertEqual(a.counts.reduce(0, +), b.counts.reduce(0, +))
        XCTAssertEqual(streamed.percentile(0.5), once.percentile(0.5), accuracy: 2 * max(once.width, streamed.width))
    }

    func testPercentileOfAGaussian() {
        let h = histogram(gaussian(200_000), batches: 20)
        // P(|x| < 2.5758) = 0.99 for a standard normal.
        XCTAssertEqual(RangeSelection.percentile(h, 99).high, 2.5758, accuracy: 0.03)
        XCTAssertEqual(RangeSelection.percentile(h, 99).low, -2.5758, accuracy: 0.03)
    }

    func testEntropyClipsRareOutliersButNotUniformData() {
        // A Gaussian with a handful of far outliers: the outliers are not worth 8-bit levels.
        let g = histogram(gaussian(200_000) + [Float](repeating: 60, count: 10) + [Float](repeating: -60, count: 10))
        let r = RangeSelection.entropy(g)
        XCTAssertLessThan(r.high, 15, "entropy should clip rare outliers")
        XCTAssertGreaterThan(r.high, 2.5)
        XCTAssertEqual(r.low, -r.high)
        // Uniform data has no tail worth clipping.
        let u = histogram((0..<100_000).map { Float($0) / 100_000 })
        XCTAssertGreaterThan(RangeSelection.entropy(u).high, 0.95)
    }

    func testMSEPrefersAModerateClipForGaussians() {
        let g = histogram(gaussian(100_000))
        let t = RangeSelection.mse(g).high
        // Optimal symmetric 8-bit clipping for N(0,1) is around 3–4.5 σ.
        XCTAssertGreaterThan(t, 2.5)
        XCTAssertLessThan(t, g.absMax)
    }
}
