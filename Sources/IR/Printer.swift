/// Prints the IR as stable text: the same model always prints the same bytes,
/// so golden-file tests can compare it before and after a pass.
///
/// ```
/// model ir=8 opsets=[ai.onnx:17] producer="quantc-tools"
/// graph "digits_mlp" (%input: f32[N,64]) -> (%probs: f32[N,10]) {
///   init %fc1.weight: f32[64,64] fnv=0x1b2c... [0.1, -0.2, ...]
///   %h = Gemm "fc1" (%input, %fc1.weight, %fc1.bias) {transB=1} : f32[N,64]
/// }
/// ```
public struct Printer {
    /// How many tensor values to show before eliding the rest.
    public var valuesShown = 6
    private var out = ""

    public init(valuesShown: Int = 6) { self.valuesShown = valuesShown }

    public static func print(_ model: Model) -> String {
        var p = Printer()
        p.model(model)
        return p.out
    }

    public static func print(_ graph: Graph) -> String {
        var p = Printer()
        p.graph(graph, indent: "")
        return p.out
    }

    private mutating func line(_ indent: String, _ text: String) {
        out += indent
        out += text
        out += "\n"
    }

    private mutating func model(_ m: Model) {
        var head = "model ir=\(m.irVersion) opsets=[\(m.opsetImports.map { "\($0.domain.isEmpty ? "ai.onnx" : $0.domain):\($0.version)" }.joined(separator: ", "))]"
        if !m.producerName.isEmpty || !m.producerVersion.isEmpty {
            head += " producer=\(quote([m.producerName, m.producerVersion].filter { !$0.isEmpty }.joined(separator: " ")))"
        }
        if m.modelVersion != 0 { head += " version=\(m.modelVersion)" }
        line("", head)
        for kv in m.metadata { line("", "meta \(quote(kv.key)) = \(quote(kv.value))") }
        if let c = m.quantization.calibration { line("", "calibration \(quote(c))") }
        for (name, r) in m.quantization.ranges.sorted(by: { $0.key < $1.key }) {
            line("", "range \(Self.value(name)) = [\(Self.float(r.low)), \(Self.float(r.high))]")
        }
        if !m.quantization.candidates.isEmpty {
            line("", "range-candidates [\(m.quantization.candidates.map { quote($0.method) }.joined(separator: ", "))]")
        }
        if let a = m.quantization.activations { line("", "activations \(a)") }
        if !m.quantization.excluded.isEmpty { line("", "excluded [\(m.quantization.excluded.map(quote).joined(separator: ", "))]") }
        for l in m.quantization.layers {
            var text = "layer \(quote(l.node)) \(l.opType) weight=\(Self.value(l.weight)) format=\(l.format)"
            if let q = l.quantized {
                var h = FNV1a64()
                q.values.withUnsafeBytes { h.add(bytes: $0) }
                q.scales.withUnsafeBytes { h.add(bytes: $0) }
                q.zeroPoints.withUnsafeBytes { h.add(bytes: $0) }
                text += " rounded=\(q.rounding) scales=\(q.scaleShape) hash=\(String(h.value, radix: 16))"
            }
            if let r = l.reason { text += " reason=\(quote(r))" }
            for (k, v) in l.metrics.sorted(by: { $0.key < $1.key }) { text += " \(k)=\(Self.double(v))" }
            line("", text)
        }
        if !m.quantization.candidateFormats.isEmpty {
            line("", "candidate-formats [\(m.quantization.candidateFormats.map(\.description).joined(separator: ", "))]")
        }
        for t in m.quantization.sensitivities {
            var header = "sensitivity \(quote(t.method)) unit=\(quote(t.unit))"
            if let r = t.spearman { header += " spearman=\(Self.double(r))" }
            if let by = t.spearmanByFormat, !by.isEmpty {
                header += " spearman-by-format=[\(by.sorted(by: { $0.key < $1.key }).map { "\($0.key)=\(Self.double($0.value))" }.joined(separator: " "))]"
            }
            line("", header + " {")
            for (node, byFormat) in t.scores.sorted(by: { $0.key < $1.key }) {
                let cells = byFormat.sorted(by: { $0.key < $1.key }).map { "\($0.key)=\(Self.double($0.value))" }
                line("  ", "\(quote(node)): \(cells.joined(separator: " "))")
            }
            line("", "}")
        }
        if let a = m.quantization.allocation {
            line("", "allocation budget=\(quote(a.budget)) objective=\(quote(a.objective)) solver=\(quote(a.solver)) predicted=\(Self.double(a.predicted)) bits=\(Self.double(a.averageBits)) bytes=\(a.bytes)")
        }
        graph(m.graph, indent: "")
        for f in m.functions {
            let name = f.domain.isEmpty ? f.name : "\(f.domain).\(f.name)"
            let attrs = f.attributeNames.isEmpty ? "" : " <\(f.attributeNames.joined(separator: ", "))>"
            line("", "func \(name)\(attrs)(\(f.inputs.map(Self.value).joined(separator: ", "))) -> (\(f.outputs.map(Self.value).joined(separator: ", "))) {")
            for n in f.nodes { node(n, in: nil, indent: "  ") }
            line("", "}")
        }
    }

    private mutating func graph(_ g: Graph, indent: String) {
        let ins = g.inputs.filter { g.initializers[$0.name] == nil }.map(valueDecl).joined(separator: ", ")
        let outs = g.outputs.map(valueDecl).joined(separator: ", ")
        line(indent, "graph \(quote(g.name)) (\(ins)) -> (\(outs)) {")
        let inner = indent + "  "
        for (name, t) in g.initializers {
            let isInput = g.inputs.contains { $0.name == name }
            line(inner, "init \(Self.value(name)): \(t.type)\(isInput ? " (overridable)" : "") \(tensorSummary(t))")
        }
        for n in g.nodes { node(n, in: g, indent: inner) }
        line(indent, "}")
    }

    private mutating func node(_ n: Node, in g: Graph?, indent: String) {
        let outs = n.outputs.map { $0.isEmpty ? "_" : Self.value($0) }.joined(separator: ", ")
        let op = n.isDefaultDomain ? n.opType : "\(n.domain)::\(n.opType)"
        let name = n.name.isEmpty ? "" : " \(quote(n.name))"
        let ins = n.inputs.map { $0.isEmpty ? "_" : Self.value($0) }.joined(separator: ", ")
        var text = "\(outs) = \(op)\(name) (\(ins))"
        let simple = n.attributes.filter { $0.value.kind != .graph && $0.value.kind != .graphs }
        if !simple.isEmpty { text += " {" + simple.map(attribute).joined(separator: ", ") + "}" }
        if let g {
            let types = n.outputs.map { o in o.isEmpty ? "_" : g.type(of: o)?.description ?? "?" }
            if types.contains(where: { $0 != "?" && $0 != "_" }) { text += " : " + types.joined(separator: ", ") }
        }
        let subgraphs = n.attributes.filter { $0.value.kind == .graph || $0.value.kind == .graphs }
        if subgraphs.isEmpty {
            line(indent, text)
            return
        }
        line(indent, text + " {")
        for a in subgraphs {
            line(indent + "  ", "\(a.name):")
            switch a.value {
            case .graph(let sg): graph(sg, indent: indent + "    ")
            case .graphs(let gs): for sg in gs { graph(sg, indent: indent + "    ") }
            default: break
            }
        }
        line(indent, "}")
    }

    private func attribute(_ a: Attribute) -> String {
        if let ref = a.referencedAttribute { return "\(a.name)=@\(ref)" }
        return "\(a.name)=\(attributeValue(a.value))"
    }

    private func attributeValue(_ v: AttributeValue) -> String {
        switch v {
        case .float(let f): Self.float(f)
        case .int(let i): String(i)
        case .string(let s): quote(s)
        case .tensor(let t): "tensor<\(t.type)> \(tensorSummary(t))"
        case .sparseTensor(let m): "sparse_tensor<\(m.bytes.count) bytes>"
        case .type(let t): "type<\(t)>"
        case .floats(let fs): "[" + fs.map(Self.float).joined(separator: ", ") + "]"
        case .ints(let xs): "[" + xs.map(String.init).joined(separator: ", ") + "]"
        case .strings(let ss): "[" + ss.map(quote).joined(separator: ", ") + "]"
        case .tensors(let ts): "[" + ts.map { "tensor<\($0.type)> \(tensorSummary($0))" }.joined(separator: ", ") + "]"
        case .sparseTensors(let ms): "[\(ms.count) sparse tensors]"
        case .types(let ts): "[" + ts.map { "type<\($0)>" }.joined(separator: ", ") + "]"
        case .graph, .graphs: "<graph>"
        }
    }

    /// A tensor's content digest and first values.
    private func tensorSummary(_ t: Tensor) -> String {
        switch t.data {
        case .strings(let ss):
            let shown = ss.prefix(valuesShown).map { quote(String(decoding: $0, as: UTF8.self)) }
            return "[" + shown.joined(separator: ", ") + (ss.count > valuesShown ? ", ..." : "") + "]"
        case .bytes(let b):
            var text = String(format16: b.fnv1a64)
            let n = t.elementCount
            if let ints = t.elementType.isFloatingPoint ? nil : t.int64Values() {
                text += " [" + ints.prefix(valuesShown).map(String.init).joined(separator: ", ") + (n > valuesShown ? ", ..." : "") + "]"
            } else if t.elementType.isComputable, let fs = t.floatValues() {
                text += " [" + fs.prefix(valuesShown).map(Self.float).joined(separator: ", ") + (n > valuesShown ? ", ..." : "") + "]"
            }
            return text
        }
    }

    private func valueDecl(_ v: ValueInfo) -> String {
        "\(Self.value(v.name)): \(v.type?.description ?? "?")"
    }

    /// `%name`, quoted when the name is not a plain identifier.
    static func value(_ name: String) -> String {
        let plain = !name.isEmpty && name.utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x5F || c == 0x2E || c == 0x3A || c == 0x2F || c == 0x2D
        }
        return plain ? "%" + name : "%" + quote(name)
    }

    /// Doubles print at float precision: scores computed with BLAS can differ
    /// in their last bits between machines, and goldens should not.
    static func double(_ d: Double) -> String { float(Float(d)) }

    static func float(_ f: Float) -> String {
        if f.isNaN { return "nan" }
        if f.isInfinite { return f < 0 ? "-inf" : "inf" }
        return f.description
    }
}

private func quote(_ s: String) -> String {
    var out = "\""
    for ch in s.unicodeScalars {
        switch ch {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\t": out += "\\t"
        default:
            if ch.value < 0x20 { out += "\\u{\(String(ch.value, radix: 16))}" } else { out.unicodeScalars.append(ch) }
        }
    }
    return out + "\""
}

extension String {
    /// `fnv=0x` and 16 hex digits.
    init(format16 h: UInt64) {
        let hex = String(h, radix: 16)
        self = "fnv=0x" + String(repeating: "0", count: 16 - hex.count) + hex
    }
}
