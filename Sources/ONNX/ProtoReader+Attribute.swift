import CONNX
import IR

extension ProtoReader {
    /// Converts an `AttributeProto`. The declared type must agree with the one
    /// value field that is set; old files without a type get it inferred.
    mutating func attribute(_ a: Onnx__AttributeProto, node: Node) throws(ImportError) -> Attribute {
        let name = str(a.name)
        func fail(_ problem: String) -> ImportError {
            .badAttribute(file: file, node: node.label, attribute: name, problem: problem)
        }
        var populated: [AttributeKind] = []
        if a.has_f != 0 { populated.append(.float) }
        if a.has_i != 0 { populated.append(.int) }
        if a.has_s != 0 { populated.append(.string) }
        if a.t != nil { populated.append(.tensor) }
        if a.g != nil { populated.append(.graph) }
        if a.sparse_tensor != nil { populated.append(.sparseTensor) }
        if a.tp != nil { populated.append(.typeProto) }
        if a.n_floats > 0 { populated.append(.floats) }
        if a.n_ints > 0 { populated.append(.ints) }
        if a.n_strings > 0 { populated.append(.strings) }
        if a.n_tensors > 0 { populated.append(.tensors) }
        if a.n_graphs > 0 { populated.append(.graphs) }
        if a.n_sparse_tensors > 0 { populated.append(.sparseTensors) }
        if a.n_type_protos > 0 { populated.append(.typeProtos) }

        let kind: AttributeKind
        if a.has_type != 0 && a.type.rawValue != 0 {
            guard let k = AttributeKind(rawValue: Int32(a.type.rawValue)) else {
                throw fail("has unknown attribute type \(a.type.rawValue)")
            }
            if let other = populated.first(where: { $0 != k }) {
                throw fail("is declared \(k.name) but holds a \(other.name) value")
            }
            kind = k
        } else {
            guard populated.count <= 1 else { throw fail("holds several values (\(populated.map(\.name).joined(separator: ", ")))") }
            guard let k = populated.first else { throw fail("has neither a type nor a value") }
            kind = k
        }

        let ref = str(a.ref_attr_name)
        let docString = str(a.doc_string)
        let unknown = unknownFields(a.base)
        if !ref.isEmpty {
            return Attribute(name, kind.placeholder, referencedAttribute: ref, docString: docString, unknownFields: unknown)
        }
        let context = "attribute '\(name)' of node \(node.label)"
        let value: AttributeValue
        switch kind {
        case .float: value = .float(a.f)
        case .int: value = .int(a.i)
        case .string: value = .string(String(decoding: UnsafeBufferPointer(start: a.s.data, count: a.s.len), as: UTF8.self))
        case .tensor:
            guard let t = a.t else { throw fail("is declared tensor but has no tensor") }
            value = .tensor(try tensor(t.pointee, context: context))
        case .graph:
            guard let g = a.g else { throw fail("is declared graph but has no graph") }
            value = .graph(try graph(g.pointee))
        case .sparseTensor: value = .sparseTensor(opaque(a.sparse_tensor))
        case .typeProto:
            guard let tp = a.tp, let t = try type(tp.pointee, value: context) else { throw fail("has an empty type") }
            value = .type(t)
        case .floats: value = .floats(Array(array(a.floats, a.n_floats)))
        case .ints: value = .ints(Array(array(a.ints, a.n_ints)))
        case .strings:
            value = .strings(array(a.strings, a.n_strings).map {
                String(decoding: UnsafeBufferPointer(start: $0.data, count: $0.len), as: UTF8.self)
            })
        case .tensors:
            var ts: [Tensor] = []
            for p in array(a.tensors, a.n_tensors) { if let p { ts.append(try tensor(p.pointee, context: context)) } }
            value = .tensors(ts)
        case .graphs:
            var gs: [Graph] = []
            for p in array(a.graphs, a.n_graphs) { if let p { gs.append(try graph(p.pointee)) } }
            value = .graphs(gs)
        case .sparseTensors: value = .sparseTensors(array(a.sparse_tensors, a.n_sparse_tensors).map { opaque($0) })
        case .typeProtos:
            var ts: [ValueType] = []
            for p in array(a.type_protos, a.n_type_protos) {
                if let p, let t = try type(p.pointee, value: context) { ts.append(t) }
            }
            value = .types(ts)
        }
        return Attribute(name, value, docString: docString, unknownFields: unknown)
    }
}
