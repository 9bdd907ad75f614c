import ArgumentParser
import Artifact
import GCN
import Codegen
import Foundation
import IR
import ONNX

/// `quantc compile`: quantize (the `quantize` flow, into a temporary folder),
/// then lower the QDQ model to an artifact directory for a GPU target.
struct Compile: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Quantize a model and compile it to an artifact for a GPU (kernels.cl, plan.json, weights.bin, manifest.json).",
        discussion: """
        Runs the same pipeline as `quantc quantize` (every option of quantize after the ones below is \
        passed to it, e.g. --weights int4 or --budget 4.5bits), then writes OUT: model.onnx (the QDQ \
        graph), kernels.cl, plan.json, weights.bin, report.json and manifest.json, atomically. With \
        --qdq, MODEL is already a QDQ model and is compiled as it is. Valid targets: \
        \(Codegen.targets.joined(separator: ", ")).
        """
    )

    @Argument(help: "The ONNX model (float, or a QDQ model with --qdq).")
    var model: String

    @Option(help: "Calibration samples (as for quantize).")
    var calibration: String?

    @Option(help: "GPU target: \(Codegen.targets.joined(separator: ", ")).")
    var target = "gfx803"

    @Option(name: .shortAndLong, help: "The artifact directory to write (e.g. model.qc/).")
    var output: String

    @Flag(help: "MODEL is already quantized (a QDQ model): skip quantization.")
    var qdq = false

    @Option(help: "Fix a graph input's shape, NAME=D0xD1x… (repeatable); a symbolic leading dimension defaults to 1.")
    var inputShape: [String] = []

    @Flag(help: "Do not compile the kernels with clang-15 for gfx803: the report's times then assume 4 waves per SIMD and it has no registers.")
    var noKernelAnalysis = false

    @Option(name: .customLong("kernel-config"), help: "TEMPLATE:NAME=V[,NAME=V…]: pin tuning parameters of every launch of a template, e.g. gemm:LDS_K=16 (the tuner chooses among the candidates that agree; repeatable).")
    var kernelConfigs: [String] = []

    @Flag(help: "Keep each kernel's default tuning configuration instead of compiling the candidates for gfx803 and keeping the fastest by the roofline model (report.json → gcn.launches[].candidates lists them).")
    var noTune = false

    @Argument(parsing: .allUnrecognized, help: "Options passed to the quantize flow.")
    var quantizeOptions: [String] = []

    func validate() throws {
        guard Codegen.targets.contains(target) else {
            throw ValidationError("unknown --target '\(target)'; valid targets: \(Codegen.targets.joined(separator: ", "))")
        }
        if qdq, calibration != nil || !quantizeOptions.isEmpty {
            throw ValidationError("--qdq compiles MODEL as it is: quantization options (--calibration, \(quantizeOptions.joined(separator: " "))) do not apply")
        }
        _ = try shapes()
        _ = try pinnedParameters()
    }

    func pinnedParameters() throws -> [TemplateKind: [String: Int]] {
        do { return try Codegen.parsePins(kernelConfigs) } catch { throw ValidationError("\(error)") }
    }

    func shapes() throws -> [String: [Int]] {
        var out: [String: [Int]] = [:]
        for s in inputShape {
            let parts = s.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty else { throw ValidationError("--input-shape '\(s)' is not NAME=D0xD1x…") }
            let dims = parts[1].split(separator: "x").map { Int($0) }
            guard !dims.isEmpty, dims.allSatisfy({ ($0 ?? 0) > 0 }) else {
                throw ValidationError("--input-shape '\(s)': dimensions must be positive integers separated by x")
            }
            out[parts[0]] = dims.map { $0! }
        }
        return out
    }

    func run() throws {
        let shapes = try shapes()
        let pins = try pinnedParameters()
        try reportingErrors {
            let source = try readBytes(model)
            var qdqPath = model
            var pipeline = "none (--qdq: the model was already quantized)"
            var quantizationReport: [String: Any]?
            var temporary: String?
            defer { if let t = temporary { try? FileManager.default.removeItem(atPath: t) } }
            if !qdq {
                var template = Array("\(NSTemporaryDirectory())/quantc-compile-XXXXXX".utf8CString)
                guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else {
                    fail("cannot create a temporary folder", .cannotWrite)
                }
                let t = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
                temporary = t
                qdqPath = "\(t)/model.onnx"
                var args = [model, "-o", qdqPath, "-q"] + quantizeOptions
                if let calibration { args += ["--calibration", calibration] }
                // An option quantize does not know is the caller's mistake: a usage error.
                var quantize: ParsableCommand
                do { quantize = try QuantizeCommand.parseAsRoot(args) } catch {
                    fail("compile: \(QuantizeCommand.message(for: error))", .usage)
                }
                try quantize.run()
                let reportBytes = try readBytes("\(t)/model.report.json")
                if let object = try? JSONSerialization.jsonObject(with: Data(reportBytes)) as? [String: Any] {
                    quantizationReport = object
                    if let p = object["pipeline"] as? String { pipeline = p }
                }
            }
            let qdqBytes = qdqPath == model ? source : try readBytes(qdqPath)
            let m = try ONNXImporter.importModel(at: qdqPath)
            var compiled: CompiledModel
            do {
                compiled = try Codegen.compile(m, target: target, inputShapes: shapes, quantcVersion: QuantCVersion.string,
                                               kernelCompiler: noKernelAnalysis ? nil : KernelCompiler(), tune: !noTune, pins: pins)
            } catch let e as CodegenError where { if case .badKernelConfig = e { return true }; return false }() {
                fail("\(model): \(e)", .usage)
            } catch CodegenError.gcn(let message) {
                fail("\(model): compiling the kernels for gfx803: \(message) (--no-kernel-analysis skips this)", .unavailable)
            } catch {
                fail("\(model): \(error)", .badInput)
            }
            compiled.report.pipeline = pipeline
            let files: [String: [UInt8]] = [
                ArtifactFile.model: qdqBytes,
                ArtifactFile.kernels: Array(compiled.kernels.utf8),
                ArtifactFile.plan: Codegen.json(compiled.plan),
                ArtifactFile.weights: compiled.weights,
                ArtifactFile.report: Self.report(quantization: quantizationReport, gcn: compiled.report),
            ]
            let manifest = Manifest(quantcVersion: QuantCVersion.string, sourceModelSHA256: SHA256.hex(source), pipeline: pipeline,
                                    target: target, files: [:],
                                    sourceDateEpoch: ProcessInfo.processInfo.environment["SOURCE_DATE_EPOCH"].flatMap { Int($0) })
            do {
                try ArtifactWriter.write(to: output, files: files, manifest: manifest)
            } catch {
                fail("\(error)", .cannotWrite)
            }
            let p = compiled.plan
            print("\(output): \(p.launches.count) launches (\(compiled.report.kernels) kernels, \(p.hostNodes.count) on the host), "
                  + "arena \(p.arena.peakBytes) bytes (values \(compiled.report.arenaSumOfValuesBytes)), weights \(compiled.weights.count) bytes")
            for l in p.launches where l.host != nil { print("  host: \(l.host!.node) (\(l.host!.opType)): \(l.host!.reason)") }
            if let us = compiled.report.predictedLatencyMicroseconds {
                let bound = "\(compiled.report.memoryBoundLaunches ?? 0) memory-bound, \(compiled.report.computeBoundLaunches ?? 0) compute-bound"
                print(String(format: "  predicted latency on the RX 580 (gfx803): %.1f µs over the kernel launches (%@)", us, bound)
                      + (compiled.report.registersFromCompiler == true ? "" : "; occupancy assumed, kernels not compiled for gfx803"))
            }
            for e in compiled.report.launches {
                if let kernel = e.kernel, (e.scratchBytes ?? 0) > 0 || (e.calls ?? 0) > 0 {
                    warn("kernel '\(kernel)' uses \(e.scratchBytes ?? 0) bytes of scratch and \(e.calls ?? 0) calls on gfx803")
                }
            }
        }
    }

    /// report.json of the artifact: the quantization report (`quantc report` reads it; none with
    /// --qdq) with the code generator's per-kernel section under "gcn".
    static func report(quantization: [String: Any]?, gcn: CodegenReport) -> [UInt8] {
        let gcnBytes = Codegen.json(gcn)
        guard let g = try? JSONSerialization.jsonObject(with: Data(gcnBytes)) else { return gcnBytes }
        var object = quantization ?? [:]
        // The quantized model is the artifact's own model.onnx (not the temporary it was written to).
        if object["output"] != nil { object["output"] = ArtifactFile.model }
        object["gcn"] = g
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        else { return gcnBytes }
        return Array(data) + [10]
    }

    private func readBytes(_ path: String) throws -> [UInt8] {
        guard let d = FileManager.default.contents(atPath: path) else { fail("\(path): cannot read the file", .badInput) }
        return Array(d)
    }
}
