import CKernels
import COpenBLAS
#if canImport(Glibc)
import Glibc
#endif
import IR

/// Row-major matrix products shared by MatMul, Gemm, Einsum, Conv and
/// ConvTranspose: `C = alpha * op(A) * op(B) + beta * C` with `op` an optional
/// transpose. float32 and float64 go to OpenBLAS; integers use a plain loop
/// with wrapping arithmetic (ONNX Runtime's integer MatMul wraps as C++ does).
protocol GemmScalar: KernelScalar {
    static func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Self,
                     a: UnsafePointer<Self>, lda: Int, b: UnsafePointer<Self>, ldb: Int,
                     beta: Self, c: UnsafeMutablePointer<Self>, ldc: Int, threads: Int)
    /// y[0..<n] += alpha * x[0..<n] on the calling thread.
    static func axpy(_ n: Int, _ alpha: Self, _ x: UnsafePointer<Self>, _ y: UnsafeMutablePointer<Self>)
}

extension GemmScalar {
    static func axpy(_ n: Int, _ alpha: Self, _ x: UnsafePointer<Self>, _ y: UnsafeMutablePointer<Self>) {
        for i in 0..<n { y[i] += alpha * x[i] }
    }
}

enum Blas {
    /// OpenBLAS runs single-threaded; products are split across the
    /// interpreter's threads here instead. OpenBLAS starts its worker threads
    /// when the library loads, and they spin (sched_yield) for ~0.1 s after
    /// start and after every threaded call, which on a small machine steals
    /// the cores the interpreter's own threads need. So once per process its
    /// workers are stopped (blas_thread_shutdown_, which OpenBLAS exports for
    /// fork handling) and it is limited to the calling thread. Concurrent
    /// single-threaded calls are safe in OpenBLAS's pthreads build.
    /// Evaluated when the operator table is built (Interpreter.init), so a
    /// model that never multiplies matrices is not slowed either.
    static let configured: Void = {
        _ = kernels
        openblas_set_num_threads(1)
        if let handle = dlopen(nil, RTLD_NOW), let shutdown = dlsym(handle, "blas_thread_shutdown_") {
            _ = unsafeBitCast(shutdown, to: (@convention(c) () -> Int32).self)()
        }
    }()

    /// The kernel set OpenBLAS uses (its core name), chosen once per process.
    /// Debian 12's OpenBLAS 0.3.21 picks kernels from a table of CPU models and
    /// falls back to Prescott's SSE3 kernels for a model it does not know (a
    /// 5th-generation Xeon, family 6 model 207, is one): products then run 3–5×
    /// slower than with the AVX-512 kernels the CPU can run. When the set it chose
    /// lacks AVX2 but the CPU (and OS) support AVX2 + FMA or AVX-512, and the user
    /// has not chosen with OPENBLAS_CORETYPE, it is re-selected as OpenBLAS's own
    /// start-up does (driver/others/dynamic.c: gotoblas_dynamic_init reads
    /// OPENBLAS_CORETYPE), with Haswell's or SkylakeX's kernels. Only the
    /// DYNAMIC_ARCH build exports these entry points; without them nothing changes.
    static let kernels: String = {
        let chosen = openblas_get_corename().map { String(cString: $0) } ?? "unknown"
        let avx2Sets: Set<String> = ["haswell", "zen", "excavator", "skylakex", "cooperlake", "sapphirerapids"]
        let level = cpuVectorLevel
        guard level > 0, !avx2Sets.contains(chosen.lowercased()), getenv("OPENBLAS_CORETYPE") == nil,
              let handle = dlopen(nil, RTLD_NOW),
              let quit = dlsym(handle, "gotoblas_dynamic_quit"), let initialize = dlsym(handle, "gotoblas_dynamic_init") else {
            return chosen
        }
        setenv("OPENBLAS_CORETYPE", level == 2 ? "SkylakeX" : "Haswell", 1)
        unsafeBitCast(quit, to: (@convention(c) () -> Void).self)()
        unsafeBitCast(initialize, to: (@convention(c) () -> Void).self)()
        unsetenv("OPENBLAS_CORETYPE")
        return openblas_get_corename().map { String(cString: $0) } ?? "unknown"
    }()

    /// The vector extensions of this CPU and OS: 2 = AVX-512, 1 = AVX2 + FMA, 0 = neither.
    static var cpuVectorLevel: Int { Int(qc_cpu_vector_level()) }

    /// Whether products of a few rows with a large transposed weight take CKernels' AVX-512
    /// kernel (else OpenBLAS). `QUANTC_NO_SMALL_ROWS_KERNEL=1` turns it off, for comparisons.
    static let smallRowsKernel: Bool = qc_sgemm_nt_available() != 0
        && getenv("QUANTC_NO_SMALL_ROWS_KERNEL") == nil

    /// Call before BLAS work: another kernel may have raised the thread count.
    @inline(__always)
    static func prepare() {
        configured
        if openblas_get_num_threads() != 1 { openblas_set_num_threads(1) }
    }

    /// Handles the shapes BLAS rejects (empty dimensions): with k == 0 the
    /// product is zero, so C becomes beta * C. Returns true when done.
    @inline(__always)
    static func degenerate<T: KernelScalar>(m: Int, n: Int, k: Int, beta: T, c: UnsafeMutablePointer<T>, ldc: Int) -> Bool {
        if m == 0 || n == 0 { return true }
        guard k == 0 else { return false }
        for i in 0..<m {
            for j in 0..<n { c[i * ldc + j] = beta == .zero ? .zero : beta * c[i * ldc + j] }
        }
        return true
    }

    /// Splits the `count` outputs of a matrix-vector product (each a dot
    /// product of length k) into contiguous blocks run on `threads` threads.
    /// Blocks depend only on the sizes, never on the thread count, so results
    /// are the same for any number of threads.
    @inline(__always)
    static func splitVector(count: Int, k: Int, threads: Int, _ body: (Range<Int>) -> Void) {
        let blocks = count * max(k, 1) < 1 << 16 ? 1 : min(8, max(1, count / 64))
        let step = ((count + blocks - 1) / blocks + 7) / 8 * 8
        Parallel.forEach((count + step - 1) / step, threads: threads) { r in
            for b in r { body(b * step..<min(count, (b + 1) * step)) }
        }
    }

    /// Splits C [m, n] into blocks run on `threads` threads: by columns when C
    /// is wide (multiples of 16, so BLAS kernels keep full tiles), else by
    /// rows in multiples of 24; products below ~256k multiply-adds stay whole.
    /// Rows are OpenBLAS's N dimension (row-major calls run transposed); with
    /// 8-row multiples the last 8 rows of every block of SqueezeNet's final
    /// 1x1 convolution came out 1 ulp off ONNX Runtime (its 9.5e9 logits then
    /// 0.015 off after softmax), with 24-row multiples none do, as if the
    /// float kernel (measured on Zen) took N in panels of 24 and rounded a
    /// partial panel differently. OpenBLAS's
    /// rounding depends on a block's shape, so blocks depend only on the sizes
    /// (never on the thread count) and results are the same for any number of
    /// threads. `body(rows, columns)` computes one block.
    @inline(__always)
    static func split(m: Int, n: Int, k: Int, threads: Int, _ body: (Range<Int>, Range<Int>) -> Void) {
        if m * n * max(k, 1) < 1 << 18 {
            body(0..<m, 0..<n)
            return
        }
        if n >= m {
            let blocks = min(8, max(1, n / 128))
            let step = ((n + blocks - 1) / blocks + 15) / 16 * 16
            Parallel.forEach((n + step - 1) / step, threads: threads) { r in
                for b in r { body(0..<m, b * step..<min(n, (b + 1) * step)) }
            }
        } else {
            let blocks = min(8, max(1, m / 32))
            let step = ((m + blocks - 1) / blocks + 23) / 24 * 24
            Parallel.forEach((m + step - 1) / step, threads: threads) { r in
                for b in r { body(b * step..<min(m, (b + 1) * step), 0..<n) }
            }
        }
    }
}

extension Float: GemmScalar {
    static func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                     a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                     beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, threads: Int) {
        if Blas.degenerate(m: m, n: n, k: k, beta: beta, c: c, ldc: ldc) { return }
        Blas.prepare()
        if m == 1 || n == 1 {
            // Matrix-vector products (a fully connected layer on one row) go
            // to gemv, split over the output elements.
            Blas.splitVector(count: m == 1 ? n : m, k: k, threads: threads) { r in
                if m == 1 {
                    // c[0, j] = alpha * sum_p op(A)[0, p] * op(B)[p, j] + beta * c[0, j]
                    let x = a, incx = transA ? lda : 1
                    if transB {
                        cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(r.count), Int32(k), alpha, b + r.lowerBound * ldb,
                                    Int32(max(ldb, 1)), x, Int32(incx), beta, c + r.lowerBound, 1)
                    } else {
                        cblas_sgemv(CblasRowMajor, CblasTrans, Int32(k), Int32(r.count), alpha, b + r.lowerBound,
                                    Int32(max(ldb, 1)), x, Int32(incx), beta, c + r.lowerBound, 1)
                    }
                } else {
                    // c[i, 0] = alpha * sum_p op(A)[i, p] * op(B)[p, 0] + beta * c[i, 0]
                    let x = b, incx = transB ? 1 : ldb
                    if transA {
                        cblas_sgemv(CblasRowMajor, CblasTrans, Int32(k), Int32(r.count), alpha, a + r.lowerBound,
                                    Int32(max(lda, 1)), x, Int32(incx), beta, c + r.lowerBound * ldc, Int32(max(ldc, 1)))
                    } else {
                        cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(r.count), Int32(k), alpha, a + r.lowerBound * lda,
                                    Int32(max(lda, 1)), x, Int32(incx), beta, c + r.lowerBound * ldc, Int32(max(ldc, 1)))
                    }
                }
            }
            return
        }
        if !transA && transB && m <= 64 && n * k >= 1 << 20 && Blas.smallRowsKernel {
            // A few rows against a large weight: read in place (see CKernels/gemm_nt.c), split
            // over the weight's rows; each element is summed the same way on any thread count.
            let step = 64
            Parallel.forEach((n + step - 1) / step, threads: threads) { r in
                qc_sgemm_nt_rows(m, r.lowerBound * step, min(n, r.upperBound * step), k, alpha, a, lda, b, ldb, beta, c, ldc)
            }
            return
        }
        Blas.split(m: m, n: n, k: k, threads: threads) { rows, cols in
            let ab = transA ? a + rows.lowerBound : a + rows.lowerBound * lda
            let bb = transB ? b + cols.lowerBound * ldb : b + cols.lowerBound
            cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                        Int32(rows.count), Int32(cols.count), Int32(k), alpha, ab, Int32(max(lda, 1)), bb, Int32(max(ldb, 1)),
                        beta, c + rows.lowerBound * ldc + cols.lowerBound, Int32(max(ldc, 1)))
        }
    }
}

extension Float {
    /// OpenBLAS's kernel uses the machine's widest vectors (this module is
    /// compiled for baseline x86-64).
    static func axpy(_ n: Int, _ alpha: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
        Blas.prepare()
        cblas_saxpy(Int32(n), alpha, x, 1, y, 1)
    }
}

extension Double: GemmScalar {
    static func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Double,
                     a: UnsafePointer<Double>, lda: Int, b: UnsafePointer<Double>, ldb: Int,
                     beta: Double, c: UnsafeMutablePointer<Double>, ldc: Int, threads: Int) {
        if Blas.degenerate(m: m, n: n, k: k, beta: beta, c: c, ldc: ldc) { return }
        Blas.prepare()
        if m == 1 || n == 1 {
            // Matrix-vector products (a fully connected layer on one row) go
            // to gemv, split over the output elements.
            Blas.splitVector(count: m == 1 ? n : m, k: k, threads: threads) { r in
                if m == 1 {
                    // c[0, j] = alpha * sum_p op(A)[0, p] * op(B)[p, j] + beta * c[0, j]
                    let x = a, incx = transA ? lda : 1
                    if transB {
                        cblas_dgemv(CblasRowMajor, CblasNoTrans, Int32(r.count), Int32(k), alpha, b + r.lowerBound * ldb,
                                    Int32(max(ldb, 1)), x, Int32(incx), beta, c + r.lowerBound, 1)
                    } else {
                        cblas_dgemv(CblasRowMajor, CblasTrans, Int32(k), Int32(r.count), alpha, b + r.lowerBound,
                                    Int32(max(ldb, 1)), x, Int32(incx), beta, c + r.lowerBound, 1)
                    }
                } else {
                    // c[i, 0] = alpha * sum_p op(A)[i, p] * op(B)[p, 0] + beta * c[i, 0]
                    let x = b, incx = transB ? 1 : ldb
                    if transA {
                        cblas_dgemv(CblasRowMajor, CblasTrans, Int32(k), Int32(r.count), alpha, a + r.lowerBound,
                                    Int32(max(lda, 1)), x, Int32(incx), beta, c + r.lowerBound * ldc, Int32(max(ldc, 1)))
                    } else {
                        cblas_dgemv(CblasRowMajor, CblasNoTrans, Int32(r.count), Int32(k), alpha, a + r.lowerBound * lda,
                                    Int32(max(lda, 1)), x, Int32(incx), beta, c + r.lowerBound * ldc, Int32(max(ldc, 1)))
                    }
                }
            }
            return
        }
        Blas.split(m: m, n: n, k: k, threads: threads) { rows, cols in
            let ab = transA ? a + rows.lowerBound : a + rows.lowerBound * lda
            let bb = transB ? b + cols.lowerBound * ldb : b + cols.lowerBound
            cblas_dgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                        Int32(rows.count), Int32(cols.count), Int32(k), alpha, ab, Int32(max(lda, 1)), bb, Int32(max(ldb, 1)),
                        beta, c + rows.lowerBound * ldc + cols.lowerBound, Int32(max(ldc, 1)))
        }
    }
}

/// Integer products: rows of C are split across threads; each element sums
/// over k in order, so results do not depend on the thread count.
protocol IntegerGemm: GemmScalar, FixedWidthInteger {}

extension IntegerGemm {
    static func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Self,
                     a: UnsafePointer<Self>, lda: Int, b: UnsafePointer<Self>, ldb: Int,
                     beta: Self, c: UnsafeMutablePointer<Self>, ldc: Int, threads: Int) {
        if Blas.degenerate(m: m, n: n, k: k, beta: beta, c: c, ldc: ldc) { return }
        Parallel.forEach(m, threads: threads, minimumChunk: Swift.max(1, 32768 / Swift.max(n * k, 1))) { rows in
            let acc = UnsafeMutablePointer<Self>.allocate(capacity: n)
            defer { acc.deallocate() }
            for i in rows {
                acc.initialize(repeating: 0, count: n)
                for p in 0..<k {
                    let aip = transA ? a[p * lda + i] : a[i * lda + p]
                    if aip == 0 { continue }
                    if transB {
                        for j in 0..<n { acc[j] = acc[j] &+ aip &* b[j * ldb + p] }
                    } else {
                        let row = b + p * ldb
                        for j in 0..<n { acc[j] = acc[j] &+ aip &* row[j] }
                    }
                }
                let ci = c + i * ldc
                for j in 0..<n { ci[j] = alpha &* acc[j] &+ (beta == 0 ? 0 : beta &* ci[j]) }
            }
        }
    }
}

extension Int8: IntegerGemm {}
extension UInt8: IntegerGemm {}
extension Int16: IntegerGemm {}
extension UInt16: IntegerGemm {}
extension Int32: IntegerGemm {}
extension UInt32: IntegerGemm {}
extension Int64: IntegerGemm {}
extension UInt64: IntegerGemm {}

/// Calls a generic body with the Swift type a matrix product computes in.
protocol GemmVisitor {
    associatedtype Result
    func visit<T: GemmScalar>(_ type: T.Type) throws -> Result
}

extension ElementType {
    /// Visits the compute type of `self` for matrix products; nil for types
    /// without one (bool, strings, 8-bit floats). float16/bfloat16 are
    /// widened by the caller and never reach here.
    func visitGemm<V: GemmVisitor>(_ v: V) throws -> V.Result? {
        switch self {
        case .float32: try v.visit(Float.self)
        case .float64: try v.visit(Double.self)
        case .int8: try v.visit(Int8.self)
        case .uint8: try v.visit(UInt8.self)
        case .int16: try v.visit(Int16.self)
        case .uint16: try v.visit(UInt16.self)
        case .int32: try v.visit(Int32.self)
        case .uint32: try v.visit(UInt32.self)
        case .int64: try v.visit(Int64.self)
        case .uint64: try v.visit(UInt64.self)
        default: nil
        }
    }
}
