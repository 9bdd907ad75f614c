import Foundation

/// The per-layer table's columns, shared by the terminal table and the HTML
/// page so both show (and sort by) the same things. Optional columns
/// (sensitivity methods, predicted/measured, the HNF bound, reasons) appear
/// only when some layer has a value for them.
public struct ReportColumn: Sendable {
    public enum Value: Sendable, Comparable {
        case text(String)
        case number(Double)

        public static func < (a: Value, b: Value) -> Bool {
            switch (a, b) {
            case (.number(let x), .number(let y)): x < y
            case (.text(let x), .text(let y)): x < y
            case (.number, .text): true
            case (.text, .number): false
            }
        }
    }

    /// What `--sort` takes, e.g. `bytes`, `act-sqnr`, `hessian-trace`.
    public let key: String
    public let title: String
    /// Longer explanation (the HTML header's tooltip).
    public let help: String
    public let numeric: Bool
    /// The cell shown and the value sorted by; nil when the layer has none.
    let cell: @Sendable (Int, QuantizationReport.Layer) -> (text: String, value: Value)?

    public func cell(_ index: Int, _ layer: QuantizationReport.Layer) -> (text: String, value: Value)? { cell(index, layer) }
}

extension QuantizationReport {
    /// The columns this report has data for, in display order.
    public var columns: [ReportColumn] {
        typealias C = ReportColumn
        func num(_ key: String, _ title: String, _ help: String, _ f: @escaping @Sendable (QuantizationReport.Layer) -> Double?,
                 _ show: @escaping @Sendable (Double) -> String) -> C {
            C(key: key, title: title, help: help, numeric: true) { _, l in f(l).map { (show($0), .number($0)) } }
        }
        func text(_ key: String, _ title: String, _ help: String, _ f: @escaping @Sendable (QuantizationReport.Layer) -> String?) -> C {
            C(key: key, title: title, help: help, numeric: false) { _, l in f(l).map { ($0, .text($0)) } }
        }
        var all: [C] = [
            C(key: "depth", title: "#", help: "position in graph order", numeric: true) { i, _ in ("\(i)", .number(Double(i))) },
            text("layer", "layer", "node name", { $0.node }),
            text("op", "op", "operator", { $0.op }),
            num("weights", "weights", "parameters in the weight tensor", { Double($0.weights) }, { "\(Int($0))" }),
            text("format", "format", "stored weight format", { $0.format }),
            text("why", "why", "why this format was chosen", { $0.reason }),
            num("bytes", "bytes", "stored bytes, scales and zero points included", { Double($0.bytes) }, { "\(Int($0))" }),
            num("bits", "bits/w", "stored bits per weight, scales included", { $0.bitsPerWeight }, { String(format: "%.2f", $0) }),
            num("w-sqnr", "w SQNR", "rounded weights against the float weights, dB", { $0.weightError.map(\.sqnr) }, Self.db),
            num("act-sqnr", "act SQNR", "layer output in the quantized model against the float model, dB",
                { $0.activationError.map(\.sqnr) }, Self.db),
            num("cosine", "act cosine", "cosine similarity of the layer output with the float model's",
                { $0.activationError.map(\.cosine) }, { String(format: "%.5f", $0) }),
            num("p99", "act P99 |err|", "99th percentile of the layer output's absolute error",
                { $0.activationError.map(\.p99) }, Self.number),
        ]
        for s in sensitivities ?? [] {
            let m = s.method
            // The `measured` method's column is the measured error beside the predicted one.
            all.append(num(m, m, "\(m) score of the chosen format (\(s.unit)); larger is worse", { $0.score(m) }, Self.number))
        }
        if let p = predictedBy {
            all.append(num("predicted", "predicted", "predicted distortion of the chosen format (\(p))", { $0.predictedError }, Self.number))
        }
        all.append(num("min-bits", "HNF min bits", "curvature lower bound on the bits this layer needs (HNF)",
                       { $0.metrics?["curvature.min-bits"] }, { String(format: "%.1f", $0) }))
        all.append(text("bound", "bound", "whether a curvature bound is violated by the measured error",
                        { l in l.metrics?["curvature.violated"].map { $0 != 0 ? "VIOLATED" : "ok" } }))
        let always: Set<String> = ["depth", "layer", "op", "weights", "format", "bytes", "bits"]
        return all.filter { c in always.contains(c.key) || layers.indices.contains { c.cell($0, layers[$0]) != nil } }
    }

    /// Layer indices in the order of `key` (ascending, or descending with `descending`); layers
    /// without a value go last; ties keep graph order. nil if no column has that key.
    public func order(by key: String, descending: Bool) -> [Int]? {
        guard let c = columns.first(where: { $0.key == key }) else { return nil }
        let values = layers.indices.map { c.cell($0, layers[$0])?.value }
        return layers.indices.sorted { a, b in
            switch (values[a], values[b]) {
            case (nil, nil): return a < b
            case (nil, _): return false
            case (_, nil): return true
            case (let x?, let y?):
                if x == y { return a < b }
                return descending ? y < x : x < y
            }
        }
    }
}
