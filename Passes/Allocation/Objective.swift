import IR

/// Which sensitivity table `allocate` minimises.
///
/// `auto`: when a `measured` table exists (end-to-end distortion of quantizing
/// one layer at a time), the predictor whose scores rank-correlate best with it
/// (Spearman's ρ over every (layer, format) both score) — `measured` itself is
/// the yardstick and is used only when it is the only table; otherwise the first
/// present of ``preference`` (then any other table, by name).
public enum AllocationObjective {
    /// Best-founded first: the exact layer-local reconstruction error, the HAWQ-V2
    /// trace-weighted error, the measured one, the curvature bound, then weight error.
    public static let preference = ["layer-hessian", "hessian-trace", "measured", "curvature", "weight-magnitude"]

    /// The chosen table and a sentence on why.
    public static func choose(_ name: String, among tables: [SensitivityTable]) -> Result<(SensitivityTable, String), ObjectiveError> {
        if tables.isEmpty {
            return .failure(.init("no sensitivity scores to allocate by: run a sensitivity pass before `allocate`, "
                + "e.g. weight-magnitude (weight error ‖Q(W) − W‖²) or layer-hessian, hessian-trace, measured, curvature"))
        }
        if name != "auto" {
            guard let t = tables.last(where: { $0.method == name }) else {
                return .failure(.init("unknown objective '\(name)': the sensitivity tables present are "
                    + tables.map(\.method).joined(separator: ", ") + " (or use auto)"))
            }
            return .success((t, "objective \(name) as asked"))
        }
        // Later runs of the same method replace earlier ones.
        var latest: [String: SensitivityTable] = [:]
        for t in tables { latest[t.method] = t }
        if let measured = latest["measured"], latest.count > 1 {
            let ranked = latest.values.filter { $0.method != "measured" }
                .map { ($0, SpearmanCorrelation.rho($0, measured)) }
                .sorted { SpearmanCorrelation.ranksBefore(($0.0.method, $0.1), ($1.0.method, $1.1)) }
            // Ranked first with a ρ; without any, the fixed preference below.
            if ranked[0].1 != nil {
                let why = "auto: Spearman ρ with measured: " + ranked.map { "\($0.0.method) \($0.1.map { String(format: "%.3f", $0) } ?? "n/a")" }.joined(separator: ", ")
                return .success((ranked[0].0, why + " -> \(ranked[0].0.method)"))
            }
        }
        // measured is the yardstick: the objective only when it is the only table.
        let order = (preference.filter { latest[$0] != nil } + latest.keys.filter { !preference.contains($0) }.sorted())
            .filter { $0 != "measured" || latest.count == 1 }
        let why = latest["measured"] != nil && latest.count > 1 ? "no method has a Spearman ρ with measured (constant scores or too few pairs)"
            : "no measured table to rank against"
        return .success((latest[order[0]]!, "auto: \(order[0]) by the fixed preference \(preference.joined(separator: " > ")) (\(why))"))
    }
}

public struct ObjectiveError: Error, Sendable, CustomStringConvertible {
    public var message: String
    init(_ message: String) { self.message = message }
    public var description: String { message }
}
