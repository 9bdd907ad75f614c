import Foundation
import XCTest

/// `quantc report`: the terminal table, the self-contained HTML page rendered in headless
/// Chromium, and every bad report input.
final class ReportCommandTests: CLITestCase {
    nonisolated(unsafe) static var shared: URL?
    nonisolated(unsafe) static var sharedDir: URL?

    override class func tearDown() {
        if let d = sharedDir { try? FileManager.default.removeItem(at: d) }
        super.tearDown()
    }

    /// report.json of a real `quantc quantize` run on digits_cnn (made once for the class).
    func cnnReport() throws -> URL {
        if let r = Self.shared { return r }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("quantc-report-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        Self.sharedDir = dir
        let digits = Self.root.appendingPathComponent("models/digits")
        let r = try run(["quantize", Self.root.appendingPathComponent("models/digits_cnn.onnx").path,
                         "--calibration", digits.appendingPathComponent("calib_x_img.npy").path,
                         "--test", digits.appendingPathComponent("test_x_img.npy").path,
                         "--labels", digits.appendingPathComponent("test_y.npy").path, "--eval-samples", "300",
                         "-o", dir.appendingPathComponent("cnn.onnx").path, "--no-cache", "-q"])
        XCTAssertEqual(r.status, 0, r.stderr)
        Self.shared = dir.appendingPathComponent("cnn.report.json")
        return Self.shared!
    }

    func reportObject() throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: try cnnReport())) as! [String: Any]
    }

    func write(_ object: Any, to url: URL) throws {
        try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]).write(to: url)
    }

    /// The Chromium binary, or nil (then the rendering checks are skipped with a message).
    var chromium: String? {
        for p in ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"]
        where FileManager.default.isExecutableFile(atPath: p) { return p }
        return nil
    }

    func runChromium(_ args: [String]) throws -> (status: Int32, stdout: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: chromium!)
        // Root cannot use Chromium's sandbox; the page is our own file.
        p.arguments = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars",
                       "--user-data-dir=" + (try temporaryFolder()).path] + args
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self))
    }

    func testRealRunRendersAsOneSelfContainedPageInChromium() throws {
        let report = try cnnReport()
        let json = try reportObject()
        XCTAssertEqual(json["schema_version"] as? Int, 2)
        let layers = try XCTUnwrap(json["layers"] as? [[String: Any]])
        XCTAssertEqual(layers.count, 4)
        for l in layers {
            let h = try XCTUnwrap(l["histogram"] as? [String: Any])
            XCTAssertEqual((h["counts"] as? [Int])?.reduce(0, +), l["weights"] as? Int)
            let grid = try XCTUnwrap(h["grid"] as? [String: Any])
            XCTAssertTrue((grid["shown"] as? String)?.contains("median scale") == true)
            XCTAssertEqual(l["reason"] as? String, "uniform format of the quantize pass")
        }
        // No sensitivity or allocation passes ran: those fields are absent.
        XCTAssertNil(json["sensitivities"])
        XCTAssertNil(json["allocation"])

        let dir = try temporaryFolder()
        let html = dir.appendingPathComponent("r.html")
        let r = try run(["report", report.path, "--html", html.path, "--sort", "bytes:desc"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let names = layers.map { $0["node"] as! String }
        for n in names { XCTAssertTrue(r.stdout.contains(n), r.stdout) }
        // Sorted by bytes, largest first.
        let bytes = layers.map { $0["bytes"] as! Int }
        let biggest = names[bytes.firstIndex(of: bytes.max()!)!]
        let firstRow = r.stdout.split(separator: "\n")[2]
        XCTAssertTrue(firstRow.hasPrefix(biggest), "\(firstRow)")
        let page = try String(contentsOf: html, encoding: .utf8)
        // Self-contained: nothing fetched.
        for bad in ["src=", "href=", "<link", "@import", "url(", "https:"] { XCTAssertFalse(page.contains(bad), bad) }
        XCTAssertTrue(page.contains("No Pareto sweep in this report"))
        XCTAssertTrue(page.contains("No sensitivity pass ran"))
        // Deterministic.
        let again = dir.appendingPathComponent("again.html")
        XCTAssertEqual(try run(["report", report.path, "--html", again.path, "--sort", "bytes:desc", "-q"]).status, 0)
        XCTAssertEqual(try Data(contentsOf: html), try Data(contentsOf: again))

        guard chromium != nil else {
            throw XCTSkip("chromium is not installed (tools/setup.sh installs Debian's chromium): the page was not rendered")
        }
        let png = dir.appendingPathComponent("shot.png")
        let shot = try runChromium(["--screenshot=\(png.path)", "--window-size=1400,2200", html.absoluteString])
        XCTAssertEqual(shot.status, 0)
        let image = try PNGImage(data: Data(contentsOf: png))
        XCTAssertEqual(image.width, 1400)
        var histogram: [UInt32: Int] = [:]
        for p in image.pixels { histogram[p, default: 0] += 1 }
        let background = histogram.max { $0.value < $1.value }!
        XCTAssertGreaterThan(histogram.count, 50, "too few colours: blank page?")
        XCTAssertLessThan(Double(background.value) / Double(image.pixels.count), 0.97, "the page is almost all one colour")
        // The chart colours are there: int8 bars (#0072B2) and histogram bars (#8fb3d9).
        XCTAssertNotNil(histogram[0x0072B2FF], "no int8 bar drawn")
        XCTAssertNotNil(histogram[0x8FB3D9FF], "no histogram bar drawn")

        let dom = try runChromium(["--dump-dom", html.absoluteString])
        XCTAssertEqual(dom.status, 0)
        XCTAssertEqual(dom.stdout.components(separatedBy: "<tr class=\"layer").count - 1, layers.count, "one table row per layer")
        XCTAssertTrue(dom.stdout.contains("data-ready=\"1\""), "the page's script did not run to its end")
        for n in names { XCTAssertTrue(dom.stdout.contains(">\(n)</td>"), n) }
    }

    /// Sensitivities, an allocation and a Pareto curve (as the passes of issue 6 write them) are drawn, and
    /// text from the file is escaped.
    func testChartsDrawWhatTheReportHoldsAndTextIsEscaped() throws {
        var json = try reportObject()
        var layers = json["layers"] as! [[String: Any]]
        layers[0]["node"] = "<script>alert(1)</script>&"
        for (i, _) in layers.enumerated() {
            let f = layers[i]["format"] as! String
            layers[i]["sensitivity"] = ["measured": [f: 0.01 * Double(i + 1), "int4/g32": 0.2 * Double(i + 1)],
                                        "layer-hessian": [f: 0.03 * Double(i + 1), "int4/g32": 0.5 * Double(i + 1)]]
            layers[i]["predicted_error"] = 0.03 * Double(i + 1)
            layers[i]["measured_error"] = 0.01 * Double(i + 1)
            layers[i]["metrics"] = ["curvature.min-bits": 5.5, "curvature.violated": i == 1 ? 1.0 : 0.0]
        }
        json["layers"] = layers
        json["sensitivities"] = [["method": "layer-hessian", "unit": "tr(ΔW H ΔWᵀ)", "notes": [], "spearman": 0.9, "pairs": 8],
                                 ["method": "measured", "unit": "output MSE", "notes": ["64 samples"]]]
        json["predicted_by"] = "layer-hessian"
        json["allocation"] = ["budget": "4.5bits", "objective": "layer-hessian", "solver": "exact", "predicted": 0.3,
                              "average_bits": 4.5, "bytes": 1234, "pinned": [:] as [String: String], "notes": []]
        json["pareto"] = [
            ["label": "float", "source": "float", "average_bits": 32, "weight_bytes": 9000, "metric_name": "top-1 accuracy", "metric": 97.5, "chosen": false],
            ["label": "int8", "source": "quantc", "average_bits": 8.1, "weight_bytes": 2300, "metric_name": "top-1 accuracy", "metric": 97.4, "chosen": false],
            ["label": "mixed 4.5bits", "source": "quantc", "average_bits": 4.5, "weight_bytes": 1300, "metric_name": "top-1 accuracy", "metric": 96.9, "chosen": true],
            ["label": "onnxruntime int8", "source": "onnxruntime", "average_bits": 8.5, "weight_bytes": 2400, "metric_name": "top-1 accuracy", "metric": 97.3, "chosen": false],
        ]
        let dir = try temporaryFolder()
        let file = dir.appendingPathComponent("full.report.json"), html = dir.appendingPathComponent("full.html")
        try write(json, to: file)
        let r = try run(["report", file.path, "--html", html.path, "--sort", "layer-hessian:desc"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("layer-hessian") && r.stdout.contains("VIOLATED") && r.stdout.contains("allocation: budget 4.5bits"), r.stdout)
        let page = try String(contentsOf: html, encoding: .utf8)
        XCTAssertFalse(page.contains("<script>alert"))
        XCTAssertTrue(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;&amp;"))
        XCTAssertFalse(page.contains("No Pareto sweep"))
        XCTAssertFalse(page.contains("No sensitivity pass ran"))
        XCTAssertTrue(page.contains("class=\"ort\"") && page.contains("class=\"chosen\"") && page.contains("class=\"front\""))
        XCTAssertTrue(page.contains("Spearman 0.900"))
        XCTAssertTrue(page.contains("aria-label=\"predicted against measured\""))
        XCTAssertTrue(page.contains("aria-label=\"sensitivity per layer\""))
    }

    func testSortByUnknownColumnIsAUsageError() throws {
        let r = try run(["report", try cnnReport().path, "--sort", "bogus"])
        XCTAssertEqual(r.status, 64)
        XCTAssertTrue(r.stderr.contains("--sort 'bogus'") && r.stderr.contains("its columns are: depth, layer, op"), r.stderr)
    }

    /// One `error:` line naming the file and what is wrong, exit 65, no HTML written.
    func assertBadReport(_ contents: Data, _ message: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let dir = try temporaryFolder()
        let path = dir.appendingPathComponent("bad.report.json")
        try contents.write(to: path)
        let r = try run(["report", path.path, "--html", dir.appendingPathComponent("out.html").path])
        XCTAssertEqual(r.status, 65, r.stderr, file: file, line: line)
        XCTAssertTrue(r.stderr.hasPrefix("error: \(path.path): ") && r.stderr.contains(message), r.stderr, file: file, line: line)
        XCTAssertEqual(r.stderr.filter { $0 == "\n" }.count, 1, r.stderr, file: file, line: line)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("out.html").path), file: file, line: line)
    }

    func testReportsOfAnotherSchemaOrNotReportsAreRefused() throws {
        var json = try reportObject()
        json["schema_version"] = 1
        json["tool"] = "quantc 0.1.0"
        try assertBadReport(try JSONSerialization.data(withJSONObject: json),
                            "report schema 1 (written by quantc 0.1.0); this quantc 0.2.0 reads report schema 2")
        json["schema_version"] = nil
        try assertBadReport(try JSONSerialization.data(withJSONObject: json), "an unversioned report (schema 1)")
        try assertBadReport(Data("{\"layers\": [".utf8), "not JSON")
        try assertBadReport(Data("[1, 2]".utf8), "not a quantc report: the JSON is not an object")
        try assertBadReport(Data("{\"model\": \"m.onnx\"}".utf8), "not a quantc report")
        var broken = try reportObject()
        var layers = broken["layers"] as! [[String: Any]]
        layers[2]["node"] = nil
        broken["layers"] = layers
        try assertBadReport(try JSONSerialization.data(withJSONObject: broken), "malformed report: missing field 'node' in layers[2]")
        let r = try run(["report", "/nonexistent/x.report.json"])
        XCTAssertEqual(r.status, 65)
        XCTAssertEqual(r.stderr, "error: /nonexistent/x.report.json: no such file\n")
    }
}
