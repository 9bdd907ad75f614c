import XCTest
@testable import GCN

final class RooflineTests: XCTestCase {
    let d = GCNDevice.gfx803
    func resources(vgprs: Int) -> KernelResources {
        KernelResources(kernel: "k", vgprs: vgprs, sgprs: 20, scratchBytes: 0, ldsBytes: 512, occupancy: 0,
                        vgprSpills: 0, sgprSpills: 0, calls: 0, maxWorkGroupSize: 64)
    }

    /// int4/g32 GEMV 4096 × 4096: 8 MiB of nibbles + 2 MiB of scales, memory-bound at 80% of 256 GB/s.
    func testGEMVIsMemoryBound() {
        let n = 4096.0
        let bytes = n * n / 2 + n * n / 32 * 4 + 8 * n * 4
        let e = d.estimate(flops: 2 * n * n, aluOps: 3 * n * n, bytes: bytes, resources: resources(vgprs: 45),
                           globalSize: [2048 * 64], localSize: [64])
        XCTAssertEqual(e.bound, .memory)
        XCTAssertEqual(e.memorySeconds, bytes / (256e9 * 0.8), accuracy: 1e-12)
        XCTAssertEqual(e.seconds, e.memorySeconds + 5e-6, accuracy: 1e-12)
        XCTAssertEqual(e.effectiveWaves, 5)
        XCTAssertLessThan(e.computeSeconds, e.memorySeconds)
    }

    func testGEMMIsComputeBound() {
        let flops = 2.0 * 1024 * 1024 * 1024
        let e = d.estimate(flops: flops, bytes: 3 * 1024 * 1024 * 4, resources: resources(vgprs: 60),
                           globalSize: [256 * 256], localSize: [256])
        XCTAssertEqual(e.bound, .compute)
        XCTAssertEqual(e.computeSeconds, flops / 2 / (d.laneOpsPerSecond * 0.75), accuracy: 1e-12)
    }

    /// Below 4 waves per SIMD memory latency is not hidden: 2 waves take twice as long.
    func testOccupancyDerating() {
        let at4 = d.estimate(flops: 0, bytes: 1e8, resources: resources(vgprs: 64), globalSize: [1 << 20], localSize: [64])
        let at2 = d.estimate(flops: 0, bytes: 1e8, resources: resources(vgprs: 128), globalSize: [1 << 20], localSize: [64])
        let at8 = d.estimate(flops: 0, bytes: 1e8, resources: resources(vgprs: 32), globalSize: [1 << 20], localSize: [64])
        XCTAssertEqual(at2.memorySeconds, 2 * at4.memorySeconds, accuracy: 1e-12)
        XCTAssertEqual(at8.memorySeconds, at4.memorySeconds, accuracy: 1e-12)
        // A grid of one wave uses 1 of the 144 SIMDs, and moves 1 KiB per µs of DRAM latency.
        let tiny = d.estimate(flops: 0, bytes: 1e6, resources: resources(vgprs: 16), globalSize: [64], localSize: [64])
        XCTAssertEqual(tiny.effectiveWaves, 1.0 / 144, accuracy: 1e-12)
        XCTAssertEqual(tiny.memorySeconds, 1e6 / 1024 * 1e-6, accuracy: 1e-12)
        // Nothing that reads memory is faster than one DRAM round trip.
        let small = d.estimate(flops: 0, bytes: 100, resources: resources(vgprs: 16), globalSize: [1 << 16], localSize: [64])
        XCTAssertEqual(small.memorySeconds, 1e-6)
        // Nothing to do: the launch overhead alone.
        let empty = d.estimate(flops: 0, bytes: 0, resources: resources(vgprs: 16), globalSize: [64], localSize: [64])
        XCTAssertEqual(empty.seconds, 5e-6)
        XCTAssertTrue(empty.overheadDominated)
        XCTAssertFalse(at4.overheadDominated)
        XCTAssertEqual(RooflineEstimate.total([at4, at2, empty]), at4.seconds + at2.seconds + 5e-6, accuracy: 1e-15)
    }
}
