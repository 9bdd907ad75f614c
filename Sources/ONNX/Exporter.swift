#if canImport(Glibc)
import Glibc
#endif
import CONNX
import IR

/// How tensor data is laid out in an exported model.
public struct ExportOptions: Sendable {
    public enum ExternalData: Sendable {
        /// Everything inline; fails past protobuf's 2 GiB limit.
        case never
        /// Inline unless the model would pass 2 GiB.
        case automatic
        /// Initializers of at least `threshold` bytes go to the side file.
        case always
    }

    public var externalData: ExternalData
    /// Smallest initializer, in bytes, moved to the side file.
    public var threshold: Int
    /// Side-file name, relative to the model; default `<model file>.data`.
    public var dataFileName: String?

    public init(externalData: ExternalData = .automatic, threshold: Int = 1024, dataFileName: String? = nil) {
        self.externalData = externalData
        self.threshold = threshold
        self.dataFileName = dataFileName
    }
}

/// Why a model could not be written.
public enum ExportError: Error, CustomStringConvertible, Sendable {
    case cannotWrite(SystemError)
    case tooLarge(file: String, bytes: Int)

    public var description: String {
        switch self {
        case .cannotWrite(let e): "\(e.path): cannot write: \(e.operation) failed: \(e.message)"
        case .tooLarge(let file, let bytes):
            "\(file): the model needs \(bytes) bytes inline, over protobuf's 2 GiB limit; export with external data"
        }
    }
}

/// Writes quantc's IR as an ONNX file.
///
/// ```swift
/// try ONNXExporter.write(model, to: "out.onnx", options: ExportOptions(externalData: .always))
/// ```
///
/// Both files are written atomically (temporary file, then rename). The
/// output depends only on the model: no timestamps, stable field order.
public enum ONNXExporter {
    /// Protobuf messages cannot exceed 2 GiB; keep a margin for the graph itself.
    static let inlineLimit = Int(Int32.max) - (64 << 20)

    public static func write(_ model: Model, to path: String, options: ExportOptions = ExportOptions()) throws(ExportError) {
        let inlineBytes = totalInitializerBytes(model.graph)
        let external: Bool
        switch options.externalData {
        case .never:
            guard inlineBytes < inlineLimit else { throw .tooLarge(file: path, bytes: inlineBytes) }
            external = false
        case .automatic: external = inlineBytes >= inlineLimit
        case .always: external = true
        }
        do {
            var dataFile: (file: AtomicFile, name: String)?
            if external {
                let name = options.dataFileName ?? (String(path.split(separator: "/").last ?? "model.onnx") + ".data")
                let folder = path.lastIndex(of: "/").map { String(path[...$0]) } ?? ""
                dataFile = (try AtomicFile(path: folder + name), name)
            }
            let builder = ProtoBuilder(external: dataFile.map { ExternalWriter(file: $0.file, location: $0.name, threshold: options.threshold) })
            let proto = try builder.model(model)
            let out = try AtomicFile(path: path)
            let written = withExtendedLifetime(builder) {
                proto.withMemoryRebound(to: ProtobufCMessage.self, capacity: 1) { qc_pack_to_fd($0, out.fd) }
            }
            guard written >= 0 else { throw SystemError(path: path, operation: "write", errno: errno) }
            // No tensor reached the threshold: write no side file at all.
            if let writer = builder.external, writer.tensorCount > 0 {
                try writer.file.commit()
            } else {
                dataFile?.file.discard()
            }
            try out.commit()
        } catch let error as SystemError {
            throw .cannotWrite(error)
        } catch {
            preconditionFailure("export raised \(error)")  // the builder only fails on I/O
        }
    }

    /// Serializes to memory (for tests and small models); always inline.
    public static func serialize(_ model: Model) -> [UInt8] {
        let builder = ProtoBuilder(external: nil)
        let proto = try! builder.model(model)  // no external file, so no I/O error
        return withExtendedLifetime(builder) {
            proto.withMemoryRebound(to: ProtobufCMessage.self, capacity: 1) { m in
                var out = [UInt8](repeating: 0, count: protobuf_c_message_get_packed_size(m))
                _ = out.withUnsafeMutableBufferPointer { protobuf_c_message_pack(m, $0.baseAddress) }
                return out
            }
        }
    }

    /// Serializes one tensor as a `TensorProto` (the `input_0.pb` files of ONNX test data sets).
    public static func serialize(tensor: Tensor) -> [UInt8] {
        let builder = ProtoBuilder(external: nil)
        let proto = try! builder.tensorMessage(tensor)  // inline: no I/O that could fail
        return withExtendedLifetime(builder) {
            proto.withMemoryRebound(to: ProtobufCMessage.self, capacity: 1) { m in
                var out = [UInt8](repeating: 0, count: protobuf_c_message_get_packed_size(m))
                _ = out.withUnsafeMutableBufferPointer { protobuf_c_message_pack(m, $0.baseAddress) }
                return out
            }
        }
    }

    static func totalInitializerBytes(_ graph: Graph) -> Int {
        var total = 0
        graph.walk { g, _ in total += g.initializers.values.reduce(0) { $0 + $1.byteCount } }
        return total
    }
}

/// Appends initializer bytes to the external-data file, 64-byte aligned so a
/// mapped tensor can be read with aligned vector loads.
final class ExternalWriter {
    let file: AtomicFile
    let location: String
    let threshold: Int
    private(set) var offset = 0
    private(set) var tensorCount = 0
    static let alignment = 64

    init(file: AtomicFile, location: String, threshold: Int) {
        self.file = file
        self.location = location
        self.threshold = threshold
    }

    func append(_ bytes: ByteBuffer) throws(SystemError) -> (offset: Int, length: Int) {
        let padding = (Self.alignment - offset % Self.alignment) % Self.alignment
        if padding > 0 {
            try file.write([UInt8](repeating: 0, count: padding))
            offset += padding
        }
        let start = offset
        tensorCount += 1
        try file.write(bytes.bytes)
        withExtendedLifetime(bytes.owner) {}
        offset += bytes.count
        return (start, bytes.count)
    }
}
