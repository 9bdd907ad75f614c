import Foundation
import IR
import XCTest

/// Issue 8 item 6: the calibration-statistics cache shared by parallel builds. Four
/// `quantc quantize` processes of one model against one `--cache-dir` compute the
/// statistics once (the others wait on the key's lock and read them), write identical
/// outputs, and leave a valid cache file; a damaged cache file is recomputed with a warning.
final class SharedCacheTests: CLITestCase {
    var digits: URL { Self.root.appendingPathComponent("models/digits") }

    func quantizeArgs(cache: URL) -> [String] {
        ["quantize", mlp, "--calibration", digits.appendingPathComponent("calib_x.npy").path,
         "--eval-samples", "64", "--cache-dir", cache.path, "--time-passes", "-q", "-o", "out.onnx"]
    }

    /// Starts quantc in `folder`; returns the running process and its stderr pipe.
    func start(_ args: [String], in folder: URL) throws -> (Process, Pipe) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Self.binary)
        p.arguments = args
        p.currentDirectoryURL = folder
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        return (p, err)
    }

    /// The cache's calibration files, each checked against its header (length and FNV-1a).
    func validCacheFiles(_ cache: URL) throws -> [String] {
        let files = try FileManager.default.contentsOfDirectory(atPath: cache.path).filter { $0.hasPrefix("calibration-") }
        for f in files {
            let bytes = Array(try Data(contentsOf: cache.appendingPathComponent(f)))
            let newline = try XCTUnwrap(bytes.firstIndex(of: 10))
            let header = String(decoding: bytes[..<newline], as: UTF8.self).split(separator: " ")
            XCTAssertEqual(header.first, "quantc-calibration-statistics", f)
            let payload = bytes[(newline + 1)...]
            XCTAssertEqual(header.dropFirst(2).first, "bytes=\(payload.count)", f)
            var h = FNV1a64()
            h.add(bytes: payload)
            XCTAssertEqual(header.last, "fnv1a64=\(String(h.value, radix: 16))", f)
            XCTAssertNoThrow(try JSONSerialization.jsonObject(with: Data(payload)), f)
        }
        return files
    }

    func testFourParallelRunsComputeOnceAndAgree() throws {
        let cache = try temporaryFolder()
        var runs: [(folder: URL, process: Process, stderr: Pipe)] = []
        for _ in 0..<4 {
            let folder = try temporaryFolder()
            let (p, err) = try start(quantizeArgs(cache: cache), in: folder)
            runs.append((folder, p, err))
        }
        var computed = 0, read = 0
        var hashes: [[String: String]] = []
        for r in runs {
            let text = String(decoding: r.stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            r.process.waitUntilExit()
            XCTAssertEqual(r.process.terminationStatus, 0, text)
            if text.contains("calibrate: 1 statistics computed") { computed += 1 }
            if text.contains("calibrate: 1 statistics read from cache") { read += 1 }
            XCTAssertFalse(text.contains("warning"), text)
            hashes.append(try sha256(ofFilesIn: r.folder))
        }
        XCTAssertEqual(computed, 1, "the statistics must be computed by one run only")
        XCTAssertEqual(read, 3)
        XCTAssertEqual(Set(hashes[0].keys), ["out.onnx", "out.report.json"])
        for h in hashes.dropFirst() { XCTAssertEqual(h, hashes[0]) }
        XCTAssertEqual(try validCacheFiles(cache).count, 1)
        // Only the entry, its lock, nothing half-written.
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: cache.path).filter { !$0.hasPrefix("calibration-") }.map { $0.hasSuffix(".lock") }, [true])
    }

    func testDamagedCacheFilesAreRecomputedWithAWarning() throws {
        let cache = try temporaryFolder()
        let first = try temporaryFolder()
        XCTAssertEqual(try run(quantizeArgs(cache: cache), in: first).status, 0)
        let reference = try sha256(ofFilesIn: first)
        let name = try XCTUnwrap(try validCacheFiles(cache).first)
        let file = cache.appendingPathComponent(name)
        let good = try Data(contentsOf: file)
        let damages: [(what: String, bytes: Data, warning: String)] = [
            ("truncated", good.prefix(good.count / 2), "(truncated?)"),
            ("a flipped byte", { var d = good; d[d.count - 10] ^= 0x01; return d }(), "its checksum does not match"),
            ("not a cache file", Data("{\"samples\": 1}\n".utf8), "its header is not"),
            ("empty", Data(), "it has no header line"),
        ]
        for d in damages {
            try d.bytes.write(to: file)
            let folder = try temporaryFolder()
            let r = try run(quantizeArgs(cache: cache), in: folder)
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertTrue(r.stderr.contains("warning: calibrate: ignoring the cache file \(file.path): "), "\(d.what): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains(d.warning), "\(d.what): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("calibrate: 1 statistics computed"), "\(d.what): \(r.stderr)")
            XCTAssertEqual(try sha256(ofFilesIn: folder), reference, d.what)
            XCTAssertEqual(try Data(contentsOf: file), good, "\(d.what): the cache file is rewritten as it was")
        }
    }
}
