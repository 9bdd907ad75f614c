#if canImport(Glibc)
import Glibc
#endif
import IR

/// Opening and memory-mapping files for import, with the checks that keep
/// external data inside the model's folder.
enum ModelFile {
    /// Maps a regular file read-only.
    static func map(_ path: String) throws(SystemError) -> MappedFile {
        try MappedFile(path: path)
    }

    /// Names the format of a non-ONNX file from its first bytes, if known.
    static func sniffForeignFormat(_ b: UnsafeRawBufferPointer) -> String? {
        func starts(_ magic: [UInt8], at offset: Int = 0) -> Bool {
            b.count >= offset + magic.count && magic.indices.allSatisfy { b[offset + $0] == magic[$0] }
        }
        if starts([0x50, 0x4B, 0x03, 0x04]) || starts([0x50, 0x4B, 0x05, 0x06]) {
            return "a zip archive (a PyTorch .pt checkpoint or a zipped model?)"
        }
        if starts(Array("TFL3".utf8), at: 4) { return "a TensorFlow Lite flatbuffer" }
        if starts([0x1F, 0x8B]) { return "a gzip-compressed file" }
        if starts([0x93] + Array("NUMPY".utf8)) { return "a NumPy .npy array" }
        if starts([0x89] + Array("HDF".utf8)) { return "an HDF5 file (Keras?)" }
        if starts([0x80]) && b.count > 1 && (2...5).contains(b[1]) { return "a Python pickle" }
        if starts(Array("GGUF".utf8)) { return "a GGUF file" }
        if starts([0x7F] + Array("ELF".utf8)) { return "an ELF executable" }
        return nil
    }
}

/// External-data files of one model: each file mapped once, shared by the
/// tensors that point into it.
final class ExternalDataFiles {
    let modelPath: String
    let folder: String
    /// The model folder with symlinks resolved.
    private lazy var realFolder: String? = Self.realPath(folder)
    private var mapped: [String: MappedFile] = [:]

    init(modelPath: String) {
        self.modelPath = modelPath
        if let slash = modelPath.lastIndex(of: "/") {
            let f = String(modelPath[..<slash])
            folder = f.isEmpty ? "/" : f
        } else {
            folder = "."
        }
    }

    /// Checks `location` and returns its mapping, or a reason it is refused.
    func file(for location: String) -> Result<MappedFile, ExternalProblem> {
        if let m = mapped[location] { return .success(m) }
        if location.isEmpty { return .failure(.init("has an empty location")) }
        if location.hasPrefix("/") {
            return .failure(.init("is an absolute path; external data must be relative to the model's folder"))
        }
        if location.split(separator: "/").contains("..") {
            return .failure(.init("climbs out of the model's folder with '..'"))
        }
        let path = folder + "/" + location
        var st = stat()
        guard stat(path, &st) == 0 else {
            return .failure(.init("is missing (looked for \(path): \(String(cString: strerror(errno))))"))
        }
        // A FIFO would block the open forever; a device is not data.
        guard (st.st_mode & S_IFMT) == S_IFREG else { return .failure(.init("is not a regular file")) }
        // A symlink (anywhere along the path) may lead out of the folder:
        // compare the fully resolved path with the resolved folder.
        guard let real = Self.realPath(path), let base = realFolder else {
            return .failure(.init("cannot be resolved (\(path))"))
        }
        guard real.hasPrefix(base == "/" ? "/" : base + "/") else {
            return .failure(.init("leaves the model's folder through a symlink (it resolves to \(real))"))
        }
        do {
            let m = try ModelFile.map(path)
            mapped[location] = m
            return .success(m)
        } catch {
            return .failure(.init("cannot be read: \(error.message)"))
        }
    }

    static func realPath(_ path: String) -> String? {
        guard let p = realpath(path, nil) else { return nil }
        defer { free(p) }
        return String(cString: p)
    }
}

struct ExternalProblem: Error {
    var message: String
    init(_ message: String) { self.message = message }
}
