import IR

// The fused quantized operators ONNX Runtime builds from QDQ patterns (QLinearConv and
// QLinearMatMul of ONNX Operators.md; QGemm, QLinearAdd, QLinearMul and
// QLinearGlobalAveragePool of its com.microsoft domain, ContribOperators.md), computed
// with the arithmetic of its x86 MLAS kernels so that quantc's simulation of a QDQ model
// produces ORT's bytes (``QDQFusion`` rewrites the patterns into these nodes at load):
//
//  - products: uint8/int8 values less their zero points, multiplied and summed exactly
//    in int32 (onnxruntime/core/mlas/lib/qgemm.cpp, convsym.cpp). Here the sums run in
//    float64 through the float Conv/Gemm/MatMul kernels and are rounded to the nearest
//    integer: every product is at most 255·255 and a sum of K of them differs from the
//    exact integer by far less than 0.5 for any K below 2^30 (float64 carries 53 bits;
//    Winograd's transforms add a relative error near 2^-50), so the rounded value is
//    the int32 accumulator itself.
//  - requantization (quantize.cpp, MlasRequantizeOutput): float32(acc + bias) times the
//    float32 scale x_scale·w_scale/y_scale (per output channel), clamped to the output
//    range less the zero point, rounded half to even (cvtps2dq), plus the zero point.
//  - QLinearAdd (intrinsics/avx2/qladd_avx2.cpp) and QLinearMul (qlmul.cpp): see below.

extension Ops {
    static let qlinear: [OpEntry] = [
        OpEntry("QLinearConv") { ctx in [try qlinearConv(ctx)] },
        OpEntry("QLinearMatMul") { ctx in [try qlinearMatMul(ctx)] },
        OpEntry("QGemm", domain: "com.microsoft") { ctx in [try qgemm(ctx)] },
        OpEntry("QLinearAdd", domain: "com.microsoft") { ctx in [try qlinearBinary(ctx, add: true)] },
        OpEntry("QLinearMul", domain: "com.microsoft") { ctx in [try qlinearBinary(ctx, add: false)] },
        OpEntry("QLinearGlobalAveragePool", domain: "com.microsoft") { ctx in [try qlinearGlobalAveragePool(ctx)] },
    ]

    // MARK: - Parameters

    /// A per-tensor float32 scale.
    static func qScale(_ ctx: KernelContext, _ i: Int, _ what: String) throws -> Float {
        let t = try ctx.input(i)
        guard t.type == .float32, t.count == 1 else {
            throw OpError("\(ctx.node.opType): \(what) must be one float32, got \(t.typeDescription)")
        }
        return t.elements(Float.self)[0]
    }

    /// The values of an 8-bit tensor as Int32.
    static func qValues(_ t: RTensor) -> [Int32] {
        t.type == .int8 ? t.elements(Int8.self).map { Int32($0) } : t.elements(UInt8.self).map { Int32($0) }
    }

    /// A per-tensor zero point (0 when left out) of `type`.
    static func qZeroPoint(_ ctx: KernelContext, _ i: Int, type: ElementType, _ what: String) throws -> Int32 {
        guard let t = ctx.optionalInput(i) else { return 0 }
        guard t.type == type, t.count == 1 else {
            throw OpError("\(ctx.node.opType): \(what) must be one \(type.onnxName), got \(t.typeDescription)")
        }
        return qValues(t)[0]
    }

    /// An 8-bit quantized input.
    static func qInput(_ ctx: KernelContext, _ i: Int, _ what: String) throws -> RTensor {
        let t = try ctx.input(i)
        guard t.type == .uint8 || t.type == .int8 else {
            throw OpError("\(ctx.node.opType): \(what) must be uint8 or int8, got \(t.typeDescription)")
        }
        return t
    }

    /// `q` less its zero point, as float64 (exact), zero points indexed along `axis`
    /// (one for all when `zeroPoints` has one element).
    static func centered(_ q: RTensor, zeroPoints: [Int32], axis: Int) -> RTensor {
        let out = RTensor(type: .float64, shape: q.shape)
        let dst = out.pointer(Double.self)
        func fill<E: BinaryInteger>(_ src: UnsafeMutablePointer<E>) {
            if zeroPoints.count <= 1 {
                let z = Double(zeroPoints.first ?? 0)
                for i in 0..<q.count { dst[i] = Double(src[i]) - z }
            } else {
                let inner = q.shape[(axis + 1)...].reduce(1, *), n = q.shape[axis]
                for i in 0..<q.count { dst[i] = Double(Int32(src[i]) - zeroPoints[(i / inner) % n]) }
            }
        }
        if q.type == .int8 { fill(q.pointer(Int8.self)) } else { fill(q.pointer(UInt8.self)) }
        return out
    }

    /// `centered` for a weight: computed once per weight buffer and kept with it
    /// (the weights of QLinearConv, QLinearMatMul and QGemm are initializers, so
    /// later runs of the model skip the conversion: 67 MB for common's QGemm).
    static func centeredWeight(_ q: RTensor, zeroPoints: [Int32], axis: Int) -> RTensor {
        q.buffer.derived("centered \(q.type) \(q.shape) axis \(axis) zero points \(zeroPoints)") {
            centered(q, zeroPoints: zeroPoints, axis: axis)
        }
    }

    /// Per-channel (or one) weight scales and zero points: `count` values, or one.
    static func weightParams(_ ctx: KernelContext, scale si: Int, zeroPoint zi: Int, type: ElementType, count: Int,
                             _ what: String) throws -> (scales: [Float], zeroPoints: [Int32]) {
        let s = try ctx.input(si)
        guard s.type == .float32, s.rank <= 1, s.count == 1 || s.count == count else {
            throw OpError("\(ctx.node.opType): \(what) scale must be float32 with 1 or \(count) values, got \(s.typeDescription)")
        }
        var z = [Int32](repeating: 0, count: s.count)
        if let zt = ctx.optionalInput(zi) {
            guard zt.type == type, zt.count == s.count else {
                throw OpError("\(ctx.node.opType): \(what) zero point must be \(type.onnxName) with \(s.count) values, got \(zt.typeDescription)")
            }
            z = qValues(zt)
        }
        return (s.array(Float.self), z)
    }

    /// The float64 accumulator rounded to the exact integer it stands for.
    @inline(__always)
    static func exactInteger(_ v: Double) -> Int32 { Int32(v.rounded(.toNearestOrEven)) }

    /// MlasRequantizeOutput for one value: acc (bias included) to `type`.
    @inline(__always)
    static func requantize(_ acc: Int32, scale: Float, zeroPoint: Int32, low: Float, high: Float) -> Int32 {
        let v = min(max(Float(acc) * scale, low), high)
        return Int32(v.rounded(.toNearestOrEven)) + zeroPoint
    }

    /// Output of `type` from int32 accumulators laid out [outer, channels, inner],
    /// each channel with its own scale (or one for all).
    static func requantized(_ acc: [Int32], shape: [Int], channelAxis: Int, scales: [Float], zeroPoint: Int32,
                            type: ElementType) -> RTensor {
        let out = RTensor(type: type, shape: shape)
        let (qmin, qmax): (Int32, Int32) = type == .int8 ? (-128, 127) : (0, 255)
        let low = Float(qmin - zeroPoint), high = Float(qmax - zeroPoint)
        let inner = shape[(channelAxis + 1)...].reduce(1, *), n = shape[channelAxis]
        let dst = out.pointer(UInt8.self)
        for i in acc.indices {
            let s = scales.count == 1 ? scales[0] : scales[(i / inner) % n]
            let q = requantize(acc[i], scale: s, zeroPoint: zeroPoint, low: low, high: high)
            dst[i] = UInt8(truncatingIfNeeded: min(max(q, qmin), qmax))
        }
        return out
    }

    /// Runs the float kernel `op` (with `node`'s attributes) on float64 operands.
    static func floatKernel(_ ctx: KernelContext, op: String, _ inputs: [RTensor?], attributes: [Attribute],
                            _ kernel: (KernelContext) throws -> RTensor) throws -> RTensor {
        let node = Node(name: ctx.node.name, opType: op, inputs: inputs.indices.map { "i\($0)" }, outputs: ["y"],
                        attributes: attributes)
        let inner = KernelContext(node: node, opset: ctx.opset, inputs: inputs, runSubgraph: ctx.runSubgraph,
                                  threads: ctx.threads)
        return try kernel(inner)
    }

    // MARK: - QLinearConv

    /// Inputs x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale,
    /// y_zero_point, B (int32); Conv's attributes.
    static func qlinearConv(_ ctx: KernelContext) throws -> RTensor {
        let x = try qInput(ctx, 0, "x"), w = try qInput(ctx, 3, "w")
        let xs = try qScale(ctx, 1, "x_scale"), ys = try qScale(ctx, 6, "y_scale")
        let xz = try qZeroPoint(ctx, 2, type: x.type, "x_zero_point")
        let yType = ctx.optionalInput(7)?.type ?? x.type
        let yz = try qZeroPoint(ctx, 7, type: yType, "y_zero_point")
        guard w.rank >= 3 else { throw OpError("QLinearConv: w must have rank 3 or more, got \(w.typeDescription)") }
        let m = w.shape[0]
        let (ws, wz) = try weightParams(ctx, scale: 4, zeroPoint: 5, type: w.type, count: m, "w")
        let bias = ctx.optionalInput(8)
        if let bias, bias.type != .int32 || bias.shape != [m] {
            throw OpError("QLinearConv: B must be int32 [\(m)], got \(bias.typeDescription)")
        }
        let attributes = ctx.node.attributes
        let acc = try floatKernel(ctx, op: "Conv", [centered(x, zeroPoints: [xz], axis: 0), centeredWeight(w, zeroPoints: wz, axis: 0)],
                                  attributes: attributes) { try conv($0) }
        let inner = acc.shape[2...].reduce(1, *)
        let b = bias?.array(Int32.self)
        let a = acc.elements(Double.self)
        let sums = (0..<acc.count).map { i in exactInteger(a[i]) &+ (b?[(i / inner) % m] ?? 0) }
        // ORT: output_scales[i] = X_scale * W_scale[i] / Y_scale (qlinearconv.cc).
        let scales = ws.map { xs * $0 / ys }
        return requantized(sums, shape: acc.shape, channelAxis: 1, scales: scales, zeroPoint: yz, type: yType)
    }

    // MARK: - QLinearMatMul

    /// Inputs a, a_scale, a_zero_point, b, b_scale, b_zero_point, y_scale, y_zero_point;
    /// b's parameters per tensor or, for a 2-D b, per column.
    static func qlinearMatMul(_ ctx: KernelContext) throws -> RTensor {
        let a = try qInput(ctx, 0, "a"), b = try qInput(ctx, 3, "b")
        let sa = try qScale(ctx, 1, "a_scale"), sy = try qScale(ctx, 6, "y_scale")
        let za = try qZeroPoint(ctx, 2, type: a.type, "a_zero_point")
        let yType = ctx.optionalInput(7)?.type ?? a.type
        let zy = try qZeroPoint(ctx, 7, type: yType, "y_zero_point")
        let n = b.shape.last ?? 1
        let (sb, zb) = try weightParams(ctx, scale: 4, zeroPoint: 5, type: b.type, count: n, "b")
        let acc = try matmul(centered(a, zeroPoints: [za], axis: 0), centeredWeight(b, zeroPoints: zb, axis: b.rank - 1),
                             threads: ctx.threads)
        let sums = acc.elements(Double.self).map(exactInteger)
        let scales = sb.map { sa * $0 / sy }
        return requantized(sums, shape: acc.shape, channelAxis: acc.rank - 1, scales: scales, zeroPoint: zy, type: yType)
    }

    // MARK: - QGemm

    /// Inputs A, a_scale, a_zero_point, B, b_scale, b_zero_point, C (int32),
    /// y_scale, y_zero_point; attributes transA, transB, alpha. Without y_scale the
    /// output is float32: float32(acc + C) · alpha·a_scale·b_scale (quant_gemm.cc).
    static func qgemm(_ ctx: KernelContext) throws -> RTensor {
        let a = try qInput(ctx, 0, "A"), b = try qInput(ctx, 3, "B")
        let sa = try qScale(ctx, 1, "a_scale")
        let za = try qZeroPoint(ctx, 2, type: a.type, "a_zero_point")
        let transB = ctx.int("transB", 0) != 0, alpha = ctx.float("alpha", 1)
        guard a.rank == 2, b.rank == 2 else {
            throw OpError("QGemm needs 2-D A and B, got \(a.typeDescription) and \(b.typeDescription)")
        }
        let n = transB ? b.shape[0] : b.shape[1]
        let (sb, zb) = try weightParams(ctx, scale: 4, zeroPoint: 5, type: b.type, count: n, "b")
        let attributes = ctx.node.attributes.filter { $0.name == "transA" || $0.name == "transB" }
        let acc = try floatKernel(ctx, op: "Gemm", [centered(a, zeroPoints: [za], axis: 0),
                                                     centeredWeight(b, zeroPoints: zb, axis: transB ? 0 : 1)],
                                  attributes: attributes) { try gemm($0) }
        let m = acc.shape[0]
        var sums = acc.elements(Double.self).map(exactInteger)
        if let c = ctx.optionalInput(6) {
            guard c.type == .int32, c.rank <= 2 else { throw OpError("QGemm: C must be int32 of rank 2 or less, got \(c.typeDescription)") }
            let cv = c.array(Int32.self)
            let shape2 = [Int](repeating: 1, count: 2 - c.rank) + c.shape
            guard (shape2[0] == 1 || shape2[0] == m), (shape2[1] == 1 || shape2[1] == n) else {
                throw OpError("QGemm: C \(c.typeDescription) does not broadcast to [\(m), \(n)]")
            }
            for i in sums.indices {
                let r = shape2[0] == 1 ? 0 : i / n, col = shape2[1] == 1 ? 0 : i % n
                sums[i] = sums[i] &+ cv[r * shape2[1] + col]
            }
        }
        // output_scales[i] = alpha * a_scale * b_scale[i] (then / y_scale).
        var scales = sb.map { alpha * sa * $0 }
        guard ctx.optionalInput(7) != nil else {
            let out = RTensor(type: .float32, shape: acc.shape)
            let dst = out.pointer(Float.self)
            for i in sums.indices { dst[i] = Float(sums[i]) * (scales.count == 1 ? scales[0] : scales[i % n]) }
            return out
        }
        let sy = try qScale(ctx, 7, "y_scale")
        let yType = ctx.optionalInput(8)?.type ?? a.type
        let zy = try qZeroPoint(ctx, 8, type: yType, "y_zero_point")
        scales = scales.map { $0 / sy }
        return requantized(sums, shape: acc.shape, channelAxis: 1, scales: scales, zeroPoint: zy, type: yType)
    }

    // MARK: - QLinearAdd, QLinearMul

    /// Inputs A, A_scale, A_zero_point, B, B_scale, B_zero_point, C_scale,
    /// C_zero_point, broadcasting as Add and Mul do.
    ///
    /// Add (MlasQLinearAddKernelAvx2Helper): with rA = sA/sC, rB = sB/sC and
    /// f = zC - (rA·zA + rB·zB), c = round(fma(a, rA, fma(b, rB, f))); an operand
    /// that is constant over the innermost run ORT loops over ("scalar") is folded
    /// into f first as f + x·r (a separate product and sum), the other then fused.
    /// Mul (MlasQLinearMulKernel, SSE2): c = round(float((a - zA)·(b - zB))·(sA·sB/sC) + zC),
    /// product and sum rounded separately. Both round half to even and saturate.
    static func qlinearBinary(_ ctx: KernelContext, add: Bool) throws -> RTensor {
        let a = try qInput(ctx, 0, "A"), b = try qInput(ctx, 3, "B")
        guard a.type == b.type else { throw OpError("\(ctx.node.opType): A and B differ in type: \(a.typeDescription), \(b.typeDescription)") }
        let sa = try qScale(ctx, 1, "A_scale"), sb = try qScale(ctx, 4, "B_scale"), sc = try qScale(ctx, 6, "C_scale")
        let za = try qZeroPoint(ctx, 2, type: a.type, "A_zero_point"), zb = try qZeroPoint(ctx, 5, type: a.type, "B_zero_point")
        let zc = try qZeroPoint(ctx, 7, type: a.type, "C_zero_point")
        guard let shape = Broadcast.shape([a.shape, b.shape]) else {
            throw OpError("\(ctx.node.opType): A \(a.typeDescription) and B \(b.typeDescription) do not broadcast")
        }
        let out = RTensor(type: a.type, shape: shape)
        let (qmin, qmax): (Int32, Int32) = a.type == .int8 ? (-128, 127) : (0, 255)
        let av = qValues(a), bv = qValues(b)
        // Which operand stays constant along the innermost dimension that is not 1.
        let last = shape.lastIndex { $0 > 1 }
        func constantInner(_ s: [Int]) -> Bool {
            guard let last else { return true }
            let j = last - (shape.count - s.count)
            return j < 0 || s[j] == 1
        }
        let scalarA = a.count == 1 || constantInner(a.shape), scalarB = !scalarA && (b.count == 1 || constantInner(b.shape))
        let dst = out.pointer(UInt8.self)
        let rA = sa / sc, rB = sb / sc
        let fixed = Float(zc) - (rA * Float(za) + rB * Float(zb))
        let ratio = sa * sb / sc
        Broadcast.forEachIndex(outShape: shape, inputShapes: [a.shape, b.shape], range: 0..<out.count) { o, idx in
            let x = av[idx[0]], y = bv[idx[1]]
            let v: Float
            if add {
                let fx = Float(x), fy = Float(y)
                if scalarA {
                    v = (fixed + fx * rA).addingProduct(fy, rB)
                } else if scalarB {
                    v = (fixed + fy * rB).addingProduct(fx, rA)
                } else {
                    v = fixed.addingProduct(fy, rB).addingProduct(fx, rA)
                }
            } else {
                v = Float((x - za) * (y - zb)) * ratio + Float(zc)
            }
            let r = v.isNaN || abs(v) > 1e9 ? (v > 0 ? qmax : qmin) : Int32(v.rounded(.toNearestOrEven))
            dst[o] = UInt8(truncatingIfNeeded: min(max(r, qmin), qmax))
        }
        return out
    }

    // MARK: - QLinearGlobalAveragePool

    /// Inputs X, x_scale, x_zero_point, y_scale, y_zero_point; channels_last = 0 only.
    /// The integer sum of each plane less N·x_zero_point, requantized with the scale
    /// x_scale / (y_scale · N) (qlgavgpool.cpp).
    static func qlinearGlobalAveragePool(_ ctx: KernelContext) throws -> RTensor {
        let x = try qInput(ctx, 0, "X")
        guard ctx.int("channels_last", 0) == 0 else { throw OpError("QLinearGlobalAveragePool: channels_last=1 is not supported") }
        guard x.rank >= 3 else { throw OpError("QLinearGlobalAveragePool: X must have rank 3 or more, got \(x.typeDescription)") }
        let sx = try qScale(ctx, 1, "x_scale"), sy = try qScale(ctx, 3, "y_scale")
        let zx = try qZeroPoint(ctx, 2, type: x.type, "x_zero_point")
        let yType = ctx.optionalInput(4)?.type ?? x.type
        let zy = try qZeroPoint(ctx, 4, type: yType, "y_zero_point")
        let planes = x.shape[0] * x.shape[1], size = x.shape[2...].reduce(1, *)
        let v = qValues(x)
        let sums = (0..<planes).map { p in v[p * size..<(p + 1) * size].reduce(Int32(0), &+) &- zx &* Int32(size) }
        let scale = sx / (sy * Float(size))
        return requantized(sums, shape: Array(x.shape[..<2]) + [Int](repeating: 1, count: x.rank - 2), channelAxis: 1,
                           scales: [scale], zeroPoint: zy, type: yType)
    }
}
