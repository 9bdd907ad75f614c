import IR

// Convolutions (ONNX Operators.md: Conv, ConvTranspose; reference:
// onnx/reference/ops/op_conv.py, op_conv_transpose.py).
//
// Conv is im2col followed by one matrix product per image and group, with
// two shortcuts: a 1x1 kernel with stride 1 and no padding reads the input as
// the column matrix directly, and a depthwise 2-D convolution (one input
// channel per group) runs as a direct loop. ConvTranspose is a product with
// the transposed weights followed by col2im. float16/bfloat16 compute in float32.

extension Ops {
    static let convolution: [OpEntry] = [
        OpEntry("Conv") { ctx in [try conv(ctx)] },
        OpEntry("ConvTranspose") { ctx in [try convTranspose(ctx)] },
    ]

    /// X, W and B in compute form, checked to share a floating-point type.
    static func convOperands(_ ctx: KernelContext, op: String) throws -> (x: RTensor, w: RTensor, b: RTensor?, type: ElementType) {
        let x = try ctx.input(0), w = try ctx.input(1), b = ctx.optionalInput(2)
        guard x.type == w.type, b.map({ $0.type == x.type }) ?? true else {
            throw OpError("\(op) inputs differ in type: \(([x, w] + (b.map { [$0] } ?? [])).map(\.typeDescription).joined(separator: ", "))")
        }
        guard [.float32, .float64, .float16, .bfloat16].contains(x.type) else {
            throw OpError("\(op) does not support \(x.type.onnxName)")
        }
        guard x.rank >= 3, w.rank == x.rank else {
            throw OpError("\(op) needs X of rank 3 or more and W of the same rank, got X \(x.typeDescription) and W \(w.typeDescription)")
        }
        return (x.widened(), w.widened(), b?.widened(), x.type)
    }

    // MARK: - Conv

    static func conv(_ ctx: KernelContext) throws -> RTensor {
        let (x, w, b, type) = try convOperands(ctx, op: "Conv")
        let n = x.shape[0], c = x.shape[1], m = w.shape[0]
        let group = ctx.int("group", 1)
        guard group > 0, c % group == 0, m % group == 0, w.shape[1] == c / group else {
            throw OpError("Conv: X \(x.typeDescription) and W \(w.typeDescription) do not fit group=\(group) (W must be [M, C/group, kernel...] with M divisible by group)")
        }
        let kernel = Array(w.shape[2...])
        if let k = ctx.ints("kernel_shape"), k != kernel {
            throw OpError("Conv: kernel_shape \(k) differs from W's spatial shape \(kernel)")
        }
        if let b, b.shape != [m] { throw OpError("Conv: bias \(b.typeDescription) must be [\(m)]") }
        let g = try WindowGeometry.make(ctx, op: "Conv", input: Array(x.shape[2...]), kernel: kernel)
        let out = RTensor(type: x.type, shape: [n, m] + g.output)
        // The fused epilogue runs on each block of the output as it is written.
        let plan = type == .float32 ? ctx.epilogue?.plan(for: out) : nil
        let job = ConvJob(x: x, w: w, b: b, out: out, n: n, c: c, m: m, group: group, g: g, threads: ctx.threads, plan: plan)
        if x.type == .float32 { job.run(Float.self) } else { job.run(Double.self) }
        return out.converted(to: type)
    }

    struct ConvJob {
        let x: RTensor, w: RTensor, b: RTensor?, out: RTensor
        let n: Int, c: Int, m: Int, group: Int
        let g: WindowGeometry
        let threads: Int
        /// Fused epilogue (float32 only), run on output blocks while they are in cache.
        var plan: EpiloguePlan? = nil

        func run<T: GemmScalar & BinaryFloatingPoint>(_: T.Type) {
            let cg = c / group, mg = m / group
            let inSize = g.inputSize, outSize = g.outputSize, kSize = g.kernelSize
            if out.count == 0 { return }
            let px = UnsafePointer(x.pointer(T.self)), pw = UnsafePointer(w.pointer(T.self))
            let py = out.pointer(T.self)
            let bias = b.map { UnsafePointer($0.pointer(T.self)) }
            if cg == 1 && group > 1, let flat = FlatWindow(g) {
                // One input channel per group (depthwise, possibly with a depth
                // multiplier mg): output plane (image, m) reads input plane (image, m / mg).
                flat.run(DepthwiseReduction(weights: pw, bias: bias, channels: m), planes: n * m, x: px, y: py,
                         outputsPerInput: mg, threads: threads,
                         after: plan.map { plan in { plane in plan.run(py, plane: plane, columns: 0..<outSize) } })
                return
            }
            if cg == 1 && group > 1 && g.rank == 2 {
                depthwise2D(px, pw, bias, py, mg: mg)
                return
            }
            if Winograd.applies(g, inputChannels: cg, outputChannels: mg) {
                winograd(px, pw, bias, py)
                plan?.runAll(py, threads: threads)
                return
            }
            let kDim = cg * kSize
            // Bias first, then the product adds to it (beta = 1).
            let beta: T = bias == nil ? 0 : 1
            func fillBias(_ yg: UnsafeMutablePointer<T>, group grp: Int, columns: Range<Int>) {
                guard let bias else { return }
                for j in 0..<mg {
                    (yg + j * outSize + columns.lowerBound).update(repeating: bias[grp * mg + j], count: columns.count)
                }
            }
            // A 1x1 kernel with stride 1 and no padding reads X itself as the column matrix.
            let pointwise = g.kernel.allSatisfy { $0 == 1 } && g.strides.allSatisfy { $0 == 1 }
                && g.padBegin.allSatisfy { $0 == 0 } && g.padEnd.allSatisfy { $0 == 0 }
            let jobs = n * group
            if jobs > 1 && (pointwise || kDim * outSize <= 1 << 16) {
                // Several images or groups (grouped 1x1 convolutions,
                // ShuffleNet's): whole products split across threads, each
                // finished by the epilogue while it is in cache. A product
                // splits into the same blocks on any thread, so results do
                // not depend on the thread count.
                Parallel.forEach(jobs, threads: threads) { r in
                    let col: UnsafeMutablePointer<T>? = pointwise ? nil : .allocate(capacity: max(kDim * outSize, 1))
                    defer { col?.deallocate() }
                    for job in r {
                        let img = job / group, grp = job % group
                        let yg = py + (img * m + grp * mg) * outSize
                        let xg = px + (img * c + grp * cg) * inSize
                        if let col { Im2col.im2col(xg, channels: cg, g, col: col, threads: 1) }
                        fillBias(yg, group: grp, columns: 0..<outSize)
                        T.gemm(transA: false, transB: false, m: mg, n: outSize, k: kDim, alpha: 1,
                               a: pw + grp * mg * kDim, lda: kDim, b: col.map { UnsafePointer($0) } ?? xg, ldb: outSize,
                               beta: beta, c: yg, ldc: outSize, threads: 1)
                        plan?.run(py, planes: img * m + grp * mg..<img * m + (grp + 1) * mg)
                    }
                }
                return
            }
            if pointwise, let plan {
                // The product's blocks, each finished by the epilogue on the thread that computed it.
                for img in 0..<n {
                    for grp in 0..<group {
                        let yg = py + (img * m + grp * mg) * outSize
                        let xg = px + (img * c + grp * cg) * inSize, wg = pw + grp * mg * kDim
                        Blas.split(m: mg, n: outSize, k: kDim, threads: threads) { rows, cols in
                            for j in rows {
                                if let bias { (yg + j * outSize + cols.lowerBound).update(repeating: bias[grp * mg + j], count: cols.count) }
                            }
                            T.gemm(transA: false, transB: false, m: rows.count, n: cols.count, k: kDim, alpha: 1,
                                   a: wg + rows.lowerBound * kDim, lda: kDim, b: xg + cols.lowerBound, ldb: outSize,
                                   beta: beta, c: yg + rows.lowerBound * outSize + cols.lowerBound, ldc: outSize, threads: 1)
                            if cols.count == outSize {
                                plan.run(py, planes: img * m + grp * mg + rows.lowerBound..<img * m + grp * mg + rows.upperBound)
                            } else {
                                for j in rows { plan.run(py, plane: img * m + grp * mg + j, columns: cols) }
                            }
                        }
                    }
                }
                return
            }
            if pointwise {
                for img in 0..<n {
                    for grp in 0..<group {
                        let yg = py + (img * m + grp * mg) * outSize
                        fillBias(yg, group: grp, columns: 0..<outSize)
                        T.gemm(transA: false, transB: false, m: mg, n: outSize, k: kDim, alpha: 1,
                               a: pw + grp * mg * kDim, lda: kDim, b: px + (img * c + grp * cg) * inSize, ldb: outSize,
                               beta: beta, c: yg, ldc: outSize, threads: threads)
                    }
                }
                return
            }
            // Column tiles of about 256 KiB (at least 128 columns, and at least
            // mg so that re-reading the weights per tile stays cheap): each
            // thread builds a tile's columns and multiplies it while it is in cache.
            let target = max(128, (1 << 16) / max(kDim, 1), mg)
            var tiles = max(1, (outSize + target - 1) / target)
            if tiles == 1 {
                // Small images (usually with many channels): whole column
                // matrix, and the product split across threads.
                let col = UnsafeMutablePointer<T>.allocate(capacity: max(kDim * outSize, 1))
                defer { col.deallocate() }
                for img in 0..<n {
                    for grp in 0..<group {
                        let yg = py + (img * m + grp * mg) * outSize
                        Im2col.im2col(px + (img * c + grp * cg) * inSize, channels: cg, g, col: col, threads: threads)
                        fillBias(yg, group: grp, columns: 0..<outSize)
                        T.gemm(transA: false, transB: false, m: mg, n: outSize, k: kDim, alpha: 1,
                               a: pw + grp * mg * kDim, lda: kDim, b: col, ldb: outSize,
                               beta: beta, c: yg, ldc: outSize, threads: threads)
                        if let plan {
                            Parallel.forEach(mg, threads: threads, minimumChunk: max(1, (1 << 15) / max(outSize, 1))) { r in
                                plan.run(py, planes: img * m + grp * mg + r.lowerBound..<img * m + grp * mg + r.upperBound)
                            }
                        }
                    }
                }
                return
            }
            // Tiles depend only on the sizes (never on the thread count): the
            // products' rounding depends on their shape.
            if jobs * tiles < 8 { tiles = min((outSize + 127) / 128, (8 + jobs - 1) / jobs) }
            let width = (outSize + tiles - 1) / tiles
            tiles = (outSize + width - 1) / width
            Parallel.forEach(jobs * tiles, threads: threads) { items in
                let col = UnsafeMutablePointer<T>.allocate(capacity: max(kDim * width, 1))
                defer { col.deallocate() }
                for item in items {
                    let job = item / tiles, tile = item % tiles
                    let img = job / group, grp = job % group
                    let columns = tile * width..<min(outSize, (tile + 1) * width)
                    let yg = py + (img * m + grp * mg) * outSize
                    Im2col.im2col(px + (img * c + grp * cg) * inSize, g, rows: 0..<kDim, columns: columns,
                                  col: col, ld: columns.count)
                    fillBias(yg, group: grp, columns: columns)
                    T.gemm(transA: false, transB: false, m: mg, n: columns.count, k: kDim, alpha: 1,
                           a: pw + grp * mg * kDim, lda: kDim, b: col, ldb: columns.count,
                           beta: beta, c: yg + columns.lowerBound, ldc: outSize, threads: 1)
                    if let plan {
                        for j in 0..<mg { plan.run(py, plane: img * m + grp * mg + j, columns: columns) }
                    }
                }
            }
        }

        /// 3x3 stride-1 convolution by Winograd F(2x2, 3x3), tile rows split across threads.
        func winograd<T: GemmScalar & BinaryFloatingPoint>(_ px: UnsafePointer<T>, _ pw: UnsafePointer<T>,
                                                           _ bias: UnsafePointer<T>?, _ py: UnsafeMutablePointer<T>) {
            let cg = c / group, mg = m / group
            let inSize = g.inputSize, outSize = g.outputSize
            let filters = mg * cg
            let u = UnsafeMutablePointer<T>.allocate(capacity: 16 * filters * group)
            defer { u.deallocate() }
            for grp in 0..<group {
                Winograd.transformWeights(pw + grp * filters * 9, count: filters, into: u + grp * 16 * filters, threads: threads)
            }
            let th = (g.output[0] + 1) / 2, tw = (g.output[1] + 1) / 2
            // Tile rows per pass: V and M (16 values per channel and tile) near
            // 2 MiB, but at least 64 tiles for the products' efficiency. Passes depend only on the sizes (never on the thread
            // count): the products' rounding depends on their shape.
            let budgetRows = max(1, (1 << 19) / max(16 * (cg + mg) * tw, 1), (64 + tw - 1) / tw)
            let passes = (th + budgetRows - 1) / budgetRows
            let rowsPer = (th + passes - 1) / passes
            let v = UnsafeMutablePointer<T>.allocate(capacity: 16 * cg * rowsPer * tw)
            let mm = UnsafeMutablePointer<T>.allocate(capacity: 16 * mg * rowsPer * tw)
            defer { v.deallocate(); mm.deallocate() }
            for img in 0..<n {
                for grp in 0..<group {
                    for pass in 0..<passes {
                        Winograd.convolve(px + (img * c + grp * cg) * inSize, g, cg: cg, mg: mg,
                                          u: u + grp * 16 * filters, bias: bias.map { $0 + grp * mg },
                                          y: py + (img * m + grp * mg) * outSize,
                                          tileRows: pass * rowsPer..<min(th, (pass + 1) * rowsPer),
                                          v: v, mm: mm, threads: threads)
                    }
                }
            }
        }

        /// One input channel per group: each output plane is a weighted sum of
        /// shifted rows of its input plane; planes are split across threads.
        func depthwise2D<T: BinaryFloatingPoint>(_ px: UnsafePointer<T>, _ pw: UnsafePointer<T>, _ bias: UnsafePointer<T>?,
                                                 _ py: UnsafeMutablePointer<T>, mg: Int) {
            let ih = g.input[0], iw = g.input[1], oh = g.output[0], ow = g.output[1]
            let kh = g.kernel[0], kw = g.kernel[1], sh = g.strides[0], sw = g.strides[1]
            let dh = g.dilations[0], dw = g.dilations[1], ph = g.padBegin[0], pwd = g.padBegin[1]
            // In-bounds output columns per kernel column.
            let ranges = (0..<kw).map { kx in
                Im2col.validRange(offset: kx * dw - pwd, stride: sw, input: iw, output: ow)
            }
            let planes = n * m
            Parallel.forEach(planes, threads: threads, minimumChunk: max(1, 16384 / max(oh * ow * kh * kw, 1))) { range in
                for plane in range {
                    let img = plane / m, oc = plane % m
                    let src = px + (img * c + oc / mg) * ih * iw
                    let dst = py + plane * oh * ow
                    let wk = pw + oc * kh * kw
                    let b0: T = bias?[oc] ?? 0
                    for oy in 0..<oh {
                        let orow = dst + oy * ow
                        orow.update(repeating: b0, count: ow)
                        for ky in 0..<kh {
                            let iy = oy * sh - ph + ky * dh
                            if iy < 0 || iy >= ih { continue }
                            let irow = src + iy * iw
                            for kx in 0..<kw {
                                let wv = wk[ky * kw + kx]
                                let r = ranges[kx]
                                let line = irow + (kx * dw - pwd)
                                if sw == 1 {
                                    for ox in r { orow[ox] += wv * line[ox] }
                                } else {
                                    for ox in r { orow[ox] += wv * line[ox * sw] }
                                }
                            }
                        }
                    }
                    plan?.run(py, plane: plane, columns: 0..<oh * ow)
                }
            }
        }
    }

    // MARK: - ConvTranspose

    static func convTranspose(_ ctx: KernelContext) throws -> RTensor {
        let (x, w, b, type) = try convOperands(ctx, op: "ConvTranspose")
        let n = x.shape[0], c = x.shape[1]
        let group = ctx.int("group", 1)
        guard group > 0, c % group == 0, w.shape[0] == c else {
            throw OpError("ConvTranspose: X \(x.typeDescription) and W \(w.typeDescription) do not fit group=\(group) (W must be [C, M/group, kernel...])")
        }
        let mg = w.shape[1], m = mg * group
        if let b, b.shape != [m] { throw OpError("ConvTranspose: bias \(b.typeDescription) must be [\(m)]") }
        let r = x.rank - 2
        let xin = Array(x.shape[2...])
        let kernel = ctx.ints("kernel_shape") ?? Array(w.shape[2...])
        let strides = ctx.ints("strides") ?? [Int](repeating: 1, count: r)
        let dilations = ctx.ints("dilations") ?? [Int](repeating: 1, count: r)
        let outputPadding = ctx.ints("output_padding") ?? [Int](repeating: 0, count: r)
        var pads = ctx.ints("pads") ?? [Int](repeating: 0, count: 2 * r)
        guard kernel == Array(w.shape[2...]), strides.count == r, dilations.count == r, outputPadding.count == r, pads.count == 2 * r else {
            throw OpError("ConvTranspose: X \(x.typeDescription), W \(w.typeDescription) do not fit kernel_shape=\(kernel), strides=\(strides), dilations=\(dilations), output_padding=\(outputPadding), pads=\(pads)")
        }
        guard strides.allSatisfy({ $0 > 0 }), dilations.allSatisfy({ $0 > 0 }) else {
            throw OpError("ConvTranspose: strides=\(strides) and dilations=\(dilations) must be positive")
        }
        let autoPad = ctx.string("auto_pad", "NOTSET")
        guard ["NOTSET", "", "SAME_UPPER", "SAME_LOWER", "VALID"].contains(autoPad) else {
            throw OpError("ConvTranspose: unknown auto_pad '\(autoPad)'")
        }
        // Size without padding along axis d.
        func full(_ d: Int) -> Int { strides[d] * (xin[d] - 1) + outputPadding[d] + (kernel[d] - 1) * dilations[d] + 1 }
        var outSpatial = [Int](repeating: 0, count: r)
        var target: [Int]? = nil
        if var os = ctx.ints("output_shape") {
            // The spec's output_shape is spatial; accept [N, M, spatial...] too.
            if os.count == r + 2 { os = Array(os[2...]) }
            guard os.count == r else { throw OpError("ConvTranspose: output_shape \(os) does not have \(r) spatial dimensions") }
            target = os
        } else if autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER" {
            target = (0..<r).map { xin[$0] * strides[$0] }
        }
        if let target {
            // Padding follows from the requested size (Operators.md, ConvTranspose):
            // SAME_UPPER puts the odd pixel at the start, otherwise at the end.
            // Explicit pads are ignored then.
            for d in 0..<r {
                let total = full(d) - target[d]
                let half = floorDiv(total, 2)
                pads[d] = autoPad == "SAME_UPPER" ? half : total - half
                pads[d + r] = total - pads[d]
                outSpatial[d] = target[d]
            }
        } else {
            if autoPad == "VALID" { pads = [Int](repeating: 0, count: 2 * r) }
            for d in 0..<r { outSpatial[d] = full(d) - pads[d] - pads[d + r] }
        }
        guard outSpatial.allSatisfy({ $0 >= 0 }) else {
            throw OpError("ConvTranspose: output spatial shape \(outSpatial) is negative (X \(x.typeDescription), W \(w.typeDescription), pads \(pads))")
        }
        // col2im's geometry is the convolution this one transposes: its input
        // is our output and its output our input.
        let g = WindowGeometry(input: outSpatial, kernel: kernel, strides: strides, dilations: dilations,
                               padBegin: Array(pads[..<r]), padEnd: Array(pads[r...]), output: xin)
        let out = RTensor(type: x.type, shape: [n, m] + outSpatial)
        let job = ConvTransposeJob(x: x, w: w, b: b, out: out, n: n, c: c, m: m, group: group, g: g, threads: ctx.threads)
        if x.type == .float32 { job.run(Float.self) } else { job.run(Double.self) }
        return out.converted(to: type)
    }

    static func floorDiv(_ a: Int, _ b: Int) -> Int {
        let q = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
    }

    struct ConvTransposeJob {
        let x: RTensor, w: RTensor, b: RTensor?, out: RTensor
        let n: Int, c: Int, m: Int, group: Int
        let g: WindowGeometry
        let threads: Int

        func run<T: GemmScalar & BinaryFloatingPoint>(_: T.Type) {
            let cg = c / group, mg = m / group
            let xSize = g.outputSize, ySize = g.inputSize, kSize = g.kernelSize
            let px = UnsafePointer(x.pointer(T.self)), pw = UnsafePointer(w.pointer(T.self))
            let py = out.pointer(T.self)
            if out.count == 0 { return }
            let rows = mg * kSize
            let col = UnsafeMutablePointer<T>.allocate(capacity: max(rows * xSize, 1))
            defer { col.deallocate() }
            for img in 0..<n {
                for grp in 0..<group {
                    let xg = px + (img * c + grp * cg) * xSize
                    let yg = py + (img * m + grp * mg) * ySize
                    let wg = pw + grp * cg * rows
                    for j in 0..<mg {
                        (yg + j * ySize).update(repeating: b.map { $0.pointer(T.self)[grp * mg + j] } ?? 0, count: ySize)
                    }
                    // col [mg * kSize, xSize] = W_g^T [mg * kSize, cg] * X_g [cg, xSize]
                    T.gemm(transA: true, transB: false, m: rows, n: xSize, k: cg, alpha: 1,
                           a: wg, lda: rows, b: xg, ldb: xSize, beta: 0, c: col, ldc: xSize, threads: threads)
                    Im2col.col2im(UnsafePointer(col), channels: mg, g, x: yg, threads: threads)
                }
            }
        }
    }
}
