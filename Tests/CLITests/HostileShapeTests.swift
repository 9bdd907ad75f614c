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
