import ArtifactTestSupport
import Artifact
import Foundation
import IR
import ONNX
import XCTest

/// `quantc exec` on pocl: outputs equal to `quantc run` of the artifact's
/// model.onnx, and each bad input named with its exit status.
final class ExecCommandTests: CLITestCase {
    /// An artifact, an input x.npy and a private kernel cache.
    func setUpArtifact(kernels: String = TestArtifact.gemvKernels) throws -> (dir: URL, artifact: String, x: String, cache: String) {
        let dir = try temporaryFolder()
        let artifact = dir.appendingPathComponent("m.qc").path
        try TestArtifact.gemv(at: artifact, kernels: kernels)
        let x = dir.appendingPathComponent("x.npy").path
        try Data(XCTUnwrap(NumpyFile.encode(Tensor(floats: [0.5, -1, 2, 0.25, -0.75, 1.5, -2, 1], shape: [1, 8])))).write(to: URL(fileURLWithPath: x))
        return (dir, artifact, x, dir.appendingPathComponent("cache").path)
    }

    func testExecWritesOutputsEqualToQuantcRunOfTheModel() throws {
        let (dir, artifact, x, cache) = try setUpArtifact()
        let out = dir.appendingPathComponent("out").path
        var r = try run(["exec", artifact, "--input", "x=\(x)", "-o", out, "--cache-dir", cache])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.hasPrefix("ran 3 launches (1 on the host) on "), r.stdout)
        XCTAssertTrue(r.stdout.contains("kernels built; wrote y.npy to \(out)"), r.stdout)
        XCTAssertEqual(r.stdout.split(separator: "\n").count, 1, r.stdout)
        let ref = dir.appendingPathComponent("ref").path
        r = try run(["run", "\(artifact)/model.onnx", "--input", "x=\(x)", "--output-dir", ref])
        XCTAssertEqual(r.status, 0, r.stderr)
        let got = try NumpyFile.read("\(out)/y.npy"), expected = try NumpyFile.read("\(ref)/y.npy")
        XCTAssertEqual(got.shape, [1, 4])
        for (a, b) in zip(try XCTUnwrap(got.floatValues()), try XCTUnwrap(expected.floatValues())) { XCTAssertEqual(a, b, accuracy: 1e-6) }
        // Second run: kernels from the cache, same bytes.
        let out2 = dir.appendingPathComponent("out2").path
        r = try run(["exec", artifact, "--input", "x=\(x)", "-o", out2, "--cache-dir", cache, "--profile"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("kernels from the kernel cache"), r.stdout)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: "\(out)/y.npy")), try Data(contentsOf: URL(fileURLWithPath: "\(out2)/y.npy")))
        // --profile: a line per launch with kernel name and nodes, then the total.
        let lines = r.stdout.split(separator: "\n").map(String.init)
        XCTAssertTrue(lines.contains { $0.contains("gemv_i8") && $0.hasSuffix("dq_w, fc") }, r.stdout)
        XCTAssertTrue(lines.contains { $0.contains("(host)") && $0.hasSuffix("relu") }, r.stdout)
        XCTAssertTrue(lines.contains { $0.contains("add_self") && $0.hasSuffix("double") }, r.stdout)
        XCTAssertTrue(lines.last?.hasPrefix("total") == true, r.stdout)
        // --repeat: the same outputs, the median and fastest of the runs.
        let out3 = dir.appendingPathComponent("out3").path
        r = try run(["exec", artifact, "--input", "x=\(x)", "-o", out3, "--cache-dir", cache, "--repeat", "3"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains(" ms (median of 3 runs, fastest "), r.stdout)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: "\(out)/y.npy")), try Data(contentsOf: URL(fileURLWithPath: "\(out3)/y.npy")))
    }

    /// A model `out = v · W` (MatMul, W [k][n] a deterministic constant) and an input v.npy
    /// [m, k] whose element i is `input(i)`; returns their paths.
    func matMul(in dir: URL, name: String, m: Int, k: Int, n: Int, input: (Int) -> Float) throws -> (model: String, input: String) {
        var graph = Graph(name: name, inputs: [ValueInfo(name: "v", type: .tensor(TensorType(.float32, fixed: [m, k])))],
                          outputs: [ValueInfo(name: "out", type: nil)])
        graph.initializers["W"] = Tensor(floats: (0..<k * n).map { Float(($0 * 7919) % 2001 - 1000) / 8000 }, shape: [k, n], name: "W")
        graph.nodes = [Node(name: "mm", opType: "MatMul", inputs: ["v", "W"], outputs: ["out"])]
        let model = dir.appendingPathComponent("\(name).onnx").path
        try ONNXExporter.write(Model(graph: graph), to: model)
        let v = dir.appendingPathComponent("\(name).v.npy").path
        try Data(XCTUnwrap(NumpyFile.encode(Tensor(floats: (0..<m * k).map(input), shape: [m, k])))).write(to: URL(fileURLWithPath: v))
        return (model, v)
    }

    /// Compiled GEMVs (tuned for gfx803) on pocl: the MLP's Gemms with int8 weights
    /// (ONNX Runtime's integer arithmetic) and int4 ones, and a MatMul whose [K][N] int4
    /// weight gets its block scales stored row-major. pocl runs the CPU GEMV body by
    /// default and the gfx803 body with --gcn-bodies; both, and runs queued back to back,
    /// agree with `quantc run` of the artifact's model.onnx.
    func testGEMVBodiesAndBackToBackRunsAgreeWithTheSimulation() throws {
        let dir = try temporaryFolder()
        let calib = Self.root.appendingPathComponent("models/digits/calib_x.npy").path
        let x = dir.appendingPathComponent("x.npy").path
        let sample = try NumpyFile.read(Self.root.appendingPathComponent("models/digits/test_x.npy").path)
        let row = Array(try XCTUnwrap(sample.floatValues()).prefix(64))
        try Data(XCTUnwrap(NumpyFile.encode(Tensor(floats: row, shape: [1, 64])))).write(to: URL(fileURLWithPath: x))
        // v [1, 256] · W [256, 96] (MatMul: the weight is [K][N]).
        let (matmul, v) = try matMul(in: dir, name: "matmul", m: 1, k: 256, n: 96) { Float($0 % 17) / 8 - 1 }
        let cases: [(label: String, model: String, input: String, data: [String], args: [String])] = [
            ("mlp int8", mlp, "input=\(x)", ["--calibration", calib], ["--weights", "int8"]),
            ("mlp int4", mlp, "input=\(x)", ["--calibration", calib], ["--weights", "int4"]),
            ("matmul int4", matmul, "v=\(v)", ["--calibration-random", "8"], ["--weights", "int4"]),
        ]
        for c in cases {
            let art = dir.appendingPathComponent("\(c.label).qc").path
            var r = try run(["compile", c.model] + c.data + c.args + ["--method", "minmax", "--no-bias-correction", "-o", art])
            XCTAssertEqual(r.status, 0, r.stderr)
            let kernels = try String(contentsOfFile: "\(art)/kernels.cl", encoding: .utf8)
            if c.label.hasSuffix("int4") {
                XCTAssertTrue(kernels.contains("#define W_BITS 4\n") && kernels.contains("#define CHUNK_SCALE 1\n"), "\(c.label): no int4 GEMV with chunk scales")
            } else {
                XCTAssertTrue(kernels.contains("#define INT_MODE 1\n"), "\(c.label): no integer-mode GEMV")
            }
            if c.label.hasPrefix("matmul") {
                XCTAssertTrue(try String(contentsOfFile: "\(art)/plan.json", encoding: .utf8).contains(".scales_nk"), "row-major scales")
            }
            let ref = dir.appendingPathComponent("\(c.label).ref").path
            r = try run(["run", "\(art)/model.onnx", "--input", c.input, "--output-dir", ref])
            XCTAssertEqual(r.status, 0, r.stderr)
            let names = try FileManager.default.contentsOfDirectory(atPath: ref).filter { $0.hasSuffix(".npy") }
            XCTAssertFalse(names.isEmpty)
            let cache = dir.appendingPathComponent("\(c.label).cache").path
            for (i, extra) in [[], ["--gcn-bodies"], ["--repeat", "4", "--back-to-back", "--profile"]].enumerated() {
                let out = dir.appendingPathComponent("\(c.label).out\(i)").path
                r = try run(["exec", art, "--input", c.input, "-o", out, "--cache-dir", cache] + extra)
                XCTAssertEqual(r.status, 0, r.stderr)
                if extra.contains("--back-to-back") { XCTAssertTrue(r.stdout.contains(" per run (4 back to back)"), r.stdout) }
                for name in names {
                    let a = try XCTUnwrap(NumpyFile.read("\(out)/\(name)").floatValues()).map(Double.init)
                    let b = try XCTUnwrap(NumpyFile.read("\(ref)/\(name)").floatValues()).map(Double.init)
                    XCTAssertEqual(a.count, b.count)
                    let dot = zip(a, b).map(*).reduce(0, +)
                    let cosine = dot / ((a.map { $0 * $0 }.reduce(0, +) * b.map { $0 * $0 }.reduce(0, +)).squareRoot() + 1e-300)
                    XCTAssertGreaterThanOrEqual(cosine, 0.9999, "\(c.label) \(extra): \(name)")
                    XCTAssertLessThan(zip(a, b).map { abs($0 - $1) }.max() ?? 0, 1e-3, "\(c.label) \(extra): \(name)")
                    XCTAssertEqual(a.firstIndex(of: a.max()!), b.firstIndex(of: b.max()!), "\(c.label) \(extra): \(name) top-1")
                }
            }
            // The CPU build (-DQC_HOST_CPU=1) and the gfx803 one are cached apart.
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: cache).filter { $0.hasSuffix(".bin") }.count, 2, c.label)
        }
    }

    /// digits_cnn with int4 weights: every 3×3 convolution's groups run over its flattened
    /// C·kh·kw (a blocked DequantizeLinear of [O][C·9] and a Reshape), conv1 through the
    /// depthwise template (one input channel), conv2 and conv3 through the conv template;
    /// on pocl the artifact agrees with `quantc run` of its model.onnx on 8 digits.
    func testInt4ConvolutionsWithFlattenedGroupsAgreeWithTheSimulation() throws {
        let dir = try temporaryFolder()
        let cnn = Self.root.appendingPathComponent("models/digits_cnn.onnx").path
        let calib = Self.root.appendingPathComponent("models/digits/calib_x_img.npy").path
        let sample = try NumpyFile.read(Self.root.appendingPathComponent("models/digits/test_x_img.npy").path)
        let x = dir.appendingPathComponent("x.npy").path
        try Data(XCTUnwrap(NumpyFile.encode(Tensor(floats: Array(try XCTUnwrap(sample.floatValues()).prefix(8 * 64)), shape: [8, 1, 8, 8]))))
            .write(to: URL(fileURLWithPath: x))
        let art = dir.appendingPathComponent("cnn.qc").path
        var r = try run(["compile", cnn, "--calibration", calib, "--weights", "int4", "--method", "minmax",
                         "--no-bias-correction", "--input-shape", "input=8x1x8x8", "-o", art])
        XCTAssertEqual(r.status, 0, r.stderr)
        let model = try ONNXImporter.importModel(at: "\(art)/model.onnx")
        XCTAssertEqual(model.graph.nodes.filter { $0.opType == "Reshape" }.count, 3, "one Reshape per 3×3 convolution")
        let plan = try String(contentsOfFile: "\(art)/plan.json", encoding: .utf8)
        for conv in ["conv1", "conv2", "conv3"] { XCTAssertTrue(plan.contains("\(conv).weight_bn_Reshape_Output.packed"), conv) }
        let kernels = try String(contentsOfFile: "\(art)/kernels.cl", encoding: .utf8)
        XCTAssertTrue(kernels.contains("#define W_BITS 4\n"))
        let ref = dir.appendingPathComponent("ref").path, out = dir.appendingPathComponent("out").path
        r = try run(["run", "\(art)/model.onnx", "--input", "input=\(x)", "--output-dir", ref])
        XCTAssertEqual(r.status, 0, r.stderr)
        r = try run(["exec", art, "--input", "input=\(x)", "-o", out, "--cache-dir", dir.appendingPathComponent("cache").path])
        XCTAssertEqual(r.status, 0, r.stderr)
        for name in try FileManager.default.contentsOfDirectory(atPath: ref).filter({ $0.hasSuffix(".npy") }) {
            let a = try XCTUnwrap(NumpyFile.read("\(out)/\(name)").floatValues()), b = try XCTUnwrap(NumpyFile.read("\(ref)/\(name)").floatValues())
            XCTAssertEqual(a.count, 80, name)
            XCTAssertLessThan(zip(a, b).map { abs($0 - $1) }.max() ?? 1, 1e-3, name)
            for row in 0..<8 {
                let ra = Array(a[(row * 10)..<(row * 10 + 10)]), rb = Array(b[(row * 10)..<(row * 10 + 10)])
                XCTAssertEqual(ra.firstIndex(of: ra.max()!), rb.firstIndex(of: rb.max()!), "\(name) sample \(row)")
            }
        }
    }

    /// `--kernel-config gemm:LDS_K=16` pins the LDS-tiled GEMM (the tuner prices it above the
    /// register tile for these shapes); on pocl it agrees with the simulation, int8 and int4.
    func testLDSTiledGEMMAgreesWithTheSimulation() throws {
        let dir = try temporaryFolder()
        let (model, v) = try matMul(in: dir, name: "gemm", m: 40, k: 200, n: 72) { Float($0 % 23) / 11 - 1 }
        for weights in ["int8", "int4"] {
            let art = dir.appendingPathComponent("\(weights).qc").path
            var r = try run(["compile", model, "--calibration-random", "4", "--weights", weights, "--kernel-config", "gemm:LDS_K=16", "-o", art])
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertTrue(try String(contentsOfFile: "\(art)/kernels.cl", encoding: .utf8).contains("#define LDS_K 16\n"), weights)
            let out = dir.appendingPathComponent("\(weights).out").path, ref = dir.appendingPathComponent("\(weights).ref").path
            r = try run(["exec", art, "--input", "v=\(v)", "-o", out, "--cache-dir", dir.appendingPathComponent("cache").path])
            XCTAssertEqual(r.status, 0, r.stderr)
            r = try run(["run", "\(art)/model.onnx", "--input", "v=\(v)", "--output-dir", ref])
            XCTAssertEqual(r.status, 0, r.stderr)
            let a = try XCTUnwrap(NumpyFile.read("\(out)/out.npy").floatValues()), b = try XCTUnwrap(NumpyFile.read("\(ref)/out.npy").floatValues())
            XCTAssertEqual(a.count, 40 * 72)
            for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: 1e-4 * max(1, abs(y))) }
        }
    }

    func testDevicesAreListed() throws {
        let r = try run(["devices"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.hasPrefix("[0] "), r.stdout)
        let l = try run(["exec", "--list-devices"])
        XCTAssertEqual(l.stdout, r.stdout)
    }

    func testMissingFileIsNamed() throws {
        let (_, artifact, x, cache) = try setUpArtifact()
        try FileManager.default.removeItem(atPath: "\(artifact)/weights.bin")
        let r = try run(["exec", artifact, "--input", "x=\(x)", "--cache-dir", cache])
        XCTAssertEqual(r.status, 65)
        XCTAssertEqual(r.stderr, "error: \(artifact): artifact file 'weights.bin' is missing\n")
    }

    func testCorruptedFileIsNamedByItsHash() throws {
        let (_, artifact, x, cache) = try setUpArtifact()
        var bytes = try Data(contentsOf: URL(fileURLWithPath: "\(artifact)/kernels.cl"))
        bytes[10] ^= 1
        try bytes.write(to: URL(fileURLWithPath: "\(artifact)/kernels.cl"))
        let r = try run(["exec", artifact, "--input", "x=\(x)", "--cache-dir", cache])
        XCTAssertEqual(r.status, 65)
        XCTAssertTrue(r.stderr.hasPrefix("error: \(artifact): artifact file 'kernels.cl' is corrupted: SHA-256 "), r.stderr)
    }

    func testPlanFromAnotherVersionIsRefused() throws {
        let (dir, _, x, cache) = try setUpArtifact()
        let artifact = dir.appendingPathComponent("old.qc").path
        try TestArtifact.write(to: artifact, model: TestArtifact.gemvModel(), plan: TestArtifact.gemvPlan(),
                               kernels: TestArtifact.gemvKernels, weights: TestArtifact.gemvWeights(),
                               manifestVersion: Plan.currentFormatVersion + 1)
        let r = try run(["exec", artifact, "--input", "x=\(x)", "--cache-dir", cache])
        XCTAssertEqual(r.status, 65)
        XCTAssertEqual(r.stderr, "error: \(artifact): manifest.json has format version \(Plan.currentFormatVersion + 1), but this quantc reads version \(Plan.currentFormatVersion); recompile the model with this quantc\n")
    }

    func testPlanJSONFromAnotherVersionIsRefused() throws {
        let (dir, _, x, cache) = try setUpArtifact()
        let artifact = dir.appendingPathComponent("newer.qc").path
        var plan = TestArtifact.gemvPlan()
        plan.formatVersion = Plan.currentFormatVersion + 1
        try TestArtifact.write(to: artifact, model: TestArtifact.gemvModel(), plan: plan, kernels: TestArtifact.gemvKernels,
                               weights: TestArtifact.gemvWeights())
        let r = try run(["exec", artifact, "--input", "x=\(x)", "--cache-dir", cache])
        XCTAssertEqual(r.status, 65)
        XCTAssertEqual(r.stderr, "error: \(artifact): plan.json has format version \(Plan.currentFormatVersion + 1), but this quantc reads version \(Plan.currentFormatVersion); recompile the model with this quantc\n")
    }

    func testNoOpenCLPlatformExits69() throws {
        let (_, artifact, x, cache) = try setUpArtifact()
        let r = try run(["exec", artifact, "--input", "x=\(x)", "--cache-dir", cache], environment: ["OCL_ICD_VENDORS": "/nonexistent"])
        XCTAssertEqual(r.status, 69, r.stderr)
        XCTAssertEqual(r.stderr, "error: no OpenCL platform found (install pocl-opencl-icd or a GPU driver)\n")
        let d = try run(["devices"], environment: ["OCL_ICD_VENDORS": "/nonexistent"])
        XCTAssertEqual(d.status, 69)
        XCTAssertEqual(d.stderr, r.stderr)
    }

    func testInputOfTheWrongShapeIsNamed() throws {
        let (dir, artifact, _, cache) = try setUpArtifact()
        let bad = dir.appendingPathComponent("bad.npy")
        try Data(XCTUnwrap(NumpyFile.encode(Tensor(floats: [1, 2, 3, 4, 5, 6, 7, 8], shape: [2, 4])))).write(to: bad)
        let out = dir.appendingPathComponent("out").path
        let r = try run(["exec", artifact, "--input", "x=\(bad.path)", "-o", out, "--cache-dir", cache])
        XCTAssertEqual(r.status, 65)
        XCTAssertEqual(r.stderr, "error: \(artifact): input 'x': expected float32[1, 8], given float32[2, 4]\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
        let u = try run(["exec", artifact, "--input", "x", "--cache-dir", cache])
        XCTAssertEqual(u.status, 64)
    }

    func testKernelBuildFailureShowsTheLogAndTheKernel() throws {
        let broken = TestArtifact.gemvKernels + "\n__kernel void broken(__global float *y) { y[0] = nope; }\n"
        let (_, artifact, x, cache) = try setUpArtifact(kernels: broken)
        let r = try run(["exec", artifact, "--input", "x=\(x)", "--cache-dir", cache])
        XCTAssertEqual(r.status, 65)
        XCTAssertTrue(r.stderr.hasPrefix("error: \(artifact): kernels.cl does not build on "), r.stderr)
        XCTAssertTrue(r.stderr.contains(" in kernel 'broken'; build log:\n"), r.stderr)
        XCTAssertTrue(r.stderr.contains("nope"), r.stderr)
    }
}
