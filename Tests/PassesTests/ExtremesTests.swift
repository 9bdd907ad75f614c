import Interpreter
@testable import Passes
import XCTest

/// The histogram's min/max pass (lanes in C) gives what the eight-lane Swift loop it
/// replaced gave, bit for bit: signed zeros, infinities, NaN and ragged ends included.
final class ExtremesTests: XCTestCase {
    /// The Swift loop as it was.
    static func reference(_ values: UnsafeBufferPointer<Float>, _ range: Range<Int>) -> (Float, Float, Int, Int) {
        var lo8 = SIMD8<Float>(repeating: .infinity), hi8 = SIMD8<Float>(repeating: -.infinity)
        var zeros8 = SIMD8<Int32>(repeating: 0), bad8 = SIMD8<Int32>(repeating: 0)
        let base = UnsafeRawPointer(values.baseAddress!)
        var i = range.lowerBound
        let inf = SIMD8<Float>(repeating: .infinity)
        while i + 8 <= range.upperBound {
            let v = base.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            let finite = (v .< inf) .& (v .> -inf)
            bad8 = bad8.replacing(with: bad8 &+ 1, where: .!finite)
            lo8 = lo8.replacing(with: v, where: finite .& (v .< lo8))
            hi8 = hi8.replacing(with: v, where: finite .& (v .> hi8))
            zeros8 = zeros8.replacing(with: zeros8 &+ 1, where: v .== 0)
            i += 8
        }
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

    func testLanesInCGiveTheSwiftLoopsResults() {
        var rng = SplitMix64(seed: 3)
        let specials: [Float] = [0, -0, .infinity, -.infinity, .nan, .leastNonzeroMagnitude, -.greatestFiniteMagnitude]
        for n in [0, 1, 7, 8, 9, 64, 1000, 4099] {
            for kind in 0..<4 {
                let values: [Float] = (0..<n).map { _ in
                    let r = rng.next()
                    switch kind {
                    case 0: return Float(Int(r % 2001) - 1000) / 100
                    case 1: return r % 3 == 0 ? specials[Int(r / 3 % UInt64(specials.count))] : Float(Int(r % 21) - 10)
                    case 2: return r % 2 == 0 ? 0 : -0  // only signed zeros
                    default: return .nan
                    }
                }
                values.withUnsafeBufferPointer { v in
                    for range in [0..<n, min(n, 3)..<n, 0..<max(0, n - 5)] where range.count >= 0 {
                        let a = AbsHistogram.extremes(v, range), b = Self.reference(v, range)
                        XCTAssertEqual(a.0.bitPattern, b.0.bitPattern, "n \(n) kind \(kind) \(range) low")
                        XCTAssertEqual(a.1.bitPattern, b.1.bitPattern, "n \(n) kind \(kind) \(range) high")
                        XCTAssertEqual(a.2, b.2)
                        XCTAssertEqual(a.3, b.3)
                    }
                }
            }
        }
    }
}
