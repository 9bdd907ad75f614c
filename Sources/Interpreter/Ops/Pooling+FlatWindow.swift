/// A sliding window over 1-D or 2-D planes computed one kernel tap at a time
/// over the whole plane, for depthwise Conv and the pooling ops.
///
/// Each plane is copied once into a padded buffer (borders hold the padding
/// value) split into stride phases: with equal strides `s` on both axes,
/// padded element (r, c) goes to sub-plane (r % s, c % s) at (r / s, c / s),
/// each sub-plane of pitch `ws`. The input of output (oy, ox) for tap
/// (ky, kx) is padded element (s * oy + ky * dh, s * ox + kx * dw), which is
///
///     subplane(ky * dh % s, kx * dw % s)[q + (ky * dh / s) * ws + kx * dw / s]
///
/// with q = oy * ws + ox. So each tap is one contiguous loop
/// `acc[q] op= src[q + offset]` over an accumulator of pitch `ws` (columns
/// past `ow` are scratch): long loops vectorize (depthwise uses BLAS axpy)
/// and have no per-row overhead, which matters for the small planes (7x7 ...
/// 56x56) of CNNs. The valid columns are then copied, finished (averaged,
/// rooted), into the output.
struct FlatWindow {
    let h: Int, w: Int, oh: Int, ow: Int
    let kh: Int, kw: Int, s: Int, dh: Int, dw: Int
    let pt: Int, pl: Int
    /// Rows and pitch of each stride-phase sub-plane, and the accumulator length.
    let hs: Int, ws: Int, q: Int
    /// The input plane can be read in place (stride 1, no padding ever read).
    let direct: Bool

    /// nil for more than 2 spatial axes, or different strides on axes with
    /// more than one output position.
    init?(_ g: WindowGeometry) {
        guard g.rank == 1 || g.rank == 2 else { return nil }
        let two = g.rank == 2
        h = two ? g.input[0] : 1
        oh = two ? g.output[0] : 1
        kh = two ? g.kernel[0] : 1
        dh = two ? g.dilations[0] : 1
        pt = two ? g.padBegin[0] : 0
        let sh = two ? g.strides[0] : 1
        let l = g.rank - 1
        w = g.input[l]; ow = g.output[l]; kw = g.kernel[l]; dw = g.dilations[l]; pl = g.padBegin[l]
        let sw = g.strides[l]
        if oh > 1 && ow > 1 && sh != sw { return nil }
        guard oh > 0 && ow > 0 else { return nil }
        s = ow > 1 ? sw : (oh > 1 ? sh : 1)
        // Padded rows and columns any output reads.
        let hp = s * (oh - 1) + (kh - 1) * dh + 1
        let wp = s * (ow - 1) + (kw - 1) * dw + 1
        direct = s == 1 && pt == 0 && pl == 0 && wp <= w && hp <= h
        hs = direct ? h : (hp + s - 1) / s
        ws = direct ? w : (wp + s - 1) / s
        q = (oh - 1) * ws + ow
    }

    /// Size of the phase-split padded buffer.
    var paddedCount: Int { s * s * hs * ws }
}

/// What a flat window computes: how input values enter, how taps combine,
/// how results leave. `plane` is the index of the (image, channel) plane.
protocol FlatReduction {
    associatedtype T: BitwiseCopyable & Comparable
    /// Value of padded positions.
    var padValue: T { get }
    /// Whether `load` changes values (then the plane is always copied).
    var transformsInput: Bool { get }
    func load(_ x: T) -> T
    /// Combines the accumulator with every tap of the window; `scratch`
    /// holds `f.separableScratch` values.
    func accumulate(plane: Int, _ f: FlatWindow, acc: UnsafeMutablePointer<T>, src: UnsafePointer<T>,
                    scratch: UnsafeMutablePointer<T>)
    /// Writes output row `oy` (`count` values) from its accumulator row.
    func finish(row oy: Int, _ acc: UnsafePointer<T>, into dst: UnsafeMutablePointer<T>, count: Int)
}

extension FlatWindow {
    /// Runs `r` over `planes` output planes of `y` (plane stride oh * ow),
    /// output plane p reading input plane p / `outputsPerInput` of `x` (plane
    /// stride h * w); planes are split across threads.
    /// `after(plane)`, when given, runs on the thread that finished the plane.
    func run<R: FlatReduction>(_ r: R, planes: Int, x: UnsafePointer<R.T>, y: UnsafeMutablePointer<R.T>,
                               outputsPerInput: Int = 1, threads: Int, after: ((Int) -> Void)? = nil) {
        let copy = !direct || r.transformsInput
        let inPlane = h * w, outPlane = oh * ow
        let work = q * kh * kw
        let phasePlane = hs * ws
        // Sub-plane columns j of `phase` that hold input columns (s * j + phase - pl in 0..<w).
        func columns(phase: Int) -> (Int, Int) {
            let j0 = max(0, (pl - phase + s - 1) / s)
            let j1 = min(ws, (pl + w - phase + s - 1) / s)
            return (j0, max(j0, j1))
        }
        Parallel.forEach(planes, threads: threads, minimumChunk: max(1, 32768 / max(work, 1))) { range in
            let padded: UnsafeMutablePointer<R.T>? = copy ? .allocate(capacity: paddedCount) : nil
            let acc = UnsafeMutablePointer<R.T>.allocate(capacity: q + separableScratch)
            defer { padded?.deallocate(); acc.deallocate() }
            // Borders are the same for every plane: fill once, then overwrite the interior.
            padded?.initialize(repeating: r.padValue, count: paddedCount)
            // Input rows and columns that land inside the padded buffer.
            let rows = max(0, min(h, s * hs - pt)), s = self.s
            for plane in range {
                let src = x + plane / outputsPerInput * inPlane
                let base: UnsafePointer<R.T>
                if let padded {
                    for row in 0..<rows {
                        let from = src + row * w
                        let pr = pt + row
                        let rowBase = padded + (pr % s) * s * phasePlane + (pr / s) * ws
                        if r.transformsInput || s != 2 {
                            for phase in 0..<s {
                                let (j0, j1) = columns(phase: phase)
                                if j0 >= j1 { continue }
                                let to = rowBase + phase * phasePlane, first = from + (s * j0 + phase - pl)
                                if r.transformsInput {
                                    for j in 0..<(j1 - j0) { to[j0 + j] = r.load(first[j &* s]) }
                                } else if s == 1 {
                                    (to + j0).update(from: first, count: j1 - j0)
                                } else {
                                    for j in 0..<(j1 - j0) { to[j0 + j] = first[j &* s] }
                                }
                            }
                        } else {
                            // Stride 2: both phases in one pass where both are inside the row.
                            let (a0, a1) = columns(phase: 0), (b0, b1) = columns(phase: 1)
                            let lo = max(a0, b0), hi = max(lo, min(a1, b1))
                            let to0 = rowBase, to1 = rowBase + phasePlane
                            let at = from - pl
                            FlatWindow.deinterleave(at + 2 * lo, to0 + lo, to1 + lo, hi - lo)
                            // The few columns only one phase has (stride: empty when from >= to).
                            for j in stride(from: a0, to: min(lo, a1), by: 1) { to0[j] = at[2 * j] }
                            for j in stride(from: max(hi, a0), to: a1, by: 1) { to0[j] = at[2 * j] }
                            for j in stride(from: b0, to: min(lo, b1), by: 1) { to1[j] = at[2 * j + 1] }
                            for j in stride(from: max(hi, b0), to: b1, by: 1) { to1[j] = at[2 * j + 1] }
                        }
                    }
                    base = UnsafePointer(padded)
                } else {
                    base = src
                }
                r.accumulate(plane: plane, self, acc: acc, src: base, scratch: acc + q)
                let dst = y + plane * outPlane
                for oy in 0..<oh { r.finish(row: oy, acc + oy * ws, into: dst + oy * ow, count: ow) }
                after?(plane)
            }
        }
    }

    /// Max and sum windows are separable: a pass over the kernel columns
    /// (every padded row) and then one over the kernel rows does
    /// s * hs * ws * kw + q * kh operations instead of q * kh * kw. Used when
    /// that is clearly fewer (large kernels such as SPP's 5x5 ... 13x13).
    var separable: Bool {
        kh > 1 && kw > 1 && 5 * (s * ((hs - 1) * ws + ow) * kw + q * kh) < 4 * q * kh * kw
    }

    /// Values of the row-pass buffer when `separable`.
    var separableScratch: Int { separable ? s * hs * ws : 0 }

    /// acc[q] = combination of every tap, directly or in two separable passes.
    @inline(__always)
    func reduce<C: WindowCombine>(_: C.Type, src: UnsafePointer<C.T>, acc: UnsafeMutablePointer<C.T>,
                                  scratch: UnsafeMutablePointer<C.T>) {
        let n = q
        let phasePlane = hs * ws
        if !separable {
            // Kernel rows one at a time, each combining its columns in one pass.
            acc.update(repeating: C.identity, count: n)
            var offsets = [Int](repeating: 0, count: kw)
            for ky in 0..<kh {
                let ry = ky * dh
                for kx in 0..<kw {
                    let cx = kx * dw
                    offsets[kx] = ((ry % s) * s + cx % s) * phasePlane + (ry / s) * ws + cx / s
                }
                FlatWindow.combine(C.self, acc, src, offsets, n)
            }
            return
        }
        // Row pass: for every row phase, combine the kernel columns.
        let rowLength = (hs - 1) * ws + ow
        for rho in 0..<s {
            let h = scratch + rho * phasePlane
            h.update(repeating: C.identity, count: rowLength)
            let offsets = (0..<kw).map { kx in (rho * s + kx * dw % s) * phasePlane + kx * dw / s }
            FlatWindow.combine(C.self, h, src, offsets, rowLength)
        }
        // Column pass over the kernel rows.
        acc.update(repeating: C.identity, count: n)
        let offsets = (0..<kh).map { ky in (ky * dh % s) * phasePlane + (ky * dh / s) * ws }
        FlatWindow.combine(C.self, acc, UnsafePointer(scratch), offsets, n)
    }

    /// acc[i] = combine(acc[i], src[offsets[0] + i], src[offsets[1] + i], ...)
    /// for i < n, up to three sources per pass over acc.
    @inline(__always)
    static func combine<C: WindowCombine>(_: C.Type, _ acc: UnsafeMutablePointer<C.T>, _ src: UnsafePointer<C.T>,
                                          _ offsets: [Int], _ n: Int) {
        var k = 0
        while k < offsets.count {
            let left = offsets.count - k
            if left >= 3 {
                let p0 = src + offsets[k], p1 = src + offsets[k + 1], p2 = src + offsets[k + 2]
                for i in 0..<n { acc[i] = C.combine(C.combine(C.combine(acc[i], p0[i]), p1[i]), p2[i]) }
                k += 3
            } else if left == 2 {
                let p0 = src + offsets[k], p1 = src + offsets[k + 1]
                for i in 0..<n { acc[i] = C.combine(C.combine(acc[i], p0[i]), p1[i]) }
                k += 2
            } else {
                let p0 = src + offsets[k]
                for i in 0..<n { acc[i] = C.combine(acc[i], p0[i]) }
                k += 1
            }
        }
    }

    /// a[j] = src[2j], b[j] = src[2j + 1] for j < n; float32 with SIMD shuffles.
    @inline(__always)
    static func deinterleave<T>(_ src: UnsafePointer<T>, _ a: UnsafeMutablePointer<T>, _ b: UnsafeMutablePointer<T>, _ n: Int) {
        var j = 0
        if T.self == Float.self {
            let s = UnsafeRawPointer(src), pa = UnsafeMutableRawPointer(a), pb = UnsafeMutableRawPointer(b)
            while j + 4 <= n {
                let v = s.loadUnaligned(fromByteOffset: 8 * j, as: SIMD8<Float>.self)
                pa.storeBytes(of: v.evenHalf, toByteOffset: 4 * j, as: SIMD4<Float>.self)
                pb.storeBytes(of: v.oddHalf, toByteOffset: 4 * j, as: SIMD4<Float>.self)
                j += 4
            }
        }
        while j < n {
            a[j] = src[2 * j]
            b[j] = src[2 * j + 1]
            j += 1
        }
    }

    /// dst[j] = src[2j] for j < n; float32 with SIMD shuffles (never reading
    /// past src[2(n - 1)]).
    @inline(__always)
    static func gatherEven<T>(_ src: UnsafePointer<T>, _ dst: UnsafeMutablePointer<T>, _ n: Int) {
        var j = 0
        if T.self == Float.self {
            let s = UnsafeRawPointer(src), d = UnsafeMutableRawPointer(dst)
            while j + 4 < n {
                let v = s.loadUnaligned(fromByteOffset: 8 * j, as: SIMD8<Float>.self)
                d.storeBytes(of: v.evenHalf, toByteOffset: 4 * j, as: SIMD4<Float>.self)
                j += 4
            }
        }
        while j < n {
            dst[j] = src[2 * j]
            j += 1
        }
    }

    /// Calls `body(tap, offset)` for every tap in kernel order, with the
    /// offset of its first input in the phase-split buffer.
    @inline(__always)
    func forEachTap(_ body: (Int, Int) -> Void) {
        let phasePlane = hs * ws
        for ky in 0..<kh {
            let ry = ky * dh
            for kx in 0..<kw {
                let cx = kx * dw
                body(ky * kw + kx, ((ry % s) * s + cx % s) * phasePlane + (ry / s) * ws + cx / s)
            }
        }
    }
}

// MARK: - Reductions

/// Depthwise convolution: acc = bias + sum of weight * input over the taps.
struct DepthwiseReduction<T: GemmScalar & BinaryFloatingPoint>: FlatReduction {
    let weights: UnsafePointer<T>
    let bias: UnsafePointer<T>?
    /// Planes per image and output channels per input channel (depth multiplier).
    let channels: Int
    var padValue: T { 0 }
    var transformsInput: Bool { false }
    @inline(__always) func load(_ x: T) -> T { x }
    @inline(__always) func finish(row oy: Int, _ acc: UnsafePointer<T>, into dst: UnsafeMutablePointer<T>, count: Int) {
        dst.update(from: acc, count: count)
    }

    func accumulate(plane: Int, _ f: FlatWindow, acc: UnsafeMutablePointer<T>, src: UnsafePointer<T>,
                    scratch: UnsafeMutablePointer<T>) {
        let oc = plane % channels
        let wk = weights + oc * f.kh * f.kw
        acc.update(repeating: bias?[oc] ?? 0, count: f.q)
        let n = f.q
        f.forEachTap { tap, off in
            let wv = wk[tap]
            let p = src + off
            T.axpy(n, wv, p, acc)
        }
    }
}

/// Max pooling: the largest tap; padding is the lowest value and never wins.
/// Like ONNX Runtime, a NaN input never replaces the running maximum.
struct MaxReduction<T: PoolScalar>: FlatReduction {
    var padValue: T { T.lowest }
    var transformsInput: Bool { false }
    @inline(__always) func load(_ x: T) -> T { x }
    @inline(__always) func finish(row oy: Int, _ acc: UnsafePointer<T>, into dst: UnsafeMutablePointer<T>, count: Int) {
        dst.update(from: acc, count: count)
    }

    func accumulate(plane: Int, _ f: FlatWindow, acc: UnsafeMutablePointer<T>, src: UnsafePointer<T>,
                    scratch: UnsafeMutablePointer<T>) {
        f.reduce(MaxCombine<T>.self, src: src, acc: acc, scratch: scratch)
    }
}

/// Average and Lp pooling: a sum over the taps (padding adds 0), then divided
/// by the window's count (average) or taken to the power 1/p (Lp, whose
/// inputs enter as |x|^p).
struct SumReduction<T: BinaryFloatingPoint & PoolScalar>: FlatReduction {
    /// 0 for average pooling, else Lp's p.
    let p: Int
    /// Divisor counts per output row and column (average pooling).
    let rowCounts: [Int], colCounts: [T]
    var padValue: T { 0 }
    var transformsInput: Bool { p != 0 }

    @inline(__always) func load(_ x: T) -> T {
        switch p {
        case 1: abs(x)
        case 2: x * x
        default: T.power(abs(x), p)
        }
    }

    func finish(row oy: Int, _ acc: UnsafePointer<T>, into dst: UnsafeMutablePointer<T>, count: Int) {
        switch p {
        case 0:
            // Exact division by the window's element count, as ONNX Runtime does.
            let rc = T(rowCounts[oy])
            colCounts.withUnsafeBufferPointer { cc in
                for i in 0..<count { dst[i] = acc[i] / (rc * cc[i]) }
            }
        case 1: dst.update(from: acc, count: count)
        case 2: for i in 0..<count { dst[i] = acc[i].squareRoot() }
        default: for i in 0..<count { dst[i] = T.power(acc[i], 1 / Double(p)) }
        }
    }

    func accumulate(plane: Int, _ f: FlatWindow, acc: UnsafeMutablePointer<T>, src: UnsafePointer<T>,
                    scratch: UnsafeMutablePointer<T>) {
        f.reduce(SumCombine<T>.self, src: src, acc: acc, scratch: scratch)
    }
}

/// How a pooling window combines values (for `FlatWindow.reduce`).
protocol WindowCombine {
    associatedtype T
    static var identity: T { get }
    static func combine(_ a: T, _ b: T) -> T
}

/// Maximum that keeps the running value unless the new one is strictly
/// larger (a NaN never wins).
enum MaxCombine<T: PoolScalar>: WindowCombine {
    static var identity: T { T.lowest }
    @inline(__always) static func combine(_ a: T, _ b: T) -> T { b > a ? b : a }
}

enum SumCombine<T: BinaryFloatingPoint & PoolScalar>: WindowCombine {
    static var identity: T { 0 }
    @inline(__always) static func combine(_ a: T, _ b: T) -> T { a + b }
}
