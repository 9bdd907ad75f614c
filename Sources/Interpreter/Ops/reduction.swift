import Foundation
import IR

// Reductions (ONNX Operators.md "Reduce*": axes as an input since opset 13 for
// ReduceSum and 18 for the others), arg-reductions, softmax, CumSum and TopK.

extension Ops {
    static let reduction: [OpEntry] = [
        reduce("ReduceSum", inputAxesSince: 13, empty: 0, combine: +, finish: { s, _ in s }),
        reduce("ReduceMean", inputAxesSince: 18, empty: .nan, combine: +, finish: { s, n in s / Double(n) }),
        reduce("ReduceMax", inputAxesSince: 18, empty: -.infinity, combine: { $0.isNaN || $0 > $1 ? $0 : $1 }, finish: { s, _ in s }, start: -.infinity),
        reduce("ReduceMin", inputAxesSince: 18, empty: .infinity, combine: { $0.isNaN || $0 < $1 ? $0 : $1 }, finish: { s, _ in s }, start: .infinity),
        reduce("ReduceProd", inputAxesSince: 18, empty: 1, combine: *, finish: { s, _ in s }, start: 1),
        reduce("ReduceL1", inputAxesSince: 18, empty: 0, map: { abs($0) }, combine: +, finish: { s, _ in s }),
        reduce("ReduceL2", inputAxesSince: 18, empty: 0, map: { $0 * $0 }, combine: +, finish: { s, _ in s.squareRoot() }),
        reduce("ReduceSumSquare", inputAxesSince: 18, empty: 0, map: { $0 * $0 }, combine: +, finish: { s, _ in s }),
        reduce("ReduceLogSum", inputAxesSince: 18, empty: -.infinity, combine: +, finish: { s, _ in log(s) }),
        reduce("ReduceLogSumExp", inputAxesSince: 18, empty: -.infinity, map: { exp($0) }, combine: +, finish: { s, _ in log(s) }),
        argReduce("ArgMax", better: { $0 > $1 }),
        argReduce("ArgMin", better: { $0 < $1 }),
        OpEntry("Softmax", shape: ShapeRules.sameAsInput) { ctx in [try softmax(ctx, log: false)] },
        OpEntry("LogSoftmax", shape: ShapeRules.sameAsInput) { ctx in [try softmax(ctx, log: true)] },
        OpEntry("CumSum", shape: ShapeRules.sameAsInput) { ctx in [try cumsum(ctx)] },
        OpEntry("TopK", normalize: { node, context in
            // Before opset 10, k was an attribute.
            guard context.opset < 10, let k = node[attribute: "k"]?.intValue else { return }
            NormalizeContext.setInput(&node, 1, context.constant(Tensor(int64s: [k], shape: [1])))
            node[attribute: "k"] = nil
        }) { ctx in try topK(ctx) },
    ]

    /// Positive axis for a possibly negative one.
    static func axis(_ a: Int, rank: Int) throws -> Int {
        let r = a < 0 ? a + rank : a
        guard r >= 0 && r < max(rank, 1) else { throw OpError("axis \(a) is out of range for rank \(rank)") }
        return r
    }

    /// Sizes before, along and after `axis`.
    static func split(_ shape: [Int], at axis: Int) -> (outer: Int, n: Int, inner: Int) {
        (shape[..<axis].reduce(1, *), shape.isEmpty ? 1 : shape[axis], shape.isEmpty ? 1 : shape[(axis + 1)...].reduce(1, *))
    }

    static func reduce(_ op: String, inputAxesSince: Int64, empty: Double, map: (@Sendable (Double) -> Double)? = nil,
                       combine: @escaping @Sendable (Double, Double) -> Double,
                       finish: @escaping @Sendable (Double, Int) -> Double, start: Double = 0) -> OpEntry {
        OpEntry(op, normalize: { node, context in
            guard context.opset < inputAxesSince, let axes = node[attribute: "axes"]?.intsValue else { return }
            NormalizeContext.setInput(&node, 1, context.constant(Tensor(int64s: axes, shape: [axes.count])))
            node[attribute: "axes"] = nil
        }, shape: { ctx in
            guard let t = ctx.inputTypes.first ?? nil, let dims = t.shape else { return [nil] }
            let keep = ctx.int("keepdims", 1) != 0
            let axes: [Int]
            if ctx.constants.count > 1, let a = ctx.constants[1] { axes = a.int64Array()?.map { Int($0) } ?? [] }
            else if ctx.node.inputs.count > 1, !ctx.node.inputs[1].isEmpty { return [TensorType(t.elementType, nil)] }
            else { axes = [] }
            if axes.isEmpty && ctx.int("noop_with_empty_axes", 0) != 0 { return [t] }
            let set = Set(axes.map { $0 < 0 ? $0 + dims.count : $0 })
            let all = set.isEmpty
            var out: [Dim] = []
            for (i, d) in dims.enumerated() {
                if all || set.contains(i) { if keep { out.append(.fixed(1)) } } else { out.append(d) }
            }
            return [TensorType(t.elementType, out)]
        }) { ctx in
            let x = try ctx.input(0)
            var axes = try ctx.optionalInput(1).map { a -> [Int] in
                guard let v = a.int64Array() else { throw OpError("axes must be integers") }
                return v.map { Int($0) }
            } ?? []
            if axes.isEmpty {
                if ctx.int("noop_with_empty_axes", 0) != 0 { return [x] }
                axes = Array(0..<x.rank)
            }
            let set = Set(try axes.map { try axis($0, rank: x.rank) })
            let keep = ctx.int("keepdims", 1) != 0
            let kept = x.shape.indices.map { set.contains($0) ? 1 : x.shape[$0] }
            let outShape = keep ? kept : x.shape.indices.filter { !set.contains($0) }.map { x.shape[$0] }
            let outCount = kept.reduce(1, *)
            let reduced = x.count / max(outCount, 1)
            let values = x.doubleArray()
            var acc = [Double](repeating: start, count: outCount)
            Broadcast.forEachIndex(outShape: x.shape, inputShapes: [kept], range: 0..<x.count) { i, idx in
                let v = map?(values[i]) ?? values[i]
                acc[idx[0]] = combine(acc[idx[0]], v)
            }
            // An empty max/min of an integer or bool type is the type's lowest/highest value.
            var emptyValue = empty
            if !x.type.isFloatingPoint && empty.isInfinite { emptyValue = Self.limit(of: x.type, lowest: empty < 0) }
            let result = acc.map { x.count == 0 || reduced == 0 ? emptyValue : finish($0, reduced) }
            let out = RTensor(.float64, shape: outShape, values: result)
            return [x.type.isFloatingPoint ? out.converted(to: x.type) : out.converted(to: x.type)]
        }
    }

    static func limit(of type: ElementType, lowest: Bool) -> Double {
        switch type {
        case .bool, .uint8, .uint16, .uint32, .uint64:
            return lowest ? 0 : type == .bool ? 1 : Double(UInt64.max >> (64 - UInt64(type.bitWidth)))
        default:
            let bits = Double(type.bitWidth - 1)
            return lowest ? -Foundation.pow(2, bits) : Foundation.pow(2, bits) - 1
        }
    }

    static func argReduce(_ op: String, better: @escaping @Sendable (Double, Double) -> Bool) -> OpEntry {
        OpEntry(op) { ctx in
            let x = try ctx.input(0)
            let ax = try axis(ctx.int("axis", 0), rank: x.rank)
            let keep = ctx.int("keepdims", 1) != 0, last = ctx.int("select_last_index", 0) != 0
            let (outer, n, inner) = split(x.shape, at: ax)
            guard n > 0 else { throw OpError("cannot take \(op) over an empty axis") }
            let v = x.doubleArray()
            var out = [Int64](repeating: 0, count: outer * inner)
            for o in 0..<outer {
                for i in 0..<inner {
                    var best = 0
                    for k in 1..<max(n, 1) {
                        let a = v[(o * n + k) * inner + i], b = v[(o * n + best) * inner + i]
                        if better(a, b) || (last && a == b) { best = k }
                    }
                    out[o * inner + i] = Int64(best)
                }
            }
            var shape = x.shape
            if keep { shape[ax] = 1 } else { shape.remove(at: ax) }
            return [RTensor(.int64, shape: shape, values: out)]
        }
    }

    static func softmax(_ ctx: KernelContext, log: Bool) throws -> RTensor {
        let x0 = try ctx.input(0)
        let x = x0.type == .float32 ? x0 : x0.converted(to: .float32)
        let outer: Int, n: Int, inner: Int
        if ctx.opset < 13 {
            // Opset 1–12: coerce to 2-D at `axis` (default 1) and normalize each row.
            let ax = try axis(ctx.int("axis", 1), rank: x.rank)
            (outer, n, inner) = (x.shape[..<ax].reduce(1, *), x.shape[ax...].reduce(1, *), 1)
        } else {
            (outer, n, inner) = split(x.shape, at: try axis(ctx.int("axis", -1), rank: x.rank))
        }
        let out = RTensor(type: .float32, shape: x.shape)
        let src = x.pointer(Float.self), dst = out.pointer(Float.self)
        Parallel.forEach(outer * inner, threads: ctx.threads, minimumChunk: max(1, 4096 / max(n, 1))) { r in
            for row in r {
                let o = row / inner, i = row % inner
                let base = o * n * inner + i
                var m = -Float.infinity
                for k in 0..<n { m = max(m, src[base + k * inner]) }
                var sum: Float = 0
                for k in 0..<n {
                    let e = Foundation.exp(src[base + k * inner] - m)
                    dst[base + k * inner] = e
                    sum += e
                }
                if log {
                    let l = Foundation.log(sum)
                    for k in 0..<n { dst[base + k * inner] = src[base + k * inner] - m - l }
                } else {
                    let inv = 1 / sum
                    for k in 0..<n { dst[base + k * inner] *= inv }
                }
            }
        }
        return out.converted(to: x0.type)
    }

    static func cumsum(_ ctx: KernelContext) throws -> RTensor {
        let x = try ctx.input(0)
        let ax = try axis(Int(try scalar(try ctx.input(1), "axis")), rank: x.rank)
        let exclusive = ctx.int("exclusive", 0) != 0, reverse = ctx.int("reverse", 0) != 0
        let (outer, n, inner) = split(x.shape, at: ax)
        let v = x.doubleArray()
        var out = [Double](repeating: 0, count: v.count)
        for o in 0..<outer {
            for i in 0..<inner {
                var s = 0.0
                for step in 0..<n {
                    let k = reverse ? n - 1 - step : step
                    let idx = (o * n + k) * inner + i
                    if exclusive { out[idx] = s; s += v[idx] } else { s += v[idx]; out[idx] = s }
                }
            }
        }
        return RTensor(.float64, shape: x.shape, values: out).converted(to: x.type)
    }

    static func topK(_ ctx: KernelContext) throws -> [RTensor] {
        let x = try ctx.input(0)
        let k = Int(try scalar(try ctx.input(1), "K"))
        let ax = try axis(ctx.int("axis", -1), rank: x.rank)
        let largest = ctx.int("largest", 1) != 0
        let (outer, n, inner) = split(x.shape, at: ax)
        guard k >= 0 && k <= n else { throw OpError("K = \(k) is out of range for axis of size \(n)") }
        let v = x.doubleArray()
        var values = [Double](repeating: 0, count: outer * k * inner)
        var indices = [Int64](repeating: 0, count: outer * k * inner)
        for o in 0..<outer {
            for i in 0..<inner {
                // Stable order: ties keep the smaller index first, as the reference does.
                let order = (0..<n).sorted { a, b in
                    let va = v[(o * n + a) * inner + i], vb = v[(o * n + b) * inner + i]
                    if va == vb { return a < b }
                    return largest ? va > vb : va < vb
                }
                for j in 0..<k {
                    values[(o * k + j) * inner + i] = v[(o * n + order[j]) * inner + i]
                    indices[(o * k + j) * inner + i] = Int64(order[j])
                }
            }
        }
        var shape = x.shape
        shape[ax] = k
        return [RTensor(.float64, shape: shape, values: values).converted(to: x.type),
                RTensor(.int64, shape: shape, values: indices)]
    }
}
