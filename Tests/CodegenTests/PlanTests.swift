import Artifact
import Codegen
import Foundation
import IR
import Interpreter
import XCTest

/// The launch plans of the bundled models: which kernels, no host launches,
/// memory planned below the sum of the values, everything 256-byte aligned.
final class PlanTests: XCTestCase {
    func check(_ c: CompiledModel, file: StaticString = #filePath, line: UInt = #line) {
        let p = c.plan
        XCTAssertEqual(p.hostNodes, [], "host launches", file: file, line: line)
        for v in p.arena.values { XCTAssertEqual(v.value.offset % Plan.alignment, 0, v.value.name, file: file, line: line) }
        for b in p.weights {
            XCTAssertEqual(b.offset % Plan.alignment, 0, b.name, file: file, line: line)
            XCTAssertLessThanOrEqual(b.offset + b.bytes, c.weights.count, b.name, file: file, line: line)
        }
        XCTAssertEqual(c.weights.count % Plan.alignment, 0, file: file, line: line)
        for l in p.launches {
            guard let k = l.kernel else { continue }
            XCTAssertTrue(c.kernels.contains("#define KERNEL_NAME \(k)\n"), "kernel \(k) is not in kernels.cl", file: file, line: line)
            XCTAssertNotNil(l.estimate, file: file, line: line)
            for a in l.arguments {
                guard case .buffer(let region, let name, let offset, let bytes) = a else { continue }
                XCTAssertEqual(offset % Plan.alignment, 0, "\(k): \(name)", file: file, line: line)
                XCTAssertLessThanOrEqual(offset + bytes, region == .arena ? p.arena.peakBytes : c.weights.count, "\(k): \(name)", file: file, line: line)
            }
            if let local = l.localSize {
                for (g, s) in zip(l.globalSize, local) { XCTAssertEqual(g % s, 0, "\(k): global \(l.globalSize) local \(local)", file: file, line: line) }
            }
        }
        // Values alive at the same launch never share bytes.
        let values = p.arena.values.filter { $0.aliasOf == nil }
        for (i, a) in values.enumerated() {
            for b in values[(i + 1)...] where a.firstLaunch <= b.lastLaunch && b.firstLaunch <= a.lastLaunch {
                let disjoint = a.value.offset + a.value.bytes <= b.value.offset || b.value.offset + b.value.bytes <= a.value.offset
                XCTAssertTrue(disjoint, "\(a.value.name) and \(b.value.name) overlap while both alive", file: file, line: line)
            }
        }
        XCTAssertLessThanOrEqual(p.arena.peakBytes, c.report.arenaSumOfValuesBytes, file: file, line: line)
    }

    func templates(_ c: CompiledModel) -> [String] { c.report.launches.compactMap(\.template) }

    func testDigitsMLP() throws {
        let c = try CodegenFixtures.compile(try CodegenFixtures.quantized(try CodegenFixtures.model("digits_mlp")))
        check(c)
        // Three GEMVs with bias, ReLU and output fake-quant fused; Softmax.
        XCTAssertEqual(templates(c), ["eltwise", "gemv", "gemv", "gemv", "softmax"])
        XCTAssertEqual(c.plan.inputs.map(\.shape), [[1, 64]])
        XCTAssertEqual(c.plan.outputs.map(\.name), ["logits", "probs"])
        let first = c.plan.launches[0]
        XCTAssertTrue(first.nodes.contains { $0.hasSuffix("QuantizeLinear") }, "\(first.nodes)")
        XCTAssertEqual(c.plan.weights.filter { $0.elementType == "int8" }.count, 3)
        XCTAssertLessThan(c.plan.arena.peakBytes, c.report.arenaSumOfValuesBytes)
    }

    func testDigitsCNN() throws {
        let c = try CodegenFixtures.compile(try CodegenFixtures.quantized(try CodegenFixtures.model("digits_cnn")))
        check(c)
        // conv1 has one input channel: the depthwise path. The Q→DQ pairs after MaxPool
        // and Flatten are identities (same grid): no launch.
        XCTAssertEqual(templates(c), ["eltwise", "depthwise", "conv", "pool", "conv", "global_pool", "gemv", "softmax"])
        XCTAssertLessThan(c.plan.arena.peakBytes, c.report.arenaSumOfValuesBytes)
        XCTAssertTrue(c.plan.arena.values.contains { $0.aliasOf != nil }, "Flatten should alias its input")
    }

    func testDigitsTransformerNeedsNoHost() throws {
        let c = try CodegenFixtures.compile(try CodegenFixtures.quantized(try CodegenFixtures.model("digits_transformer")))
        check(c)
        let t = Set(templates(c))
        XCTAssertTrue(t.isSuperset(of: ["gemm", "matmul", "layer_norm", "softmax", "strided_copy", "eltwise"]), "\(t)")
    }

    func testInt4Weights() throws {
        let c = try CodegenFixtures.compile(try CodegenFixtures.quantized(try CodegenFixtures.model("digits_mlp"), weights: "int4"))
        check(c)
        XCTAssertEqual(c.plan.weights.filter { $0.elementType == "int4" }.count, 3)
        XCTAssertTrue(c.kernels.contains("#define W_BITS 4"))
    }

    /// digits_cnn in int4: each 3×3 convolution's flattened weight [O][C·9] is read through its
    /// Reshape as int4. A blocked weight stored in another flat shape ([4][18] for conv1's
    /// [8][1][3][3], blocks of 9: the same values) is not taken for one: it is not packed as
    /// [O][C·9] int4 with the wrong scale index, but read as the float constant it folds to.
    func testFlatInt4ConvolutionWeightsAndAnotherFlatShape() throws {
        let q = try CodegenFixtures.quantized(try CodegenFixtures.model("digits_cnn"), weights: "int4")
        let c = try CodegenFixtures.compile(q)
        check(c)
        for conv in ["conv1", "conv2", "conv3"] {
            XCTAssertEqual(c.plan.weights.first { $0.name == "\(conv).weight_bn_Reshape_Output.packed" }?.elementType, "int4", conv)
        }
        var odd = q
        let dq = try XCTUnwrap(odd.graph.nodes.firstIndex { $0.opType == "DequantizeLinear" && $0.inputs[0].hasPrefix("conv1.") })
        let values = try XCTUnwrap(odd.graph.initializers[odd.graph.nodes[dq].inputs[0]])
        let scales = try XCTUnwrap(odd.graph.initializers[odd.graph.nodes[dq].inputs[1]]?.floatValues())
        XCTAssertEqual(values.shape, [8, 9])
        var moved = values
        moved.shape = [4, 18]
        odd.graph.initializers[values.name] = moved
        // Row r of [4][18] holds rows 2r and 2r + 1 of [8][9]: their scales, in blocks of 9.
        odd.graph.initializers[odd.graph.nodes[dq].inputs[1]] = Tensor(floats: scales, shape: [4, 2], name: odd.graph.nodes[dq].inputs[1])
        odd.graph.nodes[dq].attributes = [Attribute("axis", .int(1)), Attribute("block_size", .int(9))]
        let x = RTensor(try NumpyFile.read(CodegenFixtures.root.appendingPathComponent("models/digits/test_x_img.npy").path)).slice(first: 0..<4)
        let input = q.graph.runtimeInputs[0].name, output = q.graph.outputs[0].name
        XCTAssertEqual(try Interpreter(model: odd, threads: 1).run(inputs: [input: x])[output]?.floatArray(),
                       try Interpreter(model: q, threads: 1).run(inputs: [input: x])[output]?.floatArray(), "the same model")
        let co = try CodegenFixtures.compile(odd)
        check(co)
        XCTAssertNotEqual(co.plan.weights.first { $0.name == "conv1.weight_bn_Reshape_Output.packed" }?.elementType, "int4")
        XCTAssertEqual(co.plan.weights.first { $0.name == "conv2.weight_bn_Reshape_Output.packed" }?.elementType, "int4")
    }

    func testCoverageModel() throws {
        let c = try CodegenFixtures.compile(try CodegenFixtures.quantized(CodegenFixtures.coverageModel()))
        check(c)
        let t = Set(templates(c))
        XCTAssertTrue(t.isSuperset(of: ["conv", "depthwise", "resize", "strided_copy", "pool", "global_pool", "gemv"]), "\(t)")
        // Concat(up, r): the upsampled input is written in place into the output's first
        // slice; r, which MaxPool reads too, is copied into the second.
        let views = c.plan.arena.values.filter { $0.aliasOf == "cat" }
        XCTAssertEqual(views.count, 1, "\(views.map(\.value.name))")
        let cat = c.plan.arena.values.first { $0.value.name == "cat" }!
        XCTAssertEqual(views.first?.value.offset, cat.value.offset)
        XCTAssertEqual(c.plan.launches.filter { $0.nodes == ["cat"] }.count, 1)
    }

    func testFloatModelCompiles() throws {
        // Layers kept in float read fp32 weights through the same templates.
        let c = try CodegenFixtures.compile(CodegenFixtures.coverageModel())
        check(c)
        XCTAssertTrue(c.kernels.contains("#define W_BITS 32"))
    }

    func testDeterministic() throws {
        let m = try CodegenFixtures.quantized(try CodegenFixtures.model("digits_cnn"))
        let a = try CodegenFixtures.compile(m), b = try CodegenFixtures.compile(m)
        XCTAssertEqual(Codegen.json(a.plan), Codegen.json(b.plan))
        XCTAssertEqual(a.kernels, b.kernels)
        XCTAssertEqual(a.weights, b.weights)
        XCTAssertEqual(Codegen.json(a.report), Codegen.json(b.report))
    }

    func testErrorsNameTheProblem() throws {
        let m = try CodegenFixtures.model("digits_mlp")
        XCTAssertThrowsError(try Codegen.compile(m, target: "gfx900", quantcVersion: "test")) { e in
            XCTAssertEqual(e as? CodegenError, .unknownTarget("gfx900", valid: ["gfx803"]))
        }
        XCTAssertThrowsError(try Codegen.compile(m, inputShapes: ["nope": [1, 64]], quantcVersion: "test")) { e in
            XCTAssertTrue("\(e)".contains("'nope'"), "\(e)")
        }
        XCTAssertThrowsError(try Codegen.compile(m, inputShapes: ["input": [1, 63]], quantcVersion: "test")) { e in
            XCTAssertTrue("\(e)".contains("dimension 1 is fixed at 64"), "\(e)")
        }
    }

    func testBatchFromInputShape() throws {
        let m = try CodegenFixtures.quantized(try CodegenFixtures.model("digits_mlp"))
        let c = try CodegenFixtures.compile(m, inputShapes: ["input": [16, 64]])
        check(c)
        XCTAssertEqual(templates(c), ["eltwise", "gemm", "gemm", "gemm", "softmax"])
    }
}
