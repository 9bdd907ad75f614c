#if canImport(Glibc)
import Glibc
#endif
import IR

/// Why calibration or evaluation data cannot be used with a model.
public struct DataError: Error, CustomStringConvertible, Sendable {
    public var path: String
    public var problem: String
    public init(path: String, problem: String) {
        self.path = path
        self.problem = problem
    }
    public var description: String { "\(path): \(problem)" }
}

/// Samples for a model, read from a folder one file at a time so memory does
/// not grow with the number of samples. Understood layouts:
/// - `*.npz` files, each holding one array per model input, keyed by input name;
/// - ONNX test data sets: `test_data_set_*/input_<i>.pb` folders;
/// - for single-input models, `*.npy` files, each one sample or a batch along the first axis.
///
/// Every array is checked against the model's declared input (element type,
/// rank, fixed dims) when the folder is opened, before any compute.
public struct SampleSource: Sendable {
    public enum Layout: Sendable { case npz, testDataSets, npy }

    public let folder: String
    public let layout: Layout
    public let files: [String]
    public let inputs: [ValueInfo]
    /// Samples per file (a batch counts as its first dimension).
    public let counts: [Int]
    /// Reads a TensorProto file (supplied by the caller: the ONNX module does the decoding).
    public typealias ProtoReader = @Sendable (String) throws -> Tensor
    let readProto: ProtoReader?

    public var sampleCount: Int { counts.reduce(0, +) }

    public init(folder: String, inputs: [ValueInfo], readProto: ProtoReader? = nil) throws(DataError) {
        self.inputs = inputs
        self.readProto = readProto
        var folder = folder
        let names: [String]
        if let listed = Self.list(folder) {
            names = listed
        } else if folder.hasSuffix(".npy") || folder.hasSuffix(".npz") {
            // One file: a batch of samples (.npy) or one array per input (.npz).
            guard access(folder, R_OK) == 0 else { throw DataError(path: folder, problem: "cannot be read (\(String(cString: strerror(errno))))") }
            let slash = folder.lastIndex(of: "/")
            names = [slash.map { String(folder[folder.index(after: $0)...]) } ?? folder]
            folder = slash.map { String(folder[..<$0]) } ?? "."
        } else {
            throw DataError(path: folder, problem: "is not a readable folder (or a .npy/.npz file)")
        }
        self.folder = folder
        let npz = names.filter { $0.hasSuffix(".npz") }
        let sets = names.filter { $0.hasPrefix("test_data_set_") }
        let npy = names.filter { $0.hasSuffix(".npy") }
        if !npz.isEmpty {
            layout = .npz
            files = npz
        } else if !sets.isEmpty {
            layout = .testDataSets
            files = sets
        } else if !npy.isEmpty {
            guard inputs.count == 1 else {
                throw DataError(path: folder, problem: "holds .npy files, which only suit single-input models; this model has inputs \(inputs.map(\.name).joined(separator: ", ")): use .npz files keyed by input name")
            }
            layout = .npy
            files = npy
        } else {
            throw DataError(path: folder, problem: "holds no samples (expected *.npz, *.npy or test_data_set_*/input_*.pb)")
        }
        var counts: [Int] = []
        for f in files {
            let sample = try Self.read(folder: folder, file: f, layout: layout, inputs: inputs, readProto: readProto)
            counts.append(try Self.check(sample, inputs: inputs, file: "\(folder)/\(f)"))
        }
        self.counts = counts
    }

    /// The samples of file `index`, as one feed (a batch when the file holds several).
    public func feed(_ index: Int) throws(DataError) -> [String: RTensor] {
        let raw = try Self.read(folder: folder, file: files[index], layout: layout, inputs: inputs, readProto: readProto)
        var feed: [String: RTensor] = [:]
        for v in inputs {
            guard var t = raw[v.name] else { continue }
            if let rank = v.type?.tensorType?.shape?.count, t.shape.count == rank - 1 { t.shape.insert(1, at: 0) }
            feed[v.name] = RTensor(t)
        }
        return feed
    }

    /// Splits a batched feed into samples of `size` along the first axis.
    public static func split(_ feed: [String: RTensor], into size: Int) -> [[String: RTensor]] {
        guard let n = feed.values.first?.shape.first, n > size else { return [feed] }
        return stride(from: 0, to: n, by: size).map { start in
            feed.mapValues { t in t.slice(first: start..<min(n, start + size)) }
        }
    }

    // MARK: - Reading and checking

    static func list(_ folder: String) -> [String]? {
        guard let dir = opendir(folder) else { return nil }
        defer { closedir(dir) }
        var names: [String] = []
        while let e = readdir(dir) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if !name.hasPrefix(".") { names.append(name) }
        }
        return names.sorted()
    }

    static func read(folder: String, file: String, layout: Layout, inputs: [ValueInfo],
                     readProto: ProtoReader?) throws(DataError) -> [String: Tensor] {
        let path = "\(folder)/\(file)"
        switch layout {
        case .npz:
            do {
                return Dictionary(try NumpyFile.readArchive(path).map { ($0.name, $0.tensor) }, uniquingKeysWith: { a, _ in a })
            } catch { throw DataError(path: path, problem: error.problem) }
        case .npy:
            do { return [inputs[0].name: try NumpyFile.read(path)] } catch { throw DataError(path: path, problem: error.problem) }
        case .testDataSets:
            var out: [String: Tensor] = [:]
            for (i, v) in inputs.enumerated() {
                let p = "\(path)/input_\(i).pb"
                guard let readProto else { throw DataError(path: p, problem: "TensorProto files need a reader") }
                do { out[v.name] = try readProto(p) } catch { throw DataError(path: p, problem: "\(error)") }
            }
            return out
        }
    }

    /// Checks a file's arrays against the inputs; returns how many samples it holds.
    static func check(_ arrays: [String: Tensor], inputs: [ValueInfo], file: String) throws(DataError) -> Int {
        for name in arrays.keys.sorted() where !inputs.contains(where: { $0.name == name }) {
            throw DataError(path: file, problem: "array '\(name)' matches no model input (inputs: \(inputs.map(\.name).joined(separator: ", ")))")
        }
        var batch: Int?
        for v in inputs {
            guard let t = arrays[v.name] else {
                throw DataError(path: file, problem: "has no array for input '\(v.name)'")
            }
            guard let declared = v.type?.tensorType else { continue }
            guard t.elementType == declared.elementType || declared.elementType == .undefined else {
                throw DataError(path: file, problem: "array '\(v.name)' is \(t.elementType.onnxName), input '\(v.name)' is \(declared)")
            }
            guard let dims = declared.shape else { continue }
            var shape = t.shape
            if shape.count == dims.count - 1 { shape.insert(1, at: 0) }  // one sample without its batch axis
            guard shape.count == dims.count else {
                throw DataError(path: file, problem: "array '\(v.name)' has shape \(t.shape), input '\(v.name)' is \(declared)")
            }
            for (k, (d, n)) in zip(dims, shape).enumerated() {
                if case .fixed(let f) = d, f != n, !(k == 0 && f == 1) {
                    throw DataError(path: file, problem: "array '\(v.name)' has shape \(t.shape), input '\(v.name)' is \(declared)")
                }
            }
            if let b = batch, b != shape[0] {
                throw DataError(path: file, problem: "arrays disagree on the batch size (\(b) vs \(shape[0]) for '\(v.name)')")
            }
            batch = shape[0]
        }
        return batch ?? 1
    }
}

extension RTensor {
    /// Rows `range` of the first axis (copied).
    public func slice(first range: Range<Int>) -> RTensor {
        let rowElements = shape.dropFirst().reduce(1, *)
        var newShape = shape
        newShape[0] = range.count
        var out = RTensor(type: type, shape: newShape)
        if let strings {
            out.strings = Array(strings[range.lowerBound * rowElements..<range.upperBound * rowElements])
            return out
        }
        let stride = RTensor.stride(of: type) * rowElements
        out.buffer.pointer.copyMemory(from: buffer.pointer + range.lowerBound * stride, byteCount: range.count * stride)
        return out
    }
}
