import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Splits independent work across threads. Every output element is computed
/// by exactly one thread in a fixed order, so results do not depend on the
/// thread count.
public enum Parallel {
    public static let defaultThreads: Int = {
        let n = sysconf(Int32(_SC_NPROCESSORS_ONLN))
        return max(1, n)
    }()

    /// Calls `body(range)` on disjoint chunks of `0..<count`, on up to
    /// `threads` threads; small counts run inline.
    public static func forEach(_ count: Int, threads: Int, minimumChunk: Int = 1, _ body: (Range<Int>) -> Void) {
        let chunks = min(threads, max(1, count / max(minimumChunk, 1)))
        if chunks <= 1 {
            body(0..<count)
            return
        }
        let step = (count + chunks - 1) / chunks
        // Chunks write disjoint outputs, so sharing `body` across threads is safe.
        withoutActuallyEscaping(body) { body in
            let shared = UncheckedSendable(body)
            DispatchQueue.concurrentPerform(iterations: chunks) { c in
                let lo = c * step, hi = min(count, lo + step)
                if lo < hi { shared.value(lo..<hi) }
            }
        }
    }
}

extension Parallel {
    /// `body(i)` for every i in `0..<count`, on up to `threads` threads that each
    /// take the next index when done (work items of uneven cost stay balanced);
    /// results in index order. When items throw, the error of the lowest such
    /// index is rethrown, so what a caller sees does not depend on timing.
    public static func map<T, E: Error>(_ count: Int, threads: Int, _ body: (Int) throws(E) -> T) throws(E) -> [T] {
        let workers = min(max(threads, 1), count)
        if workers <= 1 {
            var out: [T] = []
            out.reserveCapacity(count)
            for i in 0..<count { out.append(try body(i)) }
            return out
        }
        let slots = ResultSlots<T, E>(count)
        withoutActuallyEscaping(body) { body in
            let shared = UncheckedSendable(body)
            DispatchQueue.concurrentPerform(iterations: workers) { _ in
                while let i = slots.next() {
                    do throws(E) { slots.store(i, .success(try shared.value(i))) } catch { slots.store(i, .failure(error)) }
                }
            }
        }
        return try slots.collect()
    }
}

/// Index dispenser and result store of ``Parallel/map(_:threads:_:)``.
private final class ResultSlots<T, E: Error>: @unchecked Sendable {
    private var results: [Result<T, E>?]
    private var taken = 0
    private var failed = Int.max
    private let lock = NSLock()
    init(_ count: Int) { results = Array(repeating: nil, count: count) }
    /// The next index to compute; none after a failure at a lower index.
    func next() -> Int? {
        lock.lock(); defer { lock.unlock() }
        guard taken < results.count, taken < failed else { return nil }
        taken += 1
        return taken - 1
    }
    func store(_ i: Int, _ r: Result<T, E>) {
        lock.lock(); defer { lock.unlock() }
        results[i] = r
        if case .failure = r { failed = min(failed, i) }
    }
    func collect() throws(E) -> [T] {
        var out: [T] = []
        out.reserveCapacity(results.count)
        for r in results {
            switch r {
            case .success(let v)?: out.append(v)
            case .failure(let e)?: throw e
            case nil: preconditionFailure("Parallel.map: an index below the first failure was not computed")
            }
        }
        return out
    }
}

/// Lets a value cross into concurrent code whose safety the caller guarantees.
struct UncheckedSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
