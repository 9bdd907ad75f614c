import ArtifactTestSupport
import Artifact
import Foundation
import IR
import Interpreter
import ONNX
@testable import OpenCLRuntime
import XCTest

/// The runtime on pocl (the CPU OpenCL installed by tools/setup.sh): hand-built
/// artifacts checked against quantc's interpreter on the same model.onnx, and
/// every way an artifact or a plan can be wrong.
final class ArtifactRunnerTests: XCTestCase {
    func folder() throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("quantc-ocl-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url.path
    }

    func device() throws -> Device {
        do { return try Devices.select(nil) } catch {
            XCTFail("no OpenCL device (tools/setup.sh installs pocl-opencl-icd): \(error)")
            throw error
        }
    }

    let x = RTensor(floats: [0.5, -1, 2, 0.25, -0.75, 1.5, -2, 1], shape: [1, 8])

    func expectError(_ body: () throws -> Void, _ check: (OpenCLError) -> Void,
                     file: StaticString = #filePath, line: UInt = #line) {
        do {
            try body()
            XCTFail("no error", file: file, line: line)
        } catch let e as OpenCLError {
            check(e)
        } catch {
            XCTFail("unexpected error \(error)", file: file, line: line)
        }
    }

    func testDevicesListPocl() throws {
        let devices = try Devices.all()
        XCTAssertFalse(devices.isEmpty)
        XCTAssertTrue(devices.contains { $0.platformName.lowercased().contains("portable computing language") || $0.platformName.contains("pocl") },
                      devices.map(\.summary).joined(separator: "\n"))
        for d in devices {
            XCTAssertGreaterThan(d.maxWorkGroupSize, 0)
            XCTAssertGreaterThan(d.baseAddressAlignmentBytes, 0)
        }
        // Selection by index and by name substring; a selector matching nothing is named.
        XCTAssertEqual(try Devices.select("0").name, devices[0].name)
        XCTAssertEqual(try Devices.select(String(devices[0].name.prefix(6)).uppercased()).index, devices.first { $0.description.lowercased().contains(devices[0].name.prefix(6).lowercased()) }!.index)
        expectError({ _ = try Devices.select("no-such-device-xyz") }) { e in
            guard case .noDevice(let s, let available) = e else { return XCTFail("\(e)") }
            XCTAssertEqual(s, "no-such-device-xyz")
            XCTAssertEqual(available.count, devices.count)
        }
        expectError({ _ = try Devices.select("\(devices.count)") }) { e in XCTAssertTrue(e.isUnavailable, "\(e)") }
    }

    func testGemvKernelHostReluAndElementwiseMatchTheInterpreter() throws {
        let dir = try folder()
        try TestArtifact.gemv(at: "\(dir)/a.qc")
        let artifact = try ArtifactDirectory(verifying: "\(dir)/a.qc")
        let runner = try ArtifactRunner(artifact: artifact, device: try device(),
                                        options: RunOptions(profile: true, cacheDirectory: "\(dir)/cache"))
        let result = try runner.run(inputs: ["x": x])
        let got = try XCTUnwrap(result.outputs["y"])
        XCTAssertEqual(got.shape, [1, 4])
        let expected = try Interpreter(model: TestArtifact.gemvModel()).run(inputs: ["x": x])["y"]!
        for (a, b) in zip(got.floatArray(), expected.floatArray()) { XCTAssertEqual(a, b, accuracy: 1e-6) }
        // The reference is not trivially zero: Relu keeps some, clears others.
        XCTAssertTrue(expected.floatArray().contains(0) && expected.floatArray().contains { $0 > 0 }, "\(expected.floatArray())")
        // Profiling: one timing per launch, the host launch named as such.
        XCTAssertEqual(result.timings.map(\.site.index), [0, 1, 2])
        XCTAssertEqual(result.timings.map(\.site.kernel), ["gemv_i8", nil, "add_self"])
        XCTAssertTrue(result.timings.allSatisfy { $0.microseconds >= 0 })
        // A second run on the same runner gives the same bytes.
        let again = try runner.run(inputs: ["x": x]).outputs["y"]!
        XCTAssertEqual(again.floatArray(), got.floatArray())
    }

    func testProgramBinaryIsCachedPerDeviceAndSource() throws {
        let dir = try folder()
        try TestArtifact.gemv(at: "\(dir)/a.qc")
        let artifact = try ArtifactDirectory(verifying: "\(dir)/a.qc")
        let options = RunOptions(cacheDirectory: "\(dir)/cache")
        let first = try ArtifactRunner(artifact: artifact, device: try device(), options: options)
        XCTAssertEqual(first.programOrigin, .built)
        XCTAssertEqual(first.warnings, [])
        let files = try FileManager.default.contentsOfDirectory(atPath: "\(dir)/cache")
        XCTAssertEqual(files.count, 1)
        XCTAssertEqual(files.first, ProgramCache.key(device: try device(), options: RunOptions().buildOptions(for: try device()),
                                                     source: Array(TestArtifact.gemvKernels.utf8)) + ".bin")
        let second = try ArtifactRunner(artifact: artifact, device: try device(), options: options)
        XCTAssertEqual(second.programOrigin, .cache)
        let a = try first.run(inputs: ["x": x]).outputs["y"]!.floatArray()
        let b = try second.run(inputs: ["x": x]).outputs["y"]!.floatArray()
        XCTAssertEqual(a, b)
        // A cache entry that is not a valid binary is rebuilt from source, not an error.
        try Data("garbage".utf8).write(to: URL(fileURLWithPath: "\(dir)/cache/\(files[0])"))
        let third = try ArtifactRunner(artifact: artifact, device: try device(), options: options)
        XCTAssertEqual(third.programOrigin, .built)
        XCTAssertEqual(try third.run(inputs: ["x": x]).outputs["y"]!.floatArray(), a)
        // Other source, other key.
        try TestArtifact.gemv(at: "\(dir)/b.qc", kernels: TestArtifact.gemvKernels + "\n// changed\n")
        let other = try ArtifactRunner(artifact: try ArtifactDirectory(verifying: "\(dir)/b.qc"), device: try device(), options: options)
        XCTAssertEqual(other.programOrigin, .built)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: "\(dir)/cache").filter { $0.hasSuffix(".bin") }.count, 2)
    }

    func testLSTMHostLaunchReadsInitializersFromTheModel() throws {
        let dir = try folder()
        try TestArtifact.write(to: "\(dir)/l.qc", model: TestArtifact.lstmModel(), plan: TestArtifact.lstmPlan(),
                               kernels: "// no kernels: everything runs on the host\n", weights: [])
        let runner = try ArtifactRunner(artifact: try ArtifactDirectory(verifying: "\(dir)/l.qc"), device: try device(),
                                        options: RunOptions(cacheDirectory: nil))
        let input = RTensor(floats: [0.3, -0.2, 0.8, 0.1, -0.5, 0.9, 0.05, -0.7], shape: [4, 1, 2])
        let got = try runner.run(inputs: ["x": input]).outputs["y_h"]!
        let expected = try Interpreter(model: TestArtifact.lstmModel()).run(inputs: ["x": input])["y_h"]!
        XCTAssertEqual(got.shape, [1, 1, 3])
        XCTAssertEqual(got.floatArray(), expected.floatArray())
        XCTAssertTrue(got.floatArray().contains { $0 != 0 })
    }

    func testLocalMemoryAndScalarArgumentsReachTheKernel() throws {
        // ReduceSum over 8 values as a work-group tree reduction in __local memory.
        let kernels = """
        __kernel void reduce_sum(__global const float *x, __global float *y, __local float *scratch, int n, float scale) {
            int i = get_local_id(0);
            scratch[i] = i < n ? x[i] : 0.0f;
            for (int s = get_local_size(0) / 2; s > 0; s >>= 1) {
                barrier(CLK_LOCAL_MEM_FENCE);
                if (i < s) scratch[i] += scratch[i + s];
            }
            if (i == 0) y[0] = scratch[0] * scale;
        }
        """
        let g = Graph(name: "sum", inputs: [ValueInfo(name: "x", type: .tensor(TensorType(.float32, fixed: [1, 8])))],
                      outputs: [ValueInfo(name: "s", type: nil)],
                      nodes: [Node(name: "sum", opType: "ReduceSum", inputs: ["x"], outputs: ["s"])])
        let model = Model(opsetImports: [OpsetImport(domain: "", version: 17)], graph: g)
        let xv = TestArtifact.value("x", [1, 8], offset: 0), sv = TestArtifact.value("s", [1, 1], offset: 256)
        let plan = Plan(quantcVersion: "test", target: "gfx803", inputs: [xv], outputs: [sv],
                        arena: Arena(peakBytes: 260, values: [ArenaValue(value: xv, firstLaunch: -1, lastLaunch: 0),
                                                              ArenaValue(value: sv, firstLaunch: 0, lastLaunch: 1)]),
                        weights: [],
                        launches: [Launch(nodes: ["sum"], kernel: "reduce_sum", arguments: [
                            .buffer(region: .arena, name: "x", offset: 0, bytes: 32), .buffer(region: .arena, name: "s", offset: 256, bytes: 4),
                            .local(bytes: 8 * 4), .int32(8), .float32(1),
                        ], globalSize: [8], localSize: [8])])
        let dir = try folder()
        try TestArtifact.write(to: "\(dir)/s.qc", model: model, plan: plan, kernels: kernels, weights: [])
        let runner = try ArtifactRunner(artifact: try ArtifactDirectory(verifying: "\(dir)/s.qc"), device: try device(),
                                        options: RunOptions(cacheDirectory: nil))
        let got = try runner.run(inputs: ["x": x]).outputs["s"]!
        let expected = try Interpreter(model: model).run(inputs: ["x": x])["s"]!
        XCTAssertEqual(got.shape, [1, 1])
        XCTAssertEqual(got.floatArray()[0], expected.floatArray()[0], accuracy: 1e-6)
        XCTAssertEqual(got.floatArray()[0], x.floatArray().reduce(0, +), accuracy: 1e-6)
    }

    func testHostLaunchFoldsConstantInputsTheArenaDoesNotHold() throws {
        // y = (x + c) with c from a Constant node and then Mul by shape-derived d: neither c nor
        // d is in the arena, model.onnx computes both from constants.
        let g = Graph(name: "c", inputs: [ValueInfo(name: "x", type: .tensor(TensorType(.float32, fixed: [1, 4])))],
                      outputs: [ValueInfo(name: "y", type: nil)],
                      initializers: ["k": Tensor(floats: [2, 2, 2, 2], shape: [1, 4], name: "k")],
                      nodes: [Node(name: "const", opType: "Constant", inputs: [], outputs: ["c"],
                                   attributes: [Attribute("value", .tensor(Tensor(floats: [1, -2, 3, -4], shape: [1, 4])))]),
                              Node(name: "double_k", opType: "Add", inputs: ["k", "k"], outputs: ["d"]),
                              Node(name: "add", opType: "Add", inputs: ["x", "c"], outputs: ["s"]),
                              Node(name: "mul", opType: "Mul", inputs: ["s", "d"], outputs: ["y"])])
        let model = Model(opsetImports: [OpsetImport(domain: "", version: 17)], graph: g)
        let xv = TestArtifact.value("x", [1, 4], offset: 0), sv = TestArtifact.value("s", [1, 4], offset: 256)
        let yv = TestArtifact.value("y", [1, 4], offset: 512)
        let plan = Plan(quantcVersion: "test", target: "gfx803", inputs: [xv], outputs: [yv],
                        arena: Arena(peakBytes: 528, values: [ArenaValue(value: xv, firstLaunch: -1, lastLaunch: 0),
                                                              ArenaValue(value: sv, firstLaunch: 0, lastLaunch: 1),
                                                              ArenaValue(value: yv, firstLaunch: 1, lastLaunch: 2)]),
                        weights: [],
                        launches: [Launch(nodes: ["add"], kernel: nil, host: HostCall(node: "add", opType: "Add", inputs: ["x", "c"], outputs: ["s"], reason: "test")),
                                   Launch(nodes: ["mul"], kernel: nil, host: HostCall(node: "mul", opType: "Mul", inputs: ["s", "d"], outputs: ["y"], reason: "test"))])
        let dir = try folder()
        try TestArtifact.write(to: "\(dir)/c.qc", model: model, plan: plan, kernels: "// host only\n", weights: [])
        let runner = try ArtifactRunner(artifact: try ArtifactDirectory(verifying: "\(dir)/c.qc"), device: try device(),
                                        options: RunOptions(cacheDirectory: nil))
        let input = RTensor(floats: [10, 20, 30, 40], shape: [1, 4])
        XCTAssertEqual(try runner.run(inputs: ["x": input]).outputs["y"]!.floatArray(), [44, 72, 132, 144])
        XCTAssertEqual(try Interpreter(model: model).run(inputs: ["x": input])["y"]!.floatArray(), [44, 72, 132, 144])
        // A value computed from an arena value but given no place is named.
        var lost = plan
        lost.arena.values.remove(at: 1)
        lost.launches.remove(at: 0)
        try TestArtifact.write(to: "\(dir)/lost.qc", model: model, plan: lost, kernels: "// host only\n", weights: [])
        expectError({ _ = try ArtifactRunner(artifact: try ArtifactDirectory(verifying: "\(dir)/lost.qc"), device: try device(),
                                              options: RunOptions(cacheDirectory: nil)) }) { e in
            XCTAssertEqual(e.description, "host launch (launch 0, node mul): input 's' of the node has no place in the arena, and model.onnx computes it from 'x', which is not a constant")
        }
    }

    func testBuildFailureShowsTheLogAndNamesTheKernel() throws {
        let dir = try folder()
        let broken = TestArtifact.gemvKernels + """

        __kernel void broken(__global float *y) {
            y[get_global_id(0)] = undeclared_value;
        }
        """
        try TestArtifact.gemv(at: "\(dir)/a.qc", kernels: broken)
        let artifact = try ArtifactDirectory(verifying: "\(dir)/a.qc")
        expectError({ _ = try ArtifactRunner(artifact: artifact, device: try device(), options: RunOptions(cacheDirectory: nil)) }) { e in
            guard case .buildFailed(_, let kernels, let log) = e else { return XCTFail("\(e)") }
            XCTAssertEqual(kernels, ["broken"])
            XCTAssertTrue(log.contains("undeclared_value"), log)
            XCTAssertTrue(e.description.contains("in kernel 'broken'"), e.description)
            XCTAssertTrue(e.isBadInput)
        }
    }

    func testMissingKernelAndBadWorkGroupAreNamedBeforeAnyCompute() throws {
        let dir = try folder()
        try TestArtifact.gemv(at: "\(dir)/a.qc", plan: TestArtifact.gemvPlan(kernel: "gemv_i4"))
        expectError({ _ = try ArtifactRunner(artifact: try ArtifactDirectory(verifying: "\(dir)/a.qc"), device: try device(),
                                              options: RunOptions(cacheDirectory: nil)) }) { e in
            guard case .missingKernel(let site, let available) = e else { return XCTFail("\(e)") }
            XCTAssertEqual(site, LaunchSite(index: 0, kernel: "gemv_i4", nodes: ["dq_w", "fc"]))
            XCTAssertEqual(available, ["gemv_i8", "add_self"])
        }
        // Local size 3 does not divide global size 4.
        try TestArtifact.gemv(at: "\(dir)/b.qc", plan: TestArtifact.gemvPlan(localSize: [3]))
        expectError({ _ = try ArtifactRunner(artifact: try ArtifactDirectory(verifying: "\(dir)/b.qc"), device: try device(),
                                              options: RunOptions(cacheDirectory: nil)) }) { e in
            guard case .invalidWorkGroupSize(let site, _, let local, let detail) = e else { return XCTFail("\(e)") }
            XCTAssertEqual(site.kernel, "gemv_i8")
            XCTAssertEqual(local, [3])
            XCTAssertTrue(detail.contains("not a multiple"), detail)
        }
        // A work-group larger than the device allows names the limits.
        let big = try device().maxWorkGroupSize * 2
        var plan = TestArtifact.gemvPlan(localSize: [big])
        plan.launches[0].globalSize = [big]
        try TestArtifact.gemv(at: "\(dir)/c.qc", plan: plan)
        expectError({ _ = try ArtifactRunner(artifact: try ArtifactDirectory(verifying: "\(dir)/c.qc"), device: try device(),
                                              options: RunOptions(cacheDirectory: nil)) }) { e in
            guard case .invalidWorkGroupSize = e else { return XCTFail("\(e)") }
            XCTAssertTrue(e.description.contains("kernel 'gemv_i8' (launch 0, nodes dq_w, fc)"), e.description)
            XCTAssertTrue(e.description.contains("device max work-group size"), e.description)
        }
    }

    func testPlanArgumentsOutsideTheirBufferAreRefused() throws {
        let dir = try folder()
        var plan = TestArtifact.gemvPlan()
        plan.launches[2].arguments[1] = .buffer(region: .arena, name: "y", offset: 768, bytes: 64)
        try TestArtifact.gemv(at: "\(dir)/a.qc", plan: plan)
        expectError({ _ = try ArtifactRunner(artifact: try ArtifactDirectory(verifying: "\(dir)/a.qc"), device: try device(),
                                              options: RunOptions(cacheDirectory: nil)) }) { e in
            XCTAssertEqual(e.description, "plan.json: kernel 'add_self' (launch 2, node double): argument 1 ('y': offset 768, 64 bytes) lies outside the arena (784 bytes)")
        }
        plan = TestArtifact.gemvPlan()
        plan.launches[0].arguments[2] = .buffer(region: .weights, name: "w_scale", offset: 100, bytes: 16)
        try TestArtifact.gemv(at: "\(dir)/b.qc", plan: plan)
        expectError({ _ = try ArtifactRunner(artifact: try ArtifactDirectory(verifying: "\(dir)/b.qc"), device: try device(),
                                              options: RunOptions(cacheDirectory: nil)) }) { e in
            XCTAssertTrue(e.description.hasSuffix("argument 2 ('w_scale') is at offset 100, not a multiple of 256"), e.description)
        }
        plan = TestArtifact.gemvPlan()
        plan.launches[0].arguments.removeLast()
        try TestArtifact.gemv(at: "\(dir)/c.qc", plan: plan)
        expectError({ _ = try ArtifactRunner(artifact: try ArtifactDirectory(verifying: "\(dir)/c.qc"), device: try device(),
                                              options: RunOptions(cacheDirectory: nil)) }) { e in
            XCTAssertTrue(e.description.hasSuffix("the kernel takes 6 arguments, the plan gives 5"), e.description)
        }
        // Same size, wrong kind: a float where the kernel declares an int, a scalar for a buffer.
        plan = TestArtifact.gemvPlan()
        plan.launches[0].arguments[5] = .float32(8)
        try TestArtifact.gemv(at: "\(dir)/d.qc", plan: plan)
        expectError({ _ = try ArtifactRunner(artifact: try ArtifactDirectory(verifying: "\(dir)/d.qc"), device: try device(),
                                              options: RunOptions(cacheDirectory: nil)) }) { e in
            XCTAssertEqual(e.description, "plan.json: kernel 'gemv_i8' (launch 0, nodes dq_w, fc): argument 5: 'K' is declared as an int, the plan gives a float32 (8.0)")
        }
        plan = TestArtifact.gemvPlan()
        plan.launches[2].arguments[0] = .int32(0)
        try TestArtifact.gemv(at: "\(dir)/e.qc", plan: plan)
        expectError({ _ = try ArtifactRunner(artifact: try ArtifactDirectory(verifying: "\(dir)/e.qc"), device: try device(),
                                              options: RunOptions(cacheDirectory: nil)) }) { e in
            XCTAssertEqual(e.description, "plan.json: kernel 'add_self' (launch 2, node double): argument 0: 'a' is declared as a float* buffer, the plan gives an int32 (0)")
        }
    }

    func testInputsOfTheWrongShapeOrTypeAreNamed() throws {
        let dir = try folder()
        try TestArtifact.gemv(at: "\(dir)/a.qc")
        let runner = try ArtifactRunner(artifact: try ArtifactDirectory(verifying: "\(dir)/a.qc"), device: try device(),
                                        options: RunOptions(cacheDirectory: nil))
        expectError({ _ = try runner.run(inputs: ["x": RTensor(floats: [1, 2, 3, 4], shape: [1, 4])]) }) { e in
            XCTAssertEqual(e.description, "input 'x': expected float32[1, 8], given float32[1, 4]")
        }
        expectError({ _ = try runner.run(inputs: ["x": RTensor(.int64, shape: [1, 8], values: [Int64](repeating: 1, count: 8))]) }) { e in
            XCTAssertEqual(e.description, "input 'x': expected float32[1, 8], given int64[1, 8]")
        }
        expectError({ _ = try runner.run(inputs: [:]) }) { e in
            XCTAssertEqual(e.description, "input 'x' (float32[1, 8]) is not given")
        }
        expectError({ _ = try runner.run(inputs: ["x": x, "z": x]) }) { e in
            XCTAssertEqual(e.description, "input 'z' is not an input of the artifact (its inputs: x)")
        }
    }

    func testKernelSourceFindsKernelsAndTheirLines() {
        let source = """
        float helper(float a) { return a; }
        /* __kernel void commented(void) { } */
        __kernel void first(__global float *y) {
            y[0] = 1.0f;   // }
        }
        __kernel __attribute__((reqd_work_group_size(64, 1, 1)))
        void second(__global float *y)
        {
            y[0] = helper(2.0f);
        }
        """
        let log = "<source>:4:12: error: something\nerror: /tmp/pocl/tempfile.cl:9:5: other\n<source>:1:1: warning: not an error\n1 error generated."
        XCTAssertEqual(KernelSource.kernels(atErrorsOf: log, in: source), ["first", "second"])
    }
}

final class ArtifactRunnerMemoryTests: XCTestCase {
    func testAnArenaLargerThanTheDeviceAllowsIsOutOfResources() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("quantc-ocl-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let device = try Devices.select(nil)
        var plan = TestArtifact.gemvPlan()
        plan.arena.peakBytes = device.maxAllocationBytes + 256
        try TestArtifact.gemv(at: dir, plan: plan)
        do {
            _ = try ArtifactRunner(artifact: try ArtifactDirectory(verifying: dir), device: device, options: RunOptions(cacheDirectory: nil))
            XCTFail("no error")
        } catch let e as OpenCLError {
            guard case .outOfResources = e else { return XCTFail("\(e)") }
            XCTAssertTrue(e.description.contains("the arena needs \(plan.arena.peakBytes) bytes"), e.description)
            XCTAssertFalse(e.isBadInput || e.isUnavailable)
        }
    }
}
