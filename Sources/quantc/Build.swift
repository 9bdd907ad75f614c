import ArgumentParser
import Foundation
import QuantCKit

struct BuildCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "build",
        abstract: "Build what a recipe file describes (model, data, options, target, outputs, accuracy gate).",
        discussion: """
        The recipe is JSON; relative paths are relative to its folder (README, "Recipe files: quantc build"). \
        --print-deps lists every file the build reads, one per line, and builds nothing; \
        -MF FILE writes a Make depfile (outputs: inputs), atomically. A failed gate exits 3 and \
        writes nothing. Anything wrong inside the recipe is bad input (exit 65).
        """
    )

    @Argument(help: "The recipe (JSON).")
    var recipe: String

    @Flag(help: "Print every input file the build reads, one per line, and exit without building.")
    var printDeps = false

    @Option(name: .customLong("MF", withSingleDash: true), help: ArgumentHelp("Write a Make depfile listing the outputs and every input file.", valueName: "FILE"))
    var depfile: String?

    @Option(help: "Resolve relative output paths against this folder instead of the recipe's.")
    var outputDir: String?

    @Flag(name: .shortAndLong, help: "Print nothing on success.")
    var quiet = false

    @Flag(help: "Print the per-layer table after building.")
    var table = false

    func run() throws {
        try reportingErrors {
            let r = try Recipe.load(path: recipe, outputDirectory: outputDir)
            if printDeps || depfile != nil {
                let inputs = try r.inputFiles()
                if let depfile { try r.writeDepfile(depfile, inputs: inputs) }
                if printDeps {
                    print(inputs.joined(separator: "\n"))
                    return
                }
            }
            let result = try r.build { q in
                q.onWarning = warn
                q.showProgress = isatty(2) != 0 && !quiet
            }
            if table, let report = result.report { print(report.table, terminator: "") }
            if !quiet {
                print("built \(r.outputFiles.joined(separator: ", "))" + (result.gateSummary.map { "; \($0)" } ?? ""))
            }
        }
    }
}
