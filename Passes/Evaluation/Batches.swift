import IR
import Interpreter

/// Where samples come from: files (``SampleSource``) or, data-free, random
/// inputs shaped as the model declares them, from a fixed seed.
public enum SampleFeed: Sendable {
    case files(SampleSource)
    case random(count: Int, seed: UInt64)

    public var sampleCount: Int {
        switch self {
        case .files(let s): s.sampleCount
        case .random(let n, _): n
        }
    }

    /// Calls `body` with batches of at most `batch` samples, `limit` samples in all,
    /// in a fixed order.
    public func forEachBatch(inputs: [ValueInfo], batch: Int, limit: Int = .max,
                             _ body: ([String: RTensor]) throws -> Void) throws {
        var done = 0
        switch self {
        case .files(let source):
            for f in 0..<source.files.count where done < limit {
                let feed = try source.feed(f)
                for part in SampleSource.split(feed, into: batch) where done < limit {
                    let n = part.values.first?.shape.first ?? 1
                    try body(n > limit - done ? part.mapValues { $0.slice(first: 0..<(limit - done)) } : part)
                    done += min(n, limit - done)
                }
            }
        case .random(let count, let seed):
            var rng = SplitMix64(seed: seed)
            let total = min(count, limit)
            while done < total {
                let n = min(batch, total - done)
                var feed: [String: RTensor] = [:]
                for v in inputs {
                    guard let t = v.type?.tensorType else { continue }
                    var shape = t.shape ?? []
                    if let first = shape.first, first.value == nil { shape[0] = .fixed(n) }
                    feed[v.name] = try RandomTensor.make(TensorType(t.elementType, shape), name: v.name, rng: &rng)
                }
                try body(feed)
                done += n
            }
        }
    }
}
