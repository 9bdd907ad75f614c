/// im2col and its adjoint col2im over any number of spatial axes.
///
/// For a window geometry (input size, kernel, stride, dilation, padding,
/// output size) the column matrix has one row per (channel, kernel tap) and
/// one column per output position:
///
///     col[(c * kernelSize + tap) * outputSize + o] = x[c, o * stride - padBegin + tap * dilation]
///
/// (0 where that input position falls in the padding). Conv multiplies the
/// weights [M, C * kernelSize] by it; ConvTranspose computes a column matrix
/// by a product and scatters it back with col2im.
///
/// Both walk output "lines" (all axes but the last) and handle the last axis
/// as one contiguous run, whose in-bounds range is computed once per row.
enum Im2col {
    /// The kernel tap `tap` as coordinates, one per spatial axis.
    @inline(__always)
    static func tapCoordinates(_ tap: Int, kernel: [Int], into k: inout [Int]) {
        var rem = tap
        for d in stride(from: kernel.count - 1, through: 0, by: -1) {
            k[d] = rem % kernel[d]
            rem /= kernel[d]
        }
    }

    /// Output positions along the last axis whose input position is in bounds
    /// for a tap offset `offset` (input = o * stride + offset).
    @inline(__always)
    static func validRange(offset: Int, stride s: Int, input: Int, output: Int) -> Range<Int> {
        let lo = offset >= 0 ? 0 : (-offset + s - 1) / s
        let last = input - 1 - offset
        let hi = last >= 0 ? min(output, last / s + 1) : 0
        return min(lo, output)..<max(min(lo, output), hi)
    }

    /// Fills `col` ([channels * kernelSize, outputSize]) from `x` ([channels,
    /// inputSize]), rows split across threads.
    static func im2col<T: BitwiseCopyable & Numeric>(_ x: UnsafePointer<T>, channels: Int, _ g: WindowGeometry,
                                                     col: UnsafeMutablePointer<T>, threads: Int) {
        let rows = channels * g.kernelSize, outSize = g.outputSize
        Parallel.forEach(rows, threads: threads, minimumChunk: max(1, 32768 / max(outSize, 1))) { r in
            im2col(x, g, rows: r, columns: 0..<outSize, col: col + r.lowerBound * outSize, ld: outSize)
        }
    }

    /// Fills rows `rows` and columns `columns` of the column matrix into
    /// `col` (row `row` at `col + (row - rows.lowerBound) * ld`, column o at
    /// offset o - columns.lowerBound), on the calling thread. Conv computes
    /// column tiles this way so each tile stays in cache for its product.
    static func im2col<T: BitwiseCopyable & Numeric>(_ x: UnsafePointer<T>, _ g: WindowGeometry, rows: Range<Int>,
                                                     columns: Range<Int>, col: UnsafeMutablePointer<T>, ld: Int) {
        let r = g.rank, last = r - 1
        let kSize = g.kernelSize, inSize = g.inputSize
        let ow = g.output[last], iw = g.input[last], sw = g.strides[last]
        if ow == 0 || columns.isEmpty { return }
        var inStrides = [Int](repeating: 1, count: r)
        for d in stride(from: r - 2, through: 0, by: -1) { inStrides[d] = inStrides[d + 1] * g.input[d + 1] }
        var k = [Int](repeating: 0, count: r)
        var oc = [Int](repeating: 0, count: r)
        for row in rows {
            let c = row / kSize
            tapCoordinates(row % kSize, kernel: g.kernel, into: &k)
            let src = x + c * inSize
            let koff = k[last] * g.dilations[last] - g.padBegin[last]
            let valid = validRange(offset: koff, stride: sw, input: iw, output: ow)
            var dst = col + (row - rows.lowerBound) * ld
            // Output coordinates of the first column.
            var rem = columns.lowerBound / ow
            for d in stride(from: last - 1, through: 0, by: -1) {
                oc[d] = rem % g.output[d]
                rem /= g.output[d]
            }
            var ox = columns.lowerBound % ow
            var left = columns.count
            while left > 0 {
                // One segment of the last axis: ox..<end.
                let end = min(ow, ox + left)
                var off = 0
                var inside = true
                for d in 0..<last {
                    let p = oc[d] * g.strides[d] - g.padBegin[d] + k[d] * g.dilations[d]
                    if p < 0 || p >= g.input[d] { inside = false; break }
                    off += p * inStrides[d]
                }
                let lo = inside ? min(max(valid.lowerBound, ox), end) : end
                let hi = inside ? min(max(valid.upperBound, lo), end) : end
                if lo > ox { dst.update(repeating: .zero, count: lo - ox) }
                if hi > lo {
                    let line = src + off + koff
                    let out = dst + (lo - ox)
                    if sw == 1 {
                        out.update(from: line + lo, count: hi - lo)
                    } else if sw == 2 {
                        FlatWindow.gatherEven(line + 2 * lo, out, hi - lo)
                    } else {
                        for o in lo..<hi { out[o - lo] = line[o * sw] }
                    }
                }
                if end > hi { (dst + (hi - ox)).update(repeating: .zero, count: end - hi) }
                dst += end - ox
                left -= end - ox
                ox = 0
                var d = last - 1
                while d >= 0 {
                    oc[d] += 1
                    if oc[d] < g.output[d] { break }
                    oc[d] = 0
                    d -= 1
                }
            }
        }
    }

    /// Adds `col` ([channels * kernelSize, outputSize]) into `x` ([channels,
    /// inputSize]) at the positions im2col reads from. Channels are split
    /// across threads, and each channel adds its taps in order, so the result
    /// does not depend on the thread count.
    static func col2im<T: BitwiseCopyable & Numeric>(_ col: UnsafePointer<T>, channels: Int, _ g: WindowGeometry,
                                                     x: UnsafeMutablePointer<T>, threads: Int) {
        let r = g.rank, last = r - 1
        let kSize = g.kernelSize, inSize = g.inputSize, outSize = g.outputSize
        let ow = g.output[last], iw = g.input[last], sw = g.strides[last]
        let lines = ow == 0 ? 0 : outSize / ow
        var inStrides = [Int](repeating: 1, count: r)
        for d in stride(from: r - 2, through: 0, by: -1) { inStrides[d] = inStrides[d + 1] * g.input[d + 1] }
        Parallel.forEach(channels, threads: threads, minimumChunk: max(1, 32768 / max(outSize * kSize, 1))) { range in
            var k = [Int](repeating: 0, count: r)
            var oc = [Int](repeating: 0, count: r)
            for c in range {
                let dstPlane = x + c * inSize
                for tap in 0..<kSize {
                    tapCoordinates(tap, kernel: g.kernel, into: &k)
                    let koff = k[last] * g.dilations[last] - g.padBegin[last]
                    let valid = validRange(offset: koff, stride: sw, input: iw, output: ow)
                    if valid.isEmpty { continue }
                    var src = col + (c * kSize + tap) * outSize
                    for i in 0..<r { oc[i] = 0 }
                    for _ in 0..<lines {
                        var off = 0
                        var inside = true
                        for d in 0..<last {
                            let p = oc[d] * g.strides[d] - g.padBegin[d] + k[d] * g.dilations[d]
                            if p < 0 || p >= g.input[d] { inside = false; break }
                            off += p * inStrides[d]
                        }
                        if inside {
                            let line = dstPlane + off + koff
                            if sw == 1 {
                                for o in valid { line[o] += src[o] }
                            } else {
                                for o in valid { line[o * sw] += src[o] }
                            }
                        }
                        src += ow
                        var d = last - 1
                        while d >= 0 {
                            oc[d] += 1
                            if oc[d] < g.output[d] { break }
                            oc[d] = 0
                            d -= 1
                        }
                    }
                }
            }
        }
    }
}
