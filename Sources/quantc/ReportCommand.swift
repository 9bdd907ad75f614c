import ArgumentParser
import Foundation
import IR
import Report
import QuantCKit

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Print a quantization report's per-layer table; write it as one self-contained HTML page.",
        discussion: """
        REPORT is the report.json `quantc quantize` wrote. The HTML page has no external \
        resources: the table (sortable by clicking a header), the Pareto front, bits per layer, \
        sensitivity per layer, predicted against measured distortion and a selected layer's \
        weight histogram with its quantization grid, drawn as inline SVG.
        """
    )

    @Argument(help: "The report.json to read.")
    var report: String

    @Option(help: "Write the report as one self-contained HTML file here.")
    var html: String?

    @Option(help: "Order the table's rows by this column (e.g. bytes, act-sqnr, a sensitivity method); add :desc for descending.")
    var sort: String?

    @Flag(name: .shortAndLong, help: "Do not print the table.")
    var quiet = false

    func run() throws {
        if let html { do { try QuantizationOutputs.checkWritable(html) } catch { fail(error.message, ExitStatus(error.kind)) } }
        let r: QuantizationReport
        do { r = try QuantizationReport.load(path: report) } catch { fail(error.description, .badInput) }
        var order: [Int]?
        var sortedBy: (key: String, descending: Bool)?
        if let sort {
            let descending = sort.hasSuffix(":desc")
            let key = String(sort.split(separator: ":", maxSplits: 1).first ?? "")
            guard sort.firstIndex(of: ":") == nil || descending || sort.hasSuffix(":asc"),
                  let o = r.order(by: key, descending: descending) else {
                fail("--sort '\(sort)': \(report) has no such column; its columns are: "
                     + r.columns.map(\.key).joined(separator: ", ") + " (add :desc for descending)", .usage)
            }
            order = o
            sortedBy = (key, descending)
        }
        if !quiet { print(r.table(order: order), terminator: "") }
        if let html {
            try reportingErrors {
                let file = try AtomicFile(path: html)
                try file.write(Array(r.html(order: order, sortedBy: sortedBy).utf8))
                try file.commit()
            }
        }
    }
}
