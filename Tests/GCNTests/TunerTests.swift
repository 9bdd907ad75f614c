import Foundation
import XCTest
@testable import GCN

final class TunerTests: XCTestCase {
    /// The reference int8 GEMV with `rows` rows per work-group, renamed so candidates coexist in one file.
    func int8GEMV(rows: Int, n: Int = 4096, k: Int = 4096) -> KernelCandidate {
        let text = Fixtures.reference
        let section = String(text[text.range(of: "// ---- int8")!.lowerBound...])
        let tag = "r\(rows)"
        let source = section
            .replacingOccurrences(of: "QC_I8_BIAS", with: "QC_BIAS_OF_I8")
            .replacingOccurrences(of: "I8_", with: "I8\(tag)_")
            .replacingOccurrences(of: "QC_BIAS_OF_I8", with: "QC_I8_BIAS")
            .replacingOccurrences(of: "qc_dot4_i8", with: "qc_dot4_i8_\(tag)")
            .replacingOccurrences(of: "gemv_int8_channel", with: "gemv_int8_channel_\(tag)")
            .replacingOccurrences(of: "#define I8\(tag)_ROWS 2", with: "#define I8\(tag)_ROWS \(rows)")
        let bytes = Double(n * k + n * 4 + n * 4 + k * 4 + n * 4)
        return KernelCandidate(config: "int8_channel_rows\(rows)", parameters: ["rows": rows, "wg": 64],
                               kernelName: "gemv_int8_channel_\(tag)", source: source,
                               flops: Double(2 * n * k), aluOps: Double(2 * n * k), bytes: bytes,
                               globalSize: [n / rows * 64], localSize: [64])
    }

    func testPicksFastestViableCandidateDeterministically() throws {
        let (compiler, cache) = Fixtures.compiler()
        defer { try? FileManager.default.removeItem(atPath: cache) }
        let tuner = Tuner(compiler: compiler)
        var calls = int8GEMV(rows: 2)
        calls.config = "zz_calls"
        calls.kernelName = "uses_barrier"
        calls.source = "__kernel void uses_barrier(__global float* y) { y[get_local_id(0)] = 1.0f; barrier(CLK_LOCAL_MEM_FENCE); }"
        var broken = int8GEMV(rows: 2)
        broken.config = "aa_broken"
        broken.kernelName = "broken"
        broken.source = "__kernel void broken(__global float* y) { y[0] = not_declared; }"
        let candidates = [int8GEMV(rows: 1), int8GEMV(rows: 2), int8GEMV(rows: 4), int8GEMV(rows: 16), calls, broken]
        let tuned = try tuner.tune(layer: "fc1", prelude: Fixtures.prelude, candidates: candidates)
        for e in tuned.evaluations {
            print(e.config, e.resources.map { "\($0.vgprs) VGPRs, occupancy \($0.occupancy)" } ?? "-",
                  e.estimate.map { String(format: "%.2f us %@", $0.seconds * 1e6, $0.bound.rawValue) } ?? "-", e.rejection ?? "ok")
        }
        XCTAssertEqual(tuned.evaluations.map(\.config), candidates.map(\.config))
        let byConfig = Dictionary(uniqueKeysWithValues: tuned.evaluations.map { ($0.config, $0) })
        XCTAssertTrue(byConfig["zz_calls"]!.rejection!.contains("s_swappc"), byConfig["zz_calls"]!.rejection!)
        XCTAssertTrue(byConfig["aa_broken"]!.rejection!.contains("kernel 'broken'"), byConfig["aa_broken"]!.rejection!)
        XCTAssertTrue(byConfig["aa_broken"]!.rejection!.contains("not_declared"), byConfig["aa_broken"]!.rejection!)
        // The choice: smallest predicted time among the viable, ties to the smaller name.
        let viable = tuned.evaluations.filter { $0.rejection == nil }
        XCTAssertEqual(viable.count, 4)
        let best = viable.min { ($0.estimate!.seconds, $0.config) < ($1.estimate!.seconds, $1.config) }!
        XCTAssertEqual(tuned.chosen.config, best.config)
        XCTAssertEqual(tuned.resources.kernel, tuned.chosen.kernelName)
        XCTAssertGreaterThanOrEqual(tuned.resources.occupancy, 4)
        // Same answer again (from the cache) and in another candidate order.
        let again = try tuner.tune(layer: "fc1", prelude: Fixtures.prelude, candidates: candidates.reversed())
        XCTAssertEqual(again.chosen.config, tuned.chosen.config)
        XCTAssertEqual(again.estimate, tuned.estimate)
    }

    func testRejectsMalformedCandidatesAndReportsAllRejections() throws {
        let (compiler, cache) = Fixtures.compiler()
        defer { try? FileManager.default.removeItem(atPath: cache) }
        let tuner = Tuner(compiler: compiler)
        var twin = int8GEMV(rows: 4)
        twin.config = "other"
        twin.kernelName = int8GEMV(rows: 2).kernelName
        XCTAssertThrowsError(try tuner.tune(layer: "fc2", prelude: Fixtures.prelude, candidates: [int8GEMV(rows: 2), twin])) { e in
            XCTAssertEqual(e as? GCNError, .badCandidate(layer: "fc2", config: "other", message: "kernel name 'gemv_int8_channel_r2' is used by another candidate"))
        }
        var ragged = int8GEMV(rows: 2)
        ragged.globalSize = [1000]
        XCTAssertThrowsError(try tuner.tune(layer: "fc2", prelude: Fixtures.prelude, candidates: [ragged])) { e in
            XCTAssertTrue("\(e)".contains("not a multiple of local size"), "\(e)")
        }
        var scratch = int8GEMV(rows: 2)
        scratch.source = "__kernel void \(scratch.kernelName)(__global float* y) { y[get_global_id(0)] = 0.0f; }"
        XCTAssertThrowsError(try tuner.tune(layer: "fc2", prelude: Fixtures.prelude, candidates: [scratch])) { e in
            guard case GCNError.noViableCandidate(let layer, let rejected) = e else { return XCTFail("\(e)") }
            XCTAssertEqual(layer, "fc2")
            XCTAssertEqual(rejected.count, 1)
            XCTAssertTrue(rejected[0].hasPrefix("int8_channel_rows2: ") && rejected[0].contains("scratch"), rejected[0])
        }
    }
}
