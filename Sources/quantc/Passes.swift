import ArgumentParser
import Foundation
import IR
import ONNX
import Passes

struct ListPasses: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "passes",
        abstract: "List the passes a pipeline may name, with their options."
    )

    func run() {
        for type in PassRegistry.all {
            print("\(type.name)\n    \(type.summary)")
            for o in type.options {
                print("    \(o.name)=<\(o.kind)>  (default \(o.defaultValue))  \(o.help)")
            }
        }
    }
}

struct Opt: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a pass pipeline on a model and write the result.",
        discussion: "Example: quantc opt model.onnx --pipeline dce -o out.onnx --print-ir-after dce"
    )

    @Argument(help: "The ONNX model to read.")
    var model: String

    @Option(help: "Passes to run, e.g. 'dce' (see `quantc passes`).")
    var pipeline: String

    @Option(name: .shortAndLong, help: "Where to write the transformed model (omit to only print or time).")
    var output: String?

    @OptionGroup var debug: PipelineDebugOptions

    func run() throws {
        let passes: [any Pass]
        do {
            passes = try PassRegistry.pipeline(pipeline)
        } catch {
            fail(error.description, .usage)
        }
        debug.checkPassNames()
        try reportingErrors {
            var m = try ONNXImporter.importModel(at: model)
            var manager = PassManager(passes: passes)
            debug.configure(&manager)
            do {
                try manager.run(on: &m)
            } catch {
                fail("\(model): \(error)", .badInput)
            }
            for s in manager.context.statistics { FileHandle.standardError.write(Data("\(s.pass): \(s.value) \(s.name)\n".utf8)) }
            debug.reportTimes(manager)
            if let output { try ONNXExporter.write(m, to: output) }
        }
    }
}

/// The IR-printing and timing flags shared by every command that runs a pipeline.
struct PipelineDebugOptions: ParsableArguments {
    @Option(help: "Print the IR to stderr after the named pass (repeatable).")
    var printIRAfter: [String] = []

    @Flag(help: "Print the IR to stderr after every pass.")
    var printIRAfterAll = false

    @Flag(help: "Print how long each pass took.")
    var timePasses = false

    /// Exits with a usage error naming an unknown pass in --print-ir-after.
    func checkPassNames() {
        for name in printIRAfter where PassRegistry.lookup(name) == nil {
            fail("--print-ir-after: unknown pass '\(name)'; the passes are: \(PassRegistry.all.map { $0.name }.joined(separator: ", "))", .usage)
        }
    }

    func configure(_ manager: inout PassManager) {
        manager.printIRAfter = Set(printIRAfter)
        manager.printIRAfterAll = printIRAfterAll
    }

    /// With --time-passes, the manager's timing report on stderr (after `heading`, if any).
    func reportTimes(_ manager: PassManager, heading: String = "") {
        guard timePasses else { return }
        FileHandle.standardError.write(Data((heading + manager.timingAndCountersReport).utf8))
    }
}
