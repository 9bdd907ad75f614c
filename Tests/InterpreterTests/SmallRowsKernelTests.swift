import Foundation
import IR
@testable import Interpreter
import XCTest

/// Gemm of a few rows against a large transposed weight (CKernels/gemm_nt.c, on AVX-512
/// machines): the float64 product within float32 rounding, alpha and beta applied, tails of
/// rows, weight rows and k handled, and the same bits on any thread count.
final class SmallRowsKernelTests: XCTestCase {
    func testGemmOfFewRowsAgainstALargeWeight() throws {
        try XCTSkipUnless(Blas.smallRowsKernel, "the AVX-512 kernel does not run on this machine")
        var seed: UInt64 = 0x5EED
        func next() -> Float {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: seed >> 11) % 2001 - 1000) / 1000
        }
        // Each of at least 2^20 weights, so that the kernel takes it.
        for (m, n, k) in [(25, 2050, 1024), (3, 1031, 1100), (64, 4096, 257)] {
            XCTAssertGreaterThanOrEqual(n * k, 1 << 20)
            let a = (0..<(m * k)).map { _ in next() }, b = (0..<(n * k)).map { _ in next() }, bias = (0..<n).map { _ in next() }
            let x = ValueType.tensor(TensorType(.float32, [.fixed(m), .fixed(k)]))
            var g = Graph(name: "g", inputs: [ValueInfo(name: "a", type: x)], outputs: [ValueInfo(name: "y", type: nil)], nodes: [
                Node(name: "fc", opType: "Gemm", inputs: ["a", "B", "C"], outputs: ["y"],
                     attributes: [Attribute("transB", .int(1)), Attribute("alpha", .float(0.5)), Attribute("beta", .float(2))]),
            ])
            g.initializers["B"] = Tensor(floats: b, shape: [n, k], name: "B")
            g.initializers["C"] = Tensor(floats: bias, shape: [n], name: "C")
            let model = Model(opsetImports: [OpsetImport(domain: "", version: 13)], graph: g)
            let feed = ["a": RTensor(floats: a, shape: [m, k])]
            let one = try Interpreter(model: model, threads: 1).run(inputs: feed)["y"]!.floatArray()
            let two = try Interpreter(model: model, threads: 2).run(inputs: feed)["y"]!.floatArray()
            XCTAssertEqual(one, two, "\(m)x\(n)x\(k): thread count changed bits")
            var worst = 0.0
            for i in 0..<m {
                for j in 0..<n {
                    var s = 0.0, magnitude = 0.0
                    for p in 0..<k {
                        s += Double(a[i * k + p]) * Double(b[j * k + p])
                        magnitude += abs(Double(a[i * k + p]) * Double(b[j * k + p]))
                    }
                    let expected = 0.5 * s + 2 * Double(bias[j])
                    worst = max(worst, abs(Double(one[i * n + j]) - expected) / (magnitude + 1))
                }
            }
            XCTAssertLessThan(worst, 1e-6, "\(m)x\(n)x\(k)")
        }
    }
}
