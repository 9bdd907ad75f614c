import Foundation
import IR

// QuantizeLinear / DequantizeLinear (per-tensor, per-axis and, since opset 21,
// blocked) and DynamicQuantizeLinear (ONNX Operators.md). These define the
// arithmetic quantc's QDQ passes must match: y = saturate(round(x / scale) + zp)
// with round half to even, computed in float32 as ONNX Runtime does.

extension Ops {
    static let quantization: [OpEntry] = [
        OpEntry("QuantizeLinear") { ctx in
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
            guard let (qmin, qmax) = quantRange(outType) else {
                throw OpError("quantizing to \(outType.onnxName) is not supported")
            }
            let q = (0..<x.count).map { i -> Double in
                let k = map(i)
                let v = (src[i] / s[k]).rounded(.toNearestOrEven) + z[k]
                return Double(min(max(v, qmin), qmax))
            }
            return [RTensor(.float64, shape: x.shape, values: q).converted(to: outType)]
        },
        OpEntry("DequantizeLinear") { ctx in
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

    /// The integer range of a quantized type.
    static func quantRange(_ t: ElementType) -> (Float, Float)? {
        switch t {
        case .uint8: (0, 255)
        case .int8: (-128, 127)
        case .uint16: (0, 65535)
        case .int16: (-32768, 32767)
        case .uint4: (0, 15)
        case .int4: (-8, 7)
        case .uint2: (0, 3)
        case .int2: (-2, 1)
        case .int32: (-2_147_483_648, 2_147_483_647)
        default: nil
        }
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
