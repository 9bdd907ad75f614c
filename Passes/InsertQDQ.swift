import IR
import Interpreter

/// Turns the quantization decisions on the IR (activation format, calibrated
/// ranges, each layer's weight format and integers) into an ONNX QDQ graph
/// that ONNX Runtime runs and fuses, and that quantc's interpreter executes
/// as the fake-quant simulation of the quantized model.
///
/// Conventions follow ONNX Runtime's QDQ quantizer (onnxruntime.quantization,
/// qdq_quantizer.py): one QuantizeLinear→DequantizeLinear pair per quantized
/// activation, shared by all its consumers and named `T_QuantizeLinear`,
/// `T_DequantizeLinear` (outputs `…_Output`, parameters `T_scale`,
/// `T_zero_point`); weights as `W_quantized` integers feeding one
/// DequantizeLinear (per-channel on the op's output-channel axis); biases of
/// quantized layers as int32 with scale s_input·s_weight; Relu/Clip after a
/// quantized producer removed (the producer's quantized output clamps);
/// shape-only ops and pooling reuse their input's scale. Each operator's
/// part is its ``QDQRule`` in the interpreter's registry.
///
/// One deliberate difference: graph outputs stay float (ONNX Runtime
/// quantizes them too), so a classifier's probabilities are not rounded to
/// 1/255 steps, which would create ties in the top-1 class.
///
/// The opset is raised when the QDQ form needs it: 13 for per-channel
/// parameters, 21 (with IR version 10) for int4 or blocked (per-group) weights.
///
/// int4 weights: two per byte in ONNX's nibble order (``Nibbles``); symmetric ones as int4
/// without a zero point (it is 0), asymmetric ones as uint4 (q + 8) with uint4 zero points,
/// ONNX Runtime's convention. With `int4-format=matmulnbits`, MatMul and Gemm layers with int4
/// per-group weights become ONNX Runtime's com.microsoft MatMulNBits instead (Conv layers stay
/// QDQ). MatMulNBits is weight-only: it reads float A and writes float Y, so such a layer adds
/// no Q/DQ pair on its input or output of its own (another quantized consumer or producer of
/// those values may still add one, which the MatMulNBits then reads, as any consumer does).
public struct InsertQDQ: Pass {
    public static let name = "insert-qdq"
    public static let summary = "Write the quantization decisions as QuantizeLinear/DequantizeLinear nodes (QDQ ONNX)."
    public static let options = [
        PassOption("int4-format", .choice(Int4Format.allCases.map(\.rawValue)), default: "qdq",
                   help: "int4 per-group MatMul/Gemm weights as blocked DequantizeLinear (qdq) or ONNX Runtime's MatMulNBits (weight-only)."),
    ]

    let int4Format: Int4Format

    public init(options: PassOptions) {
        int4Format = Int4Format(rawValue: options.string("int4-format")) ?? .qdq
    }

    public var pipelineText: String { int4Format == .qdq ? Self.name : "\(Self.name)(int4-format=\(int4Format.rawValue))" }

    public func run(on model: inout Model, context: inout PassContext) throws(PassError) {
        guard let activations = model.quantization.activations else {
            throw PassError(pass: Self.name, message: "no quantization decisions on the IR: run 'quantize' first")
        }
        guard !model.quantization.ranges.isEmpty else {
            throw PassError(pass: Self.name, message: "no calibrated ranges on the IR: run 'calibrate' before 'quantize'")
        }
        var builder = QDQBuilder(model: model, activations: activations, int4Format: int4Format)
        try builder.build(context: &context)
        model = builder.model
        if builder.usesMicrosoftDomain, model.opsetVersion(domain: "com.microsoft") == nil {
            model.opsetImports.append(OpsetImport(domain: "com.microsoft", version: 1))
        }
        try Self.raiseOpset(&model, to: builder.requiredOpset, context: &context)
    }

    /// Raises the default opset (and IR version) when the QDQ nodes need a newer one.
    static func raiseOpset(_ model: inout Model, to required: Int64, context: inout PassContext) throws(PassError) {
        let current = model.opsetVersion(domain: "") ?? 1
        guard current < required else { return }
        do {
            try OpsetUpgrade.upgrade(&model, to: required)
        } catch {
            throw PassError(pass: Self.name, message: "the quantized model needs opset \(required) (\(required >= 21 ? "int4 or per-group weights" : "per-channel scales")) but the model is opset \(current) and \(error); use per-tensor int8 weights (quantize(granularity=per-tensor)) to stay at opset \(current)")
        }
        context.note("raised the opset from \(current) to \(required)")
        model.irVersion = max(model.irVersion, required >= 21 ? 10 : 7)
    }
}

/// The rewriting behind ``InsertQDQ``.
struct QDQBuilder {
    var model: Model
    let activations: ActivationFormat
    let int4Format: Int4Format
    var requiredOpset: Int64 = 10
    /// A com.microsoft operator (MatMulNBits) was written.
    var usesMicrosoftDomain = false

    /// Quantization parameters of a quantized activation: its own, or shared with another value.
    struct Params {
        var q: QuantParameters
        var scale: String
        var zeroPoint: String
        /// The value whose range gave these parameters.
        var owner: String
    }

    /// Activations to quantize, in the order they were marked, with their parameters.
    private var marked: [String] = []
    private var params: [String: Params] = [:]
    private var taken: Set<String> = []
    /// Float initializers replaced by integer ones (removed at the end if unused).
    var replacedConstants: [String] = []
    var g: Graph { model.graph }

    init(model: Model, activations: ActivationFormat, int4Format: Int4Format = .qdq) {
        self.model = model
        self.activations = activations
        self.int4Format = int4Format
        taken = Set(model.graph.initializers.keys).union(model.graph.nodes.flatMap(\.outputs))
            .union(model.graph.nodes.map(\.name)).union(model.graph.inputs.map(\.name))
    }

    mutating func unique(_ name: String) -> String {
        var candidate = name, k = 1
        while taken.contains(candidate) {
            k += 1
            candidate = "\(name)_\(k)"
        }
        taken.insert(candidate)
        return candidate
    }

    var signed: Bool { activations.elementType == .int8 }

    func isFloat(_ value: String) -> Bool {
        if let t = g.initializers[value] { return t.elementType == .float32 }
        if let t = g.type(of: value)?.tensorType { return t.elementType == .float32 }
        // Values without declared types: the calibrated ones are float.
        return model.quantization.ranges[value] != nil
    }

    // MARK: - Marking

    /// Marks `value` for quantization with its own calibrated parameters.
    mutating func markOwn(_ value: String, range fixed: ValueRange? = nil, context: inout PassContext) {
        guard !value.isEmpty, params[value] == nil, isFloat(value), g.initializers[value] == nil, !g.isOutput(value) else { return }
        guard let range = fixed ?? model.quantization.ranges[value] else {
            context.count("values left float (no calibrated range)")
            return
        }
        let q = QuantParameters(range: range, bits: 8, signed: signed, symmetric: activations.symmetric)
        let scale = unique("\(value)_scale"), zp = unique("\(value)_zero_point")
        model.graph.initializers[scale] = Tensor(floats: [q.scale], shape: [], name: scale)
        model.graph.initializers[zp] = zeroPointTensor([q.zeroPoint], shape: [], name: zp)
        params[value] = Params(q: q, scale: scale, zeroPoint: zp, owner: value)
        marked.append(value)
    }

    /// Marks `value` to reuse `source`'s parameters.
    mutating func markShared(_ value: String, with source: String) {
        guard !value.isEmpty, params[value] == nil, isFloat(value), !g.isOutput(value), let p = params[source] else { return }
        params[value] = p
        marked.append(value)
    }

    func zeroPointTensor(_ values: [Int32], shape: [Int], name: String) -> Tensor {
        signed ? Tensor(.int8, shape: shape, values: values.map { Int8($0) }, name: name)
               : Tensor(.uint8, shape: shape, values: values.map { UInt8($0) }, name: name)
    }

    // MARK: - Building

    mutating func build(context: inout PassContext) throws(PassError) {
        let excluded = Set(model.quantization.excluded)
        let layers = Dictionary(model.quantization.layers.map { ($0.node, $0) }, uniquingKeysWith: { a, _ in a })
        var weightNodes: [Int: [Node]] = [:]   // DequantizeLinear nodes of constants, by consumer index
        var afterNodes: [Int: [Node]] = [:]    // nodes written right after a rewritten one (MatMulNBits' Add)
        var removed: Set<Int> = []
        // Of the graph as it was: removing a Relu/Clip only renames a value its single reader
        // (the removed node) read, so what later nodes look up here stays right.
        let producers = g.producers(), uses = g.useCounts()
        // Layers that keep float weights and read their data input unquantized, and those inputs.
        let floatReaders = model.graph.nodes.filter { readsFloatInput($0, layers: layers, excluded: excluded) }
        let floatReaderNames = Set(floatReaders.map(\.name)), floatReadValues = Set(floatReaders.map { $0.inputs[0] })
        var i = 0
        while i < model.graph.nodes.count {
            defer { i += 1 }
            let node = model.graph.nodes[i]
            guard node.isDefaultDomain, !excluded.contains(node.name), let rule = OpRegistry.entry(for: node)?.qdq else { continue }
            switch rule {
            case .weighted(let wi, let bi, _):
                if int4Format == .matmulnbits, let layer = layers[node.name] {
                    let obstacle = try matMulNBitsObstacle(node, layer: layer)
                    if obstacle == nil {
                        afterNodes[i] = try writeMatMulNBits(node, at: i, layer: layer, weightShared: uses[layer.weight, default: 0] > 1,
                                                             context: &context)
                        context.count("layers quantized")
                        continue
                    }
                    if let obstacle, !obstacle.isEmpty {
                        context.note("layer '\(node.name)' stays QDQ, not MatMulNBits: \(obstacle)")
                    }
                }
                if let layer = layers[node.name], layer.format != .float32 {
                    // A layer whose weights stay float (fp16) reads its input in float (see readsFloatInput).
                    if !floatReaderNames.contains(node.name) { markOwn(node.inputs[0], context: &context) }
                    for o in node.outputs { markOwn(o, context: &context) }
                    weightNodes[i, default: []] += try weightAndBias(of: node, at: i, layer: layer, biasInput: bi,
                                                                         weightShared: uses[layer.weight, default: 0] > 1, context: &context)
                    context.count("layers quantized")
                } else if wi < node.inputs.count, g.initializers[node.inputs[wi]] == nil,
                          g.initializers[node.inputs[0]] == nil {
                    // Both operands are activations (e.g. attention's Q·Kᵀ): each gets its own parameters.
                    for input in node.inputs.prefix(2) { markOwn(input, context: &context) }
                    for o in node.outputs { markOwn(o, context: &context) }
                }
            case .own, .ownFixedOutput:
                var fixed: ValueRange?
                if case .ownFixedOutput(let r) = rule { fixed = r }
                for (k, input) in node.inputs.enumerated() where !input.isEmpty && isFloat(input) {
                    if let constant = g.initializers[input] {
                        weightNodes[i, default: []] += constantAsActivation(constant, input: k, of: i)
                    } else {
                        markOwn(input, context: &context)
                    }
                }
                for o in node.outputs { markOwn(o, range: fixed, context: &context) }
            case .shareInput:
                guard let first = node.inputs.first, params[first] != nil else { continue }
                for o in node.outputs { markShared(o, with: first) }
            case .shareInputAlways:
                guard let first = node.inputs.first else { continue }
                markOwn(first, context: &context)
                for o in node.outputs { markShared(o, with: first) }
            case .removableActivation:
                guard let input = node.inputs.first, let inputParams = params[input], let output = node.outputs.first else { continue }
                if !activations.symmetric, inputParams.owner == input, let p = producers[input], !g.isOutput(input), !g.isOutput(output),
                   uses[input] == 1, model.quantization.ranges[output] != nil, !removed.contains(p),
                   !floatReadValues.contains(output) {
                    // The producer writes the activation's output; its quantized range (from
                    // the activation's output, so it starts at ≥ 0 / ends at the Clip bound) clamps.
                    let old = params.removeValue(forKey: input)!
                    marked.removeAll { $0 == input }
                    model.graph.initializers[old.scale] = nil
                    model.graph.initializers[old.zeroPoint] = nil
                    taken.remove(old.scale)
                    taken.remove(old.zeroPoint)
                    for k in model.graph.nodes[p].outputs.indices where model.graph.nodes[p].outputs[k] == input {
                        model.graph.nodes[p].outputs[k] = output
                    }
                    model.graph.valueInfo[input] = nil
                    removed.insert(i)
                    markOwn(output, context: &context)
                    context.count("activations folded into quantization")
                } else {
                    markOwn(output, context: &context)
                }
            }
        }

        // Materialize: the pairs after each producer, constants' DequantizeLinear before their consumer.
        var byProducer: [Int: [String]] = [:]
        var atStart: [String] = []
        var writers: [String: Int] = [:]
        for (k, n) in model.graph.nodes.enumerated() where !removed.contains(k) {
            for o in n.outputs + (afterNodes[k] ?? []).flatMap(\.outputs) { writers[o] = k }
        }
        for v in marked {
            if let p = writers[v] { byProducer[p, default: []].append(v) } else { atStart.append(v) }
        }
        var nodes: [Node] = []
        var renames: [String: String] = [:]
        var quantizers: Set<String> = []
        func pair(_ v: String, _ b: inout QDQBuilder) -> [Node] {
            let p = b.params[v]!
            let qOut = b.unique("\(v)_QuantizeLinear_Output"), dqOut = b.unique("\(v)_DequantizeLinear_Output")
            renames[v] = dqOut
            let qName = b.unique("\(v)_QuantizeLinear")
            quantizers.insert(qName)
            return [Node(name: qName, opType: "QuantizeLinear", inputs: [v, p.scale, p.zeroPoint], outputs: [qOut]),
                    Node(name: b.unique("\(v)_DequantizeLinear"), opType: "DequantizeLinear", inputs: [qOut, p.scale, p.zeroPoint], outputs: [dqOut])]
        }
        var pairs: [Node] = []
        for v in atStart { pairs += pair(v, &self) }
        nodes += pairs
        for (k, n) in model.graph.nodes.enumerated() where !removed.contains(k) {
            nodes += weightNodes[k] ?? []
            nodes.append(n)
            nodes += afterNodes[k] ?? []
            for v in byProducer[k] ?? [] { nodes += pair(v, &self) }
        }
        // Consumers read the dequantized values; the Q nodes read the originals, and so do
        // the data inputs of layers that keep float weights.
        for k in nodes.indices where !quantizers.contains(nodes[k].name) {
            for j in nodes[k].inputs.indices {
                if j == 0 && floatReaderNames.contains(nodes[k].name) { continue }
                if let r = renames[nodes[k].inputs[j]] { nodes[k].inputs[j] = r }
            }
        }
        model.graph.nodes = nodes
        context.count("activations quantized", marked.count)
        // The float weights, biases and constants now stored as integers.
        let remaining = model.graph.useCounts()
        for name in replacedConstants where remaining[name, default: 0] == 0 {
            model.graph.initializers[name] = nil
            if let k = model.graph.inputs.firstIndex(where: { $0.name == name }) { model.graph.inputs.remove(at: k) }
        }
    }

    /// True for a Conv, ConvTranspose or Gemm whose constant weights stay float (fp16,
    /// fp32, or excluded): it reads its data input unquantized. ONNX Runtime's
    /// WeightBiasQuantization transformer (onnxruntime/core/optimizer/qdq_transformer/
    /// weight_bias_quantization.cc, default optimization level) rewrites any such node
    /// whose data input comes from a per-tensor DequantizeLinear by quantizing its float
    /// weights to symmetric per-tensor int8, so that it fuses into QLinearConv/QGemm: an
    /// fp16 layer would then run with per-tensor int8 weights (on layout_cdla, whose folded
    /// batch norms scale channels by up to 70×, F1 against float fell from 0.68 to 0.002
    /// with every layer "fp16"). Read in float, the layer runs as chosen, in quantc's
    /// simulation and in ONNX Runtime alike; the value's producer then has a float reader
    /// besides its QuantizeLinear, so neither fuses it with that QuantizeLinear.
    func readsFloatInput(_ node: Node, layers: [String: LayerQuantization], excluded: Set<String>) -> Bool {
        guard node.isDefaultDomain, ["Conv", "ConvTranspose", "Gemm"].contains(node.opType), node.inputs.count >= 2,
              g.initializers[node.inputs[1]] != nil else { return false }
        if excluded.contains(node.name) { return true }
        guard let layer = layers[node.name] else { return true }
        return layer.format == .float32 || layer.format == .float16
    }

    /// DequantizeLinear nodes (and integer initializers) for a quantized layer's
    /// weight and bias; rewires the layer to read them.
    mutating func weightAndBias(of node: Node, at index: Int, layer: LayerQuantization, biasInput: Int?, weightShared: Bool,
                                context: inout PassContext) throws(PassError) -> [Node] {
        guard let w = g.initializers[layer.weight] else { return [] }
        var out: [Node] = []
        switch layer.format {
        case .float32:
            return []
        case .float16:
            let half = unique("\(layer.weight)_fp16"), cast = unique("\(layer.weight)_Cast_Output")
            let values = w.floatValues() ?? []
            model.graph.initializers[half] = Tensor(.float16, shape: w.shape, values: values.map { HalfFloat.fromFloat($0) }, name: half)
            out.append(Node(name: unique("\(layer.weight)_Cast"), opType: "Cast", inputs: [half],
                            outputs: [cast], attributes: [Attribute("to", .int(Int64(ElementType.float32.rawValue)))]))
            model.graph.nodes[index].inputs[layer.weightInput] = cast
            replacedConstants.append(layer.weight)
            return out
        case .integer(let bits, let granularity, let symmetric):
            guard let q = layer.quantized else {
                throw PassError(pass: InsertQDQ.name, message: "layer '\(layer.node)' has no rounded weights: run 'quantize' (or 'round') before 'insert-qdq'")
            }
            let base = weightShared ? "\(layer.weight)_\(layer.node)" : layer.weight
            let qName = unique("\(base)_quantized"), sName = unique("\(base)_scale"), zName = unique("\(base)_zero_point")
            let dqOut = unique("\(base)_DequantizeLinear_Output")
            // int4: symmetric as int4 with no zero point (0 is the default), asymmetric as uint4
            // (q + 8, zero point + 8: the same values), as ONNX Runtime writes them.
            let symmetric4 = bits == 4 && symmetric
            let shift = bits == 4 && !symmetric ? 8 : 0
            let type: ElementType = bits == 8 ? .int8 : symmetric ? .int4 : .uint4
            // [O][C·kh·kw] when groups run over a convolution's flattened axes (``GroupSpan``).
            let stored = WeightQuantizer.ScaleLayout(shape: w.shape, granularity: granularity, channelAxis: layer.channelAxis,
                                                     groupAxis: layer.groupAxis).flatShape
            model.graph.initializers[qName] = Self.integerTensor(q.values.map { Int($0) + shift }, type: type, shape: stored, name: qName)
            model.graph.initializers[sName] = Tensor(floats: q.scales, shape: q.scaleShape, name: sName)
            if !symmetric4 {
                model.graph.initializers[zName] = Self.integerTensor(q.zeroPoints.map { Int($0) + shift }, type: type, shape: q.scaleShape, name: zName)
            } else {
                taken.remove(zName)
            }
            var attrs: [Attribute] = []
            if let axis = q.axis { attrs.append(Attribute("axis", .int(Int64(axis)))) }
            if let block = q.blockSize { attrs.append(Attribute("block_size", .int(Int64(block)))) }
            out.append(Node(name: unique("\(base)_DequantizeLinear"), opType: "DequantizeLinear",
                            inputs: symmetric4 ? [qName, sName] : [qName, sName, zName], outputs: [dqOut], attributes: attrs))
            if stored != w.shape {
                // Groups over a convolution's flattened C·kh·kw: back to [O][C][kh][kw].
                let shapeName = unique("\(base)_shape"), reshaped = unique("\(base)_Reshape_Output")
                model.graph.initializers[shapeName] = Tensor(.int64, shape: [w.shape.count], values: w.shape.map { Int64($0) }, name: shapeName)
                out.append(Node(name: unique("\(base)_Reshape"), opType: "Reshape", inputs: [dqOut, shapeName], outputs: [reshaped]))
                model.graph.nodes[index].inputs[layer.weightInput] = reshaped
            } else {
                model.graph.nodes[index].inputs[layer.weightInput] = dqOut
            }
            replacedConstants.append(layer.weight)
            if bits == 4 || q.blockSize != nil { requiredOpset = max(requiredOpset, 21) }
            else if q.axis != nil { requiredOpset = max(requiredOpset, 13) }

            // Bias: int32 with scale s_x·s_w (per channel when the weight is), zero point 0;
            // only for per-tensor and per-channel weights, where one weight scale covers a channel.
            if let bias = layer.bias, let bi = biasInput, bi < node.inputs.count, node.inputs[bi] == bias,
               !granularity.isPerGroup, let input = params[node.inputs[0]], let b = g.initializers[bias]?.floatValues() {
                let channels = b.count
                let weightScales = q.scales.count == 1 ? [Float](repeating: q.scales[0], count: channels) : q.scales
                guard weightScales.count == channels else { return out }
                let scales = weightScales.map { input.q.scale * $0 }
                var ints = [Int32](repeating: 0, count: channels)
                for c in 0..<channels where scales[c] > 0 {
                    let v = (Double(b[c]) / Double(scales[c])).rounded(.toNearestOrEven)
                    ints[c] = Int32(max(min(v, Double(Int32.max)), Double(Int32.min)))
                }
                let bq = unique("\(bias)_quantized"), bs = unique("\(bias)_quantized_scale"), bz = unique("\(bias)_quantized_zero_point")
                let perChannel = q.scales.count > 1
                let bOut = unique("\(bias)_DequantizeLinear_Output")
                model.graph.initializers[bq] = Tensor(.int32, shape: [channels], values: ints, name: bq)
                model.graph.initializers[bs] = Tensor(floats: perChannel ? scales : [scales[0]], shape: perChannel ? [channels] : [], name: bs)
                model.graph.initializers[bz] = Tensor(.int32, shape: perChannel ? [channels] : [],
                                                      values: [Int32](repeating: 0, count: perChannel ? channels : 1), name: bz)
                out.append(Node(name: unique("\(bias)_DequantizeLinear"), opType: "DequantizeLinear", inputs: [bq, bs, bz],
                                outputs: [bOut], attributes: perChannel ? [Attribute("axis", .int(0))] : []))
                model.graph.nodes[index].inputs[bi] = bOut
                replacedConstants.append(bias)
                context.count("biases quantized to int32")
            }
            return out
        }
    }

    /// A float initializer read by a quantized op (an Add's bias, a Mul's scale):
    /// stored as activation-type integers from its own min/max, as ONNX Runtime does.
    mutating func constantAsActivation(_ t: Tensor, input k: Int, of index: Int) -> [Node] {
        guard let values = t.floatValues(), !values.isEmpty else { return [] }
        let finite = values.filter(\.isFinite)
        let range = ValueRange(low: finite.min() ?? 0, high: finite.max() ?? 0)
        let q = QuantParameters(range: range, bits: 8, signed: signed, symmetric: activations.symmetric)
        let name = model.graph.nodes[index].inputs[k]
        replacedConstants.append(name)
        let qName = unique("\(name)_quantized"), sName = unique("\(name)_scale"), zName = unique("\(name)_zero_point")
        let out = unique("\(name)_DequantizeLinear_Output")
        let ints = values.map { q.quantize($0) }
        model.graph.initializers[qName] = signed ? Tensor(.int8, shape: t.shape, values: ints.map { Int8($0) }, name: qName)
                                                 : Tensor(.uint8, shape: t.shape, values: ints.map { UInt8($0) }, name: qName)
        model.graph.initializers[sName] = Tensor(floats: [q.scale], shape: [], name: sName)
        model.graph.initializers[zName] = zeroPointTensor([q.zeroPoint], shape: [], name: zName)
        model.graph.nodes[index].inputs[k] = out
        return [Node(name: unique("\(name)_DequantizeLinear"), opType: "DequantizeLinear", inputs: [qName, sName, zName], outputs: [out])]
    }

    static func integerTensor(_ values: [Int], type: ElementType, shape: [Int], name: String) -> Tensor {
        if type == .int4 || type == .uint4 {
            let packed = Nibbles.pack(values)
            return Tensor(elementType: type, shape: shape, data: .bytes(packed.withUnsafeBytes { ByteBuffer(copying: $0) }), name: name)
        }
        return Tensor(.int8, shape: shape, values: values.map { Int8($0) }, name: name)
    }
}

extension Granularity {
    var isPerGroup: Bool {
        if case .perGroup = self { true } else { false }
    }
}
