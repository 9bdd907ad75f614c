import Passes
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
