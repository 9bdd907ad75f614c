import Foundation
import IR
import Interpreter
import ONNX
import Passes
import XCTest

/// Scale/zero-point rules (ONNX Runtime's compute_scale_zp), RTN weight
/// quantization layouts, the QDQ rewrite (golden IR) and opset raising.
final class QuantizationTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    func testScaleAndZeroPointFollowOnnxRuntime() {
        // Checked against onnxruntime.quantization.quant_utils.compute_scale_zp (1.32).
        let asym = QuantParameters(range: ValueRange(low: -3.548805, high: 3.751635), bits: 8, signed: true, symmetric: false)
        XCTAssertEqual(asym.zeroPoint, -4)
        XCTAssertEqual(asym.scale, 0.02862918, accuracy: 1e-8)
        XCTAssertEqual(asym.qmin, -128)
        // Symmetric int8 uses [-127, 127] with zero point 0; symmetric uint8 keeps 0..255 with 128.
        let sym = QuantParameters(range: ValueRange(low: -1, high: 2.54), bits: 8, signed: true, symmetric: true)
        XCTAssertEqual([sym.qmin, sym.qmax, sym.zeroPoint], [-127, 127, 0])
        XCTAssertEqual(sym.scale, 0.02, accuracy: 1e-9)
        XCTAssertEqual(QuantParameters(range: ValueRange(low: -1, high: 1), bits: 8, signed: false, symmetric: true).zeroPoint, 128)
        // The range always contains 0: a positive-only range starts at 0.
        let relu = QuantParameters(range: ValueRange(low: 0.5, high: 2.55), bits: 8, signed: false, symmetric: false)
        XCTAssertEqual(relu.zeroPoint, 0)
        XCTAssertEqual(relu.scale, 0.01, accuracy: 1e-9)
        // Degenerate (all-zero) ranges: scale 1, zero point 0.
        let zero = QuantParameters(range: ValueRange(low: 0, high: 0), bits: 8, signed: true, symmetric: true)
        XCTAssertEqual(zero.scale, 1)
        XCTAssertEqual(zero.zeroPoint, 0)
        // Reduced range (ONNX Runtime's reduce_range): [-64, 64].
        let reduced = QuantParameters(range: ValueRange(low: -1, high: 1), bits: 8, signed: true, symmetric: true, reduced: true)
        XCTAssertEqual([reduced.qmin, reduced.qmax], [-64, 64])
        // Rounding is half to even, then the zero point, then saturation; NaN gives the zero point.
        let p = QuantParameters(scale: 1, zeroPoint: 1, qmin: 0, qmax: 255)
        XCTAssertEqual([p.quantize(0.5), p.quantize(1.5), p.quantize(2.5), p.quantize(-7), p.quantize(1e9), p.quantize(.nan)], [1, 3, 3, 0, 255, 1])
    }

    func testWeightQuantizerLayouts() throws {
        // A [4, 6] Gemm weight (transB: rows are output channels): per channel on axis 0,
        // per group of 3 along axis 1.
        let w = (0..<24).map { Float(sin(Double($0) * 0.7)) * Float($0 % 4 + 1) }
        let perChannel = try XCTUnwrap(WeightQuantizer.quantize(w, shape: [4, 6], format: .int8PerChannel, channelAxis: 0, groupAxis: 1))
        XCTAssertEqual(perChannel.scaleShape, [4])
        XCTAssertEqual(perChannel.axis, 0)
        XCTAssertNil(perChannel.blockSize)
        let g3 = WeightFormat.integer(bits: 4, granularity: .perGroup(3), symmetric: true)
        let grouped = try XCTUnwrap(WeightQuantizer.quantize(w, shape: [4, 6], format: g3, channelAxis: 0, groupAxis: 1))
        XCTAssertEqual(grouped.scaleShape, [4, 2])
        XCTAssertEqual(grouped.axis, 1)
        XCTAssertEqual(grouped.blockSize, 3)
        XCTAssertTrue(grouped.values.allSatisfy { $0 >= -7 && $0 <= 7 })
        // Round to nearest: every weight within half a step of its level.
        for (q, format, gran) in [(perChannel, WeightFormat.int8PerChannel, Granularity.perChannel), (grouped, g3, .perGroup(3))] {
            let layout = WeightQuantizer.ScaleLayout(shape: [4, 6], granularity: gran, channelAxis: 0, groupAxis: 1)
            let back = WeightQuantizer.dequantize(q, shape: [4, 6], granularity: gran, channelAxis: 0, groupAxis: 1)
            for i in w.indices {
                XCTAssertLessThanOrEqual(abs(w[i] - back[i]), q.scales[layout.scaleIndex(i)] / 2 * 1.0001, "\(format) element \(i)")
            }
        }
        // The extreme of each channel maps to ±127 exactly.
        XCTAssertEqual(perChannel.values.map { abs(Int($0)) }.max(), 127)
        XCTAssertEqual(WeightFormat(parsing: "int4/g64"), .integer(bits: 4, granularity: .perGroup(64), symmetric: true))
        XCTAssertEqual(WeightFormat(parsing: "int8/tensor/asym"), .integer(bits: 8, granularity: .perTensor, symmetric: false))
        XCTAssertEqual(WeightFormat(parsing: "fp16"), .float16)
        XCTAssertNil(WeightFormat(parsing: "int3"))
    }

    /// The bundled MLP as imported, and after `pipeline` with its calibration split.
    func quantizedMLP(_ pipeline: String, threads: Int? = nil) throws -> (original: Model, quantized: Model) {
        let model = try ONNXImporter.importModel(at: Self.root.appendingPathComponent("models/digits_mlp.onnx").path)
        var m = model
        var manager = PassManager(passes: try PassRegistry.pipeline(pipeline))
        manager.context.samples = try SampleSource(folder: Self.root.appendingPathComponent("models/digits/calib_x.npy").path,
                                                   inputs: model.graph.runtimeInputs)
        if let threads { manager.context.threads = threads }
        try manager.run(on: &m)
        return (model, m)
    }

    /// The whole default pipeline on the bundled MLP: printed IR after insert-qdq
    /// against a golden file, and the QDQ model's outputs close to the float ones.
    func testInsertQDQOnTheMLP() throws {
        let (model, m) = try quantizedMLP("canonicalize,calibrate(method=minmax),quantize(reduce-range=true),insert-qdq", threads: 1)
        try assertGolden(Printer.print(m), "insert-qdq.mlp.after.ir", computedFloats: true)
        XCTAssertEqual(m.quantization.layers.map(\.format), [WeightFormat](repeating: .int8PerChannel, count: 3))
        XCTAssertEqual(m.opsetVersion(domain: ""), 17)
        // Relu folded into the Gemms' quantized outputs; weights int8, biases int32.
        XCTAssertFalse(m.graph.nodes.contains { $0.opType == "Relu" })
        XCTAssertEqual(m.graph.nodes.filter { $0.opType == "Gemm" }.count, 3)
        XCTAssertTrue(m.graph.initializers.values.contains { $0.elementType == .int32 })
        XCTAssertFalse(m.graph.initializers.keys.contains("fc1.weight"), "float weights are dropped")

        let x = try NumpyFile.read(Self.root.appendingPathComponent("models/digits/test_x.npy").path)
        let feed = ["input": RTensor(x)]
        let a = try Interpreter(model: model).run(inputs: feed)["logits"]!.floatArray()
        let b = try Interpreter(model: m).run(inputs: feed)["logits"]!.floatArray()
        let rows = a.count / 10
        var agree = 0
        for r in 0..<rows {
            let fa = (0..<10).max { a[r * 10 + $0] < a[r * 10 + $1] }!, fb = (0..<10).max { b[r * 10 + $0] < b[r * 10 + $1] }!
            if fa == fb { agree += 1 }
        }
        XCTAssertGreaterThan(Double(agree) / Double(rows), 0.99)
    }

    func testExcludingANodeKeepsItFloatAndUnknownNamesFail() throws {
        let model = try ONNXImporter.importModel(at: Self.root.appendingPathComponent("models/digits_mlp.onnx").path)
        let source = try SampleSource(folder: Self.root.appendingPathComponent("models/digits/calib_x.npy").path,
                                      inputs: model.graph.runtimeInputs)
        var m = model
        var manager = PassManager(passes: try PassRegistry.pipeline("canonicalize,calibrate(method=minmax,samples=50),quantize,insert-qdq"))
        manager.context.samples = source
        manager.context.excludedNodes = ["fc2"]
        try manager.run(on: &m)
        XCTAssertEqual(m.quantization.layer(named: "fc2")?.format, .float32)
        XCTAssertEqual(m.quantization.excluded, ["fc2"])
        let fc2 = try XCTUnwrap(m.graph.nodes.first { $0.name == "fc2" })
        XCTAssertNotNil(m.graph.initializers[fc2.inputs[1]], "fc2 reads its float weight directly")
        XCTAssertEqual(m.graph.initializers[fc2.inputs[1]]?.elementType, .float32)
        // ... and its data input unquantized: from a DequantizeLinear, ONNX Runtime's
        // WeightBiasQuantization would quantize its weights to per-tensor int8.
        let producers = Dictionary(m.graph.nodes.flatMap { n in n.outputs.map { ($0, n) } }, uniquingKeysWith: { a, _ in a })
        XCTAssertNotEqual(producers[fc2.inputs[0]]?.opType, "DequantizeLinear", "fc2 reads \(fc2.inputs[0])")

        var bad = model
        var manager2 = PassManager(passes: try PassRegistry.pipeline("calibrate(samples=10),quantize(exclude=fc9)"))
        manager2.context.samples = source
        XCTAssertThrowsError(try manager2.run(on: &bad)) {
            XCTAssertTrue("\($0)".contains("cannot exclude node 'fc9': the model has no node of that name"), "\($0)")
        }
    }

    /// A layer allocated fp16 reads its input in float, so that ONNX Runtime runs it with
    /// its fp16 weights (WeightBiasQuantization rewrites a Conv/Gemm with float weights fed
    /// by a per-tensor DequantizeLinear into per-tensor int8); int8 layers still read
    /// DequantizeLinear outputs, and quantc's simulation stays close to float.
    func testFloat16LayersReadTheirInputInFloat() throws {
        let (model, m) = try quantizedMLP(
            "canonicalize,calibrate(method=minmax),quantize(reduce-range=true),weight-magnitude,allocate(budget=16bits,keep=fc2=fp16;fc1=int8;fc3=int8),insert-qdq")
        XCTAssertEqual(m.quantization.layer(named: "fc2")?.format, .float16)
        let producers = Dictionary(m.graph.nodes.flatMap { n in n.outputs.map { ($0, n) } }, uniquingKeysWith: { a, _ in a })
        let fc2 = try XCTUnwrap(m.graph.nodes.first { $0.name == "fc2" })
        XCTAssertNotEqual(producers[fc2.inputs[0]]?.opType, "DequantizeLinear", "fc2 reads \(fc2.inputs[0])")
        XCTAssertEqual(producers[fc2.inputs[1]]?.opType, "Cast", "fp16 weights cast to float")
        // The Relu between fc1 and fc2 stays (its float output is read by fc2), and fc3 still reads a DequantizeLinear.
        XCTAssertEqual(producers[fc2.inputs[0]]?.opType, "Relu")
        let fc3 = try XCTUnwrap(m.graph.nodes.first { $0.name == "fc3" })
        XCTAssertEqual(producers[fc3.inputs[0]]?.opType, "DequantizeLinear")
        let x = try NumpyFile.read(Self.root.appendingPathComponent("models/digits/test_x.npy").path)
        let feed = ["input": RTensor(x)]
        let a = try Interpreter(model: model).run(inputs: feed)["logits"]!.floatArray()
        let b = try Interpreter(model: m).run(inputs: feed)["logits"]!.floatArray()
        var num = 0.0, den = 0.0
        for i in a.indices { num += Double(a[i] - b[i]) * Double(a[i] - b[i]); den += Double(a[i]) * Double(a[i]) }
        XCTAssertGreaterThan(10 * log10(den / num), 25, "output SQNR")
    }

    func testInsertQDQNeedsItsPredecessors() throws {
        var m = try ONNXImporter.importModel(at: Self.root.appendingPathComponent("models/digits_mlp.onnx").path)
        var manager = PassManager(passes: try PassRegistry.pipeline("insert-qdq"))
        XCTAssertThrowsError(try manager.run(on: &m)) { XCTAssertTrue("\($0)".contains("run 'quantize' first"), "\($0)") }
    }

    func testOpsetUpgradeMovesAttributesOnlyWhereTheTargetNeedsIt() throws {
        let t = ValueType.tensor(TensorType(.float32, fixed: [2, 3]))
        let g = Graph(name: "g", inputs: [ValueInfo(name: "x", type: t)], outputs: [ValueInfo(name: "y", type: nil), ValueInfo(name: "m", type: nil), ValueInfo(name: "s", type: nil)], nodes: [
            Node(name: "u", opType: "Unsqueeze", inputs: ["x"], outputs: ["y"], attributes: [Attribute("axes", .ints([0]))]),
            Node(name: "r", opType: "ReduceMean", inputs: ["x"], outputs: ["m"], attributes: [Attribute("axes", .ints([1]))]),
            Node(name: "sm", opType: "Softmax", inputs: ["x"], outputs: ["s"], attributes: [Attribute("axis", .int(1))]),
        ])
        var m = Model(opsetImports: [OpsetImport(domain: "", version: 12)], graph: g)
        try OpsetUpgrade.upgrade(&m, to: 13)
        XCTAssertEqual(m.opsetVersion(domain: ""), 13)
        let u = m.graph.nodes[0], r = m.graph.nodes[1], sm = m.graph.nodes[2]
        XCTAssertNil(u[attribute: "axes"], "Unsqueeze-13 takes axes as an input")
        XCTAssertEqual(m.graph.initializers[u.inputs[1]]?.int64Values(), [0])
        XCTAssertEqual(r[attribute: "axes"]?.intsValue, [1], "ReduceMean keeps its attribute until opset 18")
        XCTAssertEqual(sm[attribute: "axis"]?.intValue, -1)
        try Verifier.verify(m)
        let x = RTensor(floats: [1, 2, 3, 4, 5, 6], shape: [2, 3])
        let out = try Interpreter(model: m).run(inputs: ["x": x])
        XCTAssertEqual(out["y"]?.shape, [1, 2, 3])
        XCTAssertEqual(out["m"]?.floatArray(), [2, 5])
    }

    func testEntropyIgnoresThresholdsThatClipMostValues() {
        // Discrete data (levels 1/16 apart, as the digits pixels): plain KL would pick
        // a threshold just past the first level; the range must cover ≥ 99% of the values.
        var h = AbsHistogram(bins: 2048)
        var values: [Float] = []
        for i in 0..<4000 { values.append(Float(i % 17) / 16) }
        values.withUnsafeBufferPointer { _ = h.add($0) }
        let r = RangeSelection.entropy(h)
        XCTAssertGreaterThan(r.high, 0.9)
        // A long-tailed continuous distribution does get clipped.
        var g = AbsHistogram(bins: 2048)
        var rng = SplitMix64(seed: 1)
        let laplace = (0..<100_000).map { _ -> Float in Float(-log(max(rng.unit(), 1e-12)) * (rng.unit() < 0.5 ? -1 : 1)) }
        laplace.withUnsafeBufferPointer { _ = g.add($0) }
        let e = RangeSelection.entropy(g)
        XCTAssertLessThan(e.high, g.maximum)
        XCTAssertGreaterThan(e.high, 4)
    }
}
