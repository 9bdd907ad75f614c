import IR
import ONNX
import XCTest

final class RoundTripTests: XCTestCase {
    let mlp = Fixtures.models.appendingPathComponent("digits_mlp.onnx").path

    func testImportExportImportGivesTheSameModel() throws {
        let model = try ONNXImporter.importModel(at: mlp)
        let dir = try Fixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("rt.onnx").path
        try ONNXExporter.write(model, to: out)
        let again = try ONNXImporter.importModel(at: out)
        XCTAssertEqual(again, model)
        XCTAssertEqual(Printer.print(again), Printer.print(model))
    }

    func testExportIsDeterministicAndMatchesSerialize() throws {
        let model = try ONNXImporter.importModel(at: mlp)
        let dir = try Fixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let a = dir.appendingPathComponent("a.onnx").path, b = dir.appendingPathComponent("b.onnx").path
        try ONNXExporter.write(model, to: a)
        try ONNXExporter.write(try ONNXImporter.importModel(at: a), to: b)
        let bytesA = try Data(contentsOf: URL(fileURLWithPath: a))
        XCTAssertEqual(bytesA, try Data(contentsOf: URL(fileURLWithPath: b)))
        XCTAssertEqual([UInt8](bytesA), ONNXExporter.serialize(model))
        // Only the two outputs: no temporary files left behind.
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted(), ["a.onnx", "b.onnx"])
    }

    func testExternalDataIsMappedAndRoundTrips() throws {
        let model = try ONNXImporter.importModel(at: mlp)
        let dir = try Fixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("ext.onnx").path
        try ONNXExporter.write(model, to: out, options: ExportOptions(externalData: .always, threshold: 1024))
        XCTAssertTrue(FileManager.default.fileExists(atPath: out + ".data"))
        let again = try ONNXImporter.importModel(at: out)
        XCTAssertEqual(again, model)
        for (name, t) in again.graph.initializers {
            let big = t.byteCount >= 1024
            XCTAssertEqual(t.rawBytes?.isMapped, big, "\(name) should \(big ? "" : "not ")be mapped")
        }
        // Big tensors went to the side file.
        let data = try Data(contentsOf: URL(fileURLWithPath: out + ".data"))
        XCTAssertGreaterThan(data.count, 16 * 1024)
    }

    func testUnwritableOutputLeavesNothing() throws {
        let model = try ONNXImporter.importModel(at: mlp)
        XCTAssertThrowsError(try ONNXExporter.write(model, to: "/nonexistent-dir/out.onnx")) { error in
            XCTAssertTrue("\(error)".hasPrefix("/nonexistent-dir/out.onnx: cannot write"), "\(error)")
        }
    }
}
