import IR
import Interpreter

/// A quantizable layer seen as matrix products: its weight as `groups` matrices
/// W_g of `rows` × `dimension`, and its input as columns x ∈ ℝ^dimension, such
/// that every output value (before the bias) is a row of W_g times a column x.
///
/// - Conv (W [M, C/G, k…]): per group, rows are that group's output channels and
///   columns the im2col patches of its C/G input channels, channel-major then
///   kernel position, which is W's own layout, so W_g[r, j] = W[g·M/G + r, j].
/// - ConvTranspose (W [C, M/G, k…]): per group, each input pixel's C/G channels
///   form a column and the rows are (output channel, kernel position).
/// - Gemm: rows of A (columns of A with transA); W_g[n, k] = B'[k, n].
/// - MatMul with a rank-2 constant second operand: rows of the flattened input.
public struct LayerMatrices: Sendable {
    public enum Kind: Sendable, Equatable {
        case conv, convTranspose
        case gemm(transA: Bool, transB: Bool)
        case matmul
    }

    public let node: String
    public let kind: Kind
    public let groups: Int
    public let rows: Int
    public let dimension: Int
    public let weightShape: [Int]
    /// Conv attributes, read once.
    let kernel: [Int], strides: [Int], dilations: [Int], pads: [Int], autoPad: String

    /// The matrix view of `node`'s weight of `weightShape`, or why there is none.
    public static func make(node: Node, weightShape w: [Int]) -> Result<LayerMatrices, LayerMatricesError> {
        func fail(_ m: String) -> Result<LayerMatrices, LayerMatricesError> { .failure(LayerMatricesError(node: node.name, message: m)) }
        let group = Int(node[attribute: "group"]?.intValue ?? 1)
        let spatial = w.count > 2 ? Array(w[2...]) : []
        let k = spatial.reduce(1, *)
        let ints = { (name: String) in node[attribute: name]?.intsValue?.map { Int($0) } }
        let r = spatial.count
        let strides = ints("strides") ?? [Int](repeating: 1, count: r)
        let dilations = ints("dilations") ?? [Int](repeating: 1, count: r)
        let pads = ints("pads") ?? [Int](repeating: 0, count: 2 * r)
        let autoPad = node[attribute: "auto_pad"]?.stringValue ?? "NOTSET"
        let kind: Kind, groups: Int, rows: Int, dim: Int
        switch node.opType {
        case "Conv":
            guard w.count >= 3, group >= 1, w[0] % group == 0 else { return fail("Conv weight \(w) does not split into \(group) groups") }
            guard strides.count == r, dilations.count == r, pads.count == 2 * r else {
                return fail("Conv strides \(strides), dilations \(dilations) or pads \(pads) do not match a kernel of rank \(r)")
            }
            kind = .conv; groups = group; rows = w[0] / group; dim = w[1] * k
        case "ConvTranspose":
            guard w.count >= 3, group >= 1, w[0] % group == 0 else { return fail("ConvTranspose weight \(w) does not split into \(group) groups") }
            kind = .convTranspose; groups = group; rows = w[1] * k; dim = w[0] / group
        case "Gemm":
            guard w.count == 2 else { return fail("Gemm weight has rank \(w.count), expected 2") }
            let ta = (node[attribute: "transA"]?.intValue ?? 0) != 0, tb = (node[attribute: "transB"]?.intValue ?? 0) != 0
            kind = .gemm(transA: ta, transB: tb); groups = 1
            rows = tb ? w[0] : w[1]
            dim = tb ? w[1] : w[0]
        case "MatMul":
            guard w.count == 2 else { return fail("MatMul weight has rank \(w.count); only rank-2 weights have one input Hessian") }
            kind = .matmul; groups = 1; rows = w[1]; dim = w[0]
        default:
            return fail("\(node.opType) is not a layer with a weight matrix")
        }
        return .success(LayerMatrices(node: node.name, kind: kind, groups: groups, rows: rows, dimension: dim, weightShape: w,
                                      kernel: spatial, strides: strides, dilations: dilations, pads: pads, autoPad: autoPad))
    }

    /// Flat index in the weight tensor of W_g[row, column].
    @inline(__always)
    public func weightIndex(group g: Int, row r: Int, column j: Int) -> Int {
        switch kind {
        case .conv: return (g * rows + r) * dimension + j
        case .convTranspose: return (g * dimension + j) * rows + r
        case .gemm(_, let tb): return tb ? r * dimension + j : j * rows + r
        case .matmul: return j * rows + r
        }
    }

    /// W_g as a rows × dimension row-major matrix in Double.
    public func matrix(_ weights: [Float], group g: Int) -> [Double] {
        var m = [Double](repeating: 0, count: rows * dimension)
        for r in 0..<rows { for j in 0..<dimension { m[r * dimension + j] = Double(weights[weightIndex(group: g, row: r, column: j)]) } }
        return m
    }

    /// Calls `body(group, columns, count)` with the input's columns for every group,
    /// `count` ≤ `chunk` of them at a time as a count × dimension row-major matrix,
    /// in a fixed order. Memory: one chunk, never the whole im2col matrix.
    public func forEachColumnChunk(_ x: RTensor, chunk: Int,
                                   _ body: (Int, UnsafeBufferPointer<Float>, Int) throws -> Void) throws(LayerMatricesError) {
        func fail(_ m: String) -> LayerMatricesError { LayerMatricesError(node: node, message: m) }
        guard x.type == .float32 else { throw fail("input is \(x.type), expected float32") }
        let xs = x.shape
        let src = UnsafeBufferPointer(x.elements(Float.self))
        let d = dimension
        var buf = [Float](repeating: 0, count: max(1, chunk) * d)
        do {
            switch kind {
            case .matmul:
                guard xs.count >= 1, xs.last == d else { throw fail("input shape \(xs) does not end in the weight's \(d) rows") }
                let n = x.count / max(d, 1)
                var start = 0
                while start < n {
                    let c = min(chunk, n - start)
                    try body(0, UnsafeBufferPointer(rebasing: src[(start * d)..<((start + c) * d)]), c)
                    start += c
                }
            case .gemm(let ta, _):
                guard xs.count == 2, xs[ta ? 0 : 1] == d else { throw fail("Gemm input A of shape \(xs) does not match K = \(d)") }
                let m = ta ? xs[1] : xs[0]
                var start = 0
                while start < m {
                    let c = min(chunk, m - start)
                    for i in 0..<c { for j in 0..<d { buf[i * d + j] = ta ? src[j * m + start + i] : src[(start + i) * d + j] } }
                    try buf.withUnsafeBufferPointer { try body(0, $0, c) }
                    start += c
                }
            case .convTranspose:
                guard xs.count >= 3, xs[1] == d * groups else { throw fail("input shape \(xs) does not have \(d * groups) channels") }
                let pixels = xs[2...].reduce(1, *)
                for g in 0..<groups {
                    for n in 0..<xs[0] {
                        var start = 0
                        while start < pixels {
                            let c = min(chunk, pixels - start)
                            for j in 0..<d {
                                let base = (n * xs[1] + g * d + j) * pixels + start
                                for i in 0..<c { buf[i * d + j] = src[base + i] }
                            }
                            try buf.withUnsafeBufferPointer { try body(g, $0, c) }
                            start += c
                        }
                    }
                }
            case .conv:
                let k = kernel.reduce(1, *)
                let cg = d / max(k, 1)
                guard xs.count == kernel.count + 2, xs[1] == cg * groups else {
                    throw fail("input shape \(xs) does not fit a weight \(weightShape) with group=\(groups)")
                }
                let offsets = try patchOffsets(Array(xs[2...]))
                let outputs = offsets.count / max(k, 1)
                let plane = xs[2...].reduce(1, *)
                for g in 0..<groups {
                    for n in 0..<xs[0] {
                        var start = 0
                        while start < outputs {
                            let c = min(chunk, outputs - start)
                            for ch in 0..<cg {
                                let base = (n * xs[1] + g * cg + ch) * plane
                                for i in 0..<c {
                                    let o = (start + i) * k
                                    for q in 0..<k {
                                        let off = offsets[o + q]
                                        buf[i * d + ch * k + q] = off < 0 ? 0 : src[base + off]
                                    }
                                }
                            }
                            try buf.withUnsafeBufferPointer { try body(g, $0, c) }
                            start += c
                        }
                    }
                }
            }
        } catch let e as LayerMatricesError {
            throw e
        } catch {
            throw fail("\(error)")
        }
    }

    /// For every output position and kernel position (row-major), the flat input
    /// position it reads, or −1 in the padding (Conv section of ONNX Operators.md).
    func patchOffsets(_ input: [Int]) throws(LayerMatricesError) -> [Int] {
        let r = input.count
        var begin = Array(pads.prefix(r)), out = [Int](repeating: 0, count: r)
        for a in 0..<r {
            let ext = (kernel[a] - 1) * dilations[a] + 1
            switch autoPad {
            case "SAME_UPPER", "SAME_LOWER":
                out[a] = (input[a] + strides[a] - 1) / strides[a]
                let total = max(0, (out[a] - 1) * strides[a] + ext - input[a])
                begin[a] = autoPad == "SAME_UPPER" ? total / 2 : total - total / 2
            case "VALID":
                begin[a] = 0
                out[a] = input[a] >= ext ? (input[a] - ext) / strides[a] + 1 : 0
            case "NOTSET", "":
                let span = input[a] + pads[a] + pads[r + a] - ext
                guard span >= 0 else { throw LayerMatricesError(node: node, message: "kernel larger than the padded input \(input)") }
                out[a] = span / strides[a] + 1
            default:
                throw LayerMatricesError(node: node, message: "unknown auto_pad '\(autoPad)'")
            }
        }
        let outCount = out.reduce(1, *), k = kernel.reduce(1, *)
        var offsets = [Int](repeating: -1, count: outCount * k)
        var oi = [Int](repeating: 0, count: r), ki = [Int](repeating: 0, count: r)
        for o in 0..<outCount {
            var rem = o
            for a in stride(from: r - 1, through: 0, by: -1) { oi[a] = rem % out[a]; rem /= out[a] }
            for q in 0..<k {
                var rq = q
                for a in stride(from: r - 1, through: 0, by: -1) { ki[a] = rq % kernel[a]; rq /= kernel[a] }
                var flat = 0, inside = true
                for a in 0..<r {
                    let p = oi[a] * strides[a] - begin[a] + ki[a] * dilations[a]
                    if p < 0 || p >= input[a] { inside = false; break }
                    flat = flat * input[a] + p
                }
                if inside { offsets[o * k + q] = flat }
            }
        }
        return offsets
    }
}

/// A layer whose input columns cannot be formed.
public struct LayerMatricesError: Error, CustomStringConvertible, Sendable {
    public var node: String
    public var message: String
    public var description: String { "layer '\(node)': \(message)" }
}
