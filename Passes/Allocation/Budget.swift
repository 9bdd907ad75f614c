import Foundation

/// A weight-size budget for `allocate`: average stored bits per weight
/// (`4.5bits`) or total stored bytes (`1.2MB`, `800KB`, `123456B`; SI units,
/// 1 MB = 10⁶ bytes). Scales and zero points count (``WeightFormat/storageBytes``).
/// `4.5wbits` counts instead the bits of the weight values alone (``WeightFormat/valueBits``:
/// int4 4, int8 8, fp16 16), the convention of HAWQ and most mixed-precision papers,
/// in which uniform int4 is 4 bits whatever its group size.
/// `latency:2ms` (also `us`/`µs`, `s`) bounds instead the predicted gfx803 time of
/// the weighted layers' kernels (``LayerLatency``).
public enum AllocationBudget: Equatable, Sendable, CustomStringConvertible {
    case bitsPerWeight(Double)
    /// Average bits of the weight values alone, scales and zero points not counted.
    case valueBitsPerWeight(Double)
    case bytes(Int)
    case latency(seconds: Double)

    /// Parses the budget text; the error message says what is wrong with it.
    public static func parse(_ text: String) -> Result<AllocationBudget, BudgetParseError> {
        let t = text.trimmingCharacters(in: .whitespaces)
        let lower = t.lowercased()
        if lower.hasPrefix("latency:") {
            let v = lower.dropFirst("latency:".count).trimmingCharacters(in: .whitespaces)
            let units: [(suffix: String, scale: Double)] = [("ms", 1e-3), ("us", 1e-6), ("µs", 1e-6), ("ns", 1e-9), ("s", 1)]
            guard let unit = units.first(where: { v.hasSuffix($0.suffix) }),
                  let number = Double(v.dropLast(unit.suffix.count)), number.isFinite, number > 0 else {
                return .failure(.init("budget '\(t)' is not a latency: write latency:2ms, latency:500us or latency:0.01s"))
            }
            let seconds = number * unit.scale
            guard seconds >= 1e-6, seconds <= 3600 else { return .failure(.init("budget '\(t)' is out of range (1 µs to 1 hour)")) }
            return .success(.latency(seconds: seconds))
        }
        let units: [(suffix: String, scale: Double, bits: Bool)] = [
            ("wbits", 1, true), ("wbit", 1, true), ("bits", 1, true), ("bit", 1, true), ("gb", 1e9, false), ("mb", 1e6, false), ("kb", 1e3, false), ("b", 1, false),
        ]
        guard let unit = units.first(where: { lower.hasSuffix($0.suffix) }),
              let number = Double(lower.dropLast(unit.suffix.count)), number.isFinite, number > 0 else {
            return .failure(.init("budget '\(t)' is not a size: write average stored bits per weight (4.5bits), average bits of the weight values alone (4.5wbits) or bytes (123456B, 800KB, 1.2MB; 1 MB = 10^6 bytes)"))
        }
        if unit.bits { return .success(unit.suffix.hasPrefix("w") ? .valueBitsPerWeight(number) : .bitsPerWeight(number)) }
        // Whole bytes of the decimal as written: 2.01KB is 2010 B, where 2.01 × 1000 in
        // binary floating point is 2009.999….
        let text = String(lower.dropLast(unit.suffix.count)).trimmingCharacters(in: .whitespaces)
        let decimal = text.wholeMatch(of: /[+]?([0-9]+\.?[0-9]*|\.[0-9]+)(e[+-]?[0-9]+)?/) != nil
            ? Decimal(string: text, locale: Locale(identifier: "en_US_POSIX")) : nil
        let exact = (decimal ?? Decimal(number)) * Decimal(unit.scale)
        var floor = Decimal(), value = exact
        NSDecimalRound(&floor, &value, 0, .down)
        let bytes = NSDecimalNumber(decimal: floor).doubleValue
        guard bytes >= 1, bytes < 1e18 else { return .failure(.init("budget '\(t)' is out of range")) }
        return .success(.bytes(Int(bytes)))
    }

    /// The largest total of stored bytes the budget allows for `weights` weights
    /// (no limit for a latency or value-bits budget).
    public func byteLimit(weights: Int) -> Int {
        switch self {
        case .latency, .valueBitsPerWeight: return Int.max
        case .bytes(let b): return b
        // average bits ≤ b  ⇔  8·bytes ≤ b·n; a tiny slack absorbs the decimal's binary rounding.
        case .bitsPerWeight(let b): return Int((b * Double(weights) / 8 + 1e-9).rounded(.down))
        }
    }

    /// The largest total of value bits (Σ weights × ``WeightFormat/valueBits``) a
    /// `wbits` budget allows for `weights` weights; nil for other budgets.
    public func valueBitLimit(weights: Int) -> Int? {
        guard case .valueBitsPerWeight(let b) = self else { return nil }
        return Int((b * Double(weights) + 1e-9).rounded(.down))
    }

    /// `needs at least …` in the budget's own unit for a minimum of `bytes`
    /// (value bits for a `wbits` budget).
    public func minimumText(bytes: Int, weights: Int) -> String {
        switch self {
        case .bytes, .latency: return "\(bytes) bytes"
        case .valueBitsPerWeight:
            let bits = (Double(bytes) / Double(max(weights, 1)) * 100).rounded(.up) / 100
            return String(format: "%.2f value bits per weight", bits)
        case .bitsPerWeight:
            // Rounded up, so that the figure printed is itself enough.
            let bits = (Double(bytes) * 8 / Double(max(weights, 1)) * 100).rounded(.up) / 100
            return String(format: "%.2f bits per weight", bits)
        }
    }

    public var description: String {
        switch self {
        case .bitsPerWeight(let b): return "\(b)bits"
        case .valueBitsPerWeight(let b): return "\(b)wbits"
        case .bytes(let n): return "\(n)B"
        case .latency(let s): return "latency:\(LayerLatency.text(s))"
        }
    }
}

public struct BudgetParseError: Error, Sendable, CustomStringConvertible {
    public var message: String
    init(_ message: String) { self.message = message }
    public var description: String { message }
}
