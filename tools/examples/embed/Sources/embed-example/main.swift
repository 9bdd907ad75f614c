// Quantizes the bundled digits MLP to INT8 through QuantCKit, the code `quantc quantize` runs,
// and checks the result: usage `embed-example REPO_ROOT OUT_FOLDER`.
import Foundation
import QuantCKit

let args = CommandLine.arguments
guard args.count == 3 else {
    FileHandle.standardError.write(Data("usage: embed-example REPO_ROOT OUT_FOLDER\n".utf8))
    exit(64)
}
let root = args[1], out = args[2]

do {
    // The pipeline built in code, not parsed from text: the default INT8 pipeline's passes.
    let passes = try PassRegistry.pipeline(QuantizeOptions.defaultPipeline(method: "percentile", weights: "int8"))
    var options = QuantizeOptions()
    options.calibration = "\(root)/models/digits/calib_x.npy"
    options.test = "\(root)/models/digits/test_x.npy"
    options.labels = "\(root)/models/digits/test_y.npy"
    options.cacheDirectory = nil
    var quantizer = Quantizer(model: "\(root)/models/digits_mlp.onnx", options: options, passes: passes)
    quantizer.onWarning = { FileHandle.standardError.write(Data("warning: \($0)\n".utf8)) }
    let outcome = try quantizer.run()
    let report = try outcome.write(QuantizationOutputs(model: "\(out)/digits_mlp.int8.onnx"))

    // The written model reads back with QDQ nodes, and the report holds every layer.
    let written = try ONNXImporter.importModel(at: "\(out)/digits_mlp.int8.onnx")
    let qdq = written.graph.nodes.filter { $0.opType == "QuantizeLinear" || $0.opType == "DequantizeLinear" }.count
    guard qdq > 0, report.layers.count == 3, let accuracy = outcome.metric(.accuracy) else {
        FileHandle.standardError.write(Data("embed-example: unexpected result (\(qdq) Q/DQ nodes, \(report.layers.count) layers)\n".utf8))
        exit(1)
    }
    print(String(format: "embed-example: %d layers, %d Q/DQ nodes, accuracy %.2f%% (float %.2f%%), wrote %@",
                 report.layers.count, qdq, accuracy.quantized, accuracy.float, "\(out)/digits_mlp.int8.onnx"))
} catch let e as QuantCError {
    FileHandle.standardError.write(Data("error: \(e.message)\n".utf8))
    exit(1)
} catch {
    FileHandle.standardError.write(Data("error: \(error)\n".utf8))
    exit(1)
}
