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
        // With two threads or more the two models run side by side, each on half of them:
        // at batch 1 most operators are too small to split well over cores.
        let side = threads >= 2 && cached == nil
        let f = cached == nil ? try Interpreter(model: float, threads: side ? max(1, threads / 2) : threads) : nil
        let q = try Interpreter(model: quantized, threads: side ? max(1, threads - threads / 2) : threads)
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
        try feed.forEachBatch(inputs: float.graph.runtimeInputs, batch: batch, limit: limit) { inputs in
            var reference: [String: RTensor] = [:]
            // The quantized model's watched values in the order it produced them.
            var produced: [(String, RTensor)] = []
            let runs = try Parallel.map(2, threads: side ? 2 : 1) { i throws -> [String: RTensor] in
                if i == 0 {
                    if let cached {
                        guard batchIndex < cached.count, cached[batchIndex].samples == samples(inputs) else {
                            throw FloatOutputs.Mismatch(kept: cache!.key ?? "", asked: key + " (batch \(batchIndex) differs)")
                        }
                        return cached[batchIndex].outputs
                    }
                    return try f!.run(inputs: inputs) { name, _, t in
                        if floatWatched.contains(name), t.type == .float32 { reference[name] = t }
                    }
                }
                return try q.run(inputs: inputs) { name, _, t in
                    if byQuantized[name] != nil, t.type == .float32 { produced.append((name, t)) }
                }
            }
            let (fo, qo) = (runs[0], runs[1])
            batchIndex += 1
            if recorded != nil {
                recorded!.append((samples(inputs), fo))
                recordedBytes += fo.values.reduce(0) { $0 + $1.byteCount }
                if recordedBytes > FloatOutputs.byteLimit {
                    recorded = nil
                    cache?.exceeded = true
                }
            }
            for (name, t) in produced {
                guard let fname = byQuantized[name], let r = reference[fname], r.count == t.count else { continue }
                valueAcc[fname, default: ErrorAccumulator()].add(reference: UnsafeBufferPointer(r.elements(Float.self)),
                                                                 approximation: UnsafeBufferPointer(t.elements(Float.self)))
            }
            let n = samples(inputs)
            let rows = agreement.add(reference: fo, quantized: qo, outputs: outputNames)
            if let classOutput, let labels, let (fa, qa) = rows[classOutput], fa.count == n {
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
