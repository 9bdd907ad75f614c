import IR
import Interpreter
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

    /// The binning loop (C, vectorized) against its definition: bin min(trunc(|v|·scale), last)
    /// in double precision, non-finite values skipped, zeros in bin 0.
    func testBinningFollowsItsDefinition() {
        var values = gaussian(50_003, seed: 7).map { $0 * 3 }
        for i in stride(from: 0, to: values.count, by: 5) { values[i] = 0 }
        values += [.infinity, -.infinity, .nan, 1e30, -1e-30, .leastNonzeroMagnitude, 4.5, -4.5]
        let h = histogram(values)
        var expected = [Double](repeating: 0, count: h.bins)
        let scale = 1 / h.width
        for v in values where v.isFinite { expected[min(Int(Double(abs(v)) * scale), h.bins - 1)] += 1 }
        XCTAssertEqual(h.counts, expected)
        XCTAssertEqual(h.total, Double(values.count - 3))
        XCTAssertEqual(h.zeros, Double(values.filter { $0 == 0 }.count))
    }

    /// What parallel calibration does: the first batch sets the width, every later batch is
    /// binned apart at the width its round started with (``BatchObservation``) and absorbed in
    /// order. Widths only double, so the result is the sequential one exactly, moving averages
    /// included, also when a value is observed several times in one batch (a Loop body).
    func testBatchesBinnedApartAndAbsorbedEqualSequentialAdding() {
        let batches: [[Float]] = (0..<12).map { b in gaussian(3_000, seed: UInt64(b + 1)).map { $0 * Float(1 + b * b) } }
        func tensor(_ v: [Float]) -> RTensor { RTensor(floats: v, shape: [v.count]) }
        for bins in [2048, 257] {
            var sequential = TensorStatistics(bins: bins)
            for b in batches {
                sequential.add(tensor(b))
                sequential.add(tensor(b.map { $0 / 3 }))  // observed twice per batch
            }
            var merged = TensorStatistics(bins: bins)
            merged.add(tensor(batches[0]))
            merged.add(tensor(batches[0].map { $0 / 3 }))
            // Two rounds, each binned at the width the round started with.
            for round in [Array(batches[1..<7]), Array(batches[7...])] {
                let start = merged
                let parts = round.map { b -> BatchObservation in
                    var o = BatchObservation(binnedLike: start)
                    o.add(tensor(b))
                    o.add(tensor(b.map { $0 / 3 }))
                    return o
                }
                for p in parts { merged.absorb(p) }
            }
            XCTAssertEqual(merged, sequential, "\(bins) bins")
            XCTAssertEqual(merged.histogram.counts.reduce(0, +), merged.histogram.total, "\(bins) bins: no count lost growing")
        }
        // A histogram of zeros only (no width yet) merges with one that has a width.
        var zeros = AbsHistogram()
        [Float](repeating: 0, count: 10).withUnsafeBufferPointer { zeros.add($0) }
        var other = AbsHistogram()
        [Float](arrayLiteral: 0, 1, 2, 3).withUnsafeBufferPointer { other.add($0) }
        var direct = AbsHistogram()
        ([Float](repeating: 0, count: 10) + [0, 1, 2, 3]).withUnsafeBufferPointer { direct.add($0) }
        zeros.merge(other)
        XCTAssertEqual(zeros.counts, direct.counts)
        XCTAssertEqual(zeros.total, 14)
        XCTAssertEqual(zeros.zeros, 11)
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

    /// mse's threshold is the one with the least error on the grid the activation gets
    /// (asymmetric uint8 over the clipped range; a ReLU output's zeros exact), measured
    /// here by quantizing the values themselves over the same 200 candidates. The former
    /// error model (step t/127, zeros rounded) clipped the 20 outliers: 15% more error.
    func testMSEThresholdMinimisesTheUInt8ErrorOfAReLUOutput() {
        let x = gaussian(100_000).map { max($0, 0) } + [Float](repeating: 12, count: 20)
        let h = histogram(x)
        func error(_ t: Double) -> Double {
            let s = t / 255
            return x.reduce(0.0) { e, v in
                let q = min(max((Double(v) / s).rounded(.toNearestOrEven), 0), 255)
                return e + (q * s - Double(v)) * (q * s - Double(v))
            }
        }
        let best = (1...200).map { error(Double(h.absMax) * Double($0) / 200) }.min()!
        let r = RangeSelection.mse(h)
        XCTAssertEqual(r.low, 0)
        XCTAssertLessThanOrEqual(error(Double(r.high)), 1.01 * best, "threshold \(r.high) of peak \(h.absMax)")
    }
}

/// The calibrate pass's statistics do not depend on the thread count (which decides how many
/// batches run at once), and equal adding every batch in order, also for a value that has no
/// bin width when a round starts: `Relu(x − t)` on 1×4 random inputs, t just above the first
/// sample's largest value, is all zeros on the first batch and not on some later ones.
final class CalibratePassTests: XCTestCase {
    static let threshold: Float = {
        var first: Float = 0
        try? SampleFeed.random(count: 1, seed: 0xCA11B).forEachBatch(inputs: [ValueInfo(name: "x", type: input)], batch: 1) { feed in
            first = feed["x"]!.floatArray().max()!
        }
        return first + 1e-3
    }()
    static let input = ValueType.tensor(TensorType(.float32, [.symbolic("N"), .fixed(4)]))

    static func model() -> Model {
        var g = Graph(name: "g", inputs: [ValueInfo(name: "x", type: input)], outputs: [ValueInfo(name: "y", type: nil)], nodes: [
            Node(name: "shift", opType: "Sub", inputs: ["x", "t"], outputs: ["s"]),
            Node(name: "relu", opType: "Relu", inputs: ["s"], outputs: ["y"]),
        ])
        g.initializers["t"] = Tensor(floats: [threshold], shape: [1], name: "t")
        return Model(opsetImports: [OpsetImport(domain: "", version: 13)], graph: g)
    }

    func testStatisticsDoNotDependOnThreadsAndEqualSequentialAdding() throws {
        func ranges(threads: Int) throws -> [String: ValueRange] {
            var m = Self.model()
            var manager = PassManager(passes: try PassRegistry.pipeline("calibrate(method=entropy,batch=1)"))
            manager.context.randomSamples = 300
            manager.context.threads = threads
            try manager.run(on: &m)
            return m.quantization.ranges
        }
        // Sequentially, by hand.
        let interpreter = try Interpreter(model: Self.model(), threads: 1, fuse: false)
        var stats: [String: TensorStatistics] = [:]
        var firstZero = false, nonZeroLater = false, batches = 0
        try SampleFeed.random(count: 300, seed: 0xCA11B).forEachBatch(inputs: interpreter.inputs, batch: 1) { feed in
            for (name, t) in feed { stats[name, default: TensorStatistics(bins: 2048)].add(t) }
            _ = try interpreter.run(inputs: feed) { name, _, t in
                stats[name, default: TensorStatistics(bins: 2048)].add(t)
                if name == "y" {
                    let zero = t.floatArray().allSatisfy { $0 == 0 }
                    if batches == 0 { firstZero = zero } else if !zero { nonZeroLater = true }
                }
            }
            batches += 1
        }
        XCTAssertTrue(firstZero && nonZeroLater, "the test needs y all zeros in the first batch and not after")
        let expected = stats.mapValues { $0.range(.entropy, percentile: 99.99) }
        for threads in [1, 2, 3] {
            XCTAssertEqual(try ranges(threads: threads), expected, "threads \(threads)")
        }
    }
}
