import Foundation
import IR
import Interpreter

/// Interpreters for parallel runs, one per worker, each used by one run at a time.
final class InterpreterPool: @unchecked Sendable {
    private var free: [Interpreter]
    private let lock = NSLock()
    private let available: DispatchSemaphore
    let count: Int

    init(_ interpreters: [Interpreter]) {
        free = interpreters
        count = interpreters.count
        available = DispatchSemaphore(value: interpreters.count)
    }

    /// Unfused interpreters of `model` for batches like `first`: one per thread, each on one
    /// thread, for small batches (under 8 samples and 256 KiB of inputs, whose operators are
    /// too small to split well over cores, as in common's 64-pixel text lines);
    /// else one on all threads (orientation's 224×224 pages gain nothing from two at a time
    /// and would hold two runs' activations). What runs where never changes a result.
    convenience init(model: Model, threads: Int, first: [String: RTensor]) throws(InterpreterError) {
        let workers = Self.isSmall(first) ? max(1, threads) : 1
        self.init(try (0..<workers).map { _ throws(InterpreterError) in
            try Interpreter(model: model, threads: max(1, threads / workers), fuse: false)
        })
    }

    /// A batch under 8 samples and 256 KiB of inputs: its runs go one per core.
    static func isSmall(_ batch: [String: RTensor]) -> Bool {
        (batch.values.first?.shape.first ?? 1) < 8 && batch.values.reduce(0) { $0 + $1.byteCount } < 256 << 10
    }

    func take() -> Interpreter {
        available.wait()
        lock.lock()
        defer { lock.unlock() }
        return free.removeLast()
    }

    func give(_ i: Interpreter) {
        lock.lock()
        free.append(i)
        lock.unlock()
        available.signal()
    }
}

extension InterpreterPool {
    /// Batches per parallel round: 8, fewer when 8 batches of inputs would hold over 64 MiB
    /// (at least 2). Callers absorb results in batch order and must not let the round size
    /// change them (calibration and bias correction equal one batch after the other).
    static func roundBatches(batchBytes: Int) -> Int { max(2, min(8, (64 << 20) / max(batchBytes, 1))) }

    /// Runs `model` on `feed`'s batches in rounds, on a pool made for the first batch's size:
    /// the first batch alone, then ``roundBatches(batchBytes:)`` batches at a time, one per
    /// worker (one at a time with a single worker). `observe` runs a batch on the interpreter
    /// it is given (several at once), told the index of the batch's first sample; `absorb` then takes each batch's result in batch order,
    /// on the calling thread, with the thread count it may use, before the next round starts.
    /// `roundStarts` is called before each round.
    static func runRounds<T>(model: Model, threads: Int, feed: SampleFeed, batch: Int, limit: Int,
                             roundStarts: () -> Void = {},
                             observe: ([String: RTensor], Interpreter, Int) throws -> T,
                             absorb: ([String: RTensor], T, Int) throws -> Void) throws {
        var pool: InterpreterPool?
        var pending: [(inputs: [String: RTensor], first: Int)] = []
        var queued = 0
        var round = 1
        func run() throws {
            guard let pool, !pending.isEmpty else { return }
            roundStarts()
            let batches = pending
            pending = []
            let results = try Parallel.map(batches.count, threads: pool.count) { i throws -> T in
                let interpreter = pool.take()
                defer { pool.give(interpreter) }
                return try observe(batches[i].inputs, interpreter, batches[i].first)
            }
            for (batch, result) in zip(batches, results) { try absorb(batch.inputs, result, threads) }
        }
        try feed.forEachBatch(inputs: model.graph.runtimeInputs, batch: batch, limit: limit) { b in
            pending.append((b, queued))
            queued += b.values.first?.shape.first ?? 1
            if pool == nil {
                pool = try InterpreterPool(model: model, threads: threads, first: b)
                round = pool!.count == 1 ? 1 : roundBatches(batchBytes: b.values.reduce(0) { $0 + $1.byteCount })
                try run()
            } else if pending.count == round {
                try run()
            }
        }
        try run()
    }
}
