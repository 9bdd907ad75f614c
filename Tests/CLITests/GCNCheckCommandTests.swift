import Foundation
import XCTest

/// `quantc gcn-check`: the table, and exit 1 on kernels gfx803 must not run.
final class GCNCheckCommandTests: CLITestCase {
    var reference: String { Self.root.appendingPathComponent("Tests/Fixtures/gcn/gemv_reference.cl").path }

    func testReferenceKernelsPass() throws {
        let r = try run(["gcn-check", "--no-cache", reference])
        XCTAssertEqual(r.status, 0, r.stderr)
        let rows = r.stdout.split(separator: "\n")
        XCTAssertTrue(rows[0].contains("VGPRs") && rows[0].contains("occupancy") && rows[0].contains("s_swappc"), r.stdout)
        XCTAssertTrue(rows.contains { $0.contains("gemv_int4_g32") && $0.hasSuffix("ok") }, r.stdout)
        XCTAssertTrue(rows.contains { $0.contains("gemv_int8_channel") && $0.hasSuffix("ok") }, r.stdout)
    }

    func testFailures() throws {
        let dir = try temporaryFolder()
        // An artifact folder whose kernels call library functions and a GEMV below --min-waves.
        let artifact = dir.appendingPathComponent("model.qc")
        try FileManager.default.createDirectory(at: artifact, withIntermediateDirectories: true)
        try "__kernel void gemv_calls(__global float* a) { a[get_global_id(0)] = exp(a[0]); }\n"
            .write(to: artifact.appendingPathComponent("kernels.cl"), atomically: true, encoding: .utf8)
        var r = try run(["gcn-check", "--no-cache", artifact.path, reference, "--min-waves", "6"])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("kernel 'gemv_calls': ") && r.stderr.contains("bytes of scratch") && r.stderr.contains("s_swappc"), r.stderr)
        XCTAssertTrue(r.stderr.contains("kernel 'gemv_int4_g32': GEMM/GEMV at 5 waves/SIMD, below 6"), r.stderr)
        XCTAssertFalse(r.stderr.contains("gemv_int8_channel"), r.stderr)
        // A compile error names the file, kernel and diagnostic.
        let broken = dir.appendingPathComponent("broken.cl")
        try "__kernel void k(__global float* a) { a[0] = nope; }\n".write(to: broken, atomically: true, encoding: .utf8)
        r = try run(["gcn-check", "--no-cache", broken.path])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("kernel 'k': clang-15 failed: ") && r.stderr.contains("'nope'"), r.stderr)
        // Bad paths and a missing compiler.
        r = try run(["gcn-check", dir.appendingPathComponent("absent.cl").path])
        XCTAssertEqual(r.status, 65)
        r = try run(["gcn-check", dir.path])
        XCTAssertEqual(r.status, 65)
        XCTAssertTrue(r.stderr.contains("an artifact folder without kernels.cl"), r.stderr)
        r = try run(["gcn-check", "--clang", "/nonexistent/clang-15", reference])
        XCTAssertEqual(r.status, 69)
        XCTAssertTrue(r.stderr.contains("apt-get install clang-15"), r.stderr)
    }
}
