import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// glibc's renameat2(2); Swift's Glibc module does not import it.
@_silgen_name("renameat2")
private func exchangeRename(_ olddirfd: Int32, _ oldpath: UnsafePointer<CChar>, _ newdirfd: Int32,
                            _ newpath: UnsafePointer<CChar>, _ flags: UInt32) -> Int32
/// RENAME_EXCHANGE from <linux/fs.h>: atomically swap the two paths.
private let renameExchange: UInt32 = 2

/// Writes an artifact directory atomically: every file goes into a fresh
/// temporary directory next to the destination, is flushed to disk, and the
/// directory is then swapped into place with one `renameat2(RENAME_EXCHANGE)`
/// (or renamed, when nothing was there). A crash or kill at any moment leaves
/// either the old artifact or the new one at `path`, never a mixture.
public enum ArtifactWriter {
    /// `files` maps file name → bytes (no subfolders). The manifest's `files`
    /// table is filled in here from the bytes actually written.
    public static func write(to path: String, files: [String: [UInt8]], manifest: Manifest) throws(ArtifactError) {
        var manifest = manifest
        manifest.files = files.mapValues { SHA256.hex($0) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let manifestBytes: [UInt8]
        do { manifestBytes = Array(try encoder.encode(manifest)) + [10] } catch {
            throw .malformed(directory: path, file: ArtifactFile.manifest, detail: "\(error)")
        }
        var all = files
        all[ArtifactFile.manifest] = manifestBytes

        let trimmed = path.hasSuffix("/") && path.count > 1 ? String(path.dropLast()) : path
        let slash = trimmed.lastIndex(of: "/")
        let parent = slash.map { String(trimmed[..<$0]) } ?? "."
        let base = slash.map { String(trimmed[trimmed.index(after: $0)...]) } ?? trimmed
        var template = Array("\(parent.isEmpty ? "/" : parent)/.\(base).tmp-XXXXXX".utf8CString)
        guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else {
            throw .io(path: parent, operation: "create a temporary directory in", errno: errno)
        }
        let temporary = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        var committed = false
        defer { if !committed { removeTree(temporary) } }
        chmod(temporary, 0o755)

        for name in all.keys.sorted() {
            try writeFile("\(temporary)/\(name)", all[name]!)
        }
        try syncDirectory(temporary)

        var info = stat()
        if lstat(trimmed, &info) == 0 {
            guard (info.st_mode & S_IFMT) == S_IFDIR else { throw .notADirectory(path: trimmed) }
            if exchangeRename(AT_FDCWD, temporary, AT_FDCWD, trimmed, renameExchange) != 0 {
                // A file system without RENAME_EXCHANGE: move the old one aside first
                // (a kill between the two renames leaves it at `.NAME.old-*`).
                guard errno == EINVAL || errno == ENOSYS else { throw .io(path: trimmed, operation: "replace", errno: errno) }
                let aside = temporary.replacingOccurrences(of: ".tmp-", with: ".old-")
                guard rename(trimmed, aside) == 0 else { throw .io(path: trimmed, operation: "replace", errno: errno) }
                guard rename(temporary, trimmed) == 0 else {
                    let e = errno
                    _ = rename(aside, trimmed)
                    throw .io(path: trimmed, operation: "replace", errno: e)
                }
                removeTree(aside)
                committed = true
            }
            // Otherwise `temporary` now holds the old artifact, removed on return.
        } else {
            guard rename(temporary, trimmed) == 0 else { throw .io(path: trimmed, operation: "create", errno: errno) }
            committed = true
        }
        try syncDirectory(parent.isEmpty ? "/" : parent)
    }

    private static func writeFile(_ path: String, _ bytes: [UInt8]) throws(ArtifactError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .io(path: path, operation: "create", errno: errno) }
        defer { close(fd) }
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + done, bytes.count - done) }
            if n < 0 {
                if errno == EINTR { continue }
                throw .io(path: path, operation: "write", errno: errno)
            }
            done += n
        }
        guard fsync(fd) == 0 else { throw .io(path: path, operation: "flush", errno: errno) }
    }

    private static func syncDirectory(_ path: String) throws(ArtifactError) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw .io(path: path, operation: "open", errno: errno) }
        defer { close(fd) }
        _ = fsync(fd)
    }

    /// Removes a directory of plain files (what the writer makes).
    static func removeTree(_ path: String) {
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// An artifact directory whose manifest and file hashes have been checked.
public struct ArtifactDirectory: Sendable {
    public let path: String
    public let manifest: Manifest
    public let plan: Plan

    /// Reads `manifest.json`, checks its format version and the SHA-256 of every
    /// required file, and decodes `plan.json`. Throws naming the first problem.
    public init(verifying path: String) throws(ArtifactError) {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue else {
            throw .notADirectory(path: path)
        }
        self.path = path
        let manifestBytes = try Self.read(path, ArtifactFile.manifest)
        let manifest: Manifest
        do { manifest = try JSONDecoder().decode(Manifest.self, from: Data(manifestBytes)) } catch {
            if let v = Self.formatVersion(in: manifestBytes), v != Plan.currentFormatVersion {
                throw .versionMismatch(directory: path, file: ArtifactFile.manifest, found: v, expected: Plan.currentFormatVersion)
            }
            throw .malformed(directory: path, file: ArtifactFile.manifest, detail: Self.describe(error))
        }
        guard manifest.formatVersion == Plan.currentFormatVersion else {
            throw .versionMismatch(directory: path, file: ArtifactFile.manifest, found: manifest.formatVersion,
                                   expected: Plan.currentFormatVersion)
        }
        let listed = Set(manifest.files.keys).union(ArtifactFile.required)
        for file in listed.sorted() {
            guard let expected = manifest.files[file] else { throw .unlistedFile(directory: path, file: file) }
            let bytes = try Self.read(path, file)
            let actual = SHA256.hex(bytes)
            guard actual == expected else {
                throw .hashMismatch(directory: path, file: file, expected: expected, actual: actual)
            }
        }
        let planBytes = try Self.read(path, ArtifactFile.plan)
        if let v = Self.formatVersion(in: planBytes), v != Plan.currentFormatVersion {
            throw .versionMismatch(directory: path, file: ArtifactFile.plan, found: v, expected: Plan.currentFormatVersion)
        }
        do { plan = try JSONDecoder().decode(Plan.self, from: Data(planBytes)) } catch {
            throw .malformed(directory: path, file: ArtifactFile.plan, detail: Self.describe(error))
        }
        self.manifest = manifest
    }

    /// The bytes of one file of the artifact.
    public func contents(of file: String) throws(ArtifactError) -> [UInt8] {
        try Self.read(path, file)
    }

    static func read(_ directory: String, _ file: String) throws(ArtifactError) -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: "\(directory)/\(file)") else {
            throw .missingFile(directory: directory, file: file)
        }
        return Array(data)
    }

    /// `formatVersion` from a JSON object, read leniently so a plan from another
    /// version is reported as such rather than as a decoding failure.
    static func formatVersion(in bytes: [UInt8]) -> Int? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else { return nil }
        return object["formatVersion"] as? Int
    }

    static func describe(_ error: Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, let c):
            return "missing key '\((c.codingPath + [key]).map(\.stringValue).joined(separator: "."))'"
        case DecodingError.typeMismatch(_, let c), DecodingError.valueNotFound(_, let c), DecodingError.dataCorrupted(let c):
            let at = c.codingPath.map(\.stringValue).joined(separator: ".")
            return at.isEmpty ? c.debugDescription : "at '\(at)': \(c.debugDescription)"
        default:
            return "\(error)"
        }
    }
}
