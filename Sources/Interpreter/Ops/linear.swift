import IR

// Matrix products (ONNX Operators.md: Gemm, MatMul, Einsum; reference:
// onnx/reference/ops/op_gemm.py, op_matmul.py, op_einsum.py).
//
// float32 and float64 run on OpenBLAS; float16 and bfloat16 are widened to
// float32 and rounded back once at the end (as NumPy's reference does for its
// single matmul); integers use a wrapping loop.

extension Ops {
    static let linear: [OpEntry] = {
        // Configure OpenBLAS (single-threaded, its spinning workers stopped)
        // before any model runs; see Blas.configured.
        Blas.configured
        return linearEntries
    }()

    private static let linearEntries: [OpEntry] = [
        // Gemm 7-13 share one form (from 11, C is optional). The opset-6
        // `broadcast` attribute is ignored: opset 7 made broadcasting of C implicit.
        OpEntry("Gemm") { ctx in [try gemm(ctx)] },
        OpEntry("MatMul") { ctx in [try matmul(try ctx.input(0), try ctx.input(1), threads: ctx.threads)] },
        OpEntry("Einsum") { ctx in
            let operands = try (0..<ctx.inputCount).map { try ctx.input($0) }
            return [try Einsum.evaluate(ctx.string("equation", ""), operands, threads: ctx.threads)]
        },
    ]

    // MARK: - MatMul

    /// NumPy matmul semantics (ONNX MatMul): the last two dimensions are
    /// matrices and the leading ones broadcast; a 1-D A is a row vector and a
    /// 1-D B a column vector, and the added dimension is removed from the result.
    static func matmul(_ a0: RTensor, _ b0: RTensor, threads: Int) throws -> RTensor {
        guard a0.type == b0.type else {
            throw OpError("MatMul inputs differ in type: \(a0.typeDescription) and \(b0.typeDescription)")
        }
        guard a0.rank >= 1, b0.rank >= 1 else {
            throw OpError("MatMul needs inputs of rank 1 or more, got \(a0.typeDescription) and \(b0.typeDescription)")
        }
        let aShape = a0.rank == 1 ? [1, a0.shape[0]] : a0.shape
        let bShape = b0.rank == 1 ? [b0.shape[0], 1] : b0.shape
        let m = aShape[aShape.count - 2], k = aShape[aShape.count - 1]
        let n = bShape[bShape.count - 1]
        guard bShape[bShape.count - 2] == k else {
            throw OpError("MatMul: A \(a0.typeDescription) has \(k) columns but B \(b0.typeDescription) has \(bShape[bShape.count - 2]) rows")
        }
        let batchA = Array(aShape.dropLast(2)), batchB = Array(bShape.dropLast(2))
        guard let batch = Broadcast.shape([batchA, batchB]) else {
            throw OpError("MatMul: batch dimensions of \(a0.typeDescription) and \(b0.typeDescription) do not broadcast")
        }
        var outShape = batch
        if a0.rank > 1 { outShape.append(m) }
        if b0.rank > 1 { outShape.append(n) }
        let a = a0.widened(), b = b0.widened()
        let product = BatchedProduct(a: a, b: b, batchA: batchA, batchB: batchB, batch: batch,
                                     m: m, n: n, k: k, outShape: outShape, threads: threads)
        guard let out = try a.type.visitGemm(product) else {
            throw OpError("MatMul does not support \(a0.type.onnxName)")
        }
        return out.converted(to: a0.type)
    }

    /// One matrix product per broadcast batch index.
    struct BatchedProduct: GemmVisitor {
        let a: RTensor, b: RTensor
        let batchA: [Int], batchB: [Int], batch: [Int]
        let m: Int, n: Int, k: Int
        let outShape: [Int]
        let threads: Int

        func visit<T: GemmScalar>(_: T.Type) -> RTensor {
            let out = RTensor(type: a.type, shape: outShape)
            let pa = UnsafePointer(a.pointer(T.self)), pb = UnsafePointer(b.pointer(T.self))
            let pc = out.pointer(T.self)
            let batchCount = batch.reduce(1, *)
            if batchB.reduce(1, *) == 1 && batchA.reduce(1, *) == batchCount {
                // One B for every batch (x @ W): A's batches are consecutive rows
                // of a single [batch*m, k] matrix, so one product does it all.
                T.gemm(transA: false, transB: false, m: batchCount * m, n: n, k: k, alpha: 1,
                       a: pa, lda: k, b: pb, ldb: n, beta: .zero, c: pc, ldc: n, threads: threads)
                return out
            }
            // Matrix offsets of A and B per batch index.
            var offsets: [(Int, Int)] = []
            offsets.reserveCapacity(batchCount)
            Broadcast.forEachIndex(outShape: batch, inputShapes: [batchA, batchB], range: 0..<batchCount) { _, idx in
                offsets.append((idx[0] * m * k, idx[1] * k * n))
            }
            // Many small products (attention heads) run one per thread; few
            // large ones split each product instead.
            let perThread = batchCount >= threads && m * n * k < 1 << 22
            Parallel.forEach(perThread ? batchCount : 1, threads: perThread ? threads : 1) { range in
                for o in perThread ? range : 0..<batchCount {
                    T.gemm(transA: false, transB: false, m: m, n: n, k: k, alpha: 1,
                           a: pa + offsets[o].0, lda: k, b: pb + offsets[o].1, ldb: n,
                           beta: .zero, c: pc + o * m * n, ldc: n, threads: perThread ? 1 : threads)
                }
            }
            return out
        }
    }

    // MARK: - Gemm

    /// Y = alpha * A' * B' + beta * C, A' and B' optionally transposed 2-D
    /// matrices and C unidirectionally broadcast to [M, N] (ONNX Gemm).
    static func gemm(_ ctx: KernelContext) throws -> RTensor {
        let a0 = try ctx.input(0), b0 = try ctx.input(1)
        let c0 = ctx.optionalInput(2)
        let transA = ctx.int("transA", 0) != 0, transB = ctx.int("transB", 0) != 0
        let alpha = ctx.float("alpha", 1), beta = ctx.float("beta", 1)
        guard a0.rank == 2, b0.rank == 2 else {
            throw OpError("Gemm needs 2-D A and B, got \(a0.typeDescription) and \(b0.typeDescription)")
        }
        guard a0.type == b0.type, c0.map({ $0.type == a0.type }) ?? true else {
            throw OpError("Gemm inputs differ in type: \(([a0, b0] + (c0.map { [$0] } ?? [])).map(\.typeDescription).joined(separator: ", "))")
        }
        let m = transA ? a0.shape[1] : a0.shape[0], k = transA ? a0.shape[0] : a0.shape[1]
        let kb = transB ? b0.shape[1] : b0.shape[0], n = transB ? b0.shape[0] : b0.shape[1]
        guard k == kb else {
            throw OpError("Gemm: A' is [\(m), \(k)] but B' is [\(kb), \(n)] (A \(a0.typeDescription), B \(b0.typeDescription), transA=\(transA ? 1 : 0), transB=\(transB ? 1 : 0))")
        }
        // C must broadcast to [M, N] on its own (unidirectional broadcasting).
        if let c0 {
            let target = [m, n]
            let ok = c0.rank <= 2 && c0.shape.enumerated().allSatisfy { i, d in
                d == 1 || d == target[i + 2 - c0.rank]
            }
            guard ok else { throw OpError("Gemm: C \(c0.typeDescription) does not broadcast to [\(m), \(n)]") }
        }
        let a = a0.widened(), b = b0.widened()
        // Like ONNX Runtime and the reference, C is not read when beta is 0
        // (so an infinite C does not turn into NaN).
        let c = beta == 0 ? nil : c0?.widened()
        let op = GemmOp(a: a, b: b, c: c, m: m, n: n, k: k, transA: transA, transB: transB,
                        alpha: alpha, beta: beta, threads: ctx.threads)
        guard let out = try a.type.visitGemm(op) else { throw OpError("Gemm does not support \(a0.type.onnxName)") }
        return out.converted(to: a0.type)
    }

    struct GemmOp: GemmVisitor {
        let a: RTensor, b: RTensor, c: RTensor?
        let m: Int, n: Int, k: Int
        let transA: Bool, transB: Bool
        let alpha: Float, beta: Float
        let threads: Int

        func visit<T: GemmScalar>(_: T.Type) -> RTensor {
            let out = RTensor(type: a.type, shape: [m, n])
            let y = out.pointer(T.self)
            let pa = UnsafePointer(a.pointer(T.self)), pb = UnsafePointer(b.pointer(T.self))
            let lda = a.shape[1], ldb = b.shape[1]
            if T.self is any FixedWidthInteger.Type {
                // Integers: integer product, then alpha and beta applied in
                // floating point and converted back (as the reference's NumPy does).
                T.gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 1, a: pa, lda: lda, b: pb, ldb: ldb,
                       beta: .zero, c: y, ldc: n, threads: threads)
                if alpha == 1 && c == nil { return out }
                let cv = c.map { broadcastToMatrix($0, T.self) }
                for i in 0..<(m * n) {
                    var v = Double(alpha) * y[i].asDouble
                    if let cv { v += Double(beta) * cv[i].asDouble }
                    y[i] = T(fromDouble: v)
                }
                return out
            }
            var betaT: T = .zero
            if let c {
                fill(y, from: c)
                betaT = T(fromDouble: Double(beta))
            }
            T.gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: T(fromDouble: Double(alpha)),
                   a: pa, lda: lda, b: pb, ldb: ldb, beta: betaT, c: y, ldc: n, threads: threads)
            return out
        }

        /// Writes C broadcast to [m, n] into `y`.
        func fill<T: KernelScalar>(_ y: UnsafeMutablePointer<T>, from c: RTensor) {
            let src = c.pointer(T.self)
            let shape2 = [Int](repeating: 1, count: 2 - c.rank) + c.shape
            let si = shape2[0] == 1 ? 0 : shape2[1], sj = shape2[1] == 1 ? 0 : 1
            for i in 0..<m {
                let row = y + i * n, srow = src + i * si
                if sj == 1 {
                    row.update(from: srow, count: n)
                } else {
                    row.update(repeating: srow[0], count: n)
                }
            }
        }

        func broadcastToMatrix<T: KernelScalar>(_ c: RTensor, _: T.Type) -> [T] {
            [T](unsafeUninitializedCapacity: m * n) { buf, count in
                fill(buf.baseAddress!, from: c)
                count = m * n
            }
        }
    }
}
