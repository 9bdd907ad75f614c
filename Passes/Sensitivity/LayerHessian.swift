import Foundation
import IR
import Interpreter

/// `layer-hessian`: accumulates every quantizable layer's input Hessian
/// H = E[x xᵀ] (``LayerHessian``) over calibration samples, streaming batch by
/// batch (memory O(Σ d²), never O(samples × activations)), keeps them in
/// ``PassContext/layerHessians`` for `round(method=gptq)`, and scores every layer
/// in every considered format by the exact reconstruction error
/// tr(ΔW H ΔWᵀ) = E‖ΔW·x‖² with ΔW = Q_f(W) − W (GPTQ's layer-wise objective,
/// Frantar et al. 2022 §3; the `layer-hessian` sensitivity of issue 6).
public struct LayerHessianPass: Pass {
    public static let name = "layer-hessian"
    public static let decidesWeightsOnly = true
    public static let summary = "Accumulate each layer's input Hessian E[x xᵀ] and score every format by tr(ΔW H ΔWᵀ)."
    public static let options = [
        PassOption("samples", .int, default: "128", help: "Calibration samples to accumulate over (0: all)."),
        PassOption("batch", .int, default: "32", help: "Samples per forward run."),
    ]
    public static let unit = "E‖ΔW·x‖² per sample (layer output MSE × outputs)"

    let maxSamples: Int
    let batch: Int

    public static func problem(with options: PassOptions) -> String? {
        if options.int("samples") < 0 { return "samples must not be negative" }
        if options.int("batch") < 1 { return "batch must be at least 1" }
        return nil
    }

    public init(options: PassOptions) {
        maxSamples = options.int("samples")
        batch = options.int("batch")
    }

    public var pipelineText: String { "\(Self.name)(samples=\(maxSamples),batch=\(batch))" }

    public func run(on model: inout Model, context: inout PassContext) throws(PassError) {
        func fail(_ m: String) -> PassError { PassError(pass: Self.name, message: m) }
        guard context.samples != nil || context.randomSamples != nil else {
            throw fail("needs calibration data (--calibration DIR, or --calibration-random N)")
        }
        guard !model.quantization.layers.isEmpty else {
            throw fail("the model has no quantized layers: run quantize before layer-hessian")
        }
        let key = cacheKey(model, context)
        // Same float model (quantize keeps one layer entry per weighted node) and samples: same Hessians.
        if context.layerHessiansKey != key {
            context.layerHessians = try collect(model, &context)
            context.layerHessiansKey = key
        } else {
            context.count("hessians reused")
        }
        let scored = score(model, context)
        var state = model.quantization
        state.sensitivities.removeAll { $0.method == Self.name }
        let samples = context.layerHessians.values.first?.samples ?? 0
        state.sensitivities.append(SensitivityTable(method: Self.name, unit: Self.unit, scores: scored,
                                                    notes: ["H = E[x xᵀ] over \(samples) \(context.samples == nil ? "random " : "")samples"]))
        model.quantization = state
        context.count("layers scored", scored.count)
    }

    /// Runs the float model over the samples, adding each layer's input columns.
    func collect(_ model: Model, _ context: inout PassContext) throws(PassError) -> [String: LayerHessian] {
        func fail(_ m: String) -> PassError { PassError(pass: Self.name, message: m) }
        let g = model.graph
        let nodes = Dictionary(g.nodes.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        var hessians: [String: LayerHessian] = [:]
        var readers: [String: [String]] = [:]  // input value → layers reading it
        for layer in model.quantization.layers {
            guard let node = nodes[layer.node], let w = g.initializers[layer.weight] else { continue }
            switch LayerMatrices.make(node: node, weightShape: w.shape) {
            case .success(let m):
                hessians[layer.node] = LayerHessian(matrices: m)
                readers[node.inputs[0], default: []].append(layer.node)
            case .failure(let e):
                // Not bad input, just a layer this pass cannot see as one matrix product.
                context.note("no input Hessian for \(e)")
            }
        }
        let interpreter: Interpreter
        do { interpreter = try Interpreter(model: model, threads: context.threads, fuse: false) } catch { throw fail("\(error)") }
        let feed: SampleFeed = context.samples.map { .files($0) } ?? .random(count: context.randomSamples ?? 0, seed: 0xCA11B)
        var failure: PassError?
        let threads = context.threads
        func add(_ name: String, _ t: RTensor, _ n: Int) {
            for layer in readers[name] ?? [] where failure == nil {
                do { try hessians[layer]!.add(t, samples: n, threads: threads) } catch { failure = fail("\(error)") }
            }
        }
        do {
            try feed.forEachBatch(inputs: interpreter.inputs, batch: batch, limit: maxSamples > 0 ? maxSamples : .max) { inputs in
                let n = inputs.values.first?.shape.first ?? 1
                for (name, t) in inputs.sorted(by: { $0.key < $1.key }) { add(name, t, n) }
                _ = try interpreter.run(inputs: inputs) { name, _, t in add(name, t, n) }
                if let failure { throw failure }
            }
        } catch let e as PassError {
            throw e
        } catch {
            throw fail("\(error)")
        }
        for k in hessians.keys.sorted() {
            // A layer that never ran (say, in an untaken branch) has no statistics: H = 0 would
            // make GPTQ zero its weights, so it gets no Hessian and keeps RTN.
            if hessians[k]!.columns == 0 {
                hessians[k] = nil
                context.note("no input Hessian for layer '\(k)': its input was never computed on the samples")
            } else {
                hessians[k]!.finish()
            }
        }
        return hessians
    }

    /// node → format → tr(ΔW H ΔWᵀ), layers in parallel (each result is computed by one thread).
    func score(_ model: Model, _ context: PassContext) -> [String: [String: Double]] {
        let formats = model.quantization.formatsConsidered
        let layers = model.quantization.layers.filter { context.layerHessians[$0.node] != nil }
        var results = [[Double]](repeating: [], count: layers.count)
        let g = model.graph
        let reduced = model.quantization.int8ReducedRange
        results.withUnsafeMutableBufferPointer { out in
            let out = out
            Parallel.forEach(layers.count, threads: context.threads) { r in
                for i in r {
                    let l = layers[i]
                    guard let t = g.initializers[l.weight], let w = t.floatValues(), let h = context.layerHessians[l.node] else { continue }
                    out[i] = formats.map { f in
                        guard let q = Self.dequantized(w, shape: t.shape, format: f, layer: l, reduceRange: reduced) else { return 0 }
                        return h.reconstructionError(delta: zip(q, w).map { $0 - $1 })
                    }
                }
            }
        }
        var scores: [String: [String: Double]] = [:]
        for (l, r) in zip(layers, results) where r.count == formats.count {
            scores[l.node] = Dictionary(uniqueKeysWithValues: zip(formats.map(\.description), r))
        }
        return scores
    }

    /// Q_f(W) as floats: fp16 rounding, or RTN in an integer format; nil for fp32.
    static func dequantized(_ w: [Float], shape: [Int], format: WeightFormat, layer l: LayerQuantization,
                            reduceRange: Bool = false) -> [Float]? {
        switch format {
        case .float32: return nil
        case .float16: return w.map { HalfFloat.toFloat(HalfFloat.fromFloat($0)) }
        case .integer(_, let granularity, _):
            guard let q = WeightQuantizer.quantize(w, shape: shape, format: format, channelAxis: l.channelAxis, groupAxis: l.groupAxis,
                                                   reduceRange: reduceRange) else { return nil }
            return WeightQuantizer.dequantize(q, shape: shape, granularity: granularity, channelAxis: l.channelAxis, groupAxis: l.groupAxis)
        }
    }

    /// The float model (quantization decisions left out) and the samples.
    func cacheKey(_ model: Model, _ context: PassContext) -> String {
        var m = model
        m.quantization = QuantizationState()
        var h = FNV1a64()
        h.add(Printer.print(m))
        h.add("samples=\(maxSamples) batch=\(batch)")
        if let s = context.samples { h.add(s.folder); for f in s.files { h.add(f) } } else { h.add("random \(context.randomSamples ?? 0)") }
        return String(h.value, radix: 16)
    }
}
