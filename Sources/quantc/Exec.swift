import ArgumentParser
import Artifact
import Foundation
import IR
import Interpreter
import ONNX
import OpenCLRuntime

/// `quantc exec`: runs a compiled artifact on an OpenCL device.
struct Exec: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a compiled artifact (quantc compile's OUT.qc/) on an OpenCL device and write its outputs as .npy files.",
        discussion: """
        The artifact is verified first (every file's SHA-256 against manifest.json, the plan's format \
        version), each input against plan.json's inputs, and the plan against the device (sub-buffer \
        alignment, work-group sizes), all before any compute. kernels.cl is built once per device and \
        driver; the binary is cached under --cache-dir. Exit status: 0 success, 64 usage, 65 bad \
        artifact or input (including kernels that do not build), 69 no OpenCL platform or device, \
        70 driver or internal error, 73 an output cannot be written.
        """
    )

    @Argument(help: "The artifact directory written by `quantc compile`.")
    var artifact: String?

    @Option(name: .customLong("input"), help: "NAME=FILE.npy: a graph input; or FILE.npz holding arrays named after the inputs (repeatable).")
    var inputs: [String] = []

    @Option(name: [.customShort("o"), .customLong("output-dir")], help: "Folder for the outputs, one NAME.npy each (created if missing).")
    var outputDir: String?

    @Option(help: "The OpenCL device: its index in --list-devices, or a substring of 'platform / device' (default: the first GPU, else the first device).")
    var device: String?

    @Flag(help: "Print each launch's time from OpenCL events (host launches by wall clock) and the total.")
    var profile = false

    @Flag(help: "Build the kernels' gfx803 bodies on a CPU device too (by default a CPU device gets the CPU bodies of the templates that have one, e.g. GEMV).")
    var gcnBodies = false

    @Option(name: .customLong("repeat"), help: "Run the plan N times on the same inputs (the outputs of the last run are written) and report the median and fastest run.")
    var repeat_: Int = 1

    @Flag(help: "With --repeat N: enqueue the N runs back to back (inputs re-enqueued before each, no wait between runs, outputs read after the last) and report the time per run and, with --profile, each launch's median: the steady state of a stream of requests.")
    var backToBack = false

    @Flag(help: "List the OpenCL platforms and devices and exit.")
    var listDevices = false

    @Option(help: "Folder for compiled kernel binaries (default: $XDG_CACHE_HOME/quantc/kernels or ~/.cache/quantc/kernels).")
    var cacheDir: String?

    @Flag(help: "Build kernels.cl from source without reading or writing the kernel cache.")
    var noCache = false

    func validate() throws {
        if !listDevices && artifact == nil { throw ValidationError("missing the artifact directory (or --list-devices)") }
        if noCache && cacheDir != nil { throw ValidationError("--no-cache and --cache-dir exclude each other") }
        if repeat_ < 1 { throw ValidationError("--repeat must be at least 1") }
    }

    func run() throws {
        try reportingErrors {
            if listDevices { return try DevicesCommand.list() }
            let path = artifact!
            let dir: ArtifactDirectory
            do { dir = try ArtifactDirectory(verifying: path) } catch { fail("\(error)", .badInput) }
            let feeds = try loadInputs(path)
            let chosen = try opencl(path) { try Devices.select(device) }
            let runner = try opencl(path) {
                try ArtifactRunner(artifact: dir, device: chosen,
                                   options: RunOptions(profile: profile, cacheDirectory: noCache ? nil : cacheDir ?? ProgramCache.defaultDirectory,
                                                      gcnBodies: gcnBodies))
            }
            for w in runner.warnings { FileHandle.standardError.write(Data("warning: \(w)\n".utf8)) }
            var times: [Double] = []
            var last: RunResult?
            if backToBack {
                let r = try opencl(path) { try runner.run(inputs: feeds, repeats: repeat_) }
                times = [r.seconds]
                last = r
            } else {
                for _ in 0..<repeat_ {
                    let r = try opencl(path) { try runner.run(inputs: feeds) }
                    times.append(r.seconds)
                    last = r
                }
            }
            let result = last!
            var written: [String] = []
            if let outputDir { written = try write(result.outputs, order: dir.plan.outputs.map(\.name), to: outputDir) }
            let hosts = dir.plan.hostNodes.count
            let where_ = written.isEmpty ? "" : "; wrote \(written.joined(separator: ", ")) to \(outputDir!)"
            print("ran \(dir.plan.launches.count) launch\(dir.plan.launches.count == 1 ? "" : "es")"
                  + (hosts > 0 ? " (\(hosts) on the host)" : "")
                  + " on \(chosen) in \(Self.timing(times))" + (backToBack ? " per run (\(repeat_) back to back)" : "") + "; kernels \(runner.programOrigin.rawValue)\(where_)")
            if profile { printProfile(result) }
        }
    }

    /// "1.234 ms", or for several runs "1.234 ms (median of 5 runs, fastest 1.100 ms)".
    static func timing(_ seconds: [Double]) -> String {
        let ms = seconds.sorted().map { String(format: "%.3f ms", $0 * 1000) }
        guard ms.count > 1 else { return ms[0] }
        return "\(ms[ms.count / 2]) (median of \(ms.count) runs, fastest \(ms[0]))"
    }

    /// Runs `body`, turning an ``OpenCLError`` into its exit status: 69 when there
    /// is nothing to run on, 65 when the artifact or the inputs are at fault.
    func opencl<T>(_ path: String, _ body: () throws -> T) throws -> T {
        do { return try body() } catch let e as OpenCLError {
            if e.isUnavailable { fail(e.description, .unavailable) }
            fail("\(path): \(e)", e.isBadInput ? .badInput : .internalError)
        } catch let e as ArtifactError {
            fail(e.description, .badInput)
        } catch let e as ImportError {
            fail("\(path): \(e.description)", .badInput)
        }
    }

    func loadInputs(_ path: String) throws -> [String: RTensor] {
        try InputSpecs.load(inputs, expected: "NAME=FILE.npy") { file in
            do { return try NumpyFile.read(file) } catch { fail("\(error)", .badInput) }
        }
    }

    func write(_ outputs: [String: RTensor], order: [String], to dir: String) throws -> [String] {
        do { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) } catch {
            fail("\(dir): cannot create the output folder: \(error.localizedDescription)", .cannotWrite)
        }
        var names: [String] = []
        for name in order {
            guard let t = outputs[name] else { continue }
            let safe = String(name.map { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" || $0 == "." ? $0 : "_" })
            guard let npy = NumpyFile.encode(t.irTensor(name: name)) else {
                fail("output '\(name)' has type \(t.typeDescription), which .npy cannot hold", .internalError)
            }
            let file = try AtomicFile(path: "\(dir)/\(safe).npy")
            try file.write(npy)
            try file.commit()
            names.append("\(safe).npy")
        }
        return names
    }

    func printProfile(_ result: RunResult) {
        func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }
        let width = max(6, result.timings.map { ($0.site.kernel ?? "(host)").count }.max() ?? 0)
        print("launch  \(pad("kernel", width))          µs  nodes")
        var total = 0.0
        for t in result.timings {
            total += t.microseconds
            let nodes = t.site.nodes.prefix(3).joined(separator: ", ") + (t.site.nodes.count > 3 ? ", …" : "")
            print(String(format: "%6d  ", t.site.index) + pad(t.site.kernel ?? "(host)", width)
                  + String(format: " %11.1f  ", t.microseconds) + nodes)
        }
        print("total   \(pad("", width))" + String(format: " %11.1f  ", total)
              + "(\(result.timings.count) launches; wall time of the run \(String(format: "%.1f", result.seconds * 1e6)) µs)")
    }
}

/// `quantc devices`: the OpenCL platforms and devices `exec --device` chooses from.
struct DevicesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "devices",
        abstract: "List the OpenCL platforms and devices `quantc exec --device` can run on.",
        discussion: "Exit status 69 when the ICD loader finds no platform."
    )

    func run() throws {
        try reportingErrors { try Self.list() }
    }

    static func list() throws {
        let devices: [Device]
        do { devices = try Devices.all() } catch {
            fail(error.description, error.isUnavailable ? .unavailable : .internalError)
        }
        if devices.isEmpty { fail(OpenCLError.noDevice(selector: nil, available: []).description, .unavailable) }
        for d in devices {
            print(d.summary)
            print("    max work-group \(d.maxWorkGroupSize), work-item sizes \(d.maxWorkItemSizes), local memory \(d.localMemoryBytes / 1024) KiB, base address alignment \(d.baseAddressAlignmentBytes) bytes")
        }
    }
}
