import Foundation
import IR
import Interpreter
import ONNX
import Passes
import XCTest

/// The sensitivity passes on the bundled models (few samples, to stay fast).
final class SensitivityTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let data = ["mlp": "calib_x.npy", "cnn": "calib_x_img.npy", "transformer": "calib_x_seq.npy"]

    /// The model after `pipeline`, calibrated on its bundled data.
    func prepared(_ name: String, _ pipeline: String, threads: Int = 1) throws -> Model {
        var m = try ONNXImporter.importModel(at: Self.root.appendingPathComponent("models/digits_\(name).onnx").path)
        var manager = PassManager(passes: try PassRegistry.pipeline(pipeline))
        manager.context.samples = try SampleSource(folder: Self.root.appendingPathComponent("models/digits/\(Self.data[name]!)").path,
                                                   inputs: m.graph.runtimeInputs)
        manager.context.threads = threads
        try manager.run(on: &m)
        return m
    }

    func table(_ m: Model, _ method: String) throws -> SensitivityTable {
        try XCTUnwrap(m.quantization.sensitivities.first { $0.method == method }, "no \(method) table")
    }

    func testMeasuredAgreesWithAFullRunOfTheOneLayerQuantizedModel() throws {
        let m = try prepared("mlp", "canonicalize,calibrate(method=minmax),quantize,measured(samples=8)")
        let t = try table(m, "measured")
        let formats = CandidateFormats.standard.map(\.description)
        XCTAssertEqual(Set(t.scores.keys), ["fc1", "fc2", "fc3"])
        for (node, scores) in t.scores {
            XCTAssertEqual(Set(scores.keys), Set(formats), node)
            XCTAssertLessThan(scores["fp16"]!, scores["int8/channel"]!, node)
            XCTAssertLessThan(scores["int8/channel"]!, scores["int4/g32"]!, node)
        }
        // The same figure from a full run of the model with fc2's weight in int4/g32.
        let layer = try XCTUnwrap(m.quantization.layer(named: "fc2"))
        let w = m.graph.initializers[layer.weight]!
        let q = WeightQuantizer.roundTrip(w.floatValues()!, shape: w.shape, format: .integer(bits: 4, granularity: .perGroup(32), symmetric: true), channelAxis: layer.channelAxis, groupAxis: layer.groupAxis)
        var changed = m
        changed.graph.initializers[layer.weight] = RTensor(floats: q, shape: w.shape).irTensor(name: layer.weight)
        let x = try NumpyFile.read(Self.root.appendingPathComponent("models/digits/calib_x.npy").path)
        let feed = ["input": RTensor(x).slice(first: 0..<8)]
        let logits = try XCTUnwrap(m.graph.nodes.first { $0.opType == "Softmax" }?.inputs.first)
        var a: [Float] = [], b: [Float] = []
        _ = try Interpreter(model: m, threads: 1, fuse: false).run(inputs: feed) { name, _, t in if name == logits { a = t.floatArray() } }
        _ = try Interpreter(model: changed, threads: 1, fuse: false).run(inputs: feed) { name, _, t in if name == logits { b = t.floatArray() } }
        var kl = 0.0
        for r in 0..<8 {
            func logSoftmax(_ v: [Float]) -> [Double] {
                let row = (0..<10).map { Double(v[r * 10 + $0]) }, mx = row.max()!
                let l = mx + log(row.reduce(0) { $0 + exp($1 - mx) })
                return row.map { $0 - l }
            }
            let p = logSoftmax(a), qq = logSoftmax(b)
            kl += (0..<10).reduce(0) { $0 + exp(p[$1]) * (p[$1] - qq[$1]) }
        }
        XCTAssertEqual(t.scores["fc2"]!["int4/g32"]!, kl / 8, accuracy: 1e-9 + 1e-6 * kl / 8)
        XCTAssertNotNil(m.quantization.layer(named: "fc2")?.metrics["measured.max-l2.int4/g32"])
        XCTAssertTrue(t.notes.contains { $0.hasPrefix("fc2: output MSE fp16=") }, "\(t.notes)")
    }

    /// Hutchinson's estimate against the exact Gauss-Newton trace Σ_k e_kᵀ G e_k
    /// (every weight direction) on the MLP's two smaller layers.
    func testHessianTraceMatchesTheExactTraceOnTheMLP() throws {
        let m = try prepared("mlp", "canonicalize,calibrate(method=minmax),quantize")
        var context = PassContext()
        context.samples = try SampleSource(folder: Self.root.appendingPathComponent("models/digits/calib_x.npy").path,
                                           inputs: m.graph.runtimeInputs)
        context.threads = 1
        let probe = try SensitivityProbe(model: m, context: context, samples: 8, batch: 1, loss: nil, pass: "test")
        XCTAssertEqual(probe.loss, .kl)
        // Confident predictions make each sample's G low-rank: the 5% target needs more than the default 200 probes.
        let pass = try XCTUnwrap(try PassRegistry.pipeline("hessian-trace(samples=8,max-probes=2000)").first as? HessianTrace)
        for node in ["fc3", "fc2"] {
            let layer = try XCTUnwrap(m.quantization.layer(named: node))
            let w = probe.weight(layer).values
            let eps = HessianTrace.step(w, eta: 0.004)
            var exact = 0.0
            var e = [Float](repeating: 0, count: w.count)
            for k in w.indices {
                e[k] = 1
                exact += try probe.gaussNewtonQuadratic(layer, epsilon: eps) { _ in e }
                e[k] = 0
            }
            let estimate = try pass.estimate(layer, probe: probe)
            print("hessian-trace \(node): exact \(exact) Hutchinson \(estimate.trace) probes \(estimate.probes) relative SE \(estimate.relativeError)")
            XCTAssertLessThan(estimate.relativeError, 0.05, node)
            XCTAssertGreaterThan(exact, 0, node)
            // Within three standard errors of the estimator.
            XCTAssertEqual(estimate.trace, exact, accuracy: 3 * estimate.relativeError * estimate.trace, "\(node): probes \(estimate.probes)")
        }
    }

    func testCurvatureBoundsHoldOnTheCNNAndSpectralNormsAreRight() throws {
        // u vᵀ has norm ‖u‖‖v‖; diag(3, −5, 1) has norm 5.
        XCTAssertEqual(SpectralNorm.largestSingularValue([1, 2, 2, 4, 3, 6], rows: 3, cols: 2), 14.0.squareRoot() * 5.0.squareRoot(), accuracy: 1e-6)
        XCTAssertEqual(SpectralNorm.largestSingularValue([3, 0, 0, 0, -5, 0, 0, 0, 1], rows: 3, cols: 3), 5, accuracy: 1e-6)
        let m = try prepared("cnn", "canonicalize,calibrate(method=minmax),quantize,measured(samples=8),curvature")
        let t = try table(m, "curvature")
        XCTAssertEqual(t.scores.count, 4)
        for l in m.quantization.layers {
            XCTAssertGreaterThan(l.metrics["curvature.lipschitz"] ?? 0, 0, l.node)
            // ReLU layers are piecewise linear: no curvature, no minimum; fc feeds the Softmax.
            if l.opType == "Conv" {
                XCTAssertEqual(l.metrics["curvature.kappa"], 0, l.node)
                XCTAssertEqual(l.metrics["curvature.min-bits"], 0, l.node)
            } else {
                XCTAssertGreaterThan(l.metrics["curvature.kappa"] ?? 0, 0, l.node)
                XCTAssertGreaterThan(l.metrics["curvature.min-bits"] ?? 0, 0, l.node)
            }
            // With min-max ranges and 1-Lipschitz pooling the bound is rigorous.
            XCTAssertEqual(l.metrics["curvature.violated"], 0, "\(l.node): \(t.notes)")
            let s = try XCTUnwrap(t.scores[l.node])
            XCTAssertLessThan(s["fp16"]!, s["int8/channel"]!, l.node)
            // (conv1 has one input channel: its int4 "groups" hold one weight each and are exact.)
            if l.node == "fc" { XCTAssertLessThan(s["int8/channel"]!, s["int4/g32"]!, l.node) }
        }
    }

    func testSuiteRanksMethodsAndIsDeterministicAcrossThreads() throws {
        let pipeline = "canonicalize,calibrate(method=minmax),quantize,sensitivity(samples=4)"
        let a = try prepared("cnn", pipeline, threads: 1)
        let b = try prepared("cnn", pipeline, threads: 2)
        XCTAssertEqual(a.quantization.sensitivities, b.quantization.sensitivities)
        let tables = a.quantization.sensitivities
        XCTAssertEqual(Set(tables.map(\.method)), ["measured", "hessian-trace", "curvature", "weight-magnitude", "activation-variance", "fisher"])
        let layers = Set(a.quantization.layers.map(\.node))
        XCTAssertEqual(layers.count, 4)
        for t in tables {
            XCTAssertEqual(Set(t.scores.keys), layers, t.method)
            XCTAssertTrue(t.scores.values.allSatisfy { $0.count == 5 && $0.values.allSatisfy { $0.isFinite && $0 >= 0 } }, t.method)
            if t.method == "measured" { XCTAssertNil(t.spearman) } else {
                let rho = try XCTUnwrap(t.spearman, t.method)
                XCTAssertTrue((-1...1).contains(rho), t.method)
                XCTAssertEqual(t.spearmanByFormat?.count, 5, t.method)
            }
        }
        let best = tables.filter { $0.notes.contains("best predictor of measured (highest Spearman)") }
        XCTAssertEqual(best.count, 1)
        XCTAssertEqual(best.first?.spearman, tables.compactMap(\.spearman).max())
    }

    /// Formats whose weights come out the same (groups of 32, 64 and 128 along the
    /// CNN's first convolution's one input channel: a scale per weight) are probed
    /// once and share figures.
    func testFormatsWithTheSameWeightsShareOneProbe() throws {
        let m = try prepared("cnn", "canonicalize,calibrate(method=minmax),quantize,measured(samples=4),fisher(samples=2,probes=1)", threads: 2)
        let layer = try XCTUnwrap(m.quantization.layers.first)
        let w = try XCTUnwrap(m.graph.initializers[layer.weight])
        XCTAssertEqual(w.shape[1], 1, "the first convolution reads one channel")
        for method in ["measured", "fisher"] {
            let s = try XCTUnwrap(try table(m, method).scores[layer.node], method)
            XCTAssertEqual(s["int4/g32"], s["int4/g64"], method)
            XCTAssertEqual(s["int4/g32"], s["int4/g128"], method)
            XCTAssertNotEqual(s["int4/g32"], s["int8/channel"], method)
        }
    }

    /// After quantize(reduce-range=true), which stores int8 in 7 bits (what `--budget` writes),
    /// every sensitivity pass scores int8 in 7 bits too; int4 and fp16 are unaffected.
    func testInt8IsScoredInTheRangeItIsStoredIn() throws {
        let passes = "measured(samples=4),layer-hessian(samples=16),weight-magnitude"
        let full = try prepared("mlp", "canonicalize,calibrate(method=minmax),quantize,\(passes)")
        let reduced = try prepared("mlp", "canonicalize,calibrate(method=minmax),quantize(reduce-range=true),\(passes)")
        XCTAssertFalse(full.quantization.int8ReducedRange)
        XCTAssertTrue(reduced.quantization.int8ReducedRange)
        for method in ["measured", "layer-hessian", "weight-magnitude"] {
            for node in ["fc1", "fc2", "fc3"] {
                let a = try XCTUnwrap(try table(full, method).scores[node]), b = try XCTUnwrap(try table(reduced, method).scores[node])
                // Half the levels: about four times the squared error on average (1.5–4.5× here).
                XCTAssertGreaterThan(b["int8/channel"]!, 1.3 * a["int8/channel"]!, "\(method) \(node)")
                XCTAssertEqual(b["int4/g32"], a["int4/g32"], "\(method) \(node)")
                XCTAssertEqual(b["fp16"], a["fp16"], "\(method) \(node)")
            }
        }
    }

    func testSpearmanRanksWithTies() {
        XCTAssertEqual(SpearmanCorrelation.ranks([10, 20, 20, 5]), [2, 3.5, 3.5, 1])
        XCTAssertEqual(SpearmanCorrelation.rho([1, 2, 3, 4], [10, 100, 1000, 1e4])!, 1, accuracy: 1e-12)
        XCTAssertEqual(SpearmanCorrelation.rho([1, 2, 3, 4], [4, 3, 2, 1])!, -1, accuracy: 1e-12)
        XCTAssertNil(SpearmanCorrelation.rho([1, 1, 1], [1, 2, 3]))
        // Σd² = 2 over 4 items: ρ = 1 − 6·2/(4·15) = 0.8.
        XCTAssertEqual(SpearmanCorrelation.rho([1, 2, 3, 4], [1, 3, 2, 4])!, 0.8, accuracy: 1e-12)
    }

    /// Equal ρ: `sensitivity` names and `allocate(objective=auto)` minimises the same method
    /// (ties by name), whatever order the tables came in; the last `measured` table is the yardstick.
    func testSensitivityAndAllocateBreakTiesAlike() throws {
        let scores: [String: [String: Double]] = ["a": ["int8/channel": 1, "int4/g32": 4], "b": ["int8/channel": 2, "int4/g32": 8]]
        let stale = SensitivityTable(method: "measured", unit: "", scores: ["a": ["int8/channel": 9, "int4/g32": 1], "b": ["int8/channel": 8, "int4/g32": 2]])
        let measured = SensitivityTable(method: "measured", unit: "", scores: scores)
        for order in [["weight-magnitude", "activation-variance"], ["activation-variance", "weight-magnitude"]] {
            var tables = [stale] + order.map { SensitivityTable(method: $0, unit: "", scores: scores) } + [measured]
            XCTAssertEqual(SpearmanCorrelation.annotate(&tables), "activation-variance", "\(order)")
            XCTAssertEqual(tables.first { $0.method == "weight-magnitude" }?.spearman ?? 0, 1, accuracy: 1e-12)
            let chosen = try AllocationObjective.choose("auto", among: tables).get()
            XCTAssertEqual(chosen.0.method, "activation-variance", "\(order)")
        }
    }

    /// A constant `measured` table ranks nothing: no method is named best, and `auto` falls
    /// back to the fixed preference (curvature before weight-magnitude), not to measured.
    func testNoSpearmanFallsBackToThePreference() throws {
        let flat: [String: [String: Double]] = ["a": ["int8/channel": 1, "int4/g32": 1], "b": ["int8/channel": 1, "int4/g32": 1]]
        let scores: [String: [String: Double]] = ["a": ["int8/channel": 1, "int4/g32": 4], "b": ["int8/channel": 2, "int4/g32": 8]]
        var tables = ["weight-magnitude", "curvature"].map { SensitivityTable(method: $0, unit: "", scores: scores) }
            + [SensitivityTable(method: "measured", unit: "", scores: flat)]
        XCTAssertNil(SpearmanCorrelation.annotate(&tables))
        let (chosen, why) = try AllocationObjective.choose("auto", among: tables).get()
        XCTAssertEqual(chosen.method, "curvature")
        XCTAssertTrue(why.contains("no method has a Spearman ρ with measured"), why)
    }

    func testBadInputIsReported() throws {
        XCTAssertThrowsError(try PassRegistry.pipeline("sensitivity(methods=measured;bogus)")) {
            XCTAssertTrue("\($0)".contains("unknown method 'bogus'; the methods are: measured, hessian-trace"), "\($0)")
        }
        XCTAssertThrowsError(try PassRegistry.pipeline("hessian-trace(max-probes=4,min-probes=8)")) {
            XCTAssertTrue("\($0)".contains("max-probes must be at least min-probes"), "\($0)")
        }
        XCTAssertThrowsError(try prepared("mlp", "canonicalize,measured(samples=2)")) {
            XCTAssertTrue("\($0)".contains("pass 'measured': no layers to score: run 'quantize' first"), "\($0)")
        }
        XCTAssertThrowsError(try prepared("mlp", "canonicalize,quantize,curvature")) {
            XCTAssertTrue("\($0)".contains("no calibrated range for its input"), "\($0)")
        }
    }
}
