#if canImport(Glibc)
import Glibc
#endif
import CONNX
import IR

/// Reads ONNX files into quantc's IR.
///
/// ```swift
/// let model = try ONNXImporter.importModel(at: "model.onnx")
/// ```
///
/// The file is decoded with protobuf-c. Tensor bytes stored inline stay in the
/// decoded message (no second copy); external data is memory-mapped and only
/// read when a tensor is used.
public enum ONNXImporter {
    /// Imports, topologically sorts and verifies the model at `path`.
    ///
    /// `limits` bound what the file may ask for (``ImportLimits``); past them the import
    /// fails with ``ImportError/limitExceeded(file:where:problem:)``.
    public static func importModel(at path: String, limits: ImportLimits = .default) throws(ImportError) -> Model {
        let file: MappedFile
        do { file = try ModelFile.map(path) } catch { throw .unreadable(file: path, reason: error.message) }
        guard file.size > 0 else { throw .empty(file: path) }
        if let format = ModelFile.sniffForeignFormat(file.buffer.bytes) { throw .notONNX(file: path, format: format) }
        var scan = LimitScan(file: path, limits: limits)
        try scan.model(file.buffer.bytes)
        guard let proto = onnx__model_proto__unpack(nil, file.size, file.pointer!.assumingMemoryBound(to: UInt8.self)) else {
            throw .malformedProtobuf(file: path, size: file.size)
        }
        let decoded = DecodedModel(proto)
        var reader = ProtoReader(file: path, owner: decoded, external: ExternalDataFiles(modelPath: path), limits: limits)
        var model = try reader.model(proto.pointee)
        do {
            try sortAll(&model.graph, path: [model.graph.name])
            try Verifier.verify(model)
        } catch { throw .invalidGraph(file: path, error) }
        return model
    }

    /// Sorts every graph of the model, subgraphs included, into topological order.
    static func sortAll(_ graph: inout Graph, path: [String]) throws(VerificationError) {
        for i in graph.nodes.indices {
            for j in graph.nodes[i].attributes.indices {
                let label = "\(graph.nodes[i].name.isEmpty ? graph.nodes[i].opType : graph.nodes[i].name).\(graph.nodes[i].attributes[j].name)"
                switch graph.nodes[i].attributes[j].value {
                case .graph(var g):
                    try sortAll(&g, path: path + [label])
                    graph.nodes[i].attributes[j].value = .graph(g)
                case .graphs(var gs):
                    for k in gs.indices { try sortAll(&gs[k], path: path + [label]) }
                    graph.nodes[i].attributes[j].value = .graphs(gs)
                default: break
                }
            }
        }
        try graph.sortTopologically(path: path)
    }
}

/// Owns a message decoded by protobuf-c; inline tensor bytes point into it.
final class DecodedModel: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Onnx__ModelProto>
    init(_ pointer: UnsafeMutablePointer<Onnx__ModelProto>) { self.pointer = pointer }
    deinit { onnx__model_proto__free_unpacked(pointer, nil) }
}

// MARK: - Helpers over protobuf-c's C layout

@inline(__always)
func str(_ p: UnsafeMutablePointer<CChar>?) -> String { p.map { String(cString: $0) } ?? "" }

@inline(__always)
func array<T>(_ p: UnsafeMutablePointer<T>?, _ n: Int) -> UnsafeBufferPointer<T> {
    UnsafeBufferPointer(start: n == 0 ? nil : p, count: n)
}

func strings(_ p: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?, _ n: Int) -> [String] {
    array(p, n).map { str($0) }
}

func unknownFields(_ base: ProtobufCMessage) -> [UnknownField] {
    array(base.unknown_fields, Int(base.n_unknown_fields)).map {
        UnknownField(tag: $0.tag, wireType: UInt8($0.wire_type.rawValue),
                     payload: Array(UnsafeBufferPointer(start: $0.data, count: $0.len)))
    }
}

/// Serializes a sub-message quantc does not model, to carry it through.
func opaque<T>(_ p: UnsafeMutablePointer<T>?) -> OpaqueMessage {
    guard let p else { return OpaqueMessage([]) }
    return p.withMemoryRebound(to: ProtobufCMessage.self, capacity: 1) { m in
        let size = protobuf_c_message_get_packed_size(m)
        var out = [UInt8](repeating: 0, count: size)
        _ = out.withUnsafeMutableBufferPointer { protobuf_c_message_pack(m, $0.baseAddress) }
        return OpaqueMessage(out)
    }
}

/// Maps a protobuf-c repeated message field (an array of pointers), skipping nulls.
func mapMessages<T, R>(_ p: UnsafeMutablePointer<UnsafeMutablePointer<T>?>?, _ n: Int,
                       _ transform: (T) throws(ImportError) -> R) throws(ImportError) -> [R] {
    var out: [R] = []
    out.reserveCapacity(n)
    for q in array(p, n) { if let q { out.append(try transform(q.pointee)) } }
    return out
}

extension ONNXImporter {
    /// Reads a serialized `TensorProto` (the `input_0.pb` files of ONNX test
    /// data sets). External data is resolved relative to the file's folder.
    public static func importTensor(at path: String, limits: ImportLimits = .default) throws(ImportError) -> Tensor {
        let file: MappedFile
        do { file = try ModelFile.map(path) } catch { throw .unreadable(file: path, reason: error.message) }
        guard file.size > 0 else { throw .empty(file: path) }
        guard let proto = onnx__tensor_proto__unpack(nil, file.size, file.pointer!.assumingMemoryBound(to: UInt8.self)) else {
            throw .badTensor(file: path, tensor: "<file>", problem: "is not a valid TensorProto")
        }
        defer { onnx__tensor_proto__free_unpacked(proto, nil) }
        let reader = ProtoReader(file: path, owner: nil, external: ExternalDataFiles(modelPath: path), limits: limits)
        let t = try reader.tensor(proto.pointee, context: "the tensor in this file")
        // The decoded message is freed on return: keep a copy of the bytes.
        switch t.data {
        case .bytes(let b):
            var copy = t
            copy.data = .bytes(b.isMapped ? b : ByteBuffer(copying: b.bytes))
            return copy
        case .strings: return t
        }
    }
}
