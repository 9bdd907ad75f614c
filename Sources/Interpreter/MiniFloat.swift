import IR

/// The 8-, 6- and 4-bit float formats of ONNX (IR.md "Float8" and
/// "FLOAT4E2M1"): decoding by table, encoding by nearest value with ties to
/// even, and overflow to ±Inf / NaN or, when saturating, to ±max.
public struct MiniFloat: Sendable {
    let bits: Int
    /// Value of every code, NaN where the code is NaN.
    let values: [Float]
    /// Non-negative finite codes sorted by value (for nearest search).
    let positive: [(code: UInt8, value: Float)]
    let nanCode: UInt8
    let infCode: UInt8?
    let hasNegativeZero: Bool
    public let maximum: Float

    init(bits: Int, exponent: Int, mantissa: Int, bias: Int, kind: Kind) {
        self.bits = bits
        var values = [Float](repeating: 0, count: 1 << bits)
        let signBit = 1 << (bits - 1)
        for code in 0..<(1 << bits) {
            let sign: Float = code & signBit != 0 ? -1 : 1
            let e = (code >> mantissa) & ((1 << exponent) - 1), m = code & ((1 << mantissa) - 1)
            var v: Float
            if e == 0 {
                v = Float(m) * Float.pow2(1 - bias - mantissa)
            } else {
                v = (1 + Float(m) / Float(1 << mantissa)) * Float.pow2(e - bias)
            }
            switch kind {
            case .fn where e == (1 << exponent) - 1 && m == (1 << mantissa) - 1: v = .nan
            case .fnuz where code == signBit: v = .nan
            case .ieee where e == (1 << exponent) - 1: v = m == 0 ? .infinity : .nan
            default: break
            }
            values[code] = sign * v
        }
        self.values = values
        positive = (0..<signBit).compactMap { c in values[c].isFinite ? (UInt8(c), values[c]) : nil }.sorted { $0.value < $1.value }
        maximum = positive.last!.value
        switch kind {
        case .fn: nanCode = UInt8((1 << (bits - 1)) - 1)
        case .fnuz: nanCode = UInt8(signBit)
        case .ieee: nanCode = UInt8((((1 << exponent) - 1) << mantissa) | 1)
        case .none: nanCode = 0
        }
        infCode = kind == .ieee ? UInt8(((1 << exponent) - 1) << mantissa) : nil
        hasNegativeZero = kind != .fnuz
    }

    enum Kind { case fn, fnuz, ieee, none }

    public static let e4m3fn = MiniFloat(bits: 8, exponent: 4, mantissa: 3, bias: 7, kind: .fn)
    public static let e4m3fnuz = MiniFloat(bits: 8, exponent: 4, mantissa: 3, bias: 8, kind: .fnuz)
    public static let e5m2 = MiniFloat(bits: 8, exponent: 5, mantissa: 2, bias: 15, kind: .ieee)
    public static let e5m2fnuz = MiniFloat(bits: 8, exponent: 5, mantissa: 2, bias: 16, kind: .fnuz)
    public static let e2m1 = MiniFloat(bits: 4, exponent: 2, mantissa: 1, bias: 1, kind: .none)

    public static func format(_ t: ElementType) -> MiniFloat? {
        switch t {
        case .float8e4m3fn: e4m3fn
        case .float8e4m3fnuz: e4m3fnuz
        case .float8e5m2: e5m2
        case .float8e5m2fnuz: e5m2fnuz
        case .float4e2m1: e2m1
        default: nil
        }
    }

    public func decode(_ code: UInt8) -> Float { values[Int(code) & ((1 << bits) - 1)] }

    public func encode(_ x: Float, saturate: Bool) -> UInt8 {
        let signBit = UInt8(1 << (bits - 1))
        if x.isNaN { return nanCode }
        let sign: UInt8 = x.sign == .minus && (hasNegativeZero || x != 0) ? signBit : 0
        let a = abs(x)
        // Past the midpoint between max and the next step up, the value overflows.
        let top = positive[positive.count - 1], below = positive[positive.count - 2]
        let limit = top.value + (top.value - below.value) / 2
        if a > maximum && (saturate || a < limit || (a == limit && top.code & 1 == 0)) {
            return sign | top.code
        }
        if a > maximum {
            if let infCode { return sign | infCode }
            return bits == 4 ? sign | top.code : nanCode
        }
        // Nearest code, ties to the even code.
        var lo = 0, hi = positive.count - 1
        while hi - lo > 1 {
            let mid = (lo + hi) / 2
            if positive[mid].value <= a { lo = mid } else { hi = mid }
        }
        let (l, h) = (positive[lo], positive[hi])
        var pick: (code: UInt8, value: Float)
        if a <= l.value { pick = l }
        else if a - l.value < h.value - a { pick = l }
        else if a - l.value > h.value - a { pick = h }
        else { pick = l.code & 1 == 0 ? l : h }
        return pick.value == 0 && !hasNegativeZero ? 0 : sign | pick.code
    }
}

extension Float {
    static func pow2(_ e: Int) -> Float { Float(sign: .plus, exponent: e, significand: 1) }
}
