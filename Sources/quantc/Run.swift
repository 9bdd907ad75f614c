import ArgumentParser
import Foundation
import IR
import Interpreter
import ONNX

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a model on quantc's CPU interpreter and write its outputs as .npy files.",
        discussion: """
        Inputs are .npy files or ONNX TensorProto .pb files, given per input name; --input-dir takes an \
        ONNX test data set folder (input_0.pb, input_1.pb, ... in the order of the model's inputs). \
        Unsupported operators and inputs of the wrong type or shape are reported before any compute.
        """
    )

    @Argument(help: "The ONNX model to run.")
    var model: String

    @Option(name: .customLong("input"), help: "NAME=FILE: a model input from a .npy or .pb file; or FILE.npz holding arrays named after the inputs (repeatable).")
    var inputs: [String] = []

    @Option(help: "An ONNX test data set folder holding input_N.pb files.")
    var inputDir: String?

    @Flag(help: "Feed deterministic random inputs (symbolic dimensions set to 1) for a smoke run.")
    var randomInputs = false

    @Option(help: "Folder for the outputs, one NAME.npy each (NAME.pb for types NumPy lacks; created if missing).")
    var outputDir: String?

    @Option(help: "Threads for kernels (default: all cores).")
    var threads: Int?

    @Flag(help: "Print the time spent per operator type.")
    var profile = false

    func run() throws {
        try reportingErrors {
            let m = try ONNXImporter.importModel(at: model)
            let interpreter: Interpreter
            do {
                interpreter = try Interpreter(model: m, threads: threads ?? Parallel.defaultThreads)
            } catch {
                fail("\(model): \(error)", .badInput)
            }
            let feeds = try loadInputs(for: interpreter)
            let start = Date()
            let outputs: [String: RTensor]
            // Time between consecutive produced values, charged to the producing op.
            var perOp: [String: (seconds: Double, count: Int)] = [:]
            var last = Date()
            var lastNode = ""
            do {
                outputs = try interpreter.run(inputs: feeds, observer: profile ? { _, node, _ in
                    let now = Date()
                    let key = node.opType
                    if lastNode != node.name + key + node.outputs.joined() {
                        perOp[key, default: (0, 0)].seconds += now.timeIntervalSince(last)
                        perOp[key, default: (0, 0)].count += 1
                        lastNode = node.name + key + node.outputs.joined()
                    }
                    last = now
                } : nil, observing: .fusedNodes)
            } catch {
                fail("\(model): \(error)", .badInput)
            }
            let seconds = Date().timeIntervalSince(start)
            if profile {
                for (op, v) in perOp.sorted(by: { $0.value.seconds > $1.value.seconds }) {
                    FileHandle.standardError.write(Data(String(format: "%9.2f ms %5.1f%%  %4d × %@\n", v.seconds * 1000,
                                                               100 * v.seconds / max(seconds, 1e-9), v.count, op).utf8))
                }
            }
            if let outputDir { try write(outputs, to: outputDir) }
            for o in m.graph.outputs {
                guard let t = outputs[o.name] else { continue }
                let values = t.strings.map { $0.prefix(4).map { "\"\($0)\"" } } ?? t.floatArray().prefix(6).map { "\($0)" }
                print("\(o.name): \(t.typeDescription) [\(values.joined(separator: ", "))\(t.count > values.count ? ", ..." : "")]")
            }
            FileHandle.standardError.write(Data(String(format: "ran in %.3f s, peak intermediate memory %@\n",
                                                       seconds, bytes(interpreter.peakActivationBytes)).utf8))
        }
    }

    func loadInputs(for interpreter: Interpreter) throws -> [String: RTensor] {
        var feeds: [String: RTensor] = [:]
        let declared = interpreter.inputs
        if let inputDir {
            let files = (try? FileManager.default.contentsOfDirectory(atPath: inputDir)) ?? []
            let pbs = files.filter { $0.hasPrefix("input_") && $0.hasSuffix(".pb") }
                .sorted { Int($0.dropFirst(6).dropLast(3)) ?? 0 < Int($1.dropFirst(6).dropLast(3)) ?? 0 }
            guard !pbs.isEmpty || declared.isEmpty else { fail("\(inputDir): no input_N.pb files", .badInput) }
            for (v, file) in zip(declared, pbs) {
                feeds[v.name] = RTensor(try ONNXImporter.importTensor(at: "\(inputDir)/\(file)"))
            }
        }
        feeds.merge(try InputSpecs.load(inputs, expected: "NAME=FILE", read: readTensor)) { _, given in given }
        if randomInputs {
            var rng = SplitMix64(seed: 0x5EED)
            for v in declared where feeds[v.name] == nil {
                guard let t = v.type?.tensorType else { fail("input '\(v.name)' has no tensor type to generate", .badInput) }
                feeds[v.name] = try RandomTensor.make(t, name: v.name, rng: &rng)
            }
        }
        return feeds
    }

    func readTensor(_ path: String) throws -> Tensor {
        if path.hasSuffix(".pb") { return try ONNXImporter.importTensor(at: path) }
        do {
            return try NumpyFile.read(path)
        } catch {
            fail(error.description, .badInput)
        }
    }

    func write(_ outputs: [String: RTensor], to dir: String) throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for (name, t) in outputs.sorted(by: { $0.key < $1.key }) {
            let safe = String(name.map { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" || $0 == "." ? $0 : "_" })
            // Types NumPy has no dtype for (bfloat16, int4, float8, ...) are written as ONNX TensorProto files.
            let tensor = t.irTensor(name: name)
            let npy = NumpyFile.encode(tensor)
            let file = try AtomicFile(path: "\(dir)/\(safe).\(npy == nil ? "pb" : "npy")")
            let bytes = npy ?? ONNXExporter.serialize(tensor: tensor)
            try file.write(bytes)
            try file.commit()
        }
    }
}
