import Codegen
import Foundation
import GCN
import XCTest

/// Every generated kernel compiles to gfx803 machine code with clang-15 with
/// zero scratch and no calls (`s_swappc_b64`: a library function that did not
/// lower to instructions under -nogpulib).
final class GFX803CompileTests: XCTestCase {
    struct Usage {
        var vgprs = 0, scratch = 0, occupancy = 0
    }

    static let clang: String? = ["/usr/bin/clang-15", "/usr/local/bin/clang-15"].first { FileManager.default.isExecutableFile(atPath: $0) }

    /// Compiles `source` and returns the per-kernel resource usage and the assembly.
    func compile(_ source: String) throws -> (usage: [String: Usage], assembly: String) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("quantc-gfx803-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let cl = dir.appendingPathComponent("k.cl"), asm = dir.appendingPathComponent("k.s")
        try source.write(to: cl, atomically: true, encoding: .utf8)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Self.clang!)
        p.arguments = ["-x", "cl", "-cl-std=CL1.2", "-target", "amdgcn-amd-amdhsa", "-mcpu=gfx803", "-nogpulib", "-O3",
                       "-Xclang", "-finclude-default-header", "-Rpass-analysis=kernel-resource-usage", "-S", cl.path, "-o", asm.path]
        let err = Pipe()
        p.standardError = err
        try p.run()
        let log = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, log)
        var usage: [String: Usage] = [:]
        var current = ""
        for line in log.split(separator: "\n") {
            guard let r = line.range(of: "remark: ") else { continue }
            let text = line[r.upperBound...].trimmingCharacters(in: .whitespaces)
            func number(after key: String) -> Int? {
                guard text.hasPrefix(key) else { return nil }
                return Int(text.dropFirst(key.count).prefix { $0 != " " }.trimmingCharacters(in: .whitespaces))
            }
            if text.hasPrefix("Function Name: ") { current = String(text.dropFirst(15).prefix { $0 != " " }) }
            if let v = number(after: "VGPRs: ") { usage[current, default: Usage()].vgprs = v }
            if let v = number(after: "ScratchSize [bytes/lane]: ") { usage[current, default: Usage()].scratch = v }
            if let v = number(after: "Occupancy [waves/SIMD]: ") { usage[current, default: Usage()].occupancy = v }
        }
        return (usage, (try? String(contentsOf: asm, encoding: .utf8)) ?? "")
    }

    func testEveryKernelCompilesWithoutScratchOrCalls() throws {
        guard Self.clang != nil else {
            print("skipped: clang-15 is not installed (apt-get install clang-15)")
            throw XCTSkip("clang-15 is not installed")
        }
        let models = [
            ("digits_mlp int8", try CodegenFixtures.quantized(try CodegenFixtures.model("digits_mlp"))),
            ("digits_mlp int4", try CodegenFixtures.quantized(try CodegenFixtures.model("digits_mlp"), weights: "int4")),
            ("digits_cnn", try CodegenFixtures.quantized(try CodegenFixtures.model("digits_cnn"))),
            ("digits_transformer", try CodegenFixtures.quantized(try CodegenFixtures.model("digits_transformer"))),
            ("coverage int4", try CodegenFixtures.quantized(CodegenFixtures.coverageModel(), weights: "int4")),
            ("coverage float", CodegenFixtures.coverageModel()),
        ]
        var templates = Set<String>()
        for (name, m) in models {
            let c = try CodegenFixtures.compile(m)
            let (usage, assembly) = try compile(c.kernels)
            let kernels = Set(c.plan.launches.compactMap(\.kernel))
            XCTAssertEqual(Set(usage.keys), kernels, name)
            for (k, u) in usage.sorted(by: { $0.key < $1.key }) {
                XCTAssertEqual(u.scratch, 0, "\(name): \(k) spills to scratch")
                if k.hasPrefix("gemm") || k.hasPrefix("gemv") || k.hasPrefix("conv") {
                    XCTAssertGreaterThanOrEqual(u.occupancy, 4, "\(name): \(k) has \(u.vgprs) VGPRs")
                }
                print("\(name): \(k): \(u.vgprs) VGPRs, occupancy \(u.occupancy)")
            }
            XCTAssertFalse(assembly.contains("s_swappc"), "\(name): a kernel calls a function")
            templates.formUnion(c.report.launches.compactMap(\.template))
        }
        XCTAssertEqual(templates, Set(TemplateKind.allCases.map(\.rawValue)), "templates not exercised")
    }

    /// The gfx803 tuner picks, per launch, the candidate with the smallest predicted
    /// time among those that compile cleanly; its choice is in the plan and the
    /// report, the tuned kernels keep zero scratch and ≥ 4 waves for GEMM/GEMV/conv,
    /// and a rerun chooses the same.
    func testTunerChoosesTheFastestCleanCandidateDeterministically() throws {
        guard Self.clang != nil else { throw XCTSkip("clang-15 is not installed") }
        let cache = FileManager.default.temporaryDirectory.appendingPathComponent("quantc-tune-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: cache) }
        var changed = 0
        for (name, m) in [("digits_cnn", try CodegenFixtures.quantized(try CodegenFixtures.model("digits_cnn"))),
                          ("coverage int4", try CodegenFixtures.quantized(CodegenFixtures.coverageModel(), weights: "int4"))] {
            let tuned = try Codegen.compile(m, quantcVersion: "test", kernelCompiler: KernelCompiler(cacheDirectory: cache))
            let again = try Codegen.compile(m, quantcVersion: "test", kernelCompiler: KernelCompiler(cacheDirectory: cache))
            XCTAssertEqual(tuned.kernels, again.kernels, name)
            XCTAssertEqual(Codegen.json(tuned.plan), Codegen.json(again.plan), name)
            let plain = try Codegen.compile(m, quantcVersion: "test", kernelCompiler: KernelCompiler(cacheDirectory: cache), tune: false)
            XCTAssertTrue(plain.report.launches.allSatisfy { $0.candidates == nil }, name)
            for (l, p) in zip(tuned.report.launches, plain.report.launches) where l.kernel != nil {
                guard ["gemv", "gemm", "conv", "depthwise", "eltwise"].contains(l.template ?? "") else {
                    XCTAssertNil(l.candidates, "\(name): \(l.kernel!)")
                    continue
                }
                let c = try XCTUnwrap(l.candidates, "\(name): \(l.kernel!)")
                XCTAssertGreaterThan(c.count, 1, "\(name): \(l.kernel!)")
                XCTAssertEqual(c.filter(\.chosen).count, 1, "\(name): \(l.kernel!)")
                let chosen = c.first(where: \.chosen)!
                XCTAssertNil(chosen.rejected)
                let best = c.filter { $0.rejected == nil }.compactMap(\.predictedMicroseconds).min()!
                XCTAssertEqual(chosen.predictedMicroseconds!, best, accuracy: 1e-9, "\(name): \(l.kernel!)")
                XCTAssertEqual(l.predictedMicroseconds!, best, accuracy: 1e-9)
                // The untuned plan runs the first candidate.
                XCTAssertEqual(p.tuning, c[0].parameters, "\(name): \(l.kernel!)")
                XCTAssertEqual(l.tuning, chosen.parameters, "\(name): \(l.kernel!)")
                if l.tuning != p.tuning { changed += 1 }
            }
            let (usage, _) = try compile(tuned.kernels)
            for (k, u) in usage {
                XCTAssertEqual(u.scratch, 0, "\(name): tuned \(k) spills")
                if k.hasPrefix("gemm") || k.hasPrefix("gemv") || k.hasPrefix("conv") {
                    XCTAssertGreaterThanOrEqual(u.occupancy, 4, "\(name): tuned \(k) has \(u.vgprs) VGPRs")
                }
            }
        }
        XCTAssertGreaterThan(changed, 0, "the tuner never departs from the defaults")
    }
}
