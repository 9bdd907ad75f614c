import Artifact
import COpenCL
import Foundation
import IR

/// Builds kernels.cl once per device: the compiled binary (CL_PROGRAM_BINARIES)
/// is kept in a cache folder under a key made of the device (platform, name,
/// driver and device versions), the build options and the SHA-256 of the
/// source, so a rerun on the same driver skips the compiler, and any change
/// of source or driver misses.
public struct ProgramCache: Sendable {
    /// Default folder: `$XDG_CACHE_HOME/quantc/kernels` or `~/.cache/quantc/kernels`
    /// (beside the calibration statistics in `…/quantc`).
    public static var defaultDirectory: String {
        if let x = ProcessInfo.processInfo.environment["XDG_CACHE_HOME"], !x.isEmpty { return "\(x)/quantc/kernels" }
        return "\(NSHomeDirectory())/.cache/quantc/kernels"
    }

    /// nil: no cache (always build from source).
    public var directory: String?

    public init(directory: String?) { self.directory = directory }

    /// The cache file's name for `source` built with `options` on `device`.
    public static func key(device: Device, options: String, source: [UInt8]) -> String {
        var h = SHA256()
        for part in [device.platformName, device.platformVersion, device.name, device.driverVersion, device.version, options] {
            h.update(Array(part.utf8) + [0])
        }
        h.update(source)
        return SHA256.hexString(h.finalize())
    }

    /// How the program was obtained.
    public enum Origin: String, Sendable {
        case cache = "from the kernel cache"
        case built = "built"
    }

    /// Returns a built program: from the cached binary when it loads and links,
    /// else compiled from source (and the binary stored). Cache write failures
    /// are returned as a warning, not thrown: the program is good either way.
    func program(source: [UInt8], device: Device, context: cl_context, options: String) throws(OpenCLError) -> (program: cl_program, origin: Origin, warning: String?) {
        let key = Self.key(device: device, options: options, source: source)
        let file = directory.map { "\($0)/\(key).bin" }
        if let file, let data = FileManager.default.contents(atPath: file), !data.isEmpty,
           let program = try? fromBinary(Array(data), device: device, context: context, options: options) {
            return (program, .cache, nil)
        }
        let program = try fromSource(source, device: device, context: context, options: options)
        var warning: String?
        if let file, let directory {
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
                let binary = try Self.binary(of: program, device: device)
                let out = try AtomicFile(path: file)
                try out.write(binary)
                try out.commit()
            } catch {
                warning = "cannot store the compiled kernels in \(directory): \(error)"
            }
        }
        return (program, .built, warning)
    }

    private func fromBinary(_ binary: [UInt8], device: Device, context: cl_context, options: String) throws(OpenCLError) -> cl_program {
        var status: cl_int = 0, binaryStatus: cl_int = 0
        var length = binary.count
        var dev: cl_device_id? = device.id
        let program = binary.withUnsafeBufferPointer { b -> cl_program? in
            var p: UnsafePointer<UInt8>? = b.baseAddress
            return clCreateProgramWithBinary(context, 1, &dev, &length, &p, &binaryStatus, &status)
        }
        guard status == CL_SUCCESS, binaryStatus == CL_SUCCESS, let program else {
            throw .driver(call: "clCreateProgramWithBinary", status: status != CL_SUCCESS ? status : binaryStatus, site: nil)
        }
        let built = clBuildProgram(program, 1, &dev, options, nil, nil)
        guard built == CL_SUCCESS else {
            clReleaseProgram(program)
            throw .driver(call: "clBuildProgram", status: built, site: nil)
        }
        return program
    }

    private func fromSource(_ source: [UInt8], device: Device, context: cl_context, options: String) throws(OpenCLError) -> cl_program {
        var status: cl_int = 0
        var length = source.count
        var dev: cl_device_id? = device.id
        let program = source.withUnsafeBufferPointer { b -> cl_program? in
            b.withMemoryRebound(to: CChar.self) { c -> cl_program? in
                var p: UnsafePointer<CChar>? = c.baseAddress
                return clCreateProgramWithSource(context, 1, &p, &length, &status)
            }
        }
        guard status == CL_SUCCESS, let program else { throw .driver(call: "clCreateProgramWithSource", status: status, site: nil) }
        // pocl's compiler also prints its diagnostics to stderr ("1 error generated."); the
        // same text is in the build log, which the error carries, so the process's stderr
        // stays one message.
        let built = withStandardErrorSilenced { clBuildProgram(program, 1, &dev, options, nil, nil) }
        guard built == CL_SUCCESS else {
            let log = Self.buildLog(program, device: device)
            clReleaseProgram(program)
            guard built == CL_BUILD_PROGRAM_FAILURE || built == CL_INVALID_BUILD_OPTIONS || !log.isEmpty else {
                throw OpenCLError.driver(call: "clBuildProgram", status: built, site: nil)
            }
            let text = String(decoding: source, as: UTF8.self)
            throw .buildFailed(device: device.description, kernels: KernelSource.kernels(atErrorsOf: log, in: text), log: log)
        }
        return program
    }

    static func buildLog(_ program: cl_program, device: Device) -> String {
        var n = 0
        guard clGetProgramBuildInfo(program, device.id, cl_program_build_info(CL_PROGRAM_BUILD_LOG), 0, nil, &n) == CL_SUCCESS,
              n > 0 else { return "" }
        var bytes = [CChar](repeating: 0, count: n + 1)
        guard clGetProgramBuildInfo(program, device.id, cl_program_build_info(CL_PROGRAM_BUILD_LOG), n, &bytes, nil) == CL_SUCCESS
        else { return "" }
        return bytes.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    /// The device binary of a program built for one device.
    static func binary(of program: cl_program, device: Device) throws(OpenCLError) -> [UInt8] {
        var size = 0
        try check(clGetProgramInfo(program, cl_program_info(CL_PROGRAM_BINARY_SIZES), MemoryLayout<Int>.size, &size, nil),
                  "clGetProgramInfo(CL_PROGRAM_BINARY_SIZES)")
        guard size > 0 else { throw .driver(call: "clGetProgramInfo(CL_PROGRAM_BINARY_SIZES)", status: CL_INVALID_PROGRAM, site: nil) }
        var bytes = [UInt8](repeating: 0, count: size)
        let status = bytes.withUnsafeMutableBufferPointer { b -> cl_int in
            var p: UnsafeMutablePointer<UInt8>? = b.baseAddress
            return clGetProgramInfo(program, cl_program_info(CL_PROGRAM_BINARIES), MemoryLayout<UnsafeMutablePointer<UInt8>?>.size, &p, nil)
        }
        try check(status, "clGetProgramInfo(CL_PROGRAM_BINARIES)")
        return bytes
    }
}

/// What the runtime reads from kernels.cl's text itself.
enum KernelSource {
    /// The `__kernel`/`kernel` functions in source order, each with the lines
    /// from its qualifier to its closing brace (comments and strings skipped).
    static func kernels(in source: String) -> [(name: String, lines: ClosedRange<Int>)] {
        // Tokens (identifiers and single punctuation) with their line numbers.
        var tokens: [(text: String, line: Int)] = []
        let chars = Array(source.unicodeScalars)
        var i = 0, line = 1
        var word = ""
        func flush() { if !word.isEmpty { tokens.append((word, line)); word = "" } }
        while i < chars.count {
            let c = chars[i], next = i + 1 < chars.count ? chars[i + 1] : " "
            if c == "/" && next == "/" {
                flush()
                while i < chars.count && chars[i] != "\n" { i += 1 }
                continue
            }
            if c == "/" && next == "*" {
                flush()
                i += 2
                while i < chars.count && !(chars[i] == "*" && i + 1 < chars.count && chars[i + 1] == "/") {
                    if chars[i] == "\n" { line += 1 }
                    i += 1
                }
                i += 2
                continue
            }
            if c == "\"" || c == "'" {
                flush()
                i += 1
                while i < chars.count && chars[i] != c { if chars[i] == "\\" { i += 1 }; i += 1 }
                i += 1
                continue
            }
            if c == "_" || c.properties.isAlphabetic || ("0"..."9").contains(c) {
                word.unicodeScalars.append(c)
            } else {
                flush()
                if c == "\n" { line += 1 } else if c != " " && c != "\t" && c != "\r" { tokens.append((String(c), line)) }
            }
            i += 1
        }
        flush()
        var out: [(String, ClosedRange<Int>)] = []
        var t = 0
        while t < tokens.count {
            guard tokens[t].text == "__kernel" || tokens[t].text == "kernel" else { t += 1; continue }
            let start = tokens[t].line
            var v = t + 1
            while v < tokens.count && tokens[v].text != "void" && tokens[v].text != "{" { v += 1 }
            guard v + 1 < tokens.count, tokens[v].text == "void" else { t = v; continue }
            let name = tokens[v + 1].text
            var b = v + 1
            while b < tokens.count && tokens[b].text != "{" && tokens[b].text != ";" { b += 1 }
            guard b < tokens.count, tokens[b].text == "{" else { t = b; continue }
            var depth = 0, e = b
            while e < tokens.count {
                if tokens[e].text == "{" { depth += 1 } else if tokens[e].text == "}" { depth -= 1; if depth == 0 { break } }
                e += 1
            }
            out.append((name, start...(e < tokens.count ? tokens[e].line : line)))
            t = e + 1
        }
        return out
    }

    /// The kernels enclosing the lines the build log reports errors at: the
    /// first number between colons on a line with `error:` (clang's
    /// `<source>:LINE:COL: error:`, pocl's `error: FILE.cl:LINE:COL:`); empty
    /// when the log has no such lines.
    static func kernels(atErrorsOf log: String, in source: String) -> [String] {
        let kernels = kernels(in: source)
        var found: [String] = []
        for line in log.split(separator: "\n") where line.contains("error:") {
            let parts = line.split(separator: ":", omittingEmptySubsequences: false)
            guard let n = parts.dropFirst().lazy.compactMap({ Int($0) }).first,
                  let k = kernels.first(where: { $0.lines.contains(n) }) else { continue }
            if !found.contains(k.name) { found.append(k.name) }
        }
        return found
    }
}

/// Runs `body` with file descriptor 2 pointed at /dev/null (only around a
/// driver call that writes to it directly; nothing else runs meanwhile).
func withStandardErrorSilenced<R>(_ body: () -> R) -> R {
    fflush(nil)
    let saved = dup(2)
    let null = open("/dev/null", O_WRONLY | O_CLOEXEC)
    guard saved >= 0, null >= 0 else {
        if saved >= 0 { close(saved) }
        if null >= 0 { close(null) }
        return body()
    }
    dup2(null, 2)
    close(null)
    defer {
        fflush(nil)
        dup2(saved, 2)
        close(saved)
    }
    return body()
}
