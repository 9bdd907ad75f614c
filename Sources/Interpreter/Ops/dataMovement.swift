import IR

// Operators that move data without arithmetic (ONNX Operators.md: Transpose,
// Concat, Split, Slice, Gather, GatherElements, Tile, Pad, DepthToSpace,
// SpaceToDepth); Resize and Upsample are in DataMovement+Resize.swift.

extension Ops {
    static let dataMovement: [OpEntry] = [
        OpEntry("Transpose", shape: { ctx in
            guard let t = ctx.inputTypes.first ?? nil, let dims = t.shape else { return [nil] }
            let perm = ctx.ints("perm") ?? Array((0..<dims.count).reversed())
            guard perm.count == dims.count else { return [nil] }
            return [TensorType(t.elementType, perm.map { dims[$0] })]
        }) { ctx in
            let x = try ctx.input(0)
            let perm = ctx.ints("perm") ?? Array((0..<x.rank).reversed())
            return [try transpose(x, perm, threads: ctx.threads)]
        },
        OpEntry("Concat") { ctx in
            let xs = ctx.inputs.compactMap { $0 }
            guard let first = xs.first else { throw OpError("needs at least one input") }
            let ax = try axis(ctx.int("axis", 0), rank: first.rank)
            var shape = first.shape
            shape[ax] = 0
            for x in xs {
                guard x.rank == first.rank, x.type == first.type,
                      x.shape.indices.allSatisfy({ $0 == ax || x.shape[$0] == first.shape[$0] }) else {
                    throw OpError("inputs \(xs.map(\.typeDescription)) do not agree outside axis \(ax)")
                }
                shape[ax] += x.shape[ax]
            }
            var out = RTensor(type: first.type, shape: shape)
            let outer = shape[..<ax].reduce(1, *), inner = shape[(ax + 1)...].reduce(1, *)
            if first.strings != nil {
                var result: [String] = []
                for o in 0..<outer { for x in xs { let len = x.shape[ax] * inner; result += x.strings![(o * len)..<((o + 1) * len)] } }
                out.strings = result
                return [out]
            }
            let w = RTensor.stride(of: first.type)
            var offset = 0
            let rowOut = shape[ax] * inner * w
            for x in xs {
                let row = x.shape[ax] * inner * w
                for o in 0..<outer where row > 0 {
                    (out.buffer.pointer + o * rowOut + offset).copyMemory(from: x.buffer.pointer + o * row, byteCount: row)
                }
                offset += row
            }
            return [out]
        },
        OpEntry("Split", normalize: { node, context in
            // Before opset 13 the sizes were the `split` attribute.
            guard context.opset < 13, let split = node[attribute: "split"]?.intsValue else { return }
            NormalizeContext.setInput(&node, 1, context.constant(Tensor(int64s: split, shape: [split.count])))
            node[attribute: "split"] = nil
        }) { ctx in
            let x = try ctx.input(0)
            let ax = try axis(ctx.int("axis", 0), rank: x.rank)
            let n = x.shape[ax]
            var sizes: [Int]
            if let s = ctx.optionalInput(1) {
                sizes = try ints(s, "split")
            } else {
                let parts = ctx.node.attributes.contains { $0.name == "num_outputs" } ? ctx.int("num_outputs", 1) : ctx.node.outputs.count
                let chunk = (n + parts - 1) / max(parts, 1)
                sizes = (0..<parts).map { min(chunk, max(0, n - $0 * chunk)) }
            }
            guard sizes.reduce(0, +) == n else { throw OpError("split sizes \(sizes) do not add up to \(n)") }
            var start = 0
            return sizes.map { size in
                defer { start += size }
                return slice(x, axis: ax, start: start, count: size, threads: ctx.threads)
            }
        },
        OpEntry("Slice", normalize: { node, context in
            // Before opset 10, starts/ends/axes were attributes.
            guard context.opset < 10, let starts = node[attribute: "starts"]?.intsValue,
                  let ends = node[attribute: "ends"]?.intsValue else { return }
            NormalizeContext.setInput(&node, 1, context.constant(Tensor(int64s: starts, shape: [starts.count])))
            NormalizeContext.setInput(&node, 2, context.constant(Tensor(int64s: ends, shape: [ends.count])))
            if let axes = node[attribute: "axes"]?.intsValue {
                NormalizeContext.setInput(&node, 3, context.constant(Tensor(int64s: axes, shape: [axes.count])))
            }
            node.attributes.removeAll { ["starts", "ends", "axes"].contains($0.name) }
        }) { ctx in [try sliceKernel(ctx)] },
        OpEntry("Gather") { ctx in
            let x = try ctx.input(0), indices = try ctx.input(1)
            let ax = try axis(ctx.int("axis", 0), rank: x.rank)
            let idx = try ints(indices, "indices")
            let (outer, n, inner) = split(x.shape, at: ax)
            var sources: [Int] = []
            sources.reserveCapacity(outer * idx.count * inner)
            for o in 0..<outer {
                for i in idx {
                    let k = i < 0 ? i + n : i
                    guard k >= 0 && k < n else { throw OpError("index \(i) is out of range for axis of size \(n)") }
                    for j in 0..<inner { sources.append((o * n + k) * inner + j) }
                }
            }
            let shape = Array(x.shape[..<ax]) + indices.shape + Array(x.shape[(ax + 1)...])
            return [Strided.gather(x, outShape: shape, sources: sources)]
        },
        OpEntry("GatherElements") { ctx in
            let x = try ctx.input(0), indices = try ctx.input(1)
            let ax = try axis(ctx.int("axis", 0), rank: x.rank)
            let idx = try ints(indices, "indices")
            let xs = Strided.strides(x.shape), n = x.shape[ax]
            var sources = [Int](repeating: 0, count: idx.count)
            var coord = [Int](repeating: 0, count: indices.rank)
            for p in 0..<idx.count {
                var rem = p
                for d in stride(from: indices.rank - 1, through: 0, by: -1) { coord[d] = rem % indices.shape[d]; rem /= indices.shape[d] }
                let k = idx[p] < 0 ? idx[p] + n : idx[p]
                guard k >= 0 && k < n else { throw OpError("index \(idx[p]) is out of range for axis of size \(n)") }
                coord[ax] = k
                sources[p] = zip(coord, xs).reduce(0) { $0 + $1.0 * $1.1 }
            }
            return [Strided.gather(x, outShape: indices.shape, sources: sources)]
        },
        OpEntry("Tile") { ctx in
            let x = try ctx.input(0)
            let repeats = try ints(try ctx.input(1), "repeats")
            guard repeats.count == x.rank else { throw OpError("repeats \(repeats) do not match rank \(x.rank)") }
            guard repeats.allSatisfy({ $0 >= 0 }) else { throw OpError("repeats \(repeats) has a negative entry") }
            var shape: [Int] = []
            for (d, r) in zip(x.shape, repeats) {
                let (p, overflow) = d.multipliedReportingOverflow(by: r)
                guard !overflow else { throw OpError("tiling \(x.shape) by \(repeats) overflows") }
                shape.append(p)
            }
            try OutputSizeLimit.check(shape, x.type, "output shape")
            // The source index table is Int per element too.
            try OutputSizeLimit.check(shape, .int64, "output shape (index table)")
            let xs = Strided.strides(x.shape)
            let n = shape.reduce(1, *)
            var sources = [Int](repeating: 0, count: n)
            var coord = [Int](repeating: 0, count: shape.count)
            for p in 0..<n {
                var src = 0
                for d in 0..<shape.count { src += (coord[d] % x.shape[d]) * xs[d] }
                sources[p] = src
                var d = shape.count - 1
                while d >= 0 { coord[d] += 1; if coord[d] < shape[d] { break }; coord[d] = 0; d -= 1 }
            }
            return [Strided.gather(x, outShape: shape, sources: sources)]
        },
        OpEntry("Pad", normalize: { node, context in
            // Before opset 11, pads and value were attributes.
            guard context.opset < 11, let pads = node[attribute: "pads"]?.intsValue else { return }
            NormalizeContext.setInput(&node, 1, context.constant(Tensor(int64s: pads, shape: [pads.count])))
            if let v = node[attribute: "value"]?.floatValue {
                NormalizeContext.setInput(&node, 2, context.constant(Tensor(floats: [v], shape: [])))
            }
            node.attributes.removeAll { $0.name == "pads" || $0.name == "value" }
        }) { ctx in [try pad(ctx)] },
        OpEntry("DepthToSpace") { ctx in
            let x = try ctx.input(0)
            guard x.rank == 4 else { throw OpError("expects a 4-D input") }
            let b = ctx.int("blocksize", 1)
            let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
            guard b > 0, c % (b * b) == 0 else { throw OpError("channels \(c) are not divisible by blocksize² = \(b * b)") }
            // DCR: [N, b, b, C/b², H, W] → [N, C/b², H, b, W, b]; CRD: [N, C/b², b, b, H, W] → same.
            let dcr = ctx.string("mode", "DCR") == "DCR"
            let split = dcr ? x.reshaped([n, b, b, c / (b * b), h, w]) : x.reshaped([n, c / (b * b), b, b, h, w])
            let perm = dcr ? [0, 3, 4, 1, 5, 2] : [0, 1, 4, 2, 5, 3]
            return [try transpose(split, perm, threads: ctx.threads).reshaped([n, c / (b * b), h * b, w * b])]
        },
        OpEntry("SpaceToDepth") { ctx in
            let x = try ctx.input(0)
            guard x.rank == 4 else { throw OpError("expects a 4-D input") }
            let b = ctx.int("blocksize", 1)
            let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
            guard b > 0, h % b == 0, w % b == 0 else { throw OpError("H and W must be divisible by blocksize \(b)") }
            // DCR orders the new channels (row-in-block, column-in-block, c); CRD orders them (c, row, column).
            let perm = ctx.string("mode", "DCR") == "CRD" ? [0, 1, 3, 5, 2, 4] : [0, 3, 5, 1, 2, 4]
            let t = try transpose(x.reshaped([n, c, h / b, b, w / b, b]), perm, threads: ctx.threads)
            return [t.reshaped([n, c * b * b, h / b, w / b])]
        },
    ]

    static func transpose(_ x: RTensor, _ perm: [Int], threads: Int) throws -> RTensor {
        guard perm.count == x.rank, Set(perm) == Set(0..<x.rank) else {
            throw OpError("perm \(perm) is not a permutation of 0..<\(x.rank)")
        }
        if perm == Array(0..<x.rank) { return x }
        let s = Strided.strides(x.shape)
        return Strided.copy(x, outShape: perm.map { x.shape[$0] }, offset: 0, strides: perm.map { s[$0] }, threads: threads)
    }

    static func slice(_ x: RTensor, axis ax: Int, start: Int, count: Int, threads: Int) -> RTensor {
        var shape = x.shape
        shape[ax] = count
        let s = Strided.strides(x.shape)
        return Strided.copy(x, outShape: shape, offset: start * s[ax], strides: s, threads: threads)
    }

    /// Slice (opset 10+): clamping and negative steps per the spec.
    static func sliceKernel(_ ctx: KernelContext) throws -> RTensor {
        let x = try ctx.input(0)
        let starts = try ints(try ctx.input(1), "starts"), ends = try ints(try ctx.input(2), "ends")
        let axes = try ctx.optionalInput(3).map { try ints($0, "axes") } ?? Array(0..<starts.count)
        let steps = try ctx.optionalInput(4).map { try ints($0, "steps") } ?? [Int](repeating: 1, count: starts.count)
        guard starts.count == ends.count, axes.count == starts.count, steps.count == starts.count else {
            throw OpError("starts, ends, axes and steps differ in length")
        }
        var shape = x.shape
        let base = Strided.strides(x.shape)
        var strides = base
        var offset = 0
        for (k, a) in axes.enumerated() {
            let ax = try axis(a, rank: x.rank)
            let dim = x.shape[ax], step = steps[k]
            guard step != 0 else { throw OpError("step must not be 0") }
            var s = starts[k] < 0 ? starts[k] + dim : starts[k]
            var e = ends[k] < 0 ? ends[k] + dim : ends[k]
            if step > 0 {
                s = min(max(s, 0), dim)
                e = min(max(e, 0), dim)
                shape[ax] = max(0, (e - s + step - 1) / step)
            } else {
                s = min(max(s, -1), dim - 1)
                e = min(max(e, -1), dim - 1)
                shape[ax] = max(0, (s - e + (-step) - 1) / (-step))
            }
            if shape[ax] > 0 { offset += s * base[ax] }
            strides[ax] = base[ax] * step
        }
        return Strided.copy(x, outShape: shape, offset: offset, strides: strides, threads: ctx.threads)
    }

    /// Pad (opset 11+): constant, reflect, edge and wrap modes; optional `axes` (opset 18).
    static func pad(_ ctx: KernelContext) throws -> RTensor {
        let x = try ctx.input(0)
        let raw = try ints(try ctx.input(1), "pads")
        let axes = try ctx.optionalInput(3).map { try ints($0, "axes").map { try axis($0, rank: x.rank) } } ?? Array(0..<x.rank)
        guard raw.count == 2 * axes.count else { throw OpError("pads has \(raw.count) values for \(axes.count) axes") }
        var before = [Int](repeating: 0, count: x.rank), after = before
        for (k, a) in axes.enumerated() {
            before[a] = raw[k]
            after[a] = raw[k + axes.count]
        }
        let shape = x.shape.indices.map { x.shape[$0] + before[$0] + after[$0] }
        guard shape.allSatisfy({ $0 >= 0 }) else { throw OpError("pads \(raw) remove more than the input has") }
        let mode = ctx.string("mode", "constant")
        let xs = Strided.strides(x.shape)
        let n = shape.reduce(1, *)
        // Source index per output element, or -1 for the constant value.
        var sources = [Int](repeating: 0, count: n)
        var coord = [Int](repeating: 0, count: shape.count)
        for p in 0..<n {
            var src = 0
            for d in 0..<shape.count {
                var i = coord[d] - before[d]
                let len = x.shape[d]
                if i < 0 || i >= len {
                    switch mode {
                    case "constant": src = -1
                    case "edge": i = min(max(i, 0), len - 1)
                    case "reflect":
                        if len == 1 { i = 0 } else {
                            let period = 2 * (len - 1)
                            i = ((i % period) + period) % period
                            if i >= len { i = period - i }
                        }
                    case "wrap": i = ((i % len) + len) % len
                    default: throw OpError("unknown mode '\(mode)'")
                    }
                    if src < 0 { break }
                }
                src += i * xs[d]
            }
            sources[p] = src
            var d = shape.count - 1
            while d >= 0 { coord[d] += 1; if coord[d] < shape[d] { break }; coord[d] = 0; d -= 1 }
        }
        let value = ctx.optionalInput(2)
        if x.count == 0 || mode == "constant" {
            // Gather from the input with one extra slot holding the pad value.
            var padded = RTensor(type: x.type, shape: [x.count + 1])
            let w = RTensor.stride(of: x.type)
            padded.buffer.pointer.copyMemory(from: x.buffer.pointer, byteCount: x.count * w)
            let fill = (value.map { $0.converted(to: x.type) } ?? RTensor(floats: [0], shape: []).converted(to: x.type))
            if x.strings != nil { padded.strings = x.strings! + [fill.strings?.first ?? ""] }
            else { (padded.buffer.pointer + x.count * w).copyMemory(from: fill.buffer.pointer, byteCount: w) }
            return Strided.gather(padded, outShape: shape, sources: sources.map { $0 < 0 ? x.count : $0 })
        }
        return Strided.gather(x, outShape: shape, sources: sources)
    }
}
