import Foundation

/// Runs of several batches at once, each on a thread of its own, that meet at points
/// of the graph. At each meeting every run hands in its part; the last to arrive
/// combines the parts, in batch order (so the result never depends on timing), and
/// every run goes on with the combined result. At most `workers` runs compute at a
/// time: a run waiting at a meeting gives up its worker.
///
/// Bias correction uses it for models that take one sample at a time: a layer's mean
/// output shift over all the samples is measured, and every sample's output corrected
/// by it, before any sample runs the layers after it — what one batch holding all the
/// samples does.
///
/// Every run must attend the same meetings in the same order (the same top-level nodes
/// of one graph). A run that fails, or ends while others wait at a meeting it will not
/// attend, ends the others at their next meeting; the error reported is that of the
/// lowest-numbered run that failed on its own.
final class Lockstep<Part, Whole>: @unchecked Sendable {
    /// Thrown at a meeting to a run whose partners failed.
    struct Abandoned: Error, CustomStringConvertible {
        var description: String { "abandoned: another run failed" }
    }

    /// A run ended while others waited at a meeting (or others met after it ended): that run.
    struct MissedMeeting: Error, CustomStringConvertible {
        var run: Int
        var description: String { "run \(run) of the lockstep did not attend a meeting the others did" }
    }

    private let parties: Int
    private let combine: ([Part]) throws -> Whole
    private let condition = NSCondition()
    private let workers: DispatchSemaphore
    private var parts: [Part?]
    private var arrived = 0
    private var meetings = 0
    private var latest: Whole?
    private var ended = 0
    /// The first run to end.
    private var endedRun: Int?
    private var failure: Error?
    private var abandoned: Set<Int> = []

    private let body: (Int, Lockstep) throws -> Void
    private var errors: [Error?]

    private init(parties: Int, workers: Int, combine: @escaping ([Part]) throws -> Whole,
                 body: @escaping (Int, Lockstep) throws -> Void) {
        self.parties = parties
        self.combine = combine
        self.body = body
        self.workers = DispatchSemaphore(value: max(1, workers))
        parts = Array(repeating: nil, count: parties)
        errors = Array(repeating: nil, count: parties)
    }

    /// Runs `body(i, lockstep)` for every i in `0..<parties`, at most `workers` computing at
    /// once; `body` calls ``meet(_:_:)`` at each meeting. A single party runs on the calling thread.
    static func run(parties: Int, workers: Int, combine: @escaping ([Part]) throws -> Whole,
                    _ body: @escaping (Int, Lockstep) throws -> Void) throws {
        let lockstep = Lockstep(parties: parties, workers: workers, combine: combine, body: body)
        if parties == 1 {
            do { try body(0, lockstep) } catch {
                // A failed combine ends the run with Abandoned (wrapped by the caller's run): report its own error.
                if let failure = lockstep.condition.withLock({ lockstep.abandoned.contains(0) ? lockstep.failure : nil }) { throw failure }
                throw error
            }
            return
        }
        let done = DispatchGroup()
        for p in 0..<parties {
            done.enter()
            let thread = Thread {
                lockstep.party(p)
                done.leave()
            }
            thread.stackSize = 8 << 20
            thread.start()
        }
        done.wait()
        try lockstep.condition.withLock {
            if let first = lockstep.errors.indices.first(where: { lockstep.errors[$0] != nil && !lockstep.abandoned.contains($0) }) {
                throw lockstep.errors[first]!
            }
            if let failure = lockstep.failure { throw failure }
        }
    }

    /// Run `p`, on its own thread.
    private func party(_ p: Int) {
        workers.wait()
        var failed: Error?
        // Partners already failed: do not start a run that could only be abandoned.
        if condition.withLock({ failure != nil ? abandoned.insert(p).inserted : false }) {
            workers.signal()
            return
        }
        do { try body(p, self) } catch { failed = error }
        condition.withLock {
            ended += 1
            endedRun = endedRun ?? p
            if let failed {
                errors[p] = failed
                fail(failed)
            }
            if failure == nil && arrived > 0 { fail(MissedMeeting(run: p)) }
        }
        workers.signal()
    }

    /// Hands in run `p`'s part at its next meeting and returns the meeting's combined result.
    func meet(_ p: Int, _ part: Part) throws -> Whole {
        condition.lock()
        defer { condition.unlock() }
        if failure == nil && ended > 0 { fail(MissedMeeting(run: endedRun ?? p)) }
        if failure != nil {
            abandoned.insert(p)
            throw Abandoned()
        }
        parts[p] = part
        arrived += 1
        if arrived == parties {
            let all = parts.map { $0! }
            parts = Array(repeating: nil, count: parties)
            arrived = 0
            do { latest = try combine(all) } catch {
                fail(error)
                abandoned.insert(p)  // the combine's error is reported, not this run's
                throw Abandoned()
            }
            meetings += 1
            condition.broadcast()
            return latest!
        }
        let meeting = meetings
        workers.signal()
        while meetings == meeting && failure == nil { condition.wait() }
        // `latest` stays this meeting's until this run hands in its next part.
        let result = meetings == meeting ? nil : latest
        condition.unlock()
        workers.wait()
        condition.lock()
        guard let result else {
            abandoned.insert(p)
            throw Abandoned()
        }
        return result
    }

    /// Records the first failure and wakes every waiting run (lock held).
    private func fail(_ error: Error) {
        if failure == nil { failure = error }
        condition.broadcast()
    }
}
