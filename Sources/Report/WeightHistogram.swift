import IR
import Passes

/// A layer's float weights as a histogram, with the quantization grid of its
/// chosen format, for the report's "weight histogram with its grid" chart.
public struct WeightHistogram: Codable, Sendable, Equatable {
    public static let bins = 64

    /// The range the bins cover: the finite weights' [min, max].
    public var low: Double
    public var high: Double
    /// Weights per bin, `bins` equal-width bins over [low, high].
    public var counts: [Int]
    /// The integer grid: nil for float formats.
    public var grid: Grid?

    /// The levels (q − zeroPoint)·scale, q in [qmin, qmax], of one scale of the layer.
    public struct Grid: Codable, Sendable, Equatable {
        public var scale: Double
        public var zeroPoint: Int
        /// The lowest and highest integers of this scale: those its weights use, widened to ±max for symmetric formats.
        public var qmin: Int
        public var qmax: Int
        /// How many scales the layer has, and their spread.
        public var scales: Int
        public var scaleMin: Double
        public var scaleMax: Double
        /// Which scale is drawn, e.g. "the only scale" or "channel 7 of 16, the median scale".
        public var shown: String

        enum CodingKeys: String, CodingKey {
            case scale, zeroPoint = "zero_point", qmin, qmax, scales, scaleMin = "scale_min", scaleMax = "scale_max", shown
        }
    }

    public init(low: Double, high: Double, counts: [Int], grid: Grid?) {
        self.low = low
        self.high = high
        self.counts = counts
        self.grid = grid
    }

    /// The histogram of `values` (a weight of `shape`) and, for an integer format that was
    /// rounded, the grid of its median-scale channel or group (ties to the lower index):
    /// one grid stands for all, and the median is the typical one.
    public init(values: [Float], shape: [Int], layer l: LayerQuantization) {
        var lo = Float.infinity, hi = -Float.infinity
        for v in values where v.isFinite {
            lo = min(lo, v)
            hi = max(hi, v)
        }
        if lo > hi { (lo, hi) = (0, 0) }
        var counts = [Int](repeating: 0, count: Self.bins)
        let width = Double(hi) - Double(lo)
        for v in values where v.isFinite {
            let b = width > 0 ? Int((Double(v) - Double(lo)) / width * Double(Self.bins)) : 0
            counts[min(max(b, 0), Self.bins - 1)] += 1
        }
        self.init(low: Double(lo), high: Double(hi), counts: counts, grid: nil)
        guard let q = l.quantized, !q.scales.isEmpty, case .integer(_, let granularity, _) = l.format,
              q.values.count == values.count else { return }
        let order = q.scales.indices.sorted { (q.scales[$0], $0) < (q.scales[$1], $1) }
        let s = order[(order.count - 1) / 2]
        let layout = WeightQuantizer.ScaleLayout(shape: shape, granularity: granularity,
                                                 channelAxis: l.channelAxis, groupAxis: l.groupAxis)
        var qmin = Int.max, qmax = Int.min
        layout.forEachRun(rows: 0..<layout.rows) { first, count, scale in
            if scale.step == 0 && scale.first != s { return }  // a run of another scale
            for r in 0..<count where scale.first + r * scale.step == s {
                qmin = min(qmin, Int(q.values[first + r]))
                qmax = max(qmax, Int(q.values[first + r]))
            }
        }
        if qmin > qmax { (qmin, qmax) = (0, 0) }
        // A symmetric grid is symmetric even when this scale's weights are all of one sign;
        // RTN maps the largest magnitude to the outermost level, so ±max|q| is the range.
        if q.isSymmetric {
            let m = max(abs(qmin), abs(qmax))
            (qmin, qmax) = (-m, m)
        }
        let shown: String = switch granularity {
        case .perTensor: "the only scale (per tensor)"
        case .perChannel: "channel \(s) of \(q.scales.count), the median scale"
        case .perGroup(let g): "group \(s) of \(q.scales.count) (\(g) weights each), the median scale"
        }
        grid = Grid(scale: Double(q.scales[s]), zeroPoint: Int(q.zeroPoints[s]), qmin: qmin, qmax: qmax,
                    scales: q.scales.count, scaleMin: Double(q.scales[order.first!]), scaleMax: Double(q.scales[order.last!]),
                    shown: shown)
    }
}
