import Foundation
import IR
import Passes
import Report
import XCTest

/// The report's precision fields as filled from the IR's QuantizationState.
final class ReportFromIRTests: XCTestCase {
    func testSpearmanAveragesTiedRanks() {
        // Same order: 1; reversed: -1; scipy.stats.spearmanr([1,2,2,3],[1,3,2,4]) = 0.9486832980505138.
        XCTAssertEqual(SpearmanCorrelation.rho([1, 2, 3, 4], [10, 20, 30, 40])!, 1, accuracy: 1e-12)
        XCTAssertEqual(SpearmanCorrelation.rho([1, 2, 3, 4], [4, 3, 2, 1])!, -1, accuracy: 1e-12)
        XCTAssertEqual(SpearmanCorrelation.rho([1, 2, 2, 3], [1, 3, 2, 4])!, 0.9486832980505138, accuracy: 1e-12)
        XCTAssertNil(SpearmanCorrelation.rho([1, 1, 1], [1, 2, 3]))
    }

    /// A 4×8 weight whose rows have scales 1, 2, 3, 4 (×max/127): per channel, the median
    /// (lower of the two middle) is row 1.
    func layerModel(format: WeightFormat) -> (Model, [String: Tensor]) {
        var w: [Float] = []
        for r in 0..<4 { for c in 0..<8 { w.append(Float(r + 1) * (Float(c) - 3.5) / 3.5) } }
        let t = Tensor(floats: w, shape: [4, 8], name: "w")
        var m = Model(graph: Graph(name: "g", initializers: ["w": t]))
        var l = LayerQuantization(node: "fc", opType: "Gemm", weight: "w", weightInput: 1, bias: nil, channelAxis: 0, groupAxis: 1,
                                  format: format)
        l.quantized = WeightQuantizer.quantize(w, shape: [4, 8], format: format, channelAxis: 0, groupAxis: 1)
        m.quantization.layers = [l]
        return (m, ["w": t])
    }

    func testHistogramAndMedianScaleGrid() throws {
        let (m, weights) = layerModel(format: .int8PerChannel)
        let layer = try XCTUnwrap(QuantizationReport.layers(of: m, floatWeights: weights, comparison: nil, watch: [:]).first)
        let h = try XCTUnwrap(layer.histogram)
        XCTAssertEqual(h.counts.count, 64)
        XCTAssertEqual(h.counts.reduce(0, +), 32)
        XCTAssertEqual(h.low, -4, accuracy: 1e-6)
        XCTAssertEqual(h.high, 4, accuracy: 1e-6)
        let g = try XCTUnwrap(h.grid)
        XCTAssertEqual(g.scales, 4)
        XCTAssertEqual(g.scale, 2.0 / 127, accuracy: 1e-7)
        XCTAssertEqual(g.shown, "channel 1 of 4, the median scale")
        XCTAssertEqual([g.qmin, g.qmax], [-127, 127])
        // storageBytes is the size: 32 int8 values + 4 float scales.
        XCTAssertEqual(layer.bytes, 32 + 16)
        XCTAssertEqual(layer.reason, "uniform format of the quantize pass")
        XCTAssertNil(layer.sensitivity)
        XCTAssertNil(layer.metrics)
    }

    func testSensitivitiesAllocationAndPredictedAgainstMeasured() throws {
        var (m, weights) = layerModel(format: .integer(bits: 4, granularity: .perGroup(32), symmetric: true))
        m.quantization.layers[0].reason = "allocated: lowest Σ distortion under 4.5bits"
        m.quantization.layers[0].metrics = ["curvature.min-bits": 3.2, "curvature.kappa": .infinity]
        m.quantization.sensitivities = [
            SensitivityTable(method: "weight-magnitude", unit: "‖Q(W) − W‖²", scores: ["fc": ["int4/g32": 0.5, "int8/channel": 0.01, "fp16": 0.0001]]),
            SensitivityTable(method: "measured", unit: "output MSE", scores: ["fc": ["int4/g32": 0.2, "int8/channel": 0.003, "fp16": 0.00002]],
                             notes: ["64 samples"]),
        ]
        m.quantization.allocation = AllocationRecord(budget: "4.5bits", objective: "weight-magnitude", solver: "exact", predicted: 0.5,
                                                     averageBits: 8, bytes: 20)
        var r = QuantizationReport(model: "m.onnx", output: "q.onnx", pipeline: "p", calibration: nil, activations: nil, evaluation: "e",
                                   evaluationSamples: 0, layers: QuantizationReport.layers(of: m, floatWeights: weights, comparison: nil, watch: [:]),
                                   outputs: [], accuracy: nil, floatModelBytes: 0, quantizedModelBytes: 0, floatWeightBytes: 0,
                                   quantizedWeightBytes: 0, notes: [])
        r.addPrecisionAnalysis(from: m.quantization)
        let l = r.layers[0]
        XCTAssertEqual(l.reason, "allocated: lowest Σ distortion under 4.5bits")
        XCTAssertEqual(l.metrics, ["curvature.min-bits": 3.2], "non-finite metrics are dropped (JSON has no infinity)")
        XCTAssertEqual(l.predictedError, 0.5)
        XCTAssertEqual(l.measuredError, 0.2)
        XCTAssertEqual(l.sensitivity?["measured"]?.count, 3)
        XCTAssertEqual(l.histogram?.grid?.shown, "group 1 of 4 (32 weights each), the median scale")
        XCTAssertEqual(r.predictedBy, "weight-magnitude")
        XCTAssertEqual(r.allocation?.budget, "4.5bits")
        XCTAssertEqual(r.candidateFormats, CandidateFormats.standard.map(\.description))
        let wm = try XCTUnwrap(r.sensitivities?.first)
        XCTAssertEqual(wm.spearman ?? 0, 1, accuracy: 1e-12)
        XCTAssertEqual(wm.pairs, 3)
        XCTAssertNil(r.sensitivities?.last?.spearman)
        // It survives the JSON round trip, and the columns show every measure.
        let back = try QuantizationReport.decode(Data(try r.json()), path: "r.json")
        XCTAssertEqual(back.layers[0].sensitivity, l.sensitivity)
        XCTAssertEqual(back.columns.map(\.key), ["depth", "layer", "op", "weights", "format", "why", "bytes", "bits", "w-sqnr",
                                                 "weight-magnitude", "measured", "predicted", "min-bits"])
        XCTAssertEqual(back.order(by: "bytes", descending: true), [0])
    }
}
