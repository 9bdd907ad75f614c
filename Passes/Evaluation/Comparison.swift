import IR
import Interpreter

/// Runs a float model and its quantized form on the same samples and measures
/// how far the quantized values are from the float ones: chosen intermediate
/// values (layer outputs), the model outputs, and for outputs that hold class
/// scores (last axis of 2 or more), how often the top-1 class agrees and, with
/// labels, the accuracy of each.
public struct ModelComparison: Sendable {
    /// A value to compare: its name in the float model and in the quantized one.
    public struct Watch: Sendable, Hashable {
        public var float: String
        public var quantized: String
        public init(float: String, quantized: String) {
            self.float = float
            self.quantized = quantized
        }
    }

    public var values: [String: ErrorStatistics] = [:]
    public var outputs: [String: ErrorStatistics] = [:]
    /// Per output with class scores: rows whose argmax agrees, and rows.
    public var top1: [String: (agree: Int, total: Int)] = [:]
    /// With labels, on the first class-score output: correct rows of each model.
    public var accuracy: (float: Int, quantized: Int, total: Int)?
    public var samples = 0

    /// Compares `quantized` with `float` on `feed`; `labels` (one class per
    /// sample, in feed order) enable the accuracy figures.
    /// With `floatOutputs` and nothing to `watch`, the float model's outputs are taken from it
    /// once it holds them (the same feed, batch and limit), and stored in it on the first call.
    public static func run(float: Model, quantized: Model, feed: SampleFeed, watch: [Watch], labels: [Int64]? = nil,
                           batch: Int = 64, limit: Int = .max, threads: Int = Parallel.defaultThreads,
                           floatOutputs: FloatOutputs? = nil) throws -> ModelComparison {
        // What the kept outputs must have been computed on.
        let source: String
        switch feed {
        case .files(let s): source = "\(s.folder) (\(s.files.count) files)"
        case .random(let count, let seed): source = "\(count) random samples (seed \(seed))"
        }
        let key = "\(source), batch \(batch), limit \(limit), outputs "
            + float.graph.outputs.map(\.name).joined(separator: ",") + ", \(float.graph.nodes.count) nodes"
        let cache = watch.isEmpty && floatOutputs?.exceeded != true ? floatOutputs : nil
        if let cache, let k = cache.key, k != key { throw FloatOutputs.Mismatch(kept: k, asked: key) }
        let cached = cache?.batches
        // Small batches (as InterpreterPool decides: at batch 1 most operators are too small to
        // split well over cores) run in rounds: every run of a round, float and quantized, is a
        // job of its own on one thread. Larger ones run the two models side by side, each on
        // half of the threads; with the float outputs kept, two quantized runs at once, each on
        // half of the threads (splitting one run's operators over both kept 1.15 of 2 cores busy
        // on layout_cdla's pages; two runs hold what the side-by-side pair holds).
        // What runs where never changes a result: batches are absorbed in order.
        var rounds: Int?
        var f: Interpreter?, q: Interpreter?
        func prepare(_ first: [String: RTensor]) throws {
            let small = InterpreterPool.isSmall(first) && threads >= 2
            let side = threads >= 2 && cached == nil
            let quantizedOnly = !small && threads >= 2 && cached != nil
            rounds = small ? InterpreterPool.roundBatches(batchBytes: first.values.reduce(0) { $0 + $1.byteCount })
                : quantizedOnly ? 2 : 1
            let floatThreads = small ? 1 : side ? max(1, threads / 2) : threads
            let quantizedThreads = small ? 1 : quantizedOnly ? max(1, threads / 2) : side ? max(1, threads - threads / 2) : threads
            f = cached == nil ? try Interpreter(model: float, threads: floatThreads) : nil
            q = try Interpreter(model: quantized, threads: quantizedThreads)
        }
        var recorded: [(samples: Int, outputs: [String: RTensor])]? = cache != nil && cached == nil ? [] : nil
        var batchIndex = 0, recordedBytes = 0
        func samples(_ inputs: [String: RTensor]) -> Int { inputs.values.first?.shape.first ?? 1 }
        let floatWatched = Set(watch.map(\.float))
        let byQuantized = Dictionary(watch.map { ($0.quantized, $0.float) }, uniquingKeysWith: { a, _ in a })
        var valueAcc: [String: ErrorAccumulator] = [:]
        var agreement = OutputAgreement()
        var result = ModelComparison()
        let outputNames = float.graph.outputs.map(\.name)
        let classOutput = outputNames.first { name in
            guard let t = float.graph.type(of: name)?.tensorType, t.elementType == .float32, let s = t.shape, s.count >= 2 else { return false }
            return (s.last?.value ?? 2) >= 2
        }
        /// One run's result: the model's outputs, and the watched values in the order it produced them.
        struct Run { var outputs: [String: RTensor]; var watched: [(String, RTensor)] }
        func runFloat(_ inputs: [String: RTensor], _ index: Int) throws -> Run {
            if let cached {
                guard index < cached.count, cached[index].samples == samples(inputs) else {
                    throw FloatOutputs.Mismatch(kept: cache!.key ?? "", asked: key + " (batch \(index) differs)")
                }
                return Run(outputs: cached[index].outputs, watched: [])
            }
            var watched: [(String, RTensor)] = []
            let outputs = try f!.run(inputs: inputs) { name, _, t in
                if floatWatched.contains(name), t.type == .float32 { watched.append((name, t)) }
            }
            return Run(outputs: outputs, watched: watched)
        }
        func runQuantized(_ inputs: [String: RTensor]) throws -> Run {
            var watched: [(String, RTensor)] = []
            let outputs = try q!.run(inputs: inputs) { name, _, t in
                if byQuantized[name] != nil, t.type == .float32 { watched.append((name, t)) }
            }
            return Run(outputs: outputs, watched: watched)
        }
        /// Adds a round's batches, in batch order. Each watched value's errors, and the outputs'
        /// agreement, are accumulated on a thread of their own (they are independent).
        func absorb(_ batches: [[String: RTensor]], float fr: ArraySlice<Run>, quantized qr: ArraySlice<Run>) throws {
            var pairs: [String: [(RTensor, RTensor)]] = [:]
            for (inputs, (f, q)) in zip(batches, zip(fr, qr)) {
                if recorded != nil {
                    recorded!.append((samples(inputs), f.outputs))
                    recordedBytes += f.outputs.values.reduce(0) { $0 + $1.byteCount }
                    if recordedBytes > FloatOutputs.byteLimit {
                        recorded = nil
                        cache?.exceeded = true
                    }
                }
                var reference: [String: RTensor] = [:]
                for (name, t) in f.watched { reference[name] = t }
                for (name, t) in q.watched {
                    guard let fname = byQuantized[name], let r = reference[fname], r.count == t.count else { continue }
                    pairs[fname, default: []].append((r, t))
                }
            }
            let names = pairs.keys.sorted()
            var accumulators = names.map { valueAcc[$0] ?? ErrorAccumulator() }
            var agreed = agreement
            var rows: [[String: (float: [Int], quantized: [Int])]] = []
            try accumulators.withUnsafeMutableBufferPointer { acc in
                let acc = acc
                _ = try Parallel.map(names.count + 1, threads: threads) { task throws -> Int in
                    if task == names.count {
                        for (f, q) in zip(fr, qr) { rows.append(agreed.add(reference: f.outputs, quantized: q.outputs, outputs: outputNames)) }
                    } else {
                        for (r, t) in pairs[names[task]]! {
                            acc[task].add(reference: UnsafeBufferPointer(r.elements(Float.self)),
                                          approximation: UnsafeBufferPointer(t.elements(Float.self)))
                        }
                    }
                    return task
                }
            }
            for (name, a) in zip(names, accumulators) { valueAcc[name] = a }
            agreement = agreed
            for (inputs, batchRows) in zip(batches, rows) {
                let n = samples(inputs)
                if let classOutput, let labels, let (fa, qa) = batchRows[classOutput], fa.count == n {
                    var acc = result.accuracy ?? (0, 0, 0)
                    for r in 0..<n where result.samples + r < labels.count {
                        let y = Int(labels[result.samples + r])
                        if fa[r] == y { acc.float += 1 }
                        if qa[r] == y { acc.quantized += 1 }
                        acc.total += 1
                    }
                    result.accuracy = acc
                }
                result.samples += n
            }
        }
        var pending: [[String: RTensor]] = []
        func runRound() throws {
            guard !pending.isEmpty else { return }
            let batches = pending, first = batchIndex
            pending = []
            // Jobs 0..<n: the float runs; n..<2n: the quantized ones.
            let n = batches.count
            let runs = try Parallel.map(2 * n, threads: rounds == 1 ? (threads >= 2 && cached == nil ? 2 : 1) : threads) { i throws -> Run in
                i < n ? try runFloat(batches[i], first + i) : try runQuantized(batches[i - n])
            }
            try absorb(batches, float: runs[..<n], quantized: runs[n...])
            batchIndex += n
        }
        try feed.forEachBatch(inputs: float.graph.runtimeInputs, batch: batch, limit: limit) { inputs in
            if rounds == nil { try prepare(inputs) }
            pending.append(inputs)
            if pending.count >= rounds! { try runRound() }
        }
        try runRound()
        if let cached, batchIndex != cached.count {
            throw FloatOutputs.Mismatch(kept: cache!.key ?? "", asked: key + " (\(batchIndex) batches, not \(cached.count))")
        }
        if let recorded {
            cache?.batches = recorded
            cache?.key = key
        }
        result.values = valueAcc.mapValues(\.statistics)
        result.outputs = agreement.errors.mapValues(\.statistics)
        result.top1 = agreement.top1
        return result
    }
}

/// The float model's outputs on a feed, batch by batch, kept across comparisons with several
/// quantized models (the Pareto sweep measures a dozen on the same test samples).
/// A comparison with other inputs (feed kind and size, batch, limit, float model's outputs
/// and node count) than the kept outputs' is refused, not answered from them.
public final class FloatOutputs: @unchecked Sendable {
    /// Outputs of more bytes than this are not kept (each comparison then runs the float model).
    public static let byteLimit = 512 << 20
    /// Per batch: its sample count and the float model's outputs.
    var batches: [(samples: Int, outputs: [String: RTensor])]?
    var key: String?
    /// The outputs were over ``byteLimit``: none are kept, and no later call tries again.
    var exceeded = false
    public init() {}

    struct Mismatch: Error, CustomStringConvertible {
        var kept: String, asked: String
        var description: String { "internal error: float outputs kept for \(kept) asked for \(asked)" }
    }
}
