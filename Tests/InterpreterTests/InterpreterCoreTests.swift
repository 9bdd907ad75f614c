import IR
import Interpreter
import ONNX
import XCTest

final class InterpreterCoreTests: XCTestCase {
    func model(_ nodes: [Node], inputs: [ValueInfo], outputs: [String], initializers: [Tensor] = [], opset: Int64 = 17) -> Model {
        var g = Graph(name: "g", inputs: inputs, outputs: outputs.map { ValueInfo(name: $0, type: nil) }, nodes: nodes)
        for t in initializers { g.initializers[t.name] = t }
        return Model(opsetImports: [OpsetImport(domain: "", version: opset)], graph: g)
    }

    let x = ValueInfo(name: "x", type: .tensor(TensorType(.float32, [.symbolic("N"), .fixed(3)])))

    func testUnsupportedOperatorIsReportedBeforeCompute() {
        let m = model([Node(name: "weird", opType: "FancyOp", domain: "com.example", inputs: ["x"], outputs: ["y"])], inputs: [x], outputs: ["y"])
        XCTAssertThrowsError(try Interpreter(model: m)) {
            XCTAssertEqual("\($0)", "unsupported operator FancyOp (domain 'com.example', opset 17) at node 'weird' (FancyOp)")
        }
    }

    func testInputsAreCheckedAgainstDeclaredTypes() throws {
        let m = model([Node(name: "r", opType: "Relu", inputs: ["x"], outputs: ["y"])], inputs: [x], outputs: ["y"])
        let i = try Interpreter(model: m)
        XCTAssertThrowsError(try i.run(inputs: ["x": RTensor(floats: [1, 2, 3, 4], shape: [2, 2])])) {
            XCTAssertEqual("\($0)", "input 'x': expected f32[N,3], given f32[2,2]")
        }
        XCTAssertThrowsError(try i.run(inputs: ["x": RTensor(.int64, shape: [1, 3], values: [Int64(1), 2, 3])])) {
            XCTAssertEqual("\($0)", "input 'x': expected f32[N,3], given i64[1,3]")
        }
        XCTAssertThrowsError(try i.run(inputs: [:])) { XCTAssertEqual("\($0)", "input 'x' (f32[N,3]) is not given") }
        XCTAssertThrowsError(try i.run(inputs: ["x": RTensor(floats: [1, 2, 3], shape: [1, 3]), "z": RTensor(floats: [1], shape: [1])])) {
            XCTAssertEqual("\($0)", "the model has no input 'z'; its inputs are: x")
        }
    }

    func testObserverSeesAndReplacesValuesAndMemoryIsReleased() throws {
        let m = model([
            Node(name: "a", opType: "Relu", inputs: ["x"], outputs: ["h1"]),
            Node(name: "b", opType: "Neg", inputs: ["h1"], outputs: ["h2"]),
            Node(name: "c", opType: "Abs", inputs: ["h2"], outputs: ["y"]),
        ], inputs: [x], outputs: ["y"])
        let i = try Interpreter(model: m)
        var seen: [String] = []
        let out = try i.run(inputs: ["x": RTensor(floats: [-1, 2, -3, 4, -5, 6], shape: [2, 3])]) { name, _, t in
            seen.append(name)
            if name == "h1" { t = RTensor(floats: [Float](repeating: 7, count: 6), shape: [2, 3]) }
        }
        XCTAssertEqual(seen, ["h1", "h2", "y"])
        XCTAssertEqual(out["y"]?.array(Float.self), [7, 7, 7, 7, 7, 7])
        // h1 is released once b has read it, so at most two 24-byte buffers live at once.
        XCTAssertEqual(i.peakActivationBytes, 48)
    }

    func testOldClipAttributesBecomeInputs() throws {
        let clip = Node(name: "clip", opType: "Clip", inputs: ["x"], outputs: ["y"],
                        attributes: [Attribute("min", .float(-1)), Attribute("max", .float(2))])
        let i = try Interpreter(model: model([clip], inputs: [x], outputs: ["y"], opset: 6))
        let out = try i.run(inputs: ["x": RTensor(floats: [-5, 0, 5], shape: [1, 3])])
        XCTAssertEqual(out["y"]?.array(Float.self), [-1, 0, 2])
    }

    func testCastFollowsONNXSemantics() {
        let t = RTensor(floats: [-1.7, 2.5, 300, .nan], shape: [4])
        XCTAssertEqual(t.converted(to: .int32).array(Int32.self)[0...2], [-1, 2, 300])
        XCTAssertEqual(t.converted(to: .bool).array(UInt8.self), [1, 1, 1, 1])
        XCTAssertEqual(RTensor(.int32, shape: [2], values: [Int32(257), -1]).converted(to: .uint8).array(UInt8.self), [1, 255])
        XCTAssertEqual(t.converted(to: .float16).floatArray()[0...2], [-1.7001953, 2.5, 300])
    }
}
