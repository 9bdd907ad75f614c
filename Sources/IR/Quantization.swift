/// What quantization passes know about a model, carried on the IR between
/// passes and into the report: calibrated ranges of values, the activation
/// format, and the format (and quantized weights) chosen for each layer.
public struct QuantizationState: Hashable, Sendable {
    /// Calibrated [low, high] of float values, keyed by value name.
    public var ranges: [String: ValueRange] = [:]
    /// How the ranges were obtained, e.g. "entropy over 600 samples".
    public var calibration: String?
    /// Alternative range sets from other calibration methods (`calibrate(method=auto)`),
    /// for a driver that measures which one quantizes the model best.
    public var candidates: [RangeCandidate] = []
    /// How activations are quantized; nil until a `quantize` pass ran.
    public var activations: ActivationFormat?
    /// Quantizable layers in graph order, with their chosen formats.
    public var layers: [LayerQuantization] = []
    /// Nodes the user kept in float (`--exclude`), in graph order.
    public var excluded: [String] = []
    /// int8 weights use ONNX Runtime's 7-bit range (`quantize(reduce-range=true)`, what
    /// `--budget` stores): the sensitivity passes score int8 candidates in it too.
    public var int8ReducedRange = false
    /// Formats the sensitivity and allocation passes consider (empty: ``CandidateFormats/standard``).
    public var candidateFormats: [WeightFormat] = []
    /// Per-layer sensitivity scores, one table per method, in the order the passes ran.
    public var sensitivities: [SensitivityTable] = []
    /// The mixed-precision allocation, once an `allocate` pass ran.
    public var allocation: AllocationRecord?

    public init() {}

    public var isEmpty: Bool {
        ranges.isEmpty && calibration == nil && activations == nil && layers.isEmpty && sensitivities.isEmpty && allocation == nil
    }

    /// ``candidateFormats``, or the standard set when none were chosen.
    public var formatsConsidered: [WeightFormat] { candidateFormats.isEmpty ? CandidateFormats.standard : candidateFormats }

    public func layer(named node: String) -> LayerQuantization? { layers.first { $0.node == node } }
}

/// The ranges one calibration method chose, for every calibrated value.
public struct RangeCandidate: Hashable, Sendable {
    public var method: String
    public var ranges: [String: ValueRange]
    public init(method: String, ranges: [String: ValueRange]) {
        self.method = method
        self.ranges = ranges
    }
}

/// A closed range of real values.
public struct ValueRange: Hashable, Sendable, Codable {
    public var low: Float
    public var high: Float
    public init(low: Float, high: Float) {
        self.low = low
        self.high = high
    }
}

/// How many weights share one scale.
public enum Granularity: Hashable, Sendable, Codable {
    case perTensor
    case perChannel
    /// Blocks of this many consecutive weights along the reduction axis, per output channel.
    case perGroup(Int)
}

/// Where per-group blocks run in a weight tensor.
///
/// Along `groupAxis` alone, except when every axis after it is a reduction axis
/// too, as in a convolution's [O][C][kh][kw]: then a group runs over the flattened
/// C·kh·kw of an output channel, as GPTQ's reference code flattens a Conv2d weight
/// (`W.flatten(1)`), so that a group holds g weights even when C < g. Blocks along
/// C alone would give every spatial tap its own scale: a 3×3 convolution over one
/// input channel would store a float scale per weight. The flattened weight is
/// exported as [O][C·kh·kw] with its blocked DequantizeLinear, then a Reshape.
public enum GroupSpan {
    /// Whether groups run over the flattened axes `groupAxis...` of `shape`.
    /// (A 1×1 convolution's blocks along C are already flat: it keeps its shape.)
    public static func flattens(shape: [Int], channelAxis: Int, groupAxis: Int) -> Bool {
        channelAxis < groupAxis && groupAxis < shape.count - 1 && shape[(groupAxis + 1)...].reduce(1, *) > 1
    }

    /// The weight as `outer` × `k` × `inner`: blocks of g cut the `k` axis, and
    /// `inner` is the stride between a block's elements (1 when flattened).
    public static func extent(shape: [Int], channelAxis: Int, groupAxis: Int) -> (outer: Int, k: Int, inner: Int) {
        let a = min(groupAxis, shape.count - 1)
        let outer = shape[..<a].reduce(1, *)
        if flattens(shape: shape, channelAxis: channelAxis, groupAxis: groupAxis) {
            return (outer, shape[a...].reduce(1, *), 1)
        }
        return (outer, shape[a], shape[(a + 1)...].reduce(1, *))
    }
}

/// The storage format of one layer's weights.
public enum WeightFormat: Hashable, Sendable, Codable, CustomStringConvertible {
    /// Kept in float32 (excluded from quantization).
    case float32
    case float16
    /// Integers of `bits` (8 or 4, signed) with a float scale per tensor, channel or group;
    /// asymmetric formats add an integer zero point.
    case integer(bits: Int, granularity: Granularity, symmetric: Bool)

    public static let int8PerChannel = WeightFormat.integer(bits: 8, granularity: .perChannel, symmetric: true)

    /// `fp32`, `fp16`, `int8/channel`, `int8/tensor`, `int4/g32`, with `/asym` for asymmetric.
    public var description: String {
        switch self {
        case .float32: return "fp32"
        case .float16: return "fp16"
        case .integer(let bits, let g, let sym):
            let gran = switch g {
            case .perTensor: "tensor"
            case .perChannel: "channel"
            case .perGroup(let n): "g\(n)"
            }
            return "int\(bits)/\(gran)" + (sym ? "" : "/asym")
        }
    }

    /// Parses the `description` form; `int8` alone means per-channel, `int4` alone g32.
    public init?(parsing text: String) {
        let parts = text.lowercased().split(separator: "/").map(String.init)
        guard let head = parts.first else { return nil }
        switch head {
        case "fp32", "float32", "float": self = .float32; return
        case "fp16", "float16": self = .float16; return
        case "int8", "int4": break
        default: return nil
        }
        let bits = head == "int8" ? 8 : 4
        var granularity: Granularity = bits == 8 ? .perChannel : .perGroup(32)
        var symmetric = true
        for p in parts.dropFirst() {
            switch p {
            case "tensor": granularity = .perTensor
            case "channel": granularity = .perChannel
            case "asym": symmetric = false
            case "sym": symmetric = true
            default:
                guard p.hasPrefix("g"), let n = Int(p.dropFirst()), n >= 2 else { return nil }
                granularity = .perGroup(n)
            }
        }
        self = .integer(bits: bits, granularity: granularity, symmetric: symmetric)
    }

    /// Bits of one stored weight, not counting scales.
    public var bits: Int {
        switch self {
        case .float32: 32
        case .float16: 16
        case .integer(let b, _, _): b
        }
    }
}

/// Activations: 8-bit, unsigned (ONNX Runtime's default) or signed, asymmetric
/// unless `symmetric`.
public struct ActivationFormat: Hashable, Sendable, Codable, CustomStringConvertible {
    public var elementType: ElementType
    public var symmetric: Bool

    public init(elementType: ElementType, symmetric: Bool) {
        self.elementType = elementType
        self.symmetric = symmetric
    }

    public var description: String { "\(elementType == .uint8 ? "uint8" : "int8")\(symmetric ? "/sym" : "")" }
}

/// One quantizable layer (Conv, ConvTranspose, Gemm, MatMul with a constant
/// weight): which initializer holds its weight, along which axis its output
/// channels lie, the chosen format and, once rounded, the integer weights.
public struct LayerQuantization: Hashable, Sendable {
    public var node: String
    public var opType: String
    /// The weight initializer and the node input it feeds.
    public var weight: String
    public var weightInput: Int
    /// The float bias initializer, if the layer has one.
    public var bias: String?
    /// Axis of the weight tensor that indexes output channels.
    public var channelAxis: Int
    /// Axis along which per-group blocks run (the reduction axis).
    public var groupAxis: Int
    public var format: WeightFormat
    /// The rounded weights for integer formats; nil until a rounding pass ran.
    public var quantized: QuantizedWeight?
    /// Why this format was chosen (allocation, pin, exclusion), for the report.
    public var reason: String?
    /// Per-layer figures that are not per-format scores, by name, e.g.
    /// `curvature.kappa`, `curvature.lipschitz`, `curvature.min-bits`.
    public var metrics: [String: Double] = [:]

    public init(node: String, opType: String, weight: String, weightInput: Int, bias: String?,
                channelAxis: Int, groupAxis: Int, format: WeightFormat) {
        self.node = node
        self.opType = opType
        self.weight = weight
        self.weightInput = weightInput
        self.bias = bias
        self.channelAxis = channelAxis
        self.groupAxis = groupAxis
        self.format = format
    }
}

/// Integer weights with their scales and zero points, laid out as ONNX's
/// DequantizeLinear takes them: `scales` and `zeroPoints` have `scaleShape`
/// (a scalar per tensor, [C] per channel on `axis`, and for blocks the
/// weight's shape with dimension `axis` divided by `blockSize`, rounded up).
public struct QuantizedWeight: Hashable, Sendable {
    public var bits: Int
    public var values: [Int8]
    public var scales: [Float]
    public var zeroPoints: [Int8]
    public var scaleShape: [Int]
    /// The DequantizeLinear axis; nil per tensor.
    public var axis: Int?
    /// Block size for per-group formats.
    public var blockSize: Int?
    /// How the integers were chosen ("rtn", "gptq").
    public var rounding: String

    public init(bits: Int, values: [Int8], scales: [Float], zeroPoints: [Int8], scaleShape: [Int], axis: Int?,
                blockSize: Int?, rounding: String) {
        self.bits = bits
        self.values = values
        self.scales = scales
        self.zeroPoints = zeroPoints
        self.scaleShape = scaleShape
        self.axis = axis
        self.blockSize = blockSize
        self.rounding = rounding
    }

    public var isSymmetric: Bool { zeroPoints.allSatisfy { $0 == 0 } }
}

extension ElementType: Codable {}
