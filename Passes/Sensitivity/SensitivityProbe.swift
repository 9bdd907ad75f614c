import Foundation
import IR
import Interpreter

/// How the output distortion of a perturbed model is measured, per sample.
public enum OutputLoss: String, Sendable, CaseIterable {
    /// Mean over the target values' elements of (z − z′)².
    case mse
    /// KL(softmax(z) ‖ softmax(z′)) over the last axis, mean over rows: for
    /// classifiers, on the logits (the input of a final Softmax).
    case kl
    /// Mean over the targets of each target's MSE divided by its mean square on
    /// the float run, so that outputs of different scales weigh alike (a
    /// detector's class probabilities beside its box-regression logits); the
    /// default for models with several float outputs.
    case nmse
}

/// What every sensitivity pass shares: the float model's values on a few
/// calibration samples (the cut every probe restarts from), the layers and
/// their candidate formats, fake-quantized weights, and the output loss.
///
/// Each probe overrides one weight (or one activation) and re-runs only the
/// nodes downstream of it with ``Interpreter/run(reusing:overriding:outputs:)``.
/// Memory: every value of the float model on `samples` samples.
public final class SensitivityProbe {
    public let pass: String
    public let interpreter: Interpreter
    public let layers: [LayerQuantization]
    public let formats: [WeightFormat]
    /// All values of the float run, per batch of samples (inputs included).
    public let cuts: [[String: RTensor]]
    /// Samples per batch, in order.
    public let batchSizes: [Int]
    /// The values compared (the graph outputs, or the logits before a final Softmax).
    public let targets: [String]
    /// Float graph outputs (what the MSE figure of a KL run is measured on).
    public let outputs: [String]
    public let loss: OutputLoss
    /// nmse: each target's mean square over every probed float sample (empty for other losses).
    let targetPower: [String: Double]
    /// Probes run at once (the context's threads).
    public let workers: Int
    public var samples: Int { batchSizes.reduce(0, +) }
    private let graph: Graph
    /// int8 candidates in the 7-bit range the model stores (``QuantizationState/int8ReducedRange``).
    private let reduceRange: Bool
    private var fakeQuantizedCache: [String: [Float]] = [:]

    /// Runs the float model on up to `samples` samples of the context's data (or
    /// its random samples). `loss` nil chooses: KL when the first float output is
    /// [N, C] class scores (C ≥ 2), MSE otherwise.
    public init(model: Model, context: PassContext, samples: Int, batch: Int, loss: OutputLoss?, pass: String) throws(PassError) {
        func fail(_ m: String) -> PassError { PassError(pass: pass, message: m) }
        self.pass = pass
        workers = max(context.threads, 1)
        let state = model.quantization
        guard !state.layers.isEmpty else {
            throw fail("no layers to score: run 'quantize' first (it lists the quantizable layers)")
        }
        guard context.samples != nil || context.randomSamples != nil else {
            throw fail("needs calibration data (--calibration DIR, or --calibration-random N)")
        }
        layers = state.layers
        formats = state.formatsConsidered
        graph = model.graph
        reduceRange = state.int8ReducedRange
        for l in layers {
            guard let w = model.graph.initializers[l.weight], w.elementType == .float32 else {
                throw fail("layer \(l.node): weight '\(l.weight)' is not a float32 initializer")
            }
        }
        do { interpreter = try Interpreter(model: model, threads: context.threads, fuse: false) } catch { throw fail("\(error)") }
        var cuts: [[String: RTensor]] = []
        var sizes: [Int] = []
        let feed: SampleFeed = context.samples.map { .files($0) } ?? .random(count: context.randomSamples ?? 0, seed: 0xCA11B)
        let interpreter = interpreter
        do {
            try feed.forEachBatch(inputs: interpreter.inputs, batch: batch, limit: samples) { inputs in
                var values = inputs
                let outs = try interpreter.run(inputs: inputs) { name, _, t in values[name] = t }
                for (k, v) in outs { values[k] = v }
                cuts.append(values)
                sizes.append(inputs.values.first?.shape.first ?? 1)
            }
        } catch { throw fail("\(error)") }
        guard !cuts.isEmpty else { throw fail("no samples to probe with") }
        self.cuts = cuts
        batchSizes = sizes
        outputs = model.graph.outputs.map(\.name).filter { cuts[0][$0]?.type == .float32 }
        guard let first = outputs.first, let firstValue = cuts[0][first] else { throw fail("the model has no float32 output") }
        let chosen = loss ?? (firstValue.rank == 2 && firstValue.shape[1] >= 2 ? .kl : outputs.count > 1 ? .nmse : .mse)
        self.loss = chosen
        if chosen == .kl {
            guard let last = firstValue.shape.last, last >= 2 else {
                throw fail("loss=kl needs class scores on the last axis of output '\(first)', which has shape \(firstValue.shape)")
            }
            // Probabilities from a final Softmax/LogSoftmax over the last axis: compare its input (the logits).
            let producer = model.graph.nodes.first { $0.outputs.contains(first) }
            if let p = producer, ["Softmax", "LogSoftmax"].contains(p.opType), Self.lastAxis(p, rank: firstValue.rank),
               let logits = cuts[0][p.inputs[0]], logits.shape == firstValue.shape {
                targets = [p.inputs[0]]
            } else {
                targets = [first]
            }
        } else {
            targets = outputs
        }
        var power: [String: Double] = [:]
        if chosen == .nmse {
            for name in targets {
                var sum = 0.0, count = 0
                for c in cuts { for v in c[name]!.array(Float.self) { sum += Double(v) * Double(v) }; count += c[name]!.count }
                power[name] = count > 0 && sum > 0 ? sum / Double(count) : 1
            }
        }
        targetPower = power
    }

    /// The weight of target `name`'s squared errors per sample of batch `b`: mse takes the
    /// mean over all target elements of a sample, nmse the mean over targets of each
    /// target's mean divided by its mean square (samples may differ in size between batches).
    func squaredErrorWeight(_ name: String, batch b: Int) -> Double {
        let n = batchSizes[b]
        if loss == .nmse { return 1 / (Double(cuts[b][name]!.count / n) * targetPower[name]! * Double(targets.count)) }
        return 1 / Double(targets.reduce(0) { $0 + cuts[b][$1]!.count / n })
    }

    static func lastAxis(_ n: Node, rank: Int) -> Bool {
        let axis = n.attributes.first { $0.name == "axis" }.flatMap { if case .int(let a) = $0.value { Int(a) } else { nil } } ?? -1
        return axis == -1 || axis == rank - 1
    }

    public func weight(_ l: LayerQuantization) -> (values: [Float], shape: [Int]) {
        let t = graph.initializers[l.weight]!
        return (t.floatValues() ?? [], t.shape)
    }

    /// The layer's weights as `format` stores them, back in float (RTN for integers).
    public func fakeQuantized(_ l: LayerQuantization, _ format: WeightFormat) -> [Float] {
        let key = "\(l.node)\u{0}\(format.description)"
        if let w = fakeQuantizedCache[key] { return w }
        let (w, shape) = weight(l)
        let out = WeightQuantizer.roundTrip(w, shape: shape, format: format, channelAxis: l.channelAxis, groupAxis: l.groupAxis,
                                            reduceRange: reduceRange)
        fakeQuantizedCache[key] = out
        return out
    }

    /// `body(weight, b, threads)` for layer `l` in every format on every batch `b`, the
    /// probes run in parallel (``parallel(_:_:)``). Formats whose weights come out the
    /// same (groups of 32, 64 and 128 over a 1×1 convolution's 24 channels are one group
    /// each) share one probe: on common 104 of 110 layer × format probes run. Returns, per
    /// format in ``formats`` order, the results per batch, and the number of distinct
    /// weights probed.
    public func probeFormats<T>(_ l: LayerQuantization,
                                _ body: (_ weight: RTensor, _ batch: Int, _ threads: Int) throws(PassError) -> T) throws(PassError) -> (perFormat: [[T]], probed: Int) {
        let values = formats.map { fakeQuantized(l, $0) }
        let first = values.indices.map { i in values.indices.first { values[$0] == values[i] }! }
        let distinct = first.indices.filter { first[$0] == $0 }
        let weights = distinct.map { RTensor(floats: values[$0], shape: weight(l).shape) }
        let batches = cuts.count
        let runs = try parallel(weights.count * batches) { (i: Int, threads: Int) throws(PassError) -> T in
            try body(weights[i / batches], i % batches, threads)
        }
        let perFormat = first.map { f in
            let k = distinct.firstIndex(of: f)!
            return Array(runs[(k * batches)..<((k + 1) * batches)])
        }
        return (perFormat, distinct.count)
    }

    /// ‖Q(W) − W‖²_F for `format`.
    public func weightErrorSquared(_ l: LayerQuantization, _ format: WeightFormat) -> Double {
        let w = weight(l).values, q = fakeQuantized(l, format)
        var s = 0.0
        for i in w.indices { let d = Double(q[i]) - Double(w[i]); s += d * d }
        return s
    }

    /// `body(i, threads)` for `count` independent probes, run ``workers`` at a
    /// time with single-threaded kernels (`threads` is 1 then; pass it to
    /// ``run(batch:overriding:wanted:threads:)``). A probe at batch 1 keeps a
    /// second core busy only in its largest products, so whole probes per core
    /// go about twice as fast on two cores. Results come back in index order
    /// and do not depend on the number of workers.
    public func parallel<T>(_ count: Int, _ body: (Int, _ threads: Int) throws(PassError) -> T) throws(PassError) -> [T] {
        let threads = count >= workers ? 1 : workers
        return try Parallel.map(count, threads: workers) { (i: Int) throws(PassError) -> T in try body(i, threads) }
    }

    /// Re-runs batch `b` from its cut with `overriding` values, returning `wanted` (default: targets).
    public func run(batch b: Int, overriding: [String: RTensor], wanted: [String]? = nil, threads: Int? = nil) throws(PassError) -> [String: RTensor] {
        do {
            return try interpreter.run(reusing: cuts[b], overriding: overriding, outputs: wanted ?? targets, threads: threads)
        } catch {
            throw PassError(pass: pass, message: "probe of '\(overriding.keys.sorted().joined(separator: ", "))': \(error)")
        }
    }

    /// Batch `b` with layer `l`'s weight replaced by `w`.
    public func run(batch b: Int, layer l: LayerQuantization, weight w: [Float], wanted: [String]? = nil, threads: Int? = nil) throws(PassError) -> [String: RTensor] {
        try run(batch: b, layer: l, weight: RTensor(floats: w, shape: weight(l).shape), wanted: wanted, threads: threads)
    }

    /// Batch `b` with layer `l`'s weight replaced by the tensor `w` (built once for many batches).
    public func run(batch b: Int, layer l: LayerQuantization, weight w: RTensor, wanted: [String]? = nil, threads: Int? = nil) throws(PassError) -> [String: RTensor] {
        try run(batch: b, overriding: [l.weight: w], wanted: wanted, threads: threads)
    }

    /// The loss of `approx` against the float targets of batch `b`, per sample.
    public func lossPerSample(batch b: Int, _ approx: [String: RTensor]) -> [Double] {
        let n = batchSizes[b]
        var out = [Double](repeating: 0, count: n)
        switch loss {
        case .mse, .nmse:
            for name in targets {
                let r = cuts[b][name]!.array(Float.self), a = approx[name]!.array(Float.self)
                let per = r.count / n, weight = squaredErrorWeight(name, batch: b)
                for s in 0..<n {
                    var acc = 0.0
                    for i in (s * per)..<((s + 1) * per) { let d = Double(a[i]) - Double(r[i]); acc += d * d }
                    out[s] += acc * weight
                }
            }
        case .kl:
            let r = cuts[b][targets[0]]!, a = approx[targets[0]]!
            let c = r.shape.last!, rows = r.count / c, perSample = rows / n
            let rv = r.array(Float.self), av = a.array(Float.self)
            for row in 0..<rows {
                let p = Self.logSoftmax(rv, row * c, c), q = Self.logSoftmax(av, row * c, c)
                var kl = 0.0
                for j in 0..<c { kl += exp(p[j]) * (p[j] - q[j]) }
                out[row / perSample] += max(kl, 0) / Double(perSample)
            }
        }
        return out
    }

    /// The Gauss-Newton form uᵀ H u of the loss at the float point for an output
    /// direction `u` (per target), per sample: H = (2/m)·I for MSE over m values,
    /// diag(p) − ppᵀ per row for softmax KL.
    public func gaussNewtonPerSample(batch b: Int, direction u: [String: [Double]]) -> [Double] {
        let n = batchSizes[b]
        var out = [Double](repeating: 0, count: n)
        switch loss {
        case .mse, .nmse:
            for name in targets {
                let d = u[name]!, per = d.count / n, weight = squaredErrorWeight(name, batch: b)
                for s in 0..<n {
                    var acc = 0.0
                    for i in (s * per)..<((s + 1) * per) { acc += d[i] * d[i] }
                    out[s] += 2 * acc * weight
                }
            }
        case .kl:
            let r = cuts[b][targets[0]]!, d = u[targets[0]]!
            let c = r.shape.last!, rows = r.count / c, perSample = rows / n
            let rv = r.array(Float.self)
            for row in 0..<rows {
                let lp = Self.logSoftmax(rv, row * c, c)
                var quad = 0.0, lin = 0.0
                for j in 0..<c { let p = exp(lp[j]), x = d[row * c + j]; quad += p * x * x; lin += p * x }
                out[row / perSample] += (quad - lin * lin) / Double(perSample)
            }
        }
        return out
    }

    static func logSoftmax(_ v: [Float], _ start: Int, _ c: Int) -> [Double] {
        var m = -Double.infinity
        for j in 0..<c { m = max(m, Double(v[start + j])) }
        var s = 0.0
        for j in 0..<c { s += exp(Double(v[start + j]) - m) }
        let l = m + log(s)
        return (0..<c).map { Double(v[start + $0]) - l }
    }

    /// vᵀ G v for the layer's weight: G the Gauss-Newton matrix of the loss with respect
    /// to the weights, averaged over the samples, J v by central differences
    /// (z(W + εv) − z(W − εv)) / 2ε. `direction(b)` is v for batch `b`: one v for all
    /// batches gives vᵀGv; an independent v per batch gives an unbiased estimate of
    /// Tr(G) with less variance (Hutchinson on each batch's own G_b).
    public func gaussNewtonQuadratic(_ l: LayerQuantization, epsilon: Float, direction: (Int) -> [Float]) throws(PassError) -> Double {
        let w = weight(l).values
        var total = 0.0
        for b in cuts.indices {
            let v = direction(b)
            var plus = w, minus = w
            for i in w.indices { plus[i] += epsilon * v[i]; minus[i] -= epsilon * v[i] }
            let zp = try run(batch: b, layer: l, weight: plus), zm = try run(batch: b, layer: l, weight: minus)
            var u: [String: [Double]] = [:]
            for name in targets {
                let a = zp[name]!.array(Float.self), c = zm[name]!.array(Float.self)
                u[name] = (0..<a.count).map { (Double(a[$0]) - Double(c[$0])) / (2 * Double(epsilon)) }
            }
            total += gaussNewtonPerSample(batch: b, direction: u).reduce(0, +)
        }
        return total / Double(samples)
    }

    /// The value a layer reads as its data input (its first input).
    public func dataInput(_ l: LayerQuantization) -> String? {
        graph.nodes.first { $0.name == l.node }?.inputs.first
    }

    /// The value the layer produces (its first output).
    public func layerOutput(_ l: LayerQuantization) -> String? {
        graph.nodes.first { $0.name == l.node }?.outputs.first
    }

    /// A deterministic seed per layer, from its name.
    public static func seed(_ base: UInt64, _ node: String) -> UInt64 {
        var h = FNV1a64()
        h.add(node)
        return h.value ^ base
    }
}
