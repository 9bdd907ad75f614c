import Foundation
import IR
@testable import Interpreter
import XCTest

/// The kernels products and recurrent cells run on: OpenBLAS's kernel set, the
/// vectorized activations, and the LSTM's directions on separate threads.
final class KernelSelectionTests: XCTestCase {
    /// On a CPU with AVX2 or AVX-512 OpenBLAS must not run its SSE3 (Prescott)
    /// kernels, which it falls back to for CPU models its table lacks.
    func testOpenBLASRunsTheVectorKernelsTheCPUHas() throws {
        guard Blas.cpuVectorLevel > 0 else { throw XCTSkip("no AVX2 on this CPU") }
        guard ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] == nil else { throw XCTSkip("OPENBLAS_CORETYPE is set") }
        let name = Blas.kernels.lowercased()
        XCTAssert(["haswell", "zen", "excavator", "skylakex", "cooperlake", "sapphirerapids"].contains(name),
                  "OpenBLAS runs \(Blas.kernels)'s kernels on a CPU with \(Blas.cpuVectorLevel == 2 ? "AVX-512" : "AVX2")")
        if Blas.cpuVectorLevel == 2 { XCTAssertNotEqual(name, "haswell") }
        // Products are still right after the re-selection.
        let a = LinearKit.random(37 * 53, seed: 1), b = LinearKit.random(53 * 29, seed: 2)
        let y = try LinearKit.run("MatMul", inputs: [("a", RTensor(floats: a, shape: [37, 53])), ("b", RTensor(floats: b, shape: [53, 29]))])[0]
        let got = y.array(Float.self)
        for i in 0..<37 {
            for j in 0..<29 {
                var acc = 0.0
                for k in 0..<53 { acc += Double(a[i * 53 + k]) * Double(b[k * 29 + j]) }
                XCTAssertEqual(Double(got[i * 29 + j]), acc, accuracy: 1e-4)
            }
        }
    }

    func testVectorizedTanhAndSigmoidAreWithinAFewUlp() {
        var worstTanh: Float = 0, worstSigmoid: Float = 0
        var x: Float = -20
        while x <= 20 {
            for v in [x, x * 1e-3, x * 1e-6] {
                let t = Foundation.tanh(v), s = 1 / (1 + Foundation.exp(-v))
                worstTanh = max(worstTanh, abs(Activation.vectorTanh(v) - t) / max(abs(t).ulp, Float.leastNormalMagnitude))
                worstSigmoid = max(worstSigmoid, abs(Activation.sigmoid(v) - s) / s.ulp)
            }
            x += 0.001
        }
        XCTAssertLessThanOrEqual(worstTanh, 4, "tanh ulp error")
        XCTAssertLessThanOrEqual(worstSigmoid, 4, "sigmoid ulp error")
        XCTAssertEqual(Activation.vectorTanh(.infinity), 1)
        XCTAssertEqual(Activation.vectorTanh(-.infinity), -1)
        XCTAssert(Activation.vectorTanh(.nan).isNaN)
        XCTAssertEqual(Activation.vectorTanh(0), 0)
    }

    /// A bidirectional LSTM gives the same bits on 1 and 2 threads (one direction per
    /// thread) and matches the equations of Operators.md computed here in double.
    func testBidirectionalLSTMOnOneAndTwoThreads() throws {
        let seq = 5, batch = 1, input = 7, hidden = 6, gh = 4 * hidden
        let x = LinearKit.random(seq * batch * input, seed: 3)
        let w = LinearKit.random(2 * gh * input, seed: 4), r = LinearKit.random(2 * gh * hidden, seed: 5)
        let b = LinearKit.random(2 * 2 * gh, seed: 6)
        func run(_ threads: Int) throws -> [RTensor] {
            try LinearKit.run("LSTM", inputs: [("x", RTensor(floats: x, shape: [seq, batch, input]))], outputs: ["y", "yh", "yc"],
                              attributes: [Attribute("direction", .string("bidirectional")), LinearKit.int("hidden_size", hidden)],
                              initializers: [("w", RTensor(floats: w, shape: [2, gh, input])), ("r", RTensor(floats: r, shape: [2, gh, hidden])),
                                             ("b", RTensor(floats: b, shape: [2, 2 * gh]))], threads: threads)
        }
        let one = try run(1), two = try run(2)
        for (a, c) in zip(one, two) { XCTAssertEqual(a.array(Float.self), c.array(Float.self)) }
        // Reference: gates i, o, f, c (ONNX order), sigmoid/tanh/tanh.
        func sig(_ v: Double) -> Double { 1 / (1 + Foundation.exp(-v)) }
        let y = one[0].array(Float.self)
        for d in 0..<2 {
            var h = [Double](repeating: 0, count: hidden), c = h
            for step in 0..<seq {
                let t = d == 0 ? step : seq - 1 - step
                var pre = [Double](repeating: 0, count: gh)
                for g in 0..<gh {
                    var acc = Double(b[d * 2 * gh + g]) + Double(b[d * 2 * gh + gh + g])
                    for k in 0..<input { acc += Double(w[(d * gh + g) * input + k]) * Double(x[t * input + k]) }
                    for k in 0..<hidden { acc += Double(r[(d * gh + g) * hidden + k]) * h[k] }
                    pre[g] = acc
                }
                for j in 0..<hidden {
                    let i = sig(pre[j]), o = sig(pre[hidden + j]), f = sig(pre[2 * hidden + j]), g = Foundation.tanh(pre[3 * hidden + j])
                    c[j] = f * c[j] + i * g
                    h[j] = o * Foundation.tanh(c[j])
                    XCTAssertEqual(Double(y[(t * 2 + d) * hidden + j]), h[j], accuracy: 1e-5)
                }
            }
        }
    }
}
