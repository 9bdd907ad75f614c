import Artifact
import IR
import Interpreter

/// Turns the lowered graph into kernel launches: one anchor node (a
/// convolution, matrix product, pooling, … or an elementwise node) per
/// launch, followed by the elementwise nodes fused into its epilogue.
struct Lowering {
    var g: LoweredGraph
    var weights = WeightStore()
    var launches: [KernelLaunch] = []
    /// Value → the arena value holding its bytes (Reshape and friends are aliases).
    var root: [String: String] = [:]
    /// Fake-quantization parameters a value is known to carry (for idempotent Q→DQ pairs).
    var quantized: [String: FakeQuant] = [:]
    /// Arena values already written by an emitted launch (or fed as graph inputs).
    var available: Set<String> = []
    /// Values written in place into a slice of a Concat's output: value → (output, byte offset).
    var views: [String: (container: String, byteOffset: Int)] = [:]
    var done: [Bool]

    static let aliasOps: Set<String> = ["Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Dropout"]
    /// Ops that keep their input's quantization grid.
    static let gridPreserving: Set<String> = ["MaxPool", "GlobalMaxPool", "Transpose", "Slice", "Split", "Resize"]
    static let unary: [String: String] = [
        "Relu": "qc_relu", "Sigmoid": "qc_sigmoid", "Tanh": "qc_tanh", "Erf": "qc_erf", "HardSwish": "qc_hardswish",
        "Exp": "qc_exp", "Sqrt": "qc_sqrt", "Abs": "qc_abs", "Gelu": "qc_gelu",
    ]
    static let binary: [String: String] = ["Add": "+", "Sub": "-", "Mul": "*", "Div": "/", "Max": "qc_max", "Min": "qc_min", "Sum": "+"]

    init(_ g: LoweredGraph) {
        self.g = g
        done = [Bool](repeating: false, count: g.nodes.count)
        for v in g.graph.runtimeInputs { root[v.name] = v.name; available.insert(v.name) }
    }

    func rootOf(_ v: String) -> String { root[v] ?? v }

    mutating func run() throws(CodegenError) {
        for i in g.nodes.indices where !done[i] {
            done[i] = true
            try lower(i)
        }
    }

    // MARK: - Anchors

    mutating func lower(_ i: Int) throws(CodegenError) {
        let n = g.nodes[i]
        let out = n.outputs.first ?? ""
        if Self.aliasOps.contains(n.op), n.node.isDefaultDomain, !g.isConstant(n.inputs[0]) {
            alias(out, of: n.inputs[0])
            return
        }
        if n.op == "FakeQuant", let fq = n.fakeQuant, quantized[n.inputs[0]] == fq, !g.isConstant(n.inputs[0]) {
            alias(out, of: n.inputs[0])   // the value is on this grid already: Q→DQ is the identity
            return
        }
        // The templates compute in float32; anything else (shape arithmetic left
        // unfolded, integer tensors) runs on the host.
        let values = n.inputs.filter { !$0.isEmpty && !g.isConstant($0) } + n.outputs.filter { !$0.isEmpty }
        if let v = values.first(where: { g.elementTypes[$0] != .float32 }) {
            try hostLaunch(n, reason: "'\(v)' is \(g.elementTypes[v].map(planTypeName) ?? "of unknown type"), the kernels compute in float32")
            return
        }
        var launch: KernelLaunch?
        do {
            launch = try anchor(n)
        } catch {
            // A form the templates do not cover runs on the host, with the reason.
            guard case .unsupported(_, _, let detail) = error else { throw error }
            try hostLaunch(n, reason: detail)
            return
        }
        guard var l = launch else {
            try hostLaunch(n, reason: "no kernel template for \(n.op)\(n.node.isDefaultDomain ? "" : " (domain \(n.node.domain))")")
            return
        }
        if n.op == "Concat" || n.op == "Split" { return }   // emitted their own copies
        if n.outputs.filter({ !$0.isEmpty }).count == 1 {
            fuseEpilogue(into: &l, anchor: i)
        }
        if [.conv, .depthwise, .gemv, .gemm].contains(l.template) {
            integerMode(&l, n)
        }
        quantizedBinaries(&l.epilogue, outShape: l.outputShape)
        if l.output == out, let fq = n.fakeQuant { quantized[out] = fq }
        emit(l)
        if Self.gridPreserving.contains(n.op) || (n.op == "Resize" && l.defines.contains { $0 == ("LINEAR", "0") }) {
            if let q = quantized[n.inputs[0]], l.epilogue.isEmpty { quantized[l.output] = q }
        }
    }

    mutating func alias(_ value: String, of source: String) {
        root[value] = rootOf(source)
        if let q = quantized[source] { quantized[value] = q }
    }

    mutating func emit(_ l: KernelLaunch) {
        launches.append(l)
        available.insert(l.output)
        root[l.output] = l.output
    }

    mutating func hostLaunch(_ n: LNode, reason: String) throws(CodegenError) {
        for o in n.outputs where !o.isEmpty {
            _ = try g.shape(o, node: n.name)
            root[o] = o
            available.insert(o)
        }
        // The host reads constants from model.onnx's initializers; one that shape
        // inference folded (ConstantOfShape, …) is not there, so it is copied from
        // weights.bin into the arena by a launch of its own first.
        var reads: [String] = []
        for v in n.inputs where !v.isEmpty {
            if g.graph.initializers[v] != nil { continue }
            if let c = g.constant(v), !available.contains(rootOf(v)) {
                guard c.type == .float32 else {
                    throw .unsupported(node: n.name, opType: n.op, detail: "host input '\(v)' is a folded \(planTypeName(c.type)) constant")
                }
                weights.addFloats("\(v).const", c.floatArray(), shape: c.shape)
                let count = c.count
                let cfg = KernelConfig.defaults(.stridedCopy)
                var defines: [(String, String)] = [("COUNT", "\(count)")]
                for k in 0..<6 { defines.append(("D\(k)", k == 5 ? "\(count)" : "1")) }
                for k in 0..<6 { defines.append(("SS\(k)", k == 5 ? "1" : "0")) }
                defines.append(("SRC_BASE", "0"))
                for k in 0..<6 { defines.append(("DS\(k)", k == 5 ? "1" : "0")) }
                defines.append(("DST_BASE", "0"))
                emit(KernelLaunch(nodes: [], template: .stridedCopy, config: cfg, defines: defines, output: v, outputShape: c.shape,
                                  args: [.blob("\(v).const")], global: [roundUp(max(count, 1), cfg["WG"])], local: [cfg["WG"]],
                                  flops: 0, bytes: Double(8 * count)))
                if g.shapes[v] == nil { g.shapes[v] = c.shape }
                g.elementTypes[v] = .float32
            }
            reads.append(rootOf(v))
        }
        var l = KernelLaunch(nodes: n.sources, template: .eltwise, config: .defaults(.eltwise), defines: [], output: n.outputs[0],
                             outputShape: [], args: [], global: [], local: [], flops: 0, bytes: 0)
        // The node's own input names, in order ("" for an absent optional one): the
        // arena lists every alias under its name.
        l.host = HostCall(node: n.node.name, opType: n.op, inputs: n.inputs, outputs: n.outputs.filter { !$0.isEmpty }, reason: reason)
        l.args = reads.map { .arena($0) }
        launches.append(l)
    }

    func attrInts(_ n: LNode, _ name: String) -> [Int]? { n.node[attribute: name]?.intsValue?.map { Int($0) } }
    func attrInt(_ n: LNode, _ name: String, _ d: Int) -> Int { Int(n.node[attribute: name]?.intValue ?? Int64(d)) }
    func attrFloat(_ n: LNode, _ name: String, _ d: Float) -> Float { n.node[attribute: name]?.floatValue ?? d }

    /// An arena operand: the root of a non-constant value, or a constant copied into weights.bin.
    mutating func arg(_ v: String, node: LNode) throws(CodegenError) -> KernelLaunch.Arg {
        if let c = g.constant(v), !available.contains(rootOf(v)) {
            weights.addFloats("\(v).const", c.floatArray(), shape: c.shape)
            return .blob("\(v).const")
        }
        return .arena(rootOf(v))
    }

    mutating func anchor(_ n: LNode) throws(CodegenError) -> KernelLaunch? {
        guard n.node.isDefaultDomain else { return nil }
        let out = n.outputs[0]
        switch n.op {
        case "Conv": return try conv(n)
        case "Gemm", "MatMul": return try matrix(n)
        case "MaxPool", "AveragePool": return try pool(n)
        case "GlobalAveragePool", "GlobalMaxPool":
            let s = try g.shape(n.inputs[0], node: n.name)
            let planes = s[0] * s[1], hw = s.dropFirst(2).reduce(1, *)
            let cfg = KernelConfig.defaults(.globalPool)
            return KernelLaunch(nodes: n.sources, template: .globalPool, config: cfg,
                                defines: [("PLANES", "\(planes)"), ("HW", "\(hw)"), ("IS_MAX", n.op == "GlobalMaxPool" ? "1" : "0")],
                                output: out, outputShape: try g.shape(out, node: n.name), args: [try arg(n.inputs[0], node: n)],
                                global: [planes * cfg["WG"]], local: [cfg["WG"]], flops: Double(planes * hw),
                                bytes: Double((planes * hw + planes) * 4))
        case "Softmax", "LogSoftmax":
            let s = try g.shape(n.inputs[0], node: n.name)
            var axis = attrInt(n, "axis", g.opset >= 13 ? -1 : 1)
            if axis < 0 { axis += s.count }
            let outer = s[..<axis].reduce(1, *)
            let (l, inner) = g.opset >= 13 ? (s[axis], s[(axis + 1)...].reduce(1, *)) : (s[axis...].reduce(1, *), 1)
            return simple(n, .softmax, [("OUTER", "\(outer)"), ("L", "\(l)"), ("INNER", "\(inner)"), ("LOG", n.op == "LogSoftmax" ? "1" : "0")],
                          args: [try arg(n.inputs[0], node: n)], items: outer * inner, flops: Double(5 * s.reduce(1, *)), shape: s)
        case "LayerNormalization":
            if n.outputs.dropFirst().contains(where: { !$0.isEmpty && g.consumers[$0] != nil }) {
                throw .unsupported(node: n.name, opType: n.op, detail: "Mean/InvStdDev outputs are used")
            }
            let s = try g.shape(n.inputs[0], node: n.name)
            var axis = attrInt(n, "axis", -1)
            if axis < 0 { axis += s.count }
            let l = s[axis...].reduce(1, *), rows = s[..<axis].reduce(1, *)
            guard let gamma = g.constant(n.inputs[1]) else { throw .unsupported(node: n.name, opType: n.op, detail: "scale is not a constant") }
            weights.addFloats("\(n.inputs[1]).const", Self.expand(gamma, to: l), shape: [l])
            var args: [KernelLaunch.Arg] = [try arg(n.inputs[0], node: n), .blob("\(n.inputs[1]).const")]
            let hasBeta = n.inputs.count > 2 && !n.inputs[2].isEmpty
            if hasBeta {
                guard let beta = g.constant(n.inputs[2]) else { throw .unsupported(node: n.name, opType: n.op, detail: "bias is not a constant") }
                weights.addFloats("\(n.inputs[2]).const", Self.expand(beta, to: l), shape: [l])
                args.append(.blob("\(n.inputs[2]).const"))
            }
            return simple(n, .layerNorm, [("ROWS", "\(rows)"), ("L", "\(l)"), ("EPS", CLiteral.float(attrFloat(n, "epsilon", 1e-5))),
                                          ("HAS_BETA", hasBeta ? "1" : "0")],
                          args: args, items: rows, flops: Double(8 * rows * l), shape: s)
        case "ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin": return try reduce(n)
        case "Transpose":
            let s = try g.shape(n.inputs[0], node: n.name)
            let perm = attrInts(n, "perm") ?? Array((0..<s.count).reversed())
            let inStride = Self.strides(s)
            return try copy(n, input: n.inputs[0], output: out, dims: perm.map { s[$0] }, src: perm.map { inStride[$0] }, srcBase: 0,
                            dst: Self.strides(perm.map { s[$0] }), dstBase: 0)
        case "Slice": return try slice(n)
        case "Split":
            let s = try g.shape(n.inputs[0], node: n.name)
            var axis = attrInt(n, "axis", 0)
            if axis < 0 { axis += s.count }
            var offset = 0
            for o in n.outputs where !o.isEmpty {
                let os = try g.shape(o, node: n.name)
                let inStride = Self.strides(s)
                var l = try copy(n, input: n.inputs[0], output: o, dims: os, src: inStride, srcBase: offset * inStride[axis],
                                 dst: Self.strides(os), dstBase: 0)
                fuseEpilogue(into: &l, anchor: g.nodes.firstIndex { $0.name == n.name && $0.outputs == n.outputs }!, value: o)
                emit(l)
                offset += os[axis]
            }
            return KernelLaunch(nodes: [], template: .stridedCopy, config: .defaults(.stridedCopy), defines: [], output: "",
                                outputShape: [], args: [], global: [], local: [], flops: 0, bytes: 0)
        case "Concat":
            let os = try g.shape(out, node: n.name)
            var axis = attrInt(n, "axis", 0)
            if axis < 0 { axis += os.count }
            let outStride = Self.strides(os)
            var offset = 0
            // An input whose slice is contiguous (nothing outside the axis but 1s) and
            // 256-byte aligned, written by one kernel and read by nobody else, is
            // written there in place (an arena view); the others are copied in.
            let contiguous = os[..<axis].allSatisfy { $0 == 1 }
            for input in n.inputs where !input.isEmpty {
                let s = try g.shape(input, node: n.name)
                let byteOffset = offset * outStride[axis] * 4
                let r = rootOf(input)
                let writers = launches.filter { $0.host == nil && $0.output == r }.count
                let onlyHere = g.consumers[input]?.count == 1 && n.inputs.filter({ $0 == input }).count == 1 && root[input] == input
                if contiguous, byteOffset % Plan.alignment == 0, writers == 1, onlyHere, views[r] == nil,
                   !g.graphOutputs.contains(input), !g.isConstant(input), !g.graph.runtimeInputs.contains(where: { $0.name == input }) {
                    views[r] = (out, byteOffset)
                } else {
                    let l = try copy(n, input: input, output: out, dims: s, src: Self.strides(s), srcBase: 0, dst: outStride,
                                     dstBase: offset * outStride[axis])
                    if s.reduce(1, *) > 0 { emit(l) }
                }
                offset += s[axis]
            }
            root[out] = out
            available.insert(out)
            return KernelLaunch(nodes: [], template: .stridedCopy, config: .defaults(.stridedCopy), defines: [], output: "",
                                outputShape: [], args: [], global: [], local: [], flops: 0, bytes: 0)
        case "Resize", "Upsample": return try resize(n)
        default:
            if n.op == "FakeQuant" || Self.unary[n.op] != nil || Self.binary[n.op] != nil
                || ["Clip", "HardSigmoid", "LeakyRelu", "Neg", "Pow"].contains(n.op) {
                return try eltwise(n)
            }
            return nil
        }
    }

    static func strides(_ s: [Int]) -> [Int] {
        var r = [Int](repeating: 1, count: s.count)
        for d in stride(from: s.count - 2, through: 0, by: -1) { r[d] = r[d + 1] * s[d + 1] }
        return r
    }

    static func expand(_ t: RTensor, to n: Int) -> [Float] {
        let f = t.floatArray()
        return f.count == n ? f : [Float](repeating: f.first ?? 0, count: n)
    }

    func simple(_ n: LNode, _ t: TemplateKind, _ defines: [(String, String)], args: [KernelLaunch.Arg], items: Int,
                        flops: Double, shape: [Int]) -> KernelLaunch {
        let cfg = KernelConfig.defaults(t)
        let count = shape.reduce(1, *)
        return KernelLaunch(nodes: n.sources, template: t, config: cfg, defines: defines, output: n.outputs[0], outputShape: shape,
                            args: args, global: [roundUp(max(items, 1), cfg["WG"])], local: [cfg["WG"]], flops: flops,
                            bytes: Double(8 * count))
    }

    mutating func copy(_ n: LNode, input: String, output: String, dims: [Int], src: [Int], srcBase: Int, dst: [Int],
                               dstBase: Int) throws(CodegenError) -> KernelLaunch {
        guard dims.count <= 6 else { throw .unsupported(node: n.name, opType: n.op, detail: "rank \(dims.count) > 6") }
        let pad = 6 - dims.count
        let d = [Int](repeating: 1, count: pad) + dims
        let ss = [Int](repeating: 0, count: pad) + src, ds = [Int](repeating: 0, count: pad) + dst
        var defines: [(String, String)] = [("COUNT", "\(dims.reduce(1, *))")]
        for k in 0..<6 { defines.append(("D\(k)", "\(d[k])")) }
        for k in 0..<6 { defines.append(("SS\(k)", "\(ss[k])")) }
        defines.append(("SRC_BASE", "\(srcBase)"))
        for k in 0..<6 { defines.append(("DS\(k)", "\(ds[k])")) }
        defines.append(("DST_BASE", "\(dstBase)"))
        let cfg = KernelConfig.defaults(.stridedCopy)
        let count = dims.reduce(1, *)
        return KernelLaunch(nodes: n.sources, template: .stridedCopy, config: cfg, defines: defines, output: output,
                            outputShape: try g.shape(output, node: n.name), args: [try arg(input, node: n)],
                            global: [roundUp(max(count, 1), cfg["WG"])], local: [cfg["WG"]], flops: 0, bytes: Double(8 * count))
    }

    mutating func slice(_ n: LNode) throws(CodegenError) -> KernelLaunch {
        let s = try g.shape(n.inputs[0], node: n.name)
        func ints(_ idx: Int, _ attr: String) throws(CodegenError) -> [Int]? {
            if g.opset >= 10 {
                guard n.inputs.count > idx, !n.inputs[idx].isEmpty else { return nil }
                guard let c = g.constant(n.inputs[idx]), let v = c.int64Array() else {
                    throw .unsupported(node: n.name, opType: n.op, detail: "input \(idx) is not a constant")
                }
                return v.map { Int(clamping: $0) }
            }
            return attrInts(n, attr)
        }
        guard let starts = try ints(1, "starts"), let ends = try ints(2, "ends") else {
            throw .unsupported(node: n.name, opType: n.op, detail: "starts/ends missing")
        }
        let axes = try ints(3, "axes") ?? Array(0..<starts.count)
        let steps = try ints(4, "steps") ?? [Int](repeating: 1, count: starts.count)
        var start = [Int](repeating: 0, count: s.count), step = [Int](repeating: 1, count: s.count)
        for (j, a0) in axes.enumerated() {
            let a = a0 < 0 ? a0 + s.count : a0
            let dim = s[a], st = steps[j]
            var b = starts[j] < 0 ? starts[j] + dim : starts[j]
            b = st > 0 ? min(max(b, 0), dim) : min(max(b, 0), dim - 1)
            start[a] = b
            step[a] = st
            _ = ends
        }
        let os = try g.shape(n.outputs[0], node: n.name)
        let inStride = Self.strides(s)
        let base = zip(start, inStride).map { $0 * $1 }.reduce(0, +)
        return try copy(n, input: n.inputs[0], output: n.outputs[0], dims: os, src: zip(inStride, step).map { $0 * $1 }, srcBase: base,
                        dst: Self.strides(os), dstBase: 0)
    }

    mutating func reduce(_ n: LNode) throws(CodegenError) -> KernelLaunch {
        let s = try g.shape(n.inputs[0], node: n.name)
        var axes: [Int]
        if let a = attrInts(n, "axes") { axes = a } else if n.inputs.count > 1, !n.inputs[1].isEmpty {
            guard let c = g.constant(n.inputs[1])?.int64Array() else { throw .unsupported(node: n.name, opType: n.op, detail: "axes are not constant") }
            axes = c.map { Int($0) }
        } else { axes = Array(0..<s.count) }
        axes = axes.map { $0 < 0 ? $0 + s.count : $0 }.sorted()
        guard let lo = axes.first, let hi = axes.last, hi - lo + 1 == axes.count else {
            throw .unsupported(node: n.name, opType: n.op, detail: "reduced axes \(axes) are not contiguous")
        }
        let outer = s[..<lo].reduce(1, *), r = s[lo...hi].reduce(1, *), inner = s[(hi + 1)...].reduce(1, *)
        let op = ["ReduceMean": 0, "ReduceSum": 1, "ReduceMax": 2, "ReduceMin": 3][n.op]!
        return simple(n, .reduce, [("OUTER", "\(outer)"), ("R", "\(r)"), ("INNER", "\(inner)"), ("OP", "\(op)")],
                      args: [try arg(n.inputs[0], node: n)], items: outer * inner, flops: Double(s.reduce(1, *)),
                      shape: try g.shape(n.outputs[0], node: n.name))
    }

    mutating func resize(_ n: LNode) throws(CodegenError) -> KernelLaunch {
        let s = try g.shape(n.inputs[0], node: n.name), os = try g.shape(n.outputs[0], node: n.name)
        guard s.count == 4, os[0] == s[0], os[1] == s[1] else {
            throw .unsupported(node: n.name, opType: n.op, detail: "only the last two axes of a 4-D tensor may be resized")
        }
        let mode = n.node[attribute: "mode"]?.stringValue ?? "nearest"
        guard mode == "nearest" || mode == "linear" || mode == "bilinear" else {
            throw .unsupported(node: n.name, opType: n.op, detail: "mode '\(mode)' (nearest and linear are supported)")
        }
        var scaleH = Float(os[2]) / Float(s[2]), scaleW = Float(os[3]) / Float(s[3])
        let scalesInput = n.op == "Upsample" || g.opset < 11 ? 1 : 2
        if n.inputs.count > scalesInput, !n.inputs[scalesInput].isEmpty, let c = g.constant(n.inputs[scalesInput]), c.count == 4 {
            let f = c.floatArray()
            scaleH = f[2]; scaleW = f[3]
        }
        let coordName = n.node[attribute: "coordinate_transformation_mode"]?.stringValue ?? (g.opset < 11 ? "asymmetric" : "half_pixel")
        let coords = ["half_pixel": 0, "asymmetric": 1, "align_corners": 2, "pytorch_half_pixel": 3, "tf_half_pixel_for_nn": 4]
        guard let coord = coords[coordName] else {
            throw .unsupported(node: n.name, opType: n.op, detail: "coordinate_transformation_mode '\(coordName)'")
        }
        let nearestName = n.node[attribute: "nearest_mode"]?.stringValue ?? (g.opset < 11 ? "floor" : "round_prefer_floor")
        guard let nearest = ["round_prefer_floor": 0, "round_prefer_ceil": 1, "floor": 2, "ceil": 3][nearestName] else {
            throw .unsupported(node: n.name, opType: n.op, detail: "nearest_mode '\(nearestName)'")
        }
        let linear = mode != "nearest"
        let count = os.reduce(1, *)
        return simple(n, .resize, [("PLANES", "\(s[0] * s[1])"), ("IH", "\(s[2])"), ("IW", "\(s[3])"), ("OH", "\(os[2])"), ("OW", "\(os[3])"),
                                   ("SCALE_H", CLiteral.float(scaleH)), ("SCALE_W", CLiteral.float(scaleW)), ("LINEAR", linear ? "1" : "0"),
                                   ("COORD", "\(coord)"), ("NEAREST", "\(nearest)")],
                      args: [try arg(n.inputs[0], node: n)], items: count, flops: Double(linear ? 8 * count : 0), shape: os)
    }

    mutating func pool(_ n: LNode) throws(CodegenError) -> KernelLaunch {
        let s = try g.shape(n.inputs[0], node: n.name), os = try g.shape(n.outputs[0], node: n.name)
        guard s.count == 4 else { throw .unsupported(node: n.name, opType: n.op, detail: "only 2-D pooling (NCHW) is supported") }
        if n.outputs.count > 1, !n.outputs[1].isEmpty { throw .unsupported(node: n.name, opType: n.op, detail: "the Indices output is not supported") }
        let k = attrInts(n, "kernel_shape") ?? [1, 1]
        let st = attrInts(n, "strides") ?? [1, 1], dil = attrInts(n, "dilations") ?? [1, 1]
        let (pt, pl) = padding(n, input: s, output: os, kernel: k, strides: st, dilations: dil)
        let isMax = n.op == "MaxPool"
        return simple(n, .pool, [("B", "\(s[0])"), ("C", "\(s[1])"), ("IH", "\(s[2])"), ("IW", "\(s[3])"), ("OH", "\(os[2])"), ("OW", "\(os[3])"),
                                 ("KH", "\(k[0])"), ("KW", "\(k[1])"), ("SH", "\(st[0])"), ("SW", "\(st[1])"), ("PT", "\(pt)"), ("PL", "\(pl)"),
                                 ("DH", "\(dil[0])"), ("DW", "\(dil[1])"), ("IS_MAX", isMax ? "1" : "0"),
                                 ("COUNT_PAD", "\(attrInt(n, "count_include_pad", 0))")],
                      args: [try arg(n.inputs[0], node: n)], items: os.reduce(1, *), flops: Double(os.reduce(1, *) * k[0] * k[1]), shape: os)
    }

    /// Top and left padding from `pads` or `auto_pad`.
    func padding(_ n: LNode, input s: [Int], output os: [Int], kernel k: [Int], strides st: [Int], dilations dil: [Int]) -> (Int, Int) {
        let auto = n.node[attribute: "auto_pad"]?.stringValue ?? "NOTSET"
        if auto == "SAME_UPPER" || auto == "SAME_LOWER" {
            func p(_ d: Int) -> Int {
                let total = max(0, (os[2 + d] - 1) * st[d] + (k[d] - 1) * dil[d] + 1 - s[2 + d])
                return auto == "SAME_UPPER" ? total / 2 : total - total / 2
            }
            return (p(0), p(1))
        }
        let pads = attrInts(n, "pads") ?? [0, 0, 0, 0]
        return (pads[0], pads[1])
    }
}
