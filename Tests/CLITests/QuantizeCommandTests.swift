import Foundation
import XCTest

/// `quantc quantize` end to end on the bundled models, and every bad input the
/// issue lists: one clear error, the documented exit status, no output left.
final class QuantizeCommandTests: CLITestCase {
    var digits: URL { Self.root.appendingPathComponent("models/digits") }

    func quantize(_ extra: [String], model: String? = nil, out: URL) throws -> Result {
        try run(["quantize", model ?? mlp, "-o", out.path, "--no-cache", "--threads", "1"] + extra)
    }

    func testQuantizeWritesTheModelAndReportAndIsDeterministic() throws {
        let dir = try temporaryFolder()
        let out = dir.appendingPathComponent("mlp.int8.onnx")
        let args = ["--calibration", digits.appendingPathComponent("calib_x.npy").path,
                    "--test", digits.appendingPathComponent("test_x.npy").path,
                    "--labels", digits.appendingPathComponent("test_y.npy").path]
        let r = try quantize(args, out: out)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("fc1") && r.stdout.contains("int8/channel"), r.stdout)
        XCTAssertTrue(r.stdout.contains("accuracy: float 96.74%"), r.stdout)
        let report = dir.appendingPathComponent("mlp.int8.report.json")
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: report)) as! [String: Any]
        let layers = try XCTUnwrap(json["layers"] as? [[String: Any]])
        XCTAssertEqual(layers.map { $0["node"] as? String }, ["fc1", "fc2", "fc3"])
        for l in layers {
            let w = try XCTUnwrap(l["weight_error"] as? [String: Any])
            XCTAssertGreaterThan(try XCTUnwrap(w["sqnr_db"] as? Double), 30)
            XCTAssertNotNil((l["activation_error"] as? [String: Any])?["p99"])
        }
        // The default calibration tries several range sets and says which it kept.
        let notes = try XCTUnwrap(json["notes"] as? [String])
        XCTAssertTrue(notes.contains { $0.hasPrefix("calibration ranges chosen by output SQNR on calibration samples: percentile-99.99") }, "\(notes)")
        XCTAssertTrue((json["calibration"] as? String)?.contains("(chosen by auto) over 600 samples") == true, "\(json["calibration"] ?? "")")
        let acc = try XCTUnwrap(json["accuracy"] as? [String: Any])
        XCTAssertEqual(try XCTUnwrap(acc["float"] as? Double) - (try XCTUnwrap(acc["quantized"] as? Double)), 0, accuracy: 0.005)
        // Same inputs, byte-identical artifacts (also with another thread count).
        let out2 = dir.appendingPathComponent("again.onnx")
        let r2 = try run(["quantize", mlp, "-o", out2.path, "--no-cache", "--threads", "2"] + args)
        XCTAssertEqual(r2.status, 0, r2.stderr)
        XCTAssertEqual(try Data(contentsOf: out), try Data(contentsOf: out2))
        let report2 = try String(contentsOf: dir.appendingPathComponent("again.report.json"), encoding: .utf8)
        XCTAssertEqual(try String(contentsOf: report, encoding: .utf8).replacingOccurrences(of: "mlp.int8.onnx", with: "again.onnx"), report2)
        // The calibration cache: a rerun with another method reads the statistics.
        let cache = dir.appendingPathComponent("cache")
        for method in ["minmax", "percentile"] {
            let r3 = try run(["quantize", mlp, "-o", dir.appendingPathComponent("c.onnx").path, "--cache-dir", cache.path,
                              "--method", method, "--calibration", digits.appendingPathComponent("calib_x.npy").path, "-q"])
            XCTAssertEqual(r3.status, 0, r3.stderr)
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: cache.path).filter { $0.hasPrefix("calibration-") }.count, 1)
    }

    func testInt4WeightsRaiseTheOpsetAndRun() throws {
        let dir = try temporaryFolder()
        let out = dir.appendingPathComponent("cnn.int4.onnx")
        let r = try quantize(["--calibration", digits.appendingPathComponent("calib_x_img.npy").path, "--weights", "int4"],
                             model: Self.root.appendingPathComponent("models/digits_cnn.onnx").path, out: out)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("int4/g32"), r.stdout)
        XCTAssertTrue(r.stderr.contains("raised the opset from 17 to 21"), r.stderr)
        let inspect = try run(["inspect", out.path])
        XCTAssertEqual(inspect.status, 0, inspect.stderr)
    }

    func testInt4FormatMatMulNBits() throws {
        let dir = try temporaryFolder()
        let out = dir.appendingPathComponent("mlp.nbits.onnx")
        let r = try quantize(["--calibration", digits.appendingPathComponent("calib_x.npy").path, "--int4-format", "matmulnbits"], out: out)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("int4/g32"), r.stdout)
        XCTAssertFalse(r.stderr.contains("raised the opset"), "MatMulNBits needs no opset 21: \(r.stderr)")
        let inspect = try run(["inspect", out.path, "--json"])
        XCTAssertEqual(inspect.status, 0, inspect.stderr)
        XCTAssertTrue(inspect.stdout.contains("MatMulNBits") && inspect.stdout.contains("com.microsoft"), inspect.stdout)
        // The report's file sizes are the files' sizes.
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("mlp.nbits.report.json"))) as! [String: Any]
        let size = try FileManager.default.attributesOfItem(atPath: out.path)[.size] as! Int
        XCTAssertEqual(json["quantized_model_bytes"] as? Int, size)
        XCTAssertEqual(json["float_model_bytes"] as? Int, try FileManager.default.attributesOfItem(atPath: mlp)[.size] as? Int)
        XCTAssertLessThan(size, 2 * (json["float_model_bytes"] as! Int) / 5)
        XCTAssertTrue(r.stdout.contains("model file: "), r.stdout)
    }

    func testBadInt4Format() throws {
        let calib = ["--calibration", digits.appendingPathComponent("calib_x.npy").path]
        try assertFails(calib + ["--int4-format", "nbits"], status: 64, "unknown --int4-format 'nbits'; use qdq or matmulnbits")
        try assertFails(calib + ["--int4-format", "matmulnbits", "--weights", "int8"], status: 64, "cannot go with --weights int8")
        try assertFails(calib + ["--int4-format", "matmulnbits", "--pipeline", "canonicalize"], status: 64,
                        "with --pipeline, write insert-qdq(int4-format=matmulnbits) instead")
        try assertFails(calib + ["--pipeline", "canonicalize,calibrate,quantize(weights=int4),insert-qdq(int4-format=mnb)"], status: 64,
                        "int4-format")
    }

    func testRandomCalibrationWarns() throws {
        let dir = try temporaryFolder()
        let r = try quantize(["--calibration-random", "16"], out: dir.appendingPathComponent("r.onnx"))
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("warning: calibrating on 16 random inputs"), r.stderr)
    }

    /// Asserts exit status `status`, an `error:` line containing `message`, and nothing written.
    func assertFails(_ args: [String], status: Int32, _ message: String, model: String? = nil,
                     file: StaticString = #filePath, line: UInt = #line) throws {
        let dir = try temporaryFolder()
        let out = dir.appendingPathComponent("out.onnx")
        let r = try quantize(args, model: model, out: out)
        XCTAssertEqual(r.status, status, r.stderr, file: file, line: line)
        XCTAssertTrue(r.stderr.lowercased().contains("error: ") && r.stderr.contains(message), r.stderr, file: file, line: line)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), [], "no output left", file: file, line: line)
    }

    func testCalibrationDataOfTheWrongShapeOrType() throws {
        let dir = try temporaryFolder()
        try Data(npy: "<f4", shape: [5, 63], bytes: 5 * 63 * 4).write(to: dir.appendingPathComponent("a.npy"))
        try assertFails(["--calibration", dir.path], status: 65, "a.npy")
        let dir2 = try temporaryFolder()
        try Data(npy: "<i4", shape: [5, 64], bytes: 5 * 64 * 4).write(to: dir2.appendingPathComponent("b.npy"))
        try assertFails(["--calibration", dir2.path], status: 65, "b.npy")
    }

    func testEmptyCalibrationFolder() throws {
        let dir = try temporaryFolder()
        try assertFails(["--calibration", dir.path], status: 65, "holds no samples")
    }

    func testNonNumericNpy() throws {
        let dir = try temporaryFolder()
        try Data(npy: "<U3", shape: [2], bytes: 2 * 12).write(to: dir.appendingPathComponent("s.npy"))
        try assertFails(["--calibration", dir.path], status: 65, "s.npy")
    }

    func testGPTQRoundingRunsLayerHessianAndRound() throws {
        let dir = try temporaryFolder()
        let out = dir.appendingPathComponent("mlp.gptq.onnx")
        let r = try quantize(["--calibration", digits.appendingPathComponent("calib_x.npy").path, "--weights", "int4", "--rounding", "gptq"], out: out)
        XCTAssertEqual(r.status, 0, r.stderr)
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("mlp.gptq.report.json"))) as! [String: Any]
        let pipeline = try XCTUnwrap(json["pipeline"] as? String)
        XCTAssertTrue(pipeline.contains("quantize(weights=int4") && pipeline.contains("),layer-hessian(samples=128,batch=32),round(method=gptq,")
                      && pipeline.hasSuffix(",insert-qdq"), pipeline)
        let calib = ["--calibration", digits.appendingPathComponent("calib_x.npy").path]
        try assertFails(calib + ["--rounding", "best"], status: 64, "unknown --rounding 'best'; use rtn or gptq")
        try assertFails(calib + ["--rounding", "gptq", "--pipeline", "canonicalize"], status: 64, "--rounding sets the default pipeline's rounding")
    }

    func testUnknownPassOrOption() throws {
        let calib = ["--calibration", digits.appendingPathComponent("calib_x.npy").path]
        try assertFails(calib + ["--pipeline", "canonicalize,quantise"], status: 64, "unknown pass 'quantise'; the passes are:")
        try assertFails(calib + ["--pipeline", "quantize(bits=3)"], status: 64, "pass 'quantize' has no option 'bits'; its options are: weights,")
        try assertFails(calib + ["--method", "kl"], status: 64, "unknown --method 'kl'")
    }

    func testExcludeNamingNoNode() throws {
        try assertFails(["--calibration", digits.appendingPathComponent("calib_x.npy").path, "--exclude", "fc"],
                        status: 64, "--exclude: \(mlp) has no node named 'fc'; did you mean 'fc1', 'fc2', 'fc3'?")
    }

    func testUnwritableOutputLeavesNothingBehind() throws {
        // A folder path that cannot exist (under a regular file): refused before any work,
        // whoever runs the test (root ignores permission bits).
        let dir = try temporaryFolder()
        let file = dir.appendingPathComponent("plain")
        try Data("x".utf8).write(to: file)
        let r = try run(["quantize", mlp, "--calibration", digits.appendingPathComponent("calib_x.npy").path,
                         "-o", file.appendingPathComponent("m.onnx").path, "--no-cache"])
        XCTAssertEqual(r.status, 73, r.stderr)
        XCTAssertTrue(r.stderr.contains("m.onnx: cannot write there"), r.stderr)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["plain"])
        XCTAssertEqual(try Data(contentsOf: file), Data("x".utf8))
    }
}

extension Data {
    /// A version-1 .npy file with the given dtype and shape and zero bytes of data.
    init(npy descr: String, shape: [Int], bytes: Int) {
        let dims = shape.count == 1 ? "(\(shape[0]),)" : "(\(shape.map(String.init).joined(separator: ", ")))"
        var header = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(dims), }"
        while (10 + header.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        var d = Data([0x93] + Array("NUMPY".utf8) + [1, 0])
        d.append(contentsOf: [UInt8(header.utf8.count & 0xFF), UInt8(header.utf8.count >> 8)])
        d.append(contentsOf: Array(header.utf8))
        d.append(Data(count: bytes))
        self = d
    }
}
