import Foundation
import Passes

/// The per-layer table and end-to-end summary `quantc quantize` and `quantc report` print.
extension QuantizationReport {
    public var table: String { table(order: nil) }

    /// The table with its rows in `order` (layer indices; graph order when nil).
    public func table(order: [Int]?) -> String {
        let cols = columns.filter { $0.key != "depth" }
        var rows: [[String]] = [cols.map(\.title)]
        for i in order ?? Array(layers.indices) {
            rows.append(cols.map { $0.cell(i, layers[i])?.text ?? "-" })
        }
        let widths = rows[0].indices.map { c in rows.map { $0[c].count }.max()! }
        var out = rows.map { r in
            r.indices.map { c in
                let pad = String(repeating: " ", count: widths[c] - r[c].count)
                return cols[c].numeric ? pad + r[c] : r[c] + pad
            }.joined(separator: "  ")
        }
        out.insert(String(repeating: "-", count: out[0].count), at: 1)
        out.append("")
        out.append("end to end on \(evaluation) (\(evaluationSamples) samples):")
        for o in outputs {
            var line = "  output \(o.name): SQNR \(Self.db(o.error.sqnr)), cosine \(String(format: "%.6f", o.error.cosine))"
            if let t = o.top1Agreement { line += String(format: ", top-1 agreement %.2f%%", 100 * t) }
            out.append(line)
        }
        if let a = accuracy {
            let sign = a.quantized >= a.float ? "+" : ""
            out.append(String(format: "  accuracy: float %.2f%%, quantized %.2f%% (", 100 * a.float, 100 * a.quantized)
                       + sign + String(format: "%.2f points) on %d labelled samples", 100 * (a.quantized - a.float), a.samples))
        }
        let weightRatio = String(format: "%.2fx", Double(quantizedWeightBytes) / Double(max(floatWeightBytes, 1)))
        let fileRatio = String(format: "%.2fx", Double(quantizedModelBytes) / Double(max(floatModelBytes, 1)))
        out.append("weights: \(Self.bytes(floatWeightBytes)) -> \(Self.bytes(quantizedWeightBytes)) (\(weightRatio)); "
                   + "model file: \(Self.bytes(floatModelBytes)) -> \(Self.bytes(quantizedModelBytes)) (\(fileRatio))")
        for s in sensitivities ?? [] {
            let rho = s.spearman.map { String(format: ", Spearman vs measured %.3f over %d pairs", $0, s.pairs ?? 0) } ?? ""
            out.append("sensitivity \(s.method): \(s.unit)\(rho)")
        }
        if let a = allocation {
            out.append("allocation: budget \(a.budget), objective \(a.objective), solver \(a.solver): "
                       + String(format: "%.3f bits/weight, %@, predicted %@", a.averageBits, Self.bytes(a.bytes), Self.number(a.predicted)))
        }
        for n in notes { out.append("note: \(n)") }
        return out.joined(separator: "\n") + "\n"
    }

    @Sendable static func db(_ v: Double) -> String { v.isFinite ? String(format: "%.1f dB", v) : (v > 0 ? "exact" : "-inf") }

    @Sendable static func number(_ v: Double) -> String { v == 0 ? "0" : String(format: "%.3g", v) }

    static func bytes(_ n: Int) -> String {
        if n < 10_000 { return "\(n) B" }
        if n < 10_000_000 { return String(format: "%.1f KB", Double(n) / 1000) }
        return String(format: "%.1f MB", Double(n) / 1_000_000)
    }
}
