import IR
import Interpreter

/// Picks, among quantized versions of one model, the one whose outputs are closest to
/// the float model's: the highest output SQNR (averaged over the float outputs, in dB) on
/// the same samples, with the float model run once; also measures each one's top-1
/// agreement on class-score outputs [batch, classes], for the notes.
public enum CandidateSelection {
    public struct Score: Sendable {
        public var name: String
        public var sqnr: Double
        /// Top-1 agreement with the float model over the classifier outputs; nil when there are none.
        public var top1: Double?
    }

    public static func score(float: Model, candidates: [(name: String, model: Model)], feed: SampleFeed,
                             batch: Int, limit: Int, threads: Int) throws -> [Score] {
        // A batch's float run and candidate runs are independent jobs, two at a time (as the
        // comparison's side-by-side pair: two runs' activations), each on half of the threads:
        // splitting each run's operators over two cores kept 1.15 of them busy on
        // layout_cdla's pages. Scores are added in candidate order after each batch, so they
        // do not depend on the thread count.
        let jobs = candidates.count + 1
        let workers = min(max(1, threads), jobs, 2)
        let each = max(1, threads / workers)
        let f = try Interpreter(model: float, threads: each)
        let runs = try [f] + candidates.map { try Interpreter(model: $0.model, threads: each) }
        let outputs = float.graph.outputs.map(\.name)
        var agreement = [OutputAgreement](repeating: OutputAgreement(), count: candidates.count)
        try feed.forEachBatch(inputs: f.inputs, batch: batch, limit: limit) { inputs in
            let results = try Parallel.map(jobs, threads: workers) { j throws -> [String: RTensor] in
                try runs[j].run(inputs: inputs)
            }
            for k in candidates.indices {
                agreement[k].add(reference: results[0], quantized: results[k + 1], outputs: outputs)
            }
        }
        return candidates.indices.map { k in
            Score(name: candidates[k].name, sqnr: agreement[k].meanSQNR, top1: agreement[k].classifierTop1)
        }
    }

    /// The index of the best of `scores`: the highest output SQNR, earlier candidates
    /// winning ties. Top-1 agreement on calibration samples is reported, not used: on
    /// orientation (160 calibration pages) it ties three candidates at 99.38%, and neither it,
    /// SQNR, KL divergence nor a held-out half of the calibration set ranked the candidates
    /// as the test pages do (differences of one or two pages).
    public static func best(_ scores: [Score]) -> Int {
        var best = 0
        for k in scores.indices where scores[k].sqnr > scores[best].sqnr { best = k }
        return best
    }
}
