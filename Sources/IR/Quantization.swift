/// What quantization passes know about a model, carried on the IR between
/// passes and into the report: calibrated ranges of values, and later the
/// format chosen for each layer.
public struct QuantizationState: Hashable, Sendable {
    /// Calibrated [low, high] of float values, keyed by value name.
    public var ranges: [String: ValueRange] = [:]
    /// How the ranges were obtained, e.g. "entropy over 600 samples".
    public var calibration: String?

    public init() {}

    public var isEmpty: Bool { ranges.isEmpty && calibration == nil }
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
