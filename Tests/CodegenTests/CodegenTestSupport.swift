import Artifact
import Codegen
import Foundation
import IR
import ONNX
import Passes
import XCTest

/// QDQ models for the code generator's tests, made by quantc's own passes
/// (calibrated on random inputs: the plans, not the accuracy, are tested).
enum CodegenFixtures {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func model(_ name: String) throws -> Model {
        try ONNXImporter.importModel(at: root.appendingPathComponent("models/\(name).onnx").path)
    }

    static func quantized(_ m: Model, weights: String = "int8") throws -> Model {
        var m = m
        var manager = PassManager(passes: try PassRegistry.pipeline(
            "canonicalize,calibrate(method=minmax),quantize(weights=\(weights)),insert-qdq"))
        manager.context.randomSamples = 16
        manager.context.threads = 1
        try manager.run(on: &m)
        return m
    }

    static func compile(_ m: Model, inputShapes: [String: [Int]] = [:]) throws -> CompiledModel {
        try Codegen.compile(m, target: "gfx803", inputShapes: inputShapes, quantcVersion: "test")
    }

    /// A small CNN with the operators the digits models lack: depthwise and
    /// grouped convolutions, HardSwish, SiLU, Resize (nearest and linear),
    /// Concat, Slice, Split, Transpose, MaxPool with padding, AveragePool.
    static func coverageModel() -> Model {
        var g = Graph(name: "coverage")
        g.inputs = [ValueInfo(name: "x", type: .tensor(TensorType(.float32, fixed: [1, 3, 16, 16])))]
        g.outputs = [ValueInfo(name: "y", type: nil), ValueInfo(name: "z", type: nil)]
        var seed: UInt64 = 0x5EED
        func random(_ n: Int) -> [Float] {
            (0..<n).map { _ in
                seed = seed &* 6364136223846793005 &+ 1442695040888963407
                return Float(Int(seed >> 40) % 2001 - 1000) / 2000
            }
        }
        func conv(_ name: String, _ input: String, _ output: String, oc: Int, ic: Int, k: Int, group: Int = 1, stride: Int = 1) {
            g.initializers["\(name).w"] = Tensor(floats: random(oc * (ic / group) * k * k), shape: [oc, ic / group, k, k], name: "\(name).w")
            g.initializers["\(name).b"] = Tensor(floats: random(oc), shape: [oc], name: "\(name).b")
            g.nodes.append(Node(name: name, opType: "Conv", inputs: [input, "\(name).w", "\(name).b"], outputs: [output],
                                attributes: [Attribute("kernel_shape", .ints([Int64(k), Int64(k)])), Attribute("group", .int(Int64(group))),
                                             Attribute("strides", .ints([Int64(stride), Int64(stride)])),
                                             Attribute("pads", .ints([Int64(k / 2), Int64(k / 2), Int64(k / 2), Int64(k / 2)]))]))
        }
        func node(_ op: String, _ ins: [String], _ outs: [String], _ attrs: [Attribute] = []) {
            g.nodes.append(Node(name: outs[0], opType: op, inputs: ins, outputs: outs, attributes: attrs))
        }
        conv("c1", "x", "c1", oc: 8, ic: 3, k: 3)
        node("HardSwish", ["c1"], ["h1"])
        conv("dw", "h1", "dw", oc: 8, ic: 8, k: 3, group: 8)
        node("Sigmoid", ["dw"], ["sg"])
        node("Mul", ["dw", "sg"], ["silu"])
        conv("pw", "silu", "pw", oc: 16, ic: 8, k: 1)
        node("Relu", ["pw"], ["r"])
        node("MaxPool", ["r"], ["mp"], [Attribute("kernel_shape", .ints([3, 3])), Attribute("strides", .ints([2, 2])), Attribute("pads", .ints([1, 1, 1, 1]))])
        g.initializers["scales"] = Tensor(floats: [1, 1, 2, 2], shape: [4], name: "scales")
        node("Resize", ["mp", "", "scales"], ["up"], [Attribute("mode", .string("nearest"))])
        node("Concat", ["up", "r"], ["cat"], [Attribute("axis", .int(1))])
        conv("g2", "cat", "g2", oc: 16, ic: 32, k: 3, group: 2, stride: 2)
        node("Resize", ["g2", "", "scales"], ["lin"], [Attribute("mode", .string("linear"))])
        node("Split", ["lin"], ["s1", "s2"], [Attribute("axis", .int(1))])
        node("Add", ["s1", "s2"], ["sum"])
        g.initializers["starts"] = Tensor(int64s: [1, 2], shape: [2], name: "starts")
        g.initializers["ends"] = Tensor(int64s: [7, 14], shape: [2], name: "ends")
        g.initializers["axes"] = Tensor(int64s: [1, 3], shape: [2], name: "axes")
        node("Slice", ["sum", "starts", "ends", "axes"], ["sl"])
        node("AveragePool", ["sl"], ["ap"], [Attribute("kernel_shape", .ints([2, 2])), Attribute("strides", .ints([2, 2]))])
        node("Transpose", ["ap"], ["y"], [Attribute("perm", .ints([0, 2, 3, 1]))])
        node("GlobalAveragePool", ["sum"], ["gp"])
        node("Flatten", ["gp"], ["fl"])
        g.initializers["fc.w"] = Tensor(floats: random(8 * 4), shape: [8, 4], name: "fc.w")
        node("MatMul", ["fl", "fc.w"], ["z"])
        return Model(opsetImports: [OpsetImport(domain: "", version: 13)], graph: g)
    }
}
