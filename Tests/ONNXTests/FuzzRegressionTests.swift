import Foundation
import IR
import ONNX
import XCTest

/// Replays every input the importer fuzzer (tools/fuzz.sh) ever crashed on, saved in
/// Tests/Fixtures/fuzz-regressions/, and the malformed-model corpus: each must import or
/// fail with an `ImportError` naming the file, never crash. The steps are the fuzz target's
/// (Sources/quantc-fuzz): import, export, print.
final class FuzzRegressionTests: XCTestCase {
    static let regressions = Fixtures.packageRoot.appendingPathComponent("Tests/Fixtures/fuzz-regressions")

    func replay(_ file: URL) throws -> String {
        // A folder of its own, as in the fuzz target: external data resolves beside the model.
        let dir = try Fixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("model.onnx").path
        try FileManager.default.copyItem(atPath: file.path, toPath: path)
        do {
            let model = try ONNXImporter.importModel(at: path)
            _ = ONNXExporter.serialize(model)
            _ = Printer.print(model)
            return "imported"
        } catch {
            XCTAssertTrue(error.description.hasPrefix(path + ": "), "\(file.lastPathComponent): \(error)")
            XCTAssertFalse(error.description.contains("\n"), "\(file.lastPathComponent): \(error)")
            return "error"
        }
    }

    func testEveryRegressionInputImportsOrFailsCleanly() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.regressions.path)
            .filter { $0.hasSuffix(".onnx") }.sorted()
        // Empty until the fuzzer finds something (README.md there says how files arrive).
        XCTAssertTrue(FileManager.default.fileExists(atPath: Self.regressions.appendingPathComponent("README.md").path))
        var outcomes: [String: Int] = [:]
        for f in files { outcomes[try replay(Self.regressions.appendingPathComponent(f)), default: 0] += 1 }
        print("fuzz regressions: \(files.count) inputs, \(outcomes)")
    }

    func testTheMalformedCorpusFailsCleanly() throws {
        for c in try Fixtures.badCases() where !c.name.hasPrefix("external_") {
            XCTAssertEqual(try replay(URL(fileURLWithPath: c.model)), "error", c.name)
        }
    }
}
