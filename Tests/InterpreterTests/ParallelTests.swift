import Foundation
import Interpreter
import XCTest

/// `Parallel.map`: every index once, results in index order, the same for any
/// thread count, and the lowest failing index's error whatever the timing.
final class ParallelTests: XCTestCase {
    struct Failure: Error, Equatable { let index: Int }

    func testResultsAreInIndexOrderForAnyThreadCount() {
        // Uneven work: later items are cheaper, so workers finish out of order.
        func work(_ i: Int) -> Double { (0..<(2_000 * (50 - i))).reduce(Double(i)) { $0 + sin(Double($1)) * 1e-9 } }
        let one = Parallel.map(50, threads: 1, work)
        for threads in [2, 3, 8, 64] {
            XCTAssertEqual(Parallel.map(50, threads: threads, work), one, "threads \(threads)")
        }
        XCTAssertEqual(Parallel.map(0, threads: 4) { $0 }, [])
        XCTAssertEqual(Parallel.map(1, threads: 4) { $0 * 3 }, [0])
    }

    func testTheLowestFailingIndexIsRethrown() {
        for threads in [1, 2, 4] {
            XCTAssertThrowsError(try Parallel.map(40, threads: threads) { (i: Int) throws(Failure) -> Int in
                if i == 7 { usleep(20_000) }  // fails after index 23 has failed
                if i == 7 || i == 23 { throw Failure(index: i) }
                return i
            }) { XCTAssertEqual($0 as? Failure, Failure(index: 7), "threads \(threads)") }
        }
    }
}
