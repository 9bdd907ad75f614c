import COpenBLAS
import IR
import Interpreter

/// The layer-local Hessian of one layer's reconstruction error: per group g,
/// H_g = (1/samples) Σ x xᵀ over every input column x the layer multiplies
/// (``LayerMatrices``), so that for a weight change ΔW
/// tr(ΔW_g H_g ΔW_gᵀ) summed over groups is E‖ΔW·X‖² per sample: the layer's
/// output MSE times its outputs per sample (GPTQ, Frantar et al. 2022, §3).
///
/// Precision: each chunk of ≤ `chunk` columns is multiplied in Float by
/// OpenBLAS's ssyrk (the fast path, error ~√chunk·ε relative), and the chunk
/// sums are added into Double, so the error does not grow with the number of
/// samples as a single Float sum over millions of columns would.
public struct LayerHessian: Sendable {
    public let matrices: LayerMatrices
    /// Σ x xᵀ per group, d × d row-major, both triangles filled once finished.
    public private(set) var sums: [Double]
    public private(set) var samples = 0
    public private(set) var columns = 0

    public init(matrices: LayerMatrices) {
        self.matrices = matrices
        sums = [Double](repeating: 0, count: matrices.groups * matrices.dimension * matrices.dimension)
    }

    public var dimension: Int { matrices.dimension }
    public var groups: Int { matrices.groups }

    /// Adds the columns of one batch input `x` (of `samples` samples). Chunks are
    /// multiplied `threads` at a time and added in chunk order, so the sums do not
    /// depend on the thread count.
    public mutating func add(_ x: RTensor, samples n: Int, chunk: Int = 1024, threads: Int = 1) throws(LayerMatricesError) {
        if openblas_get_num_threads() != 1 { openblas_set_num_threads(1) }
        let d = dimension
        var pending: [(group: Int, columns: [Float], count: Int)] = []
        var seen = 0
        func flush() {
            var grams = [[Float]](repeating: [], count: pending.count)
            grams.withUnsafeMutableBufferPointer { out in
                let out = out
                Parallel.forEach(pending.count, threads: threads) { r in
                    for i in r {
                        var gram = [Float](repeating: 0, count: d * d)
                        cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, Int32(d), Int32(pending[i].count), 1, pending[i].columns,
                                    Int32(d), 0, &gram, Int32(d))
                        out[i] = gram
                    }
                }
            }
            sums.withUnsafeMutableBufferPointer { s in
                for (p, gram) in zip(pending, grams) {
                    let base = p.group * d * d
                    for i in 0..<d { for j in i..<d { s[base + i * d + j] += Double(gram[i * d + j]) } }
                }
            }
            pending.removeAll(keepingCapacity: true)
        }
        try matrices.forEachColumnChunk(x, chunk: max(chunk, min(d, 8192))) { g, cols, count in
            pending.append((g, Array(cols), count))
            seen += count
            if pending.count >= max(1, threads) { flush() }
        }
        flush()
        columns += seen
        samples += n
    }

    /// Fills the lower triangles from the upper ones (call once, after the last `add`).
    public mutating func finish() {
        let d = dimension
        for g in 0..<groups {
            let base = g * d * d
            for i in 0..<d { for j in 0..<i { sums[base + i * d + j] = sums[base + j * d + i] } }
        }
    }

    /// H_g = Σ x xᵀ / samples, d × d row-major.
    public func hessian(group g: Int) -> [Double] {
        let d = dimension, scale = samples > 0 ? 1 / Double(samples) : 0
        return sums[(g * d * d)..<((g + 1) * d * d)].map { $0 * scale }
    }

    /// Σ_g tr(ΔW_g H_g ΔW_gᵀ) for `delta` laid out as the weight tensor: the
    /// expected squared error of the layer's outputs per sample.
    public func reconstructionError(delta: [Float]) -> Double {
        if openblas_get_num_threads() != 1 { openblas_set_num_threads(1) }
        let d = dimension, rows = matrices.rows
        guard d > 0, rows > 0 else { return 0 }
        var total = 0.0
        var product = [Double](repeating: 0, count: rows * d)
        for g in 0..<groups {
            let dw = matrices.matrix(delta, group: g)
            let h = hessian(group: g)
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(rows), Int32(d), Int32(d), 1, dw, Int32(d), h, Int32(d),
                        0, &product, Int32(d))
            for i in dw.indices { total += dw[i] * product[i] }
        }
        return total
    }
}
