import Artifact
import Foundation

/// Compiles OpenCL C for gfx803 with clang-15 and reads back, per kernel, what
/// the compiler allocated: registers, scratch, LDS, spills, occupancy and calls.
///
/// One clang process per source (a whole .cl file at once). Results are cached
/// under `cacheDirectory/gcn/<sha256 of compiler, flags and source>.json`,
/// written to a temporary file and renamed into place, so concurrent runs never
/// read half a file.
public struct KernelCompiler: Sendable {
    /// The flags of issue 7; `-nogpulib` means no device library, so any OpenCL
    /// built-in that is not a clang builtin becomes a call.
    public static let flags = [
        "-x", "cl", "-cl-std=CL1.2", "-target", "amdgcn-amd-amdhsa", "-mcpu=gfx803", "-nogpulib", "-O3",
        "-Xclang", "-finclude-default-header", "-Rpass-analysis=kernel-resource-usage",
    ]

    public var compiler: String
    public var cacheDirectory: String?

    public init(compiler: String = "clang-15", cacheDirectory: String? = KernelCompiler.defaultCacheDirectory) {
        self.compiler = compiler
        self.cacheDirectory = cacheDirectory
    }

    /// `$XDG_CACHE_HOME/quantc` or `~/.cache/quantc`, the folder `quantc quantize` caches in.
    public static var defaultCacheDirectory: String {
        if let x = ProcessInfo.processInfo.environment["XDG_CACHE_HOME"], !x.isEmpty { return "\(x)/quantc" }
        return "\(NSHomeDirectory())/.cache/quantc"
    }

    /// Compiles `source` (named `file` in messages) and returns its kernels in source order.
    public func compile(source: String, file: String = "kernels.cl") throws(GCNError) -> [KernelResources] {
        let executable = try resolve()
        let key = SHA256.hex(Array((executable + "\u{0}" + Self.flags.joined(separator: " ") + "\u{0}" + source).utf8))
        if let cached = readCache(key) { return cached }
        let (remarks, assembly) = try run(executable, source: source, file: file)
        let kernels = try ResourceParser.parse(remarks: remarks, assembly: assembly, file: file)
        writeCache(key, kernels)
        return kernels
    }

    /// Compiles the file at `path`.
    public func compile(file path: String) throws(GCNError) -> [KernelResources] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw .unreadableOutput(file: path, message: "cannot read the file as UTF-8 text")
        }
        return try compile(source: text, file: path)
    }

    /// The compiler's absolute path: `compiler` itself if it has a slash, else the first on PATH.
    func resolve() throws(GCNError) -> String {
        let fm = FileManager.default
        if compiler.contains("/") {
            guard fm.isExecutableFile(atPath: compiler) else { throw .compilerMissing(compiler: compiler, reason: "no executable at that path") }
            return compiler
        }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for dir in path.split(separator: ":") where fm.isExecutableFile(atPath: "\(dir)/\(compiler)") {
            return "\(dir)/\(compiler)"
        }
        throw .compilerMissing(compiler: compiler, reason: "not found on PATH")
    }

    func run(_ executable: String, source: String, file: String) throws(GCNError) -> (String, String) {
        let fm = FileManager.default
        let dir = NSTemporaryDirectory() + "quantc-gcn-\(UUID().uuidString)"
        defer { try? fm.removeItem(atPath: dir) }
        let input = "\(dir)/kernels.cl", output = "\(dir)/kernels.s", log = "\(dir)/stderr.txt"
        do {
            try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try source.write(toFile: input, atomically: false, encoding: .utf8)
            guard fm.createFile(atPath: log, contents: nil) else { throw CocoaError(.fileWriteUnknown) }
        } catch {
            throw .unreadableOutput(file: file, message: "cannot write a temporary file in \(dir): \(error.localizedDescription)")
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = Self.flags + ["-S", input, "-o", output]
        // Files, not pipes: the remarks of a large file would fill a pipe and block clang.
        p.standardError = FileHandle(forWritingAtPath: log)
        p.standardOutput = FileHandle.nullDevice
        p.standardInput = FileHandle.nullDevice
        do { try p.run() } catch { throw .compilerMissing(compiler: executable, reason: error.localizedDescription) }
        p.waitUntilExit()
        let stderr = ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").replacingOccurrences(of: input, with: file)
        guard p.terminationStatus == 0 else {
            throw Self.failure(stderr: stderr, source: source, file: file, status: p.terminationStatus)
        }
        guard let asm = try? String(contentsOfFile: output, encoding: .utf8) else {
            throw .unreadableOutput(file: file, message: "clang-15 exited 0 but wrote no assembly")
        }
        return (stderr, asm)
    }

    /// The first `error:` diagnostic, with the kernel whose definition precedes its line.
    static func failure(stderr: String, source: String, file: String, status: Int32) -> GCNError {
        let lines = stderr.split(separator: "\n").map(String.init)
        guard let first = lines.first(where: { $0.contains(" error: ") || $0.hasPrefix("error: ") }) else {
            return .compileFailed(file: file, kernel: nil, diagnostic: "exit status \(status): " + (lines.first ?? "no diagnostic"))
        }
        var kernel: String?
        // `file:LINE:COL: error: …`
        let afterFile = first.hasPrefix(file + ":") ? first.dropFirst(file.count + 1) : Substring(first)
        if let line = Int(afterFile.prefix { $0.isNumber }) {
            let src = source.split(separator: "\n", omittingEmptySubsequences: false)
            for i in stride(from: min(line, src.count) - 1, through: 0, by: -1) {
                if let name = kernelName(declaredIn: src[i]) { kernel = name; break }
            }
        }
        return .compileFailed(file: file, kernel: kernel, diagnostic: first)
    }

    /// `NAME` of a line like `__kernel void NAME(` (attributes allowed in between).
    static func kernelName(declaredIn line: Substring) -> String? {
        guard line.contains("__kernel") || line.hasPrefix("kernel "), let v = line.range(of: "void ") else { return nil }
        let name = line[v.upperBound...].prefix { $0.isLetter || $0.isNumber || $0 == "_" }
        return name.isEmpty ? nil : String(name)
    }

    func cachePath(_ key: String) -> String? { cacheDirectory.map { "\($0)/gcn/\(key).json" } }

    func readCache(_ key: String) -> [KernelResources]? {
        guard let path = cachePath(key), let data = FileManager.default.contents(atPath: path) else { return nil }
        return try? JSONDecoder().decode([KernelResources].self, from: data)
    }

    func writeCache(_ key: String, _ kernels: [KernelResources]) {
        guard let path = cachePath(key) else { return }
        let dir = (path as NSString).deletingLastPathComponent
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        guard (try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)) != nil,
              let data = try? encoder.encode(kernels) else { return }
        let temporary = "\(dir)/.\(key).\(UUID().uuidString).tmp"
        guard FileManager.default.createFile(atPath: temporary, contents: data) else { return }
        if rename(temporary, path) != 0 { unlink(temporary) }
    }
}
