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
        case .hardSwish: x * max(0, min(1, x / 6 + 0.5))
        case .hardSigmoid(let alpha, let beta): max(0, min(1, alpha * x + beta))
        case .sigmoid: x >= 0 ? 1 / (1 + expf(-x)) : expf(x) / (1 + expf(x))
        case .leakyRelu(let alpha): Float(Double(x) < 0 ? alpha * Double(x) : Double(x))
        case .tanh: tanhf(x)
        }
    }

    /// y[i] = f(x[i]) for i in 0..<n (x may be y). One loop per case, so
    /// each vectorizes.
    func map(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        switch self {
        case .relu: for i in 0..<n { y[i] = x[i] > 0 ? x[i] : 0 }
        case .clip(let lo, let hi): for i in 0..<n { y[i] = min(max(x[i], lo), hi) }
        case .hardSwish: for i in 0..<n { y[i] = x[i] * max(0, min(1, x[i] / 6 + 0.5)) }
        case .hardSigmoid(let alpha, let beta): for i in 0..<n { y[i] = max(0, min(1, alpha * x[i] + beta)) }
        default: for i in 0..<n { y[i] = self(x[i]) }
        }
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
