import Artifact
import Foundation
import IR
import ONNX

/// Small real artifacts written with ArtifactWriter: a hand-written kernels.cl,
/// a plan placing every value in the arena, weights.bin and the model.onnx the
/// plan computes, so the runtime's results can be checked against the
/// interpreter on the same model.
public enum TestArtifact {
    /// int8 per-channel GEMV (4×8, scale per row, bias) on the device, Relu on the
    /// host, then y = r + r on the device: x f32[1,8] → y f32[1,4].
    public static let gemvKernels = """
    // y[n] = (Σ_k w[n,k]·x[k])·scale[n] + bias[n]: int8 weights dequantized in registers.
    __kernel void gemv_i8(__global const float *x, __global const char *w, __global const float *scale,
                          __global const float *bias, __global float *y, int K) {
        int n = get_global_id(0);
        float acc = 0.0f;
        for (int k = 0; k < K; ++k) acc += (float)w[n * K + k] * x[k];
        y[n] = acc * scale[n] + bias[n];
    }

    __kernel void add_self(__global const float *a, __global float *y) {
        int i = get_global_id(0);
        y[i] = a[i] + a[i];
    }
    """

    public static let weightsQ: [Int8] = (0..<32).map { Int8(($0 * 37 % 255) - 127) }
    public static let scales: [Float] = [0.01, 0.02, 0.005, 0.03]
    public static let bias: [Float] = [0.1, -0.2, 0.3, -0.4]

    public static func gemvModel() -> Model {
        let g = Graph(
            name: "gemv",
            inputs: [ValueInfo(name: "x", type: .tensor(TensorType(.float32, fixed: [1, 8])))],
            outputs: [ValueInfo(name: "y", type: .tensor(TensorType(.float32, fixed: [1, 4])))],
            initializers: [
                "w_q": Tensor(.int8, shape: [4, 8], values: weightsQ, name: "w_q"),
                "w_scale": Tensor(floats: scales, shape: [4], name: "w_scale"),
                "w_zp": Tensor(.int8, shape: [4], values: [Int8](repeating: 0, count: 4), name: "w_zp"),
                "b": Tensor(floats: bias, shape: [4], name: "b"),
            ],
            nodes: [
                Node(name: "dq_w", opType: "DequantizeLinear", inputs: ["w_q", "w_scale", "w_zp"], outputs: ["w"],
                     attributes: [Attribute("axis", .int(0))]),
                Node(name: "fc", opType: "Gemm", inputs: ["x", "w", "b"], outputs: ["h"],
                     attributes: [Attribute("transB", .int(1))]),
                Node(name: "relu", opType: "Relu", inputs: ["h"], outputs: ["r"]),
                Node(name: "double", opType: "Add", inputs: ["r", "r"], outputs: ["y"]),
            ])
        return Model(opsetImports: [OpsetImport(domain: "", version: 17)], graph: g)
    }

    public static func value(_ name: String, _ shape: [Int], offset: Int, type: String = "float32", size: Int = 4) -> PlanValue {
        PlanValue(name: name, elementType: type, shape: shape, offset: offset, bytes: shape.reduce(1, *) * size)
    }

    public static func bytes<T>(_ a: [T]) -> [UInt8] { a.withUnsafeBytes { Array($0) } }

    /// weights.bin: w_q at 0, scales at 256, bias at 512 (every blob 256-byte aligned).
    public static func gemvWeights() -> [UInt8] {
        var w = bytes(weightsQ) + [UInt8](repeating: 0, count: 256 - 32)
        w += bytes(scales) + [UInt8](repeating: 0, count: 256 - 16)
        w += bytes(bias)
        return w
    }

    public static func gemvPlan(localSize: [Int]? = [4], kernel: String = "gemv_i8") -> Plan {
        let x = value("x", [1, 8], offset: 0), h = value("h", [1, 4], offset: 256)
        let r = value("r", [1, 4], offset: 512), y = value("y", [1, 4], offset: 768)
        let launches = [
            Launch(nodes: ["dq_w", "fc"], kernel: kernel, arguments: [
                .buffer(region: .arena, name: "x", offset: 0, bytes: 32),
                .buffer(region: .weights, name: "w_q", offset: 0, bytes: 32),
                .buffer(region: .weights, name: "w_scale", offset: 256, bytes: 16),
                .buffer(region: .weights, name: "b", offset: 512, bytes: 16),
                .buffer(region: .arena, name: "h", offset: 256, bytes: 16),
                .int32(8),
            ], globalSize: [4], localSize: localSize),
            Launch(nodes: ["relu"], kernel: nil, host: HostCall(node: "relu", opType: "Relu", inputs: ["h"], outputs: ["r"],
                                                                 reason: "test: a host launch between two kernels")),
            Launch(nodes: ["double"], kernel: "add_self", arguments: [
                .buffer(region: .arena, name: "r", offset: 512, bytes: 16),
                .buffer(region: .arena, name: "y", offset: 768, bytes: 16),
            ], globalSize: [4]),
        ]
        return Plan(quantcVersion: "test", target: "gfx803", inputs: [x], outputs: [y],
                    arena: Arena(peakBytes: 784, values: [
                        ArenaValue(value: x, firstLaunch: -1, lastLaunch: 0),
                        ArenaValue(value: h, firstLaunch: 0, lastLaunch: 1),
                        ArenaValue(value: r, firstLaunch: 1, lastLaunch: 2),
                        ArenaValue(value: y, firstLaunch: 2, lastLaunch: 3),
                    ]),
                    weights: [
                        WeightBlob(name: "w_q", elementType: "int8", shape: [4, 8], offset: 0, bytes: 32),
                        WeightBlob(name: "w_scale", elementType: "float32", shape: [4], offset: 256, bytes: 16),
                        WeightBlob(name: "b", elementType: "float32", shape: [4], offset: 512, bytes: 16),
                    ],
                    launches: launches)
    }

    /// An LSTM (hidden 3, input 2, sequence 4) run entirely on the host: its
    /// weights come from model.onnx's initializers, its optional inputs are empty.
    public static func lstmModel() -> Model {
        func ramp(_ n: Int, _ s: Float) -> [Float] { (0..<n).map { Float(($0 * 7) % 11 - 5) * s } }
        let g = Graph(
            name: "lstm",
            inputs: [ValueInfo(name: "x", type: .tensor(TensorType(.float32, fixed: [4, 1, 2])))],
            outputs: [ValueInfo(name: "y_h", type: .tensor(TensorType(.float32, fixed: [1, 1, 3])))],
            initializers: [
                "W": Tensor(floats: ramp(24, 0.1), shape: [1, 12, 2], name: "W"),
                "R": Tensor(floats: ramp(36, 0.05), shape: [1, 12, 3], name: "R"),
                "B": Tensor(floats: ramp(24, 0.02), shape: [1, 24], name: "B"),
            ],
            nodes: [Node(name: "lstm", opType: "LSTM", inputs: ["x", "W", "R", "B"], outputs: ["", "y_h"],
                         attributes: [Attribute("hidden_size", .int(3))])])
        return Model(opsetImports: [OpsetImport(domain: "", version: 17)], graph: g)
    }

    public static func lstmPlan() -> Plan {
        let x = value("x", [4, 1, 2], offset: 0), yh = value("y_h", [1, 1, 3], offset: 256)
        return Plan(quantcVersion: "test", target: "gfx803", inputs: [x], outputs: [yh],
                    arena: Arena(peakBytes: 268, values: [ArenaValue(value: x, firstLaunch: -1, lastLaunch: 0),
                                                          ArenaValue(value: yh, firstLaunch: 0, lastLaunch: 1)]),
                    weights: [],
                    launches: [Launch(nodes: ["lstm"], kernel: nil,
                                      host: HostCall(node: "lstm", opType: "LSTM", inputs: ["x", "W", "R", "B"],
                                                     outputs: ["", "y_h"], reason: "test: no LSTM kernel"))])
    }

    public static func encode(_ plan: Plan) throws -> [UInt8] {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        return Array(try e.encode(plan))
    }

    /// Writes an artifact to `path`; `manifestVersion` other than the current
    /// one makes a manifest "from another version".
    public static func write(to path: String, model: Model, plan: Plan, kernels: String, weights: [UInt8],
                      manifestVersion: Int = Plan.currentFormatVersion) throws {
        let files: [String: [UInt8]] = [
            ArtifactFile.model: ONNXExporter.serialize(model),
            ArtifactFile.kernels: Array(kernels.utf8),
            ArtifactFile.plan: try encode(plan),
            ArtifactFile.weights: weights,
        ]
        let manifest = Manifest(formatVersion: manifestVersion, quantcVersion: "test", sourceModelSHA256: String(repeating: "0", count: 64),
                                pipeline: "hand-written", target: "gfx803", files: [:])
        try ArtifactWriter.write(to: path, files: files, manifest: manifest)
    }

    public static func gemv(at path: String, kernels: String = gemvKernels, plan: Plan = gemvPlan()) throws {
        try write(to: path, model: gemvModel(), plan: plan, kernels: kernels, weights: gemvWeights())
    }
}
