import ArgumentParser
import IR
import ONNX

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Read a model into quantc's IR and write it back out as ONNX.",
        discussion: """
        Useful to check that a model survives quantc's importer, and to move \
        large weights into (or out of) an external-data file. Without \
        --external-data, weights stay inline unless the model passes 2 GiB.
        """
    )

    @Argument(help: "The ONNX model to read.")
    var model: String

    @Option(name: .shortAndLong, help: "Where to write the ONNX model.")
    var output: String

    @Flag(help: "Store initializers of at least --threshold bytes in OUTPUT.data beside the model.")
    var externalData = false

    @Flag(help: "Keep every tensor inline (fails for models over 2 GiB).")
    var inline = false

    @Option(help: "Smallest initializer, in bytes, moved to the external-data file.")
    var threshold = 1024

    func validate() throws {
        if externalData && inline { throw ValidationError("--external-data and --inline exclude each other") }
    }

    func run() throws {
        try reportingErrors {
            let m = try ONNXImporter.importModel(at: model)
            let mode: ExportOptions.ExternalData = externalData ? .always : inline ? .never : .automatic
            try ONNXExporter.write(m, to: output, options: ExportOptions(externalData: mode, threshold: threshold))
        }
    }
}
