import COpenBLAS
import IR
import Interpreter

/// GPTQ weight rounding (Frantar et al. 2022, arXiv 2210.17323, Algorithm 1):
/// quantizes a layer's weight matrix one input column at a time and spreads
/// each column's rounding error over the columns not yet quantized, weighted
/// by the inverse layer Hessian, which minimizes ‖ΔW·X‖² far better than
/// rounding each weight to nearest.
///
/// The grid is WeightQuantizer's (same scale layout, integer range and
/// rounding rule), so insert-qdq exports the GPTQ integers unchanged.
public enum GPTQ {
    public struct Options: Sendable {
        /// λ = damp · mean(diag H) added to the diagonal (§4, "dampening").
        public var damp: Double
        /// Columns per lazy batch update (§4, "lazy batch-updates").
        public var block: Int
        /// Columns in order of decreasing diag(H) ("act-order" of the reference code).
        public var actOrder: Bool
        public init(damp: Double = 0.01, block: Int = 128, actOrder: Bool = false) {
            self.damp = damp
            self.block = block
            self.actOrder = actOrder
        }
    }

    /// The layer `l`'s weights `w` (of `shape`) in `format`, rounded by GPTQ with `hessian`.
    /// `reduced` is ONNX Runtime's 7-bit int8 range, as the RTN weights used.
    public static func quantize(_ w: [Float], shape: [Int], format: WeightFormat, layer l: LayerQuantization,
                                hessian: LayerHessian, reduced: Bool, options: Options) throws(GPTQError) -> QuantizedWeight {
        guard case .integer(let bits, let granularity, let symmetric) = format,
              var result = WeightQuantizer.quantize(w, shape: shape, format: format, channelAxis: l.channelAxis,
                                                    groupAxis: l.groupAxis, reduceRange: reduced) else {
            throw GPTQError(node: l.node, message: "format \(format) is not an integer format")
        }
        let m = hessian.matrices
        guard m.weightShape == shape else {
            throw GPTQError(node: l.node, message: "the Hessian is for a weight of shape \(m.weightShape), the weight is \(shape): rerun layer-hessian after changing the model")
        }
        let layout = WeightQuantizer.ScaleLayout(shape: shape, granularity: granularity, channelAxis: l.channelAxis, groupAxis: l.groupAxis)
        let perGroup: Bool = { if case .perGroup = granularity { true } else { false } }()
        // Per-tensor and per-channel scales come from the whole weight up front (RTN's
        // scales); per-group scales when the sweep first reaches the group.
        var params: [QuantParameters?] = perGroup ? .init(repeating: nil, count: layout.scaleCount)
            : WeightQuantizer.parameters(w, layout: layout, bits: bits, symmetric: symmetric, reduced: reduced && bits == 8).map { Optional($0) }
        // Members of each scale, CSR.
        var memberStart = [Int](repeating: 0, count: layout.scaleCount + 1)
        var members = [Int](repeating: 0, count: perGroup ? w.count : 0)
        if perGroup {
            for i in w.indices { memberStart[layout.scaleIndex(i) + 1] += 1 }
            for s in 0..<layout.scaleCount { memberStart[s + 1] += memberStart[s] }
            var fill = memberStart
            for i in w.indices { let s = layout.scaleIndex(i); members[fill[s]] = i; fill[s] += 1 }
        }
        var values = result.values
        let rows = m.rows, d = m.dimension
        // Position of each weight element in the current group's matrix (r·d + permuted column), or −1.
        var position = [Int](repeating: -1, count: w.count)
        if openblas_get_num_threads() != 1 { openblas_set_num_threads(1) }

        for g in 0..<m.groups {
            var h = hessian.hessian(group: g)
            var wm = m.matrix(w, group: g)
            // Dead inputs: never active, so their weights cannot matter (Algorithm 1's reference code).
            for i in 0..<d where h[i * d + i] == 0 {
                h[i * d + i] = 1
                for r in 0..<rows { wm[r * d + i] = 0 }
            }
            var perm = Array(0..<d)
            if options.actOrder {
                perm.sort { h[$0 * d + $0] != h[$1 * d + $1] ? h[$0 * d + $0] > h[$1 * d + $1] : $0 < $1 }
                var pw = wm, ph = h
                for r in 0..<rows { for j in 0..<d { pw[r * d + j] = wm[r * d + perm[j]] } }
                for i in 0..<d { for j in 0..<d { ph[i * d + j] = h[perm[i] * d + perm[j]] } }
                wm = pw
                h = ph
            }
            var flat = [Int](repeating: 0, count: rows * d)
            for r in 0..<rows {
                for j in 0..<d {
                    let f = m.weightIndex(group: g, row: r, column: perm[j])
                    flat[r * d + j] = f
                    position[f] = r * d + j
                }
            }
            let hinv = try inverseCholesky(h, d, damp: options.damp, node: l.node)
            let block = max(1, options.block)
            var err = [Double](repeating: 0, count: rows * block)
            var i1 = 0
            while i1 < d {
                let i2 = min(i1 + block, d), count = i2 - i1
                for i in i1..<i2 {
                    let dinv = hinv[i * d + i]
                    for r in 0..<rows {
                        let f = flat[r * d + i]
                        let s = layout.scaleIndex(f)
                        if params[s] == nil {
                            // The group's range from its current (updated) weights; columns past this
                            // block still owe this block's updates, applied here.
                            var low = Float.infinity, high = -Float.infinity
                            for k in memberStart[s]..<memberStart[s + 1] {
                                let e = members[k]
                                var v: Double
                                let p = position[e]
                                if p < 0 {
                                    v = Double(w[e])
                                } else {
                                    v = wm[p]
                                    let rr = p / d, c = p % d
                                    if c >= i2 { for q in i1..<i { v -= err[rr * block + q - i1] * hinv[q * d + c] } }
                                }
                                let x = Float(v)
                                if x.isFinite { low = min(low, x); high = max(high, x) }
                            }
                            let range = low <= high ? ValueRange(low: low, high: high) : ValueRange(low: 0, high: 0)
                            params[s] = QuantParameters(range: range, bits: bits, signed: true, symmetric: symmetric, reduced: reduced && bits == 8)
                        }
                        let p = params[s]!
                        let x = wm[r * d + i]
                        let q = p.quantize(Float(x))
                        values[f] = Int8(q)
                        let e = (x - Double(p.dequantize(q))) / dinv
                        err[r * block + i - i1] = e
                        if e != 0 { for k in (i + 1)..<i2 { wm[r * d + k] -= e * hinv[i * d + k] } }
                    }
                }
                // Lazy batch update: W[:, i2:] −= Err · H⁻¹[i1:i2, i2:].
                if i2 < d {
                    err.withUnsafeBufferPointer { e in
                        hinv.withUnsafeBufferPointer { hb in
                            wm.withUnsafeMutableBufferPointer { wb in
                                cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(rows), Int32(d - i2), Int32(count), -1,
                                            e.baseAddress, Int32(block), hb.baseAddress! + i1 * d + i2, Int32(d),
                                            1, wb.baseAddress! + i2, Int32(d))
                            }
                        }
                    }
                }
                i1 = i2
            }
            for f in flat { position[f] = -1 }
        }
        for s in params.indices where params[s] == nil {
            throw GPTQError(node: l.node, message: "scale \(s) covers no weight of the layer's matrices")
        }
        result.values = values
        result.scales = params.map { $0!.scale }
        result.zeroPoints = params.map { Int8($0!.zeroPoint) }
        result.rounding = "gptq"
        return result
    }

    /// The upper Cholesky factor U of (H + λI)⁻¹ = UᵀU, d × d row-major, by LAPACK
    /// (dpotrf, dpotri, dpotrf). H is symmetric, so the column-major routines see it
    /// as is, and the column-major lower factor read row-major is U. If H + λI is
    /// not positive definite (rounding on a rank-deficient H), λ grows tenfold, up to
    /// three times, before giving up.
    static func inverseCholesky(_ h: [Double], _ d: Int, damp: Double, node: String) throws(GPTQError) -> [Double] {
        var mean = 0.0
        for i in 0..<d { mean += h[i * d + i] }
        mean /= Double(max(d, 1))
        var lambda = damp * mean
        for _ in 0..<4 {
            var a = h
            for i in 0..<d { a[i * d + i] += lambda }
            var n = Int32(d), lda = Int32(d), info: Int32 = 0
            dpotrf_("L", &n, &a, &lda, &info)
            if info == 0 { dpotri_("L", &n, &a, &lda, &info) }
            if info == 0 {
                // dpotri filled the row-major upper triangle; mirror it.
                for i in 0..<d { for j in 0..<i { a[i * d + j] = a[j * d + i] } }
                dpotrf_("L", &n, &a, &lda, &info)
            }
            if info == 0 {
                for i in 0..<d { for j in 0..<i { a[i * d + j] = 0 } }
                return a
            }
            lambda = max(lambda * 10, 1e-8)
        }
        throw GPTQError(node: node, message: "the damped Hessian is not positive definite even with λ = \(lambda / 10); raise damp")
    }
}

/// GPTQ could not round a layer.
public struct GPTQError: Error, CustomStringConvertible, Sendable {
    public var node: String
    public var message: String
    public var description: String { "layer '\(node)': \(message)" }
}
