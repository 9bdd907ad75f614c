import IR

/// Building blocks for elementwise kernels.
public enum Elementwise {
    /// Applies `f` to every element of a floating-point tensor. float32 and
    /// float64 are computed in place of type; float16/bfloat16 as Float, then
    /// rounded back. `f` sees Double so one closure serves every width.
    public static func mapFloat(_ x: RTensor, threads: Int, _ f: (Double) -> Double) throws -> RTensor {
        switch x.type {
        case .float32:
            let out = RTensor(type: .float32, shape: x.shape)
            let src = x.pointer(Float.self), dst = out.pointer(Float.self)
            Parallel.forEach(x.count, threads: threads, minimumChunk: 1 << 15) { r in
                for i in r { dst[i] = Float(f(Double(src[i]))) }
            }
            return out
        case .float64:
            let out = RTensor(type: .float64, shape: x.shape)
            let src = x.pointer(Double.self), dst = out.pointer(Double.self)
            Parallel.forEach(x.count, threads: threads, minimumChunk: 1 << 15) { r in
                for i in r { dst[i] = f(src[i]) }
            }
            return out
        case .float16, .bfloat16:
            return try mapFloat(x.converted(to: .float32), threads: threads, f).converted(to: x.type)
        default:
            throw OpError("expects a floating-point tensor, got \(x.type.onnxName)")
        }
    }

    /// Fast path for float32-only maps that are hot in CNNs (Relu, Clip, ...);
    /// other float types go through `mapFloat`.
    public static func mapFloat32(_ x: RTensor, threads: Int, _ f: (Float) -> Float) throws -> RTensor {
        guard x.type == .float32 else { return try mapFloat(x, threads: threads) { Double(f(Float($0))) } }
        let out = RTensor(type: .float32, shape: x.shape)
        let src = x.pointer(Float.self), dst = out.pointer(Float.self)
        Parallel.forEach(x.count, threads: threads, minimumChunk: 1 << 15) { r in
            for i in r { dst[i] = f(src[i]) }
        }
        return out
    }

    /// Applies a numeric map to any computable type (Abs, Neg, Sign).
    public static func mapNumeric(_ x: RTensor, _ body: some ScalarMap) throws -> RTensor {
        let w = x.widened()
        guard let out = try w.type.visit(MapVisitor(x: w, body: body)) else {
            throw OpError("does not support \(x.type.onnxName)")
        }
        return out.converted(to: x.type)
    }

    /// Broadcasts `a` and `b` (same element type) and combines them with
    /// `body`; the result has the inputs' type.
    public static func arithmetic(_ a: RTensor, _ b: RTensor, threads: Int, _ body: some ScalarArithmetic) throws -> RTensor {
        let shape = try broadcastShape(a, b)
        let wa = a.widened(), wb = b.widened()
        guard let out = try wa.type.visit(ArithmeticVisitor(a: wa, b: wb, shape: shape, threads: threads, body: body)) else {
            throw OpError("does not support \(a.type.onnxName)")
        }
        return out.converted(to: a.type)
    }

    /// Broadcasts `a` and `b` (same element type) and compares them; the result is bool.
    public static func compare(_ a: RTensor, _ b: RTensor, threads: Int, _ body: some ScalarPredicate) throws -> RTensor {
        let shape = try broadcastShape(a, b)
        let wa = a.widened(), wb = b.widened()
        guard let out = try wa.type.visit(PredicateVisitor(a: wa, b: wb, shape: shape, threads: threads, body: body)) else {
            throw OpError("does not support \(a.type.onnxName)")
        }
        return out
    }

    static func broadcastShape(_ a: RTensor, _ b: RTensor) throws -> [Int] {
        guard a.type == b.type else {
            throw OpError("input types differ: \(a.type.onnxName) and \(b.type.onnxName)")
        }
        guard let shape = Broadcast.shape([a.shape, b.shape]) else {
            throw OpError("shapes \(a.shape) and \(b.shape) do not broadcast")
        }
        return shape
    }

    /// Visits every output index of the broadcast of `a` and `b` with the
    /// matching input indices, split across threads by output range.
    @inline(__always)
    static func broadcastLoop(_ a: RTensor, _ b: RTensor, shape: [Int], threads: Int, _ body: (Int, Int, Int) -> Void) {
        let n = shape.reduce(1, *)
        if a.shape == b.shape {
            Parallel.forEach(n, threads: threads, minimumChunk: 1 << 15) { r in for i in r { body(i, i, i) } }
        } else if b.count == 1 && a.count == n {
            Parallel.forEach(n, threads: threads, minimumChunk: 1 << 15) { r in for i in r { body(i, i, 0) } }
        } else if a.count == 1 && b.count == n {
            Parallel.forEach(n, threads: threads, minimumChunk: 1 << 15) { r in for i in r { body(i, 0, i) } }
        } else {
            Parallel.forEach(n, threads: threads, minimumChunk: 1 << 14) { r in
                Broadcast.forEachIndex(outShape: shape, inputShapes: [a.shape, b.shape], range: r) { o, idx in
                    body(o, idx[0], idx[1])
                }
            }
        }
    }
}

/// A binary arithmetic operation over any kernel scalar type.
public protocol ScalarArithmetic {
    func apply<T: KernelScalar>(_ a: T, _ b: T) -> T
}

/// A binary comparison over any kernel scalar type.
public protocol ScalarPredicate {
    func apply<T: KernelScalar>(_ a: T, _ b: T) -> Bool
}

/// A unary map over any kernel scalar type.
public protocol ScalarMap {
    func apply<T: KernelScalar>(_ x: T) -> T
}

private struct MapVisitor<Body: ScalarMap>: ScalarVisitor {
    let x: RTensor
    let body: Body
    func visit<T: KernelScalar>(_: T.Type) -> RTensor {
        let out = RTensor(type: x.type, shape: x.shape)
        let s = x.pointer(T.self), d = out.pointer(T.self)
        for i in 0..<x.count { d[i] = body.apply(s[i]) }
        return out
    }
}

private struct ArithmeticVisitor<Body: ScalarArithmetic>: ScalarVisitor {
    let a: RTensor, b: RTensor
    let shape: [Int]
    let threads: Int
    let body: Body

    func visit<T: KernelScalar>(_: T.Type) -> RTensor {
        let out = RTensor(type: a.type, shape: shape)
        let pa = a.pointer(T.self), pb = b.pointer(T.self), po = out.pointer(T.self)
        Elementwise.broadcastLoop(a, b, shape: shape, threads: threads) { o, i, j in po[o] = body.apply(pa[i], pb[j]) }
        return out
    }
}

private struct PredicateVisitor<Body: ScalarPredicate>: ScalarVisitor {
    let a: RTensor, b: RTensor
    let shape: [Int]
    let threads: Int
    let body: Body

    func visit<T: KernelScalar>(_: T.Type) -> RTensor {
        let out = RTensor(type: .bool, shape: shape)
        let pa = a.pointer(T.self), pb = b.pointer(T.self), po = out.pointer(UInt8.self)
        Elementwise.broadcastLoop(a, b, shape: shape, threads: threads) { o, i, j in po[o] = body.apply(pa[i], pb[j]) ? 1 : 0 }
        return out
    }
}
