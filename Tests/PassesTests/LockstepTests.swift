@testable import Passes
import XCTest

/// Runs in lockstep meet in order, combine their parts in run order, and end together when
/// one fails or skips a meeting (no run is left waiting).
final class LockstepTests: XCTestCase {
    struct Boom: Error, Equatable { var run: Int }

    func testEveryRunGetsEachMeetingsCombinationOfAllParts() throws {
        let runs = 7, meetings = 5
        let seen = Recorder()
        try Lockstep<Int, [Int]>.run(parties: runs, workers: 2, combine: { $0 }) { p, lockstep in
            for m in 0..<meetings {
                let whole = try lockstep.meet(p, 100 * m + p)
                seen.add(p, whole)
            }
        }
        for p in 0..<runs {
            XCTAssertEqual(seen.wholes(p), (0..<meetings).map { m in (0..<runs).map { 100 * m + $0 } }, "run \(p)")
        }
    }

    func testAFailingRunEndsTheOthersAndItsErrorIsReported() {
        XCTAssertThrowsError(try Lockstep<Int, Int>.run(parties: 6, workers: 2, combine: { $0.reduce(0, +) }) { p, lockstep in
            for m in 0..<4 {
                if p == 4 && m == 2 { throw Boom(run: p) }
                _ = try lockstep.meet(p, m)
            }
        }) { XCTAssertEqual($0 as? Boom, Boom(run: 4)) }
    }

    func testARunThatSkipsAMeetingIsAnErrorNotAHang() {
        XCTAssertThrowsError(try Lockstep<Int, Int>.run(parties: 4, workers: 3, combine: { $0.reduce(0, +) }) { p, lockstep in
            for m in 0..<(p == 1 ? 2 : 3) { _ = try lockstep.meet(p, m) }
        }) { XCTAssertTrue($0 is Lockstep<Int, Int>.MissedMeeting, "\($0)") }
    }

    /// A failing combine is the error reported, also with one run (which the caller's run wraps).
    func testACombinesErrorIsReportedNotTheAbandonment() {
        struct Wrapped: Error { var inner: Error }
        for parties in [1, 3] {
            XCTAssertThrowsError(try Lockstep<Int, Int>.run(parties: parties, workers: 2, combine: { _ in throw Boom(run: -1) }) { p, lockstep in
                do { _ = try lockstep.meet(p, p) } catch { throw Wrapped(inner: error) }
            }) { XCTAssertEqual($0 as? Boom, Boom(run: -1), "\(parties) parties: \($0)") }
        }
    }

    final class Recorder: @unchecked Sendable {
        private var seen: [Int: [[Int]]] = [:]
        private let lock = NSLock()
        func add(_ p: Int, _ whole: [Int]) { lock.withLock { seen[p, default: []].append(whole) } }
        func wholes(_ p: Int) -> [[Int]] { lock.withLock { seen[p] ?? [] } }
    }
}
