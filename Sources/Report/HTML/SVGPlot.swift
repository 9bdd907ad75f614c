import Foundation

/// Escapes text for HTML element content and attribute values (node names come from model files).
func esc(_ s: String) -> String {
    var out = ""
    out.reserveCapacity(s.utf8.count)
    for c in s.unicodeScalars {
        switch c {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&#39;"
        default: out.unicodeScalars.append(c)
        }
    }
    return out
}

/// A coordinate with one decimal: enough for pixels, and the same text on every run.
func px(_ v: Double) -> String { String(format: "%.1f", v) }

/// A tick label: plain for moderate magnitudes, exponent form otherwise.
func tickLabel(_ v: Double) -> String {
    if v == 0 { return "0" }
    let a = abs(v)
    if a >= 1e5 || a < 1e-3 { return String(format: "%.0e", v) }
    return String(format: "%g", (v * 1e6).rounded() / 1e6)
}

/// One axis of a chart, linear or base-10 logarithmic, over a padded data range.
struct Axis {
    var low: Double
    var high: Double
    var log: Bool

    /// An axis covering `values` (positive ones only when `log`); `zero` includes 0 on a linear axis.
    init(_ values: [Double], log: Bool, zero: Bool = false) {
        self.log = log
        var v = values.filter { $0.isFinite && (!log || $0 > 0) }
        if zero && !log { v.append(0) }
        var lo = v.min() ?? (log ? 1 : 0), hi = v.max() ?? (log ? 10 : 1)
        if log {
            lo = Foundation.log10(lo); hi = Foundation.log10(hi)
            if hi - lo < 1e-9 { lo -= 0.5; hi += 0.5 }
            let pad = (hi - lo) * 0.05
            low = lo - pad; high = hi + pad
        } else {
            if hi - lo < 1e-12 { lo -= abs(lo) * 0.1 + 0.5; hi += abs(hi) * 0.1 + 0.5 }
            let pad = (hi - lo) * 0.05
            low = (zero && lo == 0) ? 0 : lo - pad
            high = hi + pad
        }
    }

    /// Position of `v` along the axis, 0 at `low` and 1 at `high`.
    func fraction(_ v: Double) -> Double {
        let t = log ? Foundation.log10(max(v, 1e-300)) : v
        return (t - low) / (high - low)
    }

    /// Values for ticks: 1-2-5 steps on linear axes, powers of ten (with 2 and 5 when the axis spans
    /// under two decades) on log axes.
    var ticks: [Double] {
        if log {
            let a = Int(floor(low)), b = Int(ceil(high))
            let mult: [Double] = b - a <= 2 ? [1, 2, 5] : [1]
            var t: [Double] = []
            for e in a...b { for m in mult { let v = m * pow(10, Double(e)); let f = Foundation.log10(v); if f >= low && f <= high { t.append(v) } } }
            return t
        }
        let raw = (high - low) / 5
        let mag = pow(10, floor(Foundation.log10(raw)))
        let step = [1.0, 2, 5, 10].map { $0 * mag }.first { $0 >= raw } ?? 10 * mag
        var t: [Double] = []
        var v = ceil(low / step) * step
        while v <= high + step * 1e-9 { t.append(abs(v) < step * 1e-9 ? 0 : v); v += step }
        return t
    }
}

/// A chart's frame: size, margins, axes; maps data to SVG coordinates and draws axes and labels.
struct Plot {
    var width = 560.0, height = 300.0
    var left = 64.0, right = 14.0, top = 14.0, bottom = 44.0
    var x: Axis
    var y: Axis
    var xLabel: String
    var yLabel: String
    /// Tick labels of the x axis by value, e.g. layer indices; nil: numeric labels.
    var xTickText: ((Double) -> String)?

    func sx(_ v: Double) -> Double { left + x.fraction(v) * (width - left - right) }
    func sy(_ v: Double) -> Double { height - bottom - y.fraction(v) * (height - top - bottom) }

    var frame: String {
        var s = ""
        let x0 = left, x1 = width - right, y0 = height - bottom, y1 = top
        for t in y.ticks {
            let yy = sy(t)
            s += "<line class=\"grid\" x1=\"\(px(x0))\" y1=\"\(px(yy))\" x2=\"\(px(x1))\" y2=\"\(px(yy))\"/>"
            s += "<text class=\"tick\" x=\"\(px(x0 - 4))\" y=\"\(px(yy + 3))\" text-anchor=\"end\">\(esc(tickLabel(t)))</text>"
        }
        for t in x.ticks {
            let xx = sx(t)
            s += "<line class=\"grid\" x1=\"\(px(xx))\" y1=\"\(px(y0))\" x2=\"\(px(xx))\" y2=\"\(px(y1))\"/>"
            s += "<text class=\"tick\" x=\"\(px(xx))\" y=\"\(px(y0 + 14))\" text-anchor=\"middle\">\(esc(xTickText?(t) ?? tickLabel(t)))</text>"
        }
        s += "<path class=\"axis\" d=\"M\(px(x0)) \(px(y1))V\(px(y0))H\(px(x1))\"/>"
        s += "<text class=\"label\" x=\"\(px((x0 + x1) / 2))\" y=\"\(px(height - 6))\" text-anchor=\"middle\">\(esc(xLabel))</text>"
        s += "<text class=\"label\" transform=\"translate(14 \(px((y0 + y1) / 2))) rotate(-90)\" text-anchor=\"middle\">\(esc(yLabel))</text>"
        return s
    }

    func svg(_ body: String, label: String) -> String {
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" width=\"\(Int(width))\" height=\"\(Int(height))\" role=\"img\" aria-label=\"\(esc(label))\">"
            + frame + body + "</svg>"
    }
}

/// A legend row of coloured marks and names, drawn in HTML under a chart.
func legend(_ items: [(color: String, shape: String, text: String)]) -> String {
    "<div class=\"legend\">" + items.map { "<span><i class=\"mark \($0.shape)\" style=\"background:\($0.color)\"></i>\(esc($0.text))</span>" }.joined() + "</div>"
}

/// What a chart shows when its data is absent: a sentence, not empty axes.
func noData(_ message: String) -> String { "<p class=\"nodata\">\(esc(message))</p>" }

/// Distinct series colours (colour-blind-safe Okabe–Ito palette), by index.
func seriesColor(_ i: Int) -> String {
    ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#F0E442", "#000000"][i % 8]
}
