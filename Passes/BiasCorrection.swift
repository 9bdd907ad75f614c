import IR
import Interpreter

/// Empirical bias correction (Nagel et al. 2019, "Data-Free Quantization Through
/// Weight Equalization and Bias Correction", §4.2, the empirical variant; Banner et
/// al. 2019): rounding weights (and clipping activations) shifts the mean of a
/// layer's output, E[y_q − y] ≠ 0, and the layers after it read that shift as
/// signal. For each quantized layer with a bias, in graph order, the shift per
/// output channel is measured on calibration samples and subtracted from the float
/// bias, which `insert-qdq` then rounds to int32 with scale s_x·s_w.
///
/// y_q is measured in the QDQ model itself (built with ``InsertQDQ`` from the
/// current decisions, biases corrected so far included, and cut after the layer),
/// run as fake quantization: activations and weights are rounded exactly as in the
/// exported model, and each layer sees the corrected layers before it (the
/// sequential order of the paper). y is the layer's output in the float model. Both
/// are the pre-activation outputs (a Relu folded into the layer's quantization
/// comes after them). Each layer's correction norm ‖E[y_q − y]‖₂ is recorded as
/// `metrics["bias-correction"]`.
public struct BiasCorrection: Pass {
    public static let name = "bias-correct"
    public static let decidesWeightsOnly = true
    public static let summary = "Subtract each quantized layer's measured mean output shift from its bias (empirical bias correction)."
    public static let options = [
        PassOption("samples", .int, default: "128", help: "Calibration samples the shifts are averaged over (the corrected run takes them in one batch)."),
        PassOption("batch", .int, default: "16", help: "Samples per forward run of the float model."),
    ]

    let samples: Int
    let batch: Int

    public static func problem(with options: PassOptions) -> String? {
        if options.int("samples") < 1 { return "samples must be at least 1" }
        if options.int("batch") < 1 { return "batch must be at least 1" }
        return nil
    }

    public init(options: PassOptions) {
        samples = options.int("samples")
        batch = options.int("batch")
    }

    public var pipelineText: String { "\(Self.name)(samples=\(samples),batch=\(batch))" }

    /// A layer to correct: its index in the state's layers and its node.
    struct Target {
        var layer: Int
        var node: Node
        var biasInput: Int
        /// Axis of the layer's output that indexes channels.
        var axis: Int
    }

    public func run(on model: inout Model, context: inout PassContext) throws(PassError) {
        func fail(_ m: String) -> PassError { PassError(pass: Self.name, message: m) }
        guard model.quantization.activations != nil, !model.quantization.layers.isEmpty else {
            throw fail("no quantization decisions on the IR: run 'quantize' before 'bias-correct'")
        }
        guard !model.quantization.ranges.isEmpty else {
            throw fail("no calibrated ranges on the IR: run 'calibrate' before 'quantize' and 'bias-correct'")
        }
        guard context.samples != nil || context.randomSamples != nil else {
            throw fail("needs calibration data (--calibration DIR, or --calibration-random N)")
        }
        let targets = try self.targets(&model, context: &context)
        guard !targets.isEmpty else { return }
        let feed: SampleFeed = context.samples.map { .files($0) } ?? .random(count: context.randomSamples ?? 0, seed: 0xCA11B)

        // E[y] of every target, from one run of the float model.
        let reference = try channelMeans(of: model, targets: targets, feed: feed, context: context)
        // One run of the QDQ model in graph order: when layer k's output appears, its mean
        // shift per channel (upstream layers already corrected in flight) is folded into a
        // running mean over the batches so far and subtracted from the output before later
        // layers read it — what correcting k's bias does, without re-running the prefix per
        // layer (O(L) instead of O(L²)). The int32 rounding of the corrected bias is the only
        // difference from the exported model.
        var q = model
        var scratch = PassContext()
        scratch.threads = context.threads
        try InsertQDQ(options: PassOptions(pass: InsertQDQ.name, values: Dictionary(uniqueKeysWithValues: InsertQDQ.options.map { ($0.name, $0.defaultValue) })))
            .run(on: &q, context: &scratch)
        var qTargets = targets
        for k in qTargets.indices {
            guard let node = q.graph.nodes.first(where: { $0.name == targets[k].node.name }) else {
                throw fail("layer '\(targets[k].node.name)' is missing from the QDQ model")
            }
            qTargets[k].node = node
        }
        let shifts = try channelMeans(of: q, targets: qTargets, feed: feed, context: context, correcting: reference)
        for (k, t) in targets.enumerated() {
            let biasName = model.quantization.layers[t.layer].bias!
            guard var bias = model.graph.initializers[biasName]?.floatValues(), bias.count == shifts[k].count else {
                throw fail("layer '\(t.node.name)': bias '\(biasName)' does not have one value per output channel")
            }
            var norm = 0.0
            for c in bias.indices {
                bias[c] = Float(Double(bias[c]) - shifts[k][c])
                norm += shifts[k][c] * shifts[k][c]
            }
            model.graph.initializers[biasName] = Tensor(floats: bias, shape: [bias.count], name: biasName)
            model.quantization.layers[t.layer].metrics["bias-correction"] = norm.squareRoot()
            context.count("layers bias-corrected")
        }
    }

    /// The integer-format layers with a bias, each given a bias of its own when it shares one.
    func targets(_ model: inout Model, context: inout PassContext) throws(PassError) -> [Target] {
        let excluded = Set(model.quantization.excluded)
        let index = Dictionary(model.graph.nodes.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { a, _ in a })
        var result: [Target] = []
        for (li, layer) in model.quantization.layers.enumerated() {
            guard case .integer = layer.format, layer.quantized != nil, !excluded.contains(layer.node) else { continue }
            guard let ni = index[layer.node] else {
                throw PassError(pass: Self.name, message: "layer '\(layer.node)' has no node in the graph")
            }
            let node = model.graph.nodes[ni]
            guard let bias = layer.bias, let bi = node.inputs.firstIndex(of: bias), bi != layer.weightInput else {
                context.count("layers without a bias (not corrected)")
                continue
            }
            if model.graph.useCounts()[bias, default: 0] > 1 {
                // Corrections are per layer: a shared bias gets a copy for this layer.
                var name = "\(bias)_\(layer.node)", k = 1
                while model.graph.initializers[name] != nil { k += 1; name = "\(bias)_\(layer.node)_\(k)" }
                var copy = model.graph.initializers[bias]!
                copy.name = name
                model.graph.initializers[name] = copy
                model.graph.nodes[ni].inputs[bi] = name
                model.quantization.layers[li].bias = name
            }
            let axis = ["Conv", "ConvTranspose"].contains(node.opType) ? 1 : -1
            result.append(Target(layer: li, node: model.graph.nodes[ni], biasInput: bi, axis: axis))
        }
        return result
    }

    /// Per target, the mean over samples (and all other axes) of each channel of its output.
    /// With `reference` (the float model's means), the running mean of the shift from it
    /// instead, each output corrected by the shift so far as it is produced.
    ///
    /// Without `reference` the batches are independent: rounds of them run one per worker
    /// (``InterpreterPool/runRounds``) and their sums are added in batch order, as one worker would.
    func channelMeans(of model: Model, targets: [Target], feed: SampleFeed, context: PassContext,
                      correcting reference: [[Double]]? = nil) throws(PassError) -> [[Double]] {
        func fail(_ m: String) -> PassError { PassError(pass: Self.name, message: m) }
        let slot = Dictionary(targets.enumerated().map { ($1.node.outputs[0], $0) }, uniquingKeysWith: { a, _ in a })
        var sums = [[Double]](repeating: [], count: targets.count)
        var counts = [Int](repeating: 0, count: targets.count)

        /// One batch: per target, each observation's channel sums and element count per channel
        /// (one per run, or one per iteration inside a Loop). With `correct`, each observation is
        /// accumulated at once and its output corrected by the running mean of the shift so far,
        /// as if the bias already were (then nothing is returned).
        func observe(_ inputs: [String: RTensor], on interpreter: Interpreter, correct: Bool) throws
            -> [Int: [(sums: [Double], n: Int)]] {
            var batch: [Int: [(sums: [Double], n: Int)]] = [:]
            var failure: PassError?
            _ = try interpreter.run(inputs: inputs) { name, node, t in
                guard failure == nil, let k = slot[name], node.name == targets[k].node.name, t.type == .float32 else { return }
                let shape = t.shape
                let axis = targets[k].axis < 0 ? shape.count + targets[k].axis : targets[k].axis
                guard axis >= 0, axis < shape.count else {
                    failure = fail("layer '\(node.name)': output of rank \(shape.count) has no channel axis \(targets[k].axis)")
                    return
                }
                let channels = shape[axis]
                let outer = shape[..<axis].reduce(1, *), inner = shape[(axis + 1)...].reduce(1, *)
                let x = t.elements(Float.self)
                var batchSums = [Double](repeating: 0, count: channels)
                for o in 0..<outer {
                    for c in 0..<channels {
                        let base = (o * channels + c) * inner
                        var s = 0.0
                        for i in 0..<inner { s += Double(x[base + i]) }
                        batchSums[c] += s
                    }
                }
                guard correct else {
                    batch[k, default: []].append((batchSums, outer * inner))
                    return
                }
                do throws(PassError) { try accumulate(k, batchSums, outer * inner, node: node.name) } catch {
                    failure = error
                    return
                }
                for c in 0..<channels {
                    let shift = Float(sums[k][c] / Double(counts[k]))
                    for o in 0..<outer {
                        let base = (o * channels + c) * inner
                        for i in 0..<inner { x[base + i] -= shift }
                    }
                }
            }
            if let failure { throw failure }
            return batch
        }
        func accumulate(_ k: Int, _ batchSums: [Double], _ n: Int, node: String) throws(PassError) {
            let channels = batchSums.count
            if sums[k].isEmpty { sums[k] = [Double](repeating: 0, count: channels) }
            guard sums[k].count == channels else {
                throw fail("layer '\(node)': output channels changed from \(sums[k].count) to \(channels) between batches")
            }
            if let reference {
                guard reference[k].count == channels else {
                    throw fail("layer '\(node)': \(channels) channels in the quantized model, \(reference[k].count) in the float one")
                }
                for c in 0..<channels { sums[k][c] += batchSums[c] - reference[k][c] * Double(n) }
            } else {
                for c in 0..<channels { sums[k][c] += batchSums[c] }
            }
            counts[k] += n
        }
        do {
            if reference != nil {
                // Corrections run on all samples at once: in batches, later batches' shifts would be
                // measured under upstream corrections that earlier batches had only estimated (it
                // cost the MLP 14 dB of output SQNR); the memory is the price.
                let interpreter = try Interpreter(model: model, threads: context.threads, fuse: false)
                try feed.forEachBatch(inputs: model.graph.runtimeInputs, batch: samples, limit: samples) { inputs in
                    _ = try observe(inputs, on: interpreter, correct: true)
                }
            } else {
                try InterpreterPool.runRounds(model: model, threads: context.threads, feed: feed, batch: batch, limit: samples) { inputs, interpreter in
                    try observe(inputs, on: interpreter, correct: false)
                } absorb: { _, batch, _ in
                    for k in batch.keys.sorted() {
                        for o in batch[k]! { try accumulate(k, o.sums, o.n, node: targets[k].node.name) }
                    }
                }
            }
        } catch let e as PassError {
            throw e
        } catch {
            throw fail("\(error)")
        }
        return try targets.indices.map { k throws(PassError) in
            guard counts[k] > 0 else { throw fail("layer '\(targets[k].node.name)': its output was never computed on the samples") }
            return sums[k].map { $0 / Double(counts[k]) }
        }
    }
}
