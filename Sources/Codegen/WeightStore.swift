import Artifact
import IR
import Interpreter

/// The blobs of `weights.bin`, in the order they were added (graph order),
/// each at a 256-byte aligned offset.
struct WeightStore {
    private(set) var blobs: [WeightBlob] = []
    private(set) var bytes: [UInt8] = []
    private var index: [String: Int] = [:]

    func contains(_ name: String) -> Bool { index[name] != nil }
    func blob(_ name: String) -> WeightBlob? { index[name].map { blobs[$0] } }

    mutating func add(_ name: String, elementType: String, shape: [Int], data: [UInt8]) {
        guard index[name] == nil else { return }
        let offset = (bytes.count + Plan.alignment - 1) / Plan.alignment * Plan.alignment
        bytes += [UInt8](repeating: 0, count: offset - bytes.count)
        bytes += data
        index[name] = blobs.count
        blobs.append(WeightBlob(name: name, elementType: elementType, shape: shape, offset: offset, bytes: data.count))
    }

    mutating func addFloats(_ name: String, _ values: [Float], shape: [Int]) {
        add(name, elementType: "float32", shape: shape, data: values.withUnsafeBytes { Array($0) })
    }

    /// Pads the file to a multiple of the alignment (so the last blob's sub-buffer is in range).
    var fileBytes: [UInt8] {
        let end = (bytes.count + Plan.alignment - 1) / Plan.alignment * Plan.alignment
        return bytes + [UInt8](repeating: 0, count: end - bytes.count)
    }
}

/// A layer's weight as the GEMV/GEMM/convolution templates read it: `rows`
/// output rows of `k` elements, each row `rowBytes` (a multiple of 16) long;
/// scales (and zero points) kept in the DequantizeLinear's own layout, with
/// the `SIDX(n, k)` expression that finds an element's entry.
struct PackedWeight {
    var rows: Int, k: Int, bits: Int, signed: Bool, rowBytes: Int
    var values: String
    var scales: String?
    var zeroPoints: String?
    var scaleIndex: String
    /// Stored bytes the kernel reads (values, scales, zero points).
    var storedBytes: Int

    var defines: [(String, String)] {
        [("W_BITS", "\(bits)"), ("W_FLIP", bits == 32 || !signed ? "0u" : bits == 8 ? "0x80u" : "0x8u"),
         ("W_OFF", bits == 32 || !signed ? "0" : bits == 8 ? "128" : "8"), ("W_ZP", zeroPoints == nil ? "0" : "1"),
         ("SIDX(n, k)", scaleIndex), ("ROW_BYTES", "\(rowBytes)")]
    }
}

/// How a weight tensor maps to rows × k.
enum WeightLayout {
    /// Conv [OC][ICg][KH][KW]: row = oc, k = (ic·KH + kh)·KW + kw.
    case conv(khw: Int)
    /// [K][N] (MatMul, Gemm transB = 0): element (n, k) at k·N + n.
    case kByN
    /// [N][K] (Gemm transB = 1): element (n, k) at n·K + k.
    case nByK
}

extension WeightStore {
    /// Packs the weight input of `node` (a DequantizeLinear of a constant
    /// integer tensor, or a float constant), scaled by `alpha`.
    ///
    /// `rowMajorScales`: blocked scales of a [K][N] weight (ONNX's [K/B][N]) are stored
    /// transposed, [N][K/B], so that one row's scales are contiguous: the GEMV reads a
    /// row per lane group (CPU: per work-item), where the k-major order put each chunk's
    /// scale 4·N bytes from the last (20% of the CPU GEMV's time at 4096 × 4096).
    mutating func pack(weight value: String, graph g: LoweredGraph, layout: WeightLayout, rows: Int, k: Int,
                       alpha: Float, node: String, opType: String, rowMajorScales: Bool = false) throws(CodegenError) -> PackedWeight {
        func elementIndex(_ n: Int, _ kk: Int) -> Int {
            switch layout {
            case .conv, .nByK: n * k + kk
            case .kByN: kk * rows + n
            }
        }
        let name = "\(value).packed"
        if let dq = g.dequantizedConstants[value], let qt = g.graph.initializers[dq.inputs[0]],
           [.int8, .uint8, .int4, .uint4].contains(qt.elementType) {
            guard let q = qt.int64Values(), let scale = g.constant(dq.inputs[1]) else {
                throw .unsupported(node: node, opType: opType, detail: "weight '\(dq.inputs[0])' cannot be read")
            }
            let bits = qt.elementType == .int8 || qt.elementType == .uint8 ? 8 : 4
            let signed = qt.elementType == .int8 || qt.elementType == .int4
            let rowBytes = ((k * bits + 7) / 8 + 15) / 16 * 16
            var data = [UInt8](repeating: 0, count: rows * rowBytes)
            for n in 0..<rows {
                for kk in 0..<k {
                    let v = UInt8(truncatingIfNeeded: q[elementIndex(n, kk)])
                    if bits == 8 { data[n * rowBytes + kk] = v } else {
                        data[n * rowBytes + kk / 2] |= (v & 0x0F) << (kk % 2 == 0 ? 0 : 4)
                    }
                }
            }
            let axisRaw = Int(dq[attribute: "axis"]?.intValue ?? 1)
            let rank = qt.shape.count
            let axis = axisRaw < 0 ? axisRaw + rank : axisRaw
            let block = Int(dq[attribute: "block_size"]?.intValue ?? 0)
            let index: String
            var transpose = false
            if scale.count == 1 {
                index = "0"
            } else if block == 0 {
                // Per axis: it must be the output-row axis.
                let rowAxis: Int = switch layout { case .conv, .nByK: 0; case .kByN: 1 }
                guard axis == rowAxis else {
                    throw .unsupported(node: node, opType: opType, detail: "per-axis weight scales on axis \(axis), expected the output-channel axis \(rowAxis)")
                }
                index = "(n)"
            } else {
                switch layout {
                case .conv(let khw):
                    guard axis == 1 else { throw .unsupported(node: node, opType: opType, detail: "blocked weight scales on axis \(axis), expected 1") }
                    let nb = scale.shape[1]
                    if rank == 2 {
                        // Stored flat, [OC][ICg·KH·KW] (groups over the flattened axes): k is that axis.
                        guard qt.shape == [rows, k], scale.shape.count == 2, scale.shape[0] == rows, nb == (k + block - 1) / block else {
                            throw .unsupported(node: node, opType: opType, detail: "flat blocked weight \(qt.shape) with scale \(scale.shape) is not [\(rows)][\(k)] in blocks of \(block)")
                        }
                        index = "(n) * \(nb) + (k) / \(block)"
                    } else {
                        index = "((n) * \(nb) + ((k) / \(khw)) / \(block)) * \(khw) + (k) % \(khw)"
                    }
                case .kByN:
                    guard axis == 0 else { throw .unsupported(node: node, opType: opType, detail: "blocked weight scales on axis \(axis), expected 0") }
                    if rowMajorScales {
                        transpose = true
                        index = "(n) * \(scale.shape[0]) + (k) / \(block)"
                    } else {
                        index = "((k) / \(block)) * \(rows) + (n)"
                    }
                case .nByK:
                    guard axis == 1 else { throw .unsupported(node: node, opType: opType, detail: "blocked weight scales on axis \(axis), expected 1") }
                    index = "(n) * \(scale.shape[1]) + (k) / \(block)"
                }
            }
            add(name, elementType: planTypeName(qt.elementType), shape: [rows, k], data: data)
            // [K/B][N] → [N][K/B] when transposing; the blobs get their own names.
            let suffix = transpose ? "_nk" : ""
            func ordered(_ a: [Float]) -> [Float] {
                guard transpose else { return a }
                let nb = scale.shape[0]
                return (0..<rows * nb).map { i in a[(i % nb) * rows + i / nb] }
            }
            let shape = transpose ? [scale.shape[1], scale.shape[0]] : scale.shape
            let scales = ordered(scale.floatArray().map { $0 * alpha })
            addFloats("\(value).scales\(suffix)", scales, shape: shape)
            var zpName: String?
            var zpBytes = 0
            if dq.inputs.count > 2, !dq.inputs[2].isEmpty, let zp = g.constant(dq.inputs[2]) {
                let z = zp.floatArray()
                if z.contains(where: { $0 != 0 }) {
                    zpName = "\(value).zero_points\(suffix)"
                    addFloats(zpName!, ordered(z), shape: shape)
                    zpBytes = z.count * 4
                }
            }
            return PackedWeight(rows: rows, k: k, bits: bits, signed: signed, rowBytes: rowBytes, values: name,
                                scales: "\(value).scales\(suffix)", zeroPoints: zpName, scaleIndex: index,
                                storedBytes: data.count + scales.count * 4 + zpBytes)
        }
        guard let t = g.constant(value), t.type == .float32 || t.type == .float16 else {
            throw .unsupported(node: node, opType: opType, detail: "weight '\(value)' is neither a dequantized 8/4-bit constant nor a float constant")
        }
        let f = t.floatArray()
        let rowBytes = (k * 4 + 15) / 16 * 16
        var values = [Float](repeating: 0, count: rows * rowBytes / 4)
        for n in 0..<rows { for kk in 0..<k { values[n * rowBytes / 4 + kk] = f[elementIndex(n, kk)] * alpha } }
        addFloats(name, values, shape: [rows, rowBytes / 4])
        return PackedWeight(rows: rows, k: k, bits: 32, signed: true, rowBytes: rowBytes, values: name, scales: nil,
                            zeroPoints: nil, scaleIndex: "0", storedBytes: values.count * 4)
    }
}
