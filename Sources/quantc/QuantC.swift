import ArgumentParser
import Foundation
import IR
import Interpreter
import ONNX
import Report
import QuantCKit

@main
struct QuantC: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quantc",
        abstract: "Quantize ONNX models for AMD GCN GPUs and explain the precision of every layer.",
        discussion: """
        Exit status: 0 success, 3 accuracy gate failed (no model swept by `quantize --max-drop` is \
        within the allowed drop: the best one is written; or a `build` recipe's gate: nothing is \
        written), 64 usage error, 65 bad input (model, data or recipe), \
        69 a needed tool or device is missing (clang-15 for gcn-check, an OpenCL platform or device for exec and devices), \
        73 an output cannot be written, 70 internal error.
        """,
        version: QuantCVersion.string,
        subcommands: [QuantizeCommand.self, Compile.self, BuildCommand.self, ReportCommand.self, Inspect.self, Run.self, Export.self, Opt.self,
                      ListPasses.self, Bench.self, GCNCheck.self, Exec.self, DevicesCommand.self]
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
    /// A tool quantc runs (clang-15) is not installed, or no OpenCL platform or
    /// device to run an artifact on (EX_UNAVAILABLE).
    case unavailable = 69
    case cannotWrite = 73
}

/// Runs a subcommand body, turning quantc's errors into one `error:` line on
/// stderr and the matching exit status.
func reportingErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let e as QuantCError {
        fail(e.message, ExitStatus(e.kind))
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

extension ExitStatus {
    /// The documented exit status of a library error.
    init(_ kind: QuantCError.Kind) {
        switch kind {
        case .usage: self = .usage
        case .badInput: self = .badInput
        case .cannotWrite: self = .cannotWrite
        case .gateFailed: self = .dropNotMet
        case .internalError: self = .internalError
        }
    }
}

func fail(_ message: String, _ status: ExitStatus) -> Never {
    FileHandle.standardError.write(Data("error: \(message)\n".utf8))
    exit(status.rawValue)
}
