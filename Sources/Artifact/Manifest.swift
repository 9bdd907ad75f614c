/// `manifest.json`: what made the artifact and the SHA-256 of every other file
/// in it, so a missing, truncated or swapped file is named before anything runs.
public struct Manifest: Codable, Equatable, Sendable {
    public var formatVersion: Int
    public var quantcVersion: String
    /// SHA-256 of the source ONNX model file as given to `quantc compile`.
    public var sourceModelSHA256: String
    /// The pass pipeline that produced `model.onnx`, as text.
    public var pipeline: String
    public var target: String
    /// File name → SHA-256 (hex), for every file of the artifact but the manifest.
    public var files: [String: String]
    /// Seconds since the epoch, only when SOURCE_DATE_EPOCH was set (reproducible builds);
    /// otherwise absent, so reruns are byte-identical.
    public var sourceDateEpoch: Int?

    public init(formatVersion: Int = Plan.currentFormatVersion, quantcVersion: String, sourceModelSHA256: String,
                pipeline: String, target: String, files: [String: String], sourceDateEpoch: Int? = nil) {
        self.formatVersion = formatVersion
        self.quantcVersion = quantcVersion
        self.sourceModelSHA256 = sourceModelSHA256
        self.pipeline = pipeline
        self.target = target
        self.files = files
        self.sourceDateEpoch = sourceDateEpoch
    }
}

/// The file names of an artifact directory.
public enum ArtifactFile {
    public static let model = "model.onnx"
    public static let kernels = "kernels.cl"
    public static let plan = "plan.json"
    public static let weights = "weights.bin"
    public static let manifest = "manifest.json"
    public static let report = "report.json"
    /// Files every artifact has (the report is optional for readers).
    public static let required = [model, kernels, plan, weights]
}
