import ArgumentParser
import Foundation
import GCN

/// `quantc gcn-check`: compiles every kernel of artifacts or .cl files for gfx803
/// and fails on what would make them slow or wrong there (issue 7, item 5).
struct GCNCheck: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gcn-check",
        abstract: "Compile kernels for gfx803 with clang-15 and check registers, scratch, occupancy and calls.",
        discussion: """
        Each PATH is an artifact folder (its kernels.cl) or a .cl file. Prints one row per kernel \
        and exits 1 if any file fails to compile, or any kernel uses scratch, spills registers, \
        contains an s_swappc call, or is a GEMM/GEMV (name contains gemm or gemv) below \
        --min-waves waves per SIMD.
        """
    )

    @Argument(help: "Artifact folders or .cl files.")
    var paths: [String]

    @Option(help: "Least occupancy (waves per SIMD) of a GEMM/GEMV kernel.")
    var minWaves = 4

    @Option(help: "clang executable.")
    var clang = "clang-15"

    @Flag(help: "Do not read or write the compile cache.")
    var noCache = false

    func run() throws {
        let compiler = KernelCompiler(compiler: clang, cacheDirectory: noCache ? nil : KernelCompiler.defaultCacheDirectory)
        var problems: [String] = []
        var rows: [[String]] = [["file", "kernel", "VGPRs", "SGPRs", "scratch", "LDS", "spills", "occupancy", "s_swappc", "status"]]
        for path in paths {
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { fail("\(path): no such file or folder", .badInput) }
            let file = isDir.boolValue ? (path as NSString).appendingPathComponent("kernels.cl") : path
            guard FileManager.default.fileExists(atPath: file) else { fail("\(path): an artifact folder without kernels.cl", .badInput) }
            let kernels: [KernelResources]
            do {
                kernels = try compiler.compile(file: file)
            } catch GCNError.compilerMissing(let c, let r) {
                fail(GCNError.compilerMissing(compiler: c, reason: r).description, .unavailable)
            } catch {
                problems.append(error.description)
                rows.append([file, "-", "-", "-", "-", "-", "-", "-", "-", "compile error"])
                continue
            }
            if kernels.isEmpty { problems.append("\(file): defines no kernel") }
            for k in kernels {
                var bad: [String] = []
                if let d = k.defect { bad.append(d) }
                let lower = k.kernel.lowercased()
                if lower.contains("gemm") || lower.contains("gemv"), k.occupancy < minWaves {
                    bad.append("GEMM/GEMV at \(k.occupancy) waves/SIMD, below \(minWaves)")
                }
                if !bad.isEmpty { problems.append("\(file): kernel '\(k.kernel)': " + bad.joined(separator: "; ")) }
                rows.append([file, k.kernel, "\(k.vgprs)", "\(k.sgprs)", "\(k.scratchBytes)", "\(k.ldsBytes)",
                             "\(k.vgprSpills + k.sgprSpills)", "\(k.occupancy)", "\(k.calls)", bad.isEmpty ? "ok" : "FAIL"])
            }
        }
        let widths = rows[0].indices.map { c in rows.map { $0[c].count }.max()! }
        for r in rows {
            print(r.enumerated().map { c, v in c < 2 ? v.padding(toLength: widths[c], withPad: " ", startingAt: 0)
                : String(repeating: " ", count: widths[c] - v.count) + v }.joined(separator: "  "))
        }
        if !problems.isEmpty {
            for p in problems { FileHandle.standardError.write(Data("error: \(p)\n".utf8)) }
            throw ExitCode(1)
        }
    }
}
