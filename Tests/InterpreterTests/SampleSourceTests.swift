import Foundation
import IR
import Interpreter
import ONNX
import XCTest

/// Calibration folders: the layouts quantc reads, and one clear error per kind of bad data.
final class SampleSourceTests: XCTestCase {
    let input = ValueInfo(name: "input", type: .tensor(TensorType(.float32, [.symbolic("N"), .fixed(64)])))

    func folder() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("quantc-data-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }

    func save(_ t: Tensor, _ url: URL) throws { try Data(try XCTUnwrap(NumpyFile.encode(t))).write(to: url) }

    func testBundledDigitsCalibrationSplitIsABatchOf600() throws {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("models/digits")
        let tmp = try folder()
        try FileManager.default.copyItem(at: dir.appendingPathComponent("calib_x.npy"), to: tmp.appendingPathComponent("calib_x.npy"))
        let source = try SampleSource(folder: tmp.path, inputs: [input])
        XCTAssertEqual(source.layout, .npy)
        XCTAssertEqual(source.sampleCount, 600)
        let feed = try source.feed(0)
        XCTAssertEqual(feed["input"]?.shape, [600, 64])
        let parts = SampleSource.split(feed, into: 256)
        XCTAssertEqual(parts.map { $0["input"]!.shape[0] }, [256, 256, 88])
        XCTAssertEqual(parts[2]["input"]!.floatArray(), Array(feed["input"]!.floatArray().suffix(88 * 64)))
    }

    func testSingleSamplesWithoutBatchAxis() throws {
        let tmp = try folder()
        for i in 0..<3 { try save(Tensor(floats: [Float](repeating: Float(i), count: 64), shape: [64]), tmp.appendingPathComponent("s\(i).npy")) }
        let source = try SampleSource(folder: tmp.path, inputs: [input])
        XCTAssertEqual(source.sampleCount, 3)
        XCTAssertEqual(try source.feed(2)["input"]?.shape, [1, 64])
    }

    func testEmptyFolder() throws {
        let tmp = try folder()
        XCTAssertThrowsError(try SampleSource(folder: tmp.path, inputs: [input])) {
            XCTAssertEqual("\($0)", "\(tmp.path): holds no samples (expected *.npz, *.npy or test_data_set_*/input_*.pb)")
        }
        XCTAssertThrowsError(try SampleSource(folder: tmp.path + "/missing", inputs: [input])) {
            XCTAssertEqual("\($0)", "\(tmp.path)/missing: is not a readable folder (or a .npy/.npz file)")
        }
    }

    func testShapeAndTypeMismatchesNameFileAndInput() throws {
        let tmp = try folder()
        try save(Tensor(floats: [Float](repeating: 0, count: 63 * 2), shape: [2, 63]), tmp.appendingPathComponent("a.npy"))
        XCTAssertThrowsError(try SampleSource(folder: tmp.path, inputs: [input])) {
            XCTAssertEqual("\($0)", "\(tmp.path)/a.npy: array 'input' has shape [2, 63], input 'input' is f32[N,64]")
        }
        try FileManager.default.removeItem(at: tmp.appendingPathComponent("a.npy"))
        try save(Tensor(.float64, shape: [1, 64], values: [Double](repeating: 0, count: 64)), tmp.appendingPathComponent("b.npy"))
        XCTAssertThrowsError(try SampleSource(folder: tmp.path, inputs: [input])) {
            XCTAssertEqual("\($0)", "\(tmp.path)/b.npy: array 'input' is DOUBLE, input 'input' is f32[N,64]")
        }
    }

    func testNonNumericNpyIsRefused() throws {
        let tmp = try folder()
        let header = "{'descr': '|O', 'fortran_order': False, 'shape': (2,), }"
        let bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.utf8.count), 0] + Array(header.utf8) + [0, 0]
        try Data(bytes).write(to: tmp.appendingPathComponent("objects.npy"))
        XCTAssertThrowsError(try SampleSource(folder: tmp.path, inputs: [input])) {
            XCTAssertTrue("\($0)".hasSuffix("objects.npy: dtype '|O' is not numeric (quantc reads float16/32/64, int8–64, uint8–64 and bool)"), "\($0)")
        }
    }

    func testNpzKeyedByInputNameAndUnknownKeys() throws {
        let tmp = try folder()
        let good = Fixtures.numpy.appendingPathComponent("stored.npz")
        try FileManager.default.copyItem(at: good, to: tmp.appendingPathComponent("x.npz"))
        let a = ValueInfo(name: "a", type: .tensor(TensorType(.float32, [.fixed(3), .fixed(4)])))
        XCTAssertThrowsError(try SampleSource(folder: tmp.path, inputs: [a])) {
            XCTAssertEqual("\($0)", "\(tmp.path)/x.npz: array 'b' matches no model input (inputs: a)")
        }
    }

    func testTestDataSetFolders() throws {
        let tmp = try folder()
        let x = ValueInfo(name: "x", type: .tensor(TensorType(.float32, [.symbolic("N"), .fixed(2)])))
        for k in 0..<2 {
            let set = tmp.appendingPathComponent("test_data_set_\(k)")
            try FileManager.default.createDirectory(at: set, withIntermediateDirectories: true)
            let t = Tensor(floats: [Float(k), 1], shape: [1, 2], name: "x")
            try Data(ONNXExporter.serialize(tensor: t)).write(to: set.appendingPathComponent("input_0.pb"))
        }
        let source = try SampleSource(folder: tmp.path, inputs: [x]) { try ONNXImporter.importTensor(at: $0) }
        XCTAssertEqual(source.layout, .testDataSets)
        XCTAssertEqual(source.sampleCount, 2)
        XCTAssertEqual(try source.feed(1)["x"]?.floatArray(), [1, 1])
    }
}

enum Fixtures {
    static let numpy = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/numpy")
}
