import IR
import ONNX
import XCTest

/// The printed IR of the bundled models is compared with golden files in
/// Tests/Fixtures/golden. Set QUANTC_UPDATE_GOLDEN=1 to rewrite them after an
/// intended change of the printer or the models.
final class PrinterGoldenTests: XCTestCase {
    func testBundledModelsPrintAsTheirGoldenFiles() throws {
        let golden = Fixtures.packageRoot.appendingPathComponent("Tests/Fixtures/golden")
        let update = ProcessInfo.processInfo.environment["QUANTC_UPDATE_GOLDEN"] == "1"
        let models = try FileManager.default.contentsOfDirectory(atPath: Fixtures.models.path).filter { $0.hasSuffix(".onnx") }.sorted()
        XCTAssertFalse(models.isEmpty)
        for name in models {
            let model = try ONNXImporter.importModel(at: Fixtures.models.appendingPathComponent(name).path)
            let text = Printer.print(model)
            XCTAssertEqual(text, Printer.print(model), "printing is not stable")
            let file = golden.appendingPathComponent(name.replacingOccurrences(of: ".onnx", with: ".ir"))
            if update {
                try FileManager.default.createDirectory(at: golden, withIntermediateDirectories: true)
                try text.write(to: file, atomically: true, encoding: .utf8)
            }
            XCTAssertEqual(text, try String(contentsOf: file, encoding: .utf8), "\(name) prints differently from \(file.path)")
        }
    }
}
