/// Checks ``ImportLimits`` on the raw protobuf bytes, before protobuf-c decodes them.
///
/// protobuf-c decodes nested messages recursively without a depth bound, so a file of a
/// few megabytes nesting If bodies (graph → node → attribute → graph …) or sequence types a
/// million deep would overflow the stack inside the decoder; and it allocates every node
/// before quantc sees one. This scan walks the wire format (protobuf encoding spec,
/// "Message Structure") along onnx.proto's schema, only through the fields that nest
/// graphs and types or hold names and strings, iteratively per message and recursing
/// only as deep as the limit allows. Malformed wire data ends the scan quietly: protobuf-c
/// rejects it next with the usual error.
struct LimitScan {
    let file: String
    let limits: ImportLimits
    private var nodes = 0

    init(file: String, limits: ImportLimits) {
        self.file = file
        self.limits = limits
    }

    /// One field of a message: number, and for length-delimited fields the payload.
    private struct Field {
        var number: UInt64
        var payload: UnsafeRawBufferPointer?
    }

    /// Reads the fields of one message; stops (returns what it read) on malformed data.
    private static func fields(_ b: UnsafeRawBufferPointer, _ body: (Field) throws(ImportError) -> Void) throws(ImportError) {
        var i = 0
        func varint() -> UInt64? {
            var v: UInt64 = 0, shift: UInt64 = 0
            while i < b.count, shift < 64 {
                let byte = b[i]; i += 1
                v |= UInt64(byte & 0x7F) << shift
                if byte & 0x80 == 0 { return v }
                shift += 7
            }
            return nil
        }
        while i < b.count {
            guard let tag = varint() else { return }
            switch tag & 7 {
            case 0: guard varint() != nil else { return }
            case 1: guard b.count - i >= 8 else { return }; i += 8
            case 5: guard b.count - i >= 4 else { return }; i += 4
            case 2:
                guard let n = varint(), n <= UInt64(b.count - i) else { return }
                let payload = UnsafeRawBufferPointer(rebasing: b[i..<(i + Int(n))])
                i += Int(n)
                try body(Field(number: tag >> 3, payload: payload))
            default: return  // groups (3, 4) are not in onnx.proto; protobuf-c decides
            }
        }
    }

    private func text(_ p: UnsafeRawBufferPointer, max: Int) -> String {
        String(decoding: p.prefix(min(max, 40)), as: UTF8.self) + (p.count > 40 ? "…" : "")
    }

    /// The error, with the path to the place shortened to its first and last steps.
    private func fail(_ place: [String], _ problem: String) -> ImportError {
        let shown = place.count > 6 ? place.prefix(3) + ["…"] + place.suffix(2) : place[...]
        return .limitExceeded(file: file, where: shown.joined(separator: " → "), problem: problem)
    }

    private func name(_ p: UnsafeRawBufferPointer, _ what: String, _ place: [String]) throws(ImportError) {
        guard p.count <= limits.maxNameBytes else {
            throw fail(place, "\(what) '\(text(p, max: 40))' is \(p.count) bytes long, over the limit of \(limits.maxNameBytes) (maxNameBytes)")
        }
    }

    private func string(_ p: UnsafeRawBufferPointer, _ what: String, _ place: [String]) throws(ImportError) {
        guard p.count <= limits.maxStringBytes else {
            throw fail(place, "\(what) is \(ImportLimits.describe(bytes: p.count)) long, over the limit of \(ImportLimits.describe(bytes: limits.maxStringBytes)) (maxStringBytes)")
        }
    }

    // MARK: - onnx.proto messages (field numbers from /usr/include/onnx/onnx.proto)

    mutating func model(_ b: UnsafeRawBufferPointer) throws(ImportError) {
        let place = ["model"]
        try Self.fields(b) { (f) throws(ImportError) in
            guard let p = f.payload else { return }
            switch f.number {
            case 2, 3, 4: try name(p, "producer/domain", place)
            case 6: try string(p, "the doc string", place)
            case 7: try graph(p, depth: 1, place: [])
            case 14: try stringEntry(p, "metadata entry", place)
            case 20:  // TrainingInfoProto: initialization 1, algorithm 2
                try Self.fields(p) { (g) throws(ImportError) in
                    if (g.number == 1 || g.number == 2), let q = g.payload { try graph(q, depth: 1, place: ["training info"]) }
                }
            case 25: try function(p)
            default: break
            }
        }
    }

    private func stringEntry(_ b: UnsafeRawBufferPointer, _ what: String, _ place: [String]) throws(ImportError) {
        try Self.fields(b) { (f) throws(ImportError) in
            if let p = f.payload { try string(p, what, place) }
        }
    }

    private mutating func function(_ b: UnsafeRawBufferPointer) throws(ImportError) {
        var place = ["function"]
        try Self.fields(b) { (f) throws(ImportError) in
            guard let p = f.payload else { return }
            switch f.number {
            case 1:
                try name(p, "the function name", place)
                place = ["function '\(text(p, max: 40))'"]
            case 4, 5, 6, 10: try name(p, "a name", place)
            case 7: try node(p, depth: 1, place: place)
            case 8: try string(p, "the doc string", place)
            default: break
            }
        }
    }

    private mutating func graph(_ b: UnsafeRawBufferPointer, depth: Int, place: [String]) throws(ImportError) {
        guard depth <= limits.maxNesting else {
            throw fail(place, "subgraphs nest \(depth) deep, over the limit of \(limits.maxNesting) (maxNesting)")
        }
        var place = place + ["graph"]
        try Self.fields(b) { (f) throws(ImportError) in
            guard let p = f.payload else { return }
            switch f.number {
            case 1: try node(p, depth: depth, place: place)
            case 2:
                try name(p, "the graph name", place)
                place[place.count - 1] = "graph '\(text(p, max: 40))'"
            case 5: try tensor(p, place: place)
            case 10: try string(p, "the doc string", place)
            case 11, 12, 13: try valueInfo(p, place: place)
            default: break
            }
        }
    }

    private mutating func node(_ b: UnsafeRawBufferPointer, depth: Int, place: [String]) throws(ImportError) {
        nodes += 1
        guard nodes <= limits.maxNodes else {
            throw fail(place, "the model has more than \(limits.maxNodes) nodes (maxNodes)")
        }
        var label = "node #\(nodes)"
        var attributes = 0
        try Self.fields(b) { (f) throws(ImportError) in
            guard let p = f.payload else { return }
            switch f.number {
            case 1, 2, 4, 7: try name(p, "an input, output, op type or domain name", place + [label])
            case 3:
                try name(p, "the node name", place + [label])
                label = "node '\(text(p, max: 40))'"
            case 5:
                attributes += 1
                guard attributes <= limits.maxAttributesPerNode else {
                    throw fail(place + [label], "the node has more than \(limits.maxAttributesPerNode) attributes (maxAttributesPerNode)")
                }
                try attribute(p, depth: depth, place: place + [label])
            case 6: try string(p, "the doc string", place + [label])
            default: break
            }
        }
    }

    private mutating func attribute(_ b: UnsafeRawBufferPointer, depth: Int, place: [String]) throws(ImportError) {
        var place = place + ["attribute"]
        try Self.fields(b) { (f) throws(ImportError) in
            guard let p = f.payload else { return }
            switch f.number {
            case 1, 21:
                try name(p, "the attribute name", place)
                if f.number == 1 { place[place.count - 1] = "attribute '\(text(p, max: 40))'" }
            case 4, 9: try string(p, "a string value", place)
            case 13: try string(p, "the doc string", place)
            case 5, 10: try tensor(p, place: place)
            case 6, 11: try graph(p, depth: depth + 1, place: place)
            case 14, 15: try type(p, depth: 1, place: place)
            default: break
            }
        }
    }

    private func tensor(_ b: UnsafeRawBufferPointer, place: [String]) throws(ImportError) {
        var place = place + ["tensor"]
        try Self.fields(b) { (f) throws(ImportError) in
            guard let p = f.payload else { return }
            switch f.number {
            case 8:
                try name(p, "the tensor name", place)
                place[place.count - 1] = "tensor '\(text(p, max: 40))'"
            case 6: try string(p, "a string_data entry", place)
            case 12: try string(p, "the doc string", place)
            case 13: try stringEntry(p, "an external_data entry", place)
            default: break
            }
        }
    }

    private func valueInfo(_ b: UnsafeRawBufferPointer, place: [String]) throws(ImportError) {
        var place = place + ["value"]
        try Self.fields(b) { (f) throws(ImportError) in
            guard let p = f.payload else { return }
            switch f.number {
            case 1:
                try name(p, "the value name", place)
                place[place.count - 1] = "value '\(text(p, max: 40))'"
            case 2: try type(p, depth: 1, place: place)
            case 3: try string(p, "the doc string", place)
            default: break
            }
        }
    }

    /// TypeProto: sequence_type 4 and optional_type 9 hold elem_type 1, map_type 5 holds
    /// value_type 2; tensor_type 1 and sparse_tensor_type 8 hold a shape 2 of dims 1.
    private func type(_ b: UnsafeRawBufferPointer, depth: Int, place: [String]) throws(ImportError) {
        guard depth <= limits.maxNesting else {
            throw fail(place, "types nest \(depth) deep (sequence/map/optional), over the limit of \(limits.maxNesting) (maxNesting)")
        }
        try Self.fields(b) { (f) throws(ImportError) in
            guard let p = f.payload else { return }
            switch f.number {
            case 4, 9, 5:
                let inner: UInt64 = f.number == 5 ? 2 : 1
                try Self.fields(p) { (g) throws(ImportError) in
                    if g.number == inner, let q = g.payload { try type(q, depth: depth + 1, place: place) }
                }
            case 1, 8:
                try Self.fields(p) { (s) throws(ImportError) in
                    guard s.number == 2, let shape = s.payload else { return }
                    try Self.fields(shape) { (d) throws(ImportError) in
                        guard d.number == 1, let dim = d.payload else { return }
                        try Self.fields(dim) { (v) throws(ImportError) in
                            if let q = v.payload { try name(q, "a dimension name", place) }
                        }
                    }
                }
            case 6: try name(p, "the type denotation", place)
            default: break
            }
        }
    }
}
