import CONNX
import IR

/// Converts decoded protobuf-c messages into IR values, checking each tensor's
/// data against its shape and type as it goes.
struct ProtoReader {
    let file: String
    /// Owns the decoded message inline bytes point into; nil when the caller copies them.
    let owner: DecodedModel?
    let external: ExternalDataFiles
    let limits: ImportLimits

    mutating func model(_ m: Onnx__ModelProto) throws(ImportError) -> Model {
        guard let g = m.graph else { throw .missingGraph(file: file) }
        return Model(
            irVersion: m.has_ir_version != 0 ? m.ir_version : 0,
            opsetImports: array(m.opset_import, m.n_opset_import).compactMap { $0.map(opset) },
            producerName: str(m.producer_name), producerVersion: str(m.producer_version),
            domain: str(m.domain), modelVersion: m.has_model_version != 0 ? m.model_version : 0,
            docString: str(m.doc_string),
            metadata: array(m.metadata_props, m.n_metadata_props).compactMap { $0.map { (str($0.pointee.key), str($0.pointee.value)) } },
            graph: try graph(g.pointee),
            functions: try mapMessages(m.functions, m.n_functions) { (f) throws(ImportError) in try function(f) },
            trainingInfo: array(m.training_info, m.n_training_info).map { opaque($0) },
            unknownFields: unknownFields(m.base))
    }

    func opset(_ p: UnsafeMutablePointer<Onnx__OperatorSetIdProto>) -> OpsetImport {
        OpsetImport(domain: str(p.pointee.domain), version: p.pointee.has_version != 0 ? p.pointee.version : 0)
    }

    mutating func graph(_ g: Onnx__GraphProto) throws(ImportError) -> Graph {
        var out = Graph(name: str(g.name), docString: str(g.doc_string))
        out.inputs = try mapMessages(g.input, g.n_input, valueInfo)
        out.outputs = try mapMessages(g.output, g.n_output, valueInfo)
        for p in array(g.value_info, g.n_value_info) {
            guard let p else { continue }
            let v = try valueInfo(p.pointee)
            out.valueInfo[v.name] = v
        }
        out.initializers.reserveCapacity(g.n_initializer)
        for p in array(g.initializer, g.n_initializer) {
            guard let p else { continue }
            let t = try tensor(p.pointee, context: nil)
            guard out.initializers.updateValue(t, forKey: t.name) == nil else {
                throw .badTensor(file: file, tensor: t.name, problem: "two initializers have this name")
            }
        }
        out.nodes = try mapMessages(g.node, g.n_node) { (n) throws(ImportError) in try node(n) }
        out.sparseInitializers = array(g.sparse_initializer, g.n_sparse_initializer).map { opaque($0) }
        out.quantizationAnnotations = array(g.quantization_annotation, g.n_quantization_annotation).map { opaque($0) }
        out.unknownFields = unknownFields(g.base)
        return out
    }

    mutating func function(_ f: Onnx__FunctionProto) throws(ImportError) -> Function {
        Function(name: str(f.name), domain: str(f.domain), inputs: strings(f.input, f.n_input),
                 outputs: strings(f.output, f.n_output), attributeNames: strings(f.attribute, f.n_attribute),
                 nodes: try mapMessages(f.node, f.n_node) { (n) throws(ImportError) in try node(n) },
                 opsetImports: array(f.opset_import, f.n_opset_import).compactMap { $0.map(opset) },
                 docString: str(f.doc_string), unknownFields: unknownFields(f.base))
    }

    mutating func node(_ n: Onnx__NodeProto) throws(ImportError) -> Node {
        var out = Node(name: str(n.name), opType: str(n.op_type), domain: str(n.domain),
                       inputs: strings(n.input, n.n_input), outputs: strings(n.output, n.n_output),
                       docString: str(n.doc_string), unknownFields: unknownFields(n.base))
        out.attributes.reserveCapacity(n.n_attribute)
        for p in array(n.attribute, n.n_attribute) {
            guard let p else { continue }
            out.attributes.append(try attribute(p.pointee, node: out))
        }
        return out
    }

    func valueInfo(_ v: Onnx__ValueInfoProto) throws(ImportError) -> ValueInfo {
        let name = str(v.name)
        return ValueInfo(name: name, type: try v.type.map { (p) throws(ImportError) in try type(p.pointee, value: name) } ?? nil,
                         docString: str(v.doc_string), unknownFields: unknownFields(v.base))
    }

    func elementType(_ code: Int32, value: String) throws(ImportError) -> ElementType {
        guard let t = ElementType(rawValue: code) else {
            throw .badType(file: file, value: value, problem: "unknown element type \(code)")
        }
        return t
    }

    func type(_ t: Onnx__TypeProto, value: String) throws(ImportError) -> ValueType? {
        func tensorType(_ elem: Int32, _ hasElem: protobuf_c_boolean, _ shape: UnsafeMutablePointer<Onnx__TensorShapeProto>?) throws(ImportError) -> TensorType {
            let e = hasElem != 0 ? try elementType(elem, value: value) : .undefined
            guard let shape else { return TensorType(e, nil) }
            let dims = array(shape.pointee.dim, shape.pointee.n_dim).map { p -> Dim in
                guard let d = p?.pointee else { return .unknown }
                switch d.value_case {
                case ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE: return .fixed(Int(d.dim_value))
                case ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM: return .symbolic(str(d.dim_param))
                default: return .unknown
                }
            }
            return TensorType(e, dims)
        }
        func sub(_ p: UnsafeMutablePointer<Onnx__TypeProto>?) throws(ImportError) -> ValueType? {
            guard let p else { return nil }
            return try type(p.pointee, value: value)
        }
        switch t.value_case {
        case ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE:
            let tt = t.tensor_type.pointee
            return .tensor(try tensorType(tt.elem_type, tt.has_elem_type, tt.shape))
        case ONNX__TYPE_PROTO__VALUE_SPARSE_TENSOR_TYPE:
            let tt = t.sparse_tensor_type.pointee
            return .sparseTensor(try tensorType(tt.elem_type, tt.has_elem_type, tt.shape))
        case ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE:
            return .sequence(try sub(t.sequence_type.pointee.elem_type))
        case ONNX__TYPE_PROTO__VALUE_OPTIONAL_TYPE:
            return .optional(try sub(t.optional_type.pointee.elem_type))
        case ONNX__TYPE_PROTO__VALUE_MAP_TYPE:
            let m = t.map_type.pointee
            return .map(key: m.has_key_type != 0 ? try elementType(m.key_type, value: value) : .undefined,
                        value: try sub(m.value_type))
        default:
            return nil
        }
    }
}
