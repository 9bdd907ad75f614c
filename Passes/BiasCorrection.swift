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
        PassOption("memory", .int, default: "\(defaultMemoryMiB)", help: "MiB of intermediate values the corrected runs may hold at once; samples past what fits are left out."),
    ]

    /// `memory`'s default, left out of the pipeline text.
    static let defaultMemoryMiB = 512

    let samples: Int
    let batch: Int
    /// Bytes of intermediate values the corrected runs may hold at once: the runs of one group.
    let groupBytes: Int

    public static func problem(with options: PassOptions) -> String? {
        if options.int("samples") < 1 { return "samples must be at least 1" }
        if options.int("batch") < 1 { return "batch must be at least 1" }
        if options.int("memory") < 0 { return "memory must not be negative" }
        return nil
    }

    public init(options: PassOptions) {
        samples = options.int("samples")
        batch = options.int("batch")
        groupBytes = options.int("memory") << 20
    }

    public var pipelineText: String {
        "\(Self.name)(samples=\(samples),batch=\(batch)" + (groupBytes == Self.defaultMemoryMiB << 20 ? "" : ",memory=\(groupBytes >> 20)") + ")"
    }

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
        // Before `targets` gives shared biases copies of their own.
        let floatModel = context.layerOutputSums.map { _ in LayerOutputSums.normalized(model) }
        let targets = try self.targets(&model, context: &context)
        guard !targets.isEmpty else { return }
        let feed: SampleFeed = context.samples.map { .files($0) } ?? .random(count: context.randomSamples ?? 0, seed: 0xCA11B)

        // E[y] of every target: what calibration recorded, or one run of the float model.
        let reference: [[Double]], peak: Int
        if let recorded = context.layerOutputSums, recorded.model == floatModel, let r = recordedMeans(recorded, targets: targets, feed: feed) {
            (reference, peak) = r
            context.count("float layer outputs taken from calibration")
        } else {
            (reference, peak) = try floatMeans(of: model, targets: targets, feed: feed, context: context)
        }
        // One run of the QDQ model in graph order: when layer k's output appears, its mean
        // shift per channel over the samples (upstream layers already corrected in flight) is
        // subtracted from the output before later layers read it — what correcting k's bias
        // does, without re-running the prefix per layer (O(L) instead of O(L²)). The int32
        // rounding of the corrected bias is the only difference from the exported model.
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
        // The corrected runs meet at every layer: as many batches as one lockstep group holds.
        // Those that do not fit are left out, reference means taken again over the rest.
        let (batches, group) = try lockstepPlan(q, feed: feed, floatPeakBytes: peak)
        var meanOver = reference
        if group < batches.count {
            let kept = batches.prefix(group).reduce(0) { $0 + Self.sampleCount($1) }
            meanOver = try floatMeans(of: model, targets: targets, feed: feed, limit: kept, context: context).means
            context.count("bias-correction samples left out (one lockstep group holds \(kept))",
                          batches.dropFirst(group).reduce(0) { $0 + Self.sampleCount($1) })
        }
        let shifts = try correctedShifts(of: q, targets: qTargets, batches: Array(batches.prefix(group)), context: context,
                                         reference: meanOver)
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
            let axis = LayerOutputSums.channelAxis(node.opType) ?? -1
            result.append(Target(layer: li, node: model.graph.nodes[ni], biasInput: bi, axis: axis))
        }
        return result
    }

    /// Per channel of a target's output: the sum over every other axis, and the count summed.
    static func channelSums(_ t: RTensor, target: Target) throws(PassError) -> (sums: [Double], n: Int) {
        guard let result = LayerOutputSums.channelSums(t, axis: target.axis) else {
            throw PassError(pass: name, message: "layer '\(target.node.name)': output of rank \(t.shape.count) has no channel axis \(target.axis)")
        }
        return result
    }

    /// The target whose output `value` is, if `node` is its node and the value is float.
    static func slot(_ slots: [String: Int], _ targets: [Target], _ value: String, _ node: Node, _ t: RTensor) -> Int? {
        guard let k = slots[value], node.name == targets[k].node.name, t.type == .float32 else { return nil }
        return k
    }

    /// Per target, the mean over samples (and all other axes) of each channel of its output in
    /// the float model; and the most bytes of intermediate values one batch held at once.
    /// Batches are independent: rounds of them run one per worker (``InterpreterPool/runRounds``)
    /// and their sums are added in batch order, as one worker would.
    func floatMeans(of model: Model, targets: [Target], feed: SampleFeed, limit: Int? = nil,
                    context: PassContext) throws(PassError) -> (means: [[Double]], peakBytes: Int) {
        let slots = Dictionary(targets.enumerated().map { ($1.node.outputs[0], $0) }, uniquingKeysWith: { a, _ in a })
        var sums = [[Double]](repeating: [], count: targets.count)
        var counts = [Int](repeating: 0, count: targets.count)
        var peak = 0
        do {
            try InterpreterPool.runRounds(model: model, threads: context.threads, feed: feed, batch: batch, limit: limit ?? samples) {
                inputs, interpreter, _ in
                // Per target, each observation's sums (one per run, or one per iteration inside a Loop).
                var batch: [Int: [(sums: [Double], n: Int)]] = [:]
                var failure: PassError?
                _ = try interpreter.run(inputs: inputs) { name, node, t in
                    guard failure == nil, let k = Self.slot(slots, targets, name, node, t) else { return }
                    do throws(PassError) { batch[k, default: []].append(try Self.channelSums(t, target: targets[k])) } catch {
                        failure = error
                    }
                }
                if let failure { throw failure }
                return (batch, interpreter.peakActivationBytes)  // each pool interpreter runs one batch at a time
            } absorb: { _, result, _ in
                peak = max(peak, result.1)
                for k in result.0.keys.sorted() {
                    for o in result.0[k]! {
                        if sums[k].isEmpty { sums[k] = [Double](repeating: 0, count: o.sums.count) }
                        guard sums[k].count == o.sums.count else {
                            throw PassError(pass: Self.name, message: "layer '\(targets[k].node.name)': output channels changed from \(sums[k].count) to \(o.sums.count) between batches")
                        }
                        for c in o.sums.indices { sums[k][c] += o.sums[c] }
                        counts[k] += o.n
                    }
                }
            }
        } catch let e as PassError {
            throw e
        } catch {
            throw PassError(pass: Self.name, message: "\(error)")
        }
        let means = try Self.means(sums, counts, targets)
        return (means, peak)
    }

    /// The float means from ``LayerOutputSums`` recorded by `calibrate` (on the same float
    /// model), if it summed exactly the batches ``floatMeans(of:targets:feed:context:)`` would
    /// run, and every target's output.
    func recordedMeans(_ recorded: LayerOutputSums, targets: [Target], feed: SampleFeed) -> (means: [[Double]], peakBytes: Int)? {
        // Sample counts per file follow the declared input shapes: without them the predicted batches could be wrong.
        guard case .files(let source) = feed, source.inputs.allSatisfy({ $0.type?.tensorType?.shape != nil }),
              recorded.batches == source.batchSizes(batch: batch, limit: samples) else { return nil }
        var means: [[Double]] = []
        for t in targets {
            guard let s = recorded.sums[t.node.outputs[0]], s.n > 0 else { return nil }
            means.append(s.sums.map { $0 / Double(s.n) })
        }
        return (means, recorded.peakBytes)
    }

    /// Samples in a batch (its inputs' first dimension).
    static func sampleCount(_ batch: [String: RTensor]) -> Int { batch.values.first?.shape.first ?? 1 }

    /// Runs (threads) of one group at most.
    static let maxGroup = 256

    /// The batches of the corrected run (`samples` in all, as many per batch as the model
    /// takes), and how many of them one lockstep group holds: as many as `memory` (512 MiB by
    /// default) of intermediate values allows, at twice the float run's peak per batch (for the
    /// quantize/dequantize copies, scaled to these batches' size); at most 256, at least one.
    func lockstepPlan(_ model: Model, feed: SampleFeed, floatPeakBytes: Int) throws(PassError) -> (batches: [[String: RTensor]], group: Int) {
        var batches: [[String: RTensor]] = []
        do {
            try feed.forEachBatch(inputs: model.graph.runtimeInputs, batch: samples, limit: samples) { batches.append($0) }
        } catch let e as PassError {
            throw e
        } catch {
            throw PassError(pass: Self.name, message: "\(error)")
        }
        // The float peak is per batch of `batch` samples; these batches hold up to `samples`.
        let largest = batches.map(Self.sampleCount).max() ?? 1
        let runBytes = 2 * max(1, floatPeakBytes) * max(1, (largest + batch - 1) / batch)
        return (batches, max(1, min(batches.count, Self.maxGroup, groupBytes / runBytes)))
    }

    /// Per target, the mean shift E[y_q − y] of each output channel in the QDQ model over
    /// `batches`, each output corrected by it before later layers read it.
    ///
    /// The correction of layer k is the mean over all samples of its shift, measured with
    /// every layer before k corrected: all samples must reach k before any goes past it. A
    /// model that takes them in one batch does that in one run. Batches of a model that takes
    /// fewer (one sample at a time, samples of different shapes) run in lockstep instead
    /// (``Lockstep``), each on a thread of its own, meeting at every target's output; they are
    /// one group (``lockstepPlan(_:feed:floatPeakBytes:)``). Groups one after the other, each
    /// corrected by the running mean of those before it, measured later layers under upstream
    /// corrections that earlier groups had only estimated (common_det, 64 images in groups of
    /// 21: output SQNR 16.3 dB, against 25.9 dB in one group of 64 and 25.4 dB in one of 21).
    /// What runs on which thread never changes a result: parts are added in batch order.
    func correctedShifts(of model: Model, targets: [Target], batches: [[String: RTensor]], context: PassContext,
                         reference: [[Double]]) throws(PassError) -> [[Double]] {
        func fail(_ m: String) -> PassError { PassError(pass: Self.name, message: m) }
        let slots = Dictionary(targets.enumerated().map { ($1.node.outputs[0], $0) }, uniquingKeysWith: { a, _ in a })
        var sums = [[Double]](repeating: [], count: targets.count)
        var counts = [Int](repeating: 0, count: targets.count)
        /// Adds run parts (in batch order) to target k's shift; returns the shift.
        func absorb(_ parts: [(k: Int, sums: [Double], n: Int)]) throws(PassError) -> [Float] {
            let k = parts[0].k
            guard parts.allSatisfy({ $0.k == k }) else {
                throw fail("runs of the lockstep met at different layers ('\(targets[k].node.name)' and others)")
            }
            let channels = parts[0].sums.count
            guard reference[k].count == channels else {
                throw fail("layer '\(targets[k].node.name)': \(channels) channels in the quantized model, \(reference[k].count) in the float one")
            }
            if sums[k].isEmpty { sums[k] = [Double](repeating: 0, count: channels) }
            for part in parts {
                guard sums[k].count == part.sums.count else {
                    throw fail("layer '\(targets[k].node.name)': output channels changed from \(sums[k].count) to \(part.sums.count) between batches")
                }
                for c in 0..<channels { sums[k][c] += part.sums[c] - reference[k][c] * Double(part.n) }
                counts[k] += part.n
            }
            return sums[k].map { Float($0 / Double(counts[k])) }
        }
        do {
            let workers = max(1, min(batches.count, context.threads))
            let interpreter = try Interpreter(model: model, threads: max(1, context.threads / workers), fuse: false)
            try Lockstep<(k: Int, sums: [Double], n: Int), [Float]>.run(parties: batches.count, workers: workers,
                                                                      combine: { parts in try absorb(parts) }) { p, lockstep in
                var failure: Error?
                _ = try interpreter.run(inputs: batches[p]) { name, node, t in
                    guard failure == nil, let k = Self.slot(slots, targets, name, node, t) else { return }
                    do {
                        let part = try Self.channelSums(t, target: targets[k])
                        let shift = try lockstep.meet(p, (k, part.sums, part.n))
                        Self.subtract(shift, from: t, target: targets[k])
                    } catch { failure = error }
                }
                if let failure { throw failure }
            }
        } catch let e as PassError {
            throw e
        } catch {
            throw fail("\(error)")
        }
        return try Self.means(sums, counts, targets)
    }

    /// Subtracts `shift[c]` from channel c of a target's output, in place (its channel axis
    /// exists: its sums were just taken).
    static func subtract(_ shift: [Float], from t: RTensor, target: Target) {
        guard let (outer, channels, inner) = LayerOutputSums.channelLayout(t.shape, axis: target.axis) else { return }
        let x = t.elements(Float.self)
        for c in 0..<channels {
            for o in 0..<outer {
                let base = (o * channels + c) * inner
                for i in 0..<inner { x[base + i] -= shift[c] }
            }
        }
    }

    static func means(_ sums: [[Double]], _ counts: [Int], _ targets: [Target]) throws(PassError) -> [[Double]] {
        try targets.indices.map { k throws(PassError) in
            guard counts[k] > 0 else {
                throw PassError(pass: name, message: "layer '\(targets[k].node.name)': its output was never computed on the samples")
            }
            return sums[k].map { $0 / Double(counts[k]) }
        }
    }
}
