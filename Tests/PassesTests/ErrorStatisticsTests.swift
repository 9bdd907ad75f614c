import Interpreter
@testable import Passes
import XCTest

final class ErrorStatisticsTests: XCTestCase {
    /// The percentiles are the order statistics a full sort gives (nearest rank over n − 1),
    /// on random data with many ties, on sorted and reversed data, and on tiny arrays.
    func testPercentilesAreTheSortedOrderStatistics() {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> Float {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            return Float(state >> 40) / Float(1 << 24)
        }
        for n in [1, 2, 3, 5, 17, 100, 1000, 4097] {
            for shape in 0..<4 {
                var x = (0..<n).map { _ in next() }
                var y = x.map { $0 + (shape == 0 ? next() : Float(Int(next() * 8)) / 8) }   // shape ≥ 1: ties
                if shape == 2 { y.sort(); x = [Float](repeating: 0, count: n) }
                if shape == 3 { y.sort(by: >); x = [Float](repeating: 0, count: n) }
                let s = ErrorStatistics(reference: x, approximation: y)
                let errors = zip(x, y).map { abs(Double($0) - Double($1)) }.sorted()
                func pct(_ p: Double) -> Double { errors[min(n - 1, Int((p * Double(n - 1)).rounded()))] }
                XCTAssertEqual(s.p50, pct(0.50), "n \(n) shape \(shape)")
                XCTAssertEqual(s.p95, pct(0.95), "n \(n) shape \(shape)")
                XCTAssertEqual(s.p99, pct(0.99), "n \(n) shape \(shape)")
            }
        }
        let empty = ErrorStatistics(reference: [], approximation: [])
        XCTAssertEqual([empty.p50, empty.p95, empty.p99], [0, 0, 0])
    }
}

/// The error histogram's bin is ⌊(log₂ x + 64) · 16⌋, clamped: found from the exponent and
/// the mantissa's place among the steps 2^(j/16), it agrees with rounding log₂ away from
/// the steps, and is exact on them (where log₂ may round across).
final class ErrorBinTests: XCTestCase {
    func byLog2(_ x: Double) -> Int {
        let k = Int(((log2(x) + 64) * 16).rounded(.down))
        return min(max(k, 0), 128 * 16 - 1)
    }

    func testBinsAgreeWithLog2() {
        var rng = SplitMix64(seed: 11)
        for _ in 0..<200_000 {
            let x = exp2(Double(rng.next() % 1_000_000) / 1_000_000 * 160 - 80)
            XCTAssertEqual(ErrorAccumulator.bin(x), byLog2(x), "\(x)")
        }
        for e in -70...70 {
            let p = exp2(Double(e))
            XCTAssertEqual(ErrorAccumulator.bin(p), byLog2(p), "2^\(e)")
            XCTAssertEqual(ErrorAccumulator.bin(p.nextDown), min(max((e + 64) * 16 - 1, 0), 2047), "below 2^\(e)")
        }
        // On either side of each step 2^(j/16) (inside octave 0): bins j − 1 and j.
        for j in 1..<16 {
            let step = ErrorAccumulator.octaveSteps[j]
            XCTAssertEqual(ErrorAccumulator.bin(step), 64 * 16 + j)
            XCTAssertEqual(ErrorAccumulator.bin(step.nextDown), 64 * 16 + j - 1)
        }
        XCTAssertEqual(ErrorAccumulator.bin(.leastNonzeroMagnitude), 0)
        XCTAssertEqual(ErrorAccumulator.bin(.greatestFiniteMagnitude), 2047)
    }
}

extension ErrorBinTests {
    /// The accumulator's sums are the plain sequential double sums, bit for bit (no fused
    /// multiply-add, no reordering), with non-finite pairs skipped.
    func testSumsAreSequentialDoubleSums() {
        var rng = SplitMix64(seed: 5)
        func value() -> Float { Float(Double(rng.next() % 2_000_001) / 1_000_000 - 1) * Float(1 << (rng.next() % 20)) }
        var x = (0..<10_000).map { _ in value() }, y = x.map { $0 + value() * 1e-3 }
        x[17] = .nan; y[99] = .infinity; y[5] = x[5]
        var acc = ErrorAccumulator()
        acc.add(reference: x, approximation: y)
        var s = [Double](repeating: 0, count: 6), n = 0, zeros = 0
        for (xi, yi) in zip(x, y) {
            let a = Double(xi), b = Double(yi)
            guard a.isFinite, b.isFinite else { continue }
            let e = a - b
            s[0] += a * a; s[1] += e * e; s[2] += a * b; s[3] += a * a; s[4] += b * b; s[5] += abs(e)
            n += 1
            if e == 0 { zeros += 1 }
        }
        XCTAssertEqual([acc.signal, acc.noise, acc.dot, acc.xx, acc.yy, acc.absSum].map(\.bitPattern), s.map(\.bitPattern))
        XCTAssertEqual(acc.count, n)
        XCTAssertEqual(acc.zeros, zeros)
        XCTAssertGreaterThan(zeros, 0)
    }
}
