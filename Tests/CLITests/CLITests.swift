import Foundation
import XCTest

/// Runs the built `quantc` binary as a user would.
class CLITestCase: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The quantc executable built beside this test bundle (or $QUANTC).
    static var binary: String {
        if let env = ProcessInfo.processInfo.environment["QUANTC"] { return env }
        let bundleDir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for dir in [bundleDir, bundleDir.deletingLastPathComponent()] {
            let candidate = dir.appendingPathComponent("quantc").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return root.appendingPathComponent(".build/debug/quantc").path
    }

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs quantc, in `folder` when given, with `environment` added to this process's.
    func run(_ args: [String], in folder: URL? = nil, environment: [String: String] = [:]) throws -> Result {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Self.binary)
        p.arguments = args
        if let folder { p.currentDirectoryURL = folder }
        if !environment.isEmpty { p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Result(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }

    func temporaryFolder() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("quantc-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }

    var mlp: String { Self.root.appendingPathComponent("models/digits_mlp.onnx").path }
}

/// Exit statuses, stderr, and that no partial output is left behind.
final class CLITests: CLITestCase {

    func testInspectPrintsTheSummary() throws {
        let r = try run(["inspect", mlp])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("input: f32[N,64]"))
        XCTAssertTrue(r.stdout.contains("3 Gemm"))
        XCTAssertTrue(r.stdout.contains("parameters: 6570 values"))
        XCTAssertTrue(r.stdout.contains("unsupported operators: none"))
    }

    func testInspectJSONIsParseable() throws {
        let r = try run(["inspect", "--json", mlp])
        XCTAssertEqual(r.status, 0, r.stderr)
        let obj = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        XCTAssertEqual(obj["parameterCount"] as? Int, 6570)
        XCTAssertEqual((obj["largestTensors"] as? [[String: Any]])?.first?["name"] as? String, "fc1.weight")
        XCTAssertEqual(obj["unsupportedOps"] as? [String], [])
    }

    func testInspectIRMatchesTheGoldenFile() throws {
        let r = try run(["inspect", "--ir", mlp])
        XCTAssertEqual(r.status, 0, r.stderr)
        let golden = try String(contentsOf: Self.root.appendingPathComponent("Tests/Fixtures/golden/digits_mlp.ir"), encoding: .utf8)
        XCTAssertEqual(r.stdout, golden)
    }

    func testEveryBadInputFailsWithOneLineAndNoOutput() throws {
        let bad = Self.root.appendingPathComponent("Tests/Fixtures/bad")
        let cases = try FileManager.default.contentsOfDirectory(atPath: bad.path).sorted()
            .filter { FileManager.default.fileExists(atPath: bad.appendingPathComponent("\($0)/case.json").path) }
        XCTAssertGreaterThanOrEqual(cases.count, 21)
        let out = try temporaryFolder()
        for c in cases {
            let model = bad.appendingPathComponent("\(c)/model.onnx").path
            let r = try run(["export", model, "-o", out.appendingPathComponent("out.onnx").path])
            XCTAssertEqual(r.status, 65, "\(c): \(r.stderr)")
            XCTAssertTrue(r.stderr.hasPrefix("error: \(model): "), "\(c): \(r.stderr)")
            XCTAssertEqual(r.stderr.filter { $0 == "\n" }.count, 1, "\(c): not one line: \(r.stderr)")
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: out.path), [], "\(c): left output behind")
        }
    }

    func testUnwritableOutputExitsWithCannotWrite() throws {
        let r = try run(["export", mlp, "-o", "/nonexistent-dir/out.onnx"])
        XCTAssertEqual(r.status, 73)
        XCTAssertTrue(r.stderr.hasPrefix("error: /nonexistent-dir/out.onnx: cannot write"), r.stderr)
    }

    func testUsageErrorsExit64() throws {
        XCTAssertEqual(try run(["inspect"]).status, 64)
        XCTAssertEqual(try run(["inspect", "--json", "--ir", mlp]).status, 64)
        XCTAssertEqual(try run(["frobnicate"]).status, 64)
    }

    func testExportWithExternalDataRoundTrips() throws {
        let out = try temporaryFolder()
        let path = out.appendingPathComponent("m.onnx").path
        let r = try run(["export", mlp, "-o", path, "--external-data", "--threshold", "256"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: out.path).sorted(), ["m.onnx", "m.onnx.data"])
        let a = try run(["inspect", "--ir", mlp]).stdout
        let b = try run(["inspect", "--ir", path]).stdout
        XCTAssertEqual(a, b)
        // Nothing reaches the threshold: no side file is written.
        let small = out.appendingPathComponent("s.onnx").path
        XCTAssertEqual(try run(["export", mlp, "-o", small, "--external-data", "--threshold", "1000000"]).status, 0)
        XCTAssertFalse(FileManager.default.fileExists(atPath: small + ".data"))
    }
}
