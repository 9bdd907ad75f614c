import IR

// Operators that change only shapes, or make tensors from shapes
// (ONNX Operators.md: Reshape, Flatten, Squeeze, Unsqueeze, Shape, Size,
// ConstantOfShape, Constant, Range, Expand).

extension Ops {
    static let shapeOps: [OpEntry] = [
        OpEntry("Reshape", normalize: { node, context in
            // Opset 1–4 took the target shape as an attribute.
            guard context.opset < 5, let shape = node[attribute: "shape"]?.intsValue else { return }
            NormalizeContext.setInput(&node, 1, context.constant(Tensor(int64s: shape, shape: [shape.count])))
            node[attribute: "shape"] = nil
        }, shape: { ctx in
            guard let t = ctx.inputTypes.first ?? nil, ctx.constants.count > 1, let s = ctx.constants[1]?.int64Array() else {
                return [nil]
            }
            if let dims = t.fixedShape, let out = try? reshape(dims, s.map { Int($0) }, allowZero: ctx.int("allowzero", 0) != 0) {
                return [TensorType(t.elementType, fixed: out)]
            }
            // Symbolic input: keep copied (0) dims by name, -1 unknown.
            let dims: [Dim] = s.enumerated().map { i, v in
                if v == 0, let shape = t.shape, i < shape.count { return shape[i] }
                return v < 0 ? .unknown : .fixed(Int(v))
            }
            return [TensorType(t.elementType, dims)]
        }) { ctx in
            let x = try ctx.input(0)
            let target = try ints(try ctx.input(1), "shape")
            return [x.reshaped(try reshape(x.shape, target, allowZero: ctx.int("allowzero", 0) != 0))]
        },
        OpEntry("Flatten", shape: { ctx in
            guard let t = ctx.inputTypes.first ?? nil, let dims = t.fixedShape else { return [nil] }
            let a = ctx.int("axis", 1) < 0 ? ctx.int("axis", 1) + dims.count : ctx.int("axis", 1)
            return [TensorType(t.elementType, fixed: [dims[..<a].reduce(1, *), dims[a...].reduce(1, *)])]
        }) { ctx in
            let x = try ctx.input(0)
            var a = ctx.int("axis", 1)
            if a < 0 { a += x.rank }
            guard a >= 0 && a <= x.rank else { throw OpError("axis \(ctx.int("axis", 1)) is out of range for rank \(x.rank)") }
            return [x.reshaped([x.shape[..<a].reduce(1, *), x.shape[a...].reduce(1, *)])]
        },
        OpEntry("Squeeze", normalize: axesToInput(since: 13)) { ctx in
            let x = try ctx.input(0)
            let axes = try ctx.optionalInput(1).map { try ints($0, "axes") }.map { try $0.map { try axis($0, rank: x.rank) } }
            var shape: [Int] = []
            for (i, d) in x.shape.enumerated() {
                if let axes {
                    if axes.contains(i) {
                        guard d == 1 else { throw OpError("cannot squeeze axis \(i) of size \(d)") }
                        continue
                    }
                } else if d == 1 { continue }
                shape.append(d)
            }
            return [x.reshaped(shape)]
        },
        OpEntry("Unsqueeze", normalize: axesToInput(since: 13)) { ctx in
            let x = try ctx.input(0)
            let axes = try ints(try ctx.input(1), "axes")
            let rank = x.rank + axes.count
            let set = Set(try axes.map { try axis($0, rank: rank) })
            guard set.count == axes.count else { throw OpError("axes \(axes) repeat an axis") }
            var shape: [Int] = []
            var it = x.shape.makeIterator()
            for i in 0..<rank { shape.append(set.contains(i) ? 1 : it.next()!) }
            return [x.reshaped(shape)]
        },
        OpEntry("Shape", shape: { ctx in [TensorType(.int64, [.unknown])] }) { ctx in
            let x = try ctx.input(0)
            let r = x.rank
            func clamp(_ v: Int) -> Int { min(max(v < 0 ? v + r : v, 0), r) }
            let start = clamp(ctx.int("start", 0)), end = clamp(ctx.int("end", r))
            let dims = start < end ? x.shape[start..<end].map { Int64($0) } : []
            return [RTensor(.int64, shape: [dims.count], values: dims)]
        },
        OpEntry("Size") { ctx in [RTensor(.int64, shape: [], values: [Int64(try ctx.input(0).count)])] },
        OpEntry("ConstantOfShape") { ctx in
            let shape = try ints(try ctx.input(0), "shape")
            let value = ctx.attribute("value")?.tensorValue.map { RTensor($0) } ?? RTensor(floats: [0], shape: [1])
            try OutputSizeLimit.check(shape, value.type, "output shape")
            var out = RTensor(type: value.type, shape: shape)
            let w = RTensor.stride(of: value.type)
            switch w {
            case 4: out.pointer(UInt32.self).initialize(repeating: value.pointer(UInt32.self)[0], count: out.count)
            case 8: out.pointer(UInt64.self).initialize(repeating: value.pointer(UInt64.self)[0], count: out.count)
            default: for i in 0..<out.count { (out.buffer.pointer + i * w).copyMemory(from: value.buffer.pointer, byteCount: w) }
            }
            if let s = value.strings { out.strings = [String](repeating: s[0], count: out.count) }
            return [out]
        },
        OpEntry("Constant") { ctx in
            guard let a = ctx.node.attributes.first else { throw OpError("Constant has no value attribute") }
            switch (a.name, a.value) {
            case ("value", .tensor(let t)): return [RTensor(t)]
            case ("value_float", .float(let f)): return [RTensor(floats: [f], shape: [])]
            case ("value_floats", .floats(let fs)): return [RTensor(floats: fs, shape: [fs.count])]
            case ("value_int", .int(let i)): return [RTensor(.int64, shape: [], values: [i])]
            case ("value_ints", .ints(let xs)): return [RTensor(.int64, shape: [xs.count], values: xs)]
            case ("value_string", .string(let s)): return [RTensor(strings: [s], shape: [])]
            case ("value_strings", .strings(let ss)): return [RTensor(strings: ss, shape: [ss.count])]
            default: throw OpError("Constant attribute '\(a.name)' is not supported (sparse constants are not)")
            }
        },
        OpEntry("Range") { ctx in
            let start = try ctx.input(0), limit = try ctx.input(1), delta = try ctx.input(2)
            let s = try scalar(start, "start"), l = try scalar(limit, "limit"), d = try scalar(delta, "delta")
            guard d != 0 else { throw OpError("delta must not be 0") }
            let count = ((l - s) / d).rounded(.up)
            guard count.isFinite, count < Double(Int.max / 8) else { throw OpError("Range from \(s) to \(l) by \(d) has \(count) elements") }
            let n = max(Int(count), 0)
            try OutputSizeLimit.check([n], .float64, "output shape")
            let values = (0..<n).map { s + Double($0) * d }
            return [RTensor(.float64, shape: [n], values: values).converted(to: start.type)]
        },
        OpEntry("Expand", shape: ShapeRules.broadcast()) { ctx in
            let x = try ctx.input(0)
            let target = try ints(try ctx.input(1), "shape")
            guard let shape = Broadcast.shape([x.shape, target]) else {
                throw OpError("input shape \(x.shape) does not broadcast to \(target)")
            }
            try OutputSizeLimit.check(shape, x.type, "output shape")
            return [Strided.copy(x, outShape: shape, offset: 0, strides: Broadcast.strides(of: x.shape, in: shape), threads: ctx.threads)]
        },
    ]

    /// Integer values of a shape-like input.
    static func ints(_ t: RTensor, _ what: String) throws -> [Int] {
        guard let v = t.int64Array() else { throw OpError("\(what) must be integers, got \(t.type.onnxName)") }
        return v.map { Int($0) }
    }

    /// Reshape's target: 0 copies the input dim (unless allowzero), -1 is inferred.
    static func reshape(_ input: [Int], _ target: [Int], allowZero: Bool) throws -> [Int] {
        var out = target
        for (i, d) in target.enumerated() where d == 0 && !allowZero {
            guard i < input.count else { throw OpError("shape \(target) copies dim \(i), but the input has rank \(input.count)") }
            out[i] = input[i]
        }
        let total = input.reduce(1, *)
        let inferred = out.indices.filter { out[$0] == -1 }
        guard inferred.count <= 1, out.allSatisfy({ $0 >= -1 }) else { throw OpError("invalid target shape \(target)") }
        if let i = inferred.first {
            let known = out.enumerated().filter { $0.offset != i }.map(\.element).reduce(1, *)
            guard known > 0, total % known == 0 else { throw OpError("cannot reshape \(input) to \(target)") }
            out[i] = total / known
        }
        guard out.reduce(1, *) == total else { throw OpError("cannot reshape \(input) (\(total) elements) to \(target)") }
        return out
    }

    /// Squeeze/Unsqueeze/Reduce-style `axes` attribute that became an input.
    static func axesToInput(since version: Int64) -> OpEntry.Normalizer {
        { node, context in
            guard context.opset < version, let axes = node[attribute: "axes"]?.intsValue else { return }
            NormalizeContext.setInput(&node, 1, context.constant(Tensor(int64s: axes, shape: [axes.count])))
            node[attribute: "axes"] = nil
        }
    }
}
