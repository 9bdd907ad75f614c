import Artifact
import IR
import Interpreter

extension Lowering {
    /// Conv with a constant weight: depthwise, 1×1 or general implicit GEMM.
    mutating func conv(_ n: LNode) throws(CodegenError) -> KernelLaunch {
        let s = try g.shape(n.inputs[0], node: n.name), os = try g.shape(n.outputs[0], node: n.name)
        let ws = try g.shape(n.inputs[1], node: n.name)
        guard s.count == 4, ws.count == 4 else { throw .unsupported(node: n.name, opType: n.op, detail: "only 2-D convolutions (NCHW) have a kernel") }
        guard g.isConstant(n.inputs[1]) || g.dequantizedConstants[n.inputs[1]] != nil else {
            throw .unsupported(node: n.name, opType: n.op, detail: "the weight is not a constant")
        }
        let groups = Int(n.node[attribute: "group"]?.intValue ?? 1)
        let oc = ws[0], icg = ws[1], kh = ws[2], kw = ws[3]
        let st = n.node[attribute: "strides"]?.intsValue?.map { Int($0) } ?? [1, 1]
        let dil = n.node[attribute: "dilations"]?.intsValue?.map { Int($0) } ?? [1, 1]
        let auto = n.node[attribute: "auto_pad"]?.stringValue ?? "NOTSET"
        var pt = 0, pl = 0
        if auto == "SAME_UPPER" || auto == "SAME_LOWER" {
            func p(_ d: Int, _ k: Int) -> Int {
                let total = max(0, (os[2 + d] - 1) * st[d] + (k - 1) * dil[d] + 1 - s[2 + d])
                return auto == "SAME_UPPER" ? total / 2 : total - total / 2
            }
            pt = p(0, kh); pl = p(1, kw)
        } else if let pads = n.node[attribute: "pads"]?.intsValue { pt = Int(pads[0]); pl = Int(pads[1]) }
        let k = icg * kh * kw
        let packed = try weights.pack(weight: n.inputs[1], graph: g, layout: .conv(khw: kh * kw), rows: oc, k: k, alpha: 1,
                                      node: n.name, opType: n.op)
        var args: [KernelLaunch.Arg] = [try arg(n.inputs[0], node: n), .blob(packed.values)]
        if let sc = packed.scales { args.append(.blob(sc)) }
        if let z = packed.zeroPoints { args.append(.blob(z)) }
        let hasBias = n.inputs.count > 2 && !n.inputs[2].isEmpty
        if hasBias {
            guard let b = g.constant(n.inputs[2]) else { throw .unsupported(node: n.name, opType: n.op, detail: "the bias is not a constant") }
            weights.addFloats("\(n.inputs[2]).bias", b.floatArray(), shape: [oc])
            args.append(.blob("\(n.inputs[2]).bias"))
        }
        var defines: [(String, String)] = [("B", "\(s[0])"), ("IC", "\(s[1])"), ("IH", "\(s[2])"), ("IW", "\(s[3])"), ("OC", "\(oc)"),
                                           ("OH", "\(os[2])"), ("OW", "\(os[3])"), ("KH", "\(kh)"), ("KW", "\(kw)"), ("SH", "\(st[0])"),
                                           ("SW", "\(st[1])"), ("PT", "\(pt)"), ("PL", "\(pl)"), ("DH", "\(dil[0])"), ("DW", "\(dil[1])"),
                                           ("GROUPS", "\(groups)"), ("HAS_BIAS", hasBias ? "1" : "0")]
        defines += packed.defines
        let npix = os[2] * os[3]
        let flops = 2.0 * Double(s[0] * oc * npix * k)
        let bytes = Double(packed.storedBytes + 4 * (s.reduce(1, *) + os.reduce(1, *)))
        let template: TemplateKind = icg == 1 ? .depthwise : .conv
        let is1x1 = kh == 1 && kw == 1 && st == [1, 1] && pt == 0 && pl == 0 && os[2] == s[2] && os[3] == s[3]
        let batch = s[0], bits = packed.bits
        if template == .conv { defines.append(("IS_1X1", is1x1 ? "1" : "0")) }
        return KernelLaunch(nodes: n.sources, template: template, shape: LayerShape(template: template, m: npix, n: oc, k: k),
                            defines: defines, output: n.outputs[0], outputShape: os, args: args, flops: flops, bytes: bytes) { c in
            var cfg = c
            if template == .depthwise {
                let global = [roundUp(ceilDiv(npix, cfg["TP"]), cfg["WG"]), oc, batch]
                return .init(config: cfg, global: global, local: [cfg["WG"], 1, 1],
                             efficiency: Double(npix) / Double(global[0] * cfg["TP"]))
            }
            // Output-channel tiles stay inside one group.
            cfg.parameters["TOC"] = Self.largestDivisor(of: oc / groups, atMost: cfg["TOC"])
            let global = [roundUp(ceilDiv(npix, cfg["TP"]), cfg["WG_P"]), roundUp(ceilDiv(oc, cfg["TOC"]), cfg["WG_OC"]), batch]
            // L1 traffic as a GEMM without LDS: TP gathered activations and TOC weights per k.
            let macs = Double(global[0] * cfg["TP"] * global[1] * cfg["TOC"] * batch * k)
            return .init(config: cfg, global: global,
                         local: [cfg["WG_P"], cfg["WG_OC"], 1],
                         efficiency: Double(npix * oc) / Double(global[0] * cfg["TP"] * global[1] * cfg["TOC"]),
                         onChipBytes: Self.gemmOnChipBytes(macs: macs, tm: cfg["TP"], tn: cfg["TOC"], wgM: cfg["WG_P"], wgN: cfg["WG_OC"],
                                                           weightBytes: Double(bits) / 8, lds: false))
        }
    }

    /// Vector L1 bytes of a register-tiled GEMM (the tuner's on-chip roof). Without LDS each
    /// work-item loads per k its TM activations (4 bytes) and TN weights: 4/TN + w/TM bytes a
    /// multiply-add. With LDS the work-group loads each once into LDS (4/(WG_N·TN) + w/(WG_M·TM))
    /// and the work-items read floats from LDS, 4·(1/TN + 1/TM), counted at half (LDS is twice
    /// the L1's bandwidth).
    static func gemmOnChipBytes(macs: Double, tm: Int, tn: Int, wgM: Int, wgN: Int, weightBytes: Double, lds: Bool) -> Double {
        let (tm, tn, wgM, wgN) = (Double(tm), Double(tn), Double(wgM), Double(wgN))
        guard lds else { return macs * (4 / tn + weightBytes / tm) }
        return macs * (4 / (wgN * tn) + weightBytes / (wgM * tm)) + macs * 4 * (1 / tn + 1 / tm) / 2
    }

    static func largestDivisor(of n: Int, atMost m: Int) -> Int {
        var d = max(1, min(m, n))
        while n % d != 0 { d -= 1 }
        return d
    }

    /// Gemm / MatMul: with a constant weight, the dequantizing GEMV (few rows)
    /// or GEMM; with two activations, the batched float MatMul.
    mutating func matrix(_ n: LNode) throws(CodegenError) -> KernelLaunch {
        let a = try g.shape(n.inputs[0], node: n.name), b = try g.shape(n.inputs[1], node: n.name)
        let os = try g.shape(n.outputs[0], node: n.name)
        let weightIsConstant = g.dequantizedConstants[n.inputs[1]] != nil || g.isConstant(n.inputs[1])
        let isGemm = n.op == "Gemm"
        if isGemm, n.node[attribute: "transA"]?.intValue ?? 0 != 0 {
            throw .unsupported(node: n.name, opType: n.op, detail: "transA = 1 has no kernel")
        }
        if !weightIsConstant || b.count != 2 {
            guard !isGemm, a.count >= 2, b.count >= 2 else {
                throw .unsupported(node: n.name, opType: n.op, detail: "Gemm of two activations has no kernel")
            }
            return try batchedMatMul(n, a: a, b: b, out: os)
        }
        let transB = isGemm && (n.node[attribute: "transB"]?.intValue ?? 0) != 0
        let kk = transB ? b[1] : b[0], nn = transB ? b[0] : b[1]
        let m = a.dropLast().reduce(1, *)
        guard a.last == kk else { throw .unsupported(node: n.name, opType: n.op, detail: "inner dimensions \(a) × \(b) differ") }
        let alpha = isGemm ? (n.node[attribute: "alpha"]?.floatValue ?? 1) : 1
        let packed = try weights.pack(weight: n.inputs[1], graph: g, layout: transB ? .nByK : .kByN, rows: nn, k: kk, alpha: alpha,
                                      node: n.name, opType: n.op, rowMajorScales: m <= 4)
        var args: [KernelLaunch.Arg] = [try arg(n.inputs[0], node: n), .blob(packed.values)]
        if let sc = packed.scales { args.append(.blob(sc)) }
        if let z = packed.zeroPoints { args.append(.blob(z)) }
        var hasBias = false
        if isGemm, n.inputs.count > 2, !n.inputs[2].isEmpty {
            guard let c = g.constant(n.inputs[2]), c.count == nn || c.count == 1 else {
                throw .unsupported(node: n.name, opType: n.op, detail: "C must be a constant of N values")
            }
            let beta = n.node[attribute: "beta"]?.floatValue ?? 1
            weights.addFloats("\(n.inputs[2]).bias", Self.expand(c, to: nn).map { $0 * beta }, shape: [nn])
            args.append(.blob("\(n.inputs[2]).bias"))
            hasBias = true
        }
        var defines: [(String, String)] = [("M", "\(m)"), ("N", "\(nn)"), ("K", "\(kk)"), ("HAS_BIAS", hasBias ? "1" : "0")]
        defines += packed.defines
        let flops = 2.0 * Double(m * nn * kk)
        let bytes = Double(packed.storedBytes + 4 * (m * kk + m * nn))
        if m <= 4 {
            let bits = packed.bits, sidx = packed.scaleIndex
            return KernelLaunch(nodes: n.sources, template: .gemv, shape: LayerShape(template: .gemv, m: m, n: nn, k: kk),
                                defines: defines, output: n.outputs[0], outputShape: os, args: args, flops: flops, bytes: bytes) { c in
                var cfg = c
                cfg.parameters["ROWS"] = min(cfg["ROWS"], cfg["WG"])
                guard cfg["WG"] % cfg["ROWS"] == 0 else { return nil }
                let vpc = cfg["VEC_BYTES"] * 8 / bits
                let chunkScale = sidx == "0" || sidx == "(n)" || Self.blockSize(sidx).map { $0 % vpc == 0 } ?? false
                // Lanes of a row beyond its chunks idle; rows past N in the last group too.
                let lanes = cfg["WG"] / cfg["ROWS"], chunks = max(1, kk / max(vpc, 1))
                let efficiency = Double(nn) / Double(ceilDiv(nn, cfg["ROWS"]) * cfg["ROWS"])
                    * Double(chunks) / Double(ceilDiv(chunks, lanes) * lanes)
                return .init(config: cfg, defines: [("CHUNK_SCALE", chunkScale ? "1" : "0")],
                             global: [ceilDiv(nn, cfg["ROWS"]) * cfg["WG"], m], local: [cfg["WG"], 1], efficiency: efficiency)
            }
        }
        let bits = packed.bits
        return KernelLaunch(nodes: n.sources, template: .gemm, shape: LayerShape(template: .gemm, m: m, n: nn, k: kk),
                            defines: defines, output: n.outputs[0], outputShape: os, args: args, flops: flops, bytes: bytes) { cfg in
            let global = [roundUp(ceilDiv(nn, cfg["TN"]), cfg["WG_N"]), roundUp(ceilDiv(m, cfg["TM"]), cfg["WG_M"])]
            let macs = Double(global[0] * cfg["TN"] * global[1] * cfg["TM"] * kk)
            return .init(config: cfg, global: global, local: [cfg["WG_N"], cfg["WG_M"]],
                         efficiency: Double(m * nn) / Double(global[0] * cfg["TN"] * global[1] * cfg["TM"]),
                         onChipBytes: Self.gemmOnChipBytes(macs: macs, tm: cfg["TM"], tn: cfg["TN"], wgM: cfg["WG_M"], wgN: cfg["WG_N"],
                                                           weightBytes: Double(bits) / 8, lds: cfg["LDS_K"] > 0))
        }
    }

    /// The block size a blocked `SIDX` expression divides k by (its last "/ B").
    static func blockSize(_ sidx: String) -> Int? {
        guard let r = sidx.range(of: "(k) / ", options: .backwards) else { return nil }
        return Int(sidx[r.upperBound...].prefix { $0.isNumber })
    }

    private mutating func batchedMatMul(_ n: LNode, a: [Int], b: [Int], out os: [Int]) throws(CodegenError) -> KernelLaunch {
        let m = a[a.count - 2], k = a[a.count - 1], nn = b[b.count - 1]
        guard b[b.count - 2] == k else { throw .unsupported(node: n.name, opType: n.op, detail: "inner dimensions \(a) × \(b) differ") }
        let batch = os.dropLast(2).reduce(1, *)
        let aBatch = a.dropLast(2).reduce(1, *), bBatch = b.dropLast(2).reduce(1, *)
        guard aBatch == batch || aBatch == 1, bBatch == batch || bBatch == 1 else {
            throw .unsupported(node: n.name, opType: n.op, detail: "batch broadcast \(a) × \(b) has no kernel")
        }
        return simple2(n, .matmul, [("BATCH", "\(batch)"), ("M", "\(m)"), ("N", "\(nn)"), ("K", "\(k)"),
                                    ("A_BSTRIDE", "\(aBatch == 1 ? 0 : m * k)"), ("B_BSTRIDE", "\(bBatch == 1 ? 0 : k * nn)")],
                       args: [try arg(n.inputs[0], node: n), try arg(n.inputs[1], node: n)], items: batch * m * nn,
                       flops: 2.0 * Double(batch * m * nn * k), bytes: Double(4 * (aBatch * m * k + bBatch * k * nn + batch * m * nn)), shape: os)
    }

    func simple2(_ n: LNode, _ t: TemplateKind, _ defines: [(String, String)], args: [KernelLaunch.Arg], items: Int,
                 flops: Double, bytes: Double, shape: [Int]) -> KernelLaunch {
        let cfg = KernelConfig.defaults(t)
        return KernelLaunch(nodes: n.sources, template: t, config: cfg, defines: defines, output: n.outputs[0], outputShape: shape,
                            args: args, global: [roundUp(max(items, 1), cfg["WG"])], local: [cfg["WG"]], flops: flops, bytes: bytes)
    }
}
