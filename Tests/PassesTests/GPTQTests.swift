import Foundation
import IR
import Interpreter
import ONNX
import Passes
import XCTest

/// round(method=gptq): on every layer of the bundled models GPTQ's
/// reconstruction error tr(ΔW H ΔWᵀ) is at most RTN's, its int4 models are
/// closer to the float model end to end, and its result does not depend on
/// the thread count.
final class GPTQTests: XCTestCase {
    static let root = QuantizationTests.root
    static let models = [("digits_mlp", "calib_x.npy", "test_x.npy"), ("digits_cnn", "calib_x_img.npy", "test_x_img.npy"),
                         ("digits_transformer", "calib_x_seq.npy", "test_x_seq.npy")]

    static func load(_ name: String) throws -> Model {
        try ONNXImporter.importModel(at: root.appendingPathComponent("models/\(name).onnx").path)
    }

    static func run(_ pipeline: String, on model: Model, calibration: String, threads: Int = 2) throws -> (Model, PassContext) {
        var m = model
        var manager = PassManager(passes: try PassRegistry.pipeline(pipeline))
        manager.context.samples = try SampleSource(folder: root.appendingPathComponent("models/digits/\(calibration)").path,
                                                   inputs: model.graph.runtimeInputs)
        manager.context.threads = threads
        try manager.run(on: &m)
        return (m, manager.context)
    }

    func testGPTQReconstructionErrorIsAtMostRTNsOnEveryLayer() throws {
        for (name, calibration, _) in Self.models {
            let model = try Self.load(name)
            // The last run takes columns in act-order, with per-group scales fixed when the sweep first meets a group.
            for (weights, round) in [("weights=int4,group=32", "round(method=gptq)"), ("weights=int4,group=128", "round(method=gptq)"),
                                     ("weights=int8", "round(method=gptq)"), ("weights=int4,group=32", "round(method=gptq,act-order=true,block=32)")] {
                let (m, _) = try Self.run("canonicalize,quantize(\(weights)),layer-hessian(samples=128),\(round)",
                                          on: model, calibration: calibration)
                XCTAssertFalse(m.quantization.layers.isEmpty)
                for l in m.quantization.layers {
                    let rtn = try XCTUnwrap(l.metrics["reconstruction.rtn"], "\(name) \(l.node)")
                    let gptq = try XCTUnwrap(l.metrics["reconstruction.gptq"], "\(name) \(l.node)")
                    XCTAssertEqual(l.quantized?.rounding, "gptq")
                    XCTAssertGreaterThan(rtn, 0, "\(name) \(l.node) \(weights)")
                    XCTAssertLessThanOrEqual(gptq, rtn, "\(name) \(l.node) \(weights)")
                }
            }
        }
    }

    func testGPTQBeatsRTNEndToEndInInt4() throws {
        for (name, calibration, test) in Self.models {
            let model = try Self.load(name)
            var sqnr: [String: Double] = [:]
            for method in ["rtn", "gptq"] {
                let (q, _) = try Self.run("canonicalize,calibrate(method=percentile),quantize(weights=int4,group=32),layer-hessian,"
                                          + "round(method=\(method)),insert-qdq", on: model, calibration: calibration)
                let source = try SampleSource(folder: Self.root.appendingPathComponent("models/digits/\(test)").path,
                                              inputs: model.graph.runtimeInputs)
                let c = try ModelComparison.run(float: model, quantized: q, feed: .files(source), watch: [], limit: 512, threads: 2)
                sqnr[method] = try XCTUnwrap(c.outputs.values.first).sqnr
            }
            XCTAssertGreaterThan(sqnr["gptq"]!, sqnr["rtn"]!, "\(name): output SQNR \(sqnr)")
        }
    }

    func testExportedWeightsAreTheGPTQIntegersAndIndependentOfThreads() throws {
        let model = try Self.load("digits_cnn")
        let pipeline = "canonicalize,calibrate(method=minmax),quantize(weights=int8,reduce-range=true),layer-hessian(samples=64),"
            + "round(method=gptq,act-order=true,block=16)"
        let (one, c1) = try Self.run(pipeline, on: model, calibration: "calib_x_img.npy", threads: 1)
        let (two, _) = try Self.run(pipeline, on: model, calibration: "calib_x_img.npy", threads: 2)
        XCTAssertEqual(one.quantization, two.quantization)
        // The reduced 7-bit range of quantize is kept, and the grid (per-channel scales) is RTN's.
        let rtn = try Self.run("canonicalize,quantize(weights=int8,reduce-range=true)", on: model, calibration: "calib_x_img.npy").0
        for (l, r) in zip(one.quantization.layers, rtn.quantization.layers) {
            let q = try XCTUnwrap(l.quantized)
            XCTAssertTrue(q.values.allSatisfy { abs(Int($0)) <= 64 })
            XCTAssertEqual(q.scales, r.quantized?.scales)
            XCTAssertNotEqual(q.values, r.quantized?.values, l.node)
        }
        XCTAssertFalse(c1.layerHessians.isEmpty)
        // insert-qdq writes these integers.
        var exported = one
        var manager = PassManager(passes: try PassRegistry.pipeline("insert-qdq"))
        try manager.run(on: &exported)
        for l in one.quantization.layers {
            let t = try XCTUnwrap(exported.graph.initializers["\(l.weight)_quantized"], l.weight)
            XCTAssertEqual(Array(RTensor(t).elements(Int8.self)), l.quantized?.values)
        }
    }

    func testGPTQNeedsTheLayerHessians() throws {
        let model = try Self.load("digits_mlp")
        XCTAssertThrowsError(try Self.run("canonicalize,quantize(weights=int4),round(method=gptq)", on: model, calibration: "calib_x.npy")) { e in
            XCTAssertTrue("\(e)".contains("add layer-hessian to the pipeline"), "\(e)")
        }
        XCTAssertThrowsError(try PassRegistry.pipeline("round(damp=2)"))
        // RTN needs none, and re-rounding RTN weights changes nothing.
        let (a, _) = try Self.run("canonicalize,quantize(weights=int4)", on: model, calibration: "calib_x.npy")
        let (b, _) = try Self.run("canonicalize,quantize(weights=int4),round(method=rtn)", on: model, calibration: "calib_x.npy")
        XCTAssertEqual(a.quantization.layers.map(\.quantized), b.quantization.layers.map(\.quantized))
    }

    /// The real models (.cache/models, data .cache/data): slow, so only with QUANTC_REAL_MODELS=1
    /// (optionally QUANTC_REAL_MODELS_LIST=a,b and QUANTC_REAL_SAMPLES=N). Prints per layer
    /// RTN's and GPTQ's reconstruction errors and the two passes' times.
    func testRealModelsPerLayer() throws {
        let env = ProcessInfo.processInfo.environment
        guard env["QUANTC_REAL_MODELS"] == "1" else { throw XCTSkip("set QUANTC_REAL_MODELS=1 to run on .cache/models") }
        let names = (env["QUANTC_REAL_MODELS_LIST"] ?? "orientation,layout_cdla,common_det,common").split(separator: ",").map(String.init)
        let samples = Int(env["QUANTC_REAL_SAMPLES"] ?? "") ?? 32
        for name in names {
            let path = Self.root.appendingPathComponent(".cache/models/\(name).onnx").path
            guard FileManager.default.fileExists(atPath: path) else { throw XCTSkip("no \(path)") }
            let model = try ONNXImporter.importModel(at: path)
            // The Hessians depend on the float model and the samples only: collected once, reused per format.
            var context = PassContext()
            context.samples = try SampleSource(folder: Self.root.appendingPathComponent(".cache/data/\(name)/calib").path,
                                               inputs: model.graph.runtimeInputs, readProto: { try ONNXImporter.importTensor(at: $0) })
            for weights in ["weights=int4,group=128", "weights=int4,group=32", "weights=int8"] {
                var m = model
                var manager = PassManager(passes: try PassRegistry.pipeline(
                    "canonicalize,quantize(\(weights)),layer-hessian(samples=\(samples),batch=8),round(method=gptq)"))
                manager.context = context
                try manager.run(on: &m)
                context = manager.context
                var worse: [String] = []
                var ratios: [Double] = []
                var lines: [String] = []
                for l in m.quantization.layers {
                    guard let r = l.metrics["reconstruction.rtn"], let g = l.metrics["reconstruction.gptq"] else { continue }
                    ratios.append(r > 0 ? g / r : 1)
                    if g > r { worse.append(l.node) }
                    lines.append(String(format: "  %@ rtn %.4g gptq %.4g (%.3f)", l.node, r, g, r > 0 ? g / r : 1))
                }
                ratios.sort()
                let times = manager.timings.filter { ["layer-hessian", "round"].contains($0.pass) }
                    .map { String(format: "%@ %.1f s", $0.pass, $0.seconds) }.joined(separator: ", ")
                print("\(name) \(weights): \(ratios.count) layers, GPTQ/RTN error median \(String(format: "%.3f", ratios.isEmpty ? 0 : ratios[ratios.count / 2])), "
                      + "min \(String(format: "%.3f", ratios.first ?? 0)), max \(String(format: "%.3f", ratios.last ?? 0)); \(times)")
                if env["QUANTC_REAL_VERBOSE"] == "1" { print(lines.joined(separator: "\n")) }
                XCTAssertEqual(worse, [], "\(name) \(weights): GPTQ worse than RTN on these layers")
            }
        }
    }
}
