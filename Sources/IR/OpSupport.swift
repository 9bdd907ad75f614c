/// Operators of the default ONNX domain that quantc's pipeline handles
/// (interpreter, calibration, quantization and code generation). `inspect`
/// lists a model's other operators so a user knows up front what will not run.
public enum OpSupport {
    public static let defaultDomain: Set<String> = [
        // Elementwise unary
        "Abs", "Neg", "Exp", "Log", "Sqrt", "Reciprocal", "Sigmoid", "Tanh", "Relu", "LeakyRelu", "PRelu",
        "Elu", "Selu", "Celu", "HardSigmoid", "HardSwish", "Softplus", "Softsign", "Mish", "Erf", "Gelu",
        "Floor", "Ceil", "Round", "Sign", "Sin", "Cos", "Not", "Clip", "Identity", "Dropout", "Cast", "CastLike",
        // Elementwise binary and variadic
        "Add", "Sub", "Mul", "Div", "Pow", "Mod", "Max", "Min", "Sum", "Mean", "Equal", "Less", "Greater",
        "LessOrEqual", "GreaterOrEqual", "And", "Or", "Xor", "Where",
        // Linear algebra, normalization, pooling
        "Conv", "ConvTranspose", "Gemm", "MatMul", "BatchNormalization", "InstanceNormalization",
        "LayerNormalization", "GroupNormalization", "LRN", "MaxPool", "AveragePool", "GlobalAveragePool",
        "GlobalMaxPool", "Softmax", "LogSoftmax", "Flatten",
        // Reductions
        "ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL2", "ReduceSumSquare",
        "ArgMax", "ArgMin",
        // Shape and data movement
        "Reshape", "Transpose", "Concat", "Split", "Slice", "Gather", "GatherElements", "Squeeze", "Unsqueeze",
        "Expand", "Tile", "Pad", "Shape", "Size", "ConstantOfShape", "Constant", "Range", "Resize", "Upsample",
        "DepthToSpace", "SpaceToDepth", "TopK", "CumSum", "Einsum",
        // Control flow and recurrent
        "If", "LSTM", "GRU",
        // Quantization
        "QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear",
    ]

    /// Whether quantc handles `node`'s operator.
    public static func isSupported(_ node: Node) -> Bool {
        node.isDefaultDomain && defaultDomain.contains(node.opType)
    }
}
