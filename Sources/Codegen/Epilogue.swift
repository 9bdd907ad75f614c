import Artifact

/// An elementwise expression applied to a kernel's result before it is
/// stored (bias is the template's own; this is what follows: activations,
/// residual adds, per-channel affine constants, fake quantization), or, for
/// the eltwise template, the whole computation. Rendered as the
/// `EPILOGUE(v, i)` macro, `i` being the flat output index.
struct Epilogue: Equatable {
    /// A tensor the expression reads at its broadcast index.
    struct Operand: Equatable {
        var region: BufferRegion
        var name: String
        var shape: [Int]
    }
    indirect enum Expr: Equatable {
        /// The kernel's result `v`.
        case acc
        case step(Int)
        case constant(Float)
        case operand(Int)
    }
    enum Step: Equatable {
        /// `fn(x, extra...)`, a prelude helper.
        case call(String, Expr, [Float])
        /// `a op b` for + - * /, or a prelude helper of two arguments (qc_max, qc_min).
        case binary(String, Expr, Expr)
        case fakeQuant(Expr, scale: Float, zeroPoint: Float, low: Float, high: Float)
        /// `fn(a, b, extra...)`, a prelude helper of two operands.
        case call2(String, Expr, Expr, [Float])
    }
    /// Quantization grids of steps computed by integer arithmetic (requantized accumulators).
    var grids: [Int: FakeQuant] = [:]

    var operands: [Operand] = []
    var steps: [Step] = []
    /// The expression stored to the output (`.acc` = unchanged).
    var result: Expr = .acc

    var isEmpty: Bool { result == .acc }

    mutating func operand(_ region: BufferRegion, _ name: String, _ shape: [Int]) -> Expr {
        if let i = operands.firstIndex(where: { $0.region == region && $0.name == name }) { return .operand(i) }
        operands.append(Operand(region: region, name: name, shape: shape))
        return .operand(operands.count - 1)
    }

    mutating func append(_ s: Step) -> Expr {
        steps.append(s)
        return .step(steps.count - 1)
    }

    /// `, __global const float* restrict e0, …` for the kernel signature.
    var parameters: String {
        operands.indices.map { ", __global const float* restrict e\($0)" }.joined()
    }

    /// The body of `#define EPILOGUE(v, i)`, reading operands broadcast to `outShape`.
    func macro(outShape: [Int]) -> String {
        guard !isEmpty else { return "" }
        func render(_ e: Expr) -> String {
            switch e {
            case .acc: return "(v)"
            case .step(let i): return "t\(i)"
            case .constant(let c): return CLiteral.float(c)
            case .operand(let i): return "e\(i)[\(Self.broadcastIndex(out: outShape, operand: operands[i].shape, index: "(i)"))]"
            }
        }
        var lines: [String] = []
        for (n, s) in steps.enumerated() {
            let rhs: String
            switch s {
            case .call(let fn, let x, let extra):
                rhs = "\(fn)(\(([render(x)] + extra.map(CLiteral.float)).joined(separator: ", ")))"
            case .binary(let op, let a, let b):
                rhs = op.count == 1 ? "\(render(a)) \(op) \(render(b))" : "\(op)(\(render(a)), \(render(b)))"
            case .call2(let fn, let a, let b, let extra):
                rhs = "\(fn)(\(([render(a), render(b)] + extra.map(CLiteral.float)).joined(separator: ", ")))"
            case .fakeQuant(let x, let s, let z, let lo, let hi):
                rhs = "qc_fq(\(render(x)), \([s, z, lo, hi].map(CLiteral.float).joined(separator: ", ")))"
            }
            lines.append("const float t\(n) = \(rhs);")
        }
        lines.append("(v) = \(render(result));")
        return "{ " + lines.joined(separator: " \\\n    ") + " }"
    }

    /// The C expression of the element of a tensor of `operand` shape that
    /// broadcasts (numpy rules, right-aligned) to flat element `index` of `out`.
    static func broadcastIndex(out: [Int], operand: [Int], index: String) -> String {
        let count = operand.reduce(1, *)
        if count == 1 { return "0" }
        let padded = [Int](repeating: 1, count: max(0, out.count - operand.count)) + operand
        if padded == out { return index }
        var outStride = [Int](repeating: 1, count: out.count), opStride = outStride
        for d in stride(from: out.count - 2, through: 0, by: -1) {
            outStride[d] = outStride[d + 1] * out[d + 1]
            opStride[d] = opStride[d + 1] * padded[d + 1]
        }
        var terms: [String] = []
        for d in out.indices where padded[d] != 1 {
            let coord = d == 0 ? "(\(index) / \(outStride[d]))" : "((\(index) / \(outStride[d])) % \(out[d]))"
            terms.append(opStride[d] == 1 ? coord : "\(coord) * \(opStride[d])")
        }
        return terms.joined(separator: " + ")
    }
}

/// OpenCL C literals that round-trip exactly.
enum CLiteral {
    static func float(_ x: Float) -> String {
        if x.isNaN { return "NAN" }
        if x.isInfinite { return x > 0 ? "INFINITY" : "(-INFINITY)" }
        // Hex float: exact and locale-free.
        let bits = x.bitPattern
        if x == 0 { return bits >> 31 == 1 ? "(-0.0f)" : "0.0f" }
        var s = "\(x)"
        if !s.contains(".") && !s.contains("e") { s += ".0" }
        if Float(s) == x { return x < 0 ? "(\(s)f)" : "\(s)f" }
        return String(format: "%a", Double(x)) + "f"
    }
}
