import IR
import ONNX
import XCTest

/// Every malformed input of Tests/Fixtures/bad (made by tools/make_bad_models.py)
/// is rejected with one message naming the file, the tensor or node at fault and
/// what is wrong.
final class BadInputTests: XCTestCase {
    /// What each case's message must say about the defect.
    static let expected: [String: String] = [
        "empty": "the file is empty",
        "truncated": "not a valid ONNX protobuf",
        "random_bytes": "not a valid ONNX protobuf",
        "zip": "a zip archive",
        "tflite": "TensorFlow Lite flatbuffer",
        "no_graph": "has no graph",
        "undefined_input": "input 'ghost' is never defined",
        "cycle": "the nodes form a cycle",
        "duplicate_names": "output 'dup' is already defined",
        "duplicate_initializer": "two initializers have this name",
        "raw_data_length": "raw_data has 60 bytes but shape [4, 4] of FLOAT needs 64",
        "dims_overflow": "overflows a 64-bit integer",
        "negative_dim": "is negative (-2)",
        "typed_count_mismatch": "float_data has 5 entries but shape [2, 3] of FLOAT needs 6",
        "bad_data_type": "unknown data_type 99",
        "bad_attribute": "is declared float but holds a ints value",
        "external_missing": "is missing",
        "external_short": "is shorter than needed",
        "external_absolute": "is an absolute path",
        "external_dotdot": "climbs out of the model's folder",
        "external_symlink": "leaves the model's folder through a symlink",
        "deep_subgraphs": "subgraphs nest 65 deep, over the limit of 64",
        "deep_types": "types nest 65 deep",
        "huge_tensor": "needs 16.0 PiB, over the limit of",
    ]

    func testEveryCaseHasAnExpectation() throws {
        let cases = try Fixtures.badCases()
        XCTAssertEqual(Set(cases.map(\.name)), Set(Self.expected.keys))
    }

    func testEachBadInputGivesOneClearError() throws {
        for c in try Fixtures.badCases() {
            do {
                _ = try ONNXImporter.importModel(at: c.model)
                XCTFail("\(c.name): imported without error")
            } catch {
                let message = error.description
                XCTAssertTrue(message.hasPrefix(c.model), "\(c.name): message does not start with the file: \(message)")
                XCTAssertFalse(message.contains("\n"), "\(c.name): message spans lines")
                for name in c.names where name != "model.onnx" {
                    XCTAssertTrue(message.contains("'\(name)'") || message.contains(name),
                                  "\(c.name): message does not name \(name): \(message)")
                }
                if let phrase = Self.expected[c.name] {
                    XCTAssertTrue(message.contains(phrase), "\(c.name): expected “\(phrase)” in: \(message)")
                }
            }
        }
    }

    func testMissingFileAndFolderAreReported() {
        XCTAssertThrowsError(try ONNXImporter.importModel(at: "/nonexistent/model.onnx")) { error in
            XCTAssertEqual((error as! ImportError).description,
                           "/nonexistent/model.onnx: cannot read the model: No such file or directory")
        }
        XCTAssertThrowsError(try ONNXImporter.importModel(at: Fixtures.bad.path)) { error in
            XCTAssertTrue((error as! ImportError).description.contains("Is a directory"))
        }
    }

    /// A symlink made at test time, pointing at an absolute path outside the folder.
    func testAbsoluteSymlinkOutOfFolderIsRefused() throws {
        let dir = try Fixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let source = Fixtures.bad.appendingPathComponent("external_symlink")
        try FileManager.default.copyItem(at: source.appendingPathComponent("model.onnx"), to: dir.appendingPathComponent("model.onnx"))
        let outside = try Fixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: outside) }
        try Data(count: 64).write(to: outside.appendingPathComponent("w.bin"))
        try FileManager.default.createSymbolicLink(atPath: dir.appendingPathComponent("link.bin").path,
                                                   withDestinationPath: outside.appendingPathComponent("w.bin").path)
        XCTAssertThrowsError(try ONNXImporter.importModel(at: dir.appendingPathComponent("model.onnx").path)) { error in
            XCTAssertTrue("\(error)".contains("through a symlink"), "\(error)")
        }
        // The same file copied inside the folder is accepted.
        try FileManager.default.removeItem(at: dir.appendingPathComponent("link.bin"))
        try Data(count: 64).write(to: dir.appendingPathComponent("link.bin"))
        XCTAssertNoThrow(try ONNXImporter.importModel(at: dir.appendingPathComponent("model.onnx").path))
    }
}
