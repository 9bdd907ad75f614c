import CKernels
@testable import Interpreter
import XCTest

/// The LSTM cell in C (vector lanes) is the Swift cell it replaced, bit for bit: its sigmoid
/// and tanh are Activation.sigmoid's and .vectorTanh's arithmetic, on ordinary and special
/// values, and the whole cell matches the Swift loop.
final class LSTMCellKernelTests: XCTestCase {
    func testSigmoidAndTanhAreTheSwiftOnesBitForBit() {
        var rng = SplitMix64(seed: 21)
        var xs: [Float] = [0, -0, 1e-30, -1e-30, 0.625, -0.625, 0.624_999_94, 87.336_54, -87.336_54, 88, -88, 89, -89, 1e30, -1e30,
                           .infinity, -.infinity, .nan, .leastNonzeroMagnitude, .greatestFiniteMagnitude]
        for _ in 0..<200_000 { xs.append(Float(Double(rng.next() % 4_000_001) / 100_000 - 20)) }
        var ys = [Float](repeating: 0, count: xs.count)
        qc_sigmoid_array(xs, &ys, xs.count)
        for (x, y) in zip(xs, ys) {
            XCTAssertEqual(y.bitPattern, Activation.sigmoid(x).bitPattern, "sigmoid(\(x)), array")
            XCTAssertEqual(qc_sigmoid(x).bitPattern, Activation.sigmoid(x).bitPattern, "sigmoid(\(x))")
            XCTAssertEqual(qc_tanh(x).bitPattern, Activation.vectorTanh(x).bitPattern, "tanh(\(x))")
        }
    }

    func testCellIsTheSwiftLoop() {
        var rng = SplitMix64(seed: 8)
        func values(_ n: Int, _ spread: Double) -> [Float] { (0..<n).map { _ in Float((Double(rng.next() % 2_000_001) / 1_000_000 - 1) * spread) } }
        for hidden in [1, 7, 16, 33, 512] {
            let xi = values(4 * hidden, 6), hi = values(4 * hidden, 3), wb = values(4 * hidden, 1), rb = values(4 * hidden, 1), cp = values(hidden, 2)
            var nc = [Float](repeating: 0, count: hidden), nh = nc
            qc_lstm_cell(hidden, xi, hi, wb, rb, cp, &nc, &nh)
            for j in 0..<hidden {
                let pi = xi[j] + hi[j] + wb[j] + rb[j]
                let po = xi[hidden + j] + hi[hidden + j] + wb[hidden + j] + rb[hidden + j]
                let pf = xi[2 * hidden + j] + hi[2 * hidden + j] + wb[2 * hidden + j] + rb[2 * hidden + j]
                let pc = xi[3 * hidden + j] + hi[3 * hidden + j] + wb[3 * hidden + j] + rb[3 * hidden + j]
                let cn = Activation.sigmoid(pf) * cp[j] + Activation.sigmoid(pi) * Activation.vectorTanh(pc)
                XCTAssertEqual(nc[j].bitPattern, cn.bitPattern, "hidden \(hidden), c[\(j)]")
                XCTAssertEqual(nh[j].bitPattern, (Activation.sigmoid(po) * Activation.vectorTanh(cn)).bitPattern, "hidden \(hidden), h[\(j)]")
            }
        }
    }
}

/// Add, Sub, Mul and Div in C are Swift's operators, element by element, bit for bit.
final class BinaryKernelTests: XCTestCase {
    func testElementwiseOperatorsAreSwiftsBitForBit() {
        var rng = SplitMix64(seed: 4)
        let specials: [Float] = [0, -0, .infinity, -.infinity, .nan, .leastNonzeroMagnitude, .greatestFiniteMagnitude, 1e-40]
        func value() -> Float { rng.next() % 5 == 0 ? specials[Int(rng.next() % UInt64(specials.count))] : Float(Double(rng.next() % 2_000_001) / 1000 - 1000) }
        let n = 1037
        let a = (0..<n).map { _ in value() }, b = (0..<n).map { _ in value() }
        let ops: [(Float, Float) -> Float] = [{ $0 + $1 }, { $0 - $1 }, { $0 * $1 }, { $0 / $1 }]
        for (code, f) in ops.enumerated() {
            for (sa, sb) in [(1, 1), (1, 0), (0, 1)] {
                var out = [Float](repeating: 0, count: n)
                qc_binary_f32(Int32(code), a, Int32(sa), b, Int32(sb), &out, n)
                for i in 0..<n {
                    let expected = f(a[i * sa], b[i * sb])
                    XCTAssertTrue(out[i].bitPattern == expected.bitPattern || (out[i].isNaN && expected.isNaN), "op \(code) \(sa)\(sb) at \(i)")
                }
            }
        }
    }
}

/// QuantizeLinear and DequantizeLinear in C are the Swift loops they replaced, bit for bit.
final class QuantizeKernelTests: XCTestCase {
    func testQuantizeAndDequantizeAreTheSwiftLoops() {
        var rng = SplitMix64(seed: 12)
        let specials: [Float] = [0, -0, .infinity, -.infinity, .nan, 1e30, -1e30, 0.5, -0.5, 1.5, 2.5, -2.5, 127.5, -128.5, 255.5]
        var x = specials
        for _ in 0..<5000 { x.append(Float(Double(rng.next() % 4_000_001) / 10_000 - 200)) }
        for (s, zp, lo, hi) in [(Float(0.5), Int32(0), Int32(-128), Int32(127)), (Float(0.013), 128, 0, 255), (Float(1), 3, 0, 255)] {
            var y = [UInt8](repeating: 0, count: x.count)
            qc_quantize_linear(x, x.count, s, zp, lo, hi, &y)
            for (i, v) in x.enumerated() {
                let t = v / s
                let c = t.isNaN ? 0 : min(max(t, -1024), 1024)
                let n = Int32(bitPattern: (c + 12_582_912).bitPattern) &- 0x4B40_0000
                XCTAssertEqual(y[i], UInt8(truncatingIfNeeded: min(max(n &+ zp, lo), hi)), "quantize(\(v)) scale \(s) zero point \(zp)")
            }
            var back = [Float](repeating: 0, count: y.count)
            let signed = lo < 0
            qc_dequantize_linear(y, y.count, signed ? 1 : 0, Float(zp), s, &back)
            for (i, q) in y.enumerated() {
                let expected = signed ? (Float(Int8(bitPattern: q)) - Float(zp)) * s : (Float(q) - Float(zp)) * s
                XCTAssertEqual(back[i].bitPattern, expected.bitPattern)
            }
        }
    }
}
