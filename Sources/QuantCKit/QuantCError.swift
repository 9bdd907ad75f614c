import Foundation
import Interpreter
import IR
import ONNX
import Report

/// Why a quantization, recipe or build failed; ``kind`` says which exit status the CLI gives it.
public struct QuantCError: Error, CustomStringConvertible, Sendable {
    /// The classes of failure, one per documented exit status of `quantc`.
    public enum Kind: Sendable, Equatable {
        /// A wrong option, pass, or recipe key (exit 64).
        case usage
        /// A model, data file or recipe that cannot be read or does not fit (exit 65).
        case badInput
        /// An output that cannot be written (exit 73).
        case cannotWrite
        /// The accuracy gate failed: the measured drop is larger than allowed (exit 3).
        case gateFailed
        /// A bug in quantc (exit 70).
        case internalError
    }

    /// The class of failure.
    public var kind: Kind
    /// One line naming the file, node, tensor or option and what is wrong.
    public var message: String

    /// Creates an error of `kind` with a one-line `message`.
    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    /// The message (without `error:`; the CLI adds it).
    public var description: String { message }

    /// Classifies an error thrown by the importer, exporter, data sources or file output.
    public init(wrapping error: any Error) {
        switch error {
        case let e as QuantCError: self = e
        case let e as ImportError: self.init(.badInput, e.description)
        case let e as ExportError: self.init(.cannotWrite, e.description)
        case let e as SystemError: self.init(.cannotWrite, e.description)
        case let e as DataError: self.init(.badInput, e.description)
        case let e as NumpyFile.FormatError: self.init(.badInput, e.description)
        default: self.init(.internalError, "internal error: \(error)")
        }
    }

    /// Runs `body`, turning any error it throws into a ``QuantCError``.
    static func wrapping<T>(_ body: () throws -> T) throws(QuantCError) -> T {
        do { return try body() } catch { throw QuantCError(wrapping: error) }
    }
}
