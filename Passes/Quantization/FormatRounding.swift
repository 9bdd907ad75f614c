import Foundation
import IR

extension WeightQuantizer {
    /// The float weights a format stands for after rounding `weights` to it
    /// (Q_f(W)): RTN integers dequantized, fp16 rounded to half, fp32 itself.
    public static func roundTrip(_ weights: [Float], shape: [Int], format: WeightFormat, channelAxis: Int, groupAxis: Int,
                                 reduceRange: Bool = false) -> [Float] {
        switch format {
        case .float32: return weights
        case .float16: return weights.map { HalfFloat.toFloat(HalfFloat.fromFloat($0)) }
        case .integer(_, let granularity, _):
            let q = quantize(weights, shape: shape, format: format, channelAxis: channelAxis, groupAxis: groupAxis, reduceRange: reduceRange)!
            return dequantize(q, shape: shape, granularity: granularity, channelAxis: channelAxis, groupAxis: groupAxis)
        }
    }

    /// Gives `layer` the format `format`, with RTN integers from `weights` for integer formats.
    public static func assign(_ format: WeightFormat, to layer: inout LayerQuantization, weights: Tensor, reduceRange: Bool) {
        layer.format = format
        layer.quantized = nil
        if case .integer = format, let w = weights.floatValues() {
            layer.quantized = quantize(w, shape: weights.shape, format: format, channelAxis: layer.channelAxis,
                                       groupAxis: layer.groupAxis, reduceRange: reduceRange)
        }
    }
}

/// A `;`-separated list of weight formats (`fp16;int8/channel;int4/g128`), as
/// the `formats=` options of the mixed-precision passes take it.
public enum FormatList {
    public static let syntax = "fp16, int8/channel, int8/tensor, int4/g32, int4/g64, int4/g128 (add /asym for a zero point)"

    public static func parse(_ text: String, option: String = "formats") -> Result<[WeightFormat], FormatListError> {
        var formats: [WeightFormat] = []
        for item in text.split(separator: ";").map({ $0.trimmingCharacters(in: .whitespaces) }) where !item.isEmpty {
            guard let f = WeightFormat(parsing: item), f != .float32 else {
                return .failure(.init("\(option): unknown format '\(item)'; formats are written \(syntax)"))
            }
            if case .integer(_, .perGroup(let g), _) = f, g < 8 || g > 4096 {
                return .failure(.init("\(option): group size in '\(item)' must be between 8 and 4096"))
            }
            if !formats.contains(f) { formats.append(f) }
        }
        if formats.isEmpty { return .failure(.init("\(option): the list of formats is empty")) }
        return .success(formats)
    }
}

public struct FormatListError: Error, Sendable, CustomStringConvertible {
    public var message: String
    init(_ message: String) { self.message = message }
    public var description: String { message }
}
