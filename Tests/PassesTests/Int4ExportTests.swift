import Foundation
import IR
import Interpreter
import ONNX
import Passes
import XCTest

/// INT4 export: packed int4/uint4 DequantizeLinear weights and, with
/// `insert-qdq(int4-format=matmulnbits)`, ONNX Runtime's MatMulNBits.
final class Int4ExportTests: XCTestCase {
    static let root = QuantizationTests.root

    func quantized(_ model: String, _ pipeline: String, data: String) throws -> (float: Model, quantized: Model) {
        let original = try ONNXImporter.importModel(at: Self.root.appendingPathComponent("models/\(model)").path)
        var m = original
        var manager = PassManager(passes: try PassRegistry.pipeline(pipeline))
        manager.context.samples = try SampleSource(folder: Self.root.appendingPathComponent("models/digits/\(data)").path,
                                                   inputs: original.graph.runtimeInputs)
        manager.context.threads = 1
        try manager.run(on: &m)
        return (original, m)
    }

    /// MatMul weight [K = 20, N = 2], groups of 16 along K (the second block holds 4 values).
    func testMatMulNBitsLayout() {
        let k = 20, n = 2
        let values = (0..<(k * n)).map { Int8(($0 % 16) - 8) }           // [K, N] row-major
        let q = QuantizedWeight(bits: 4, values: values, scales: [1, 2, 3, 4], zeroPoints: [-8, 1, 2, 7], scaleShape: [2, 2],
                                axis: 0, blockSize: 16, rounding: "rtn")
        let p = MatMulNBitsWeights(q, shape: [k, n], kAxis: 0, alpha: 2, symmetric: false)
        XCTAssertEqual(p.blocks, 2)
        XCTAssertEqual(p.packed.count, n * 2 * 8)
        XCTAssertEqual(p.scales, [2, 6, 4, 8], "[N, blocks], times alpha")
        // Zero points + 8 per column: (0, 10) and (9, 15), block 0 in the low nibble.
        XCTAssertEqual(p.zeroPoints, [0xA0, 0xF9])
        for col in 0..<n {
            for kk in 0..<(2 * 16) {
                let byte = p.packed[(col * 2 + kk / 16) * 8 + (kk % 16) / 2]
                let code = Int(kk % 2 == 0 ? byte & 0xF : byte >> 4)
                // Past K the block is padded with its zero point's code.
                let want = kk < k ? Int(values[kk * n + col]) + 8 : [0, 10, 9, 15][col * 2 + 1]
                XCTAssertEqual(code, want, "column \(col), k \(kk)")
            }
        }
        // The same weight stored [N, K] (Gemm transB=1, K on axis 1) packs to the same bytes.
        var transposed = [Int8](repeating: 0, count: k * n)
        for kk in 0..<k { for col in 0..<n { transposed[col * k + kk] = values[kk * n + col] } }
        let qt = QuantizedWeight(bits: 4, values: transposed, scales: [1, 3, 2, 4], zeroPoints: [-8, 2, 1, 7], scaleShape: [2, 2],
                                 axis: 1, blockSize: 16, rounding: "rtn")
        let pt = MatMulNBitsWeights(qt, shape: [n, k], kAxis: 1, alpha: 2, symmetric: false)
        XCTAssertEqual(pt.packed, p.packed)
        XCTAssertEqual(pt.scales, p.scales)
        XCTAssertEqual(pt.zeroPoints, p.zeroPoints)
        // A group longer than K: one block of the smallest power of two ≥ K, no padding beyond it.
        let long = QuantizedWeight(bits: 4, values: values, scales: [1, 2], zeroPoints: [0, 0], scaleShape: [1, 2],
                                   axis: 0, blockSize: 128, rounding: "rtn")
        let pl = MatMulNBitsWeights(long, shape: [k, n], kAxis: 0, symmetric: true)
        XCTAssertEqual(pl.blockSize, 32)
        XCTAssertEqual(pl.packed.count, n * 16)
        XCTAssertNil(pl.zeroPoints)
        XCTAssertEqual(pl.scales, [1, 2])
    }

    static func cosine(_ a: [Float], _ b: [Float]) -> Double {
        let dot = zip(a, b).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        let na = a.reduce(0.0) { $0 + Double($1) * Double($1) }, nb = b.reduce(0.0) { $0 + Double($1) * Double($1) }
        return dot / (na * nb).squareRoot()
    }

    /// The MatMulNBits export: its structure, an ONNX round trip, and its outputs on quantc's
    /// interpreter against (weightOnly) the float model with each layer's weight replaced by its
    /// dequantized integers (DequantizeLinear + MatMul/Gemm), or else the QDQ export, which
    /// also quantizes the activations around those layers.
    func assertMatMulNBitsExport(_ model: String, data: String, test: String, quantize: String, layers: Int, weightOnly: Bool,
                                 file: StaticString = #filePath, line: UInt = #line) throws {
        let head = "canonicalize,calibrate(method=minmax,samples=32),\(quantize)"
        let (original, qdq) = try quantized(model, head + ",insert-qdq", data: data)
        let (_, nbits) = try quantized(model, head + ",insert-qdq(int4-format=matmulnbits)", data: data)
        XCTAssertEqual(nbits.graph.nodes.filter { $0.opType == "MatMulNBits" && $0.domain == "com.microsoft" }.count, layers, file: file, line: line)
        XCTAssertEqual(nbits.opsetVersion(domain: "com.microsoft"), 1, file: file, line: line)
        XCTAssertFalse(nbits.graph.initializers.values.contains { $0.elementType == .int4 || $0.elementType == .uint4 },
                       "every int4 weight is in a MatMulNBits", file: file, line: line)
        XCTAssertEqual(nbits.opsetVersion(domain: ""), original.opsetVersion(domain: ""), "no int4 DequantizeLinear: opset unchanged",
                       file: file, line: line)
        // MatMulNBits is weight-only: the first one reads its float input, not a DequantizeLinear's output.
        let dqOutputs = Set(nbits.graph.nodes.filter { $0.opType == "DequantizeLinear" }.flatMap(\.outputs))
        let first = try XCTUnwrap(nbits.graph.nodes.first { $0.opType == "MatMulNBits" }, file: file, line: line)
        XCTAssertFalse(dqOutputs.contains(first.inputs[0]), "\(first.name) reads \(first.inputs[0])", file: file, line: line)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("int4export-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("q.onnx").path
        try ONNXExporter.write(nbits, to: path)
        let again = try ONNXImporter.importModel(at: path)
        XCTAssertEqual(again.graph.nodes, nbits.graph.nodes, file: file, line: line)
        XCTAssertEqual(again.opsetImports, nbits.opsetImports, file: file, line: line)
        for (name, t) in nbits.graph.initializers {
            XCTAssertEqual(again.graph.initializers[name]?.floatValues(), t.floatValues(), name, file: file, line: line)
        }

        var reference = qdq
        if weightOnly {
            let (canonical, _) = try quantized(model, "canonicalize", data: data)
            reference = canonical
            for l in nbits.quantization.layers {
                guard let q = l.quantized, let w = canonical.graph.initializers[l.weight], case .integer(_, let gran, _) = l.format else { continue }
                let deq = WeightQuantizer.dequantize(q, shape: w.shape, granularity: gran, channelAxis: l.channelAxis, groupAxis: l.groupAxis)
                reference.graph.initializers[l.weight] = Tensor(floats: deq, shape: w.shape, name: l.weight)
            }
        }
        let x = try NumpyFile.read(Self.root.appendingPathComponent("models/digits/\(test)").path)
        let input = original.graph.runtimeInputs[0].name
        let output = original.graph.outputs[0].name
        let a = try Interpreter(model: reference).run(inputs: [input: RTensor(x)])[output]!.floatArray()
        let b = try Interpreter(model: again).run(inputs: [input: RTensor(x)])[output]!.floatArray()
        XCTAssertEqual(a.count, b.count, file: file, line: line)
        XCTAssertGreaterThan(Self.cosine(a, b), weightOnly ? 0.999_999 : 0.999, file: file, line: line)
        if weightOnly {
            let worst = zip(a, b).map { abs($0 - $1) / max(1, abs($0)) }.max() ?? 0
            XCTAssertLessThan(worst, 1e-4, file: file, line: line)
        }
    }

    func testMLPGemmsWithBiasAsymmetricGroupsOf16() throws {
        // No other quantized op: the MatMulNBits model is the float model with int4 weights.
        try assertMatMulNBitsExport("digits_mlp.onnx", data: "calib_x.npy", test: "test_x.npy",
                                    quantize: "quantize(weights=int4,group=16,symmetric=false)", layers: 3, weightOnly: true)
    }

    func testTransformerMatMulsSymmetricGroupsOf128() throws {
        try assertMatMulNBitsExport("digits_transformer.onnx", data: "calib_x_seq.npy", test: "test_x_seq.npy",
                                    quantize: "quantize(weights=int4,group=128)", layers: 14, weightOnly: false)
    }

    /// Symmetric int4 weights are written without zero points; asymmetric ones as uint4 with
    /// uint4 zero points, both dequantizing to the quantizer's values.
    func testBlockedDequantizeLinearTypes() throws {
        for symmetric in [true, false] {
            let (_, m) = try quantized("digits_mlp.onnx", "canonicalize,calibrate(method=minmax,samples=32),quantize(weights=int4,group=16,symmetric=\(symmetric)),insert-qdq",
                                       data: "calib_x.npy")
            let layer = try XCTUnwrap(m.quantization.layer(named: "fc1"))
            let q = try XCTUnwrap(layer.quantized)
            let dq = try XCTUnwrap(m.graph.nodes.first { $0.opType == "DequantizeLinear" && $0.outputs[0].hasPrefix(layer.weight) })
            let w = try XCTUnwrap(m.graph.initializers[dq.inputs[0]])
            XCTAssertEqual(w.elementType, symmetric ? .int4 : .uint4)
            XCTAssertEqual(w.byteCount, (q.values.count + 1) / 2)
            let shift: Int64 = symmetric ? 0 : 8
            XCTAssertEqual(w.int64Values(), q.values.map { Int64($0) + shift })
            if symmetric {
                XCTAssertEqual(dq.inputs.count, 2, "no zero point")
            } else {
                let z = try XCTUnwrap(m.graph.initializers[dq.inputs[2]])
                XCTAssertEqual(z.elementType, .uint4)
                XCTAssertEqual(z.int64Values(), q.zeroPoints.map { Int64($0) + 8 })
            }
        }
    }

    /// Groups over a convolution's flattened C·kh·kw: [O=2][C=3][2][2] in groups of 8 is two
    /// blocks per output channel (8 and 4 weights), scales [2][2], stored as [2][12]; a 1×1
    /// convolution keeps its shape, and MatMul's [K][N] still groups along K.
    func testConvolutionGroupsRunOverTheFlattenedKernel() throws {
        let shape = [2, 3, 2, 2]
        // Blocks of very different magnitudes, so that a scale shared across blocks would show.
        let w: [Float] = (0..<24).map { (i: Int) -> Float in
            let x = Float(i)
            if i < 8 { return x }
            if i < 12 { return 100 * x }
            if i < 20 { return -x }
            return 50 * x
        }
        let format = WeightFormat.integer(bits: 4, granularity: .perGroup(8), symmetric: true)
        let q = try XCTUnwrap(WeightQuantizer.quantize(w, shape: shape, format: format, channelAxis: 0, groupAxis: 1))
        XCTAssertEqual(q.scaleShape, [2, 2])
        XCTAssertEqual(WeightQuantizer.ScaleLayout(shape: shape, granularity: .perGroup(8), channelAxis: 0, groupAxis: 1).flatShape, [2, 12])
        // Each scale covers its own block: max |w| / 7 (symmetric int4 is [-8, 7] → ±7).
        let blocks = [0..<8, 8..<12, 12..<20, 20..<24]
        for (s, r) in blocks.enumerated() {
            XCTAssertEqual(q.scales[s], w[r].map(abs).max()! / 7, accuracy: 1e-4 * q.scales[s], "block \(s)")
        }
        XCTAssertEqual(format.storageBytes(shape: shape, channelAxis: 0, groupAxis: 1), 12 + 4 * 4)
        let back = WeightQuantizer.dequantize(q, shape: shape, granularity: .perGroup(8), channelAxis: 0, groupAxis: 1)
        for (i, v) in w.enumerated() {
            let scale = q.scales[blocks.firstIndex { $0.contains(i) }!]
            XCTAssertEqual(back[i], v, accuracy: scale / 2 + 1e-5, "element \(i)")
        }

        let pointwise = try XCTUnwrap(WeightQuantizer.quantize(Array(w[..<12]), shape: [2, 6, 1, 1], format: format, channelAxis: 0, groupAxis: 1))
        XCTAssertEqual(pointwise.scaleShape, [2, 1, 1, 1])
        XCTAssertEqual(WeightQuantizer.ScaleLayout(shape: [2, 6, 1, 1], granularity: .perGroup(8), channelAxis: 0, groupAxis: 1).flatShape, [2, 6, 1, 1])
        let matmul = try XCTUnwrap(WeightQuantizer.quantize(w, shape: [12, 2], format: format, channelAxis: 1, groupAxis: 0))
        XCTAssertEqual(matmul.scaleShape, [2, 2])
        XCTAssertEqual(WeightQuantizer.ScaleLayout(shape: [12, 2], granularity: .perGroup(8), channelAxis: 1, groupAxis: 0).flatShape, [12, 2])
    }

    /// digits_cnn in int4/g32: every 3×3 convolution's weight is a blocked DequantizeLinear of
    /// [O][C·9] and a Reshape back, and the exported model computes what quantc's simulation of
    /// the dequantized weights computes.
    func testConvolutionInt4ExportsFlatWithAReshape() throws {
        let pipeline = "canonicalize,calibrate(method=minmax,samples=32),quantize(weights=int4,group=32),insert-qdq"
        let (_, m) = try quantized("digits_cnn.onnx", pipeline, data: "calib_x_img.npy")
        let producer = Dictionary(m.graph.nodes.flatMap { n in n.outputs.map { ($0, n) } }, uniquingKeysWith: { a, _ in a })
        for conv in m.graph.nodes where conv.opType == "Conv" {
            let reshape = try XCTUnwrap(producer[conv.inputs[1]], conv.name)
            XCTAssertEqual(reshape.opType, "Reshape", conv.name)
            let dq = try XCTUnwrap(producer[reshape.inputs[0]], conv.name)
            XCTAssertEqual(dq.opType, "DequantizeLinear", conv.name)
            XCTAssertEqual(dq[attribute: "block_size"]?.intValue, 32)
            let layer = try XCTUnwrap(m.quantization.layer(named: conv.name))
            let q = try XCTUnwrap(m.graph.initializers[dq.inputs[0]])
            let shape = try XCTUnwrap(m.graph.initializers[reshape.inputs[1]]).int64Values()!.map { Int($0) }
            XCTAssertEqual(q.shape, [shape[0], shape[1...].reduce(1, *)], conv.name)
            XCTAssertEqual(try XCTUnwrap(m.graph.initializers[dq.inputs[1]]).shape, try XCTUnwrap(layer.quantized).scaleShape)
        }
        // Run it, against the same graph with each convolution reading quantc's dequantized
        // weights as a float initializer instead of DequantizeLinear + Reshape.
        var reference = m
        for l in m.quantization.layers where l.opType == "Conv" {
            let q = try XCTUnwrap(l.quantized)
            let i = try XCTUnwrap(reference.graph.nodes.firstIndex { $0.name == l.node })
            let reshape = try XCTUnwrap(producer[reference.graph.nodes[i].inputs[1]])
            let shape = try XCTUnwrap(m.graph.initializers[reshape.inputs[1]]).int64Values()!.map { Int($0) }
            let w = WeightQuantizer.dequantize(q, shape: shape, granularity: .perGroup(32), channelAxis: l.channelAxis, groupAxis: l.groupAxis)
            let name = "\(l.node).dequantized"
            reference.graph.initializers[name] = Tensor(floats: w, shape: shape, name: name)
            reference.graph.nodes[i].inputs[1] = name
        }
        let x = RTensor(try NumpyFile.read(Self.root.appendingPathComponent("models/digits/test_x_img.npy").path))
        let input = m.graph.runtimeInputs[0].name, output = m.graph.outputs[0].name
        let a = try Interpreter(model: reference, threads: 1).run(inputs: [input: x])[output]!.floatArray()
        let b = try Interpreter(model: m, threads: 1).run(inputs: [input: x])[output]!.floatArray()
        XCTAssertEqual(a, b)
    }

    func testGroupThatMatMulNBitsCannotTakeIsAnError() throws {
        XCTAssertThrowsError(try quantized("digits_mlp.onnx", "canonicalize,calibrate(method=minmax,samples=16),quantize(weights=int4,group=24),insert-qdq(int4-format=matmulnbits)",
                                           data: "calib_x.npy")) {
            XCTAssertTrue("\($0)".contains("layer 'fc1' (Gemm): int4-format=matmulnbits needs a group size that is a power of two of at least 16"), "\($0)")
        }
        XCTAssertThrowsError(try PassRegistry.pipeline("insert-qdq(int4-format=nbits)")) {
            XCTAssertTrue("\($0)".contains("qdq|matmulnbits"), "\($0)")
        }
    }
}
