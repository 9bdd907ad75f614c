import Dispatch
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

/// Lets a value cross into concurrent code whose safety the caller guarantees.
struct UncheckedSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
