import IR
import Interpreter

/// Everything calibration keeps about one tensor, merged batch by batch:
/// its |x| histogram (with exact min and max) and the moving averages of each
/// batch's min and max, batch after batch from the first (PyTorch's
/// MovingAverageMinMaxObserver, with ONNX Runtime's constant 0.01; ONNX Runtime's
/// MinMax calibrator with `moving_average` takes the mean of the batches of one
/// `collect_data` call and averages only between calls).
public struct TensorStatistics: Sendable, Codable, Equatable {
    public var histogram: AbsHistogram
    public var averageMin: Float?
    public var averageMax: Float?
    public static let averagingConstant: Float = 0.01

    public init(bins: Int) { histogram = AbsHistogram(bins: bins) }

    public mutating func add(_ t: RTensor, threads: Int = 1) {
        // The histogram also returns this batch's own extremes, for the moving average.
        guard let (lo, hi) = histogram.add(UnsafeBufferPointer(t.elements(Float.self)), threads: threads) else { return }
        average(lo, hi)
    }

    /// One observation's extremes into the moving averages.
    mutating func average(_ lo: Float, _ hi: Float) {
        let c = Self.averagingConstant
        averageMin = averageMin.map { $0 + c * (lo - $0) } ?? lo
        averageMax = averageMax.map { $0 + c * (hi - $0) } ?? hi
    }

    /// Absorbs a batch binned apart (``BatchObservation``): the same as adding its
    /// observations here one after the other, when these statistics had a bin width
    /// (non-zero) when the observation was made from them.
    public mutating func absorb(_ batch: BatchObservation) {
        histogram.merge(batch.histogram)
        for e in batch.extremes { average(e.low, e.high) }
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

/// One batch of one tensor binned apart from its statistics, for parallel calibration: a
/// histogram at the statistics' bin width (which must not be 0: the widths then differ by
/// powers of two and merge exactly) and each observation's extremes, in order (a value inside
/// a Loop body is observed once per iteration).
public struct BatchObservation: Sendable {
    public var histogram: AbsHistogram
    public var extremes: [(low: Float, high: Float)] = []

    public init(binnedLike statistics: TensorStatistics) {
        precondition(statistics.histogram.width > 0, "a batch is binned apart only at a known width")
        histogram = statistics.histogram.emptied()
    }

    public mutating func add(_ t: RTensor, threads: Int = 1) {
        if let e = histogram.add(UnsafeBufferPointer(t.elements(Float.self)), threads: threads) { extremes.append(e) }
    }
}
