import IR
import Interpreter

/// Per-channel sums of the float outputs of the layers that can carry a bias (Conv,
/// ConvTranspose, Gemm) over the first calibration samples. `bias-correct` needs these
/// means E[y] as its reference; `calibrate` computes every one of these outputs anyway, so
/// it records them (``PassContext/layerOutputSamples`` asks for how many samples) and bias
/// correction skips its own float run.
///
/// The sums are those bias correction would compute itself, bit for bit, or they are not
/// used: same float model (``normalized(_:)``), same batches in the same order (a model's
/// outputs for a sample can depend on what else is in its batch), the same per-batch sums
/// (``channelSums(_:axis:)``) added in batch order.
public struct LayerOutputSums: Sendable {
    /// The float model the sums come from, ``normalized(_:)``.
    public var model: Model
    /// Samples of each batch summed, in order.
    public var batches: [Int] = []
    /// Per layer output value: the sum of each channel, and how many values each sum adds.
    public var sums: [String: (sums: [Double], n: Int)] = [:]
    /// The most bytes of intermediate values one batch held at once (unfused float run).
    public var peakBytes = 0

    public init(model: Model) { self.model = Self.normalized(model) }

    /// Axis of a layer's output that indexes its channels (the bias's), for the ops whose
    /// bias `bias-correct` corrects.
    public static func channelAxis(_ opType: String) -> Int? {
        switch opType {
        case "Conv", "ConvTranspose": 1
        case "Gemm": -1
        default: nil
        }
    }

    /// The top-level layer outputs to sum, with their channel axes.
    static func outputs(of graph: Graph) -> [String: Int] {
        var result: [String: Int] = [:]
        for n in graph.nodes where n.isDefaultDomain {
            if let axis = channelAxis(n.opType), let out = n.outputs.first, !out.isEmpty { result[out] = axis }
        }
        return result
    }

    /// The float model without its quantization state, unnamed nodes named as `quantize` names
    /// them: equal for the model `calibrate` ran and the one `bias-correct` reads exactly when
    /// their float graphs are (comparing them compares every tensor's bytes, cheaper than
    /// hashing them; the copy shares the tensors' storage).
    public static func normalized(_ model: Model) -> Model {
        var m = model
        m.quantization = QuantizationState()
        Quantize.nameNodes(&m.graph)
        return m
    }

    /// `shape` as (outer, channels, inner) around `axis` (negative: from the end): element
    /// (o, c, i) sits at (o · channels + c) · inner + i. Nil when there is no such axis.
    static func channelLayout(_ shape: [Int], axis: Int) -> (outer: Int, channels: Int, inner: Int)? {
        let a = axis < 0 ? shape.count + axis : axis
        guard a >= 0, a < shape.count else { return nil }
        return (shape[..<a].reduce(1, *), shape[a], shape[(a + 1)...].reduce(1, *))
    }

    /// Per channel of `t` along `axis` (negative: from the end), the sum over every other
    /// axis, and the number of values in each sum; nil when `t` has no such axis.
    public static func channelSums(_ t: RTensor, axis: Int) -> (sums: [Double], n: Int)? {
        guard let (outer, channels, inner) = channelLayout(t.shape, axis: axis) else { return nil }
        let x = t.elements(Float.self)
        var sums = [Double](repeating: 0, count: channels)
        for o in 0..<outer {
            for c in 0..<channels {
                let base = (o * channels + c) * inner
                var s = 0.0
                for i in 0..<inner { s += Double(x[base + i]) }
                sums[c] += s
            }
        }
        return (sums, outer * inner)
    }

    /// Adds one batch's sums (after the batches before it). False when a value's channel
    /// count changed between batches (then nothing is added and the sums are unusable).
    mutating func add(batch samples: Int, _ batchSums: [String: (sums: [Double], n: Int)], peakBytes: Int) -> Bool {
        for (name, b) in batchSums {
            if let s = sums[name], s.sums.count != b.sums.count { return false }
        }
        batches.append(samples)
        self.peakBytes = max(self.peakBytes, peakBytes)
        for name in batchSums.keys.sorted() {
            let b = batchSums[name]!
            var s = sums[name] ?? ([Double](repeating: 0, count: b.sums.count), 0)
            for c in b.sums.indices { s.sums[c] += b.sums[c] }
            s.n += b.n
            sums[name] = s
        }
        return true
    }
}

extension SampleSource {
    /// Samples of each batch `SampleFeed.forEachBatch(batch:limit:)` makes, in order.
    public func batchSizes(batch: Int, limit: Int) -> [Int] {
        var sizes: [Int] = []
        var done = 0
        for c in counts where done < limit {
            let parts = c > batch ? stride(from: 0, to: c, by: batch).map { min(batch, c - $0) } : [c]
            for p in parts where done < limit {
                sizes.append(min(p, limit - done))
                done += min(p, limit - done)
            }
        }
        return sizes
    }
}
