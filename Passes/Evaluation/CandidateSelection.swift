import IR
import Interpreter

/// Picks, among quantized versions of one model, the one whose outputs are
/// closest to the float model's: the highest output SQNR (averaged over the
/// float outputs, in dB) on the same samples, with the float model run once.
public enum CandidateSelection {
    public struct Score: Sendable {
        public var name: String
        public var sqnr: Double
    }

    public static func score(float: Model, candidates: [(name: String, model: Model)], feed: SampleFeed,
                             batch: Int, limit: Int, threads: Int) throws -> [Score] {
        let f = try Interpreter(model: float, threads: threads)
        let runs = try candidates.map { try Interpreter(model: $0.model, threads: threads) }
        let outputs = float.graph.outputs.map(\.name)
        var acc = [[String: ErrorAccumulator]](repeating: [:], count: candidates.count)
        try feed.forEachBatch(inputs: f.inputs, batch: batch, limit: limit) { inputs in
            let reference = try f.run(inputs: inputs)
            for (k, q) in runs.enumerated() {
                let got = try q.run(inputs: inputs)
                for name in outputs {
                    guard let a = reference[name], let b = got[name], a.type == .float32, b.type == .float32, a.count == b.count else { continue }
                    acc[k][name, default: ErrorAccumulator()].add(reference: UnsafeBufferPointer(a.elements(Float.self)),
                                                                  approximation: UnsafeBufferPointer(b.elements(Float.self)))
                }
            }
        }
        return candidates.indices.map { k in
            let values = acc[k].values.map { min($0.statistics.sqnr, 200) }
            return Score(name: candidates[k].name, sqnr: values.isEmpty ? -.infinity : values.reduce(0, +) / Double(values.count))
        }
    }
}
