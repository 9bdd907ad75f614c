import ArgumentParser
import Foundation
import IR
import Interpreter
import ONNX
import Report

@main
struct QuantC: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quantc",
        abstract: "Quantize ONNX models for AMD GCN GPUs and explain the precision of every layer.",
        discussion: """
        Exit status: 0 success, 3 no model swept by `quantize --max-drop` is within the allowed \
        drop (the best one is written), 64 usage error, 65 bad input (model or data), \
        73 an output cannot be written, 70 internal error.
        """,
        version: QuantCVersion.string,
        subcommands: [QuantizeCommand.self, Compile.self, ReportCommand.self, Inspect.self, Run.self, Export.self, Opt.self, ListPasses.self, Bench.self]
    )
}

enum QuantCVersion {
    static let string = QuantCInfo.version
}

/// Exit statuses, from sysexits(3) so scripts can tell failures apart.
enum ExitStatus: Int32 {
    case success = 0
    /// `quantize --max-drop`: no swept model is within the allowed metric drop.
    case dropNotMet = 3
    case usage = 64
    case badInput = 65
    case internalError = 70
    case cannotWrite = 73
}

/// Runs a subcommand body, turning quantc's errors into one `error:` line on
/// stderr and the matching exit status.
func reportingErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let e as ImportError {
        fail(e.description, .badInput)
    } catch let e as ExportError {
        fail(e.description, .cannotWrite)
    } catch let e as SystemError {
        fail(e.description, .cannotWrite)
    } catch let e as DataError {
        fail(e.description, .badInput)
    } catch let e as NumpyFile.FormatError {
        fail(e.description, .badInput)
    } catch let e as ExitCode {
        throw e
    } catch {
        fail("internal error: \(error)", .internalError)
    }
}

func fail(_ message: String, _ status: ExitStatus) -> Never {
    FileHandle.standardError.write(Data("error: \(message)\n".utf8))
    exit(status.rawValue)
}
