import Foundation
import IR

// Resize (ONNX Operators.md "Resize", opsets 10–19) and the deprecated
// Upsample, which is normalized to Resize's input form. Interpolation is
// separable: each resized axis is computed in turn from taps (source index,
// weight) per output position, which is exact for nearest, linear and cubic.

extension Ops {
    static let resize: [OpEntry] = [
        OpEntry("Resize", normalize: { node, context in
            // Opset 10: (X, scales) with asymmetric coordinates, like Upsample.
            guard context.opset < 11 else { return }
            if node.inputs.count == 2 { node.inputs = [node.inputs[0], "", node.inputs[1]] }
            node[attribute: "coordinate_transformation_mode"] = .string("asymmetric")
            node[attribute: "nearest_mode"] = .string("floor")
        }) { ctx in [try resizeKernel(ctx)] },
        OpEntry("Upsample", normalize: { node, context in
            var scales = node.inputs.count > 1 ? node.inputs[1] : ""
            if let s = node[attribute: "scales"]?.floatsValue {  // opset 7–8: an attribute
                scales = context.constant(Tensor(floats: s, shape: [s.count]))
                node[attribute: "scales"] = nil
            }
            node.inputs = [node.inputs[0], "", scales]
            node[attribute: "coordinate_transformation_mode"] = .string("asymmetric")
            node[attribute: "nearest_mode"] = .string("floor")
        }) { ctx in [try resizeKernel(ctx)] },
    ]

    struct Tap {
        var index: Int
        var weight: Float
    }

    static func resizeKernel(_ ctx: KernelContext) throws -> RTensor {
        let x0 = try ctx.input(0)
        let rank = x0.rank
        let axes = try ctx.ints("axes").map { try $0.map { try axis($0, rank: rank) } } ?? Array(0..<rank)
        var scales = [Double](repeating: 1, count: rank)
        var outShape = x0.shape
        let scalesInput = ctx.optionalInput(2).flatMap { $0.count > 0 ? $0 : nil }
        let sizesInput = ctx.optionalInput(3).flatMap { $0.count > 0 ? $0 : nil }
        if let sizesInput {
            let sizes = try ints(sizesInput, "sizes")
            guard sizes.count == axes.count else { throw OpError("sizes \(sizes) do not match axes \(axes)") }
            let policy = ctx.string("keep_aspect_ratio_policy", "stretch")
            if policy == "stretch" {
                for (k, a) in axes.enumerated() {
                    outShape[a] = sizes[k]
                    scales[a] = Double(sizes[k]) / Double(x0.shape[a])
                }
            } else {
                let ratios = axes.enumerated().map { Double(sizes[$0.offset]) / Double(x0.shape[$0.element]) }
                let s = policy == "not_larger" ? ratios.min()! : ratios.max()!
                for a in axes {
                    scales[a] = s
                    outShape[a] = Int((s * Double(x0.shape[a])).rounded(.toNearestOrEven))
                }
            }
        } else if let scalesInput {
            let s = scalesInput.doubleArray()
            guard s.count == axes.count else { throw OpError("scales \(s) do not match axes \(axes)") }
            for (k, a) in axes.enumerated() {
                guard s[k] > 0 else { throw OpError("scales must be positive, got \(s)") }
                scales[a] = s[k]
                outShape[a] = Int((Double(x0.shape[a]) * s[k]).rounded(.down))
            }
        } else {
            throw OpError("needs scales or sizes")
        }
        let mode = ctx.string("mode", "nearest")
        let coordinates = ctx.string("coordinate_transformation_mode", "half_pixel")
        let nearest = ctx.string("nearest_mode", "round_prefer_floor")
        let a = Double(ctx.float("cubic_coeff_a", -0.75))
        let excludeOutside = ctx.int("exclude_outside", 0) != 0
        let antialias = ctx.int("antialias", 0) != 0
        let extrapolation = ctx.float("extrapolation_value", 0)
        var roi = [Double](repeating: 0, count: 2 * rank)
        for i in 0..<rank { roi[rank + i] = 1 }
        if coordinates == "tf_crop_and_resize", let r = ctx.optionalInput(1), r.count > 0 {
            let v = r.doubleArray()
            guard v.count == 2 * axes.count else { throw OpError("roi has \(v.count) values for \(axes.count) axes") }
            for (k, ax) in axes.enumerated() {
                roi[ax] = v[k]
                roi[rank + ax] = v[axes.count + k]
            }
        }

        var x = x0.converted(to: .float32)
        // Axes at scale 1 map every position onto itself, except when cropping.
        for ax in Set(axes).sorted() where scales[ax] != 1 || outShape[ax] != x0.shape[ax] || coordinates == "tf_crop_and_resize" {
            let inLen = x0.shape[ax], outLen = outShape[ax], scale = scales[ax]
            var taps: [[Tap]?] = []  // nil: extrapolated position
            for o in 0..<outLen {
                let xo = Double(o)
                var xi: Double
                switch coordinates {
                case "half_pixel": xi = (xo + 0.5) / scale - 0.5
                case "half_pixel_symmetric":
                    let adjustment = Double(outLen) / (scale * Double(inLen))
                    let center = Double(inLen) / 2
                    xi = center * (1 - adjustment) + (xo + 0.5) / scale - 0.5
                case "pytorch_half_pixel": xi = outLen > 1 ? (xo + 0.5) / scale - 0.5 : 0
                // length_resized is the real-valued scale × input length, not the rounded size.
                case "align_corners":
                    let resized = Double(inLen) * scale
                    xi = outLen == 1 || resized == 1 ? 0 : xo * Double(inLen - 1) / (resized - 1)
                case "asymmetric": xi = xo / scale
                case "tf_crop_and_resize":
                    let s = roi[ax], e = roi[rank + ax]
                    let resized = Double(inLen) * scale
                    xi = outLen > 1 ? s * Double(inLen - 1) + xo * (e - s) * Double(inLen - 1) / (resized - 1)
                        : 0.5 * (s + e) * Double(inLen - 1)
                    if xi < 0 || xi > Double(inLen - 1) {
                        taps.append(nil)
                        continue
                    }
                default: throw OpError("unknown coordinate_transformation_mode '\(coordinates)'")
                }
                taps.append(try resizeTaps(xi, inLen: inLen, scale: scale, mode: mode, nearest: nearest, a: a,
                                           excludeOutside: excludeOutside, antialias: antialias))
            }
            x = applyTaps(x, axis: ax, taps: taps, extrapolation: extrapolation, threads: ctx.threads)
        }
        return x.converted(to: x0.type)
    }

    static func resizeTaps(_ xi: Double, inLen: Int, scale: Double, mode: String, nearest: String, a: Double,
                           excludeOutside: Bool, antialias: Bool) throws -> [Tap] {
        func clamp(_ i: Int) -> Int { min(max(i, 0), inLen - 1) }
        switch mode {
        case "nearest":
            var i: Int
            let f = xi.rounded(.down), frac = xi - f
            switch nearest {
            case "round_prefer_floor": i = Int(frac == 0.5 ? f : xi.rounded(.toNearestOrAwayFromZero))
            case "round_prefer_ceil": i = Int(frac == 0.5 ? f + 1 : xi.rounded(.toNearestOrAwayFromZero))
            case "floor": i = Int(f)
            case "ceil": i = Int(xi.rounded(.up))
            default: throw OpError("unknown nearest_mode '\(nearest)'")
            }
            return [Tap(index: clamp(i), weight: 1)]
        case "linear", "cubic":
            let x0 = Int(xi.rounded(.down)), ratio = xi - Double(x0)
            var offsets: [Int], weights: [Double]
            if antialias && scale < 1 {
                // Widened filter for downscaling (reference: _linear/_cubic_coeffs_antialias).
                let support: Double = mode == "linear" ? 1 : 2
                let start = Int((-support / scale).rounded(.down)) + 1
                offsets = Array(start..<(2 - start))
                weights = offsets.map { o in
                    let t = abs(scale * (Double(o) - ratio))
                    if mode == "linear" { return max(0, 1 - t) }
                    return t <= 1 ? (a + 2) * t * t * t - (a + 3) * t * t + 1 : t < 2 ? a * t * t * t - 5 * a * t * t + 8 * a * t - 4 * a : 0
                }
            } else if mode == "linear" {
                offsets = [0, 1]
                weights = [1 - ratio, ratio]
            } else {
                offsets = [-1, 0, 1, 2]
                let r = ratio
                weights = [((a * (r + 1) - 5 * a) * (r + 1) + 8 * a) * (r + 1) - 4 * a,
                           ((a + 2) * r - (a + 3)) * r * r + 1,
                           ((a + 2) * (1 - r) - (a + 3)) * (1 - r) * (1 - r) + 1,
                           ((a * (2 - r) - 5 * a) * (2 - r) + 8 * a) * (2 - r) - 4 * a]
            }
            if excludeOutside {
                for k in offsets.indices where x0 + offsets[k] < 0 || x0 + offsets[k] >= inLen { weights[k] = 0 }
            }
            let total = weights.reduce(0, +)
            if (excludeOutside || antialias), total != 0 { weights = weights.map { $0 / total } }
            return offsets.indices.map { Tap(index: clamp(x0 + offsets[$0]), weight: Float(weights[$0])) }
        default:
            throw OpError("unknown mode '\(mode)'")
        }
    }

    /// Resamples float32 `x` along `axis` with per-position taps.
    static func applyTaps(_ x: RTensor, axis ax: Int, taps: [[Tap]?], extrapolation: Float, threads: Int) -> RTensor {
        let (outer, n, inner) = split(x.shape, at: ax)
        var shape = x.shape
        shape[ax] = taps.count
        let out = RTensor(type: .float32, shape: shape)
        let src = x.pointer(Float.self), dst = out.pointer(Float.self)
        let m = taps.count
        Parallel.forEach(outer * m, threads: threads, minimumChunk: max(1, 8192 / max(inner, 1))) { r in
            for row in r {
                let o = row / m, j = row % m
                let d = dst + (o * m + j) * inner
                guard let t = taps[j] else {
                    for i in 0..<inner { d[i] = extrapolation }
                    continue
                }
                for i in 0..<inner { d[i] = 0 }
                for tap in t where tap.weight != 0 {
                    let s = src + (o * n + tap.index) * inner
                    for i in 0..<inner { d[i] += tap.weight * s[i] }
                }
            }
        }
        return out
    }
}
