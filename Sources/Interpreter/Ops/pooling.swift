import Foundation
import IR

// Pooling (ONNX Operators.md: MaxPool, AveragePool, LpPool, GlobalAveragePool,
// GlobalMaxPool, GlobalLpPool; reference: onnx/reference/ops/op_pool_common.py,
// op_max_pool.py).
//
// Windows follow WindowGeometry (kernel_shape, strides, dilations, pads,
// auto_pad, ceil_mode). 1-D and 2-D pools run as 3-D ones with leading axes
// of size 1; like ONNX Runtime, more than 3 spatial axes are not supported.
// Planes (image, channel) are split across threads.

extension Ops {
    static let pooling: [OpEntry] = [
        // MaxPool 8 added storage_order and Indices, 10 ceil_mode, 11 dilations
        // semantics, 12 int8/uint8; all are attributes with old defaults.
        OpEntry("MaxPool") { ctx in try maxPool(ctx) },
        // AveragePool 7 added count_include_pad, 10 ceil_mode, 19 dilations.
        OpEntry("AveragePool") { ctx in
            [try windowPool(ctx, op: "AveragePool", kind: .average(includePad: ctx.int("count_include_pad", 0) != 0))]
        },
        // LpPool 2 made p an int (default 2), 18 added ceil_mode and dilations.
        OpEntry("LpPool") { ctx in [try windowPool(ctx, op: "LpPool", kind: .lp(ctx.int("p", 2)))] },
        OpEntry("GlobalAveragePool") { ctx in [try globalPool(try ctx.input(0), op: "GlobalAveragePool", kind: .average(includePad: true), threads: ctx.threads)] },
        OpEntry("GlobalMaxPool") { ctx in [try globalPool(try ctx.input(0), op: "GlobalMaxPool", kind: .max, threads: ctx.threads)] },
        OpEntry("GlobalLpPool") { ctx in [try globalPool(try ctx.input(0), op: "GlobalLpPool", kind: .lp(ctx.int("p", 2)), threads: ctx.threads)] },
    ]

    enum PoolKind {
        case max
        case average(includePad: Bool)
        case lp(Int)
    }

    /// A pooling window geometry embedded in three spatial axes.
    struct Pool3D {
        var input: [Int], kernel: [Int], strides: [Int], dilations: [Int], padBegin: [Int], padEnd: [Int], output: [Int]

        init(_ g: WindowGeometry) {
            let lead = 3 - g.rank
            func pad(_ v: [Int], _ fill: Int) -> [Int] { [Int](repeating: fill, count: lead) + v }
            input = pad(g.input, 1)
            kernel = pad(g.kernel, 1)
            strides = pad(g.strides, 1)
            dilations = pad(g.dilations, 1)
            padBegin = pad(g.padBegin, 0)
            padEnd = pad(g.padEnd, 0)
            output = pad(g.output, 1)
        }

        /// For each output coordinate along axis d: taps [lo, hi) inside the
        /// input, and the number of taps inside the padded input.
        func taps(_ d: Int) -> [(lo: Int, hi: Int, padded: Int)] {
            (0..<output[d]).map { o in
                let start = o * strides[d] - padBegin[d], dil = dilations[d], k = kernel[d]
                let lo = start >= 0 ? 0 : min(k, (-start + dil - 1) / dil)
                let lastIn = input[d] - 1 - start
                let hi = lastIn >= 0 ? min(k, lastIn / dil + 1) : 0
                let lastPadded = input[d] + padEnd[d] - 1 - start
                let padded = lastPadded >= 0 ? min(k, lastPadded / dil + 1) : 0
                return (lo, max(lo, hi), padded)
            }
        }
    }

    static func poolInput(_ ctx: KernelContext, op: String) throws -> RTensor {
        let x = try ctx.input(0)
        guard x.rank >= 3 else { throw OpError("\(op) needs an input of rank 3 or more, got \(x.typeDescription)") }
        guard x.rank <= 5 else { throw OpError("\(op) supports 1 to 3 spatial axes, got \(x.typeDescription)") }
        return x
    }

    // MARK: - MaxPool

    static func maxPool(_ ctx: KernelContext) throws -> [RTensor] {
        let x0 = try poolInput(ctx, op: "MaxPool")
        let x = x0.widened()
        let g = try WindowGeometry.make(ctx, op: "MaxPool", input: Array(x.shape[2...]), kernel: nil,
                                        ceilMode: ctx.int("ceil_mode", 0) != 0)
        let wantIndices = ctx.node.outputs.count > 1 && !ctx.node.outputs[1].isEmpty
        let shape = Array(x.shape[..<2]) + g.output
        let out = RTensor(type: x.type, shape: shape)
        let indices = wantIndices ? RTensor(type: .int64, shape: shape) : nil
        let planes = x.shape[0] * x.shape[1]
        if indices == nil, let flat = FlatWindow(g) {
            func run<T: PoolScalar>(_: T.Type) {
                flat.run(MaxReduction<T>(), planes: planes, x: x.pointer(T.self), y: out.pointer(T.self), threads: ctx.threads)
            }
            switch x.type {
            case .float32: run(Float.self)
            case .float64: run(Double.self)
            case .int8: run(Int8.self)
            case .uint8: run(UInt8.self)
            default: throw OpError("MaxPool does not support \(x0.type.onnxName)")
            }
            return [out.converted(to: x0.type)]
        }
        let job = MaxPoolJob(x: x, out: out, indices: indices, p: Pool3D(g), planes: planes,
                             columnMajor: ctx.int("storage_order", 0) != 0, threads: ctx.threads)
        switch x.type {
        case .float32: job.run(Float.self)
        case .float64: job.run(Double.self)
        case .int8: job.run(Int8.self)
        case .uint8: job.run(UInt8.self)
        default: throw OpError("MaxPool does not support \(x0.type.onnxName)")
        }
        return [out.converted(to: x0.type)] + (indices.map { [$0] } ?? [])
    }

    struct MaxPoolJob {
        let x: RTensor, out: RTensor, indices: RTensor?
        let p: Pool3D
        let planes: Int
        let columnMajor: Bool
        let threads: Int

        func run<T: PoolScalar>(_: T.Type) {
            let (id, ih, iw) = (p.input[0], p.input[1], p.input[2])
            let (od, oh, ow) = (p.output[0], p.output[1], p.output[2])
            let tapsD = p.taps(0), tapsH = p.taps(1), tapsW = p.taps(2)
            let (sd, sh, sw) = (p.strides[0], p.strides[1], p.strides[2])
            let (dd, dh, dw) = (p.dilations[0], p.dilations[1], p.dilations[2])
            let (pd, ph, pw) = (p.padBegin[0], p.padBegin[1], p.padBegin[2])
            let inSize = id * ih * iw, outSize = od * oh * ow
            // Flattened index strides of the Indices output (row- or column-major spatial order).
            let (xd, xh, xw) = columnMajor ? (1, id, id * ih) : (ih * iw, iw, 1)
            let src = UnsafePointer(x.pointer(T.self)), dst = out.pointer(T.self)
            let idx = indices?.pointer(Int64.self)
            Parallel.forEach(planes, threads: threads, minimumChunk: max(1, 8192 / max(outSize * p.kernel.reduce(1, *), 1))) { range in
                for plane in range {
                    let xp = src + plane * inSize
                    var o = plane * outSize
                    for a in 0..<od {
                        let td = tapsD[a], zd = a * sd - pd
                        for b in 0..<oh {
                            let th = tapsH[b], zh = b * sh - ph
                            for c in 0..<ow {
                                let tw = tapsW[c], zw = c * sw - pw
                                // Like ONNX Runtime: start from the lowest value and keep
                                // every strictly larger one, so a NaN never wins; the
                                // index defaults to the first tap inside the input.
                                var best = T.lowest
                                var at = -1
                                for u in td.lo..<td.hi {
                                    let z = zd + u * dd
                                    for v in th.lo..<th.hi {
                                        let y = zh + v * dh
                                        let row = xp + (z * ih + y) * iw
                                        for t in tw.lo..<tw.hi {
                                            let xx = zw + t * dw
                                            let val = row[xx]
                                            if at < 0 { at = z * xd + y * xh + xx * xw }
                                            if val > best {
                                                best = val
                                                at = z * xd + y * xh + xx * xw
                                            }
                                        }
                                    }
                                }
                                dst[o] = best
                                if let idx { idx[o] = at < 0 ? -1 : Int64(plane * inSize + at) }
                                o += 1
                            }
                        }
                    }
                }
            }
        }
    }

    // MARK: - AveragePool and LpPool

    static func windowPool(_ ctx: KernelContext, op: String, kind: PoolKind) throws -> RTensor {
        let x0 = try poolInput(ctx, op: op)
        let x = x0.widened()
        let g = try WindowGeometry.make(ctx, op: op, input: Array(x.shape[2...]), kernel: nil,
                                        ceilMode: ctx.int("ceil_mode", 0) != 0)
        let out = RTensor(type: x.type, shape: Array(x.shape[..<2]) + g.output)
        let p3 = Pool3D(g)
        let planes = x.shape[0] * x.shape[1]
        if let flat = FlatWindow(g) {
            var power = 0, includePad = false
            switch kind {
            case .average(let inc): includePad = inc
            case .lp(let pv): power = pv
            case .max: break
            }
            // Divisors of average pooling per output row and column.
            func counts(_ d: Int) -> [Int] { p3.taps(d).map { includePad ? $0.padded : $0.hi - $0.lo } }
            let rowCounts = counts(1), colCounts = counts(2)
            func run<T: BinaryFloatingPoint & PoolScalar>(_: T.Type) {
                flat.run(SumReduction<T>(p: power, rowCounts: rowCounts, colCounts: colCounts.map { T($0) }), planes: planes,
                         x: x.pointer(T.self), y: out.pointer(T.self), threads: ctx.threads)
            }
            switch x.type {
            case .float32: run(Float.self)
            case .float64: run(Double.self)
            default: throw OpError("\(op) does not support \(x0.type.onnxName)")
            }
            return out.converted(to: x0.type)
        }
        let job = FloatPoolJob(x: x, out: out, p: p3, planes: planes, kind: kind, threads: ctx.threads)
        switch x.type {
        case .float32: job.run(Float.self)
        case .float64: job.run(Double.self)
        default: throw OpError("\(op) does not support \(x0.type.onnxName)")
        }
        return out.converted(to: x0.type)
    }

    struct FloatPoolJob {
        let x: RTensor, out: RTensor
        let p: Pool3D
        let planes: Int
        let kind: PoolKind
        let threads: Int

        func run<T: BinaryFloatingPoint & PoolScalar>(_: T.Type) {
            let (id, ih, iw) = (p.input[0], p.input[1], p.input[2])
            let (od, oh, ow) = (p.output[0], p.output[1], p.output[2])
            let tapsD = p.taps(0), tapsH = p.taps(1), tapsW = p.taps(2)
            let (sd, sh, sw) = (p.strides[0], p.strides[1], p.strides[2])
            let (dd, dh, dw) = (p.dilations[0], p.dilations[1], p.dilations[2])
            let (pd, ph, pw) = (p.padBegin[0], p.padBegin[1], p.padBegin[2])
            let inSize = id * ih * iw, outSize = od * oh * ow
            let src = UnsafePointer(x.pointer(T.self)), dst = out.pointer(T.self)
            var includePad = false, power = 0
            switch kind {
            case .average(let inc): includePad = inc
            case .lp(let pv): power = pv
            case .max: break
            }
            Parallel.forEach(planes, threads: threads, minimumChunk: max(1, 8192 / max(outSize * p.kernel.reduce(1, *), 1))) { range in
                for plane in range {
                    let xp = src + plane * inSize
                    var o = plane * outSize
                    for a in 0..<od {
                        let td = tapsD[a], zd = a * sd - pd
                        for b in 0..<oh {
                            let th = tapsH[b], zh = b * sh - ph
                            for c in 0..<ow {
                                let tw = tapsW[c], zw = c * sw - pw
                                var sum: T = 0
                                for u in td.lo..<td.hi {
                                    let z = zd + u * dd
                                    for v in th.lo..<th.hi {
                                        let row = xp + (z * ih + zh + v * dh) * iw + zw
                                        if power == 0 {
                                            for t in tw.lo..<tw.hi { sum += row[t * dw] }
                                        } else if power == 2 {
                                            for t in tw.lo..<tw.hi { sum += row[t * dw] * row[t * dw] }
                                        } else {
                                            for t in tw.lo..<tw.hi { sum += T.power(abs(row[t * dw]), power) }
                                        }
                                    }
                                }
                                if power == 0 {
                                    // count_include_pad counts padding taps but not the
                                    // ceil_mode overhang past the end padding (as PyTorch and ONNX Runtime do).
                                    let count = includePad
                                        ? td.padded * th.padded * tw.padded
                                        : (td.hi - td.lo) * (th.hi - th.lo) * (tw.hi - tw.lo)
                                    dst[o] = sum / T(count)
                                } else {
                                    dst[o] = power == 2 ? sum.squareRoot() : T.power(sum, 1 / Double(power))
                                }
                                o += 1
                            }
                        }
                    }
                }
            }
        }
    }

    // MARK: - Global pools

    static func globalPool(_ x0: RTensor, op: String, kind: PoolKind, threads: Int) throws -> RTensor {
        guard x0.rank >= 2 else { throw OpError("\(op) needs an input of rank 2 or more, got \(x0.typeDescription)") }
        let x = x0.widened()
        let planes = x.shape[0] * x.shape[1]
        let size = x.shape[2...].reduce(1, *)
        let out = RTensor(type: x.type, shape: Array(x.shape[..<2]) + [Int](repeating: 1, count: x.rank - 2))
        let job = GlobalPoolJob(x: x, out: out, planes: planes, size: size, kind: kind, threads: threads)
        switch x.type {
        case .float32: job.run(Float.self)
        case .float64: job.run(Double.self)
        default: throw OpError("\(op) does not support \(x0.type.onnxName)")
        }
        return out.converted(to: x0.type)
    }

    struct GlobalPoolJob {
        let x: RTensor, out: RTensor
        let planes: Int, size: Int
        let kind: PoolKind
        let threads: Int

        func run<T: BinaryFloatingPoint & PoolScalar>(_: T.Type) {
            let src = UnsafePointer(x.pointer(T.self)), dst = out.pointer(T.self)
            Parallel.forEach(planes, threads: threads, minimumChunk: max(1, 16384 / max(size, 1))) { range in
                for plane in range {
                    let xp = src + plane * size
                    switch kind {
                    case .max:
                        var best = T.lowest
                        for i in 0..<size where xp[i] > best { best = xp[i] }
                        dst[plane] = best
                    case .average:
                        var sum: T = 0
                        for i in 0..<size { sum += xp[i] }
                        dst[plane] = sum / T(size)
                    case .lp(let p):
                        var sum: T = 0
                        if p == 2 {
                            for i in 0..<size { sum += xp[i] * xp[i] }
                            dst[plane] = sum.squareRoot()
                        } else {
                            for i in 0..<size { sum += T.power(abs(xp[i]), p) }
                            dst[plane] = T.power(sum, 1 / Double(p))
                        }
                    }
                }
            }
        }
    }
}

/// Element types pooling computes with.
protocol PoolScalar: KernelScalar {
    /// The value every maximum starts from.
    static var lowest: Self { get }
}

extension PoolScalar where Self: BinaryFloatingPoint {
    static var lowest: Self { -.infinity }
    /// x^p for Lp pooling.
    static func power(_ x: Self, _ p: Int) -> Self { Self(Foundation.pow(Double(x), Double(p))) }
    static func power(_ x: Self, _ p: Double) -> Self { Self(Foundation.pow(Double(x), p)) }
}

extension Float: PoolScalar {}
extension Double: PoolScalar {}
extension Int8: PoolScalar { static var lowest: Int8 { .min } }
extension UInt8: PoolScalar { static var lowest: UInt8 { .min } }
