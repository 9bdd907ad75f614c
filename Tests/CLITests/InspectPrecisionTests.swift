import Foundation
import XCTest

/// `quantc inspect --precision` on quantc's own output and on models quantized by ONNX Runtime
/// (QDQ, QOperator, dynamic MatMulInteger) and with com.microsoft MatMulNBits.
final class InspectPrecisionTests: CLITestCase {
    var digits: URL { Self.root.appendingPathComponent("models/digits") }

    func precision(_ model: String) throws -> [String: Any] {
        let r = try run(["inspect", "--precision", "--json", model])
        XCTAssertEqual(r.status, 0, r.stderr)
        return try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
    }

    func testOurInt8AndInt4Models() throws {
        let dir = try temporaryFolder()
        let cnn = Self.root.appendingPathComponent("models/digits_cnn.onnx").path
        for (weights, format) in [("int8", "int8/channel"), ("int4", "int4/g32")] {
            let out = dir.appendingPathComponent("cnn.\(weights).onnx")
            let q = try run(["quantize", cnn, "--calibration", digits.appendingPathComponent("calib_x_img.npy").path, "--weights", weights,
                             "-o", out.path, "--no-cache", "-q", "--eval-samples", "16"])
            XCTAssertEqual(q.status, 0, q.stderr)
            let p = try precision(out.path)
            let layers = try XCTUnwrap(p["layers"] as? [[String: Any]])
            let report = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("cnn.\(weights).report.json"))) as! [String: Any]
            let expected = report["layers"] as! [[String: Any]]
            XCTAssertEqual(layers.map { $0["node"] as? String }, expected.map { $0["node"] as? String })
            for (l, e) in zip(layers, expected) {
                XCTAssertEqual(l["format"] as? String, format)
                XCTAssertEqual(l["parameters"] as? Int, e["weights"] as? Int)
                // An int8 QDQ file also stores zero points (one per scale, zeros) that the report's
                // cost (storageBytes, symmetric) leaves out; symmetric int4 is written without them.
                let bits = weights == "int8" ? 8 : 4, n = e["weights"] as! Int, reportBytes = e["bytes"] as! Int
                let scales = (reportBytes - (n * bits + 7) / 8) / 4
                XCTAssertEqual(l["bytes"] as? Int, reportBytes + (bits == 8 ? scales : 0), "\(l)")
            }
            let text = try run(["inspect", "--precision", out.path])
            XCTAssertTrue(text.stdout.contains("total: 4 layers (4 quantized)"), text.stdout)
        }
        // Mixed, with one layer pinned to fp16 (stored float16, then Cast): inspect reads every
        // layer's format as the report chose it.
        let mixed = dir.appendingPathComponent("cnn.mixed.onnx")
        let q = try run(["quantize", cnn, "--calibration", digits.appendingPathComponent("calib_x_img.npy").path, "--budget", "6bits",
                         "--keep", "conv1=fp16", "--keep", "conv3=int4/g32", "-o", mixed.path, "--no-cache", "-q", "--eval-samples", "16"])
        XCTAssertEqual(q.status, 0, q.stderr)
        let report = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("cnn.mixed.report.json"))) as! [String: Any]
        let chosen = (report["layers"] as! [[String: Any]]).map { $0["format"] as? String }
        let read = try XCTUnwrap(try precision(mixed.path)["layers"] as? [[String: Any]]).map { $0["format"] as? String }
        XCTAssertEqual(read.count, 4)
        XCTAssertEqual(read.first, "fp16")
        XCTAssertEqual(read[2], "int4/g32")
        XCTAssertEqual(read, chosen)

        // A float model: every layer fp32, bytes equal to float bytes.
        let p = try precision(cnn)
        for l in p["layers"] as! [[String: Any]] {
            XCTAssertEqual(l["format"] as? String, "fp32")
            XCTAssertEqual(l["bytes"] as? Int, l["floatBytes"] as? Int)
        }
    }

    func testModelsQuantizedByOnnxRuntime() throws {
        let python = Self.root.appendingPathComponent(".venv/bin/python").path
        guard FileManager.default.isExecutableFile(atPath: python) else {
            throw XCTSkip("no .venv (tools/setup.sh makes it): ONNX Runtime's quantized models cannot be generated")
        }
        let dir = try temporaryFolder()
        let p = Process()
        p.executableURL = URL(fileURLWithPath: python)
        p.arguments = [Self.root.appendingPathComponent("tools/make_peer_quantized.py").path, dir.path]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0)
        let made = try JSONSerialization.jsonObject(with: o) as! [String: Any]

        func formats(_ file: String) throws -> [String: String] {
            let layers = try precision(dir.appendingPathComponent(file).path)["layers"] as! [[String: Any]]
            return Dictionary(uniqueKeysWithValues: layers.map { ($0["node"] as! String, "\($0["op"]!) \($0["format"]!)") })
        }
        // QDQ, per channel: int8 symmetric weights on the three convolutions and the Gemm.
        let qdq = try formats("ort_qdq_cnn.onnx")
        XCTAssertEqual(qdq.count, 4, "\(qdq)")
        XCTAssertEqual(Set(qdq.values.map { $0.split(separator: " ")[1] }), ["int8/channel"], "\(qdq)")
        // QOperator, per tensor: QLinearConv and com.microsoft QGemm.
        let qop = try formats("ort_qop_cnn.onnx")
        XCTAssertEqual(qop.values.filter { $0.hasPrefix("QLinearConv ") }.count, 3, "\(qop)")
        XCTAssertEqual(qop.values.filter { $0.hasPrefix("com.microsoft::QGemm ") }.count, 1, "\(qop)")
        XCTAssertTrue(qop.values.allSatisfy { $0.hasSuffix("int8/tensor") || $0.hasSuffix("int8/tensor/asym") }, "\(qop)")
        // Dynamic: MatMulInteger with int8 weights.
        let dyn = try formats("ort_dynamic_tf.onnx")
        XCTAssertGreaterThanOrEqual(dyn.values.filter { $0.hasPrefix("MatMulInteger int8/") }.count, 13, "\(dyn)")
        // MatMulNBits: 4 bits in blocks of 32 with zero points; parameters and bytes as written.
        let nbits = try precision(dir.appendingPathComponent("nbits_tf.onnx").path)["layers"] as! [[String: Any]]
        let expected = made["nbits"] as! [[String: Any]]
        let byNode = Dictionary(uniqueKeysWithValues: nbits.map { ($0["node"] as! String, $0) })
        XCTAssertEqual(expected.count, 13)
        for e in expected {
            let l = try XCTUnwrap(byNode[e["node"] as! String], "\(e)")
            XCTAssertEqual(l["op"] as? String, "com.microsoft::MatMulNBits")
            XCTAssertEqual(l["format"] as? String, "uint4/g32/asym")
            XCTAssertEqual(l["parameters"] as? Int, e["parameters"] as? Int)
            XCTAssertEqual(l["bytes"] as? Int, e["bytes"] as? Int)
        }
    }
}
