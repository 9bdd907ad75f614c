/// NumPy-style multidirectional broadcasting (ONNX Broadcasting.md).
public enum Broadcast {
    /// The broadcast shape of `shapes`, or nil if they are incompatible.
    public static func shape(_ shapes: [[Int]]) -> [Int]? {
        let rank = shapes.map(\.count).max() ?? 0
        var out = [Int](repeating: 1, count: rank)
        for s in shapes {
            let offset = rank - s.count
            for (i, d) in s.enumerated() {
                let j = i + offset
                if out[j] == 1 { out[j] = d } else if d != 1 && d != out[j] { return nil }
            }
        }
        return out
    }

    /// Row-major strides of `shape` aligned to `outShape`, 0 on broadcast dims.
    public static func strides(of shape: [Int], in outShape: [Int]) -> [Int] {
        var strides = [Int](repeating: 0, count: outShape.count)
        var step = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) {
            let j = i + outShape.count - shape.count
            strides[j] = shape[i] == 1 ? 0 : step
            step *= shape[i]
        }
        return strides
    }

    /// For each output index of `outShape`, the linear index into each input.
    /// Calls `body(outIndex, inputIndices)` in row-major order over `range`.
    @inline(__always)
    public static func forEachIndex(outShape: [Int], inputShapes: [[Int]], range: Range<Int>,
                                    _ body: (Int, UnsafeBufferPointer<Int>) -> Void) {
        let rank = outShape.count
        let k = inputShapes.count
        let strides = inputShapes.map { Self.strides(of: $0, in: outShape) }
        var coord = [Int](repeating: 0, count: rank)
        var idx = [Int](repeating: 0, count: k)
        // Position at range.lowerBound.
        var rem = range.lowerBound
        for d in stride(from: rank - 1, through: 0, by: -1) {
            coord[d] = rem % max(outShape[d], 1)
            rem /= max(outShape[d], 1)
        }
        for j in 0..<k { idx[j] = zip(coord, strides[j]).reduce(0) { $0 + $1.0 * $1.1 } }
        idx.withUnsafeMutableBufferPointer { ip in
            for o in range {
                body(o, UnsafeBufferPointer(ip))
                // Advance the odometer.
                var d = rank - 1
                while d >= 0 {
                    coord[d] += 1
                    for j in 0..<k { ip[j] += strides[j][d] }
                    if coord[d] < outShape[d] { break }
                    for j in 0..<k { ip[j] -= strides[j][d] * outShape[d] }
                    coord[d] = 0
                    d -= 1
                }
            }
        }
    }
}
