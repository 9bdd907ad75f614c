import Foundation
import IR
import ONNX
import XCTest

/// Issue 8 item 7b: each ``ImportLimits`` bound gives one clear error naming the place, and
/// a nesting deep enough to overflow protobuf-c's recursive decoder is refused before it runs.
/// (The default limits are exercised by Tests/Fixtures/bad: deep_subgraphs, deep_types, huge_tensor.)
final class ImportLimitsTests: XCTestCase {
    var mlp: String { Fixtures.models.appendingPathComponent("digits_mlp.onnx").path }

    func limitError(_ path: String, _ limits: ImportLimits, file: StaticString = #filePath, line: UInt = #line) -> String {
        do {
            _ = try ONNXImporter.importModel(at: path, limits: limits)
            XCTFail("imported within \(limits)", file: file, line: line)
            return ""
        } catch {
            guard case .limitExceeded = error else {
                XCTFail("not a limit error: \(error)", file: file, line: line)
                return ""
            }
            XCTAssertFalse(error.description.contains("\n"), file: file, line: line)
            XCTAssertTrue(error.description.hasPrefix(path + ": "), error.description, file: file, line: line)
            return error.description
        }
    }

    func testTheBundledModelIsWithinTheDefaults() throws {
        XCTAssertNoThrow(try ONNXImporter.importModel(at: mlp))
    }

    func testTensorBytes() {
        // fc1.weight is float[64, 64]: 16 KiB.
        let e = limitError(mlp, ImportLimits(maxTensorBytes: 4096))
        XCTAssertTrue(e.contains("tensor 'fc1.weight': shape [64, 64] of FLOAT needs 16.0 KiB, over the limit of 4.0 KiB (maxTensorBytes"), e)
    }

    func testNodeCount() {
        let e = limitError(mlp, ImportLimits(maxNodes: 2))
        XCTAssertTrue(e.contains("the model has more than 2 nodes (maxNodes)"), e)
    }

    func testAttributeCount() {
        let e = limitError(mlp, ImportLimits(maxAttributesPerNode: 0))
        XCTAssertTrue(e.contains("graph → node 'fc1': "), e)
        XCTAssertTrue(e.contains("the node has more than 0 attributes (maxAttributesPerNode)"), e)
    }

    func testNameAndStringSizes() throws {
        let e = limitError(mlp, ImportLimits(maxNameBytes: 4))
        XCTAssertTrue(e.contains("is 5 bytes long, over the limit of 4 (maxNameBytes)") || e.contains("over the limit of 4 (maxNameBytes)"), e)
        // A doc string past maxStringBytes.
        var model = try ONNXImporter.importModel(at: mlp)
        model.graph.nodes[0].docString = String(repeating: "x", count: 3000)
        let dir = try Fixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("doc.onnx").path
        try ONNXExporter.write(model, to: path)
        let s = limitError(path, ImportLimits(maxStringBytes: 2048))
        XCTAssertTrue(s.contains("node 'fc1': the doc string is 2.9 KiB long, over the limit of 2.0 KiB (maxStringBytes)"), s)
        XCTAssertNoThrow(try ONNXImporter.importModel(at: path))
    }

    /// 100,000 If bodies nested in 3 MB: protobuf-c would recurse 300,000 messages deep.
    func testNestingThatWouldOverflowTheDecoderIsRefused() throws {
        // Built back to front (each level only prefixes bytes), then reversed: linear time.
        // Level: graph { node (1) { op_type (4) "If", attribute (5) { type (20) GRAPH,
        // name (1) "then_branch", g (6) <inner graph> } } }.
        let innermost = field(1, field(4, Array("Identity".utf8)))
        var reversed = Array(innermost.reversed())
        var length = innermost.count
        for _ in 0..<100_000 {
            let attribute = 3 + 13 + 1 + varint(UInt64(length)).count + length
            let node = 4 + 1 + varint(UInt64(attribute)).count + attribute
            let prefix: [UInt8] = [0x0A] + varint(UInt64(node)) + [0x22, 2] + Array("If".utf8) + [0x2A] + varint(UInt64(attribute))
                + [0xA0, 0x01, 5] + [0x0A, 11] + Array("then_branch".utf8) + [0x32] + varint(UInt64(length))
            reversed.append(contentsOf: prefix.reversed())
            length += prefix.count
        }
        let bytes = [0x3A] + varint(UInt64(length)) + reversed.reversed()
        let dir = try Fixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("deep.onnx").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let e = limitError(path, .default)
        XCTAssertTrue(e.contains("subgraphs nest 65 deep, over the limit of 64 (maxNesting)"), e)
        XCTAssertTrue(e.contains("graph → node #1 → attribute 'then_branch' → … →"), e)
    }

    /// External data that is not a regular file (a FIFO would block the open forever).
    func testExternalDataMustBeARegularFile() throws {
        let dir = try Fixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let source = Fixtures.bad.appendingPathComponent("external_missing")
        try FileManager.default.copyItem(at: source.appendingPathComponent("model.onnx"), to: dir.appendingPathComponent("model.onnx"))
        XCTAssertEqual(mkfifo(dir.appendingPathComponent("weights.bin").path, 0o644), 0)
        XCTAssertThrowsError(try ONNXImporter.importModel(at: dir.appendingPathComponent("model.onnx").path)) { error in
            XCTAssertTrue("\(error)".contains("tensor 'w': external data 'weights.bin' is not a regular file"), "\(error)")
        }
    }

    /// A name with a newline and a terminal escape cannot split the error line or clear a screen.
    func testControlCharactersInNamesAreEscaped() throws {
        var model = try ONNXImporter.importModel(at: mlp)
        model.graph.nodes[0].name = "evil\n\u{1b}[2J"
        model.graph.nodes[0].inputs[0] = "ghost"
        let dir = try Fixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("evil.onnx").path
        try ONNXExporter.write(model, to: path)
        XCTAssertThrowsError(try ONNXImporter.importModel(at: path)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("evil\\n\\u{1b}[2J"), text)
            XCTAssertFalse(text.contains("\n") || text.contains("\u{1b}"), text)
        }
    }

    /// A protobuf length-delimited field (wire type 2).
    func field(_ number: Int, _ payload: [UInt8]) -> [UInt8] {
        varint(UInt64(number << 3 | 2)) + varint(UInt64(payload.count)) + payload
    }

    func varint(_ value: UInt64) -> [UInt8] {
        var v = value, out: [UInt8] = []
        repeat {
            out.append(UInt8(v & 0x7F) | (v >= 0x80 ? 0x80 : 0))
            v >>= 7
        } while v > 0
        return out
    }
}
