import Artifact

extension Lowering {
    /// Rewrites `a·b` and `a + b` of two values on known 8-bit grids, followed by
    /// their own quantization, into the arithmetic ONNX Runtime's QLinearMul and
    /// QLinearAdd use (and quantc's simulation with them, qlinear.swift):
    /// integer operands, the reference's rounding order, so a value on a step
    /// boundary rounds the same way.
    func quantizedBinaries(_ e: inout Epilogue, outShape: [Int]) {
        func grid(_ x: Epilogue.Expr) -> FakeQuant? {
            switch x {
            case .step(let j):
                if case .fakeQuant(_, let s, let z, let lo, let hi) = e.steps[j] { return FakeQuant(scale: s, zeroPoint: z, low: lo, high: hi) }
                return e.grids[j]
            case .operand(let i):
                return e.operands[i].region == .arena ? quantized[e.operands[i].name] : nil
            default:
                return nil
            }
        }
        func uses(_ k: Int) -> Int {
            var n = e.result == .step(k) ? 1 : 0
            for s in e.steps {
                switch s {
                case .call(_, let x, _): if x == .step(k) { n += 1 }
                case .binary(_, let a, let b), .call2(_, let a, let b, _): n += (a == .step(k) ? 1 : 0) + (b == .step(k) ? 1 : 0)
                case .fakeQuant(let x, _, _, _, _): if x == .step(k) { n += 1 }
                }
            }
            return n
        }
        // Whether an operand is constant along the innermost dimension of the output that is not 1.
        func scalar(_ x: Epilogue.Expr) -> Bool {
            guard case .operand(let i) = x else { return false }
            let s = e.operands[i].shape
            if s.reduce(1, *) == 1 { return true }
            guard let last = outShape.lastIndex(where: { $0 > 1 }) else { return true }
            let j = last - (outShape.count - s.count)
            return j < 0 || s[j] == 1
        }
        for k in e.steps.indices.dropLast() {
            guard case .binary(let op, let a, let b) = e.steps[k], op == "*" || op == "+",
                  case .fakeQuant(.step(k), let sc, let zc, let lo, let hi) = e.steps[k + 1], uses(k) == 1,
                  let ga = grid(a), let gb = grid(b), ga.low == lo, ga.high == hi, gb.low == lo, gb.high == hi,
                  hi - lo == 255 else { continue }
            e.grids[k + 1] = FakeQuant(scale: sc, zeroPoint: zc, low: lo, high: hi)
            if op == "*" {
                let ratio = ga.scale * gb.scale / sc
                e.steps[k + 1] = .call2("qc_qlmul", a, b, [ga.scale, gb.scale, ratio, zc, lo, hi, sc])
            } else {
                let ra = ga.scale / sc, rb = gb.scale / sc
                let fixed = zc - (ra * ga.zeroPoint + rb * gb.zeroPoint)
                let mode: Float = scalar(a) ? 1 : (scalar(b) ? 2 : 0)
                e.steps[k + 1] = .call2("qc_qladd", a, b, [ga.scale, ga.zeroPoint, gb.scale, gb.zeroPoint, ra, rb, fixed, mode, zc, lo, hi, sc])
            }
        }
    }
}
