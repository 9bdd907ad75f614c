import IR

/// ONNX Einsum (Operators.md, Einsum; NumPy's einsum conventions).
///
/// The equation is parsed into labels; each operand becomes a strided view in
/// which a label repeated inside one term (a diagonal, "ii->i") is one axis
/// whose stride is the sum of the repeated axes' strides, and a size-1 axis
/// broadcast against a larger one has stride 0. Two-operand contractions in
/// float run as a batched matrix product ("bij,bjk->bik", "bhqd,bhkd->bhqk");
/// everything else (traces, transposes, reductions, three or more operands)
/// runs as a direct loop over output elements and summed labels.
enum Einsum {
    /// Labels for ellipsis dimensions, right-aligned so they broadcast like NumPy's.
    static let ellipsisBase = 1000

    struct Term {
        /// One label per dimension of the operand (letters by code point, ellipsis dims from `ellipsisBase`).
        var labels: [Int]
    }

    /// An operand seen through its labels: one axis per distinct label.
    struct View {
        var labels: [Int]
        var strides: [Int]
        func stride(of label: Int) -> Int {
            if let i = labels.firstIndex(of: label) { return strides[i] }
            return 0
        }
    }

    static func evaluate(_ equation: String, _ operands: [RTensor], threads: Int) throws -> RTensor {
        guard !operands.isEmpty else { throw OpError("Einsum needs at least one input") }
        let type = operands[0].type
        for o in operands where o.type != type {
            throw OpError("Einsum inputs differ in type: \(operands.map(\.typeDescription).joined(separator: ", "))")
        }
        guard type.isComputable && type != .bool else { throw OpError("Einsum does not support \(type.onnxName)") }
        let (terms, outLabels) = try parse(equation, ranks: operands.map(\.rank))

        // Size of every label; 1 broadcasts.
        var sizes: [Int: Int] = [:]
        for (t, x) in zip(terms, operands) {
            for (label, d) in zip(t.labels, x.shape) {
                if let s = sizes[label], s != d {
                    if s == 1 { sizes[label] = d } else if d != 1 {
                        throw OpError("Einsum '\(equation)': label \(name(label)) has sizes \(s) and \(d) (inputs \(operands.map(\.typeDescription).joined(separator: ", ")))")
                    }
                } else if sizes[label] == nil {
                    sizes[label] = d
                }
            }
        }
        // A repeated label inside one term must have one size there (a diagonal).
        for (t, x) in zip(terms, operands) {
            for (i, label) in t.labels.enumerated() where t.labels[..<i].contains(label) {
                let first = t.labels.firstIndex(of: label)!
                if x.shape[first] != x.shape[i] {
                    throw OpError("Einsum '\(equation)': repeated label \(name(label)) has sizes \(x.shape[first]) and \(x.shape[i]) in one input")
                }
            }
        }
        for l in outLabels where sizes[l] == nil {
            throw OpError("Einsum '\(equation)': output label \(name(l)) appears in no input")
        }
        let views = zip(terms, operands).map { view(of: $0.1, labels: $0.0.labels, sizes: sizes) }
        let outShape = outLabels.map { sizes[$0]! }

        let wide = operands.map { $0.widened() }
        if wide[0].type == .float32 || wide[0].type == .float64,
           let plan = ContractionPlan(views: views, outLabels: outLabels, sizes: sizes) {
            let out: RTensor = wide[0].type == .float32
                ? plan.run(Float.self, wide, type: .float32, outShape: outShape, threads: threads)
                : plan.run(Double.self, wide, type: .float64, outShape: outShape, threads: threads)
            return out.converted(to: type)
        }
        // Direct loop: floats in Double, integers in Int64 with wrapping.
        if type.isFloatingPoint {
            let inputs = operands.map { $0.converted(to: .float64) }
            let out = RTensor(type: .float64, shape: outShape)
            directLoop(Double.self, inputs, views: views, outLabels: outLabels, sizes: sizes, out: out, threads: threads)
            return out.converted(to: type)
        }
        let inputs = operands.map { $0.converted(to: .int64) }
        let out = RTensor(type: .int64, shape: outShape)
        directLoop(Int64.self, inputs, views: views, outLabels: outLabels, sizes: sizes, out: out, threads: threads)
        return out.converted(to: type)
    }

    static func name(_ label: Int) -> String {
        label >= ellipsisBase ? "'...'[\(label - ellipsisBase)]" : "'\(Character(Unicode.Scalar(UInt8(label))))'"
    }

    // MARK: - Parsing

    /// Terms per input and the output labels. Without "->", the output is the
    /// ellipsis dimensions followed by the labels used once, in alphabetical order.
    static func parse(_ equation: String, ranks: [Int]) throws -> ([Term], [Int]) {
        let eq = equation.filter { !$0.isWhitespace }
        let parts = eq.components(separatedBy: "->")
        guard parts.count <= 2 else { throw OpError("Einsum equation '\(equation)' has more than one '->'") }
        let inputs = parts[0].components(separatedBy: ",")
        guard inputs.count == ranks.count else {
            throw OpError("Einsum equation '\(equation)' has \(inputs.count) input terms for \(ranks.count) inputs")
        }
        // Letters per term, with the ellipsis position.
        var raw: [(letters: [Int], ellipsisAt: Int?)] = []
        for t in inputs { raw.append(try letters(t, equation)) }
        var ellipsisRank = 0
        for (r, rank) in zip(raw, ranks) {
            if r.ellipsisAt == nil {
                guard r.letters.count == rank else {
                    throw OpError("Einsum equation '\(equation)': term has \(r.letters.count) labels for an input of rank \(rank)")
                }
            } else {
                guard r.letters.count <= rank else {
                    throw OpError("Einsum equation '\(equation)': term has \(r.letters.count) labels for an input of rank \(rank)")
                }
                ellipsisRank = max(ellipsisRank, rank - r.letters.count)
            }
        }
        var terms: [Term] = []
        for (r, rank) in zip(raw, ranks) {
            guard let at = r.ellipsisAt else { terms.append(Term(labels: r.letters)); continue }
            let e = rank - r.letters.count
            let ell = (0..<e).map { ellipsisBase + ellipsisRank - e + $0 }
            terms.append(Term(labels: Array(r.letters[..<at]) + ell + Array(r.letters[at...])))
        }
        let allEllipsis = (0..<ellipsisRank).map { ellipsisBase + $0 }
        var out: [Int]
        if parts.count == 2 {
            let o = try letters(parts[1], equation)
            if let at = o.ellipsisAt {
                out = Array(o.letters[..<at]) + allEllipsis + Array(o.letters[at...])
            } else {
                // Ellipsis dimensions that the output leaves out are summed, as in NumPy.
                out = o.letters
            }
            for (i, l) in out.enumerated() where out[..<i].contains(l) {
                throw OpError("Einsum equation '\(equation)': output label \(name(l)) appears twice")
            }
        } else {
            var counts: [Int: Int] = [:]
            for t in raw { for l in t.letters { counts[l, default: 0] += 1 } }
            out = allEllipsis + counts.filter { $0.value == 1 }.keys.sorted()
        }
        return (terms, out)
    }

    /// The letters of one term (as code points) and where its "..." stands.
    static func letters(_ term: String, _ equation: String) throws -> (letters: [Int], ellipsisAt: Int?) {
        var result: [Int] = []
        var at: Int?
        let chars = Array(term.utf8)
        var i = 0
        while i < chars.count {
            let c = chars[i]
            if c == UInt8(ascii: ".") {
                guard i + 2 < chars.count, chars[i + 1] == c, chars[i + 2] == c, at == nil else {
                    throw OpError("Einsum equation '\(equation)': malformed or repeated '...'")
                }
                at = result.count
                i += 3
                continue
            }
            guard (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z")) else {
                throw OpError("Einsum equation '\(equation)': unexpected character '\(Character(Unicode.Scalar(c)))'")
            }
            result.append(Int(c))
            i += 1
        }
        return (result, at)
    }

    /// The strided view of an operand: repeated labels merge (diagonal), and
    /// size-1 axes of labels that are larger elsewhere get stride 0.
    static func view(of x: RTensor, labels: [Int], sizes: [Int: Int]) -> View {
        var v = View(labels: [], strides: [])
        var step = 1
        var strides = [Int](repeating: 0, count: labels.count)
        for i in stride(from: labels.count - 1, through: 0, by: -1) {
            strides[i] = step
            step *= x.shape[i]
        }
        for (i, l) in labels.enumerated() {
            let s = x.shape[i] == 1 && sizes[l]! != 1 ? 0 : strides[i]
            if let j = v.labels.firstIndex(of: l) {
                v.strides[j] += s
            } else {
                v.labels.append(l)
                v.strides.append(s)
            }
        }
        return v
    }

    // MARK: - Direct loop

    static func directLoop<A: EinsumAccumulator>(_: A.Type, _ inputs: [RTensor], views: [View], outLabels: [Int],
                                                 sizes: [Int: Int], out: RTensor, threads: Int) {
        var seen = Set(outLabels)
        var sumLabels: [Int] = []
        for v in views { for l in v.labels where !seen.contains(l) { seen.insert(l); sumLabels.append(l) } }
        let k = inputs.count
        let outSizes = outLabels.map { sizes[$0]! }, sumSizes = sumLabels.map { sizes[$0]! }
        let outStrides = views.map { v in outLabels.map { v.stride(of: $0) } }
        let sumStrides = views.map { v in sumLabels.map { v.stride(of: $0) } }
        let sumCount = sumSizes.reduce(1, *)
        let ptrs = inputs.map { UnsafePointer($0.pointer(A.self)) }
        let dst = out.pointer(A.self)
        let total = out.count
        Parallel.forEach(total, threads: threads, minimumChunk: max(1, 4096 / max(sumCount, 1))) { range in
            var coord = [Int](repeating: 0, count: outSizes.count)
            var rem = range.lowerBound
            for d in stride(from: outSizes.count - 1, through: 0, by: -1) {
                coord[d] = rem % outSizes[d]
                rem /= outSizes[d]
            }
            var base = [Int](repeating: 0, count: k)
            var off = [Int](repeating: 0, count: k)
            var sc = [Int](repeating: 0, count: sumSizes.count)
            for o in range {
                for j in 0..<k {
                    var b = 0
                    for d in 0..<coord.count { b += coord[d] * outStrides[j][d] }
                    base[j] = b
                    off[j] = b
                }
                var acc = A.zero
                for s in 0..<sc.count { sc[s] = 0 }
                for _ in 0..<sumCount {
                    var p = ptrs[0][off[0]]
                    for j in 1..<max(k, 1) where j < k { p = A.mul(p, ptrs[j][off[j]]) }
                    acc = A.add(acc, p)
                    var d = sc.count - 1
                    while d >= 0 {
                        sc[d] += 1
                        for j in 0..<k { off[j] += sumStrides[j][d] }
                        if sc[d] < sumSizes[d] { break }
                        for j in 0..<k { off[j] -= sumStrides[j][d] * sumSizes[d] }
                        sc[d] = 0
                        d -= 1
                    }
                }
                dst[o] = acc
                var d = coord.count - 1
                while d >= 0 {
                    coord[d] += 1
                    if coord[d] < outSizes[d] { break }
                    coord[d] = 0
                    d -= 1
                }
            }
        }
    }

    // MARK: - Two-operand contraction as a batched matrix product

    /// Labels of A and B split into batch (A, B, output), M (A, output), N (B,
    /// output) and K (A, B, summed). Only built when every label of an operand
    /// also appears in the other operand or the output.
    struct ContractionPlan {
        var a: View, b: View
        var batch: [Int] = [], mLabels: [Int] = [], nLabels: [Int] = [], kLabels: [Int] = []
        let outLabels: [Int]
        let sizes: [Int: Int]

        init?(views: [View], outLabels: [Int], sizes: [Int: Int]) {
            guard views.count == 2 else { return nil }
            a = views[0]
            b = views[1]
            self.outLabels = outLabels
            self.sizes = sizes
            let out = Set(outLabels)
            for l in a.labels {
                let inB = b.labels.contains(l), inOut = out.contains(l)
                switch (inB, inOut) {
                case (true, true): batch.append(l)
                case (false, true): mLabels.append(l)
                case (true, false): kLabels.append(l)
                case (false, false): return nil
                }
            }
            for l in b.labels where !a.labels.contains(l) {
                guard out.contains(l) else { return nil }
                nLabels.append(l)
            }
        }

        func count(_ labels: [Int]) -> Int { labels.reduce(1) { $0 * sizes[$1]! } }

        func run<T: GemmScalar>(_: T.Type, _ inputs: [RTensor], type: ElementType, outShape: [Int], threads: Int) -> RTensor {
            let bt = count(batch), m = count(mLabels), n = count(nLabels), k = count(kLabels)
            let pa = StridedCopy.contiguous(UnsafePointer(inputs[0].pointer(T.self)),
                                            sizes: (batch + mLabels + kLabels).map { sizes[$0]! },
                                            strides: (batch + mLabels + kLabels).map { a.stride(of: $0) }, threads: threads)
            let pb = StridedCopy.contiguous(UnsafePointer(inputs[1].pointer(T.self)),
                                            sizes: (batch + kLabels + nLabels).map { sizes[$0]! },
                                            strides: (batch + kLabels + nLabels).map { b.stride(of: $0) }, threads: threads)
            defer { pa.release(); pb.release() }
            // Product in [batch, M, N] label order.
            let productLabels = batch + mLabels + nLabels
            let direct = productLabels == outLabels
            let out = RTensor(type: type, shape: outShape)
            let product: UnsafeMutablePointer<T> = direct ? out.pointer(T.self) : .allocate(capacity: max(bt * m * n, 1))
            defer { if !direct { product.deallocate() } }
            for i in 0..<bt {
                T.gemm(transA: false, transB: false, m: m, n: n, k: k, alpha: 1,
                       a: pa.pointer + i * m * k, lda: k, b: pb.pointer + i * k * n, ldb: n,
                       beta: .zero, c: product + i * m * n, ldc: n, threads: threads)
            }
            if !direct {
                // Permute into the output's label order.
                var step = 1
                var strideOf: [Int: Int] = [:]
                for l in productLabels.reversed() {
                    strideOf[l] = step
                    step *= sizes[l]!
                }
                StridedCopy.copy(UnsafePointer(product), sizes: outShape, strides: outLabels.map { strideOf[$0]! },
                                 to: out.pointer(T.self), threads: threads)
            }
            return out
        }
    }
}

/// Arithmetic the direct Einsum loop accumulates in.
protocol EinsumAccumulator: BitwiseCopyable {
    static var zero: Self { get }
    static func add(_ a: Self, _ b: Self) -> Self
    static func mul(_ a: Self, _ b: Self) -> Self
}

extension Double: EinsumAccumulator {
    static func add(_ a: Double, _ b: Double) -> Double { a + b }
    static func mul(_ a: Double, _ b: Double) -> Double { a * b }
}

extension Int64: EinsumAccumulator {
    static func add(_ a: Int64, _ b: Int64) -> Int64 { a &+ b }
    static func mul(_ a: Int64, _ b: Int64) -> Int64 { a &* b }
}

/// Gathers a strided view into contiguous row-major memory.
enum StridedCopy {
    /// A contiguous copy of the view, or the view's own memory when it already is contiguous.
    struct Contiguous<T> {
        let pointer: UnsafePointer<T>
        let owned: Bool
        func release() { if owned { UnsafeMutablePointer(mutating: pointer).deallocate() } }
    }

    static func contiguous<T>(_ src: UnsafePointer<T>, sizes: [Int], strides: [Int], threads: Int) -> Contiguous<T> {
        var step = 1
        var isContiguous = true
        for d in stride(from: sizes.count - 1, through: 0, by: -1) where sizes[d] != 1 {
            if strides[d] != step { isContiguous = false }
            step *= sizes[d]
        }
        if isContiguous { return Contiguous(pointer: src, owned: false) }
        let count = sizes.reduce(1, *)
        let dst = UnsafeMutablePointer<T>.allocate(capacity: max(count, 1))
        copy(src, sizes: sizes, strides: strides, to: dst, threads: threads)
        return Contiguous(pointer: UnsafePointer(dst), owned: true)
    }

    /// dst[i] = src[offset(i)] for every row-major index i of `sizes`.
    static func copy<T>(_ src: UnsafePointer<T>, sizes: [Int], strides: [Int], to dst: UnsafeMutablePointer<T>, threads: Int) {
        let rank = sizes.count
        guard rank > 0 else { dst[0] = src[0]; return }
        let inner = sizes[rank - 1], innerStride = strides[rank - 1]
        let outer = sizes.dropLast().reduce(1, *)
        guard inner > 0 else { return }
        Parallel.forEach(outer, threads: threads, minimumChunk: max(1, 16384 / inner)) { range in
            var coord = [Int](repeating: 0, count: rank - 1)
            var rem = range.lowerBound
            for d in stride(from: rank - 2, through: 0, by: -1) {
                coord[d] = rem % sizes[d]
                rem /= sizes[d]
            }
            for line in range {
                var off = 0
                for d in 0..<(rank - 1) { off += coord[d] * strides[d] }
                let out = dst + line * inner
                if innerStride == 1 {
                    out.update(from: src + off, count: inner)
                } else {
                    for i in 0..<inner { out[i] = src[off + i * innerStride] }
                }
                var d = rank - 2
                while d >= 0 {
                    coord[d] += 1
                    if coord[d] < sizes[d] { break }
                    coord[d] = 0
                    d -= 1
                }
            }
        }
    }
}
