/// The kernel templates of `Templates/`, one per kind of launch.
public enum TemplateKind: String, Codable, Sendable, CaseIterable {
    case gemv, gemm, conv, depthwise, matmul, eltwise, stridedCopy = "strided_copy", pool, globalPool = "global_pool"
    case softmax, layerNorm = "layer_norm", reduce, resize

    /// The OpenCL C text of the template (kernel function only; helpers live in the prelude).
    public var source: String {
        switch self {
        case .gemv: GEMVTemplate.source
        case .gemm: GEMMTemplate.source
        case .conv: ConvTemplate.source
        case .depthwise: DepthwiseTemplate.source
        case .matmul: MatMulTemplate.source
        case .eltwise: EltwiseTemplate.source
        case .stridedCopy: StridedCopyTemplate.source
        case .pool: PoolTemplate.source
        case .globalPool: GlobalPoolTemplate.source
        case .softmax: SoftmaxTemplate.source
        case .layerNorm: LayerNormTemplate.source
        case .reduce: ReduceTemplate.source
        case .resize: ResizeTemplate.source
        }
    }
}

/// Named tuning parameters of one kernel instance. Each template reads the
/// ones it documents; all are emitted as `#define`s. Defaults target gfx803:
/// wavefront 64, work-groups of 64–256.
public struct KernelConfig: Hashable, Codable, Sendable {
    public var template: TemplateKind
    /// Parameter name (as the template spells it: WG, ROWS, VEC_BYTES, TM, TN, WG_M, WG_N, LDS_K,
    /// TP, TOC, WG_P, WG_OC, UNROLL, VPT) → value, sorted when emitted.
    public var parameters: [String: Int]

    public init(template: TemplateKind, parameters: [String: Int]) {
        self.template = template
        self.parameters = parameters
    }

    public subscript(_ name: String) -> Int { parameters[name] ?? 0 }

    /// The work-group size (product of the local dims).
    public var workGroupSize: Int {
        switch template {
        case .gemm: self["WG_M"] * self["WG_N"]
        case .conv: self["WG_P"] * self["WG_OC"]
        default: self["WG"]
        }
    }

    /// The default configuration of a template.
    public static func defaults(_ t: TemplateKind) -> KernelConfig {
        switch t {
        case .gemv: KernelConfig(template: t, parameters: ["WG": 64, "ROWS": 2, "VEC_BYTES": 16])
        case .gemm: KernelConfig(template: t, parameters: ["TM": 4, "TN": 2, "WG_M": 8, "WG_N": 8, "UNROLL": 4, "LDS_K": 0])
        case .conv: KernelConfig(template: t, parameters: ["TP": 4, "TOC": 4, "WG_P": 16, "WG_OC": 4, "UNROLL": 1])
        case .depthwise: KernelConfig(template: t, parameters: ["TP": 2, "WG": 64])
        case .eltwise: KernelConfig(template: t, parameters: ["WG": 256, "VPT": 1])
        case .globalPool: KernelConfig(template: t, parameters: ["WG": 64])
        default: KernelConfig(template: t, parameters: ["WG": 64])
        }
    }
}
