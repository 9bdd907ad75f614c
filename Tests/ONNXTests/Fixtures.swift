import Foundation

/// Paths of the test fixtures and the bundled models, found from this file's location.
enum Fixtures {
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let bad = packageRoot.appendingPathComponent("Tests/Fixtures/bad")
    static let good = packageRoot.appendingPathComponent("Tests/Fixtures/good")
    static let models = packageRoot.appendingPathComponent("models")

    /// The bad-input cases: folders of Tests/Fixtures/bad holding a case.json.
    static func badCases() throws -> [(name: String, model: String, names: [String])] {
        let folders = try FileManager.default.contentsOfDirectory(atPath: bad.path).sorted()
        return try folders.compactMap { name in
            let json = bad.appendingPathComponent(name).appendingPathComponent("case.json")
            guard FileManager.default.fileExists(atPath: json.path) else { return nil }
            let obj = try JSONSerialization.jsonObject(with: Data(contentsOf: json)) as! [String: Any]
            return (name, bad.appendingPathComponent(name).appendingPathComponent("model.onnx").path,
                    obj["names"] as! [String])
        }
    }

    /// A fresh empty folder, removed when the test ends.
    static func temporaryFolder() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("quantc-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}
