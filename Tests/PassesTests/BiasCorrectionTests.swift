import IR
import Interpreter
import Passes
import XCTest

/// `bias-correct` removes the mean output shift that round-to-nearest weights cause.
final class BiasCorrectionTests: XCTestCase {
    /// x → Relu → Gemm(W, b): every input has mean 0.25 > 0, and in each row of W the
    /// largest weight (1.27) sets the scale 0.01 so that the 63 small weights (±0.0049)
    /// all round to 0, which shifts channel c's output by ∓0.0049 · 63 · 0.25 ≈ ∓0.077.
    static func model() -> Model {
        let inputs = 64, channels = 4
        var w = [Float](repeating: 0, count: channels * inputs)
        for c in 0..<channels {
            w[c * inputs] = 1.27
            for i in 1..<inputs { w[c * inputs + i] = c % 2 == 0 ? 0.0049 : -0.0049 }
        }
        let x = ValueType.tensor(TensorType(.float32, [.symbolic("N"), .fixed(inputs)]))
        var g = Graph(name: "g", inputs: [ValueInfo(name: "x", type: x)], outputs: [ValueInfo(name: "y", type: nil)], nodes: [
            Node(name: "relu", opType: "Relu", inputs: ["x"], outputs: ["r"]),
            Node(name: "fc", opType: "Gemm", inputs: ["r", "W", "b"], outputs: ["y"], attributes: [Attribute("transB", .int(1))]),
        ])
        g.initializers["W"] = Tensor(floats: w, shape: [channels, inputs], name: "W")
        g.initializers["b"] = Tensor(floats: [0.1, -0.2, 0.3, 0], shape: [channels], name: "b")
        return Model(opsetImports: [OpsetImport(domain: "", version: 13)], graph: g)
    }

    func quantized(_ pipeline: String) throws -> Model {
        var m = Self.model()
        var manager = PassManager(passes: try PassRegistry.pipeline(pipeline))
        manager.context.randomSamples = 256
        manager.context.threads = 1
        try manager.run(on: &m)
        return m
    }

    /// Mean over held-out random samples of the quantized output minus the float one, per channel.
    func meanShift(_ q: Model) throws -> [Double] {
        let f = try Interpreter(model: Self.model(), threads: 1), qi = try Interpreter(model: q, threads: 1)
        var sums = [Double](repeating: 0, count: 4), rows = 0
        try SampleFeed.random(count: 1024, seed: 0x7E57).forEachBatch(inputs: f.inputs, batch: 128) { feed in
            let a = try f.run(inputs: feed)["y"]!.floatArray(), b = try qi.run(inputs: feed)["y"]!.floatArray()
            for i in a.indices { sums[i % 4] += Double(b[i] - a[i]) }
            rows += a.count / 4
        }
        return sums.map { $0 / Double(rows) }
    }

    func testBiasCorrectionRemovesTheMeanShiftOfRoundedWeights() throws {
        let rtn = try quantized("calibrate(method=minmax),quantize,insert-qdq")
        let corrected = try quantized("calibrate(method=minmax),quantize,bias-correct(samples=256,batch=64),insert-qdq")
        let before = try meanShift(rtn), after = try meanShift(corrected)
        for c in 0..<4 {
            // RTN biases every channel by about ∓0.077 (sign alternating with c) ...
            XCTAssertGreaterThan(abs(before[c]), 0.05, "channel \(c): \(before)")
            XCTAssertEqual(before[c] < 0, c % 2 == 0, "channel \(c): \(before)")
            // ... and the correction, measured on other samples, removes nearly all of it.
            XCTAssertLessThan(abs(after[c]), 0.1 * abs(before[c]), "channel \(c): before \(before), after \(after)")
        }
        let norm = try XCTUnwrap(corrected.quantization.layer(named: "fc")?.metrics["bias-correction"])
        XCTAssertEqual(norm, 0.077 * 2, accuracy: 0.03)
        XCTAssertNil(rtn.quantization.layer(named: "fc")?.metrics["bias-correction"])
    }

    func testBiasCorrectionNeedsQuantizeFirst() throws {
        var m = Self.model()
        var manager = PassManager(passes: try PassRegistry.pipeline("calibrate(method=minmax),bias-correct"))
        manager.context.randomSamples = 16
        XCTAssertThrowsError(try manager.run(on: &m)) { XCTAssertTrue("\($0)".contains("run 'quantize' before 'bias-correct'"), "\($0)") }
        XCTAssertThrowsError(try PassRegistry.pipeline("bias-correct(samples=0)")) { XCTAssertTrue("\($0)".contains("samples must be at least 1"), "\($0)") }
    }
}
