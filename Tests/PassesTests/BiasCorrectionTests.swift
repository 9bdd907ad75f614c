import IR
import Interpreter
import Passes
import XCTest

/// `bias-correct` removes the mean output shift that round-to-nearest weights cause.
final class BiasCorrectionTests: XCTestCase {
    /// x → Relu → Gemm(W, b): every input has mean 0.25 > 0, and in each row of W the
    /// largest weight (1.27) sets the scale 0.01 so that the 63 small weights (±0.0049)
    /// all round to 0, which shifts channel c's output by ∓0.0049 · 63 · 0.25 ≈ ∓0.077.
    static func model() -> Model {
        let inputs = 64, channels = 4
        var w = [Float](repeating: 0, count: channels * inputs)
        for c in 0..<channels {
            w[c * inputs] = 1.27
            for i in 1..<inputs { w[c * inputs + i] = c % 2 == 0 ? 0.0049 : -0.0049 }
        }
        let x = ValueType.tensor(TensorType(.float32, [.symbolic("N"), .fixed(inputs)]))
        var g = Graph(name: "g", inputs: [ValueInfo(name: "x", type: x)], outputs: [ValueInfo(name: "y", type: nil)], nodes: [
            Node(name: "relu", opType: "Relu", inputs: ["x"], outputs: ["r"]),
            Node(name: "fc", opType: "Gemm", inputs: ["r", "W", "b"], outputs: ["y"], attributes: [Attribute("transB", .int(1))]),
        ])
        g.initializers["W"] = Tensor(floats: w, shape: [channels, inputs], name: "W")
        g.initializers["b"] = Tensor(floats: [0.1, -0.2, 0.3, 0], shape: [channels], name: "b")
        return Model(opsetImports: [OpsetImport(domain: "", version: 13)], graph: g)
    }

    func quantized(_ pipeline: String) throws -> Model {
        var m = Self.model()
        var manager = PassManager(passes: try PassRegistry.pipeline(pipeline))
        manager.context.randomSamples = 256
        manager.context.threads = 1
        try manager.run(on: &m)
        return m
    }

    /// Mean over held-out random samples of the quantized output minus the float one, per channel.
    func meanShift(_ q: Model) throws -> [Double] {
        let f = try Interpreter(model: Self.model(), threads: 1), qi = try Interpreter(model: q, threads: 1)
        var sums = [Double](repeating: 0, count: 4), rows = 0
        try SampleFeed.random(count: 1024, seed: 0x7E57).forEachBatch(inputs: f.inputs, batch: 128) { feed in
            let a = try f.run(inputs: feed)["y"]!.floatArray(), b = try qi.run(inputs: feed)["y"]!.floatArray()
            for i in a.indices { sums[i % 4] += Double(b[i] - a[i]) }
            rows += a.count / 4
        }
        return sums.map { $0 / Double(rows) }
    }

    func testBiasCorrectionRemovesTheMeanShiftOfRoundedWeights() throws {
        let rtn = try quantized("calibrate(method=minmax),quantize,insert-qdq")
        let corrected = try quantized("calibrate(method=minmax),quantize,bias-correct(samples=256,batch=64),insert-qdq")
        let before = try meanShift(rtn), after = try meanShift(corrected)
        for c in 0..<4 {
            // RTN biases every channel by about ∓0.077 (sign alternating with c) ...
            XCTAssertGreaterThan(abs(before[c]), 0.05, "channel \(c): \(before)")
            XCTAssertEqual(before[c] < 0, c % 2 == 0, "channel \(c): \(before)")
            // ... and the correction, measured on other samples, removes nearly all of it.
            XCTAssertLessThan(abs(after[c]), 0.1 * abs(before[c]), "channel \(c): before \(before), after \(after)")
        }
        let norm = try XCTUnwrap(corrected.quantization.layer(named: "fc")?.metrics["bias-correction"])
        XCTAssertEqual(norm, 0.077 * 2, accuracy: 0.03)
        XCTAssertNil(rtn.quantization.layer(named: "fc")?.metrics["bias-correction"])
    }

    func testBiasCorrectionNeedsQuantizeFirst() throws {
        var m = Self.model()
        var manager = PassManager(passes: try PassRegistry.pipeline("calibrate(method=minmax),bias-correct"))
        manager.context.randomSamples = 16
        XCTAssertThrowsError(try manager.run(on: &m)) { XCTAssertTrue("\($0)".contains("run 'quantize' before 'bias-correct'"), "\($0)") }
        XCTAssertThrowsError(try PassRegistry.pipeline("bias-correct(samples=0)")) { XCTAssertTrue("\($0)".contains("samples must be at least 1"), "\($0)") }
    }
}

/// Bias correction of a model that takes one sample at a time runs the samples in lockstep: the
/// corrections equal those of the same samples in one batch (every layer's shift measured with
/// the layers before it corrected over all samples), whatever the thread count.
final class BiasCorrectionLockstepTests: XCTestCase {
    /// x → Relu → Gemm(W1) → Relu → Gemm(W2): both weights lose their small entries to rounding
    /// (as in ``BiasCorrectionTests/model()``), so fc2's shift depends on fc1's correction.
    static func model(batch: Dim) -> Model {
        let inputs = 32, hidden = 8, outputs = 4
        func weights(_ rows: Int, _ cols: Int, small: Float) -> [Float] {
            var w = [Float](repeating: 0, count: rows * cols)
            for r in 0..<rows {
                w[r * cols + r % cols] = 1.27
                for i in 0..<cols where i != r % cols { w[r * cols + i] = r % 2 == 0 ? small : -small }
            }
            return w
        }
        let x = ValueType.tensor(TensorType(.float32, [batch, .fixed(inputs)]))
        var g = Graph(name: "g", inputs: [ValueInfo(name: "x", type: x)], outputs: [ValueInfo(name: "y", type: nil)], nodes: [
            Node(name: "relu0", opType: "Relu", inputs: ["x"], outputs: ["r0"]),
            Node(name: "fc1", opType: "Gemm", inputs: ["r0", "W1", "b1"], outputs: ["h"], attributes: [Attribute("transB", .int(1))]),
            Node(name: "relu1", opType: "Relu", inputs: ["h"], outputs: ["r1"]),
            Node(name: "fc2", opType: "Gemm", inputs: ["r1", "W2", "b2"], outputs: ["y"], attributes: [Attribute("transB", .int(1))]),
        ])
        g.initializers["W1"] = Tensor(floats: weights(hidden, inputs, small: 0.0049), shape: [hidden, inputs], name: "W1")
        g.initializers["b1"] = Tensor(floats: (0..<hidden).map { Float($0) * 0.05 - 0.1 }, shape: [hidden], name: "b1")
        g.initializers["W2"] = Tensor(floats: weights(outputs, hidden, small: 0.0049), shape: [outputs, hidden], name: "W2")
        g.initializers["b2"] = Tensor(floats: [0.1, -0.2, 0.3, 0], shape: [outputs], name: "b2")
        return Model(opsetImports: [OpsetImport(domain: "", version: 13)], graph: g)
    }

    /// A .npy file of float32 values.
    static func npy(_ values: [Float], shape: [Int]) -> Data {
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(shape.map(String.init).joined(separator: ", "))), }"
        while (10 + header.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        var d = Data([0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.utf8.count & 0xFF), UInt8(header.utf8.count >> 8)])
        d.append(contentsOf: Array(header.utf8))
        values.withUnsafeBytes { d.append(contentsOf: $0) }
        return d
    }

    /// The corrected biases. `recorded`: whether bias correction must have taken the float means
    /// from calibration (nil: no matter); `ask`: whether calibration is asked to record them.
    func corrected(_ model: Model, samples: String, threads: Int, recorded: Bool? = nil, ask: Bool = true,
                   pass: String = "bias-correct(samples=48)", counters: ((PassContext) -> Void)? = nil) throws -> (b1: [Float], b2: [Float]) {
        var m = model
        var manager = PassManager(passes: try PassRegistry.pipeline("calibrate(method=minmax),quantize,\(pass)"))
        manager.context.samples = try SampleSource(folder: samples, inputs: m.graph.runtimeInputs)
        manager.context.threads = threads
        if !ask { manager.context.layerOutputSamples = 0 }
        try manager.run(on: &m)
        if let recorded {
            let reused = manager.context.statistics.contains { $0.name == "float layer outputs taken from calibration" }
            XCTAssertEqual(reused, recorded)
        }
        counters?(manager.context)
        let q = m.quantization
        return (m.graph.initializers[q.layer(named: "fc1")!.bias!]!.floatValues()!,
                m.graph.initializers[q.layer(named: "fc2")!.bias!]!.floatValues()!)
    }

    func testSamplesOneAtATimeAreCorrectedAsOneBatch() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bc-lockstep-\(getpid())")
        let single = dir.appendingPathComponent("single"), batched = dir.appendingPathComponent("batched")
        try FileManager.default.createDirectory(at: single, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: batched, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var rng = SplitMix64(seed: 7)
        let values = (0..<(48 * 32)).map { _ in Float(Double(rng.next() % 10_000) / 10_000 * 2 - 0.6) }
        for s in 0..<48 {
            try Self.npy(Array(values[(s * 32)..<((s + 1) * 32)]), shape: [1, 32])
                .write(to: single.appendingPathComponent(String(format: "%02d.npy", s)))
        }
        try Self.npy(values, shape: [48, 32]).write(to: batched.appendingPathComponent("all.npy"))

        let oneBatch = try corrected(Self.model(batch: .symbolic("N")), samples: batched.path, threads: 1)
        let plain = Self.model(batch: .fixed(1)).graph.initializers["b2"]!.floatValues()!
        XCTAssertGreaterThan(zip(oneBatch.b2, plain).map { abs($0 - $1) }.max()!, 0.01, "fc2 is corrected")
        var first: (b1: [Float], b2: [Float])?
        for threads in [1, 2, 3] {
            let lockstep = try corrected(Self.model(batch: .fixed(1)), samples: single.path, threads: threads)
            for (a, b) in zip(lockstep.b1 + lockstep.b2, oneBatch.b1 + oneBatch.b2) {
                XCTAssertEqual(a, b, accuracy: 1e-6, "threads \(threads): \(lockstep) against one batch \(oneBatch)")
            }
            if let first { XCTAssertTrue(first == lockstep, "threads \(threads) changed the corrections") } else { first = lockstep }
        }
    }

    /// Samples past what one lockstep group's memory holds are left out, not corrected by a
    /// running mean in later groups (which measured later layers under upstream corrections
    /// the earlier groups had only estimated): with room for one run, the corrections are
    /// those of the first sample alone.
    func testSamplesPastOneGroupAreLeftOut() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bc-group-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var rng = SplitMix64(seed: 11)
        for s in 0..<12 {
            let values = (0..<32).map { _ in Float(Double(rng.next() % 10_000) / 10_000 * 2 - 0.6) }
            try Self.npy(values, shape: [1, 32]).write(to: dir.appendingPathComponent(String(format: "%02d.npy", s)))
        }
        let model = Self.model(batch: .fixed(1))
        var leftOut = 0
        let oneRun = try corrected(model, samples: dir.path, threads: 2, pass: "bias-correct(samples=12,memory=0)") { c in
            leftOut = c.statistics.first { $0.name.hasPrefix("bias-correction samples left out") }?.value ?? 0
        }
        XCTAssertEqual(leftOut, 11)
        let first = try corrected(model, samples: dir.path, threads: 2, pass: "bias-correct(samples=1)")
        XCTAssertTrue(oneRun == first, "\(oneRun) against the first sample's \(first)")
        let all = try corrected(model, samples: dir.path, threads: 2, pass: "bias-correct(samples=12)")
        XCTAssertFalse(all == first, "twelve samples correct otherwise than one")
    }

    /// The float means bias correction takes from calibration are the ones its own float run
    /// gives, bit for bit; calibration's batches of 32 differ from bias correction's of 16, so
    /// there it runs the float model itself.
    func testFloatMeansFromCalibrationAreThoseOfItsOwnRun() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bc-recorded-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var rng = SplitMix64(seed: 9)
        let values = (0..<(48 * 32)).map { _ in Float(Double(rng.next() % 10_000) / 10_000 * 2 - 0.6) }
        for s in 0..<48 {
            try Self.npy(Array(values[(s * 32)..<((s + 1) * 32)]), shape: [1, 32]).write(to: dir.appendingPathComponent(String(format: "%02d.npy", s)))
        }
        let model = Self.model(batch: .fixed(1))
        let taken = try corrected(model, samples: dir.path, threads: 2, recorded: true)
        let own = try corrected(model, samples: dir.path, threads: 2, recorded: false, ask: false)
        XCTAssertTrue(taken == own, "\(taken) against \(own)")
        let batched = dir.appendingPathComponent("batched")
        try FileManager.default.createDirectory(at: batched, withIntermediateDirectories: true)
        try Self.npy(values, shape: [48, 32]).write(to: batched.appendingPathComponent("all.npy"))
        _ = try corrected(Self.model(batch: .symbolic("N")), samples: batched.path, threads: 2, recorded: false)
    }
}
