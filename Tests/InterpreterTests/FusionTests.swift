import IR
import Interpreter
import XCTest

/// The interpreter's load-time fusion (batch norms folded into convolutions,
/// elementwise chains run as epilogues) must compute what the unfused graph does.
final class FusionTests: XCTestCase {
    typealias K = LinearKit

    func constant(_ name: String, _ values: [Float], _ shape: [Int]) -> Tensor { Tensor(floats: values, shape: shape, name: name) }

    /// x → Conv → BatchNormalization → HardSwish written out (x·clip(x + 3, 0, 6) / 6) → ·sigmoid (SiLU)
    /// → per-channel Mul → + residual (another Conv) → Relu, and optionally a middle value as a graph output.
    func model(residualShape: [Int]? = nil, exposeMiddle: Bool = false) -> Model {
        let nodes = [
            Node(name: "conv", opType: "Conv", inputs: ["x", "w"], outputs: ["c"], attributes: [Attribute("pads", .ints([1, 1, 1, 1]))]),
            Node(name: "bn", opType: "BatchNormalization", inputs: ["c", "scale", "shift", "mean", "var"], outputs: ["b"]),
            Node(name: "add3", opType: "Add", inputs: ["b", "three"], outputs: ["a"]),
            Node(name: "clip", opType: "Clip", inputs: ["a", "zero", "six"], outputs: ["cl"]),
            Node(name: "mul", opType: "Mul", inputs: ["b", "cl"], outputs: ["m"]),
            Node(name: "div", opType: "Div", inputs: ["m", "six"], outputs: ["d"]),
            Node(name: "sig", opType: "Sigmoid", inputs: ["d"], outputs: ["s"]),
            Node(name: "silu", opType: "Mul", inputs: ["s", "d"], outputs: ["t"]),
            Node(name: "scale", opType: "Mul", inputs: ["t", "k"], outputs: ["u"]),
            Node(name: "conv2", opType: "Conv", inputs: ["x", "w2", "b2"], outputs: ["r"]),
            Node(name: "res", opType: "Add", inputs: [residualShape == nil ? "r" : "z", "u"], outputs: ["v"]),
            Node(name: "relu", opType: "Relu", inputs: ["v"], outputs: ["y"]),
        ]
        var inputs = [ValueInfo(name: "x", type: .tensor(TensorType(.float32, [.fixed(2), .fixed(4), .fixed(5), .fixed(6)])))]
        if let residualShape { inputs.append(ValueInfo(name: "z", type: .tensor(TensorType(.float32, residualShape.map { .fixed($0) })))) }
        var g = Graph(name: "g", inputs: inputs, outputs: (exposeMiddle ? ["y", "d"] : ["y"]).map { ValueInfo(name: $0, type: nil) },
                      nodes: nodes)
        let inits = [
            constant("w", K.random(6 * 4 * 9, seed: 1), [6, 4, 3, 3]),
            constant("w2", K.random(6 * 4, seed: 2), [6, 4, 1, 1]),
            constant("b2", K.random(6, seed: 3), [6]),
            constant("scale", K.random(6, seed: 4).map { 1 + $0 / 2 }, [6]),
            constant("shift", K.random(6, seed: 5), [6]),
            constant("mean", K.random(6, seed: 6), [6]),
            constant("var", K.random(6, seed: 7).map { 0.5 + abs($0) }, [6]),
            constant("k", K.random(6, seed: 8), [6, 1, 1]),
            constant("three", [3], []), constant("zero", [0], []), constant("six", [6], []),
        ]
        for t in inits { g.initializers[t.name] = t }
        return Model(opsetImports: [OpsetImport(domain: "", version: 17)], graph: g)
    }

    func run(_ m: Model, fuse: Bool, threads: Int, extra: [String: RTensor] = [:]) throws -> [String: RTensor] {
        let x = RTensor(floats: K.random(2 * 4 * 5 * 6, seed: 9).map { $0 * 4 }, shape: [2, 4, 5, 6])
        return try Interpreter(model: m, threads: threads, fuse: fuse).run(inputs: ["x": x].merging(extra) { a, _ in a })
    }

    func assertClose(_ a: RTensor?, _ b: RTensor?, tolerance: Float, file: StaticString = #filePath, line: UInt = #line) {
        guard let a, let b else { return XCTFail("missing output", file: file, line: line) }
        XCTAssertEqual(a.shape, b.shape, file: file, line: line)
        let x = a.array(Float.self), y = b.array(Float.self)
        let worst = zip(x, y).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? 0
        XCTAssertLessThanOrEqual(worst, tolerance, file: file, line: line)
    }

    func testFusedChainMatchesUnfusedGraph() throws {
        for threads in [1, 2] {
            let m = model()
            let fused = try run(m, fuse: true, threads: threads), plain = try run(m, fuse: false, threads: threads)
            // Only the batch-norm fold rounds differently.
            assertClose(fused["y"], plain["y"], tolerance: 1e-5)
            XCTAssertTrue(plain["y"]!.array(Float.self).contains { $0 > 0 })
        }
    }

    func testEpilogueWithoutBatchNormIsExact() throws {
        // Without the batch norm nothing is folded: the epilogue must be bit-identical.
        var m = model()
        m.graph.nodes.removeAll { $0.name == "bn" }
        for i in m.graph.nodes.indices { m.graph.nodes[i].inputs = m.graph.nodes[i].inputs.map { $0 == "b" ? "c" : $0 } }
        let fused = try run(m, fuse: true, threads: 2), plain = try run(m, fuse: false, threads: 2)
        XCTAssertEqual(fused["y"]?.array(Float.self), plain["y"]?.array(Float.self))
    }

    func testBroadcastResidualFallsBackToTheNodes() throws {
        let m = model(residualShape: [1, 6, 1, 1])
        let z = ["z": RTensor(floats: K.random(6, seed: 10), shape: [1, 6, 1, 1])]
        let fused = try run(m, fuse: true, threads: 2, extra: z), plain = try run(m, fuse: false, threads: 2, extra: z)
        assertClose(fused["y"], plain["y"], tolerance: 1e-5)
    }

    func testObserverSeesEveryValueUnlessItAsksForTheFusedGraph() throws {
        let i = try Interpreter(model: model(), threads: 2)
        let x = ["x": RTensor(floats: K.random(2 * 4 * 5 * 6, seed: 9).map { $0 * 4 }, shape: [2, 4, 5, 6])]
        var all: [String] = [], fused: [String] = []
        let viaObserver = try i.run(inputs: x) { name, _, _ in all.append(name) }
        _ = try i.run(inputs: x, observer: { name, _, _ in fused.append(name) }, observing: .fusedNodes)
        XCTAssertEqual(all, ["c", "b", "a", "cl", "m", "d", "s", "t", "u", "r", "v", "y"])
        XCTAssertEqual(fused, ["r", "y"])
        // Observed runs use the model's own graph: the same values as an unfused interpreter.
        XCTAssertEqual(viaObserver["y"]?.array(Float.self), try run(model(), fuse: false, threads: 2)["y"]?.array(Float.self))
    }

    func testGraphOutputsAreNotFusedAway() throws {
        let m = model(exposeMiddle: true)
        let fused = try run(m, fuse: true, threads: 2), plain = try run(m, fuse: false, threads: 2)
        assertClose(fused["d"], plain["d"], tolerance: 1e-5)
        assertClose(fused["y"], plain["y"], tolerance: 1e-5)
    }
}
