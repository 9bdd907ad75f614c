import Foundation
import IR
import ONNX
import XCTest

/// Declared input shapes a model from the internet may carry: negative dims (some exporters
/// write -1 for "unknown") and shapes too large to generate random inputs for.
final class HostileShapeTests: CLITestCase {
    func model(inputShape: [Dim], in folder: URL) throws -> String {
        let graph = Graph(name: "g", inputs: [ValueInfo(name: "x", type: .tensor(TensorType(.float32, inputShape)))],
                          outputs: [ValueInfo(name: "y", type: .tensor(TensorType(.float32, nil)))],
                          nodes: [Node(name: "relu0", opType: "Relu", inputs: ["x"], outputs: ["y"])])
        let path = folder.appendingPathComponent("m.onnx").path
        try ONNXExporter.write(Model(graph: graph), to: path)
        return path
    }

    /// Operators whose output size comes from tensor values: an impossible size is an error
    /// naming the node (exit 65), not an out-of-memory trap.
    func testOutputSizesFromValuesAreBounded() throws {
        let dir = try temporaryFolder()
        let huge = Tensor(int64s: [1 << 30, 1 << 30], shape: [2], name: "s")
        let cases: [(node: Node, initializers: [Tensor], message: String)] = [
            (Node(name: "cos", opType: "ConstantOfShape", inputs: ["s"], outputs: ["y"]), [huge],
             "node 'cos' (ConstantOfShape): output shape [1073741824, 1073741824] of FLOAT would need more than"),
            (Node(name: "ex", opType: "Expand", inputs: ["one", "s"], outputs: ["y"]), [huge, Tensor(floats: [1], shape: [1], name: "one")],
             "node 'ex' (Expand): output shape [1073741824, 1073741824] of FLOAT would need more than"),
            (Node(name: "tile", opType: "Tile", inputs: ["one", "r"], outputs: ["y"]),
             [Tensor(floats: [1], shape: [1], name: "one"), Tensor(int64s: [1 << 62], shape: [1], name: "r")],
             "node 'tile' (Tile): output shape [4611686018427387904] of FLOAT would need more than"),
            (Node(name: "range", opType: "Range", inputs: ["a", "b", "d"], outputs: ["y"]),
             [Tensor(floats: [0], shape: [], name: "a"), Tensor(floats: [1e30], shape: [], name: "b"), Tensor(floats: [1], shape: [], name: "d")],
             "node 'range' (Range): "),
        ]
        for c in cases {
            var graph = Graph(name: "g", outputs: [ValueInfo(name: "y", type: .tensor(TensorType(.float32, nil)))], nodes: [c.node])
            for t in c.initializers { graph.initializers[t.name] = t }
            let path = dir.appendingPathComponent("\(c.node.name).onnx").path
            try ONNXExporter.write(Model(graph: graph), to: path)
            let r = try run(["run", path, "--output-dir", dir.appendingPathComponent("out").path])
            XCTAssertEqual(r.status, 65, "\(c.node.opType): \(r.stderr)")
            XCTAssertTrue(r.stderr.hasPrefix("error: \(path): \(c.message)"), r.stderr)
            XCTAssertEqual(r.stderr.filter { $0 == "\n" }.count, 1, r.stderr)
        }
    }

    func testNegativeDimsCountAsUnknown() throws {
        let dir = try temporaryFolder()
        let m = try model(inputShape: [.fixed(-1), .fixed(3)], in: dir)
        let r = try run(["run", m, "--random-inputs", "--output-dir", dir.appendingPathComponent("out").path])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try NumpyFile.read(dir.appendingPathComponent("out/y.npy").path).shape, [1, 3])
    }

    func testAShapeTooLargeToGenerateIsBadInput() throws {
        let dir = try temporaryFolder()
        for shape: [Dim] in [[.fixed(1 << 20), .fixed(1 << 20)], [.fixed(1 << 40), .fixed(1 << 40), .fixed(1 << 40)]] {
            let m = try model(inputShape: shape, in: dir)
            let r = try run(["run", m, "--random-inputs"])
            XCTAssertEqual(r.status, 65, r.stderr)
            XCTAssertEqual(r.stderr, "error: input 'x': its declared shape \(shape.map { $0.value! }) has more than 268435456 elements, too many to generate random values for\n")
            let q = try run(["quantize", m, "--calibration-random", "4", "--no-cache", "-o", dir.appendingPathComponent("q.onnx").path])
            XCTAssertEqual(q.status, 65, q.stderr)
            XCTAssertTrue(q.stderr.contains("input 'x': its declared shape"), q.stderr)
        }
    }
}
