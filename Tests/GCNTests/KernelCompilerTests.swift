import Foundation
import XCTest
@testable import GCN

final class KernelCompilerTests: XCTestCase {
    /// The reference GEMVs: zero scratch, no calls, at least 4 waves per SIMD (issue 7's bar).
    func testReferenceGEMVsFitGfx803() throws {
        let (compiler, cache) = Fixtures.compiler()
        defer { try? FileManager.default.removeItem(atPath: cache) }
        let kernels = try compiler.compile(file: Fixtures.referencePath)
        XCTAssertEqual(kernels.map(\.kernel), ["gemv_int4_g32", "gemv_int8_channel"])
        for k in kernels {
            print("\(k.kernel): \(k.vgprs) VGPRs, \(k.sgprs) SGPRs, scratch \(k.scratchBytes), LDS \(k.ldsBytes), occupancy \(k.occupancy), calls \(k.calls)")
            XCTAssertNil(k.defect, k.kernel)
            XCTAssertGreaterThanOrEqual(k.occupancy, 4, k.kernel)
            XCTAssertEqual(k.ldsBytes, 2 * 64 * 4, k.kernel)
            XCTAssertEqual(k.maxWorkGroupSize, 64, k.kernel)
        }
    }

    /// OpenCL's work-item functions and math built-ins are calls under -nogpulib: caught.
    func testCallsAndScratchAreDefects() throws {
        let (compiler, cache) = Fixtures.compiler()
        defer { try? FileManager.default.removeItem(atPath: cache) }
        let src = """
        __kernel void uses_library(__global const float* a, __global float* b) {
            int i = get_global_id(0);
            b[i] = exp(a[i]) + tanh(a[i]);
        }
        __kernel void clean(__global const float* a, __global float* b) {
            int i = (int)__builtin_amdgcn_workitem_id_x();
            b[i] = a[i] * 2.0f;
        }
        """
        let ks = try compiler.compile(source: src, file: "library.cl")
        XCTAssertEqual(ks.map(\.kernel), ["uses_library", "clean"])
        XCTAssertGreaterThanOrEqual(ks[0].calls, 3, "get_global_id, exp and tanh")
        XCTAssertGreaterThan(ks[0].scratchBytes, 0)
        XCTAssertTrue(ks[0].defect?.contains("s_swappc") ?? false, ks[0].defect ?? "no defect")
        XCTAssertEqual(ks[1].calls, 0)
        XCTAssertNil(ks[1].defect)
        XCTAssertEqual(ks[1].maxWorkGroupSize, 256)
    }

    func testCompileErrorNamesKernelAndFirstDiagnostic() throws {
        let (compiler, cache) = Fixtures.compiler()
        defer { try? FileManager.default.removeItem(atPath: cache) }
        let src = """
        __kernel void first(__global float* a) { a[0] = 1.0f; }

        __kernel void second(__global float* a) {
            a[0] = undefined_thing;
            a[1] = another_one;
        }
        """
        XCTAssertThrowsError(try compiler.compile(source: src, file: "broken.cl")) { e in
            guard case GCNError.compileFailed(let file, let kernel, let diag) = e else { return XCTFail("\(e)") }
            XCTAssertEqual(file, "broken.cl")
            XCTAssertEqual(kernel, "second")
            XCTAssertTrue(diag.hasPrefix("broken.cl:4:"), diag)
            XCTAssertTrue(diag.contains("undefined_thing"), diag)
            XCTAssertTrue("\(e)".contains("kernel 'second'"), "\(e)")
        }
    }

    func testMissingCompilerIsAClearError() {
        let c = KernelCompiler(compiler: "clang-15-not-installed", cacheDirectory: nil)
        XCTAssertThrowsError(try c.compile(source: "__kernel void k(__global float* a) {}")) { e in
            guard case GCNError.compilerMissing(let name, _) = e else { return XCTFail("\(e)") }
            XCTAssertEqual(name, "clang-15-not-installed")
            XCTAssertTrue("\(e)".contains("apt-get install clang-15"), "\(e)")
        }
        let absolute = KernelCompiler(compiler: "/nonexistent/clang-15", cacheDirectory: nil)
        XCTAssertThrowsError(try absolute.compile(source: "")) { e in
            guard case GCNError.compilerMissing = e else { return XCTFail("\(e)") }
        }
    }

    /// The second compile of the same source reads the cache: one JSON file, no temporaries,
    /// equal results; a different source gets its own entry.
    func testCacheByContentHash() throws {
        let (compiler, cache) = Fixtures.compiler()
        defer { try? FileManager.default.removeItem(atPath: cache) }
        let src = Fixtures.prelude + Fixtures.pressure("cached", values: 8)
        let first = try compiler.compile(source: src)
        func files() -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: cache + "/gcn")) ?? []).sorted() }
        XCTAssertEqual(files().count, 1)
        XCTAssertTrue(files()[0].hasSuffix(".json"))
        // A cached entry is returned as stored: prove it by planting a changed one.
        let path = cache + "/gcn/" + files()[0]
        var planted = first
        planted[0].vgprs = 999
        try JSONEncoder().encode(planted).write(to: URL(fileURLWithPath: path))
        XCTAssertEqual(try compiler.compile(source: src)[0].vgprs, 999)
        _ = try compiler.compile(source: src + "\n")
        XCTAssertEqual(files().count, 2)
        XCTAssertFalse(files().contains { $0.hasSuffix(".tmp") })
        // Without a cache folder nothing is written and the result is clang's.
        XCTAssertEqual(try KernelCompiler(cacheDirectory: nil).compile(source: src), first)
    }

    /// The parser on hand-written output: nested metadata lists, remarks for a non-kernel
    /// function, calls counted per function.
    func testParserReadsMetadataRemarksAndCalls() throws {
        let remarks = """
        k.cl:1:1: remark: Function Name: helper [-Rpass-analysis=kernel-resource-usage]
        k.cl:1:1: remark:     Occupancy [waves/SIMD]: 3 [-Rpass-analysis=kernel-resource-usage]
        k.cl:5:1: remark: Function Name: k [-Rpass-analysis=kernel-resource-usage]
        k.cl:5:1: remark:     VGPRs: 30 [-Rpass-analysis=kernel-resource-usage]
        k.cl:5:1: remark:     Occupancy [waves/SIMD]: 8 [-Rpass-analysis=kernel-resource-usage]
        """
        let asm = """
        \t.type\thelper,@function
        helper:
        \ts_swappc_b64 s[30:31], s[4:5]
        .Lfunc_end0:
        \t.type\tk,@function
        k:                                      ; @k
        \tv_mov_b32 v0, 0
        \ts_swappc_b64 s[30:31], s[16:17]
        \ts_swappc_b64 s[30:31], s[16:17]
        .Lfunc_end1:
        \t.amdgpu_metadata
        ---
        amdhsa.kernels:
          - .args:
              - .address_space:  global
                .offset:         0
            .group_segment_fixed_size: 256
            .language_version:
              - 1
              - 2
            .max_flat_workgroup_size: 128
            .name:           k
            .private_segment_fixed_size: 16
            .sgpr_count:     12
            .sgpr_spill_count: 0
            .vgpr_count:     30
            .vgpr_spill_count: 2
        amdhsa.version:
          - 1
        \t.end_amdgpu_metadata
        """
        let ks = try ResourceParser.parse(remarks: remarks, assembly: asm, file: "k.cl")
        XCTAssertEqual(ks, [KernelResources(kernel: "k", vgprs: 30, sgprs: 12, scratchBytes: 16, ldsBytes: 256, occupancy: 8,
                                            vgprSpills: 2, sgprSpills: 0, calls: 2, maxWorkGroupSize: 128)])
        XCTAssertThrowsError(try ResourceParser.parse(remarks: "", assembly: asm, file: "k.cl")) { e in
            XCTAssertTrue("\(e)".contains("kernel 'k': no Occupancy remark"), "\(e)")
        }
    }
}
