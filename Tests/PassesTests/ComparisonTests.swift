import Foundation
import IR
import Interpreter
import Passes
import XCTest

/// ModelComparison: the same figures whatever the thread count, and with the float outputs
/// kept across comparisons (the Pareto sweep's ``FloatOutputs``) as without them.
final class ComparisonTests: XCTestCase {
    func testFloatOutputsKeptGiveTheSameFigures() throws {
        let model = try GPTQTests.load("digits_cnn")
        let test = try SampleSource(folder: GPTQTests.root.appendingPathComponent("models/digits/test_x_img.npy").path,
                                    inputs: model.graph.runtimeInputs)
        var figures: [String] = []
        let kept = FloatOutputs()
        for pipeline in ["quantize(weights=int8)", "quantize(weights=int4,group=32)"] {
            let (q, _) = try GPTQTests.run("canonicalize,calibrate(method=percentile),\(pipeline),insert-qdq", on: model, calibration: "calib_x_img.npy")
            func describe(_ c: ModelComparison) -> String {
                c.outputs.keys.sorted().map { "\($0) \(c.outputs[$0]!.sqnr) \(c.outputs[$0]!.cosine) \(c.top1[$0].map { "\($0.agree)/\($0.total)" } ?? "")" }
                    .joined(separator: "; ")
            }
            let plain = try ModelComparison.run(float: model, quantized: q, feed: .files(test), watch: [], batch: 64, limit: 300, threads: 1)
            let side = try ModelComparison.run(float: model, quantized: q, feed: .files(test), watch: [], batch: 64, limit: 300, threads: 2)
            let cached = try ModelComparison.run(float: model, quantized: q, feed: .files(test), watch: [], batch: 64, limit: 300, threads: 2,
                                                 floatOutputs: kept)
            XCTAssertEqual(describe(side), describe(plain), pipeline)
            XCTAssertEqual(describe(cached), describe(plain), pipeline)
            XCTAssertEqual(cached.samples, 300)
            figures.append(describe(plain))
        }
        XCTAssertNotEqual(figures[0], figures[1], "int8 and int4 models compare differently")
        // Kept outputs of another feed length are refused, not misused.
        let (q, _) = try GPTQTests.run("canonicalize,calibrate(method=percentile),quantize(weights=int8),insert-qdq", on: model, calibration: "calib_x_img.npy")
        XCTAssertThrowsError(try ModelComparison.run(float: model, quantized: q, feed: .files(test), watch: [], batch: 64, limit: 400,
                                                     threads: 2, floatOutputs: kept))
    }

    /// Kept outputs are matched to batches by the batch's sample count, not by the outputs'
    /// leading dimension, which need not be the batch (here it is the 4 features).
    func testFloatOutputsOfOutputsThatDoNotLeadWithTheBatch() throws {
        let x = ValueType.tensor(TensorType(.float32, [.symbolic("N"), .fixed(4)]))
        let g = Graph(name: "g", inputs: [ValueInfo(name: "x", type: x)], outputs: [ValueInfo(name: "y", type: nil)], nodes: [
            Node(name: "t", opType: "Transpose", inputs: ["x"], outputs: ["y"], attributes: [Attribute("perm", .ints([1, 0]))]),
        ])
        let model = Model(opsetImports: [OpsetImport(domain: "", version: 13)], graph: g)
        let kept = FloatOutputs()
        for _ in 0..<2 {
            let c = try ModelComparison.run(float: model, quantized: model, feed: .random(count: 40, seed: 7), watch: [], batch: 16,
                                            threads: 2, floatOutputs: kept)
            XCTAssertEqual(c.samples, 40)
            XCTAssertEqual(c.outputs["y"]?.cosine ?? 0, 1, accuracy: 1e-12)
        }
    }

    /// CandidateSelection runs the float model and each candidate as jobs of their own: the
    /// scores are the same on one thread as on two or three, and tell the candidates apart.
    func testCandidateScoresDoNotDependOnThreads() throws {
        let model = try GPTQTests.load("digits_cnn")
        let test = try SampleSource(folder: GPTQTests.root.appendingPathComponent("models/digits/test_x_img.npy").path,
                                    inputs: model.graph.runtimeInputs)
        let candidates = try ["quantize(weights=int8)", "quantize(weights=int4,group=32)"].map { q in
            (name: q, model: try GPTQTests.run("canonicalize,calibrate(method=percentile),\(q),insert-qdq", on: model,
                                              calibration: "calib_x_img.npy").0)
        }
        func describe(_ threads: Int) throws -> [String] {
            try CandidateSelection.score(float: model, candidates: candidates, feed: .files(test), batch: 64, limit: 300,
                                         threads: threads).map { "\($0.name) \($0.sqnr) \($0.top1 ?? -1)" }
        }
        let one = try describe(1)
        XCTAssertEqual(try describe(2), one)
        XCTAssertEqual(try describe(3), one)
        XCTAssertNotEqual(one[0].split(separator: " ")[1], one[1].split(separator: " ")[1], "int8 and int4 score differently")
    }
}
