import Foundation
import XCTest

/// Compares printed IR with Tests/Fixtures/golden/passes/`name`; with
/// QUANTC_UPDATE_GOLDEN=1 the file is rewritten first (after an intended change).
///
/// `computedFloats`: the text holds figures computed by running the model
/// (calibrated ranges and the scales drawn from them). OpenBLAS chooses its
/// kernels by CPU, and its Haswell (Intel Xeon) and Zen (AMD EPYC) kernels sum
/// in different orders, so those figures may differ in the last ulp between
/// machines. Then both sides are compared with float literals rounded to 6
/// significant digits and the hashes of float32 tensors left out; the
/// structure, the integer tensors and their hashes still compare exactly.
func assertGolden(_ text: String, _ name: String, computedFloats: Bool = false, file: StaticString = #filePath, line: UInt = #line) throws {
    let golden = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/golden/passes")
    let url = golden.appendingPathComponent(name)
    if ProcessInfo.processInfo.environment["QUANTC_UPDATE_GOLDEN"] == "1" {
        try FileManager.default.createDirectory(at: golden, withIntermediateDirectories: true)
        try text.write(to: url, atomically: true, encoding: .utf8)
    }
    let expected = try String(contentsOf: url, encoding: .utf8)
    if computedFloats {
        XCTAssertEqual(roundedFloats(text), roundedFloats(expected), "differs from \(url.path) beyond the last ulp", file: file, line: line)
    } else {
        XCTAssertEqual(text, expected, "differs from \(url.path)", file: file, line: line)
    }
}

/// `text` with every float literal (one with a '.' or an exponent) at 6
/// significant digits and `fnv=` left out of f32 tensor lines.
func roundedFloats(_ text: String) -> String {
    let number = try! NSRegularExpression(pattern: #"-?\d+\.\d+(?:e[-+]?\d+)?|-?\d+e[-+]?\d+"#)
    let hash = try! NSRegularExpression(pattern: #"(: f32\[[^\]]*\]) fnv=0x[0-9a-f]+"#)
    return text.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
        var s = String(line)
        s = hash.stringByReplacingMatches(in: s, range: NSRange(s.startIndex..., in: s), withTemplate: "$1")
        let ns = s as NSString
        var out = "", last = 0
        for m in number.matches(in: s, range: NSRange(location: 0, length: ns.length)) {
            out += ns.substring(with: NSRange(location: last, length: m.range.location - last))
            out += String(format: "%.5e", Double(ns.substring(with: m.range))!)
            last = m.range.location + m.range.length
        }
        return out + ns.substring(from: last)
    }.joined(separator: "\n")
}
