import Foundation
import IR

// Elementwise operators of one input (ONNX Operators.md, each op's section;
// reference: onnx/reference/ops/op_<name>.py).

extension Ops {
    static let elementwiseUnary: [OpEntry] = [
        float("Exp") { exp($0) },
        float("Log") { log($0) },
        float("Sqrt") { sqrt($0) },
        float("Reciprocal") { 1 / $0 },
        float("Sigmoid", fast: .sigmoid) {
            $0 >= 0 ? 1 / (1 + exp(-$0)) : exp($0) / (1 + exp($0))
        },
        float("Tanh", fast: .tanh) { tanh($0) },
        float("Erf") { erf($0) },
        float("Sin") { sin($0) },
        float("Cos") { cos($0) },
        float("Floor") { $0.rounded(.down) },
        float("Ceil") { $0.rounded(.up) },
        float("Round") { $0.rounded(.toNearestOrEven) },
        float("Softsign") { $0 / (1 + abs($0)) },
        // log(1 + e^x) without overflow for large x.
        float("Softplus") { $0 > 0 ? $0 + log1p(exp(-$0)) : log1p(exp($0)) },
        float("Mish") { x in x * tanh(x > 0 ? x + log1p(exp(-x)) : log1p(exp(x))) },
        float("HardSwish", fast: .hardSwish) { $0 * max(0, min(1, $0 / 6 + 0.5)) },
        OpEntry("Relu", shape: ShapeRules.sameAsInput) { ctx in
            let x = try ctx.input(0)
            if x.type == .float32 { return [Activation.relu.map(x, threads: ctx.threads)] }
            if x.type.isFloatingPoint { return [try Elementwise.mapFloat32(x, threads: ctx.threads) { max($0, 0) }] }
            return [try Elementwise.mapNumeric(x, Clamp(low: 0, high: nil))]
        },
        OpEntry("LeakyRelu", shape: ShapeRules.sameAsInput) { ctx in
            let x = try ctx.input(0)
            let alpha = Double(ctx.float("alpha", 0.01))
            if x.type == .float32 { return [Activation.leakyRelu(alpha: alpha).map(x, threads: ctx.threads)] }
            return [try Elementwise.mapFloat(x, threads: ctx.threads) { $0 < 0 ? alpha * $0 : $0 }]
        },
        floatWithContext("Elu") { ctx in
            let alpha = Double(ctx.float("alpha", 1))
            return { $0 < 0 ? alpha * (exp($0) - 1) : $0 }
        },
        floatWithContext("Selu") { ctx in
            let alpha = Double(ctx.float("alpha", 1.67326319217681884765625))
            let gamma = Double(ctx.float("gamma", 1.05070102214813232421875))
            return { $0 <= 0 ? gamma * (alpha * exp($0) - alpha) : gamma * $0 }
        },
        floatWithContext("Celu") { ctx in
            let alpha = Double(ctx.float("alpha", 1))
            return { max(0, $0) + min(0, alpha * (exp($0 / alpha) - 1)) }
        },
        OpEntry("HardSigmoid", shape: ShapeRules.sameAsInput) { ctx in
            let x = try ctx.input(0)
            let f = Activation.hardSigmoid(alpha: ctx.float("alpha", 0.2), beta: ctx.float("beta", 0.5))
            if x.type == .float32 { return [f.map(x, threads: ctx.threads)] }
            return [try Elementwise.mapFloat32(x, threads: ctx.threads) { f($0) }]
        },
        floatWithContext("Gelu") { ctx in
            if ctx.string("approximate", "none") == "tanh" {
                return { 0.5 * $0 * (1 + tanh((2 / Double.pi).squareRoot() * ($0 + 0.044715 * $0 * $0 * $0))) }
            }
            return { 0.5 * $0 * (1 + erf($0 / 2.0.squareRoot())) }
        },
        OpEntry("Abs", shape: ShapeRules.sameAsInput) { ctx in [try Elementwise.mapNumeric(try ctx.input(0), AbsMap())] },
        OpEntry("Neg", shape: ShapeRules.sameAsInput) { ctx in [try Elementwise.mapNumeric(try ctx.input(0), NegMap())] },
        OpEntry("Sign", shape: ShapeRules.sameAsInput) { ctx in [try Elementwise.mapNumeric(try ctx.input(0), SignMap())] },
        OpEntry("Not", shape: ShapeRules.sameAsInput) { ctx in
            let x = try ctx.input(0)
            guard x.type == .bool else { throw OpError("Not expects bool, got \(x.type.onnxName)") }
            let out = RTensor(type: .bool, shape: x.shape)
            let s = x.pointer(UInt8.self), d = out.pointer(UInt8.self)
            for i in 0..<x.count { d[i] = s[i] == 0 ? 1 : 0 }
            return [out]
        },
        OpEntry("Clip", normalize: clipAttributesToInputs, shape: ShapeRules.sameAsInput) { ctx in
            let x = try ctx.input(0)
            let low = try ctx.optionalInput(1).map { try scalar($0, "min") }
            let high = try ctx.optionalInput(2).map { try scalar($0, "max") }
            if x.type == .float32 {
                return [Activation.clip(low: Float(low ?? -.infinity), high: Float(high ?? .infinity)).map(x, threads: ctx.threads)]
            }
            return [try Elementwise.mapNumeric(x, Clamp(low: low, high: high))]
        },
        OpEntry("Identity", shape: ShapeRules.sameAsInput) { ctx in [try ctx.input(0)] },
        OpEntry("Dropout") { ctx in
            // Inference: output = input; the mask (if asked for) is all true.
            let x = try ctx.input(0)
            let mask = RTensor(type: .bool, shape: x.shape)
            mask.buffer.pointer.initializeMemory(as: UInt8.self, repeating: 1, count: x.count)
            return [x, mask]
        },
        OpEntry("Cast", shape: { ctx in
            [ctx.inputTypes.first??.shape.map { TensorType(ElementType(rawValue: Int32(ctx.int("to", 0))) ?? .undefined, $0) }]
        }) { ctx in
            let to = ctx.int("to", 0)
            guard let target = ElementType(rawValue: Int32(to)) else { throw OpError("Cast to unknown type \(to)") }
            return [try cast(try ctx.input(0), to: target, saturate: ctx.int("saturate", 1) != 0)]
        },
        OpEntry("CastLike") { ctx in [try cast(try ctx.input(0), to: try ctx.input(1).type, saturate: ctx.int("saturate", 1) != 0)] },
    ]

    /// An op computing `f` on every element of a floating-point input; `fast`,
    /// when given, computes float32 inputs in Float (the hot activations of CNNs).
    static func float(_ op: String, fast: Activation? = nil, _ f: @escaping @Sendable (Double) -> Double) -> OpEntry {
        OpEntry(op, shape: ShapeRules.sameAsInput) { ctx in
            let x = try ctx.input(0)
            if let fast, x.type == .float32 { return [fast.map(x, threads: ctx.threads)] }
            return [try Elementwise.mapFloat(x, threads: ctx.threads, f)]
        }
    }

    /// Like `float`, with `f` built from the node's attributes.
    static func floatWithContext(_ op: String, _ make: @escaping @Sendable (KernelContext) -> (Double) -> Double) -> OpEntry {
        OpEntry(op, shape: ShapeRules.sameAsInput) { ctx in [try Elementwise.mapFloat(try ctx.input(0), threads: ctx.threads, make(ctx))] }
    }

    /// The single value of a scalar (or one-element) tensor as Double.
    static func scalar(_ t: RTensor, _ what: String) throws -> Double {
        guard t.count == 1 else { throw OpError("\(what) must hold one value, has shape \(t.shape)") }
        return t.doubleArray()[0]
    }

    static func cast(_ x: RTensor, to target: ElementType, saturate: Bool) throws -> RTensor {
        if x.type == .string || target == .string {
            guard x.type == target else { throw OpError("casts between strings and numbers are not supported") }
            return x
        }
        func castable(_ t: ElementType) -> Bool {
            t.isComputable || MiniFloat.format(t) != nil || t == .int2 || t == .uint2
        }
        guard castable(x.type), castable(target) else {
            throw OpError("cast from \(x.type.onnxName) to \(target.onnxName) is not supported")
        }
        return x.converted(to: target, saturate: saturate)
    }

    /// Clip before opset 11 took min/max as attributes; from 11 they are inputs.
    @Sendable static func clipAttributesToInputs(_ node: inout Node, _ context: inout NormalizeContext) {
        guard context.opset < 11 else { return }
        if let lo = node[attribute: "min"]?.floatValue {
            NormalizeContext.setInput(&node, 1, context.constant(Tensor(floats: [lo], shape: [])))
        }
        if let hi = node[attribute: "max"]?.floatValue {
            NormalizeContext.setInput(&node, 2, context.constant(Tensor(floats: [hi], shape: [])))
        }
        node[attribute: "min"] = nil
        node[attribute: "max"] = nil
    }
}

private struct AbsMap: ScalarMap {
    func apply<T: KernelScalar>(_ x: T) -> T { x < .zero ? .zero - x : x }
}

private struct NegMap: ScalarMap {
    func apply<T: KernelScalar>(_ x: T) -> T { .zero - x }
}

private struct SignMap: ScalarMap {
    func apply<T: KernelScalar>(_ x: T) -> T { x > .zero ? 1 : x < .zero ? .zero - 1 : x == .zero ? .zero : x }
}

private struct Clamp: ScalarMap {
    let low: Double?, high: Double?
    func apply<T: KernelScalar>(_ x: T) -> T {
        var v = x
        if let low, v.asDouble < low { v = T(fromDouble: low) }
        if let high, v.asDouble > high { v = T(fromDouble: high) }
        return v
    }
}
