import IR
import Interpreter

/// Everything calibration keeps about one tensor, merged batch by batch:
/// its |x| histogram (with exact min and max) and the moving averages of each
/// batch's min and max (ONNX Runtime's MinMax calibrator with
/// `moving_average`, constant 0.01).
public struct TensorStatistics: Sendable, Codable, Equatable {
    public var histogram: AbsHistogram
    public var averageMin: Float?
    public var averageMax: Float?
    public static let averagingConstant: Float = 0.01

    public init(bins: Int) { histogram = AbsHistogram(bins: bins) }

    public mutating func add(_ t: RTensor, threads: Int = 1) {
        // The histogram also returns this batch's own extremes, for the moving average.
        guard let (lo, hi) = histogram.add(UnsafeBufferPointer(t.elements(Float.self)), threads: threads) else { return }
        let c = Self.averagingConstant
        averageMin = averageMin.map { $0 + c * (lo - $0) } ?? lo
        averageMax = averageMax.map { $0 + c * (hi - $0) } ?? hi
    }

    /// Empty statistics whose histogram has this one's bin width (``AbsHistogram/emptied()``),
    /// for one batch binned apart and absorbed back.
    public func emptied() -> TensorStatistics {
        var s = TensorStatistics(bins: histogram.bins)
        s.histogram = histogram.emptied()
        return s
    }

    /// Absorbs the statistics of the next batch (one ``add(_:threads:)`` on ``emptied()``):
    /// the same as adding that batch here.
    public mutating func absorb(_ batch: TensorStatistics) {
        histogram.merge(batch.histogram)
        guard let lo = batch.averageMin, let hi = batch.averageMax else { return }
        let c = Self.averagingConstant
        averageMin = averageMin.map { $0 + c * (lo - $0) } ?? lo
        averageMax = averageMax.map { $0 + c * (hi - $0) } ?? hi
    }

    /// The range `method` chooses.
    public func range(_ method: CalibrationMethod, percentile: Double, maxClipped: Double = 0.01) -> ValueRange {
        switch method {
        case .minmax: ValueRange(low: histogram.minimum, high: histogram.maximum)
        case .movingAverage: ValueRange(low: averageMin ?? 0, high: averageMax ?? 0)
        case .percentile, .auto: RangeSelection.percentile(histogram, percentile)
        case .entropy: RangeSelection.entropy(histogram, maxClipped: maxClipped)
        case .mse: RangeSelection.mse(histogram)
        }
    }
}
