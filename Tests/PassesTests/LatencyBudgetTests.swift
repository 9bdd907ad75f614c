import Foundation
import GCN
import IR
import Interpreter
import Passes
import XCTest

/// `allocate(budget=latency:…)`: formats chosen so the weighted layers' predicted gfx803
/// time stays within the budget (issue 7, item 3).
final class LatencyBudgetTests: XCTestCase {
    /// x[N, 1024] → fc1 (1024 → 1024) → Relu → fc2 (1024 → 256) → Relu → fc3 (256 → 10).
    static func model() -> Model {
        var state: UInt64 = 0x5EED
        func weights(_ n: Int, _ scale: Float) -> [Float] {
            (0..<n).map { _ in
                state = state &* 6364136223846793005 &+ 1442695040888963407
                return (Float(state >> 40) / Float(1 << 24) - 0.5) * scale
            }
        }
        let x = ValueType.tensor(TensorType(.float32, [.symbolic("N"), .fixed(1024)]))
        var g = Graph(name: "g", inputs: [ValueInfo(name: "x", type: x)], outputs: [ValueInfo(name: "y", type: nil)], nodes: [
            Node(name: "fc1", opType: "Gemm", inputs: ["x", "W1"], outputs: ["h1"], attributes: [Attribute("transB", .int(1))]),
            Node(name: "relu1", opType: "Relu", inputs: ["h1"], outputs: ["r1"]),
            Node(name: "fc2", opType: "Gemm", inputs: ["r1", "W2"], outputs: ["h2"], attributes: [Attribute("transB", .int(1))]),
            Node(name: "relu2", opType: "Relu", inputs: ["h2"], outputs: ["r2"]),
            Node(name: "fc3", opType: "Gemm", inputs: ["r2", "W3"], outputs: ["y"], attributes: [Attribute("transB", .int(1))]),
        ])
        g.initializers["W1"] = Tensor(floats: weights(1024 * 1024, 0.1), shape: [1024, 1024], name: "W1")
        g.initializers["W2"] = Tensor(floats: weights(256 * 1024, 0.1), shape: [256, 1024], name: "W2")
        g.initializers["W3"] = Tensor(floats: weights(10 * 256, 0.2), shape: [10, 256], name: "W3")
        return Model(opsetImports: [OpsetImport(domain: "", version: 13)], graph: g)
    }

    static let prefix = "quantize,weight-magnitude"

    func run(_ pipeline: String, on model: Model) throws -> (Model, PassContext) {
        var m = model
        var manager = PassManager(passes: try PassRegistry.pipeline(pipeline))
        try manager.run(on: &m)
        return (m, manager.context)
    }

    /// Per layer and candidate format, the predicted nanoseconds, as the allocator costs them.
    func latencies(_ m: Model) throws -> [String: [WeightFormat: Int]] {
        let types = ShapeInference(model: m).types
        var out: [String: [WeightFormat: Int]] = [:]
        for l in m.quantization.layers {
            let node = try XCTUnwrap(m.graph.nodes.first { $0.name == l.node })
            let shape = try XCTUnwrap(m.graph.initializers[l.weight]).shape
            let ll = try LayerLatency.make(node: node, weightShape: shape, types: types).get()
            XCTAssertEqual(ll.columns, 1, "batch N counts as 1: a GEMV")
            for f in m.quantization.formatsConsidered {
                let bytes = f.storageBytes(shape: shape, channelAxis: l.channelAxis, groupAxis: l.groupAxis)
                out[l.node, default: [:]][f] = LayerLatency.nanoseconds(ll.estimate(format: f, weightBytes: bytes).seconds)
            }
        }
        return out
    }

    func isInt4(_ f: WeightFormat?) -> Bool { if case .integer(4, _, _)? = f { return true } else { return false } }

    func testTightBudgetForcesInt4OnTheLargestLayers() throws {
        let (base, _) = try run(Self.prefix, on: Self.model())
        let lat = try latencies(base)
        // int4 is faster than int8 and fp16 on the big layers: memory-bound GEMVs.
        for name in ["fc1", "fc2"] {
            let l = lat[name]!
            XCTAssertLessThan(l[WeightFormat(parsing: "int4/g128")!]!, l[.int8PerChannel]!, name)
            XCTAssertLessThan(l[.int8PerChannel]!, l[.float16]!, name)
        }
        // Budget: the fastest total plus less than what fc1 or fc2 would gain from int4 over int8.
        let fastest = lat.values.reduce(0) { $0 + $1.values.min()! }
        func gap(_ n: String) -> Int { lat[n]![.int8PerChannel]! - lat[n]!.values.min()! }
        let slack = min(gap("fc1"), gap("fc2")) / 2
        let budget = fastest + slack
        let (m, context) = try run(Self.prefix + ",allocate(budget=latency:\(budget)ns)", on: Self.model())
        let q = m.quantization
        XCTAssertTrue(isInt4(q.layer(named: "fc1")?.format), "\(q.layers.map { "\($0.node)=\($0.format)" })")
        XCTAssertTrue(isInt4(q.layer(named: "fc2")?.format), "\(q.layers.map { "\($0.node)=\($0.format)" })")
        // The chosen formats' predicted times fit the budget; each layer carries its own.
        let total = q.layers.reduce(0) { $0 + lat[$1.node]![$1.format]! }
        XCTAssertLessThanOrEqual(total, budget)
        for l in q.layers {
            XCTAssertEqual(try XCTUnwrap(l.metrics["gcn.latency-us"]), Double(lat[l.node]![l.format]!) / 1e3, accuracy: 1e-3)
            XCTAssertTrue(l.reason?.hasPrefix("allocated (weight-magnitude)") == true, l.reason ?? "nil")
        }
        let record = try XCTUnwrap(q.allocation)
        XCTAssertEqual(record.budget, "latency:\(budget)ns")
        XCTAssertTrue(record.notes.contains { $0.hasPrefix("predicted gfx803 latency of the weighted layers: ") }, "\(record.notes)")
        // bytes and bits stay the stored weights' (not the latency units).
        let bytes = q.layers.reduce(0) { s, l in
            s + l.format.storageBytes(shape: m.graph.initializers[l.weight]!.shape, channelAxis: l.channelAxis, groupAxis: l.groupAxis)
        }
        XCTAssertEqual(record.bytes, bytes)
        XCTAssertTrue(context.notes.isEmpty || !context.notes.contains { $0.contains("nothing to allocate") })

        // A budget float32 weights meet constrains nothing: formats stay as quantize chose, with a note.
        let (loose, looseContext) = try run(Self.prefix + ",allocate(budget=latency:10ms)", on: Self.model())
        XCTAssertTrue(loose.quantization.layers.allSatisfy { $0.format == .int8PerChannel })
        XCTAssertTrue(looseContext.notes.contains { $0.contains("allows float32 weights") && $0.contains("predicted on gfx803") }, "\(looseContext.notes)")
    }

    func testInfeasibleBudgetNamesTheMinimumLatency() throws {
        let (base, _) = try run(Self.prefix, on: Self.model())
        let fastest = try latencies(base).values.reduce(0) { $0 + $1.values.min()! }
        XCTAssertThrowsError(try run(Self.prefix + ",allocate(budget=latency:5us)", on: Self.model())) { e in
            let text = "\(e)"
            XCTAssertTrue(text.contains("budget latency:5us is too small: the minimum achievable latency of the weighted layers is "
                + LayerLatency.text(Double(fastest) / 1e9) + " predicted on gfx803 (\(fastest) ns"), text)
        }
    }

    func testLatencyBudgetParsing() {
        func parse(_ s: String) -> AllocationBudget? { try? AllocationBudget.parse(s).get() }
        func seconds(_ s: String) -> Double? { if case .latency(let x)? = parse(s) { return x } else { return nil } }
        for (text, value) in [("latency:2ms", 2e-3), ("latency:500us", 500e-6), ("latency:0.01s", 0.01), ("latency:1500ns", 1.5e-6)] {
            XCTAssertEqual(try XCTUnwrap(seconds(text)), value, accuracy: value * 1e-12, text)
        }
        for bad in ["latency:", "latency:2", "latency:-1ms", "latency:fast", "latency:0.1ns"] {
            guard case .failure(let e) = AllocationBudget.parse(bad) else { return XCTFail("\(bad) accepted") }
            XCTAssertTrue(e.message.contains(bad), e.message)
        }
    }
}
