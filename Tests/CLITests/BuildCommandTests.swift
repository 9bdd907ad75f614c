import Foundation
import XCTest

/// `quantc build RECIPE`: recipes, --print-deps, -MF depfiles, the accuracy gate and recipe errors.
final class BuildCommandTests: CLITestCase {
    var digits: URL { Self.root.appendingPathComponent("models/digits") }

    /// Writes `json` as a recipe in a fresh folder whose name has a space (to test escaping).
    func recipe(_ json: String, name: String = "r.json") throws -> URL {
        let dir = try temporaryFolder().appendingPathComponent("my models")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let url = dir.appendingPathComponent(name)
        try json.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    func mlpRecipe(gate: String = #""max-drop": 1.0"#, extra: String = "") -> String {
        """
        {"model": "\(mlp)", "calibration": "\(digits.path)/calib_x.npy", "method": "percentile", "cache": false, \(extra)
         "outputs": {"model": "out/m.onnx"},
         "gate": {"test": "\(digits.path)/test_x.npy", "labels": "\(digits.path)/test_y.npy", \(gate)}}
        """
    }

    func testBuildWritesTheOutputsAndPassesTheGate() throws {
        let r = try recipe(mlpRecipe())
        let result = try run(["build", r.path])
        XCTAssertEqual(result.status, 0, result.stderr)
        let out = r.deletingLastPathComponent().appendingPathComponent("out")
        XCTAssertTrue(FileManager.default.fileExists(atPath: out.appendingPathComponent("m.onnx").path))
        XCTAssertTrue(FileManager.default.fileExists(atPath: out.appendingPathComponent("m.report.json").path))
        XCTAssertTrue(result.stdout.contains("gate passed: accuracy "), result.stdout)
        // The same model as `quantize` with the same options: CLI and recipe run the same code.
        let q = out.appendingPathComponent("q.onnx").path
        let direct = try run(["quantize", mlp, "--calibration", digits.path + "/calib_x.npy", "--method", "percentile", "--no-cache", "-q", "-o", q])
        XCTAssertEqual(direct.status, 0, direct.stderr)
        XCTAssertEqual(FileManager.default.contents(atPath: q), FileManager.default.contents(atPath: out.appendingPathComponent("m.onnx").path))
    }

    func testPrintDepsListsEveryInputAndTheDepfileEscapesSpaces() throws {
        let r = try recipe(mlpRecipe())
        let deps = try run(["build", r.path, "--print-deps"])
        XCTAssertEqual(deps.status, 0, deps.stderr)
        XCTAssertEqual(deps.stdout.split(separator: "\n").map(String.init),
                       [r.path, mlp, digits.path + "/calib_x.npy", digits.path + "/test_x.npy", digits.path + "/test_y.npy"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: r.deletingLastPathComponent().appendingPathComponent("out/m.onnx").path),
                       "--print-deps builds nothing")
        let d = r.deletingLastPathComponent().appendingPathComponent("m.d")
        let built = try run(["build", r.path, "-MF", d.path, "-q"])
        XCTAssertEqual(built.status, 0, built.stderr)
        XCTAssertEqual(built.stdout, "")
        let text = try String(contentsOf: d, encoding: .utf8)
        let folder = r.deletingLastPathComponent().path.replacingOccurrences(of: " ", with: "\\ ")
        XCTAssertTrue(text.hasPrefix("\(folder)/out/m.onnx \(folder)/out/m.report.json: \\\n  \(folder)/r.json \\\n  \(mlp) \\\n"), text)
        XCTAssertTrue(text.hasSuffix("  \(digits.path)/test_y.npy\n"), text)
    }

    func testPrintDepsListsExternalData() throws {
        let r = try recipe("""
            {"model": "ext/m.onnx", "calibration-random": 4, "cache": false, "outputs": {"model": "q.onnx"}}
            """)
        let ext = r.deletingLastPathComponent().appendingPathComponent("ext")
        try FileManager.default.createDirectory(at: ext, withIntermediateDirectories: true)
        let export = try run(["export", mlp, "-o", ext.appendingPathComponent("m.onnx").path, "--external-data", "--threshold", "0"])
        XCTAssertEqual(export.status, 0, export.stderr)
        let deps = try run(["build", r.path, "--print-deps"])
        XCTAssertEqual(deps.status, 0, deps.stderr)
        XCTAssertEqual(deps.stdout, "\(r.path)\n\(ext.path)/m.onnx\n\(ext.path)/m.onnx.data\n")
    }

    func testFolderDataListsTheFolderAndItsFiles() throws {
        let data = try temporaryFolder().appendingPathComponent("calib")
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        for name in ["a.npy", "b.npy"] {
            try FileManager.default.copyItem(atPath: digits.path + "/calib_x.npy", toPath: data.appendingPathComponent(name).path)
        }
        let r = try recipe("""
            {"model": "\(mlp)", "calibration": "\(data.path)", "cache": false, "outputs": {"model": "m.onnx"}}
            """)
        let deps = try run(["build", r.path, "--print-deps"])
        XCTAssertEqual(deps.status, 0, deps.stderr)
        XCTAssertEqual(deps.stdout, "\(r.path)\n\(mlp)\n\(data.path)\n\(data.path)/a.npy\n\(data.path)/b.npy\n")
    }

    func testDataThatDoesNotFitIsBadInput() throws {
        let r = try recipe("""
            {"model": "\(mlp)", "calibration-random": 4, "cache": false, "outputs": {"model": "m.onnx"},
             "gate": {"test": "\(Self.root.path)/models/digits", "max-drop": 100}}
            """)
        // models/digits holds several .npy files for differently shaped models: the folder itself
        // does not fit the MLP, so opening it is bad input naming the folder.
        let deps = try run(["build", r.path, "--print-deps"])
        XCTAssertEqual(deps.status, 65, deps.stderr)
    }

    func testGateFailureExitsThreeAndWritesNothing() throws {
        let r = try recipe(mlpRecipe(gate: #""metric": "top-1-agreement", "max-drop": 0"#, extra: #""weights": "int4","#))
        let result = try run(["build", r.path])
        XCTAssertEqual(result.status, 3, result.stderr)
        let errors = result.stderr.split(separator: "\n").filter { $0.hasPrefix("error:") }
        XCTAssertEqual(errors.count, 1, result.stderr)
        XCTAssertTrue(errors.first?.hasPrefix("error: \(r.path): gate failed: top-1-agreement ") == true, result.stderr)
        XCTAssertTrue(errors.first?.hasSuffix("> max-drop 0.0 (nothing written)") == true, result.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: r.deletingLastPathComponent().appendingPathComponent("out/m.onnx").path))
    }

    func testRecipeErrorsNameTheKeyAndTheFile() throws {
        let cases: [(String, String)] = [
            (#"{"model": "m.onnx", "outputs": {"model": "o.onnx"}, "bugdet": "4bits"}"#, "unknown key 'bugdet'; the keys are: model, target"),
            (#"{"model": "m.onnx", "outputs": {"model": "o.onnx"}, "budget": 4}"#, "key 'budget': expected a string, found a number"),
            (#"{"model": "m.onnx", "outputs": {"model": "o.onnx"}, "pareto": "yes"}"#, "key 'pareto': expected true or false, found a string"),
            (#"{"model": "m.onnx", "outputs": {"model": "o.onnx", "html": "x"}}"#, "unknown key 'html' in 'outputs'"),
            (#"{"model": "m.onnx", "outputs": {"model": "o.onnx"}, "target": "tpu"}"#, "key 'target': unknown target 'tpu'; the targets are: onnx"),
            (#"{"model": "m.onnx", "outputs": {"model": "o.onnx"}, "target": "gfx803"}"#, "key 'target': 'gfx803' cannot be built yet"),
            (#"{"model": "m.onnx", "outputs": {"model": "o.onnx"}, "method": "median"}"#, "key 'method' 'median'; the methods are"),
            (#"{"model": "m.onnx", "outputs": {"model": "o.onnx"}, "gate": {"test": "t.npy", "max-drop": 1, "metric": "accuracy"}}"#,
             "key 'gate.metric': accuracy needs key 'gate.labels'"),
            (#"{"outputs": {"model": "o.onnx"}}"#, "missing key 'model'"),
            (#"{"model": "m.onnx", "outputs": {"model": "o.onnx"}"#, "not valid JSON"),
            (#"["model"]"#, "a recipe is a JSON object, found an array"),
        ]
        for (json, message) in cases {
            let r = try recipe(json)
            let result = try run(["build", r.path])
            XCTAssertEqual(result.status, 65, "\(json): \(result.stderr)")
            XCTAssertTrue(result.stderr.hasPrefix("error: \(r.path): ") && result.stderr.contains(message), "\(json): \(result.stderr)")
        }
        // A node the model lacks is bad input in a recipe (a usage error on the command line).
        let r = try recipe(mlpRecipe(extra: #""exclude": ["fc9"],"#))
        let result = try run(["build", r.path])
        XCTAssertEqual(result.status, 65, result.stderr)
        XCTAssertTrue(result.stderr.contains("\(r.path): key 'exclude': \(mlp) has no node named 'fc9'"), result.stderr)
    }
}
