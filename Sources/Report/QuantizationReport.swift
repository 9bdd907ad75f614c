import Foundation
import IR
import Passes

/// What quantization cost, per layer and end to end: the content of
/// `OUT.report.json` and of the table `quantc quantize` prints.
public struct QuantizationReport: Codable, Sendable {
    public struct Layer: Codable, Sendable {
        public var node: String
        public var op: String
        public var format: String
        public var rounding: String?
        public var weights: Int
        /// Bits per weight stored, including scales and zero points.
        public var bitsPerWeight: Double
        public var floatBytes: Int
        public var bytes: Int
        /// The rounded weights against the float ones.
        public var weightError: ErrorStatistics?
        /// The layer's (dequantized) output in the quantized model against the float model's, on the evaluation data.
        public var activationError: ErrorStatistics?

        enum CodingKeys: String, CodingKey {
            case node, op, format, rounding, weights, bitsPerWeight = "bits_per_weight", floatBytes = "float_bytes", bytes
            case weightError = "weight_error", activationError = "activation_error"
        }
    }

    public struct Output: Codable, Sendable {
        public var name: String
        public var error: ErrorStatistics
        /// Rows whose top-1 class agrees with the float model's (class-score outputs).
        public var top1Agreement: Double?

        enum CodingKeys: String, CodingKey { case name, error, top1Agreement = "top1_agreement" }

        public init(name: String, error: ErrorStatistics, top1Agreement: Double?) {
            self.name = name
            self.error = error
            self.top1Agreement = top1Agreement
        }
    }

    public struct Accuracy: Codable, Sendable {
        public var float: Double
        public var quantized: Double
        public var samples: Int

        public init(float: Double, quantized: Double, samples: Int) {
            self.float = float
            self.quantized = quantized
            self.samples = samples
        }
    }

    public var tool = "quantc \(QuantCInfo.version)"
    public var model: String
    public var output: String
    public var pipeline: String
    public var calibration: String?
    public var activations: String?
    /// What the end-to-end figures were measured on.
    public var evaluation: String
    public var evaluationSamples: Int
    public var layers: [Layer]
    public var outputs: [Output]
    public var accuracy: Accuracy?
    public var floatModelBytes: Int
    public var quantizedModelBytes: Int
    public var floatWeightBytes: Int
    public var quantizedWeightBytes: Int
    public var notes: [String]
    /// The measured size/accuracy curve of `--pareto`, if one was swept.
    public var pareto: [ParetoPoint]?

    public init(model: String, output: String, pipeline: String, calibration: String?, activations: String?,
                evaluation: String, evaluationSamples: Int, layers: [Layer], outputs: [Output], accuracy: Accuracy?,
                floatModelBytes: Int, quantizedModelBytes: Int, floatWeightBytes: Int, quantizedWeightBytes: Int, notes: [String]) {
        self.model = model
        self.output = output
        self.pipeline = pipeline
        self.calibration = calibration
        self.activations = activations
        self.evaluation = evaluation
        self.evaluationSamples = evaluationSamples
        self.layers = layers
        self.outputs = outputs
        self.accuracy = accuracy
        self.floatModelBytes = floatModelBytes
        self.quantizedModelBytes = quantizedModelBytes
        self.floatWeightBytes = floatWeightBytes
        self.quantizedWeightBytes = quantizedWeightBytes
        self.notes = notes
    }

    enum CodingKeys: String, CodingKey {
        case tool, model, output, pipeline, calibration, activations, evaluation
        case evaluationSamples = "evaluation_samples", layers, outputs, accuracy
        case floatModelBytes = "float_model_bytes", quantizedModelBytes = "quantized_model_bytes"
        case floatWeightBytes = "float_weight_bytes", quantizedWeightBytes = "quantized_weight_bytes", notes, pareto
    }

    /// Per-layer weight figures from the decisions on the quantized IR and the float weights.
    public static func layers(of quantized: Model, floatWeights: [String: Tensor], comparison: ModelComparison?,
                              watch: [String: ModelComparison.Watch]) -> [Layer] {
        quantized.quantization.layers.map { l in
            let w = floatWeights[l.weight]
            let n = w?.elementCount ?? 0
            let floatBytes = n * 4
            var bytes = floatBytes
            var weightError: ErrorStatistics?
            if let q = l.quantized, let w, let values = w.floatValues(), case .integer(_, let granularity, _) = l.format {
                // The shared cost function: integers, float scales, zero points only when asymmetric
                // (what the int4 exports store; int8 QDQ also writes zeros for symmetric weights).
                bytes = l.format.storageBytes(shape: w.shape, channelAxis: l.channelAxis, groupAxis: l.groupAxis)
                let deq = WeightQuantizer.dequantize(q, shape: w.shape, granularity: granularity,
                                                     channelAxis: l.channelAxis, groupAxis: l.groupAxis)
                weightError = ErrorStatistics(reference: values, approximation: deq)
            } else if l.format == .float16 {
                bytes = n * 2
            }
            let act = watch[l.node].flatMap { comparison?.values[$0.float] }
            return Layer(node: l.node, op: l.opType, format: l.format.description, rounding: l.quantized?.rounding,
                         weights: n, bitsPerWeight: n > 0 ? Double(bytes * 8) / Double(n) : 0, floatBytes: floatBytes,
                         bytes: bytes, weightError: weightError, activationError: act)
        }
    }

    public func json() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return Array(try encoder.encode(self)) + [0x0A]
    }
}

/// quantc's version, for reports and manifests.
public enum QuantCInfo {
    public static let version = "0.2.0"
}
