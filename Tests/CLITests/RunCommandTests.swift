import Foundation
import IR
import ONNX
import XCTest

/// `quantc run`: inputs from .npy and .pb, outputs as .npy, and every input
/// error reported before compute with exit status 65.
final class RunCommandTests: CLITestCase {

    /// A model y = Relu(x) with x: f32[N,3], plus one node of `extraOp` if given.
    func writeModel(in dir: URL, extraOp: (op: String, domain: String)? = nil) throws -> String {
        var nodes = [Node(name: "relu", opType: "Relu", inputs: ["x"], outputs: ["y"])]
        if let extraOp { nodes.append(Node(name: "custom", opType: extraOp.op, domain: extraOp.domain, inputs: ["y"], outputs: ["z"])) }
        let g = Graph(name: "g", inputs: [ValueInfo(name: "x", type: .tensor(TensorType(.float32, [.symbolic("N"), .fixed(3)])))],
                      outputs: [ValueInfo(name: extraOp == nil ? "y" : "z", type: nil)], nodes: nodes)
        var opsets = [OpsetImport(domain: "", version: 17)]
        if let extraOp, !extraOp.domain.isEmpty { opsets.append(OpsetImport(domain: extraOp.domain, version: 1)) }
        let path = dir.appendingPathComponent("m.onnx").path
        try ONNXExporter.write(Model(opsetImports: opsets, graph: g), to: path)
        return path
    }

    func writeNpy(_ t: Tensor, _ path: URL) throws {
        try Data(try XCTUnwrap(NumpyFile.encode(t))).write(to: path)
    }

    func testRunReadsNpyAndWritesNpy() throws {
        let dir = try temporaryFolder()
        let model = try writeModel(in: dir)
        let x = dir.appendingPathComponent("x.npy")
        try writeNpy(Tensor(floats: [-1, 2, -3, 4, -5, 6], shape: [2, 3]), x)
        let out = dir.appendingPathComponent("out")
        let r = try run(["run", model, "--input", "x=\(x.path)", "--output-dir", out.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.hasPrefix("y: f32[2,3] [0.0, 2.0, 0.0, 4.0, 0.0, 6.0]"), r.stdout)
        let y = try NumpyFile.read(out.appendingPathComponent("y.npy").path)
        XCTAssertEqual(y.floatValues(), [0, 2, 0, 4, 0, 6])
        XCTAssertEqual(y.shape, [2, 3])
    }

    func testUnsupportedOperatorIsNamedBeforeCompute() throws {
        let dir = try temporaryFolder()
        let model = try writeModel(in: dir, extraOp: ("Frobnicate", "com.example"))
        let r = try run(["run", model, "--random-inputs"])
        XCTAssertEqual(r.status, 65)
        XCTAssertEqual(r.stderr, "error: \(model): unsupported operator Frobnicate (domain 'com.example', opset 17) at node 'custom' (Frobnicate)\n")
    }

    func testWrongShapeTypeAndFileAreReported() throws {
        let dir = try temporaryFolder()
        let model = try writeModel(in: dir)
        let wrongShape = dir.appendingPathComponent("s.npy"), wrongType = dir.appendingPathComponent("t.npy")
        try writeNpy(Tensor(floats: [1, 2, 3, 4], shape: [2, 2]), wrongShape)
        try writeNpy(Tensor(int64s: [1, 2, 3], shape: [1, 3]), wrongType)
        var r = try run(["run", model, "--input", "x=\(wrongShape.path)"])
        XCTAssertEqual(r.status, 65)
        XCTAssertEqual(r.stderr, "error: \(model): input 'x': expected f32[N,3], given f32[2,2]\n")
        r = try run(["run", model, "--input", "x=\(wrongType.path)"])
        XCTAssertEqual(r.stderr, "error: \(model): input 'x': expected f32[N,3], given i64[1,3]\n")
        r = try run(["run", model])
        XCTAssertEqual(r.stderr, "error: \(model): input 'x' (f32[N,3]) is not given\n")
        let notNpy = dir.appendingPathComponent("bad.npy")
        try Data("hello".utf8).write(to: notNpy)
        r = try run(["run", model, "--input", "x=\(notNpy.path)"])
        XCTAssertEqual(r.status, 65)
        XCTAssertEqual(r.stderr, "error: \(notNpy.path): not a .npy file (no \\x93NUMPY header)\n")
    }
}
