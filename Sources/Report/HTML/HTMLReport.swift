import Foundation

/// `quantc report --html`: one self-contained page (inline CSS, SVG and a little script).
extension QuantizationReport {
    /// The page, with the layer table in `order` (layer indices; graph order when nil) and
    /// `sortedBy` (a column key, with its direction) marked on its header.
    public func html(order: [Int]? = nil, sortedBy: (key: String, descending: Bool)? = nil) -> String {
        var s = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        s += "<meta name=\"viewport\" content=\"width=device-width\">"
        s += "<title>\(esc("quantc precision report: \(model)"))</title><style>\(PageAssets.css)</style></head><body>\n"
        s += "<h1>Precision report: \(esc(model))</h1>\n" + headerHTML + "\n"
        s += "<h2>Layers</h2>\n" + layerTableHTML(order: order, sortedBy: sortedBy) + "\n"
        s += sensitivityHTML + allocationHTML
        s += "<h2>Charts</h2>\n<div class=\"charts\">"
        s += chart("Pareto front: size against task metric", paretoChart)
        s += chart("Bits per weight along the depth", bitsChart)
        s += chart("Sensitivity per layer (chosen format, log scale)", sensitivityChart)
        s += chart("Predicted against measured distortion (log-log)", predictedChart)
        s += chart("Weight histogram of the selected layer, with its quantization grid", histogramHTML)
        s += "</div>\n"
        if !notes.isEmpty { s += "<h2>Notes</h2><ul>" + notes.map { "<li>\(esc($0))</li>" }.joined() + "</ul>\n" }
        s += "<p class=\"caption\">Written by \(esc(tool)), report schema \(schemaVersion).</p>\n"
        s += "<script>\(PageAssets.script)</script>\n</body></html>\n"
        return s
    }

    func chart(_ title: String, _ body: String) -> String { "<div class=\"chart\"><h3>\(esc(title))</h3>\(body)</div>" }

    var headerHTML: String {
        var rows: [(String, String)] = [("model", model), ("quantized model", output), ("pipeline", pipeline)]
        if let c = calibration { rows.append(("calibration", c)) }
        if let a = activations { rows.append(("activations", a)) }
        let wr = String(format: "%.2fx", Double(quantizedWeightBytes) / Double(max(floatWeightBytes, 1)))
        let fr = String(format: "%.2fx", Double(quantizedModelBytes) / Double(max(floatModelBytes, 1)))
        rows.append(("weights", "\(Self.bytes(floatWeightBytes)) → \(Self.bytes(quantizedWeightBytes)) (\(wr))"))
        rows.append(("model file", "\(Self.bytes(floatModelBytes)) → \(Self.bytes(quantizedModelBytes)) (\(fr))"))
        let layerBytes = layers.reduce(0) { $0 + $1.bytes }, layerWeights = layers.reduce(0) { $0 + $1.weights }
        if layerWeights > 0 {
            rows.append(("layer weights", "\(layerWeights) parameters, \(Self.bytes(layerBytes)), "
                         + String(format: "%.3f bits per weight", Double(layerBytes * 8) / Double(layerWeights))))
        }
        rows.append(("evaluated on", "\(evaluation) (\(evaluationSamples) samples)"))
        for o in outputs {
            var v = "SQNR \(Self.db(o.error.sqnr)), cosine \(String(format: "%.6f", o.error.cosine))"
            if let t = o.top1Agreement { v += String(format: ", top-1 agreement %.2f%%", 100 * t) }
            rows.append(("output \(o.name)", v))
        }
        if let a = accuracy {
            rows.append(("accuracy", String(format: "float %.2f%%, quantized %.2f%% (%+.2f points) on %d labelled samples",
                                            100 * a.float, 100 * a.quantized, 100 * (a.quantized - a.float), a.samples)))
        }
        return "<dl class=\"head\">" + rows.map { "<dt>\(esc($0.0))</dt><dd>\(esc($0.1))</dd>" }.joined() + "</dl>"
    }

    func layerTableHTML(order: [Int]?, sortedBy: (key: String, descending: Bool)?) -> String {
        let cols = columns
        var s = "<div class=\"scroll\"><table class=\"sortable\" id=\"layers\"><thead><tr>"
        for c in cols {
            let dir = sortedBy?.key == c.key ? " data-dir=\"\(sortedBy!.descending ? "desc" : "asc")\"" : ""
            s += "<th data-key=\"\(esc(c.key))\" data-type=\"\(c.numeric ? "num" : "text")\" title=\"\(esc(c.help))\"\(dir)>\(esc(c.title))</th>"
        }
        s += "</tr></thead><tbody>"
        for i in order ?? Array(layers.indices) {
            s += "<tr class=\"layer\" data-i=\"\(i)\">"
            for c in cols {
                guard let cell = c.cell(i, layers[i]) else { s += "<td class=\"\(c.numeric ? "num" : "")\">–</td>"; continue }
                let v: String = switch cell.value {
                case .number(let x): x.isFinite ? "\(x)" : (x > 0 ? "Infinity" : "-Infinity")
                case .text(let t): t
                }
                let bad = c.key == "bound" && cell.text == "VIOLATED" ? " bad" : ""
                s += "<td class=\"\(c.numeric ? "num" : "")\(bad)\" data-v=\"\(esc(v))\">\(esc(cell.text))</td>"
            }
            s += "</tr>"
        }
        s += "</tbody></table></div>"
        if sensitivities == nil { s += "<p class=\"caption\">No sensitivity pass ran, so the table has no sensitivity, predicted or measured columns.</p>" }
        return s
    }

    var sensitivityHTML: String {
        guard let list = sensitivities, !list.isEmpty else { return "" }
        var s = "<h2>Sensitivity methods</h2><table class=\"sortable\"><thead><tr><th>method</th><th>score</th>"
            + "<th data-type=\"num\" title=\"rank correlation with the measured distortion over (layer, format) pairs\">Spearman vs measured</th>"
            + "<th data-type=\"num\">pairs</th><th>notes</th></tr></thead><tbody>"
        for (k, m) in list.enumerated() {
            let rho = m.spearman.map { String(format: "%.3f", $0) }
            s += "<tr data-i=\"\(k)\"><td>\(esc(m.method))</td><td>\(esc(m.unit))</td>"
                + "<td class=\"num\"\(m.spearman.map { " data-v=\"\($0)\"" } ?? "")>\(rho ?? "–")</td>"
                + "<td class=\"num\"\(m.pairs.map { " data-v=\"\($0)\"" } ?? "")>\(m.pairs.map(String.init) ?? "–")</td>"
                + "<td>\(esc(m.notes.joined(separator: "; ")))</td></tr>"
        }
        s += "</tbody></table>"
        if let c = candidateFormats { s += "<p class=\"caption\">Candidate formats: \(esc(c.joined(separator: ", "))).</p>" }
        return s
    }

    var allocationHTML: String {
        guard let a = allocation else { return "" }
        var rows: [(String, String)] = [("budget", a.budget), ("objective", a.objective), ("solver", a.solver),
                                         ("predicted Σ distortion", Self.number(a.predicted)),
                                         ("average bits", String(format: "%.3f bits per weight", a.averageBits)),
                                         ("weight bytes", Self.bytes(a.bytes))]
        for (node, f) in a.pinned.sorted(by: { $0.key < $1.key }) { rows.append(("pinned", "\(node) = \(f)")) }
        for n in a.notes { rows.append(("note", n)) }
        return "<h2>Allocation</h2><dl class=\"head\">" + rows.map { "<dt>\(esc($0.0))</dt><dd>\(esc($0.1))</dd>" }.joined() + "</dl>"
    }

    /// A layer list and every layer's histogram, all hidden but the first layer that has a grid.
    var histogramHTML: String {
        guard !layers.isEmpty else { return noData("This report has no quantizable layers.") }
        let first = layers.firstIndex { $0.histogram?.grid != nil } ?? 0
        var s = "<label>layer <select id=\"layer-select\">"
        for (i, l) in layers.enumerated() {
            s += "<option value=\"\(i)\"\(i == first ? " selected" : "")>\(i): \(esc(l.node)) (\(esc(l.format)))</option>"
        }
        s += "</select></label> <span class=\"caption\">(or click a row of the table)</span>"
        for i in layers.indices {
            s += "<div class=\"hist\" data-i=\"\(i)\"\(i == first ? "" : " hidden")>\(histogramChart(i))</div>"
        }
        return s
    }
}
