import Foundation
import IR
import Interpreter
import ONNX
import Passes
import XCTest

/// Golden-file tests of the canonicalization passes, plus checks that the
/// rewritten model computes the same outputs on the interpreter.
final class CanonicalizeTests: XCTestCase {
    /// Runs `pipeline`, comparing printed IR before and after with golden files
    /// `<name>.before.ir` / `<name>.after.ir`, and checks the outputs agree on `inputs`.
    func check(_ model: Model, pipeline: String, name: String, inputs: [String: RTensor], tolerance: Float = 0) throws -> Model {
        var m = model
        try Verifier.verify(m)
        try assertGolden(Printer.print(m), "\(name).before.ir")
        var manager = PassManager(passes: try PassRegistry.pipeline(pipeline))
        try manager.run(on: &m)
        try assertGolden(Printer.print(m), "\(name).after.ir")
        let before = try Interpreter(model: model).run(inputs: inputs)
        let after = try Interpreter(model: m).run(inputs: inputs)
        for o in model.graph.outputs {
            let a = try XCTUnwrap(before[o.name]).floatArray(), b = try XCTUnwrap(after[o.name]).floatArray()
            XCTAssertEqual(a.count, b.count)
            for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: tolerance * max(1, abs(x)), o.name) }
        }
        return m
    }

    let f3 = ValueType.tensor(TensorType(.float32, fixed: [1, 3]))

    func testRemoveIdentityRewiresReadersAndKeepsTheInterface() throws {
        let g = Graph(name: "identity_case", inputs: [ValueInfo(name: "x", type: f3)],
                      outputs: [ValueInfo(name: "out", type: f3), ValueInfo(name: "x_copy", type: f3)], nodes: [
            Node(name: "id1", opType: "Identity", inputs: ["x"], outputs: ["a"]),
            Node(name: "relu", opType: "Relu", inputs: ["a"], outputs: ["b"]),
            Node(name: "drop", opType: "Dropout", inputs: ["b"], outputs: ["c"]),
            Node(name: "neg", opType: "Neg", inputs: ["c"], outputs: ["d"]),
            Node(name: "id_out", opType: "Identity", inputs: ["d"], outputs: ["out"]),
            Node(name: "id_input", opType: "Identity", inputs: ["x"], outputs: ["x_copy"]),
        ])
        let m = try check(Model(graph: g), pipeline: "remove-identity", name: "remove-identity",
                          inputs: ["x": RTensor(floats: [-1, 0, 2], shape: [1, 3])])
        XCTAssertEqual(m.graph.nodes.map(\.name), ["relu", "neg", "id_input"])
        XCTAssertEqual(m.graph.nodes[1].outputs, ["out"])
    }

    func testConstantNodesBecomeInitializersAndConstantChainsFold() throws {
        let g = Graph(name: "fold_case", inputs: [ValueInfo(name: "x", type: f3)],
                      outputs: [ValueInfo(name: "y", type: f3)],
                      initializers: ["ka_max": Tensor(floats: [2], shape: [], name: "ka_max")], nodes: [
            Node(name: "c", opType: "Constant", inputs: [], outputs: ["k"], attributes: [Attribute("value_floats", .floats([1, -2, 3]))]),
            Node(name: "kneg", opType: "Neg", inputs: ["k"], outputs: ["kn"]),
            Node(name: "kabs", opType: "Abs", inputs: ["kn"], outputs: ["ka"]),
            Node(name: "clip", opType: "Clip", inputs: ["x", "", "ka_max"], outputs: ["y"]),
        ])
        var model = Model(graph: g)
        // Read the folded value through a second output so it stays live.
        model.graph.nodes.append(Node(name: "use", opType: "Relu", inputs: ["ka"], outputs: ["z"]))
        model.graph.outputs.append(ValueInfo(name: "z", type: nil))
        let m = try check(model, pipeline: "fold-constants,dce", name: "fold-constants",
                          inputs: ["x": RTensor(floats: [-5, 1, 5], shape: [1, 3])])
        XCTAssertEqual(m.graph.nodes.map(\.name), ["clip", "use"])
        XCTAssertEqual(m.graph.initializers["ka"]?.floatValues(), [1, 2, 3])
    }

    func testBundledMLPIsAlreadyCanonical() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("models/digits_mlp.onnx").path
        var m = try ONNXImporter.importModel(at: path)
        let before = m
        var manager = PassManager(passes: try PassRegistry.pipeline("canonicalize"))
        try manager.run(on: &m)
        XCTAssertEqual(m, before)
    }
}
