import IR

// If and Loop (ONNX Operators.md). Subgraphs see every value visible at the
// node; the executor runs them through KernelContext.run(subgraph:inputs:).

extension Ops {
    static let controlFlow: [OpEntry] = [
        OpEntry("If") { ctx in
            let cond = try ctx.input(0)
            guard cond.count == 1 else { throw OpError("cond must hold one value, has shape \(cond.shape)") }
            let name = cond.floatArray()[0] != 0 ? "then_branch" : "else_branch"
            guard let branch = ctx.attribute(name)?.graphValue else { throw OpError("missing attribute \(name)") }
            return try ctx.run(subgraph: branch, inputs: [])
        },
        OpEntry("Loop") { ctx in
            guard let body = ctx.attribute("body")?.graphValue else { throw OpError("missing attribute body") }
            let maxTrips = try ctx.optionalInput(0).map { Int(try scalar($0, "M")) }
            var cond = try ctx.optionalInput(1).map { try scalar($0, "cond") != 0 } ?? true
            var carried = Array(ctx.inputs.dropFirst(2).map { $0! })
            let scanCount = body.outputs.count - 1 - carried.count
            guard scanCount >= 0 else { throw OpError("body has \(body.outputs.count) outputs for \(carried.count) loop-carried values") }
            var scans = [[RTensor]](repeating: [], count: scanCount)
            var i = 0
            while cond && (maxTrips.map { i < $0 } ?? true) {
                let outs = try ctx.run(subgraph: body, inputs: [RTensor(.int64, shape: [], values: [Int64(i)]),
                                                                RTensor(.bool, shape: [], values: [UInt8(cond ? 1 : 0)])] + carried)
                cond = outs[0].floatArray().first.map { $0 != 0 } ?? false
                carried = Array(outs[1..<(1 + carried.count)])
                for k in 0..<scanCount { scans[k].append(outs[1 + carried.count + k]) }
                i += 1
            }
            // Scan outputs stack the per-iteration values along a new first axis.
            let stacked = try scans.enumerated().map { k, parts -> RTensor in
                guard let first = parts.first else {
                    let t = body.outputs[1 + carried.count + k].type?.tensorType
                    return RTensor(type: t?.elementType ?? .float32, shape: [0] + (t?.fixedShape ?? []))
                }
                var out = RTensor(type: first.type, shape: [parts.count] + first.shape)
                if first.strings != nil { out.strings = parts.flatMap { $0.strings! }; return out }
                let size = first.byteCount
                for (j, p) in parts.enumerated() {
                    guard p.shape == first.shape else { throw OpError("scan output \(k) changes shape across iterations") }
                    (out.buffer.pointer + j * size).copyMemory(from: p.buffer.pointer, byteCount: size)
                }
                return out
            }
            return carried + stacked
        },
    ]
}
