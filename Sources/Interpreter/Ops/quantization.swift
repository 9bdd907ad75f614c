import CKernels
import Foundation
import IR

// QuantizeLinear / DequantizeLinear (per-tensor, per-axis and, since opset 21,
// blocked) and DynamicQuantizeLinear (ONNX Operators.md). These define the
// arithmetic quantc's QDQ passes must match: y = saturate(round(x / scale) + zp)
// with round half to even, computed in float32 as ONNX Runtime does.

extension Ops {
    static let quantization: [OpEntry] = [
        // Shape rules: the input's shape, in the zero point's type (uint8 without one).
        OpEntry("QuantizeLinear", shape: { ctx in
            guard let x = ctx.inputTypes.first ?? nil else { return [nil] }
            var t = (ctx.inputTypes.count > 2 ? ctx.inputTypes[2]?.elementType : nil) ?? .uint8
            if ctx.inputTypes.count <= 2, let d = ctx.node[attribute: "output_dtype"]?.intValue, let e = ElementType(rawValue: Int32(d)),
               e != .undefined { t = e }
            return [TensorType(t, x.shape)]
        }) { ctx in
            if let y = try fastQuantize(ctx) { return [y] }
            let x = try ctx.input(0).converted(to: .float32)
            let scale = try ctx.input(1), zp = ctx.optionalInput(2)
            var outType = zp?.type ?? .uint8
            if zp == nil, let t = ElementType(rawValue: Int32(ctx.int("output_dtype", 0))), t != .undefined { outType = t }
            let s = scale.floatArray(), z = zp?.floatArray() ?? [Float](repeating: 0, count: s.count)
            let map = try paramIndex(x.shape, scale.shape, axis: ctx.int("axis", 1), blockSize: ctx.int("block_size", 0))
            let src = x.pointer(Float.self)
            if MiniFloat.format(outType) != nil {
                // Float targets: y = cast(x / scale + zp), saturating unless saturate = 0.
                let y = (0..<x.count).map { i in let k = map(i); return src[i] / s[k] + z[k] }
                return [RTensor(floats: y, shape: x.shape).converted(to: outType, saturate: ctx.int("saturate", 1) != 0)]
            }
            guard let (qmin, qmax) = outType.quantizedRange else {
                throw OpError("quantizing to \(outType.onnxName) is not supported")
            }
            let q = (0..<x.count).map { i -> Double in
                let k = map(i)
                let v = (src[i] / s[k]).rounded(.toNearestOrEven) + z[k]
                return Double(min(max(v, qmin), qmax))
            }
            return [RTensor(.float64, shape: x.shape, values: q).converted(to: outType)]
        },
        OpEntry("DequantizeLinear", shape: { ctx in
            guard let x = ctx.inputTypes.first ?? nil else { return [nil] }
            return [TensorType((ctx.inputTypes.count > 1 ? ctx.inputTypes[1]?.elementType : nil) ?? .float32, x.shape)]
        }) { ctx in
            if let y = try fastDequantize(ctx) { return [y] }
            let x = try ctx.input(0), scale = try ctx.input(1), zp = ctx.optionalInput(2)
            let s = scale.floatArray(), z = zp?.floatArray() ?? [Float](repeating: 0, count: s.count)
            let map = try paramIndex(x.shape, scale.shape, axis: ctx.int("axis", 1), blockSize: ctx.int("block_size", 0))
            let v = x.floatArray()
            let y = (0..<x.count).map { i in let k = map(i); return (v[i] - z[k]) * s[k] }
            return [RTensor(floats: y, shape: x.shape).converted(to: scale.type)]
        },
        OpEntry("DynamicQuantizeLinear") { ctx in
            let x = try ctx.input(0).converted(to: .float32)
            let v = x.floatArray()
            // The range always includes 0 so that 0 is exactly representable.
            let lo = min(0, v.min() ?? 0), hi = max(0, v.max() ?? 0)
            let scale = (hi - lo) / 255
            let zp = scale == 0 ? 0 : min(max((0 - lo / scale).rounded(.toNearestOrEven), 0), 255)
            let y = v.map { scale == 0 ? zp : min(max(($0 / scale).rounded(.toNearestOrEven) + zp, 0), 255) }
            return [RTensor(floats: y, shape: x.shape).converted(to: .uint8), RTensor(floats: [scale], shape: []),
                    RTensor(floats: [zp], shape: []).converted(to: .uint8)]
        },
    ]

    /// The common QDQ case, float32 ↔ 8-bit with one scale, in parallel: the
    /// same arithmetic as the general path (x / scale rounded half to even, plus
    /// the zero point, saturated; NaN gives the zero point).
    static func fastQuantize(_ ctx: KernelContext) throws -> RTensor? {
        let x = try ctx.input(0), scale = try ctx.input(1)
        let zp = ctx.optionalInput(2)
        let outType = zp?.type ?? .uint8
        guard x.type == .float32, scale.type == .float32, scale.count == 1, outType == .uint8 || outType == .int8,
              ctx.int("block_size", 0) == 0, zp.map({ $0.count == 1 }) ?? true,
              ctx.int("output_dtype", 0) == 0 else { return nil }
        let s = scale.elements(Float.self)[0]
        let z = zp.map { $0.type == .uint8 ? Float($0.elements(UInt8.self)[0]) : Float($0.elements(Int8.self)[0]) } ?? 0
        let (qlo, qhi): (Int32, Int32) = outType == .uint8 ? (0, 255) : (-128, 127)
        let zi = Int32(z)
        let out = RTensor(type: outType, shape: x.shape)
        let src = x.pointer(Float.self)
        let dst = out.pointer(UInt8.self)
        // x / scale is bounded to ±1024 (NaN to 0), then rounded half to even by adding
        // magic = 1.5·2²³ (exact for |v| < 2²²): the sum's low mantissa bits are the rounded
        // integer, bits(magic + n) = 0x4B40_0000 + n; plus the zero point, clamped. In C
        // (CKernels/quantize.c) on the widest vectors, where rounded() would call libm.
        Parallel.forEach(x.count, threads: ctx.threads, minimumChunk: 1 << 15) { r in
            qc_quantize_linear(src + r.lowerBound, r.count, s, zi, qlo, qhi, dst + r.lowerBound)
        }
        return out
    }

    static func fastDequantize(_ ctx: KernelContext) throws -> RTensor? {
        let x = try ctx.input(0), scale = try ctx.input(1)
        let zp = ctx.optionalInput(2)
        guard x.type == .uint8 || x.type == .int8, scale.type == .float32, scale.count == 1,
              zp.map({ $0.count == 1 && $0.type == x.type }) ?? true, ctx.int("block_size", 0) == 0 else { return nil }
        let s = scale.elements(Float.self)[0]
        let signed = x.type == .int8
        let z = zp.map { signed ? Float($0.elements(Int8.self)[0]) : Float($0.elements(UInt8.self)[0]) } ?? 0
        let out = RTensor(type: .float32, shape: x.shape)
        let src = x.pointer(UInt8.self)
        let dst = out.pointer(Float.self)
        // (q − z) · s, in C on the widest vectors (CKernels/quantize.c).
        Parallel.forEach(x.count, threads: ctx.threads, minimumChunk: 1 << 15) { r in
            qc_dequantize_linear(src + r.lowerBound, r.count, signed ? 1 : 0, z, s, dst + r.lowerBound)
        }
        return out
    }

    /// For each element of `shape`, the index of its scale and zero point:
    /// one for all (scalar scale), one per index along `axis` (1-D scale), or
    /// one per block of `blockSize` along `axis` (scale of the input's rank).
    static func paramIndex(_ shape: [Int], _ scaleShape: [Int], axis a: Int, blockSize: Int) throws -> (Int) -> Int {
        let count = scaleShape.reduce(1, *)
        if count == 1 && (scaleShape.count <= 1) && blockSize == 0 { return { _ in 0 } }
        let ax = try axis(a, rank: shape.count)
        let (_, n, inner) = split(shape, at: ax)
        if blockSize == 0 {
            guard scaleShape.count == 1, scaleShape[0] == n else {
                throw OpError("per-axis scale of shape \(scaleShape) does not match axis \(ax) of \(shape)")
            }
            return { ($0 / inner) % n }
        }
        guard scaleShape.count == shape.count,
              scaleShape.indices.allSatisfy({ $0 == ax ? scaleShape[$0] == (shape[$0] + blockSize - 1) / blockSize : scaleShape[$0] == shape[$0] }) else {
            throw OpError("blocked scale of shape \(scaleShape) does not match \(shape) with block_size \(blockSize) on axis \(ax)")
        }
        let blocks = scaleShape[ax]
        return { i in
            let outer = i / (n * inner), k = (i / inner) % n, j = i % inner
            return (outer * blocks + k / blockSize) * inner + j
        }
    }
}
