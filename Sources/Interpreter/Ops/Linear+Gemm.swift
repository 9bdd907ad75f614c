import COpenBLAS
import IR

/// Row-major matrix products shared by MatMul, Gemm, Einsum, Conv and
/// ConvTranspose: `C = alpha * op(A) * op(B) + beta * C` with `op` an optional
/// transpose. float32 and float64 go to OpenBLAS; integers use a plain loop
/// with wrapping arithmetic (ONNX Runtime's integer MatMul wraps as C++ does).
protocol GemmScalar: KernelScalar {
    static func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Self,
                     a: UnsafePointer<Self>, lda: Int, b: UnsafePointer<Self>, ldb: Int,
                     beta: Self, c: UnsafeMutablePointer<Self>, ldc: Int, threads: Int)
}

enum Blas {
    /// OpenBLAS keeps one global thread count; every call sets it to the
    /// interpreter's so `--threads` is honoured (the call is cheap when unchanged).
    @inline(__always)
    static func useThreads(_ threads: Int) {
        openblas_set_num_threads(Int32(max(1, threads)))
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
}

extension Float: GemmScalar {
    static func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                     a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                     beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, threads: Int) {
        if Blas.degenerate(m: m, n: n, k: k, beta: beta, c: c, ldc: ldc) { return }
        Blas.useThreads(threads)
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(max(lda, 1)), b, Int32(max(ldb, 1)),
                    beta, c, Int32(max(ldc, 1)))
    }
}

extension Double: GemmScalar {
    static func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Double,
                     a: UnsafePointer<Double>, lda: Int, b: UnsafePointer<Double>, ldb: Int,
                     beta: Double, c: UnsafeMutablePointer<Double>, ldc: Int, threads: Int) {
        if Blas.degenerate(m: m, n: n, k: k, beta: beta, c: c, ldc: ldc) { return }
        Blas.useThreads(threads)
        cblas_dgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(max(lda, 1)), b, Int32(max(ldb, 1)),
                    beta, c, Int32(max(ldc, 1)))
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
