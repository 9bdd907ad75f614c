import IR
import Interpreter

/// Round-to-nearest quantization of a weight tensor in a given integer format,
/// producing the integers, scales and zero points ONNX's DequantizeLinear takes.
public enum WeightQuantizer {
    /// Where each weight element's scale lives: the layout of a per-tensor,
    /// per-channel or per-group scale tensor over `shape`.
    public struct ScaleLayout: Sendable {
        public let shape: [Int]
        public let granularity: Granularity
        /// Axis of the scale (channel axis, or the blocking axis for groups).
        public let axis: Int
        let outer: Int, dim: Int, inner: Int, blocks: Int

        public init(shape: [Int], granularity: Granularity, channelAxis: Int, groupAxis: Int) {
            self.shape = shape
            self.granularity = granularity
            let a: Int
            switch granularity {
            case .perTensor, .perChannel: a = channelAxis
            case .perGroup: a = groupAxis
            }
            axis = a
            if case .perGroup(let g) = granularity {
                // Over the flattened C·kh·kw of a convolution (``GroupSpan``).
                (outer, dim, inner) = GroupSpan.extent(shape: shape, channelAxis: channelAxis, groupAxis: groupAxis)
                blocks = (dim + g - 1) / g
                isFlattened = GroupSpan.flattens(shape: shape, channelAxis: channelAxis, groupAxis: groupAxis)
            } else {
                outer = shape[..<a].reduce(1, *)
                dim = shape[a]
                inner = shape[(a + 1)...].reduce(1, *)
                blocks = dim
                isFlattened = false
            }
        }

        /// Whether per-group blocks run over the flattened axes from ``axis`` on, so that
        /// the integers and scales are those of the weight reshaped to ``flatShape``.
        public let isFlattened: Bool

        /// The weight's shape as its DequantizeLinear reads it: [O, C·kh·kw] when flattened.
        public var flatShape: [Int] { isFlattened ? Array(shape[..<axis]) + [dim] : shape }

        public var scaleCount: Int {
            switch granularity {
            case .perTensor: 1
            case .perChannel: dim
            case .perGroup: outer * blocks * inner
            }
        }

        /// The shape DequantizeLinear expects for the scale.
        public var scaleShape: [Int] {
            switch granularity {
            case .perTensor: []
            case .perChannel: [dim]
            case .perGroup:
                { var s = flatShape; s[axis] = blocks; return s }()
            }
        }

        @inline(__always)
        public func scaleIndex(_ i: Int) -> Int {
            switch granularity {
            case .perTensor: return 0
            case .perChannel: return (i / inner) % dim
            case .perGroup(let g):
                let r = i % inner, od = i / inner
                let d = od % dim, o = od / dim
                return (o * blocks + d / g) * inner + r
            }
        }

        /// Calls `body(first, count, scales)` for the runs of consecutive elements `first..<first + count`
        /// in `rows` (of `outer × dim` rows of `inner` elements), element `first + r` having the scale
        /// `scales.first + r * scales.step`: what ``scaleIndex(_:)`` gives, without a division per element.
        @inline(__always)
        public func forEachRun(rows: Range<Int>, _ body: (Int, Int, (first: Int, step: Int)) -> Void) {
            for row in rows {
                let o = row / dim, d = row % dim
                switch granularity {
                case .perTensor: body(row * inner, inner, (0, 0))
                case .perChannel: body(row * inner, inner, (d, 0))
                case .perGroup(let g): body(row * inner, inner, ((o * blocks + d / g) * inner, 1))
                }
            }
        }

        /// Rows of `inner` elements.
        public var rows: Int { outer * dim }
    }

    /// Quantizes `weights` (in `shape`) to `format` by rounding each value to the
    /// nearest level of its scale (RTN). Each scale comes from the [min, max] of the
    /// values that share it, by ``QuantParameters`` (ONNX Runtime's rule).
    public static func quantize(_ weights: [Float], shape: [Int], format: WeightFormat,
                                channelAxis: Int, groupAxis: Int, reduceRange: Bool = false, threads: Int = 1) -> QuantizedWeight? {
        guard case .integer(let bits, let granularity, let symmetric) = format else { return nil }
        let layout = ScaleLayout(shape: shape, granularity: granularity, channelAxis: channelAxis, groupAxis: groupAxis)
        let params = parameters(weights, layout: layout, bits: bits, symmetric: symmetric, reduced: reduceRange && bits == 8)
        var values = [Int8](repeating: 0, count: weights.count)
        // Element by element (no sums): rows split over threads change nothing.
        values.withUnsafeMutableBufferPointer { out in
            let out = out
            weights.withUnsafeBufferPointer { w in
                Parallel.forEach(layout.rows, threads: threads, minimumChunk: max(1, (1 << 16) / max(layout.inner, 1))) { rows in
                    layout.forEachRun(rows: rows) { first, count, scale in
                        for r in 0..<count { out[first + r] = Int8(params[scale.first + r * scale.step].quantize(w[first + r])) }
                    }
                }
            }
        }
        return QuantizedWeight(bits: bits, values: values, scales: params.map(\.scale),
                               zeroPoints: params.map { Int8($0.zeroPoint) }, scaleShape: layout.scaleShape,
                               axis: granularity == .perTensor ? nil : layout.axis,
                               blockSize: { if case .perGroup(let g) = granularity { g } else { nil } }(),
                               rounding: "rtn")
    }

    /// One ``QuantParameters`` per scale, from the ranges of the values sharing it.
    public static func parameters(_ weights: [Float], layout: ScaleLayout, bits: Int, symmetric: Bool,
                                  reduced: Bool = false) -> [QuantParameters] {
        var low = [Float](repeating: .infinity, count: layout.scaleCount)
        var high = [Float](repeating: -.infinity, count: layout.scaleCount)
        // In element order (the first of equal values, e.g. -0 and 0, is kept).
        layout.forEachRun(rows: 0..<layout.rows) { first, count, scale in
            for r in 0..<count where weights[first + r].isFinite {
                let s = scale.first + r * scale.step, v = weights[first + r]
                low[s] = min(low[s], v)
                high[s] = max(high[s], v)
            }
        }
        return (0..<layout.scaleCount).map { s in
            let r = low[s] <= high[s] ? ValueRange(low: low[s], high: high[s]) : ValueRange(low: 0, high: 0)
            return QuantParameters(range: r, bits: bits, signed: true, symmetric: symmetric, reduced: reduced)
        }
    }

    /// The float weights the integers stand for.
    public static func dequantize(_ q: QuantizedWeight, shape: [Int], granularity: Granularity, channelAxis: Int,
                                  groupAxis: Int, threads: Int = 1) -> [Float] {
        let layout = ScaleLayout(shape: shape, granularity: granularity, channelAxis: channelAxis, groupAxis: groupAxis)
        var result = [Float](repeating: 0, count: q.values.count)
        result.withUnsafeMutableBufferPointer { out in
            let out = out
            Parallel.forEach(layout.rows, threads: threads, minimumChunk: max(1, (1 << 16) / max(layout.inner, 1))) { rows in
                layout.forEachRun(rows: rows) { first, count, scale in
                    for r in 0..<count {
                        let s = scale.first + r * scale.step
                        out[first + r] = Float(Int32(q.values[first + r]) - Int32(q.zeroPoints[s])) * q.scales[s]
                    }
                }
            }
        }
        return result
    }
}
