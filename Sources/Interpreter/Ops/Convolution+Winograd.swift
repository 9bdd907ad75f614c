/// 3x3 stride-1 convolution by Winograd's minimal filtering F(2x2, 3x3)
/// (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", 2016).
///
/// Every 2x2 block of outputs ("tile") is computed from a 4x4 input patch as
///
///     Y = A^T [ (G g G^T) ⊙ (B^T d B) ] A
///
/// so the 9 multiply-adds per output and input channel of a direct
/// convolution become 4: after transforming weights (U = G g G^T) and input
/// patches (V = B^T d B) into 16 values each, the channel sums are 16 matrix
/// products M_ξ [M, tiles] = U_ξ [M, C] * V_ξ [C, tiles] run by BLAS, and
/// each tile's 16 sums are transformed back to 2x2 outputs. The transforms
/// only add, subtract and halve, so results match a direct convolution to
/// within float rounding (relative error ~1e-6 in float32).
///
/// Tile rows are split across threads; each thread transforms, multiplies
/// and writes back its own tile rows with single-threaded products.
enum Winograd {
    /// Whether a 2-D convolution geometry is a 3x3 stride-1 undilated one with
    /// enough channels for the 16 products to pay off.
    /// Products with fewer tiles than ~36 (a 12x12 output) run at low BLAS
    /// efficiency and do not pay for the transforms.
    static func applies(_ g: WindowGeometry, inputChannels: Int, outputChannels: Int) -> Bool {
        g.rank == 2 && g.kernel == [3, 3] && g.strides == [1, 1] && g.dilations == [1, 1]
            && inputChannels >= 8 && outputChannels >= 8
            && ((g.output[0] + 1) / 2) * ((g.output[1] + 1) / 2) >= 36
    }

    /// U [16][count]: G g G^T of `count` consecutive 3x3 filters, with
    /// G = [[1, 0, 0], [1/2, 1/2, 1/2], [1/2, -1/2, 1/2], [0, 0, 1]].
    /// Filters are processed in blocks (split across threads) whose 9 taps
    /// are first gathered into rows, so the arithmetic runs over contiguous rows.
    static func transformWeights<T: BinaryFloatingPoint>(_ w: UnsafePointer<T>, count: Int, into u: UnsafeMutablePointer<T>,
                                                         threads: Int) {
        let block = 256
        let blocks = (count + block - 1) / block
        Parallel.forEach(blocks, threads: threads, minimumChunk: 16) { range in
            let taps = UnsafeMutablePointer<T>.allocate(capacity: 21 * block)
            defer { taps.deallocate() }
            let gg = taps + 9 * block
            for bi in range {
                let f0 = bi * block, nb = min(block, count - f0)
                let src = w + f0 * 9
                for k in 0..<9 {
                    let row = taps + k * block
                    for f in 0..<nb { row[f] = src[f &* 9 &+ k] }
                }
                // G applied along the filter rows: Gg [4][3].
                for col in 0..<3 {
                    let a = taps + col * block, b = taps + (3 + col) * block, d = taps + (6 + col) * block
                    let g0 = gg + col * block, g1 = gg + (3 + col) * block, g2 = gg + (6 + col) * block, g3 = gg + (9 + col) * block
                    for f in 0..<nb {
                        g0[f] = a[f]
                        g1[f] = (a[f] + b[f] + d[f]) / 2
                        g2[f] = (a[f] - b[f] + d[f]) / 2
                        g3[f] = d[f]
                    }
                }
                // And along the columns: U [4][4].
                for r in 0..<4 {
                    let a = gg + (r * 3) * block, b = gg + (r * 3 + 1) * block, d = gg + (r * 3 + 2) * block
                    let u0 = u + (r * 4) * count + f0, u1 = u0 + count, u2 = u1 + count, u3 = u2 + count
                    for f in 0..<nb {
                        u0[f] = a[f]
                        u1[f] = (a[f] + b[f] + d[f]) / 2
                        u2[f] = (a[f] - b[f] + d[f]) / 2
                        u3[f] = d[f]
                    }
                }
            }
        }
    }

    /// Convolves one image and group: x [cg, h, w] with transformed weights
    /// u into y [mg, oh, ow], adding bias (mg values) when given.
    /// Convolves tile rows `tileRows` of one image and group: x [cg, h, w]
    /// with transformed weights u into y [mg, oh, ow], adding bias (mg values)
    /// when given. `v` and `mm` hold 16 * cg and 16 * mg values per tile.
    /// The input transform is split across threads by channel, the 16
    /// products by ξ and the output transform by output channel, so every
    /// value is computed by one thread whatever the thread count.
    static func convolve<T: GemmScalar & BinaryFloatingPoint>(_ x: UnsafePointer<T>, _ g: WindowGeometry, cg: Int, mg: Int,
                                                                u: UnsafePointer<T>, bias: UnsafePointer<T>?,
                                                                y: UnsafeMutablePointer<T>, tileRows: Range<Int>,
                                                                v: UnsafeMutablePointer<T>, mm: UnsafeMutablePointer<T>,
                                                                threads: Int) {
        let tw = (g.output[1] + 1) / 2
        let tc = tileRows.count * tw
        Parallel.forEach(cg, threads: threads) { channels in
            transformInput(x, g, channels: channels, cg: cg, tileRows: tileRows, v: v)
        }
        Parallel.forEach(16, threads: threads) { xis in
            for xi in xis {
                T.gemm(transA: false, transB: false, m: mg, n: tc, k: cg, alpha: 1, a: u + xi * mg * cg, lda: cg,
                       b: v + xi * cg * tc, ldb: tc, beta: 0, c: mm + xi * mg * tc, ldc: tc, threads: 1)
            }
        }
        Parallel.forEach(mg, threads: threads) { outputs in
            transformOutput(UnsafePointer(mm), g, outputs: outputs, mg: mg, tileRows: tileRows, bias: bias, y: y)
        }
    }

    /// V[ξ][c][tile] = (B^T d B)[ξ] for channels `channels`, with
    /// B^T = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]].
    static func transformInput<T: BinaryFloatingPoint>(_ x: UnsafePointer<T>, _ g: WindowGeometry, channels: Range<Int>, cg: Int,
                                                       tileRows: Range<Int>, v: UnsafeMutablePointer<T>) {
        let h = g.input[0], w = g.input[1], ow = g.output[1]
        let pt = g.padBegin[0], pl = g.padBegin[1]
        let tw = (ow + 1) / 2
        let rowsIn = 2 * tileRows.count + 2
        let tc = tileRows.count * tw
        // Scratch: row transforms of one channel and the even/odd columns of one row.
        let rt = UnsafeMutablePointer<T>.allocate(capacity: rowsIn * 4 * tw + 2 * (tw + 1))
        defer { rt.deallocate() }
        let e = rt + rowsIn * 4 * tw, o = e + tw + 1

        // Padded columns 2j (even) and 2j + 1 (odd) hold input columns 2j - pl and 2j + 1 - pl.
        func columns(_ phase: Int) -> (Int, Int) {
            let j0 = max(0, (pl - phase + 1) / 2)
            let j1 = min(tw + 1, (pl + w - phase + 1) / 2)
            return (j0, max(j0, j1))
        }
        let (ea, eb) = columns(0), (oa, ob) = columns(1)

        for c in channels {
            let plane = x + c * h * w
            // Row transform (d B) of every input row the tile rows read.
            for r in 0..<rowsIn {
                let iy = 2 * tileRows.lowerBound + r - pt
                let t0 = rt + (r * 4) * tw, t1 = t0 + tw, t2 = t1 + tw, t3 = t2 + tw
                if iy < 0 || iy >= h {
                    t0.update(repeating: 0, count: 4 * tw)
                    continue
                }
                let row = plane + iy * w - pl
                e.update(repeating: 0, count: tw + 1)
                o.update(repeating: 0, count: tw + 1)
                let lo = max(ea, oa), hi = max(lo, min(eb, ob))
                FlatWindow.deinterleave(row + 2 * lo, e + lo, o + lo, hi - lo)
                for j in stride(from: ea, to: min(lo, eb), by: 1) { e[j] = row[2 * j] }
                for j in stride(from: max(hi, ea), to: eb, by: 1) { e[j] = row[2 * j] }
                for j in stride(from: oa, to: min(lo, ob), by: 1) { o[j] = row[2 * j + 1] }
                for j in stride(from: max(hi, oa), to: ob, by: 1) { o[j] = row[2 * j + 1] }
                // B^T = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]] on (e_j, o_j, e_j+1, o_j+1).
                for j in 0..<tw {
                    let d0 = e[j], d1 = o[j], d2 = e[j + 1], d3 = o[j + 1]
                    t0[j] = d0 - d2
                    t1[j] = d1 + d2
                    t2[j] = d2 - d1
                    t3[j] = d1 - d3
                }
            }
            // Column transform (B^T of the 4 rows of each tile row) into V[ξ][c][tile].
            for i in 0..<tileRows.count {
                for xcol in 0..<4 {
                    let r0 = rt + ((2 * i) * 4 + xcol) * tw, r1 = r0 + 4 * tw, r2 = r1 + 4 * tw, r3 = r2 + 4 * tw
                    let base = c * tc + i * tw
                    let v0 = v + (0 * 4 + xcol) * cg * tc + base, v1 = v + (1 * 4 + xcol) * cg * tc + base
                    let v2 = v + (2 * 4 + xcol) * cg * tc + base, v3 = v + (3 * 4 + xcol) * cg * tc + base
                    for j in 0..<tw {
                        v0[j] = r0[j] - r2[j]
                        v1[j] = r1[j] + r2[j]
                        v2[j] = r2[j] - r1[j]
                        v3[j] = r1[j] - r3[j]
                    }
                }
            }
        }
    }

    /// y[m] = A^T M A + bias for output channels `outputs`, with
    /// A^T = [[1, 1, 1, 0], [0, 1, -1, -1]].
    static func transformOutput<T: BinaryFloatingPoint>(_ mm: UnsafePointer<T>, _ g: WindowGeometry, outputs: Range<Int>, mg: Int,
                                                        tileRows: Range<Int>, bias: UnsafePointer<T>?, y: UnsafeMutablePointer<T>) {
        let oh = g.output[0], ow = g.output[1]
        let tw = (ow + 1) / 2
        let tc = tileRows.count * tw
        let y00 = UnsafeMutablePointer<T>.allocate(capacity: 4 * tw)
        defer { y00.deallocate() }
        let y01 = y00 + tw, y10 = y01 + tw, y11 = y10 + tw
        for m in outputs {
            let b0: T = bias?[m] ?? 0
            let out = y + m * oh * ow
            for i in 0..<tileRows.count {
                func at(_ xi: Int) -> UnsafePointer<T> { mm + xi * mg * tc + m * tc + i * tw }
                let m00 = at(0), m01 = at(1), m02 = at(2), m03 = at(3)
                let m10 = at(4), m11 = at(5), m12 = at(6), m13 = at(7)
                let m20 = at(8), m21 = at(9), m22 = at(10), m23 = at(11)
                let m30 = at(12), m31 = at(13), m32 = at(14), m33 = at(15)
                for j in 0..<tw {
                    let s00 = m00[j] + m10[j] + m20[j], s01 = m01[j] + m11[j] + m21[j]
                    let s02 = m02[j] + m12[j] + m22[j], s03 = m03[j] + m13[j] + m23[j]
                    let s10 = m10[j] - m20[j] - m30[j], s11 = m11[j] - m21[j] - m31[j]
                    let s12 = m12[j] - m22[j] - m32[j], s13 = m13[j] - m23[j] - m33[j]
                    y00[j] = s00 + s01 + s02 + b0
                    y01[j] = s01 - s02 - s03 + b0
                    y10[j] = s10 + s11 + s12 + b0
                    y11[j] = s11 - s12 - s13 + b0
                }
                let oy = 2 * (tileRows.lowerBound + i)
                let rowA = out + oy * ow
                let full = ow / 2
                for j in 0..<full {
                    rowA[2 * j] = y00[j]
                    rowA[2 * j + 1] = y01[j]
                }
                if ow % 2 == 1 { rowA[ow - 1] = y00[full] }
                if oy + 1 < oh {
                    let rowB = rowA + ow
                    for j in 0..<full {
                        rowB[2 * j] = y10[j]
                        rowB[2 * j + 1] = y11[j]
                    }
                    if ow % 2 == 1 { rowB[ow - 1] = y10[full] }
                }
            }
        }
    }
}
