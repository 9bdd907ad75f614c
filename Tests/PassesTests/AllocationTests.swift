import Foundation
import IR
import Interpreter
import ONNX
import Passes
import XCTest

/// The bit allocator: the exact multiple-choice knapsack against exhaustive
/// search, the baselines against it, and the `allocate` pass on the bundled MLP
/// (pins, budgets, every bad input).
final class AllocationTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    // MARK: solvers

    /// A random instance shaped like real ones: per layer a weight count, formats of
    /// 16/8/4 bits with scale overhead, scores falling with bits by a random factor per layer;
    /// `wild` instances have unrelated random costs and scores instead.
    static func instance(_ rng: inout SplitMix64, layers: Int, formats: Int, wild: Bool) -> AllocationProblem {
        let labels = ["fp16", "int8/channel", "int4/g32", "int4/g64", "int4/g128", "int4/g256"]
        let bits = [16.0, 8, 4.5, 4.25, 4.125, 4.0625]
        var ls: [[AllocationProblem.Option]] = []
        for _ in 0..<layers {
            let n = 16 + Int(rng.next() % 4000)
            let sensitivity = exp(8 * rng.unit())
            ls.append((0..<formats).map { k in
                if wild { return .init(cost: 1 + Int(rng.next() % 60), score: rng.unit() * 10, label: labels[k]) }
                let cost = Int(Double(n) * bits[k] / 8) + Int(rng.next() % 8)
                let score = sensitivity * Double(n) * pow(2, -2 * bits[k]) * (0.5 + rng.unit())
                return .init(cost: cost, score: score, label: labels[k])
            })
        }
        let lo = ls.reduce(0) { $0 + $1.map(\.cost).min()! }, hi = ls.reduce(0) { $0 + $1.map(\.cost).max()! }
        let budget = lo + Int(rng.unit() * Double(hi - lo + 1)) - (rng.next() % 10 == 0 ? 1 : 0)   // sometimes infeasible
        return AllocationProblem(layers: ls, budget: budget)
    }

    /// The best score over every choice: all combinations for small instances, else
    /// meet in the middle (both halves enumerated completely; for each choice of the first
    /// half, the best second half that fits, from prefix minima over its costs).
    static func bruteForce(_ p: AllocationProblem) -> Double? {
        func all(_ layers: ArraySlice<[AllocationProblem.Option]>) -> [(cost: Int, score: Double)] {
            var out = [(cost: 0, score: 0.0)]
            for l in layers { out = out.flatMap { s in l.map { (s.cost + $0.cost, s.score + $0.score) } } }
            return out
        }
        let half = p.layers.count / 2
        let a = all(p.layers[..<half])
        let b = all(p.layers[half...]).sorted { $0.cost < $1.cost }
        var prefix: [Double] = []
        var m = Double.infinity
        for x in b { m = min(m, x.score); prefix.append(m) }
        var best: Double?
        for x in a {
            let room = p.budget - x.cost
            // Last b with cost ≤ room.
            var lo = 0, hi = b.count
            while lo < hi { let mid = (lo + hi) / 2; if b[mid].cost <= room { lo = mid + 1 } else { hi = mid } }
            if lo > 0 { best = min(best ?? .infinity, x.score + prefix[lo - 1]) }
        }
        return best
    }

    func testExactMatchesBruteForceOnRandomInstances() {
        var rng = SplitMix64(seed: 0xA110C)
        var feasible = 0
        for trial in 0..<300 {
            let layers = 1 + trial % 12, formats = 2 + (trial / 12) % 4
            let p = Self.instance(&rng, layers: layers, formats: formats, wild: trial % 3 == 0)
            let truth = Self.bruteForce(p)
            let got = ExactKnapsack.solve(p)
            XCTAssertEqual(got == nil, truth == nil, "trial \(trial): feasibility")
            guard let got, let truth else { continue }
            feasible += 1
            XCTAssertLessThanOrEqual(p.cost(got), p.budget, "trial \(trial)")
            XCTAssertEqual(p.score(got), truth, accuracy: 1e-9 * max(1, abs(truth)), "trial \(trial): \(layers)×\(formats)")
        }
        XCTAssertGreaterThan(feasible, 250)
    }

    /// Larger instances with small integer costs, against the textbook DP over every byte of budget
    /// (exact for integer costs: best[b] = least score with total cost ≤ b).
    func testExactMatchesDynamicProgrammingOverBytes() {
        var rng = SplitMix64(seed: 0xD9)
        for trial in 0..<20 {
            let p = Self.instance(&rng, layers: 30 + trial * 4, formats: 5, wild: true)
            var best = [Double](repeating: 0, count: p.budget + 1)
            for l in p.layers {
                var next = [Double](repeating: .infinity, count: p.budget + 1)
                for b in 0...p.budget { for o in l where o.cost <= b { next[b] = min(next[b], best[b - o.cost] + o.score) } }
                best = next
            }
            let got = ExactKnapsack.solve(p)
            XCTAssertEqual(got == nil, best[p.budget] == .infinity, "trial \(trial)")
            guard let got else { continue }
            XCTAssertLessThanOrEqual(p.cost(got), p.budget)
            XCTAssertEqual(p.score(got), best[p.budget], accuracy: 1e-9 * max(1, best[p.budget]), "trial \(trial)")
        }
    }

    func testExactIsNoWorseThanTheBaselines() {
        var rng = SplitMix64(seed: 0xBA5E)
        var greedyWorse = 0, proportionalChecked = 0
        for trial in 0..<100 {
            let p = Self.instance(&rng, layers: 40, formats: 5, wild: trial % 4 == 0)
            guard let exact = AllocationSolver.exact.solve(p) else { XCTAssertNil(GreedyAllocation.solve(p)); continue }
            let e = p.score(exact)
            let greedy = try! XCTUnwrap(AllocationSolver.greedy.solve(p))
            XCTAssertLessThanOrEqual(p.cost(greedy), p.budget)
            XCTAssertLessThanOrEqual(e, p.score(greedy) * (1 + 1e-12), "trial \(trial)")
            if e < p.score(greedy) * (1 - 1e-9) { greedyWorse += 1 }
            let prop = try! XCTUnwrap(AllocationSolver.proportional.solve(p))
            if p.isFeasible(prop) {
                proportionalChecked += 1
                XCTAssertLessThanOrEqual(e, p.score(prop) * (1 + 1e-12), "trial \(trial)")
            }
        }
        // The baselines are not optimal: the comparison must be able to fail.
        XCTAssertGreaterThan(greedyWorse, 0)
        XCTAssertGreaterThan(proportionalChecked, 0)
    }

    func testProportionalTiers() {
        // 5 layers ranked by their score at the cheapest format: 1 fp16, 2 int8, 2 int4.
        let layers = [3.0, 50, 1, 20, 7].map { s in
            [AllocationProblem.Option(cost: 100, score: 0, label: "fp16"), .init(cost: 50, score: s / 10, label: "int8/channel"),
             .init(cost: 30, score: s * 1.1, label: "int4/g32"), .init(cost: 26, score: s, label: "int4/g128")]
        }
        let choice = ProportionalAllocation.solve(AllocationProblem(layers: layers, budget: 0))
        XCTAssertEqual(choice, [3, 0, 3, 1, 1])
    }

    // MARK: budgets

    func testBudgetParsing() throws {
        func parse(_ s: String) -> AllocationBudget? { try? AllocationBudget.parse(s).get() }
        XCTAssertEqual(parse("4.5bits"), .bitsPerWeight(4.5))
        XCTAssertEqual(parse("1.2MB"), .bytes(1_200_000))
        // The decimal as written, not its binary approximation (2.01 × 1000 = 2009.999… in a Double).
        XCTAssertEqual(parse("2.01KB"), .bytes(2010))
        XCTAssertEqual(parse("2.01MB"), .bytes(2_010_000))
        XCTAssertEqual(parse("1.5B"), .bytes(1))
        XCTAssertEqual(parse("0x10B"), .bytes(16), "what Double reads, when the text is not a plain decimal")
        XCTAssertEqual(parse("1e3KB"), .bytes(1_000_000))
        XCTAssertEqual(parse("800KB"), .bytes(800_000))
        XCTAssertEqual(parse("123456B"), .bytes(123_456))
        XCTAssertNil(parse("4.5"))
        XCTAssertNil(parse("-3bits"))
        XCTAssertEqual(parse("latency:2ms"), .latency(seconds: 2e-3))
        XCTAssertEqual(AllocationBudget.bitsPerWeight(4.5).byteLimit(weights: 1000), 562)
        XCTAssertEqual(AllocationBudget.bitsPerWeight(4.27).minimumText(bytes: 533, weights: 1000), "4.27 bits per weight")
        XCTAssertEqual(parse("4.5wbits"), .valueBitsPerWeight(4.5))
        XCTAssertEqual(parse("4.5WBits"), .valueBitsPerWeight(4.5))
        XCTAssertNil(parse("-1wbits"))
        XCTAssertEqual(AllocationBudget.valueBitsPerWeight(4.5).valueBitLimit(weights: 1000), 4500)
        XCTAssertNil(AllocationBudget.bitsPerWeight(4.5).valueBitLimit(weights: 1000))
        XCTAssertEqual(AllocationBudget.valueBitsPerWeight(4.5).description, "4.5wbits")
    }

    /// A wbits budget counts the weight values alone: int4 is 4 bits whatever its group size,
    /// so 4.5wbits allows what 4.5bits (scales counted) cannot on the small MLP.
    func testValueBitsBudget() throws {
        let m = try mlp("quantize,weight-magnitude,allocate(budget=4.5wbits)")
        let record = try XCTUnwrap(m.quantization.allocation)
        var valueBits = 0, n = 0
        for l in m.quantization.layers {
            let count = m.graph.initializers[l.weight]!.shape.reduce(1, *)
            valueBits += l.format.valueBits * count
            n += count
        }
        XCTAssertLessThanOrEqual(Double(valueBits) / Double(n), 4.5)
        XCTAssertGreaterThan(Double(valueBits) / Double(n), 4, "some layer is above int4: \(m.quantization.layers.map(\.format))")
        XCTAssertGreaterThan(bits(m), 4.5, "stored bits count the scales")
        XCTAssertEqual(record.averageBits, bits(m), accuracy: 1e-12)
        XCTAssertTrue(record.notes.contains { $0.contains("value bits per weight") && $0.contains("stored bits per weight") }, "\(record.notes)")
        // The same budget with scales counted is below the MLP's minimum.
        assertFails("quantize,weight-magnitude,allocate(budget=4.5bits)", "needs at least 4.53 bits per weight")
        // Below int4: the error states the minimum in value bits.
        assertFails("quantize,weight-magnitude,allocate(budget=3.5wbits)", "needs at least 4.00 value bits per weight")
        // Above float: a no-op with a note.
        try assertNoOpAboveFloat("32wbits")
    }

    /// A budget that allows float32 weights leaves the formats as quantize chose them, with a note.
    func assertNoOpAboveFloat(_ budget: String, file: StaticString = #filePath, line: UInt = #line) throws {
        var m = try ONNXImporter.importModel(at: Self.root.appendingPathComponent("models/digits_mlp.onnx").path)
        var manager = PassManager(passes: try PassRegistry.pipeline("quantize,weight-magnitude,allocate(budget=\(budget))"))
        try manager.run(on: &m)
        XCTAssertNil(m.quantization.allocation, file: file, line: line)
        XCTAssertTrue(m.quantization.layers.allSatisfy { $0.format == .int8PerChannel }, file: file, line: line)
        XCTAssertTrue(manager.context.notes.contains { $0.contains("nothing to allocate") }, "\(manager.context.notes)", file: file, line: line)
    }

    /// Above float nothing is allocated, but pins still hold (fc2 in int4, fc3 in fp16).
    func testPinsHoldAboveFloat() throws {
        var m = try ONNXImporter.importModel(at: Self.root.appendingPathComponent("models/digits_mlp.onnx").path)
        var manager = PassManager(passes: try PassRegistry.pipeline(
            "quantize(reduce-range=true),weight-magnitude,allocate(budget=40bits,keep=fc2=int4/g32;fc3=fp16,reduce-range=true)"))
        try manager.run(on: &m)
        XCTAssertNil(m.quantization.allocation)
        XCTAssertEqual(m.quantization.layers.map(\.format.description), ["int8/channel", "int4/g32", "fp16"])
        XCTAssertEqual(m.quantization.layer(named: "fc2")?.quantized?.bits, 4)
        XCTAssertNil(m.quantization.layer(named: "fc3")?.quantized)
        XCTAssertEqual(m.quantization.layer(named: "fc2")?.reason, "pinned by --keep")
        XCTAssertTrue(manager.context.notes.contains { $0.contains("nothing to allocate") && $0.contains("but for the pinned layers (fc2=int4/g32, fc3=fp16)") },
                      "\(manager.context.notes)")
    }

    // MARK: the pass on the bundled MLP

    func mlp(_ pipeline: String) throws -> Model {
        var m = try ONNXImporter.importModel(at: Self.root.appendingPathComponent("models/digits_mlp.onnx").path)
        var manager = PassManager(passes: try PassRegistry.pipeline(pipeline))
        try manager.run(on: &m)
        return m
    }

    func bits(_ m: Model) -> Double {
        var bytes = 0, n = 0
        for l in m.quantization.layers {
            let shape = m.graph.initializers[l.weight]!.shape
            bytes += l.format.storageBytes(shape: shape, channelAxis: l.channelAxis, groupAxis: l.groupAxis)
            n += shape.reduce(1, *)
        }
        return Double(bytes * 8) / Double(n)
    }

    func testAllocateMeetsTheBudgetAndExplains() throws {
        let m = try mlp("quantize,weight-magnitude,allocate(budget=5bits)")
        let record = try XCTUnwrap(m.quantization.allocation)
        XCTAssertEqual(record.objective, "weight-magnitude")
        XCTAssertEqual(record.solver, "exact")
        XCTAssertLessThanOrEqual(bits(m), 5)
        XCTAssertEqual(record.averageBits, bits(m), accuracy: 1e-12)
        // Mixed: at 5 bits neither uniform int8 nor uniform int4 is the answer.
        XCTAssertGreaterThan(Set(m.quantization.layers.map(\.format)).count, 1, "\(m.quantization.layers.map(\.format))")
        for l in m.quantization.layers {
            XCTAssertTrue(l.reason?.hasPrefix("allocated (weight-magnitude): ") == true, l.reason ?? "nil")
            if case .integer(let b, _, _) = l.format { XCTAssertEqual(l.quantized?.bits, b) } else { XCTAssertNil(l.quantized) }
        }
        // The predicted objective is the table's sum for the chosen formats, and no other choice within the budget beats it.
        let table = try XCTUnwrap(m.quantization.sensitivities.first)
        let sum = m.quantization.layers.reduce(0.0) { $0 + table.score(node: $1.node, format: $1.format)! }
        XCTAssertEqual(record.predicted, sum, accuracy: 1e-12 * sum)
        for solver in ["greedy", "proportional"] {
            let other = try mlp("quantize,weight-magnitude,allocate(budget=5bits,solver=\(solver))")
            let o = try XCTUnwrap(other.quantization.allocation)
            if o.averageBits <= 5 { XCTAssertLessThanOrEqual(record.predicted, o.predicted) }
        }
    }

    func testPinsAreHonoured() throws {
        let m = try mlp("quantize,weight-magnitude,allocate(budget=6bits,keep=fc1=int4/g32;fc3=fp16)")
        XCTAssertEqual(m.quantization.layer(named: "fc1")?.format, WeightFormat(parsing: "int4/g32"))
        XCTAssertEqual(m.quantization.layer(named: "fc3")?.format, .float16)
        XCTAssertEqual(m.quantization.layer(named: "fc1")?.reason, "pinned by --keep")
        XCTAssertEqual(m.quantization.allocation?.pinned, ["fc1": "int4/g32", "fc3": "fp16"])
        XCTAssertLessThanOrEqual(bits(m), 6)
        // Excluded layers stay fp32 and count at 32 bits.
        let x = try mlp("quantize(exclude=fc3),weight-magnitude,allocate(budget=6bits)")
        XCTAssertEqual(x.quantization.layer(named: "fc3")?.format, .float32)
        XCTAssertLessThanOrEqual(bits(x), 6)
    }

    func testFormatsOptionRestrictsTheCandidates() throws {
        let m = try mlp("quantize,weight-magnitude(formats=int8/channel;int4/g64),allocate(budget=6bits)")
        XCTAssertEqual(m.quantization.candidateFormats.map(\.description), ["int8/channel", "int4/g64"])
        XCTAssertTrue(m.quantization.layers.allSatisfy { ["int8/channel", "int4/g64"].contains($0.format.description) })
        XCTAssertThrowsError(try mlp("quantize,weight-magnitude(formats=int8/channel;int4/g64),allocate(budget=6bits,formats=fp16)")) {
            XCTAssertTrue("\($0)".contains("fp16 is not among the candidate formats"), "\($0)")
        }
    }

    func assertFails(_ pipeline: String, _ message: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try mlp(pipeline), file: file, line: line) {
            XCTAssertTrue("\($0)".contains(message), "\($0)", file: file, line: line)
        }
    }

    func testBadInputs() throws {
        // Below what the formats allow: the error states the minimum.
        assertFails("quantize,weight-magnitude,allocate(budget=3bits)", "needs at least 4.")
        assertFails("quantize,weight-magnitude,allocate(budget=1000B)", "needs at least 3656 bytes")
        // Above float: a no-op with a note.
        try assertNoOpAboveFloat("40bits")
        // Unknown formats, in keep and in the candidates.
        assertFails("quantize,weight-magnitude,allocate(budget=5bits,keep=fc1=int3)", "unknown format 'int3' for node 'fc1'")
        assertFails("quantize,weight-magnitude(formats=fp16;int5),allocate(budget=5bits)", "unknown format 'int5'")
        assertFails("quantize,weight-magnitude,allocate(budget=5bits,formats=int4/g7)", "between 8 and 4096")
        // keep naming no node, or a node that is not a layer.
        assertFails("quantize,weight-magnitude,allocate(budget=5bits,keep=fc9=fp16)", "no node named 'fc9'")
        assertFails("quantize(exclude=fc1),weight-magnitude,allocate(budget=9bits,keep=fc1=fp16)", "pinned to fp16 but excluded")
        // Objectives: unknown, and no table at all.
        assertFails("quantize,weight-magnitude,allocate(budget=5bits,objective=hessian)", "unknown objective 'hessian'")
        assertFails("quantize,allocate(budget=5bits)", "run a sensitivity pass before `allocate`, e.g. weight-magnitude")
        assertFails("quantize,weight-magnitude,allocate(budget=latency:fast)", "budget 'latency:fast' is not a latency")
        assertFails("quantize,weight-magnitude,allocate", "needs budget=")
    }

    func testWeightErrorScoresAreTheSquaredRoundingError() throws {
        let m = try mlp("quantize,weight-magnitude")
        let table = try XCTUnwrap(m.quantization.sensitivities.first { $0.method == "weight-magnitude" })
        XCTAssertEqual(m.quantization.candidateFormats, CandidateFormats.standard)
        for l in m.quantization.layers {
            let w = m.graph.initializers[l.weight]!
            let values = w.floatValues()!
            // int8 per channel by hand: RTN integers dequantized.
            let q = WeightQuantizer.quantize(values, shape: w.shape, format: .int8PerChannel, channelAxis: l.channelAxis, groupAxis: l.groupAxis)!
            let back = WeightQuantizer.dequantize(q, shape: w.shape, granularity: .perChannel, channelAxis: l.channelAxis, groupAxis: l.groupAxis)
            let expected = zip(values, back).reduce(0.0) { $0 + pow(Double($1.0) - Double($1.1), 2) }
            XCTAssertEqual(table.score(node: l.node, format: .int8PerChannel)!, expected, accuracy: 1e-12 * expected)
            // Coarser formats lose more.
            let s = CandidateFormats.standard.map { table.score(node: l.node, format: $0)! }
            XCTAssertLessThan(s[0], s[1])
            XCTAssertLessThan(s[1], s[2])
            XCTAssertLessThanOrEqual(s[2], s[3])
            XCTAssertLessThanOrEqual(s[3], s[4])
        }
    }

    func testObjectiveAutoRanksAgainstMeasured() {
        let measured = SensitivityTable(method: "measured", unit: "", scores: ["a": ["x": 1, "y": 2], "b": ["x": 3, "y": 4]])
        let good = SensitivityTable(method: "layer-hessian", unit: "", scores: ["a": ["x": 10, "y": 20], "b": ["x": 30, "y": 40]])
        let bad = SensitivityTable(method: "curvature", unit: "", scores: ["a": ["x": 4, "y": 3], "b": ["x": 2, "y": 1]])
        XCTAssertEqual(SpearmanCorrelation.rho(good, measured)!, 1, accuracy: 1e-12)
        XCTAssertEqual(SpearmanCorrelation.rho(bad, measured)!, -1, accuracy: 1e-12)
        let chosen = try! AllocationObjective.choose("auto", among: [bad, measured, good]).get()
        XCTAssertEqual(chosen.0.method, "layer-hessian")
        // Without measured: the fixed preference.
        let fixed = try! AllocationObjective.choose("auto", among: [bad, good]).get()
        XCTAssertEqual(fixed.0.method, "layer-hessian")
        XCTAssertEqual(try! AllocationObjective.choose("curvature", among: [bad, good]).get().0.method, "curvature")
    }
}
