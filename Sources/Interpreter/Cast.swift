import IR

extension RTensor {
    /// The tensor in compute form: float16/bfloat16 widened to float32, other
    /// types unchanged (no copy).
    public func widened() -> RTensor {
        type.computesAsFloat ? converted(to: .float32) : self
    }

    /// Converts every element to `target` with ONNX Cast semantics: float to
    /// integer truncates toward zero, to bool is `!= 0`, float to 16-bit floats
    /// rounds to nearest even. Returns `self` when the type already matches.
    public func converted(to target: ElementType, saturate: Bool = true) -> RTensor {
        if target == type { return self }
        var out = RTensor(type: target, shape: shape)
        let n = count
        if let f = MiniFloat.format(target) {
            let p = out.pointer(UInt8.self)
            let values = floatArray()
            for i in 0..<n { p[i] = f.encode(values[i], saturate: saturate) }
            return out
        }
        if MiniFloat.format(type) != nil { return RTensor(floats: floatArray(), shape: shape).converted(to: target, saturate: saturate) }
        if let bits = [ElementType.int4: 4, .uint4: 4, .int2: 2, .uint2: 2][target] {
            // Sub-byte integers wrap like a cast to their width (as ml_dtypes does).
            let wide = converted(to: .int64).array(Int64.self)
            let signed = target == .int4 || target == .int2
            let p = out.pointer(UInt8.self)
            for i in 0..<n {
                var v = Int(wide[i] & Int64((1 << bits) - 1))
                if signed && v >= 1 << (bits - 1) { v -= 1 << bits }
                p[i] = UInt8(truncatingIfNeeded: v)
            }
            return out
        }
        // Read every source element as Double (exact for all but 64-bit integers),
        // and 64-bit integer to 64-bit integer moves directly.
        if let src = int64Array(), target.isInteger64OrSmallerInteger {
            writeIntegers(src, into: &out)
            return out
        }
        let values = doubleArray()
        switch target {
        case .float32: let p = out.pointer(Float.self); for i in 0..<n { p[i] = Float(values[i]) }
        case .float64: let p = out.pointer(Double.self); for i in 0..<n { p[i] = values[i] }
        case .float16: let p = out.pointer(UInt16.self); for i in 0..<n { p[i] = HalfFloat.fromFloat(Float(values[i])) }
        case .bfloat16: let p = out.pointer(UInt16.self); for i in 0..<n { p[i] = HalfFloat.bfloat16FromFloat(Float(values[i])) }
        case .bool: let p = out.pointer(UInt8.self); for i in 0..<n { p[i] = values[i] != 0 ? 1 : 0 }
        default:
            _ = try? target.visit(FillFromDoubles(values: values, out: out))
        }
        return out
    }

    private func writeIntegers(_ src: [Int64], into out: inout RTensor) {
        let n = count
        switch out.type {
        case .bool: let p = out.pointer(UInt8.self); for i in 0..<n { p[i] = src[i] != 0 ? 1 : 0 }
        default: _ = try? out.type.visit(FillFromInt64s(values: src, out: out, unsignedSource: type == .uint64))
        }
    }

    /// Elements as Double, for conversions.
    func doubleArray() -> [Double] {
        switch type {
        case .float64: return array(Double.self)
        case .uint64: return elements(UInt64.self).map { Double($0) }
        case .int64: return elements(Int64.self).map { Double($0) }
        default: return floatArray().map { Double($0) }
        }
    }
}

private struct FillFromDoubles: ScalarVisitor {
    let values: [Double]
    let out: RTensor
    func visit<T: KernelScalar>(_: T.Type) -> Void {
        let p = out.pointer(T.self)
        for i in values.indices { p[i] = T(fromDouble: values[i]) }
    }
}

private struct FillFromInt64s: ScalarVisitor {
    let values: [Int64]
    let out: RTensor
    let unsignedSource: Bool
    func visit<T: KernelScalar>(_: T.Type) -> Void {
        let p = out.pointer(T.self)
        if let I = T.self as? any FixedWidthInteger.Type {
            for i in values.indices { p[i] = I.init(truncatingIfNeeded: values[i]) as! T }
        } else {
            for i in values.indices { p[i] = T(fromDouble: unsignedSource ? Double(UInt64(bitPattern: values[i])) : Double(values[i])) }
        }
    }
}

extension ElementType {
    var isInteger64OrSmallerInteger: Bool {
        switch self {
        case .int8, .uint8, .int16, .uint16, .int32, .uint32, .int64, .uint64, .int4, .uint4, .int2, .uint2: true
        default: false
        }
    }
}
