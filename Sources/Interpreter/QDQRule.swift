import IR

/// How an operator takes part in QDQ quantization, following ONNX Runtime's
/// QDQ quantizer (onnxruntime/python/tools/quantization: registry.py and the
/// handlers under operators/) so that its runtime fuses the patterns we write.
/// The rule is part of the operator's ``OpEntry``.
public enum QDQRule: Sendable {
    /// A layer with a constant weight (Conv, ConvTranspose, Gemm, MatMul): input 0
    /// and the output are quantized activations, input `weight` is stored in the
    /// layer's format, input `bias` (when it is an initializer) as int32 with scale
    /// s_input·s_weight. `axes` gives the weight's output-channel axis and the
    /// axis along which per-group blocks run (the reduction axis).
    case weighted(weight: Int, bias: Int?, axes: @Sendable (_ node: Node, _ weightRank: Int) -> (channel: Int, group: Int))
    /// Every float input (initializers too, by their own min/max) and every
    /// output quantized with its own parameters (Add, Mul, Concat, Sigmoid, ...).
    case own
    /// As `own`, with the output's range fixed (Softmax: [0, 1]).
    case ownFixedOutput(ValueRange)
    /// Quantized only when input 0 already is (by an earlier node); the outputs
    /// reuse input 0's scale and zero point (Reshape, Transpose, MaxPool, ...).
    case shareInput
    /// Input 0 always quantized, every output reuses its parameters (Split).
    case shareInputAlways
    /// Relu and Clip: when input 0 comes from a quantized producer with no other
    /// consumer and activations are asymmetric, the node is removed and the
    /// producer's quantized output (with this node's range) does the clamping.
    case removableActivation
}

extension QDQRule {
    /// Rules by operator, merged into ``OpRegistry/entries``. Operators not
    /// listed are not quantized themselves; they read dequantized inputs.
    static let table: [String: QDQRule] = [
        "Conv": .weighted(weight: 1, bias: 2) { _, _ in (0, 1) },
        // W is [C_in, C_out/group, k...]: outputs on axis 1, reduction over axis 0.
        "ConvTranspose": .weighted(weight: 1, bias: 2) { _, _ in (1, 0) },
        "Gemm": .weighted(weight: 1, bias: 2) { node, _ in
            (node[attribute: "transB"]?.intValue ?? 0) != 0 ? (0, 1) : (1, 0)
        },
        "MatMul": .weighted(weight: 1, bias: nil) { _, rank in (rank - 1, rank - 2) },
        "Add": .own, "Mul": .own, "Concat": .own, "GlobalAveragePool": .own,
        "Sigmoid": .own, "LeakyRelu": .own,
        "Softmax": .ownFixedOutput(ValueRange(low: 0, high: 1)),
        "Reshape": .shareInput, "Transpose": .shareInput, "Squeeze": .shareInput, "Unsqueeze": .shareInput,
        "Flatten": .shareInput, "AveragePool": .shareInput, "MaxPool": .shareInput, "Slice": .shareInput,
        "Resize": .shareInput, "Gather": .shareInput,
        "Split": .shareInputAlways,
        "Relu": .removableActivation, "Clip": .removableActivation,
    ]
}
