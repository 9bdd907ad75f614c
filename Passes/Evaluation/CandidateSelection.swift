import IR
import Interpreter

/// Picks, among quantized versions of one model, the one whose outputs are closest to
/// the float model's on the same samples (the float model run once). For a classifier
/// (an output of class scores [batch, classes]) that is the highest top-1 agreement with
/// the float model, output SQNR breaking ties; otherwise the highest output SQNR
/// (averaged over the float outputs, in dB). Earlier candidates win exact ties.
public enum CandidateSelection {
    public struct Score: Sendable {
        public var name: String
        public var sqnr: Double
        /// Top-1 agreement with the float model over the classifier outputs; nil when there are none.
        public var top1: Double?
    }

    /// Whether `model` has a float output of class scores [batch, classes], so that
    /// candidates are judged by the task (top-1 agreement) rather than by SQNR alone.
    public static func isClassifier(_ model: Model) -> Bool {
        model.graph.outputs.contains { o in
            guard let t = model.graph.type(of: o.name)?.tensorType, t.elementType == .float32, let s = t.shape,
                  s.count == 2 else { return false }
            return (s.last?.value ?? 2) >= 2
        }
    }

    public static func score(float: Model, candidates: [(name: String, model: Model)], feed: SampleFeed,
                             batch: Int, limit: Int, threads: Int) throws -> [Score] {
        let f = try Interpreter(model: float, threads: threads)
        let runs = try candidates.map { try Interpreter(model: $0.model, threads: threads) }
        let outputs = float.graph.outputs.map(\.name)
        var agreement = [OutputAgreement](repeating: OutputAgreement(), count: candidates.count)
        try feed.forEachBatch(inputs: f.inputs, batch: batch, limit: limit) { inputs in
            let reference = try f.run(inputs: inputs)
            for (k, q) in runs.enumerated() {
                agreement[k].add(reference: reference, quantized: try q.run(inputs: inputs), outputs: outputs)
            }
        }
        return candidates.indices.map { k in
            Score(name: candidates[k].name, sqnr: agreement[k].meanSQNR, top1: agreement[k].classifierTop1)
        }
    }

    /// The index of the best of `scores` (see the type's description).
    public static func best(_ scores: [Score]) -> Int {
        var best = 0
        for k in scores.indices.dropFirst() {
            let a = scores[k], b = scores[best]
            if let ta = a.top1, let tb = b.top1, ta != tb {
                if ta > tb { best = k }
            } else if a.sqnr > b.sqnr {
                best = k
            }
        }
        return best
    }
}
