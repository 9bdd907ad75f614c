import CKernels
import Foundation
import IR

// Elementwise operators of two or more inputs with multidirectional
// broadcasting (ONNX Broadcasting.md; reference: onnx/reference/ops/op_add.py etc.).

extension Ops {
    static let elementwiseBinary: [OpEntry] = [
        arithmetic("Add", Arith.add),
        arithmetic("Sub", Arith.sub),
        arithmetic("Mul", Arith.mul),
        arithmetic("Div", Arith.div),
        OpEntry("Pow", shape: ShapeRules.broadcast()) { ctx in
            // Since opset 12 the exponent may have another type; compute in the base's type.
            let a = try ctx.input(0), b = try ctx.input(1).converted(to: try ctx.input(0).type)
            return [try Elementwise.arithmetic(a, b, threads: ctx.threads, PowOp())]
        },
        OpEntry("Mod", shape: ShapeRules.broadcast()) { ctx in
            let fmod = ctx.int("fmod", 0) != 0
            return [try Elementwise.arithmetic(try ctx.input(0), try ctx.input(1), threads: ctx.threads, ModOp(fmod: fmod))]
        },
        variadic("Max", MaxOp()),
        variadic("Min", MinOp()),
        variadic("Sum", Arith.add),
        OpEntry("Mean", shape: ShapeRules.broadcast()) { ctx in
            let sum = try fold(ctx, Arith.add)
            let n = RTensor(floats: [Float(ctx.inputs.compactMap { $0 }.count)], shape: []).converted(to: sum.type)
            return [try Elementwise.arithmetic(sum, n, threads: ctx.threads, Arith.div)]
        },
        compare("Equal", EqualOp()),
        compare("Less", LessOp()),
        compare("Greater", GreaterOp()),
        compare("LessOrEqual", LessOrEqualOp()),
        compare("GreaterOrEqual", GreaterOrEqualOp()),
        logical("And") { $0 && $1 },
        logical("Or") { $0 || $1 },
        logical("Xor") { $0 != $1 },
        OpEntry("Where", shape: { ctx in
            let r = try ShapeRules.broadcast()(ShapeContext(node: ctx.node, opset: ctx.opset, inputTypes: ctx.inputTypes, constants: ctx.constants))
            return [r[0].map { TensorType(ctx.inputTypes.count > 1 ? ctx.inputTypes[1]?.elementType ?? .undefined : .undefined, $0.shape) }]
        }) { ctx in [try whereKernel(try ctx.input(0), try ctx.input(1), try ctx.input(2), threads: ctx.threads)] },
        OpEntry("PRelu", shape: ShapeRules.sameAsInput) { ctx in
            let x = try ctx.input(0), slope = try ctx.input(1)
            return [try Elementwise.arithmetic(x, slope.converted(to: x.type), threads: ctx.threads, PReluOp())]
        },
    ]

    static func arithmetic(_ op: String, _ body: some ScalarArithmetic & Sendable) -> OpEntry {
        OpEntry(op, shape: ShapeRules.broadcast()) { ctx in
            let a = try ctx.input(0), b = try ctx.input(1)
            if a.type == .float32, b.type == .float32, let fast = Arith.float32(op, a, b, threads: ctx.threads) { return [fast] }
            return [try Elementwise.arithmetic(a, b, threads: ctx.threads, body)]
        }
    }

    /// Max, Min, Sum: any number of inputs, folded left to right.
    static func variadic(_ op: String, _ body: some ScalarArithmetic & Sendable) -> OpEntry {
        OpEntry(op, shape: ShapeRules.broadcast()) { ctx in [try fold(ctx, body)] }
    }

    static func fold(_ ctx: KernelContext, _ body: some ScalarArithmetic) throws -> RTensor {
        let xs = ctx.inputs.compactMap { $0 }
        guard var acc = xs.first else { throw OpError("needs at least one input") }
        for x in xs.dropFirst() { acc = try Elementwise.arithmetic(acc, x, threads: ctx.threads, body) }
        return acc
    }

    static func compare(_ op: String, _ body: some ScalarPredicate & Sendable) -> OpEntry {
        OpEntry(op, shape: ShapeRules.broadcast(resultType: .bool)) { ctx in
            let a = try ctx.input(0), b = try ctx.input(1)
            if let sa = a.strings, let sb = b.strings, op == "Equal" {
                guard let shape = Broadcast.shape([a.shape, b.shape]) else { throw OpError("shapes \(a.shape) and \(b.shape) do not broadcast") }
                let out = RTensor(type: .bool, shape: shape)
                let p = out.pointer(UInt8.self)
                Elementwise.broadcastLoop(a, b, shape: shape, threads: 1) { o, i, j in p[o] = sa[i] == sb[j] ? 1 : 0 }
                return [out]
            }
            return [try Elementwise.compare(a, b, threads: ctx.threads, body)]
        }
    }

    static func logical(_ op: String, _ f: @escaping @Sendable (Bool, Bool) -> Bool) -> OpEntry {
        OpEntry(op, shape: ShapeRules.broadcast(resultType: .bool)) { ctx in
            let a = try ctx.input(0), b = try ctx.input(1)
            guard a.type == .bool, b.type == .bool else { throw OpError("\(op) expects bool inputs") }
            let shape = try Elementwise.broadcastShape(a, b)
            let out = RTensor(type: .bool, shape: shape)
            let pa = a.pointer(UInt8.self), pb = b.pointer(UInt8.self), po = out.pointer(UInt8.self)
            Elementwise.broadcastLoop(a, b, shape: shape, threads: ctx.threads) { o, i, j in po[o] = f(pa[i] != 0, pb[j] != 0) ? 1 : 0 }
            return [out]
        }
    }

    static func whereKernel(_ c: RTensor, _ x: RTensor, _ y: RTensor, threads: Int) throws -> RTensor {
        guard c.type == .bool else { throw OpError("condition must be bool, got \(c.type.onnxName)") }
        guard x.type == y.type else { throw OpError("X and Y types differ: \(x.type.onnxName) and \(y.type.onnxName)") }
        guard let shape = Broadcast.shape([c.shape, x.shape, y.shape]) else {
            throw OpError("shapes \(c.shape), \(x.shape) and \(y.shape) do not broadcast")
        }
        var out = RTensor(type: x.type, shape: shape)
        let n = out.count
        let cp = c.pointer(UInt8.self)
        if let sx = x.strings, let sy = y.strings {
            var result = [String](repeating: "", count: n)
            Broadcast.forEachIndex(outShape: shape, inputShapes: [c.shape, x.shape, y.shape], range: 0..<n) { o, idx in
                result[o] = cp[idx[0]] != 0 ? sx[idx[1]] : sy[idx[2]]
            }
            out.strings = result
            return out
        }
        let stride = RTensor.stride(of: x.type)
        let px = x.buffer.pointer, py = y.buffer.pointer, po = out.buffer.pointer
        Parallel.forEach(n, threads: threads, minimumChunk: 1 << 14) { r in
            Broadcast.forEachIndex(outShape: shape, inputShapes: [c.shape, x.shape, y.shape], range: r) { o, idx in
                let src = cp[idx[0]] != 0 ? px + idx[1] * stride : py + idx[2] * stride
                (po + o * stride).copyMemory(from: src, byteCount: stride)
            }
        }
        return out
    }
}

/// The four arithmetic operators, with float32 fast paths for the shapes
/// CNNs use (same shape, scalar, and per-channel [C,1,1] against [N,C,H,W]).
enum Arith {
    struct Add: ScalarArithmetic, Sendable { func apply<T: KernelScalar>(_ a: T, _ b: T) -> T { a + b } }
    struct Sub: ScalarArithmetic, Sendable { func apply<T: KernelScalar>(_ a: T, _ b: T) -> T { a - b } }
    struct Mul: ScalarArithmetic, Sendable { func apply<T: KernelScalar>(_ a: T, _ b: T) -> T { a * b } }
    /// Integer division truncates toward zero (C semantics, as ONNX Runtime);
    /// division by zero gives 0 instead of trapping.
    struct Div: ScalarArithmetic, Sendable {
        func apply<T: KernelScalar>(_ a: T, _ b: T) -> T {
            if let x = a as? Float, let y = b as? Float { return (x / y) as! T }
            if let x = a as? Double, let y = b as? Double { return (x / y) as! T }
            if b == .zero { return .zero }
            return T(fromDouble: (a.asDouble / b.asDouble).rounded(.towardZero))
        }
    }

    static let add = Add(), sub = Sub(), mul = Mul(), div = Div()

    static func float32(_ op: String, _ a: RTensor, _ b: RTensor, threads: Int) -> RTensor? {
        let f: (Float, Float) -> Float
        switch op {
        case "Add": f = { $0 + $1 }
        case "Sub": f = { $0 - $1 }
        case "Mul": f = { $0 * $1 }
        case "Div": f = { $0 / $1 }
        default: return nil
        }
        guard let shape = Broadcast.shape([a.shape, b.shape]) else { return nil }
        let pa = a.pointer(Float.self), pb = b.pointer(Float.self)
        let n = shape.reduce(1, *)
        // [N,C,H,W] op [C,1,1] (or [1,C,1,1]): one scalar per channel plane.
        if a.shape == shape, b.count > 1, let (outer, channels, inner) = channelLayout(b.shape, in: shape) {
            let out = RTensor(type: .float32, shape: shape)
            let po = out.pointer(Float.self)
            Parallel.forEach(outer * channels, threads: threads, minimumChunk: max(1, (1 << 15) / max(inner, 1))) { r in
                for plane in r {
                    let s = pb[plane % channels], base = plane * inner
                    for i in 0..<inner { po[base + i] = f(pa[base + i], s) }
                }
            }
            return out
        }
        guard a.shape == b.shape || b.count == 1 || a.count == 1 else { return nil }
        let out = RTensor(type: .float32, shape: shape)
        let po = out.pointer(Float.self)
        let sa = a.count == n ? 1 : 0, sb = b.count == n ? 1 : 0
        let code: Int32 = op == "Add" ? 0 : op == "Sub" ? 1 : op == "Mul" ? 2 : 3
        // One IEEE operation per element: in C (CKernels/binary.c) on the widest vectors, the same results.
        Parallel.forEach(n, threads: threads, minimumChunk: 1 << 15) { r in
            qc_binary_f32(code, pa + r.lowerBound * sa, Int32(sa), pb + r.lowerBound * sb, Int32(sb), po + r.lowerBound, r.count)
        }
        return out
    }

    /// If `small` broadcast into `shape` varies along exactly one axis, the
    /// sizes (before, along, after) of that axis.
    static func channelLayout(_ small: [Int], in shape: [Int]) -> (Int, Int, Int)? {
        let padded = [Int](repeating: 1, count: shape.count - small.count) + small
        let axes = padded.indices.filter { padded[$0] != 1 }
        guard axes.count == 1, let axis = axes.first, padded[axis] == shape[axis] else { return nil }
        return (shape[..<axis].reduce(1, *), shape[axis], shape[(axis + 1)...].reduce(1, *))
    }
}

private struct PowOp: ScalarArithmetic {
    func apply<T: KernelScalar>(_ a: T, _ b: T) -> T { T(fromDouble: Foundation.pow(a.asDouble, b.asDouble)) }
}

/// fmod=1: C fmod (sign of the dividend); fmod=0: integer modulo with the sign
/// of the divisor, as Python's % (ONNX Mod).
private struct ModOp: ScalarArithmetic {
    let fmod: Bool
    func apply<T: KernelScalar>(_ a: T, _ b: T) -> T {
        let x = a.asDouble, y = b.asDouble
        if fmod { return T(fromDouble: Foundation.fmod(x, y)) }
        // Integer modulo by zero is 0 (no trap); for floats fmod gives NaN.
        if y == 0, T.self is any FixedWidthInteger.Type { return .zero }
        var r = Foundation.fmod(x, y)
        if r != 0 && (r < 0) != (y < 0) { r += y }
        return T(fromDouble: r)
    }
}

private struct MaxOp: ScalarArithmetic {
    func apply<T: KernelScalar>(_ a: T, _ b: T) -> T {
        if let x = a as? Float, x.isNaN { return a }
        if let y = b as? Float, y.isNaN { return b }
        return Swift.max(a, b)
    }
}

private struct MinOp: ScalarArithmetic {
    func apply<T: KernelScalar>(_ a: T, _ b: T) -> T {
        if let x = a as? Float, x.isNaN { return a }
        if let y = b as? Float, y.isNaN { return b }
        return Swift.min(a, b)
    }
}

private struct PReluOp: ScalarArithmetic {
    func apply<T: KernelScalar>(_ a: T, _ b: T) -> T { a < .zero ? a * b : a }
}

private struct EqualOp: ScalarPredicate { func apply<T: KernelScalar>(_ a: T, _ b: T) -> Bool { a == b } }
private struct LessOp: ScalarPredicate { func apply<T: KernelScalar>(_ a: T, _ b: T) -> Bool { a < b } }
private struct GreaterOp: ScalarPredicate { func apply<T: KernelScalar>(_ a: T, _ b: T) -> Bool { a > b } }
private struct LessOrEqualOp: ScalarPredicate { func apply<T: KernelScalar>(_ a: T, _ b: T) -> Bool { a <= b } }
private struct GreaterOrEqualOp: ScalarPredicate { func apply<T: KernelScalar>(_ a: T, _ b: T) -> Bool { a >= b } }
