import Foundation
import XCTest
@testable import GCN

final class OccupancyTests: XCTestCase {
    let d = GCNDevice.gfx803

    func testDeviceNumbers() {
        XCTAssertEqual(d.computeUnits, 36)
        XCTAssertEqual(d.peakFlops / 1e12, 6.17, accuracy: 0.01)
        XCTAssertEqual(d.bandwidth, 256e9)
        XCTAssertEqual(d.ldsPerCU, 64 * 1024)
    }

    /// The VGPR table of gcn.md, with the cliffs one register past each step.
    func testVGPRTable() {
        let table: [(Int, Int)] = [(1, 10), (24, 10), (25, 9), (28, 9), (29, 8), (32, 8), (33, 7), (36, 7), (37, 6), (40, 6),
                                   (41, 5), (48, 5), (49, 4), (64, 4), (65, 3), (84, 3), (85, 2), (128, 2), (129, 1), (256, 1)]
        for (v, w) in table { XCTAssertEqual(d.wavesPerSIMD(vgprs: v), w, "\(v) VGPRs") }
    }

    func testSGPRTable() {
        for (s, w) in [(10, 10), (80, 10), (81, 9), (88, 9), (89, 8), (100, 8), (102, 7)] {
            XCTAssertEqual(d.wavesPerSIMD(sgprs: s), w, "\(s) SGPRs")
        }
    }

    func testLDSAndWorkGroupLimits() {
        // 256 work-items (4 waves) with 16 KiB: 4 groups per CU, 16 waves, 4 per SIMD.
        var o = d.occupancy(vgprs: 20, sgprs: 20, ldsBytes: 16384, workGroupSize: 256)
        XCTAssertEqual(o.wavesPerSIMD, 4)
        XCTAssertEqual(o.limitedBy, .lds)
        // One wave per group with 32 KiB: 2 waves per CU; a SIMD holding any counts as 1.
        o = d.occupancy(vgprs: 20, sgprs: 20, ldsBytes: 32768, workGroupSize: 64)
        XCTAssertEqual(o.wavesPerSIMD, 1)
        XCTAssertEqual(o.wavesPerCU, 2)
        // Over the CU's LDS: cannot launch.
        XCTAssertEqual(d.occupancy(vgprs: 20, sgprs: 20, ldsBytes: 65537, workGroupSize: 64).wavesPerSIMD, 0)
        // Two-wave groups: at most 16 per CU (barrier slots), 32 waves, 8 per SIMD.
        o = d.occupancy(vgprs: 20, sgprs: 20, ldsBytes: 0, workGroupSize: 128)
        XCTAssertEqual(o.wavesPerSIMD, 8)
        XCTAssertEqual(o.limitedBy, .workGroupSlots)
        // Registers bind first when tighter.
        o = d.occupancy(vgprs: 45, sgprs: 90, ldsBytes: 512, workGroupSize: 64)
        XCTAssertEqual(o.wavesPerSIMD, 5)
        XCTAssertEqual(o.limitedBy, .vgprs)
        XCTAssertEqual(d.occupancy(vgprs: 10, sgprs: 95, ldsBytes: 0, workGroupSize: 64).limitedBy, .sgprs)
        XCTAssertEqual(d.occupancy(vgprs: 4, sgprs: 8, ldsBytes: 0, workGroupSize: 64), Occupancy(wavesPerSIMD: 10, wavesPerCU: 40, limitedBy: .waveSlots))
    }

    /// Our rule against clang's Occupancy remark on kernels of growing register use
    /// (and the reference GEMVs, whose small LDS binds neither rule).
    func testAgreesWithClang() throws {
        let (compiler, cache) = Fixtures.compiler()
        defer { try? FileManager.default.removeItem(atPath: cache) }
        let sizes = [2, 8, 16, 24, 32, 40, 48, 64, 80, 100, 128, 160]
        let source = Fixtures.prelude + sizes.map { Fixtures.pressure("p\($0)", values: $0) }.joined(separator: "\n")
        let kernels = try compiler.compile(source: source, file: "pressure.cl") + compiler.compile(file: Fixtures.referencePath)
        XCTAssertEqual(kernels.count, sizes.count + 2)
        var seen = Set<Int>()
        for k in kernels {
            let ours = d.occupancy(vgprs: k.vgprs, sgprs: k.sgprs, ldsBytes: k.ldsBytes, workGroupSize: k.maxWorkGroupSize)
            XCTAssertEqual(ours.wavesPerSIMD, k.occupancy, "\(k.kernel): \(k.vgprs) VGPRs, \(k.sgprs) SGPRs, \(k.ldsBytes) B LDS")
            XCTAssertEqual(k.scratchBytes, 0, k.kernel)
            seen.insert(k.occupancy)
        }
        // The kernels must span several occupancies for the comparison to mean anything.
        XCTAssertGreaterThanOrEqual(seen.count, 4, "occupancies seen: \(seen.sorted())")
    }
}
