import IR

/// Rank correlation of sensitivity predictions with the measured distortion.
public enum SpearmanCorrelation {
    /// Spearman's ρ: Pearson correlation of the ranks, ties given their average
    /// rank. nil with fewer than 3 pairs or when either side is constant.
    public static func rho(_ a: [Double], _ b: [Double]) -> Double? {
        guard a.count == b.count, a.count >= 3 else { return nil }
        let ra = ranks(a), rb = ranks(b)
        let n = Double(a.count)
        let ma = ra.reduce(0, +) / n, mb = rb.reduce(0, +) / n
        var sab = 0.0, saa = 0.0, sbb = 0.0
        for i in ra.indices {
            sab += (ra[i] - ma) * (rb[i] - mb)
            saa += (ra[i] - ma) * (ra[i] - ma)
            sbb += (rb[i] - mb) * (rb[i] - mb)
        }
        guard saa > 0, sbb > 0 else { return nil }
        return sab / (saa * sbb).squareRoot()
    }

    /// 1-based ranks, ties averaged.
    public static func ranks(_ x: [Double]) -> [Double] {
        let order = x.indices.sorted { x[$0] < x[$1] || (x[$0] == x[$1] && $0 < $1) }
        var r = [Double](repeating: 0, count: x.count)
        var i = 0
        while i < order.count {
            var j = i
            while j + 1 < order.count && x[order[j + 1]] == x[order[i]] { j += 1 }
            let average = Double(i + j) / 2 + 1
            for k in i...j { r[order[k]] = average }
            i = j + 1
        }
        return r
    }

    /// The (prediction, reference) score pairs of every (node, format) both tables
    /// score with finite values, in node then format order, with each pair's format.
    public static func pairs(_ prediction: SensitivityTable, _ reference: SensitivityTable)
        -> (x: [Double], y: [Double], formats: [String]) {
        var x: [Double] = [], y: [Double] = [], formats: [String] = []
        for node in reference.scores.keys.sorted() {
            for (format, r) in reference.scores[node]!.sorted(by: { $0.key < $1.key }) {
                guard let p = prediction.scores[node]?[format], p.isFinite, r.isFinite else { continue }
                x.append(p)
                y.append(r)
                formats.append(format)
            }
        }
        return (x, y, formats)
    }

    /// Spearman's ρ of two tables over the pairs both score; nil with fewer than 3
    /// pairs or a constant ranking.
    public static func rho(_ prediction: SensitivityTable, _ reference: SensitivityTable) -> Double? {
        let p = pairs(prediction, reference)
        return rho(p.x, p.y)
    }

    /// Whether method `a` (with ρ) ranks before `b`: the higher ρ first (none counts as
    /// −2), equal ρ by name. `sensitivity` and `allocate(objective=auto)` both rank so.
    public static func ranksBefore(_ a: (method: String, rho: Double?), _ b: (method: String, rho: Double?)) -> Bool {
        (b.rho ?? -2, a.method) < (a.rho ?? -2, b.method)
    }

    /// Sets `spearman` and `spearmanByFormat` on every table but `measured`, against
    /// the last `measured` table; returns the method ranked first (``ranksBefore(_:_:)``)
    /// among those with a ρ, nil when none has one.
    @discardableResult
    public static func annotate(_ tables: inout [SensitivityTable], reference: String = "measured") -> String? {
        guard let truth = tables.last(where: { $0.method == reference }) else { return nil }
        var best: (method: String, rho: Double?)?
        for t in tables.indices where tables[t].method != reference {
            let p = pairs(tables[t], truth)
            var byFormat: [String: ([Double], [Double])] = [:]
            for i in p.x.indices {
                byFormat[p.formats[i], default: ([], [])].0.append(p.x[i])
                byFormat[p.formats[i], default: ([], [])].1.append(p.y[i])
            }
            tables[t].spearman = rho(p.x, p.y)
            tables[t].spearmanByFormat = byFormat.compactMapValues { rho($0.0, $0.1) }
            let candidate = (method: tables[t].method, rho: tables[t].spearman)
            if candidate.rho != nil, best.map({ ranksBefore(candidate, $0) }) ?? true { best = candidate }
        }
        return best?.method
    }
}
