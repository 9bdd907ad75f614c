import Foundation
import Interpreter
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
        /// Why this format was chosen (allocation, pin, exclusion, the uniform format).
        public var reason: String?
        /// Per-layer figures of the sensitivity passes (`curvature.kappa`, `curvature.min-bits`,
        /// `curvature.violated`, `reconstruction.rtn`, ...); nil when none ran.
        public var metrics: [String: Double]?
        /// method → format description → score (larger is worse), for every candidate format; nil when no sensitivity pass ran.
        public var sensitivity: [String: [String: Double]]?
        /// The chosen format's score under ``QuantizationReport/predictedBy`` and under the `measured` method.
        public var predictedError: Double?
        public var measuredError: Double?
        /// The float weights' histogram and the quantization grid of the chosen format.
        public var histogram: WeightHistogram?

        enum CodingKeys: String, CodingKey {
            case node, op, format, rounding, weights, bitsPerWeight = "bits_per_weight", floatBytes = "float_bytes", bytes
            case weightError = "weight_error", activationError = "activation_error"
            case reason, metrics, sensitivity, predictedError = "predicted_error", measuredError = "measured_error", histogram
        }

        /// The chosen format's score under `method`.
        public func score(_ method: String) -> Double? { sensitivity?[method]?[format] }
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

    /// Bumped whenever a field changes meaning or a required one is added; `quantc report` reads only its own.
    public static let schemaVersion = 2
    public var schemaVersion = QuantizationReport.schemaVersion
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
    /// The formats the sensitivity passes scored (descriptions), when any ran.
    public var candidateFormats: [String]?
    /// One entry per sensitivity method, in the order the passes ran; nil when none ran.
    public var sensitivities: [SensitivitySummary]?
    /// The method whose scores are the layers' `predicted_error`: the allocator's objective,
    /// else the method that best predicts `measured` (Spearman).
    public var predictedBy: String?
    /// The `allocate` pass's outcome, if it ran.
    public var allocation: Allocation?

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
        case schemaVersion = "schema_version", candidateFormats = "candidate_formats", sensitivities, predictedBy = "predicted_by", allocation
        case tool, model, output, pipeline, calibration, activations, evaluation
        case evaluationSamples = "evaluation_samples", layers, outputs, accuracy
        case floatModelBytes = "float_model_bytes", quantizedModelBytes = "quantized_model_bytes"
        case floatWeightBytes = "float_weight_bytes", quantizedWeightBytes = "quantized_weight_bytes", notes, pareto
    }

    /// Per-layer weight figures from the decisions on the quantized IR and the float weights.
    /// Sizes are ``WeightFormat/storageBytes(shape:channelAxis:groupAxis:)``, the cost the allocator counts.
    public static func layers(of quantized: Model, floatWeights: [String: Tensor], comparison: ModelComparison?,
                              watch: [String: ModelComparison.Watch], threads: Int = Parallel.defaultThreads) -> [Layer] {
        let state = quantized.quantization
        let predictedBy = predictor(of: state)
        // Layers are independent: one per thread (a large one's weight errors and histogram
        // also split between two).
        return Parallel.map(state.layers.count, threads: threads) { i -> Layer in
            let l = state.layers[i]
            let w = floatWeights[l.weight]
            let n = w?.elementCount ?? 0
            let floatBytes = n * 4
            let bytes = w.map { l.format.storageBytes(shape: $0.shape, channelAxis: l.channelAxis, groupAxis: l.groupAxis) } ?? floatBytes
            var weightError: ErrorStatistics?
            var histogram: WeightHistogram?
            let values = w?.floatValues()
            _ = Parallel.map(2, threads: n >= 1 << 16 ? min(2, threads) : 1) { task -> Int in
                guard let w, let values else { return task }
                if task == 1 {
                    histogram = WeightHistogram(values: values, shape: w.shape, layer: l)
                } else if let q = l.quantized, case .integer(_, let granularity, _) = l.format {
                    let deq = WeightQuantizer.dequantize(q, shape: w.shape, granularity: granularity,
                                                         channelAxis: l.channelAxis, groupAxis: l.groupAxis, threads: threads)
                    weightError = ErrorStatistics(reference: values, approximation: deq)
                } else if l.format == .float16 {
                    weightError = ErrorStatistics(reference: values, approximation: values.map { Float(Float16($0)) })
                }
                return task
            }
            let act = watch[l.node].flatMap { comparison?.values[$0.float] }
            var layer = Layer(node: l.node, op: l.opType, format: l.format.description, rounding: l.quantized?.rounding,
                              weights: n, bitsPerWeight: n > 0 ? Double(bytes * 8) / Double(n) : 0, floatBytes: floatBytes,
                              bytes: bytes, weightError: weightError, activationError: act)
            layer.reason = l.reason ?? defaultReason(l, state: state)
            let metrics = l.metrics.filter { $0.value.isFinite }
            layer.metrics = metrics.isEmpty ? nil : metrics
            var sensitivity: [String: [String: Double]] = [:]
            for t in state.sensitivities {
                let scores = (t.scores[l.node] ?? [:]).filter { $0.value.isFinite }
                if !scores.isEmpty { sensitivity[t.method] = scores }
            }
            layer.sensitivity = sensitivity.isEmpty ? nil : sensitivity
            layer.predictedError = predictedBy.flatMap { layer.score($0) }
            layer.measuredError = layer.score(SensitivitySummary.measuredMethod)
            layer.histogram = histogram
            return layer
        }
    }

    /// Why a layer has its format when no pass said so.
    static func defaultReason(_ l: LayerQuantization, state: QuantizationState) -> String? {
        if state.excluded.contains(l.node) { return "kept in float (--exclude)" }
        if state.allocation == nil, l.format != .float32 { return "uniform format of the quantize pass" }
        return nil
    }

    /// Fills the report-level sensitivity and allocation fields from the IR (nil when those passes did not run).
    public mutating func addPrecisionAnalysis(from state: QuantizationState) {
        if !state.sensitivities.isEmpty {
            candidateFormats = state.formatsConsidered.map(\.description)
            sensitivities = SensitivitySummary.summaries(of: state.sensitivities)
        }
        predictedBy = Self.predictor(of: state)
        allocation = state.allocation.map(Allocation.init)
    }

    /// The method whose scores count as the prediction: the allocator's objective, else the
    /// non-`measured` method with the highest Spearman correlation against `measured`.
    static func predictor(of state: QuantizationState) -> String? {
        if let a = state.allocation { return a.objective }
        let best = SensitivitySummary.summaries(of: state.sensitivities)
            .filter { $0.spearman != nil }
            .max { ($0.spearman!, $1.method) < ($1.spearman!, $0.method) }
        return best?.method
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
