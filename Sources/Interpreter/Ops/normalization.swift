import Foundation
import IR

// Normalization operators (ONNX Operators.md: BatchNormalization,
// InstanceNormalization, LayerNormalization, GroupNormalization, LRN).
// Statistics are accumulated in Double, outputs rounded once to float.

extension Ops {
    static let normalization: [OpEntry] = [
        OpEntry("BatchNormalization", shape: { ctx in [ctx.inputTypes.first ?? nil] }) { ctx in try batchNorm(ctx) },
        OpEntry("InstanceNormalization", shape: ShapeRules.sameAsInput) { ctx in
            let x = try ctx.input(0).converted(to: .float32), scale = try ctx.input(1).floatArray(), bias = try ctx.input(2).floatArray()
            guard x.rank >= 2 else { throw OpError("expects rank ≥ 2") }
            let (n, c) = (x.shape[0], x.shape[1]), inner = x.count / max(n * c, 1)
            let out = normalizeGroups(x, groups: n * c, size: inner, epsilon: Double(ctx.float("epsilon", 1e-5)), threads: ctx.threads) { g, i in
                (scale[g % c], bias[g % c])
            }
            return [out.converted(to: try ctx.input(0).type)]
        },
        OpEntry("LayerNormalization", shape: ShapeRules.sameAsInput) { ctx in
            let x0 = try ctx.input(0)
            let x = x0.converted(to: .float32)
            let ax = try axis(ctx.int("axis", -1), rank: x.rank)
            let outer = x.shape[..<ax].reduce(1, *), inner = x.shape[ax...].reduce(1, *)
            let scale = try ctx.input(1), bias = ctx.optionalInput(2)
            // Scale and bias broadcast over the normalized dims.
            let s = try expandTo(scale, Array(x.shape[ax...])), b = try bias.map { try expandTo($0, Array(x.shape[ax...])) }
            var means = [Float](repeating: 0, count: outer), inv = means
            let out = normalizeGroups(x, groups: outer, size: inner, epsilon: Double(ctx.float("epsilon", 1e-5)), threads: ctx.threads,
                                      stats: { g, m, r in means[g] = Float(m); inv[g] = Float(r) }) { _, i in (s[i], b?[i] ?? 0) }
            var statShape = x.shape
            for d in ax..<x.rank { statShape[d] = 1 }
            return [out.converted(to: x0.type), RTensor(floats: means, shape: statShape), RTensor(floats: inv, shape: statShape)]
        },
        OpEntry("GroupNormalization", shape: ShapeRules.sameAsInput) { ctx in
            let x0 = try ctx.input(0)
            let x = x0.converted(to: .float32)
            let groups = ctx.int("num_groups", 1)
            let (n, c) = (x.shape[0], x.shape[1]), spatial = x.count / max(n * c, 1)
            guard groups > 0, c % groups == 0 else { throw OpError("channels \(c) are not divisible by num_groups \(groups)") }
            let scale = try ctx.input(1).floatArray(), bias = try ctx.input(2).floatArray()
            // Opset 18 gave scale/bias per group; opset 21 per channel.
            let perChannel = scale.count == c
            let perGroupChannels = c / groups
            let out = normalizeGroups(x, groups: n * groups, size: perGroupChannels * spatial,
                                      epsilon: Double(ctx.float("epsilon", 1e-5)), threads: ctx.threads) { g, i in
                let channel = (g % groups) * perGroupChannels + i / spatial
                let k = perChannel ? channel : g % groups
                return (scale[k], bias[k])
            }
            return [out.converted(to: x0.type)]
        },
        OpEntry("LRN", shape: ShapeRules.sameAsInput) { ctx in
            let x0 = try ctx.input(0)
            let x = x0.converted(to: .float32)
            let size = ctx.int("size", 1)
            let alpha = Double(ctx.float("alpha", 1e-4)), beta = Double(ctx.float("beta", 0.75)), bias = Double(ctx.float("bias", 1))
            let (n, c) = (x.shape[0], x.shape[1]), inner = x.count / max(n * c, 1)
            let src = x.pointer(Float.self)
            let out = RTensor(type: .float32, shape: x.shape)
            let dst = out.pointer(Float.self)
            let lo = (size - 1) / 2, hi = size - 1 - lo
            // y = x / (bias + α/size · Σ x²)^β over a window of channels; the
            // power is exp(−β·log(·)), and each position's window sum slides.
            Parallel.forEach(n * inner, threads: ctx.threads, minimumChunk: 256) { r in
                var squares = [Double](repeating: 0, count: c)
                for p in r {
                    let b = p / inner, i = p % inner
                    for k in 0..<c { let v = Double(src[(b * c + k) * inner + i]); squares[k] = v * v }
                    var sum = 0.0
                    for k in 0..<min(c, hi + 1) { sum += squares[k] }
                    for ch in 0..<c {
                        let idx = (b * c + ch) * inner + i
                        dst[idx] = Float(Double(src[idx]) * exp(-beta * log(bias + alpha / Double(size) * sum)))
                        if ch + hi + 1 < c { sum += squares[ch + hi + 1] }
                        if ch - lo >= 0 { sum -= squares[ch - lo] }
                    }
                }
            }
            return [out.converted(to: x0.type)]
        },
    ]

    /// y = (x − mean)/√(var + ε)·scale + bias over `groups` contiguous runs of
    /// `size` elements; `affine(group, index in group)` gives (scale, bias).
    static func normalizeGroups(_ x: RTensor, groups: Int, size: Int, epsilon: Double, threads: Int,
                                stats: ((Int, Double, Double) -> Void)? = nil,
                                affine: (Int, Int) -> (Float, Float)) -> RTensor {
        let out = RTensor(type: .float32, shape: x.shape)
        let src = x.pointer(Float.self), dst = out.pointer(Float.self)
        var means = [Double](repeating: 0, count: groups), invs = means
        means.withUnsafeMutableBufferPointer { mp in
            invs.withUnsafeMutableBufferPointer { ip in
                Parallel.forEach(groups, threads: threads, minimumChunk: max(1, 16384 / max(size, 1))) { r in
                    for g in r {
                        let base = g * size
                        var mean = 0.0
                        for i in 0..<size { mean += Double(src[base + i]) }
                        mean /= Double(max(size, 1))
                        var variance = 0.0
                        for i in 0..<size {
                            let d = Double(src[base + i]) - mean
                            variance += d * d
                        }
                        variance /= Double(max(size, 1))
                        let inv = 1 / (variance + epsilon).squareRoot()
                        mp[g] = mean
                        ip[g] = inv
                        for i in 0..<size {
                            let (s, b) = affine(g, i)
                            dst[base + i] = Float((Double(src[base + i]) - mean) * inv) * s + b
                        }
                    }
                }
            }
        }
        if let stats { for g in 0..<groups { stats(g, means[g], invs[g]) } }
        return out
    }

    /// The values of `t` broadcast to `shape`, as a flat float array.
    static func expandTo(_ t: RTensor, _ shape: [Int]) throws -> [Float] {
        guard let full = Broadcast.shape([t.shape, shape]), full == shape else {
            throw OpError("shape \(t.shape) does not broadcast to \(shape)")
        }
        let f = t.floatArray()
        if t.count == shape.reduce(1, *) { return f }
        var out = [Float](repeating: 0, count: shape.reduce(1, *))
        Broadcast.forEachIndex(outShape: shape, inputShapes: [t.shape], range: 0..<out.count) { o, idx in out[o] = f[idx[0]] }
        return out
    }

    /// Inference: y = (x − mean)/√(var + ε)·scale + B per channel (axis 1).
    /// With training_mode = 1 (opset 14+), batch statistics are used and the
    /// running mean and variance are updated with `momentum`.
    static func batchNorm(_ ctx: KernelContext) throws -> [RTensor] {
        let x0 = try ctx.input(0)
        let x = x0.converted(to: .float32)
        let scale = try ctx.input(1).floatArray(), bias = try ctx.input(2).floatArray()
        var mean = try ctx.input(3).floatArray(), variance = try ctx.input(4).floatArray()
        let eps = Double(ctx.float("epsilon", 1e-5))
        let c = x.rank > 1 ? x.shape[1] : 1
        let n = x.shape.first ?? 1, inner = x.count / max(n * c, 1)
        guard [scale.count, bias.count, mean.count, variance.count].allSatisfy({ $0 == c }) else {
            throw OpError("scale, B, mean and var must have \(c) values (the channel count)")
        }
        let training = ctx.int("training_mode", 0) != 0 && ctx.node.outputs.count > 1
        var runningMean = mean, runningVar = variance
        if training {
            let src = x.pointer(Float.self)
            let momentum = Double(ctx.float("momentum", 0.9))
            for ch in 0..<c {
                var m = 0.0, v = 0.0
                for b in 0..<n { for i in 0..<inner { m += Double(src[(b * c + ch) * inner + i]) } }
                m /= Double(n * inner)
                for b in 0..<n { for i in 0..<inner { let d = Double(src[(b * c + ch) * inner + i]) - m; v += d * d } }
                v /= Double(n * inner)
                runningMean[ch] = Float(Double(mean[ch]) * momentum + m * (1 - momentum))
                runningVar[ch] = Float(Double(variance[ch]) * momentum + v * (1 - momentum))
                mean[ch] = Float(m)
                variance[ch] = Float(v)
            }
        }
        let a = (0..<c).map { Float(Double(scale[$0]) / (Double(variance[$0]) + eps).squareRoot()) }
        let b = (0..<c).map { bias[$0] - mean[$0] * a[$0] }
        let out = RTensor(type: .float32, shape: x.shape)
        let src = x.pointer(Float.self), dst = out.pointer(Float.self)
        // A fused epilogue (DenseNet's Mul, Add, Relu) runs on each plane while it is in cache.
        let plan = x0.type == .float32 && !training && x.rank >= 2 ? ctx.epilogue?.plan(for: out) : nil
        Parallel.forEach(n * c, threads: ctx.threads, minimumChunk: max(1, 16384 / max(inner, 1))) { r in
            for plane in r {
                let ch = plane % c, base = plane * inner
                for i in 0..<inner { dst[base + i] = src[base + i] * a[ch] + b[ch] }
                plan?.run(dst, plane: plane, columns: 0..<inner)
            }
        }
        var results = [out.converted(to: x0.type)]
        if training {
            results.append(RTensor(floats: runningMean, shape: [c]).converted(to: try ctx.input(3).type))
            results.append(RTensor(floats: runningVar, shape: [c]).converted(to: try ctx.input(4).type))
        }
        return results
    }
}
