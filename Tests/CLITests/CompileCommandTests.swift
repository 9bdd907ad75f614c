import Foundation
import XCTest

/// `quantc compile`: the artifact it writes, byte-identical reruns, bad options.
final class CompileCommandTests: CLITestCase {
    func files(_ dir: URL) throws -> [String: Data] {
        var out: [String: Data] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: dir.path) {
            out[name] = try Data(contentsOf: dir.appendingPathComponent(name))
        }
        return out
    }

    func testCompileQuantizesAndRerunsByteIdentical() throws {
        let tmp = try temporaryFolder()
        let calib = Self.root.appendingPathComponent("models/digits/calib_x.npy").path
        let a = tmp.appendingPathComponent("a.qc"), b = tmp.appendingPathComponent("b.qc")
        for out in [a, b] {
            let r = try run(["compile", mlp, "--calibration", calib, "--target", "gfx803", "-o", out.path, "--no-bias-correction", "--method", "minmax"])
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertTrue(r.stdout.contains("0 on the host"), r.stdout)
        }
        let fa = try files(a), fb = try files(b)
        XCTAssertEqual(Set(fa.keys), ["model.onnx", "kernels.cl", "plan.json", "weights.bin", "manifest.json", "report.json"])
        XCTAssertEqual(fa, fb, "reruns differ")
        let manifest = try JSONSerialization.jsonObject(with: fa["manifest.json"]!) as! [String: Any]
        XCTAssertEqual(manifest["target"] as? String, "gfx803")
        XCTAssertTrue((manifest["pipeline"] as? String ?? "").contains("calibrate(method=minmax,"), "\(manifest)")
        XCTAssertEqual((manifest["files"] as? [String: String])?.count, 5)
        // Rewriting over an existing artifact replaces it.
        let r = try run(["compile", tmp.appendingPathComponent("a.qc/model.onnx").path, "--qdq", "-o", a.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        let report = try JSONSerialization.jsonObject(with: try Data(contentsOf: a.appendingPathComponent("report.json"))) as! [String: Any]
        let gcn = try XCTUnwrap(report["gcn"] as? [String: Any])
        XCTAssertEqual((gcn["launches"] as? [Any])?.count, 5)
        XCTAssertGreaterThan(gcn["predictedLatencyMicroseconds"] as? Double ?? 0, 0)
        for case let l as [String: Any] in gcn["launches"] as? [Any] ?? [] {
            XCTAssertEqual(l["scratchBytes"] as? Int, 0, "\(l)")
            XCTAssertGreaterThanOrEqual(l["occupancy"] as? Int ?? 0, 4, "\(l)")
        }
    }

    func testUnknownTargetIsAUsageError() throws {
        let tmp = try temporaryFolder()
        let r = try run(["compile", mlp, "--qdq", "--target", "gfx906", "-o", tmp.appendingPathComponent("x.qc").path])
        XCTAssertEqual(r.status, 64)
        XCTAssertTrue(r.stderr.contains("unknown --target 'gfx906'; valid targets: gfx803"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: tmp.appendingPathComponent("x.qc").path))
    }

    /// An option passed on to quantize that quantize does not know: a usage error naming it.
    func testUnknownQuantizeOptionIsAUsageError() throws {
        let tmp = try temporaryFolder()
        let r = try run(["compile", mlp, "--calibration-random", "4", "--bogus", "-o", tmp.appendingPathComponent("x.qc").path])
        XCTAssertEqual(r.status, 64, r.stderr)
        XCTAssertTrue(r.stderr.contains("--bogus"), r.stderr)
        XCTAssertFalse(r.stderr.contains("internal error"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: tmp.appendingPathComponent("x.qc").path))
    }

    func testBadInputShapeNamesTheInput() throws {
        let tmp = try temporaryFolder()
        let r = try run(["compile", mlp, "--qdq", "--input-shape", "input=1x65", "-o", tmp.appendingPathComponent("x.qc").path])
        XCTAssertEqual(r.status, 65)
        XCTAssertTrue(r.stderr.contains("--input-shape 'input': dimension 1 is fixed at 64, 65 given"), r.stderr)
    }

    func testBadKernelConfigIsAUsageErrorNamingTheValidParameters() throws {
        let tmp = try temporaryFolder()
        for (spec, message) in [("gemm:LDS=1", "gemm takes LDS_K, TM, TN, UNROLL, WG_M, WG_N"),
                                ("matmul:WG=64", "tuned templates: gemv, gemm, conv, depthwise, eltwise"),
                                ("gemm:TM=0", "= 1…1024 (LDS_K 0…64)"),
                                ("gemv:ROWS=3,WG=64", "no configuration of the launch of")] {
            let out = tmp.appendingPathComponent("x.qc")
            let r = try run(["compile", mlp, "--qdq", "--kernel-config", spec, "-o", out.path])
            XCTAssertEqual(r.status, 64, "\(spec): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("--kernel-config '"), r.stderr)
            XCTAssertTrue(r.stderr.contains(message), "\(spec): \(r.stderr)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: out.path))
        }
    }
}
