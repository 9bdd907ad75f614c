import Foundation
import GCN
import IR
import Interpreter

/// The predicted gfx803 time of one weighted layer's kernel in a given weight
/// format: the cost of a `budget=latency:…` allocation.
///
/// The layer is the matrix product of ``LayerMatrices``: per group, `rows` output
/// channels × `dimension` reduction, applied to `columns` input columns (batch ×
/// output pixels; symbolic dims count as 1, so batch 1). Work of the launch:
/// - FLOPs 2 · columns · rows · groups · dimension;
/// - bytes: the weights as stored (``WeightFormat/storageBytes``, scales included),
///   read once, plus the fp32 input and output activations, read and written once;
/// - dequantization, in VALU lane-instructions per weight per column tile: fp32 0,
///   fp16 1 (`v_cvt_f32_f16`), int8 2 (byte select + bit-trick conversion, `v_or_b32_sdwa`
///   and `v_add_f32`), int4 3 (a `v_bfe_u32` to extract the nibble more), plus one
///   multiply per scale of a group and one per zero point; counted from the reference
///   kernels' assembly (Tests/Fixtures/gcn/gemv_reference.cl). A GEMV (one column)
///   dequantizes every weight once; a GEMM once per 64-column tile loaded into LDS.
///
/// Launch geometry follows the reference designs: GEMV work-groups of 64 lanes
/// with 2 rows each; GEMM 64 × 64 output tiles in work-groups of 256. The kernels
/// are assumed at 4 waves per SIMD, the floor `gcn-check` enforces for GEMM/GEMV.
/// Only the weighted layers count: the other operators' time does not depend on
/// the formats, and the code generator fuses most of them into these kernels.
public struct LayerLatency: Sendable {
    public var node: String
    public var groups: Int
    public var rows: Int
    public var dimension: Int
    public var columns: Int
    public var inputElements: Int
    public var outputElements: Int

    public static let device = GCNDevice.gfx803
    static let occupancy = Occupancy(wavesPerSIMD: 4, wavesPerCU: 16, limitedBy: .vgprs)
    static let tile = 64

    /// The layer's shape from its node, weight shape and the inferred value types.
    public static func make(node: Node, weightShape: [Int], types: [String: TensorType]) -> Result<LayerLatency, LayerMatricesError> {
        let m: LayerMatrices
        switch LayerMatrices.make(node: node, weightShape: weightShape) {
        case .success(let x): m = x
        case .failure(let e): return .failure(e)
        }
        func elements(_ name: String) -> Int? {
            guard let dims = types[name]?.shape else { return nil }
            return dims.reduce(1) { $0 * ($1.value ?? 1) }
        }
        let input = node.inputs.first.flatMap { elements($0) }
        let output = node.outputs.first.flatMap { elements($0) }
        let total = m.groups * m.rows
        var columns: Int
        switch m.kind {
        case .convTranspose: columns = input.map { $0 / max(m.groups * m.dimension, 1) } ?? 1
        case .conv: columns = output.map { $0 / max(total, 1) } ?? 1
        case .gemm, .matmul: columns = output.map { $0 / max(m.rows, 1) } ?? 1
        }
        columns = max(columns, 1)
        return .success(LayerLatency(node: node.name, groups: m.groups, rows: m.rows, dimension: m.dimension, columns: columns,
                                     inputElements: input ?? columns * m.groups * m.dimension,
                                     outputElements: output ?? columns * total))
    }

    /// VALU lane-instructions to dequantize one weight (see the type's comment).
    public static func dequantizeOps(_ format: WeightFormat) -> Double {
        switch format {
        case .float32: return 0
        case .float16: return 1
        case .integer(let bits, let granularity, let symmetric):
            // A group's scale (and zero point) is applied once per group, after its partial dot;
            // a channel's once per row, which is negligible.
            var perGroup = 0.0
            if case .perGroup(let g) = granularity { perGroup = (symmetric ? 1 : 2) / Double(g) }
            return (bits == 4 ? 3 : 2) + perGroup
        }
    }

    /// The estimate of this layer's launch with `weightBytes` of weights in `format`.
    public func estimate(format: WeightFormat, weightBytes: Int) -> RooflineEstimate {
        let weights = Double(groups * rows * dimension)
        let flops = 2 * Double(columns) * weights
        let tiles = Double((columns + Self.tile - 1) / Self.tile)
        let bytes = Double(weightBytes) + 4 * Double(inputElements + outputElements)
        let outputs = groups * rows
        let (global, local): (Int, Int) = columns == 1
            ? ((outputs + 1) / 2 * 64, 64)
            : (((columns + Self.tile - 1) / Self.tile) * ((outputs + Self.tile - 1) / Self.tile) * 256, 256)
        return Self.device.estimate(flops: flops, aluOps: weights * tiles * Self.dequantizeOps(format), bytes: bytes,
                                    occupancy: Self.occupancy, globalSize: [global], localSize: [local])
    }

    /// Whole nanoseconds, rounded up: the knapsack's integer cost unit.
    public static func nanoseconds(_ seconds: Double) -> Int { Int((seconds * 1e9).rounded(.up)) }

    /// `1.234ms`, `56.7us`.
    public static func text(_ seconds: Double) -> String {
        seconds >= 1e-3 ? String(format: "%.4gms", seconds * 1e3) : String(format: "%.4gus", seconds * 1e6)
    }
}
