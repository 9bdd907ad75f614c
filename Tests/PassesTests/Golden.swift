import Foundation
import XCTest

/// Compares printed IR with Tests/Fixtures/golden/passes/`name`; with
/// QUANTC_UPDATE_GOLDEN=1 the file is rewritten first (after an intended change).
func assertGolden(_ text: String, _ name: String, file: StaticString = #filePath, line: UInt = #line) throws {
    let golden = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/golden/passes")
    let url = golden.appendingPathComponent(name)
    if ProcessInfo.processInfo.environment["QUANTC_UPDATE_GOLDEN"] == "1" {
        try FileManager.default.createDirectory(at: golden, withIntermediateDirectories: true)
        try text.write(to: url, atomically: true, encoding: .utf8)
    }
    XCTAssertEqual(text, try String(contentsOf: url, encoding: .utf8), "differs from \(url.path)", file: file, line: line)
}
