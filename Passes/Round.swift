import IR
import Interpreter

/// Re-rounds every integer-format layer in its current format: to nearest
/// (RTN), or by GPTQ (``GPTQ``) with the Hessians `layer-hessian` left in the
/// context. With Hessians, each layer gets the metrics `reconstruction.rtn`
/// and (for GPTQ) `reconstruction.gptq`: tr(ΔW H ΔWᵀ), so the report can show
/// what GPTQ gained.
public struct Round: Pass {
    public static let name = "round"
    public static let decidesWeightsOnly = true
    public static let summary = "Re-round integer weights: to nearest (rtn) or by GPTQ with the layer Hessians."
    public static let options = [
        PassOption("method", .choice(["rtn", "gptq"]), default: "gptq", help: "Rounding method."),
        PassOption("damp", .double, default: "0.01", help: "GPTQ dampening λ as a fraction of mean(diag H)."),
        PassOption("block", .int, default: "128", help: "GPTQ columns per lazy batch update."),
        PassOption("act-order", .bool, default: "false", help: "GPTQ: columns in order of decreasing diag(H)."),
    ]

    let method: String
    let options: GPTQ.Options

    public static func problem(with options: PassOptions) -> String? {
        let damp = options.double("damp")
        if !(damp >= 0 && damp < 1) { return "damp must be in [0, 1)" }
        if options.int("block") < 1 { return "block must be at least 1" }
        return nil
    }

    public init(options: PassOptions) {
        method = options.string("method")
        self.options = GPTQ.Options(damp: options.double("damp"), block: options.int("block"), actOrder: options.bool("act-order"))
    }

    public var pipelineText: String {
        method == "rtn" ? "\(Self.name)(method=rtn)"
            : "\(Self.name)(method=gptq,damp=\(options.damp),block=\(options.block),act-order=\(options.actOrder))"
    }

    public func run(on model: inout Model, context: inout PassContext) throws(PassError) {
        if method == "gptq", context.layerHessians.isEmpty {
            throw PassError(pass: Self.name, message: "round(method=gptq) needs the layer Hessians: add layer-hessian to the pipeline after quantize and before round")
        }
        let g = model.graph
        let layers = model.quantization.layers
        var results = [(QuantizedWeight?, [String: Double], String?)](repeating: (nil, [:], nil), count: layers.count)
        let method = method, options = options, hessians = context.layerHessians
        results.withUnsafeMutableBufferPointer { out in
            let out = out
            // One layer per thread at a time: each result depends on its layer alone.
            Parallel.forEach(layers.count, threads: context.threads) { r in
                for i in r {
                    let l = layers[i]
                    guard case .integer = l.format, let t = g.initializers[l.weight], let w = t.floatValues() else { continue }
                    let reduced = Self.usesReducedRange(l.quantized)
                    guard let rtn = WeightQuantizer.quantize(w, shape: t.shape, format: l.format, channelAxis: l.channelAxis,
                                                             groupAxis: l.groupAxis, reduceRange: reduced) else { continue }
                    var metrics: [String: Double] = [:]
                    let h = hessians[l.node]
                    if let h, h.matrices.weightShape == t.shape { metrics["reconstruction.rtn"] = Self.reconstruction(rtn, w, t.shape, l, h) }
                    guard method == "gptq" else { out[i] = (rtn, metrics, nil); continue }
                    guard let h else {
                        out[i] = (rtn, metrics, "kept RTN for '\(l.node)': layer-hessian has no Hessian for it")
                        continue
                    }
                    do {
                        let q = try GPTQ.quantize(w, shape: t.shape, format: l.format, layer: l, hessian: h, reduced: reduced, options: options)
                        metrics["reconstruction.gptq"] = Self.reconstruction(q, w, t.shape, l, h)
                        out[i] = (q, metrics, nil)
                    } catch {
                        out[i] = (nil, [:], "\(error)")
                    }
                }
            }
        }
        var state = model.quantization
        for (i, (q, metrics, note)) in results.enumerated() {
            if let note {
                guard q != nil else { throw PassError(pass: Self.name, message: note) }
                context.note(note)
            }
            guard let q else { continue }
            state.layers[i].quantized = q
            for (k, v) in metrics { state.layers[i].metrics[k] = v }
            context.count(q.rounding == "gptq" ? "layers rounded by GPTQ" : "layers rounded to nearest")
        }
        model.quantization = state
    }

    /// Whether `quantize` used ONNX Runtime's 7-bit range: RTN maps each scale's
    /// largest weight to ±qmax, so the largest integer magnitude is 64 then, 127 otherwise.
    static func usesReducedRange(_ q: QuantizedWeight?) -> Bool {
        guard let q, q.bits == 8 else { return false }
        return q.values.reduce(0) { max($0, abs(Int($1))) } == 64
    }

    /// tr(ΔW H ΔWᵀ) of the rounded weights `q` against the float weights `w`.
    static func reconstruction(_ q: QuantizedWeight, _ w: [Float], _ shape: [Int], _ l: LayerQuantization, _ h: LayerHessian) -> Double {
        guard case .integer(_, let granularity, _) = l.format else { return 0 }
        let dq = WeightQuantizer.dequantize(q, shape: shape, granularity: granularity, channelAxis: l.channelAxis, groupAxis: l.groupAxis)
        return h.reconstructionError(delta: zip(dq, w).map { $0 - $1 })
    }
}
