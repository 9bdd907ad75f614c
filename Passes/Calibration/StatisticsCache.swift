import Foundation
import IR

/// The calibration-statistics cache: one file per key (model and data hash) in the cache
/// folder, safe for parallel builds sharing the folder.
///
/// - Compute-and-store of a key runs under an exclusive flock on `.calibration-KEY.lock`,
///   so of several processes calibrating the same model on the same data one computes and
///   the others wait and read its file.
/// - Files are written to a temporary name and renamed (``AtomicFile``): a reader sees the
///   old file, the complete new one, or none.
/// - Each file starts with a header line holding the payload's length and FNV-1a 64 hash;
///   a file that is truncated, altered or does not decode is never trusted: the statistics
///   are recomputed, with a warning, and the file replaced.
struct StatisticsCache {
    static let header = "quantc-calibration-statistics 1"

    let folder: String
    let key: String

    var path: String { "\(folder)/calibration-\(key).json" }
    var lockPath: String { "\(folder)/.calibration-\(key).lock" }

    enum Lookup {
        case hit(Calibrate.Cache)
        case missing
        /// The file exists but cannot be trusted; why.
        case corrupt(String)
    }

    /// Takes the key's lock (blocking while another process holds it), or nil when the
    /// folder cannot be created or locked (then the cache is simply not shared safely).
    func lock() -> FileLock? {
        try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        return try? FileLock(path: lockPath)
    }

    func load() -> Lookup {
        guard let data = FileManager.default.contents(atPath: path) else { return .missing }
        return Self.decode(Array(data))
    }

    /// Writes atomically; failures only cost the next run a recomputation.
    func store(_ cache: Calibrate.Cache) -> SystemError? {
        do {
            let file = try AtomicFile(path: path)
            try file.write(Self.encode(cache))
            try file.commit()
            return nil
        } catch {
            return error
        }
    }

    static func encode(_ cache: Calibrate.Cache) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let payload = Array((try? encoder.encode(cache)) ?? Data())
        var h = FNV1a64()
        h.add(bytes: payload)
        return Array("\(header) bytes=\(payload.count) fnv1a64=\(String(h.value, radix: 16))\n".utf8) + payload
    }

    static func decode(_ bytes: [UInt8]) -> Lookup {
        guard let newline = bytes.firstIndex(of: 10) else { return .corrupt("it has no header line") }
        let line = String(decoding: bytes[..<newline], as: UTF8.self)
        guard line.hasPrefix(header + " ") else { return .corrupt("its header is not '\(header) bytes=N fnv1a64=H'") }
        let parts = line.dropFirst(header.count + 1).split(separator: " ")
        guard parts.count == 2, parts[0].hasPrefix("bytes="), parts[1].hasPrefix("fnv1a64="),
              let length = Int(parts[0].dropFirst(6)), let hash = UInt64(parts[1].dropFirst(8), radix: 16) else {
            return .corrupt("its header is not '\(header) bytes=N fnv1a64=H'")
        }
        let payload = bytes[(newline + 1)...]
        guard payload.count == length else {
            return .corrupt("it holds \(payload.count) bytes of statistics, its header says \(length) (truncated?)")
        }
        var h = FNV1a64()
        h.add(bytes: payload)
        guard h.value == hash else { return .corrupt("its checksum does not match its contents") }
        do {
            return .hit(try JSONDecoder().decode(Calibrate.Cache.self, from: Data(payload)))
        } catch {
            return .corrupt("it does not decode: \(error)")
        }
    }
}
