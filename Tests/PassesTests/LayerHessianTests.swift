import Foundation
import IR
import Interpreter
import ONNX
import Passes
import XCTest

/// layer-hessian: H = E[x xᵀ] gives the layer's output error exactly,
/// tr(ΔW H ΔWᵀ) = E‖ΔW·x‖², checked against direct products and the Conv op.
final class LayerHessianTests: XCTestCase {
    /// Deterministic values in [-1, 1).
    static func values(_ n: Int, seed: UInt64) -> [Float] {
        var s = seed &* 0x9E3779B97F4A7C15 | 1
        return (0..<n).map { _ in
            s ^= s << 13; s ^= s >> 7; s ^= s << 17
            return Float(s >> 40) / Float(1 << 23) - 1
        }
    }

    static func ints(_ name: String, _ v: [Int]) -> Attribute { Attribute(name, .ints(v.map { Int64($0) })) }

    func testMatMulAndGemmErrorsEqualMeasuredOutputErrors() throws {
        // MatMul: x [samples, 3, K=5] × W [5, 4]; two batches of 4 samples.
        let matmul = Node(name: "mm", opType: "MatMul", inputs: ["x", "w"], outputs: ["y"])
        let m = try LayerMatrices.make(node: matmul, weightShape: [5, 4]).get()
        var h = LayerHessian(matrices: m)
        let batches = [Self.values(4 * 3 * 5, seed: 1), Self.values(4 * 3 * 5, seed: 2)]
        for b in batches { try h.add(RTensor(floats: b, shape: [4, 3, 5]), samples: 4) }
        h.finish()
        let dw = Self.values(20, seed: 3).map { $0 * 0.1 }
        var direct = 0.0
        for b in batches {
            for row in 0..<12 {
                for n in 0..<4 {
                    var y = 0.0
                    for k in 0..<5 { y += Double(b[row * 5 + k]) * Double(dw[k * 4 + n]) }
                    direct += y * y
                }
            }
        }
        direct /= 8
        XCTAssertEqual(h.reconstructionError(delta: dw), direct, accuracy: 1e-6 * direct)
        XCTAssertEqual(h.samples, 8)
        XCTAssertEqual(h.columns, 24)

        // Gemm with transA and transB: A [K=6, M=5], B [N=3, K=6].
        let gemm = Node(name: "gemm", opType: "Gemm", inputs: ["a", "b"], outputs: ["y"],
                        attributes: [Attribute("transA", .int(1)), Attribute("transB", .int(1))])
        var hg = LayerHessian(matrices: try LayerMatrices.make(node: gemm, weightShape: [3, 6]).get())
        let a = Self.values(30, seed: 4)
        try hg.add(RTensor(floats: a, shape: [6, 5]), samples: 5)
        hg.finish()
        let db = Self.values(18, seed: 5)
        var d2 = 0.0
        for mm in 0..<5 {
            for n in 0..<3 {
                var y = 0.0
                for k in 0..<6 { y += Double(a[k * 5 + mm]) * Double(db[n * 6 + k]) }
                d2 += y * y
            }
        }
        XCTAssertEqual(hg.reconstructionError(delta: db), d2 / 5, accuracy: 1e-6 * d2)
    }

    /// The error E‖ΔW * x‖² per sample measured by running one node with weight ΔW.
    func measured(_ node: Node, x: [Float], xShape: [Int], delta: [Float], wShape: [Int]) throws -> Double {
        let g = Graph(name: "g", inputs: [ValueInfo(name: "x", type: .tensor(TensorType(.float32, fixed: xShape)))],
                      outputs: [ValueInfo(name: "y", type: nil)],
                      initializers: ["w": Tensor(floats: delta, shape: wShape, name: "w")], nodes: [node])
        let y = try Interpreter(model: Model(graph: g), threads: 1).run(inputs: ["x": RTensor(floats: x, shape: xShape)])["y"]!.floatArray()
        return y.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(xShape[0])
    }

    func testConvIm2colMatchesTheConvOp() throws {
        // Grouped, strided, dilated, asymmetrically padded 2-D Conv: C=4, M=6, group=2, kernel 3×2.
        let conv = Node(name: "conv", opType: "Conv", inputs: ["x", "w"], outputs: ["y"],
                        attributes: [Self.ints("strides", [2, 1]), Self.ints("dilations", [1, 2]), Self.ints("pads", [1, 0, 2, 1]),
                                     Attribute("group", .int(2))])
        let wShape = [6, 2, 3, 2], xShape = [3, 4, 7, 6]
        var h = LayerHessian(matrices: try LayerMatrices.make(node: conv, weightShape: wShape).get())
        let x = Self.values(xShape.reduce(1, *), seed: 7)
        // Small chunks so the per-chunk path is exercised.
        try h.add(RTensor(floats: x, shape: xShape), samples: 3, chunk: 5)
        h.finish()
        // Chunks multiplied two at a time are added in the same order: identical sums.
        var h2 = LayerHessian(matrices: h.matrices)
        try h2.add(RTensor(floats: x, shape: xShape), samples: 3, chunk: 5, threads: 2)
        h2.finish()
        XCTAssertEqual(h.sums, h2.sums)
        XCTAssertEqual(h.groups, 2)
        XCTAssertEqual(h.dimension, 12)
        let dw = Self.values(wShape.reduce(1, *), seed: 8)
        let direct = try measured(conv, x: x, xShape: xShape, delta: dw, wShape: wShape)
        XCTAssertEqual(h.reconstructionError(delta: dw), direct, accuracy: 1e-5 * direct)

        // Depthwise with SAME_UPPER padding.
        let dwConv = Node(name: "dw", opType: "Conv", inputs: ["x", "w"], outputs: ["y"],
                          attributes: [Attribute("auto_pad", .string("SAME_UPPER")), Attribute("group", .int(4)), Self.ints("strides", [2, 2])])
        var hd = LayerHessian(matrices: try LayerMatrices.make(node: dwConv, weightShape: [4, 1, 3, 3]).get())
        try hd.add(RTensor(floats: x, shape: xShape), samples: 3)
        hd.finish()
        let dd = Self.values(36, seed: 9)
        let direct2 = try measured(dwConv, x: x, xShape: xShape, delta: dd, wShape: [4, 1, 3, 3])
        XCTAssertEqual(hd.reconstructionError(delta: dd), direct2, accuracy: 1e-5 * direct2)

        // ConvTranspose whose stride equals its kernel: output patches do not overlap,
        // so the per-pixel columns give the output error exactly.
        let convT = Node(name: "ct", opType: "ConvTranspose", inputs: ["x", "w"], outputs: ["y"],
                         attributes: [Self.ints("strides", [2, 3]), Attribute("group", .int(2))])
        var ht = LayerHessian(matrices: try LayerMatrices.make(node: convT, weightShape: [4, 3, 2, 3]).get())
        try ht.add(RTensor(floats: x, shape: xShape), samples: 3)
        ht.finish()
        let dt = Self.values(72, seed: 10)
        let direct3 = try measured(convT, x: x, xShape: xShape, delta: dt, wShape: [4, 3, 2, 3])
        XCTAssertEqual(ht.reconstructionError(delta: dt), direct3, accuracy: 1e-5 * direct3)
    }

    func testPassScoresEveryLayerInEveryFormat() throws {
        let root = QuantizationTests.root
        var m = try ONNXImporter.importModel(at: root.appendingPathComponent("models/digits_cnn.onnx").path)
        var manager = PassManager(passes: try PassRegistry.pipeline(
            "canonicalize,calibrate(method=minmax),quantize(weights=int4,group=32),layer-hessian(samples=64)"))
        manager.context.samples = try SampleSource(folder: root.appendingPathComponent("models/digits/calib_x_img.npy").path,
                                                   inputs: m.graph.runtimeInputs)
        try manager.run(on: &m)
        let table = try XCTUnwrap(m.quantization.sensitivities.first { $0.method == "layer-hessian" })
        XCTAssertEqual(Set(table.scores.keys), Set(m.quantization.layers.map(\.node)))
        for l in m.quantization.layers {
            let s = try XCTUnwrap(table.scores[l.node])
            let fp16 = try XCTUnwrap(s["fp16"]), int8 = try XCTUnwrap(s["int8/channel"])
            let g32 = try XCTUnwrap(s["int4/g32"]), g128 = try XCTUnwrap(s["int4/g128"])
            // More bits, smaller error. Groups run over a convolution's flattened C·kh·kw, so
            // even conv1 (one input channel, 9 weights per output channel) rounds in int4.
            XCTAssertLessThan(fp16, int8, l.node)
            XCTAssertLessThan(int8, g128, l.node)
            XCTAssertLessThanOrEqual(g32, g128 * 1.5, l.node)
            XCTAssertGreaterThan(g32, 0, l.node)
        }
        XCTAssertEqual(manager.context.layerHessians.count, m.quantization.layers.count)
        XCTAssertEqual(manager.context.layerHessians.values.first?.samples, 64)
    }

    func testPassNeedsQuantizedLayersAndData() throws {
        let root = QuantizationTests.root
        var m = try ONNXImporter.importModel(at: root.appendingPathComponent("models/digits_mlp.onnx").path)
        var manager = PassManager(passes: try PassRegistry.pipeline("layer-hessian"))
        manager.context.randomSamples = 4
        XCTAssertThrowsError(try manager.run(on: &m)) { e in
            XCTAssertTrue("\(e)".contains("run quantize before layer-hessian"), "\(e)")
        }
        XCTAssertThrowsError(try PassRegistry.pipeline("layer-hessian(samples=-1)"))
    }
}
