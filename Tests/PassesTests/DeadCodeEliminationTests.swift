import Foundation
import IR
import ONNX
import Passes
import XCTest

/// Golden-file tests: the printed IR before and after `dce` is compared with
/// Tests/Fixtures/golden/passes/dce.{before,after}.ir (QUANTC_UPDATE_GOLDEN=1 rewrites).
final class DeadCodeEliminationTests: XCTestCase {
    /// A graph with a dead chain (b, c), an unused initializer, a dead node in
    /// an If branch and a value the branch captures from outside (kept).
    func model() -> Model {
        let f = TensorType(.float32, fixed: [2])
        let then = Graph(name: "then", outputs: [ValueInfo(name: "t", type: .tensor(f))], nodes: [
            Node(name: "dead_inner", opType: "Exp", inputs: ["x"], outputs: ["unused_inner"]),
            Node(name: "t_neg", opType: "Neg", inputs: ["captured"], outputs: ["t"]),
        ])
        let els = Graph(name: "else", outputs: [ValueInfo(name: "e", type: .tensor(f))], nodes: [
            Node(name: "e_id", opType: "Identity", inputs: ["x"], outputs: ["e"]),
        ])
        return Model(graph: Graph(
            name: "dce_case",
            inputs: [ValueInfo(name: "x", type: .tensor(f)), ValueInfo(name: "cond", type: .tensor(TensorType(.bool, fixed: [])))],
            outputs: [ValueInfo(name: "y", type: .tensor(f))],
            valueInfo: ["c_out": ValueInfo(name: "c_out", type: .tensor(f))],
            initializers: ["w": Tensor(floats: [1, 2], shape: [2], name: "w"),
                           "unused_w": Tensor(floats: [3, 4], shape: [2], name: "unused_w")],
            nodes: [
                Node(name: "a", opType: "Add", inputs: ["x", "w"], outputs: ["captured"]),
                Node(name: "b", opType: "Relu", inputs: ["x"], outputs: ["b_out"]),
                Node(name: "c", opType: "Mul", inputs: ["b_out", "unused_w"], outputs: ["c_out"]),
                Node(name: "if", opType: "If", inputs: ["cond"], outputs: ["y"],
                     attributes: [Attribute("then_branch", .graph(then)), Attribute("else_branch", .graph(els))]),
            ]))
    }

    func testRemovesDeadNodesInitializersAndValueInfo() throws {
        var m = model()
        try Verifier.verify(m)
        try assertGolden(Printer.print(m), "dce.before.ir")
        var manager = PassManager(passes: try PassRegistry.pipeline("dce"))
        try manager.run(on: &m)
        try assertGolden(Printer.print(m), "dce.after.ir")
        XCTAssertEqual(m.graph.nodes.map(\.name), ["a", "if"])
        XCTAssertEqual(Array(m.graph.initializers.keys), ["w"])
        XCTAssertTrue(m.graph.valueInfo.isEmpty)
        let stats = manager.context.statistics.map { "\($0.name)=\($0.value)" }
        XCTAssertEqual(stats, ["nodes removed=3", "initializers removed=1"])
    }

    func testPrintIRAfterAndVerification() throws {
        var m = model()
        var printed: [String] = []
        var manager = PassManager(passes: try PassRegistry.pipeline("dce"))
        manager.printIRAfter = ["dce"]
        manager.irOutput = { printed.append($0) }
        try manager.run(on: &m)
        XCTAssertEqual(printed.count, 1)
        XCTAssertTrue(printed[0].hasPrefix("// IR after dce\nmodel ir=8"))
    }

    func testBundledModelHasNothingDead() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("models/digits_mlp.onnx").path
        var m = try ONNXImporter.importModel(at: path)
        let before = m
        var manager = PassManager(passes: try PassRegistry.pipeline("dce"))
        try manager.run(on: &m)
        XCTAssertEqual(m, before)
    }
}
