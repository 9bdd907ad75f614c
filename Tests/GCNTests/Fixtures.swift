import Foundation
import XCTest
@testable import GCN

/// Kernels the GCN tests compile: the reference GEMV designs and small generated ones.
enum Fixtures {
    static let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/gcn")
    static var referencePath: String { dir.appendingPathComponent("gemv_reference.cl").path }
    static var reference: String { (try? String(contentsOfFile: referencePath, encoding: .utf8)) ?? "" }
    /// The reference file's prelude (macros and inline helpers), up to its first kernel section.
    static var prelude: String {
        let text = reference
        guard let r = text.range(of: "// ---- int4") else { return text }
        return String(text[..<r.lowerBound])
    }

    /// A compiler that caches in a fresh temporary folder, removed by the caller.
    static func compiler() -> (KernelCompiler, String) {
        let dir = NSTemporaryDirectory() + "gcn-cache-\(UUID().uuidString)"
        return (KernelCompiler(cacheDirectory: dir), dir)
    }

    /// A kernel keeping `n` loaded values live at once, so that VGPR use grows with `n`.
    static func pressure(_ name: String, values n: Int, workGroup: Int = 64) -> String {
        var s = "__kernel __attribute__((reqd_work_group_size(\(workGroup), 1, 1))) void \(name)(__global const float* restrict x, __global float* restrict y) {\n"
        s += "    const int i = QC_GROUP0() * \(workGroup) + QC_LID0();\n"
        for j in 0..<n { s += "    const float v\(j) = x[i * \(n) + \(j)];\n" }
        // Every product pairs values far apart, so all must be loaded before the first use.
        s += "    float acc = 0.0f;\n"
        for j in 0..<n { s += "    acc = acc * v\(j) + v\((j * 7 + 3) % n) * v\(n - 1 - j);\n" }
        s += "    y[i] = acc;\n}\n"
        return s
    }
}
