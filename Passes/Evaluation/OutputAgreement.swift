import IR
import Interpreter

/// How a quantized model's outputs agree with the float model's, accumulated batch by
/// batch: error statistics per float32 output and, for outputs holding class scores
/// (rank 2 or more, last axis of 2 or more), the rows whose top-1 class agrees. The one
/// evaluation core of ``ModelComparison`` (the report) and ``CandidateSelection`` (auto).
struct OutputAgreement {
    var errors: [String: ErrorAccumulator] = [:]
    var top1: [String: (agree: Int, total: Int)] = [:]
    /// Class-score outputs of rank 2 ([batch, classes]): a classifier's.
    var classifierOutputs: Set<String> = []

    /// Adds one batch of `outputs`; returns, per class-score output, each row's
    /// top-1 class in the float and in the quantized model.
    @discardableResult
    mutating func add(reference: [String: RTensor], quantized: [String: RTensor],
                      outputs: [String]) -> [String: (float: [Int], quantized: [Int])] {
        var rows: [String: (float: [Int], quantized: [Int])] = [:]
        for name in outputs {
            guard let a = reference[name], let b = quantized[name], a.type == .float32, b.type == .float32,
                  a.count == b.count else { continue }
            errors[name, default: ErrorAccumulator()].add(reference: UnsafeBufferPointer(a.elements(Float.self)),
                                                          approximation: UnsafeBufferPointer(b.elements(Float.self)))
            guard let classes = a.shape.last, classes >= 2, a.rank >= 2 else { continue }
            let fa = Self.argmaxRows(a, classes), qa = Self.argmaxRows(b, classes)
            var t = top1[name] ?? (0, 0)
            t.agree += zip(fa, qa).filter { $0 == $1 }.count
            t.total += fa.count
            top1[name] = t
            if a.rank == 2 { classifierOutputs.insert(name) }
            rows[name] = (fa, qa)
        }
        return rows
    }

    /// The mean of the outputs' SQNR in dB (each capped at 200 dB); -inf without outputs.
    var meanSQNR: Double {
        let values = errors.values.map { min($0.statistics.sqnr, 200) }
        return values.isEmpty ? -.infinity : values.reduce(0, +) / Double(values.count)
    }

    /// Top-1 agreement over the classifier outputs' rows; nil when there are none.
    var classifierTop1: Double? {
        let t = classifierOutputs.compactMap { top1[$0] }
        let total = t.map(\.total).reduce(0, +)
        return total == 0 ? nil : Double(t.map(\.agree).reduce(0, +)) / Double(total)
    }

    static func argmaxRows(_ t: RTensor, _ classes: Int) -> [Int] {
        let v = t.elements(Float.self)
        return (0..<(t.count / classes)).map { r in
            var best = 0
            for c in 1..<classes where v[r * classes + c] > v[r * classes + best] { best = c }
            return best
        }
    }
}
