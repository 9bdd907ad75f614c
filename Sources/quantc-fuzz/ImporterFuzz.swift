#if canImport(Glibc)
import Glibc
#endif
import IR
import ONNX

/// The importer fuzz target (issue 8 item 7).
///
/// Built by `tools/fuzz.sh` with `-sanitize=fuzzer,address -DQUANTC_FUZZ`, this file is a
/// libFuzzer target: `LLVMFuzzerTestOneInput` (run through `LLVMFuzzerRunDriver`) feeds each input to the importer as a model
/// file, and exports and prints what imports. Any outcome but a model or an `ImportError`
/// (a trap, an ASan report, a stack overflow, a timeout) is a bug. Without `QUANTC_FUZZ`
/// (a plain `swift build`) it is a replay tool: `quantc-fuzz FILE...` runs the same steps
/// on each file and prints what happened.
enum ImporterFuzz {
    /// A private folder for the model file: external data may only be looked up beside it.
    nonisolated(unsafe) static var folder: String = {
        let tmp = getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp"
        var template = Array("\(tmp)/quantc-fuzz-XXXXXX".utf8CString)
        guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else { fatalError("mkdtemp failed") }
        atexit { ImporterFuzz.removeFolder() }  // libFuzzer and the replay tool both end in exit()
        return template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }()

    static func removeFolder() {
        unlink(folder + "/model.onnx")
        rmdir(folder)
    }

    /// Imports `bytes` as a model; returns a one-line outcome.
    static func run(_ bytes: UnsafeRawBufferPointer) -> String {
        let path = folder + "/model.onnx"
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { fatalError("cannot write \(path)") }
        var p = bytes.baseAddress, left = bytes.count
        while left > 0 {
            let n = write(fd, p, left)
            guard n > 0 else { fatalError("cannot write \(path)") }
            p = p! + n
            left -= n
        }
        close(fd)
        do {
            let model = try ONNXImporter.importModel(at: path)
            let bytes = ONNXExporter.serialize(model)
            let text = Printer.print(model)
            return "imported: \(model.graph.nodes.count) nodes, \(bytes.count) bytes exported, \(text.utf8.count) bytes of IR"
        } catch {
            return "error: \(error)"
        }
    }
}

#if QUANTC_FUZZ
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    _ = ImporterFuzz.run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

/// libFuzzer's entry for programs with their own main (SwiftPM renames an executable's main,
/// so libFuzzer's own main is never linked).
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<Int32>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32) -> Int32

@main
struct FuzzImporter {
    static func main() {
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv, fuzzOneInput))
    }
}
#else
@main
struct ReplayFuzzInputs {
    static func main() {
        let files = CommandLine.arguments.dropFirst()
        guard !files.isEmpty else {
            print("usage: quantc-fuzz FILE...  (replays fuzz inputs through the importer; tools/fuzz.sh fuzzes)")
            exit(64)
        }
        for f in files {
            guard let m = try? MappedFile(path: f) else { print("\(f): cannot read"); continue }
            print("\(f): \(ImporterFuzz.run(m.buffer.bytes))")
        }
        exit(0)
    }
}
#endif
