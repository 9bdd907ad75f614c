import CONNX
import IR

extension ProtoReader {
    /// Converts a `TensorProto`, checking dims, type and data size. `context`
    /// names where an unnamed tensor sits (e.g. a node attribute) for messages.
    func tensor(_ t: Onnx__TensorProto, context: String?) throws(ImportError) -> Tensor {
        let name = str(t.name)
        let label = name.isEmpty ? (context ?? "<unnamed>") : name
        func fail(_ problem: String) -> ImportError { .badTensor(file: file, tensor: label, problem: problem) }

        guard t.has_data_type != 0 else { throw fail("has no data_type") }
        guard let type = ElementType(rawValue: t.data_type), type != .undefined else {
            throw fail("has unknown data_type \(t.data_type)")
        }
        let rawDims = Array(array(t.dims, t.n_dims))
        if let bad = rawDims.firstIndex(where: { $0 < 0 }) {
            throw fail("dim \(bad) is negative (\(rawDims[bad])) in shape \(rawDims)")
        }
        let dims = rawDims.map { Int($0) }
        guard let count = Tensor.checkedElementCount(dims) else {
            throw fail("the product of dims \(rawDims) overflows a 64-bit integer")
        }
        let shapeText = "shape \(rawDims) of \(type.onnxName)"
        var tensor = Tensor(elementType: type, shape: dims, data: .bytes(.empty), name: name,
                            docString: str(t.doc_string), unknownFields: unknownFields(t.base))

        if type == .string {
            guard t.n_string_data == count else {
                throw fail("string_data has \(t.n_string_data) entries but \(shapeText) needs \(count)")
            }
            tensor.data = .strings(array(t.string_data, t.n_string_data).map { Array(UnsafeBufferPointer(start: $0.data, count: $0.len)) })
            return tensor
        }
        guard let byteCount = type.byteCount(elements: count) else {
            throw fail("\(shapeText) is too large to address")
        }
        guard byteCount <= limits.maxTensorBytes else {
            throw .limitExceeded(file: file, where: "tensor '\(label)'", problem:
                "\(shapeText) needs \(ImportLimits.describe(bytes: byteCount)), over the limit of \(ImportLimits.describe(bytes: limits.maxTensorBytes)) (maxTensorBytes: the machine's memory by default)")
        }

        if t.has_data_location != 0 && t.data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL {
            tensor.data = .bytes(try externalData(t, label: label, byteCount: byteCount, shapeText: shapeText))
            return tensor
        }
        if t.has_raw_data != 0 {
            guard t.raw_data.len == byteCount else {
                throw fail("raw_data has \(t.raw_data.len) bytes but \(shapeText) needs \(byteCount)")
            }
            tensor.data = .bytes(ByteBuffer(baseAddress: t.raw_data.len == 0 ? nil : UnsafeRawPointer(t.raw_data.data),
                                            count: t.raw_data.len, owner: owner))
            return tensor
        }
        tensor.data = .bytes(try typedData(t, type: type, count: count, byteCount: byteCount, shapeText: shapeText, fail: fail))
        return tensor
    }

    /// Converts the typed repeated fields (`float_data`, `int32_data`, ...) to raw layout.
    private func typedData(_ t: Onnx__TensorProto, type: ElementType, count: Int, byteCount: Int, shapeText: String,
                           fail: (String) -> ImportError) throws(ImportError) -> ByteBuffer {
        // Which field may hold the type, and how many entries it needs.
        let fields: [(name: String, n: Int)] = [
            ("float_data", t.n_float_data), ("int32_data", t.n_int32_data), ("int64_data", t.n_int64_data),
            ("double_data", t.n_double_data), ("uint64_data", t.n_uint64_data),
        ]
        let used = fields.filter { $0.n > 0 }
        if used.isEmpty {
            guard count == 0 else { throw fail("has no data for \(shapeText) (\(count) elements)") }
            return .empty
        }
        guard used.count == 1 else {
            throw fail("stores values in several fields (\(used.map(\.name).joined(separator: ", ")))")
        }
        let expectedField: String
        var entries = count
        switch type {
        case .float32: expectedField = "float_data"
        case .complex64: expectedField = "float_data"; entries = count * 2
        case .float64: expectedField = "double_data"
        case .complex128: expectedField = "double_data"; entries = count * 2
        case .int64: expectedField = "int64_data"
        case .uint32, .uint64: expectedField = "uint64_data"
        case .int32, .int16, .uint16, .float16, .bfloat16, .int8, .uint8, .bool,
             .float8e4m3fn, .float8e4m3fnuz, .float8e5m2, .float8e5m2fnuz, .float8e8m0:
            expectedField = "int32_data"
        case .int4, .uint4, .float4e2m1, .int2, .uint2, .float6e2m3, .float6e3m2:
            expectedField = "int32_data"; entries = byteCount  // one packed byte per entry
        case .undefined, .string: throw fail("has no numeric data layout")
        }
        guard used[0].name == expectedField else {
            throw fail("stores \(type.onnxName) values in \(used[0].name); ONNX puts them in \(expectedField)")
        }
        guard used[0].n == entries else {
            throw fail("\(expectedField) has \(used[0].n) entries but \(shapeText) needs \(entries)")
        }
        return ByteBuffer(byteCount: byteCount) { out in
            switch expectedField {
            case "float_data": out.copyMemory(from: UnsafeRawBufferPointer(start: t.float_data, count: byteCount))
            case "double_data": out.copyMemory(from: UnsafeRawBufferPointer(start: t.double_data, count: byteCount))
            case "int64_data": out.copyMemory(from: UnsafeRawBufferPointer(start: t.int64_data, count: byteCount))
            case "uint64_data":
                let src = UnsafeBufferPointer(start: t.uint64_data, count: entries)
                if type == .uint32 {
                    for (i, v) in src.enumerated() { out.storeBytes(of: UInt32(truncatingIfNeeded: v), toByteOffset: i * 4, as: UInt32.self) }
                } else {
                    out.copyMemory(from: UnsafeRawBufferPointer(src))
                }
            default:  // int32_data: keep the low bytes of each entry
                let src = UnsafeBufferPointer(start: t.int32_data, count: entries)
                let width = byteCount / max(entries, 1)
                switch width {
                case 4: out.copyMemory(from: UnsafeRawBufferPointer(src))
                case 2: for (i, v) in src.enumerated() { out.storeBytes(of: UInt16(truncatingIfNeeded: v), toByteOffset: i * 2, as: UInt16.self) }
                default: for (i, v) in src.enumerated() { out[i] = UInt8(truncatingIfNeeded: v) }
                }
            }
        }
    }

    /// Resolves `external_data` (location, offset, length) to a slice of a
    /// mapped file after checking it stays in the model's folder and fits.
    private func externalData(_ t: Onnx__TensorProto, label: String, byteCount: Int, shapeText: String) throws(ImportError) -> ByteBuffer {
        var location: String?
        var offset = 0
        var length: Int?
        for p in array(t.external_data, t.n_external_data) {
            guard let e = p?.pointee else { continue }
            let key = str(e.key), value = str(e.value)
            switch key {
            case "location": location = value
            case "offset", "length":
                guard let v = Int(value), v >= 0 else {
                    throw .badExternalData(file: file, tensor: label, location: location ?? "?",
                                           problem: "has an invalid \(key) '\(value)'")
                }
                if key == "offset" { offset = v } else { length = v }
            default: break  // checksum and unknown keys are informational
            }
        }
        guard let location else {
            throw .badTensor(file: file, tensor: label, problem: "is marked EXTERNAL but has no external_data location")
        }
        func fail(_ problem: String) -> ImportError {
            .badExternalData(file: file, tensor: label, location: location, problem: problem)
        }
        let mapped: MappedFile
        switch external.file(for: location) {
        case .success(let m): mapped = m
        case .failure(let p): throw fail(p.message)
        }
        let size = length ?? byteCount
        guard size == byteCount else {
            throw fail("gives length \(size) but \(shapeText) needs \(byteCount) bytes")
        }
        guard offset <= mapped.size, size <= mapped.size - offset else {
            throw fail("is shorter than needed: it has \(mapped.size) bytes, the tensor needs bytes \(offset)..<\(offset + size)")
        }
        return mapped.buffer.slice(offset: offset, count: size)
    }
}
