import Foundation

/// The report's charts as inline SVG, drawn from the report alone (no scripts), so
/// the same report always gives the same bytes.
extension QuantizationReport {
    /// Size against task metric for every swept point: quantc's circles joined along their
    /// front, ONNX Runtime's squares, float a diamond; the chosen point ringed.
    var paretoChart: String {
        guard let points = pareto, !points.isEmpty else {
            return noData("No Pareto sweep in this report: run `quantc quantize --pareto` to measure the size/accuracy curve.")
        }
        let p = Plot(x: Axis(points.map(\.averageBits), log: false), y: Axis(points.map(\.metric), log: false),
                     xLabel: "stored bits per weight (scales included)", yLabel: points[0].metricName + " (%)")
        var body = ""
        // quantc's front: points no other quantc point beats with fewer bits and a higher metric.
        let ours = points.filter { $0.source == "quantc" }
        let front = ours.filter { a in !ours.contains { b in b.averageBits <= a.averageBits && b.metric > a.metric
                                                        || b.averageBits < a.averageBits && b.metric >= a.metric } }
            .sorted { ($0.averageBits, $0.metric) < ($1.averageBits, $1.metric) }
        if front.count > 1 {
            body += "<path class=\"front\" d=\"" + front.enumerated().map { "\($0.offset == 0 ? "M" : "L")\(px(p.sx($0.element.averageBits))) \(px(p.sy($0.element.metric)))" }.joined() + "\"/>"
        }
        for pt in points {
            let x = p.sx(pt.averageBits), y = p.sy(pt.metric)
            var tip = "\(pt.label): \(String(format: "%.2f", pt.averageBits)) bits/weight, \(pt.metricName) \(String(format: "%.2f", pt.metric))%"
            if let s = pt.sqnr { tip += String(format: ", SQNR %.1f dB", s) }
            if let b = pt.budget { tip += ", budget \(b)" }
            let mark: String
            switch pt.source {
            case "onnxruntime":
                mark = "<rect class=\"ort\" x=\"\(px(x - 5))\" y=\"\(px(y - 5))\" width=\"10\" height=\"10\"><title>\(esc(tip))</title></rect>"
            case "float":
                mark = "<path class=\"float\" d=\"M\(px(x)) \(px(y - 7))L\(px(x + 7)) \(px(y))L\(px(x)) \(px(y + 7))L\(px(x - 7)) \(px(y))Z\"><title>\(esc(tip))</title></path>"
            default:
                mark = "<circle class=\"ours\" cx=\"\(px(x))\" cy=\"\(px(y))\" r=\"5\"><title>\(esc(tip))</title></circle>"
            }
            body += mark
            if pt.chosen {
                body += "<circle class=\"chosen\" cx=\"\(px(x))\" cy=\"\(px(y))\" r=\"10\"/>"
                body += "<text class=\"note\" x=\"\(px(x + 12))\" y=\"\(px(y - 8))\">\(esc(pt.label)) (chosen)</text>"
            }
        }
        return p.svg(body, label: "Pareto front")
            + legend([("#0072B2", "dot", "quantc"), ("#E69F00", "square", "ONNX Runtime"), ("#888888", "diamond", "float"),
                      ("transparent", "ring", "chosen point")])
    }

    /// Stored bits per weight of each layer in graph order, coloured by format.
    var bitsChart: String {
        guard !layers.isEmpty else { return noData("This report has no quantizable layers.") }
        let n = layers.count
        var p = Plot(x: Axis([-0.5, Double(n) - 0.5], log: false), y: Axis(layers.map(\.bitsPerWeight) + [0], log: false, zero: true),
                     xLabel: "layer (graph order)", yLabel: "bits per weight")
        p.x.low = -0.5; p.x.high = Double(n) - 0.5
        p.xTickText = { String(Int($0)) }
        let w = max((p.sx(1) - p.sx(0)) * 0.8, 1)
        var body = ""
        for (i, l) in layers.enumerated() {
            let y = p.sy(l.bitsPerWeight), y0 = p.sy(0)
            body += "<rect class=\"bar\" data-i=\"\(i)\" x=\"\(px(p.sx(Double(i)) - w / 2))\" y=\"\(px(y))\" width=\"\(px(w))\" height=\"\(px(max(y0 - y, 0)))\" fill=\"\(Self.formatColor(l.format))\">"
                + "<title>\(esc("\(i) \(l.node): \(l.format), \(String(format: "%.2f", l.bitsPerWeight)) bits/weight"))</title></rect>"
        }
        let formats = Array(Set(layers.map(\.format))).sorted()
        return p.svg(body, label: "bits per layer") + legend(formats.map { (Self.formatColor($0), "square", $0) })
    }

    static func formatColor(_ format: String) -> String {
        if format.hasPrefix("int4") { return "#009E73" }
        if format.hasPrefix("int8") { return "#0072B2" }
        if format == "fp16" { return "#CC79A7" }
        return "#999999"
    }

    /// Each sensitivity method's score of the chosen format per layer, on a log axis.
    var sensitivityChart: String {
        let methods = (sensitivities ?? []).map(\.method)
        let series = methods.map { m in layers.indices.compactMap { i in layers[i].score(m).flatMap { $0 > 0 ? (i, $0) : nil } } }
        let all = series.flatMap { $0.map(\.1) }
        guard !all.isEmpty else {
            return noData(methods.isEmpty
                ? "No sensitivity pass ran for this report (layer-hessian, hessian-trace, measured, curvature, ...): nothing to plot."
                : "The sensitivity passes gave no positive score for the chosen formats: nothing to plot on a log scale.")
        }
        var p = Plot(x: Axis([-0.5, Double(layers.count) - 0.5], log: false), y: Axis(all, log: true),
                     xLabel: "layer (graph order)", yLabel: "score of the chosen format (log)")
        p.x.low = -0.5; p.x.high = Double(layers.count) - 0.5
        p.xTickText = { String(Int($0)) }
        var body = ""
        for (k, s) in series.enumerated() where !s.isEmpty {
            let c = seriesColor(k)
            body += "<path class=\"series\" stroke=\"\(c)\" d=\"" + s.enumerated().map { "\($0.offset == 0 ? "M" : "L")\(px(p.sx(Double($0.element.0)))) \(px(p.sy($0.element.1)))" }.joined() + "\"/>"
            for (i, v) in s {
                body += "<circle cx=\"\(px(p.sx(Double(i))))\" cy=\"\(px(p.sy(v)))\" r=\"3\" fill=\"\(c)\"><title>\(esc("\(layers[i].node) \(methods[k]): \(Self.number(v))"))</title></circle>"
            }
        }
        return p.svg(body, label: "sensitivity per layer")
            + legend(methods.enumerated().filter { !series[$0.offset].isEmpty }.map { (seriesColor($0.offset), "dot", $0.element) })
    }

    /// Every method's prediction against the `measured` distortion, over all (layer, format) pairs, log-log;
    /// the chosen formats filled, the other candidates hollow.
    var predictedChart: String {
        let methods = (sensitivities ?? []).map(\.method).filter { $0 != SensitivitySummary.measuredMethod }
        var series: [[(x: Double, y: Double, chosen: Bool, tip: String)]] = []
        for m in methods {
            var s: [(Double, Double, Bool, String)] = []
            for l in layers {
                guard let measured = l.sensitivity?[SensitivitySummary.measuredMethod], let pred = l.sensitivity?[m] else { continue }
                for f in pred.keys.sorted() {
                    if let y = pred[f], let x = measured[f], x > 0, y > 0 {
                        s.append((x, y, f == l.format, "\(l.node) \(f): measured \(Self.number(x)), \(m) \(Self.number(y))"))
                    }
                }
            }
            series.append(s)
        }
        let xs = series.flatMap { $0.map(\.x) }, ys = series.flatMap { $0.map(\.y) }
        guard !xs.isEmpty else {
            return noData(sensitivities?.contains { $0.method == SensitivitySummary.measuredMethod } == true
                ? "No method other than `measured` scored the same layers and formats: nothing to compare."
                : "No `measured` sensitivity in this report: predicted distortions have nothing to be compared with.")
        }
        let p = Plot(x: Axis(xs, log: true), y: Axis(ys, log: true), xLabel: "measured distortion (log)", yLabel: "predicted score (log)")
        var body = ""
        for (k, s) in series.enumerated() {
            let c = seriesColor(k)
            for pt in s {
                body += "<circle cx=\"\(px(p.sx(pt.x)))\" cy=\"\(px(p.sy(pt.y)))\" r=\"\(pt.chosen ? 4 : 3)\" "
                    + (pt.chosen ? "fill=\"\(c)\"" : "fill=\"none\" stroke=\"\(c)\"") + "><title>\(esc(pt.tip))</title></circle>"
            }
        }
        let rho = Dictionary((sensitivities ?? []).map { ($0.method, $0.spearman) }, uniquingKeysWith: { a, _ in a })
        return p.svg(body, label: "predicted against measured")
            + legend(methods.enumerated().filter { !series[$0.offset].isEmpty }.map { k, m in
                (seriesColor(k), "dot", m + ((rho[m] ?? nil).map { String(format: " (Spearman %.3f)", $0) } ?? ""))
            } + [("transparent", "ring", "hollow: other candidate formats")])
    }

    /// One histogram per layer (the page shows the selected one), with the grid lines of the
    /// chosen format's median scale.
    func histogramChart(_ i: Int) -> String {
        let l = layers[i]
        guard let h = l.histogram, h.counts.reduce(0, +) > 0 else { return noData("\(l.node): no weight histogram recorded.") }
        var p = Plot(x: Axis([h.low, h.high], log: false), y: Axis(h.counts.map(Double.init), log: false, zero: true),
                     xLabel: "weight value", yLabel: "weights per bin")
        p.x.low = h.low; p.x.high = h.high > h.low ? h.high : h.low + 1
        let bw = (p.x.high - p.x.low) / Double(h.counts.count)
        var bars = ""
        for (b, c) in h.counts.enumerated() where c > 0 {
            let x0 = p.sx(p.x.low + Double(b) * bw), x1 = p.sx(p.x.low + Double(b + 1) * bw)
            bars += "M\(px(x0)) \(px(p.sy(0)))V\(px(p.sy(Double(c))))H\(px(x1))V\(px(p.sy(0)))Z"
        }
        var body = "<path class=\"hbar\" d=\"\(bars)\"/>"
        var caption: String
        if let g = h.grid {
            var lines = ""
            var drawn = 0
            if g.qmax >= g.qmin {
                for q in g.qmin...g.qmax {
                    let v = Double(q - g.zeroPoint) * g.scale
                    guard v >= p.x.low - 1e-12, v <= p.x.high + 1e-12 else { continue }
                    lines += "M\(px(p.sx(v))) \(px(p.top))V\(px(p.sy(0)))"
                    drawn += 1
                }
            }
            body += "<path class=\"gridq\" d=\"\(lines)\"/>"
            caption = "\(l.format): \(drawn) levels of \(g.shown): scale \(Self.number(g.scale)), zero point \(g.zeroPoint), "
                + "integers \(g.qmin)…\(g.qmax)"
            if g.scales > 1 { caption += "; the layer's \(g.scales) scales span \(Self.number(g.scaleMin))…\(Self.number(g.scaleMax))" }
        } else {
            caption = "\(l.format): no integer grid (float format)"
        }
        return p.svg(body, label: "weight histogram of \(l.node)") + "<p class=\"caption\">\(esc(caption))</p>"
    }
}
