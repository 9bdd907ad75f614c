import IR
import Interpreter
import XCTest

/// `Interpreter.run(reusing:overriding:outputs:)`: only nodes downstream of an
/// override run, everything else comes from the given cut.
final class PartialRunTests: XCTestCase {
    let x = ValueInfo(name: "x", type: .tensor(TensorType(.float32, [.symbolic("N"), .fixed(3)])))
    let w1: [Float] = [0.5, -1, 2, 1.5, 0.25, -0.75, -2, 1, 0.5]
    let feed = ["x": RTensor(floats: [1, -2, 3, 0.5, 4, -1], shape: [2, 3])]

    /// x → MatMul(W1) → h → Relu → r ─┐
    /// x → Neg → n ───────────────────┴→ Add → y;  n → Abs → s;  r → MatMul(Transpose(W2)) → z
    func model(w1: [Float]) -> Model {
        let nodes = [
            Node(name: "mm", opType: "MatMul", inputs: ["x", "W1"], outputs: ["h"]),
            Node(name: "relu", opType: "Relu", inputs: ["h"], outputs: ["r"]),
            Node(name: "neg", opType: "Neg", inputs: ["x"], outputs: ["n"]),
            Node(name: "add", opType: "Add", inputs: ["r", "n"], outputs: ["y"]),
            Node(name: "abs", opType: "Abs", inputs: ["n"], outputs: ["s"]),
            Node(name: "tr", opType: "Transpose", inputs: ["W2"], outputs: ["W2t"]),
            Node(name: "mm2", opType: "MatMul", inputs: ["r", "W2t"], outputs: ["z"]),
        ]
        var g = Graph(name: "g", inputs: [x], outputs: ["y", "s", "z"].map { ValueInfo(name: $0, type: nil) }, nodes: nodes)
        g.initializers["W1"] = RTensor(floats: w1, shape: [3, 3]).irTensor(name: "W1")
        g.initializers["W2"] = RTensor(floats: [1, 2, 3, 4, 5, 6], shape: [2, 3]).irTensor(name: "W2")
        return Model(opsetImports: [OpsetImport(domain: "", version: 17)], graph: g)
    }

    func cut(_ i: Interpreter) throws -> [String: RTensor] {
        var values = feed
        _ = try i.run(inputs: feed) { name, _, t in values[name] = t }
        return values
    }

    func testOverridingAWeightMatchesAFullRunOfTheChangedModel() throws {
        let i = try Interpreter(model: model(w1: w1), threads: 1)
        let known = try cut(i)
        let w1b = w1.map { $0 * 0.9 + 0.1 }
        let partial = try i.run(reusing: known, overriding: ["W1": RTensor(floats: w1b, shape: [3, 3])])
        let full = try Interpreter(model: model(w1: w1b), threads: 1).run(inputs: feed)
        for name in ["y", "s", "z"] {
            XCTAssertEqual(partial[name]?.array(Float.self), full[name]?.array(Float.self), name)
        }
        XCTAssertNotEqual(partial["y"]?.array(Float.self), known["y"]?.array(Float.self))
    }

    func testNodesNotDownstreamOfTheOverrideAreNotRerun() throws {
        let i = try Interpreter(model: model(w1: w1), threads: 1)
        var known = try cut(i)
        // A changed n in the cut shows in y: neg did not run again.
        known["n"] = RTensor(floats: [10, 20, 30, 40, 50, 60], shape: [2, 3])
        let h = RTensor(floats: [1, -1, 2, -2, 3, -3], shape: [2, 3])
        let out = try i.run(reusing: known, overriding: ["h": h], outputs: ["y", "s"])
        XCTAssertEqual(out["y"]?.array(Float.self), [11, 20, 32, 40, 53, 60])
        // s does not depend on h: it is the cut's value.
        XCTAssertEqual(out["s"]?.array(Float.self), known["s"]?.array(Float.self))
        XCTAssertEqual(Set(out.keys), ["y", "s"])
    }

    func testBadCutsAndOverridesAreTypedErrors() throws {
        let i = try Interpreter(model: model(w1: w1), threads: 1)
        var known = try cut(i)
        known["n"] = nil
        XCTAssertThrowsError(try i.run(reusing: known, overriding: ["W1": RTensor(floats: w1, shape: [3, 3])], outputs: ["y"])) {
            XCTAssertEqual("\($0)", "partial run: node 'add' (Add) reads 'n', which is neither recomputed nor among the given values")
        }
        XCTAssertThrowsError(try i.run(reusing: known, overriding: ["W9": RTensor(floats: w1, shape: [3, 3])])) {
            XCTAssertEqual("\($0)", "cannot override 'W9': the model has no initializer, input or node output of that name")
        }
        // W2 only feeds a Transpose folded at load.
        XCTAssertThrowsError(try i.run(reusing: known, overriding: ["W2": RTensor(floats: [0, 0, 0, 0, 0, 0], shape: [2, 3])])) {
            XCTAssertEqual("\($0)", "cannot override 'W2': it is read by nodes folded into constants when the model was loaded")
        }
    }
}
