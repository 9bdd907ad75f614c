import IR

/// Copies elements by address arithmetic, for every element type (numeric by
/// byte stride, strings by index).
enum Strided {
    /// out[coord] = x[offset + Σ coord[d]·strides[d]] for every coordinate of
    /// `outShape` (strides in elements, possibly 0 or negative). Serves
    /// Transpose, Slice and Expand.
    static func copy(_ x: RTensor, outShape: [Int], offset: Int, strides: [Int], threads: Int) -> RTensor {
        var out = RTensor(type: x.type, shape: outShape)
        let n = out.count
        if let s = x.strings {
            var result = [String](); result.reserveCapacity(n)
            forEachSource(outShape: outShape, offset: offset, strides: strides, range: 0..<n) { result.append(s[$0]) }
            out.strings = result
            return out
        }
        guard n > 0 else { return out }
        // The same walk over fewer axes: drop axes of size 1 and merge each
        // axis into the next where x walks them contiguously (a channel
        // shuffle's Transpose then copies whole planes).
        var outShape = outShape, strides = strides
        for d in stride(from: outShape.count - 1, through: 0, by: -1) where outShape[d] == 1 && outShape.count > 1 {
            outShape.remove(at: d)
            strides.remove(at: d)
        }
        for d in stride(from: outShape.count - 2, through: 0, by: -1) where strides[d] == strides[d + 1] * outShape[d + 1] {
            outShape[d + 1] *= outShape[d]
            outShape.remove(at: d)
            strides.remove(at: d)
        }
        let rank = outShape.count
        let w = RTensor.stride(of: x.type)
        let src = x.buffer.pointer, dst = out.buffer.pointer
        let innerLength = rank == 0 ? 1 : outShape[rank - 1]
        let innerStride = rank == 0 ? 0 : strides[rank - 1]
        // Rows of the innermost dimension are independent: split them across threads.
        let rows = n / max(innerLength, 1)
        Parallel.forEach(rows, threads: threads, minimumChunk: max(1, 16384 / max(innerLength, 1))) { r in
            var coord = [Int](repeating: 0, count: max(rank - 1, 0))
            var rem = r.lowerBound
            for d in stride(from: rank - 2, through: 0, by: -1) {
                coord[d] = rem % outShape[d]
                rem /= outShape[d]
            }
            var base = offset
            for d in 0..<coord.count { base += coord[d] * strides[d] }
            for row in r {
                let o = row * innerLength
                switch w {
                case 4:
                    let s = src.assumingMemoryBound(to: UInt32.self), t = dst.assumingMemoryBound(to: UInt32.self)
                    if innerStride == 1 { (t + o).update(from: s + base, count: innerLength) }
                    else { for i in 0..<innerLength { t[o + i] = s[base + i * innerStride] } }
                case 8:
                    let s = src.assumingMemoryBound(to: UInt64.self), t = dst.assumingMemoryBound(to: UInt64.self)
                    for i in 0..<innerLength { t[o + i] = s[base + i * innerStride] }
                case 2:
                    let s = src.assumingMemoryBound(to: UInt16.self), t = dst.assumingMemoryBound(to: UInt16.self)
                    for i in 0..<innerLength { t[o + i] = s[base + i * innerStride] }
                case 1:
                    let s = src.assumingMemoryBound(to: UInt8.self), t = dst.assumingMemoryBound(to: UInt8.self)
                    for i in 0..<innerLength { t[o + i] = s[base + i * innerStride] }
                default:
                    for i in 0..<innerLength { (dst + (o + i) * w).copyMemory(from: src + (base + i * innerStride) * w, byteCount: w) }
                }
                // Advance the outer odometer.
                var d = rank - 2
                while d >= 0 {
                    coord[d] += 1
                    base += strides[d]
                    if coord[d] < outShape[d] { break }
                    base -= strides[d] * outShape[d]
                    coord[d] = 0
                    d -= 1
                }
            }
        }
        return out
    }

    static func forEachSource(outShape: [Int], offset: Int, strides: [Int], range: Range<Int>, _ body: (Int) -> Void) {
        let rank = outShape.count
        var coord = [Int](repeating: 0, count: rank)
        var rem = range.lowerBound
        for d in stride(from: rank - 1, through: 0, by: -1) { coord[d] = rem % outShape[d]; rem /= outShape[d] }
        var src = offset
        for d in 0..<rank { src += coord[d] * strides[d] }
        for _ in range {
            body(src)
            var d = rank - 1
            while d >= 0 {
                coord[d] += 1
                src += strides[d]
                if coord[d] < outShape[d] { break }
                src -= strides[d] * outShape[d]
                coord[d] = 0
                d -= 1
            }
        }
    }

    /// out[i] = x[index(i)] for a computed source index (Gather, Tile, Pad, Resize-nearest).
    static func gather(_ x: RTensor, outShape: [Int], sources: [Int]) -> RTensor {
        var out = RTensor(type: x.type, shape: outShape)
        if let s = x.strings {
            out.strings = sources.map { s[$0] }
            return out
        }
        let w = RTensor.stride(of: x.type)
        let src = x.buffer.pointer, dst = out.buffer.pointer
        for (i, j) in sources.enumerated() { (dst + i * w).copyMemory(from: src + j * w, byteCount: w) }
        return out
    }

    /// Row-major strides of `shape`.
    static func strides(_ shape: [Int]) -> [Int] {
        var s = [Int](repeating: 1, count: shape.count)
        var acc = 1
        for d in stride(from: shape.count - 1, through: 0, by: -1) {
            s[d] = acc
            acc *= shape[d]
        }
        return s
    }
}
