import Foundation
import IR
import XCTest

/// Issue 8 item 4: `quantc quantize` writes byte-identical files on every run, with any
/// thread count, and no time of day (`SOURCE_DATE_EPOCH` changes nothing, since quantc
/// writes no timestamp at all).
final class DeterminismTests: CLITestCase {
    var digits: URL { Self.root.appendingPathComponent("models/digits") }

    /// Every bundled model with its calibration and test data.
    var bundled: [(model: String, calibration: String, test: String)] {
        [("digits_mlp", "calib_x.npy", "test_x.npy"), ("digits_cnn", "calib_x_img.npy", "test_x_img.npy"),
         ("digits_transformer", "calib_x_seq.npy", "test_x_seq.npy")]
    }

    /// The first `count` samples of a `.npy` batch, written to `folder` (keeps the test short:
    /// four runs of three models).
    func firstSamples(_ file: String, _ count: Int, in folder: URL) throws -> String {
        let t = try NumpyFile.read(digits.appendingPathComponent(file).path)
        guard case .bytes(let b) = t.data else { throw XCTSkip("\(file) is not numeric") }
        let rowBytes = b.count / t.shape[0]
        var head = t
        head.shape[0] = count
        head.data = .bytes(ByteBuffer(copying: b.array.prefix(count * rowBytes)))
        let path = folder.appendingPathComponent(file).path
        try Data(try XCTUnwrap(NumpyFile.encode(head))).write(to: URL(fileURLWithPath: path))
        return path
    }

    func testEveryBundledModelHashesTheSameAcrossRunsAndThreadCounts() throws {
        let data = try temporaryFolder()
        for b in bundled {
            let args = ["quantize", Self.root.appendingPathComponent("models/\(b.model).onnx").path,
                        "--calibration", try firstSamples(b.calibration, 200, in: data),
                        "--test", digits.appendingPathComponent(b.test).path,
                        "--labels", digits.appendingPathComponent("test_y.npy").path,
                        "--eval-samples", "200", "--no-cache", "-o", "out.onnx", "-q"]
            // Two runs on one thread, one on two, one on three with SOURCE_DATE_EPOCH set (which must
            // not add a timestamp). Statistics read from the cache: SharedCacheTests.
            let runs: [(name: String, extra: [String], env: [String: String])] = [
                ("threads 1", ["--threads", "1"], [:]),
                ("threads 1 again", ["--threads", "1"], [:]),
                ("threads 2", ["--threads", "2"], [:]),
                ("threads 3, SOURCE_DATE_EPOCH", ["--threads", "3"], ["SOURCE_DATE_EPOCH": "1700000000"]),
            ]
            var reference: [String: String]?
            for r in runs {
                let dir = try temporaryFolder()
                let result = try run(args + r.extra, in: dir, environment: r.env)
                XCTAssertEqual(result.status, 0, "\(b.model) \(r.name): \(result.stderr)")
                let hashes = try sha256(ofFilesIn: dir)
                XCTAssertEqual(Set(hashes.keys), ["out.onnx", "out.report.json"], "\(b.model) \(r.name)")
                if let reference {
                    XCTAssertEqual(hashes, reference, "\(b.model): \(r.name) differs from the first run")
                } else {
                    reference = hashes
                }
            }
        }
    }

    /// The Pareto sweep's files carry no measured durations (they differ on every run).
    func testParetoFilesAreDeterministic() throws {
        let args = ["quantize", mlp, "--calibration", digits.appendingPathComponent("calib_x.npy").path,
                    "--pareto", "--eval-samples", "100", "--no-cache", "-o", "out.onnx", "-q"]
        var reference: [String: String]?
        for threads in ["1", "2"] {
            let dir = try temporaryFolder()
            let r = try run(args + ["--threads", threads], in: dir)
            XCTAssertEqual(r.status, 0, r.stderr)
            let hashes = try sha256(ofFilesIn: dir)
            XCTAssertEqual(Set(hashes.keys), ["out.onnx", "out.report.json", "out.pareto.csv"])
            if let reference { XCTAssertEqual(hashes, reference) } else { reference = hashes }
        }
    }
}

extension CLITestCase {
    /// SHA-256 (sha256sum) of every file in `folder`, by name, hidden files included.
    func sha256(ofFilesIn folder: URL) throws -> [String: String] {
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
        guard !names.isEmpty else { return [:] }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        p.arguments = names
        p.currentDirectoryURL = folder
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        var hashes: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 1)
            hashes[String(parts[1].drop { $0 == " " || $0 == "*" })] = String(parts[0])
        }
        return hashes
    }
}
