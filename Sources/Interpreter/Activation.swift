import CKernels
import Foundation
import IR

/// The elementwise activations CNNs put after a convolution, computed on
/// float32 exactly as their operators' float32 kernels compute them: the
/// kernels of Relu, Clip, HardSwish, HardSigmoid, Sigmoid, LeakyRelu and Tanh
/// use this type, and so does a convolution's fused epilogue (Fusion.swift),
/// so fusing an activation never changes a result.
enum Activation: Sendable, Equatable {
    case relu
    case clip(low: Float, high: Float)
    /// x·max(0, min(1, x/6 + 1/2)), with α = 1/6 multiplied as the ONNX definition writes it.
    case hardSwish
    case hardSigmoid(alpha: Float, beta: Float)
    case sigmoid
    /// Computed in Double, as LeakyRelu's general kernel does.
    case leakyRelu(alpha: Double)
    case tanh

    /// The activation `node` computes on float32, with Clip's bounds read from
    /// constant inputs through `constant`; nil for other nodes (or a Clip
    /// whose bounds are not constant).
    static func of(_ node: Node, opset: Int64, constant: (String) -> RTensor?) -> Activation? {
        guard node.isDefaultDomain, node.outputs.count == 1, let first = node.inputs.first, !first.isEmpty else { return nil }
        func float(_ name: String, _ d: Float) -> Float { node[attribute: name]?.floatValue ?? d }
        switch node.opType {
        case "Relu": return node.inputs.count == 1 ? .relu : nil
        case "HardSwish": return node.inputs.count == 1 ? .hardSwish : nil
        case "Sigmoid": return node.inputs.count == 1 ? .sigmoid : nil
        case "Tanh": return node.inputs.count == 1 ? .tanh : nil
        case "HardSigmoid": return node.inputs.count == 1 ? .hardSigmoid(alpha: float("alpha", 0.2), beta: float("beta", 0.5)) : nil
        case "LeakyRelu": return node.inputs.count == 1 ? .leakyRelu(alpha: Double(float("alpha", 0.01))) : nil
        case "Clip":
            // Bounds are inputs here (normalized from opset < 11 attributes).
            func bound(_ i: Int) -> Double?? {
                guard i < node.inputs.count, !node.inputs[i].isEmpty else { return .some(nil) }
                guard let t = constant(node.inputs[i]), t.type == .float32, t.count == 1 else { return nil }
                return .some(Double(t.pointer(Float.self)[0]))
            }
            guard node.inputs.count <= 3, let low = bound(1), let high = bound(2) else { return nil }
            return .clip(low: Float(low ?? -.infinity), high: Float(high ?? .infinity))
        default: return nil
        }
    }

    @inline(__always)
    func callAsFunction(_ x: Float) -> Float {
        switch self {
        case .relu: x > 0 ? x : 0
        case .clip(let lo, let hi): min(max(x, lo), hi)
        case .hardSwish: x * max(0, min(1, x * (1 / 6) + 0.5))
        case .hardSigmoid(let alpha, let beta): max(0, min(1, alpha * x + beta))
        case .sigmoid: Self.sigmoid(x)
        case .leakyRelu(let alpha): Float(Double(x) < 0 ? alpha * Double(x) : Double(x))
        case .tanh: tanhf(x)
        }
    }

    /// y[i] = f(x[i]) for i in 0..<n (x may be y). One loop per case, so
    /// each vectorizes.
    func map(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        // In place through one pointer: the vectorizer's overlap check would
        // send x == y to its scalar loop.
        if x == UnsafePointer(y) { return apply(y, n) }
        switch self {
        case .relu: for i in 0..<n { y[i] = x[i] > 0 ? x[i] : 0 }
        case .clip(let lo, let hi): for i in 0..<n { y[i] = min(max(x[i], lo), hi) }
        case .hardSwish: for i in 0..<n { y[i] = x[i] * max(0, min(1, x[i] * (1 / 6) + 0.5)) }
        case .hardSigmoid(let alpha, let beta): for i in 0..<n { y[i] = max(0, min(1, alpha * x[i] + beta)) }
        case .sigmoid: Self.sigmoid(x, y, n)
        default: for i in 0..<n { y[i] = self(x[i]) }
        }
    }

    /// p[i] = f(p[i]) for i in 0..<n.
    func apply(_ p: UnsafeMutablePointer<Float>, _ n: Int) {
        switch self {
        case .relu: for i in 0..<n { p[i] = p[i] > 0 ? p[i] : 0 }
        case .clip(let lo, let hi): for i in 0..<n { p[i] = min(max(p[i], lo), hi) }
        case .hardSwish: for i in 0..<n { p[i] = p[i] * max(0, min(1, p[i] * (1 / 6) + 0.5)) }
        case .hardSigmoid(let alpha, let beta): for i in 0..<n { p[i] = max(0, min(1, alpha * p[i] + beta)) }
        case .sigmoid: Self.sigmoid(p, p, n)
        default: for i in 0..<n { p[i] = self(p[i]) }
        }
    }

    // MARK: - Sigmoid

    /// 1 / (1 + e^−x) within a few ulp, saturating to 0 and 1, in plain
    /// float operations the compiler vectorizes (libm's expf is a call per
    /// element): e^v for v = −x clamped to [−87.3, 88] is 2^n · e^r with
    /// n = round(v / ln 2) and |r| ≤ ln 2 / 2, e^r by the Cephes expf
    /// polynomial (about 1 ulp), 2^n through the exponent bits.
    @inline(__always)
    static func sigmoid(_ x: Float) -> Float {
        var v = -x
        v = v < -87.336_54 ? -87.336_54 : v
        v = v > 88 ? 88 : v
        // Round v / ln 2 by adding 1.5·2^23: n then sits in t's low mantissa bits.
        let magic: Float = 12_582_912
        let t = v * 1.442_695_040_888_963_4 + magic
        let n = t - magic
        var r = v - n * 0.693_359_375
        r = r - n * -2.121_944_4e-4
        var p: Float = 1.987_569_150_0e-4
        p = p * r + 1.398_199_950_7e-3
        p = p * r + 8.333_451_907_3e-3
        p = p * r + 4.166_579_589_4e-2
        p = p * r + 1.666_666_545_9e-1
        p = p * r + 5.000_000_120_1e-1
        p = p * (r * r) + r + 1
        let exponent = (Int32(bitPattern: t.bitPattern) &- Int32(bitPattern: magic.bitPattern) &+ 127) &<< 23
        let e = p * Float(bitPattern: UInt32(bitPattern: exponent))
        return 1 / (1 + e)
    }

    /// tanh in plain float operations the compiler vectorizes, as Cephes
    /// tanhf: for |x| < 0.625 the odd polynomial x + x³·P(x²) (about 1 ulp),
    /// else 1 − 2 / (e^{2|x|} + 1) = 1 − 2·sigmoid(−2|x|), with sigmoid's
    /// exponential written out as above; saturates to ±1.
    @inline(__always)
    static func vectorTanh(_ x: Float) -> Float {
        let a = abs(x)
        let z = x * x
        var p: Float = -5.704_988_727_45e-3
        p = p * z + 2.063_908_879_54e-2
        p = p * z - 5.373_971_555_31e-2
        p = p * z + 1.333_144_220_36e-1
        p = p * z - 3.333_328_194_22e-1
        let small = p * z * x + x
        // 1 − 2·sigmoid(−2a) = 1 − 2 / (1 + e^{2a})
        let v: Float = -2 * a
        let large: Float = 1 - 2 * sigmoid(v)
        let signed = x < 0 ? -large : large
        return a < 0.625 ? small : signed
    }

    /// In CKernels (`qc_sigmoid_array`): the same arithmetic on the CPU's widest vectors.
    static func sigmoid(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        qc_sigmoid_array(x, y, n)
    }

    /// A new float32 tensor holding f(x), elements split across threads.
    func map(_ x: RTensor, threads: Int) -> RTensor {
        let out = RTensor(type: .float32, shape: x.shape)
        let src = UnsafePointer(x.pointer(Float.self)), dst = out.pointer(Float.self)
        let chunk = 1 << 14
        Parallel.forEach((x.count + chunk - 1) / chunk, threads: threads, minimumChunk: 4) { r in
            let lo = r.lowerBound * chunk, hi = min(x.count, r.upperBound * chunk)
            if hi > lo { map(src + lo, dst + lo, hi - lo) }
        }
        return out
    }
}
