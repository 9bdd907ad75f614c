#if canImport(Glibc)
import Glibc
#endif
import CONNX
import IR

/// Builds protobuf-c messages from IR values. Every allocation belongs to the
/// builder and is freed with it; tensor bytes are referenced, not copied, so
/// the IR must outlive the packing.
final class ProtoBuilder {
    private var allocations: [UnsafeMutableRawPointer] = []
    let external: ExternalWriter?

    init(external: ExternalWriter?) { self.external = external }

    deinit { for p in allocations { free(p) } }

    // MARK: Memory

    private func alloc<T>(_: T.Type, count: Int = 1) -> UnsafeMutablePointer<T> {
        let p = calloc(max(count, 1), MemoryLayout<T>.stride)!
        allocations.append(p)
        return p.bindMemory(to: T.self, capacity: max(count, 1))
    }

    private func message<T>(_ initialize: (UnsafeMutablePointer<T>) -> Void) -> UnsafeMutablePointer<T> {
        let p = alloc(T.self)
        initialize(p)
        return p
    }

    private func cstr(_ s: String) -> UnsafeMutablePointer<CChar> {
        let utf8 = s.utf8CString
        let p = alloc(CChar.self, count: utf8.count)
        utf8.withUnsafeBufferPointer { p.update(from: $0.baseAddress!, count: utf8.count) }
        return p
    }

    /// nil for "", so optional string fields that were empty stay absent.
    private func optstr(_ s: String) -> UnsafeMutablePointer<CChar>? { s.isEmpty ? nil : cstr(s) }

    private func cstrs(_ xs: [String]) -> UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? {
        guard !xs.isEmpty else { return nil }
        let p = alloc(UnsafeMutablePointer<CChar>?.self, count: xs.count)
        for (i, s) in xs.enumerated() { p[i] = cstr(s) }
        return p
    }

    private func copy<T>(_ xs: [T]) -> UnsafeMutablePointer<T>? {
        guard !xs.isEmpty else { return nil }
        let p = alloc(T.self, count: xs.count)
        xs.withUnsafeBufferPointer { p.update(from: $0.baseAddress!, count: xs.count) }
        return p
    }

    private func messages<S, T>(_ xs: [S], _ build: (S) throws -> UnsafeMutablePointer<T>) rethrows -> UnsafeMutablePointer<UnsafeMutablePointer<T>?>? {
        guard !xs.isEmpty else { return nil }
        let p = alloc(UnsafeMutablePointer<T>?.self, count: xs.count)
        for (i, x) in xs.enumerated() { p[i] = try build(x) }
        return p
    }

    private func binary(_ bytes: [UInt8]) -> ProtobufCBinaryData {
        ProtobufCBinaryData(len: bytes.count, data: copy(bytes))
    }

    /// Attaches unknown fields (and opaque sub-messages, encoded as fields).
    private func setUnknown<T>(_ p: UnsafeMutablePointer<T>, _ fields: [UnknownField]) {
        guard !fields.isEmpty else { return }
        let u = alloc(ProtobufCMessageUnknownField.self, count: fields.count)
        for (i, f) in fields.enumerated() {
            u[i] = ProtobufCMessageUnknownField(tag: f.tag, wire_type: ProtobufCWireType(rawValue: UInt32(f.wireType)),
                                                len: f.payload.count, data: copy(f.payload))
        }
        p.withMemoryRebound(to: ProtobufCMessage.self, capacity: 1) {
            $0.pointee.n_unknown_fields = UInt32(fields.count)
            $0.pointee.unknown_fields = u
        }
    }

    /// A length-delimited field carrying an already serialized sub-message.
    private func embedded(_ tag: UInt32, _ m: OpaqueMessage) -> UnknownField {
        var payload: [UInt8] = []
        var n = UInt64(m.bytes.count)
        while n >= 0x80 { payload.append(UInt8(n & 0x7F) | 0x80); n >>= 7 }
        payload.append(UInt8(n))
        return UnknownField(tag: tag, wireType: 2, payload: payload + m.bytes)
    }

    // MARK: Messages

    func model(_ m: Model) throws -> UnsafeMutablePointer<Onnx__ModelProto> {
        let p: UnsafeMutablePointer<Onnx__ModelProto> = message(onnx__model_proto__init)
        p.pointee.has_ir_version = 1
        p.pointee.ir_version = m.irVersion
        p.pointee.n_opset_import = m.opsetImports.count
        p.pointee.opset_import = messages(m.opsetImports) { opset($0) }
        p.pointee.producer_name = optstr(m.producerName)
        p.pointee.producer_version = optstr(m.producerVersion)
        p.pointee.domain = optstr(m.domain)
        if m.modelVersion != 0 {
            p.pointee.has_model_version = 1
            p.pointee.model_version = m.modelVersion
        }
        p.pointee.doc_string = optstr(m.docString)
        p.pointee.graph = try graph(m.graph)
        p.pointee.n_metadata_props = m.metadata.count
        p.pointee.metadata_props = messages(m.metadata) { kv in
            let e: UnsafeMutablePointer<Onnx__StringStringEntryProto> = message(onnx__string_string_entry_proto__init)
            e.pointee.key = cstr(kv.key)
            e.pointee.value = cstr(kv.value)
            return e
        }
        p.pointee.n_functions = m.functions.count
        p.pointee.functions = try messages(m.functions, function)
        setUnknown(p, m.unknownFields + m.trainingInfo.map { embedded(20, $0) })
        return p
    }

    func tensorMessage(_ t: Tensor) throws -> UnsafeMutablePointer<Onnx__TensorProto> {
        try tensor(t, mayBeExternal: false)
    }

    private func opset(_ o: OpsetImport) -> UnsafeMutablePointer<Onnx__OperatorSetIdProto> {
        let p: UnsafeMutablePointer<Onnx__OperatorSetIdProto> = message(onnx__operator_set_id_proto__init)
        p.pointee.domain = cstr(o.domain)
        p.pointee.has_version = 1
        p.pointee.version = o.version
        return p
    }

    private func function(_ f: Function) throws -> UnsafeMutablePointer<Onnx__FunctionProto> {
        let p: UnsafeMutablePointer<Onnx__FunctionProto> = message(onnx__function_proto__init)
        p.pointee.name = optstr(f.name)
        p.pointee.domain = optstr(f.domain)
        p.pointee.n_input = f.inputs.count
        p.pointee.input = cstrs(f.inputs)
        p.pointee.n_output = f.outputs.count
        p.pointee.output = cstrs(f.outputs)
        p.pointee.n_attribute = f.attributeNames.count
        p.pointee.attribute = cstrs(f.attributeNames)
        p.pointee.n_node = f.nodes.count
        p.pointee.node = try messages(f.nodes, node)
        p.pointee.n_opset_import = f.opsetImports.count
        p.pointee.opset_import = messages(f.opsetImports) { opset($0) }
        p.pointee.doc_string = optstr(f.docString)
        setUnknown(p, f.unknownFields)
        return p
    }

    private func graph(_ g: Graph) throws -> UnsafeMutablePointer<Onnx__GraphProto> {
        let p: UnsafeMutablePointer<Onnx__GraphProto> = message(onnx__graph_proto__init)
        p.pointee.name = optstr(g.name)
        p.pointee.doc_string = optstr(g.docString)
        p.pointee.n_node = g.nodes.count
        p.pointee.node = try messages(g.nodes, node)
        p.pointee.n_initializer = g.initializers.count
        p.pointee.initializer = try messages(Array(g.initializers.values)) { try tensor($0, mayBeExternal: true) }
        p.pointee.n_input = g.inputs.count
        p.pointee.input = messages(g.inputs) { valueInfo($0) }
        p.pointee.n_output = g.outputs.count
        p.pointee.output = messages(g.outputs) { valueInfo($0) }
        p.pointee.n_value_info = g.valueInfo.count
        p.pointee.value_info = messages(Array(g.valueInfo.values)) { valueInfo($0) }
        setUnknown(p, g.unknownFields + g.quantizationAnnotations.map { embedded(14, $0) }
                   + g.sparseInitializers.map { embedded(15, $0) })
        return p
    }

    private func node(_ n: Node) throws -> UnsafeMutablePointer<Onnx__NodeProto> {
        let p: UnsafeMutablePointer<Onnx__NodeProto> = message(onnx__node_proto__init)
        p.pointee.n_input = n.inputs.count
        p.pointee.input = cstrs(n.inputs)
        p.pointee.n_output = n.outputs.count
        p.pointee.output = cstrs(n.outputs)
        p.pointee.name = optstr(n.name)
        p.pointee.op_type = cstr(n.opType)
        p.pointee.domain = optstr(n.domain)
        p.pointee.doc_string = optstr(n.docString)
        p.pointee.n_attribute = n.attributes.count
        p.pointee.attribute = try messages(n.attributes, attribute)
        setUnknown(p, n.unknownFields)
        return p
    }

    private func attribute(_ a: Attribute) throws -> UnsafeMutablePointer<Onnx__AttributeProto> {
        let p: UnsafeMutablePointer<Onnx__AttributeProto> = message(onnx__attribute_proto__init)
        p.pointee.name = cstr(a.name)
        p.pointee.doc_string = optstr(a.docString)
        p.pointee.has_type = 1
        p.pointee.type = Onnx__AttributeProto__AttributeType(rawValue: UInt32(a.value.kind.rawValue))
        var unknown = a.unknownFields
        defer { setUnknown(p, unknown) }
        if let ref = a.referencedAttribute {
            p.pointee.ref_attr_name = cstr(ref)
            return p
        }
        switch a.value {
        case .float(let f): p.pointee.has_f = 1; p.pointee.f = f
        case .int(let i): p.pointee.has_i = 1; p.pointee.i = i
        case .string(let s): p.pointee.has_s = 1; p.pointee.s = binary(Array(s.utf8))
        case .tensor(let t): p.pointee.t = try tensor(t, mayBeExternal: false)
        case .graph(let g): p.pointee.g = try graph(g)
        case .sparseTensor(let m): unknown.append(embedded(22, m))
        case .type(let t): p.pointee.tp = type(t)
        case .floats(let fs): p.pointee.n_floats = fs.count; p.pointee.floats = copy(fs)
        case .ints(let xs): p.pointee.n_ints = xs.count; p.pointee.ints = copy(xs)
        case .strings(let ss):
            p.pointee.n_strings = ss.count
            p.pointee.strings = copy(ss.map { binary(Array($0.utf8)) })
        case .tensors(let ts):
            p.pointee.n_tensors = ts.count
            p.pointee.tensors = try messages(ts) { try tensor($0, mayBeExternal: false) }
        case .graphs(let gs):
            p.pointee.n_graphs = gs.count
            p.pointee.graphs = try messages(gs, graph)
        case .sparseTensors(let ms): unknown += ms.map { embedded(23, $0) }
        case .types(let ts):
            p.pointee.n_type_protos = ts.count
            p.pointee.type_protos = messages(ts) { type($0) }
        }
        return p
    }

    private func tensor(_ t: Tensor, mayBeExternal: Bool) throws -> UnsafeMutablePointer<Onnx__TensorProto> {
        let p: UnsafeMutablePointer<Onnx__TensorProto> = message(onnx__tensor_proto__init)
        p.pointee.name = optstr(t.name)
        p.pointee.doc_string = optstr(t.docString)
        p.pointee.has_data_type = 1
        p.pointee.data_type = t.elementType.rawValue
        p.pointee.n_dims = t.shape.count
        p.pointee.dims = copy(t.shape.map { Int64($0) })
        setUnknown(p, t.unknownFields)
        switch t.data {
        case .strings(let ss):
            p.pointee.n_string_data = ss.count
            p.pointee.string_data = copy(ss.map { binary($0) })
        case .bytes(let b):
            if mayBeExternal, let external, b.count >= external.threshold {
                let (offset, length) = try external.append(b)
                p.pointee.has_data_location = 1
                p.pointee.data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL
                let entries = [("location", external.location), ("offset", String(offset)), ("length", String(length))]
                p.pointee.n_external_data = entries.count
                p.pointee.external_data = messages(entries) { kv in
                    let e: UnsafeMutablePointer<Onnx__StringStringEntryProto> = message(onnx__string_string_entry_proto__init)
                    e.pointee.key = cstr(kv.0)
                    e.pointee.value = cstr(kv.1)
                    return e
                }
            } else {
                p.pointee.has_raw_data = 1
                p.pointee.raw_data = ProtobufCBinaryData(len: b.count, data: UnsafeMutablePointer(mutating: b.baseAddress?.assumingMemoryBound(to: UInt8.self)))
            }
        }
        return p
    }

    private func valueInfo(_ v: ValueInfo) -> UnsafeMutablePointer<Onnx__ValueInfoProto> {
        let p: UnsafeMutablePointer<Onnx__ValueInfoProto> = message(onnx__value_info_proto__init)
        p.pointee.name = cstr(v.name)
        p.pointee.doc_string = optstr(v.docString)
        if let t = v.type { p.pointee.type = type(t) }
        setUnknown(p, v.unknownFields)
        return p
    }

    private func type(_ t: ValueType) -> UnsafeMutablePointer<Onnx__TypeProto> {
        let p: UnsafeMutablePointer<Onnx__TypeProto> = message(onnx__type_proto__init)
        func sub(_ e: ValueType?) -> UnsafeMutablePointer<Onnx__TypeProto>? { e.map { type($0) } }
        switch t {
        case .tensor(let tt):
            let q: UnsafeMutablePointer<Onnx__TypeProto__Tensor> = message(onnx__type_proto__tensor__init)
            if tt.elementType != .undefined { q.pointee.has_elem_type = 1; q.pointee.elem_type = tt.elementType.rawValue }
            q.pointee.shape = shape(tt.shape)
            p.pointee.value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE
            p.pointee.tensor_type = q
        case .sparseTensor(let tt):
            let q: UnsafeMutablePointer<Onnx__TypeProto__SparseTensor> = message(onnx__type_proto__sparse_tensor__init)
            if tt.elementType != .undefined { q.pointee.has_elem_type = 1; q.pointee.elem_type = tt.elementType.rawValue }
            q.pointee.shape = shape(tt.shape)
            p.pointee.value_case = ONNX__TYPE_PROTO__VALUE_SPARSE_TENSOR_TYPE
            p.pointee.sparse_tensor_type = q
        case .sequence(let e):
            let q: UnsafeMutablePointer<Onnx__TypeProto__Sequence> = message(onnx__type_proto__sequence__init)
            q.pointee.elem_type = sub(e)
            p.pointee.value_case = ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE
            p.pointee.sequence_type = q
        case .optional(let e):
            let q: UnsafeMutablePointer<Onnx__TypeProto__Optional> = message(onnx__type_proto__optional__init)
            q.pointee.elem_type = sub(e)
            p.pointee.value_case = ONNX__TYPE_PROTO__VALUE_OPTIONAL_TYPE
            p.pointee.optional_type = q
        case .map(let k, let v):
            let q: UnsafeMutablePointer<Onnx__TypeProto__Map> = message(onnx__type_proto__map__init)
            if k != .undefined { q.pointee.has_key_type = 1; q.pointee.key_type = k.rawValue }
            q.pointee.value_type = sub(v)
            p.pointee.value_case = ONNX__TYPE_PROTO__VALUE_MAP_TYPE
            p.pointee.map_type = q
        }
        return p
    }

    private func shape(_ dims: [Dim]?) -> UnsafeMutablePointer<Onnx__TensorShapeProto>? {
        guard let dims else { return nil }
        let s: UnsafeMutablePointer<Onnx__TensorShapeProto> = message(onnx__tensor_shape_proto__init)
        s.pointee.n_dim = dims.count
        s.pointee.dim = messages(dims) { d in
            let q: UnsafeMutablePointer<Onnx__TensorShapeProto__Dimension> = message(onnx__tensor_shape_proto__dimension__init)
            switch d {
            case .fixed(let v):
                q.pointee.value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE
                q.pointee.dim_value = Int64(v)
            case .symbolic(let name):
                q.pointee.value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM
                q.pointee.dim_param = cstr(name)
            case .unknown: break
            }
            return q
        }
        return s
    }
}
