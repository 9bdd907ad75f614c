import Foundation
import IR
@testable import Interpreter
import ONNX
import XCTest

/// quantc's simulation of a QDQ model must produce the bytes ONNX Runtime produces
/// (its default session fuses the QDQ patterns into integer operators). The fixtures in
/// Tests/Fixtures/qdq are small QDQ models with ORT's outputs (tools/make_qdq_fixtures.py);
/// `ties` is built so that float DQ → Conv → Q rounds 222 of its 1,600 outputs
/// differently from ORT, which the unfused run below shows.
final class QDQFusionTests: XCTestCase {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/qdq")

    func load(_ name: String) throws -> (model: Model, inputs: [String: RTensor], expected: [String: RTensor]) {
        let model = try ONNXImporter.importModel(at: Self.folder.appendingPathComponent("\(name).onnx").path)
        func read(_ kind: String, _ value: String) throws -> RTensor {
            RTensor(try NumpyFile.read(Self.folder.appendingPathComponent("\(name).\(kind).\(value).npy").path))
        }
        let inputs = try Dictionary(uniqueKeysWithValues: model.graph.inputs.map { ($0.name, try read("in", $0.name)) })
        let expected = try Dictionary(uniqueKeysWithValues: model.graph.outputs.map { ($0.name, try read("out", $0.name)) })
        return (model, inputs, expected)
    }

    /// Outputs whose bytes differ from ORT's, with how many elements differ.
    func mismatches(_ name: String, fuse: Bool = true, threads: Int = 2) throws -> [String: Int] {
        let (model, inputs, expected) = try load(name)
        let got = try Interpreter(model: model, threads: threads, fuse: fuse).run(inputs: inputs)
        var bad: [String: Int] = [:]
        for (k, e) in expected {
            guard let g = got[k], g.type == e.type, g.shape == e.shape else { bad[k] = -1; continue }
            let a = UnsafeRawBufferPointer(start: g.buffer.pointer, count: g.byteCount)
            let b = UnsafeRawBufferPointer(start: e.buffer.pointer, count: e.byteCount)
            let size = RTensor.stride(of: e.type)
            let n = (0..<e.count).filter { i in !(0..<size).allSatisfy { a[i * size + $0] == b[i * size + $0] } }.count
            if n > 0 { bad[k] = n }
        }
        return bad
    }

    func testConvolutionsMatchOnnxRuntime() throws {
        XCTAssertEqual(try mismatches("conv"), [:])
        XCTAssertEqual(try mismatches("conv", threads: 1), [:])
    }

    func testRoundingTiesMatchOnnxRuntime() throws {
        XCTAssertEqual(try mismatches("ties"), [:])
        // The float path (the model as written) does not: the fixture tells them apart.
        XCTAssertGreaterThan(try mismatches("ties", fuse: false)["y0"] ?? 0, 100)
    }

    func testAddMulAndAveragePoolMatchOnnxRuntime() throws {
        XCTAssertEqual(try mismatches("binary"), [:])
    }

    func testGemmAndMatMulMatchOnnxRuntime() throws {
        XCTAssertEqual(try mismatches("linear"), [:])
    }

    /// The patterns become ORT's operators; DQ nodes nothing else reads go.
    func testPatternsAreRewritten() throws {
        for (name, ops) in [("conv", ["QLinearConv"]), ("binary", ["QLinearAdd", "QLinearMul", "QLinearGlobalAveragePool"]),
                            ("linear", ["QGemm", "QLinearMatMul"])] {
            let model = try load(name).model
            var fusion = QDQFusion(nodes: model.graph.nodes, constants: Dictionary(uniqueKeysWithValues: model.graph.initializers.map { ($0.key, RTensor($0.value)) }),
                                   outputs: Set(model.graph.outputs.map(\.name)), folded: [:])
            fusion.run()
            let types = Set(fusion.nodes.map(\.opType))
            for op in ops { XCTAssertTrue(types.contains(op), "\(name): no \(op) in \(types.sorted())") }
            for op in ["Conv", "Gemm", "MatMul", "Add", "Mul", "GlobalAveragePool"] {
                XCTAssertFalse(types.contains(op), "\(name): \(op) left unfused")
            }
            // The fused nodes read the inputs' QuantizeLinear outputs; no DQ is left.
            XCTAssertEqual(fusion.nodes.filter { $0.opType == "QuantizeLinear" }.count, model.graph.inputs.count, name)
            XCTAssertFalse(types.contains("DequantizeLinear"), name)
        }
    }

    /// A float model has nothing to fuse and is left exactly as it is.
    func testFloatGraphUntouched() {
        let nodes = [Node(name: "conv", opType: "Conv", inputs: ["x", "w"], outputs: ["y"])]
        var fusion = QDQFusion(nodes: nodes, constants: ["w": RTensor(floats: [1], shape: [1, 1, 1, 1])], outputs: ["y"], folded: [:])
        fusion.run()
        XCTAssertEqual(fusion.nodes, nodes)
    }

    /// Bad parameters are one clear error naming the input.
    func testBadScaleIsReported() throws {
        let node = Node(name: "qc", opType: "QLinearConv", inputs: (0..<8).map { "i\($0)" }, outputs: ["y"])
        let x = RTensor(type: .uint8, shape: [1, 1, 2, 2]), w = RTensor(type: .int8, shape: [1, 1, 1, 1])
        let two = RTensor(floats: [1, 2], shape: [2]), one = RTensor(floats: [1], shape: [])
        let ctx = KernelContext(node: node, opset: 13, inputs: [x, two, nil, w, one, nil, one, nil],
                                runSubgraph: { _, _ in [] }, threads: 1)
        XCTAssertThrowsError(try Ops.qlinearConv(ctx)) { error in
            XCTAssertTrue("\(error)".contains("x_scale"), "\(error)")
        }
    }
}
