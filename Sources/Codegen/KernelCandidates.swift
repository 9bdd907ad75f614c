/// The problem size of one launch, as the tuner sees it.
public struct LayerShape: Hashable, Sendable {
    public var template: TemplateKind
    /// Output rows (GEMM M / pixels of a convolution), output columns (N / channels), reduction length.
    public var m: Int, n: Int, k: Int
    public init(template: TemplateKind, m: Int, n: Int, k: Int) {
        self.template = template
        self.m = m
        self.n = n
        self.k = k
    }
}

/// Candidate tuning configurations per launch, for the gfx803 tuner to
/// compile and rank; the first is the code generator's default. Sizes follow
/// GCN practice (wavefront 64; work-groups 64–256; 2–4 rows per work-group
/// for GEMV, after llama.cpp's GCN tuning; 4×2 register tiles for GEMM (4×4 needs 82 VGPRs with an int4 epilogue: 3 waves)).
public enum KernelCandidates {
    public static func candidates(for layer: LayerShape) -> [KernelConfig] {
        let t = layer.template
        switch t {
        case .gemv:
            var out: [KernelConfig] = []
            for wg in [64, 128, 256] {
                for rows in [2, 1, 4] where wg / rows >= 16 {
                    for vec in [16, 8] { out.append(KernelConfig(template: t, parameters: ["WG": wg, "ROWS": rows, "VEC_BYTES": vec])) }
                }
            }
            return out
        case .gemm:
            var out: [KernelConfig] = []
            // LDS_K 0 first: the default stays the plain register tile.
            for lds in [0, 16] {
                for (tm, tn) in [(4, 2), (2, 4), (2, 2), (4, 4), (8, 2)] {
                    for (wm, wn) in [(8, 8), (4, 16), (16, 16)] {
                        out.append(KernelConfig(template: t, parameters: ["TM": tm, "TN": tn, "WG_M": wm, "WG_N": wn, "UNROLL": 4, "LDS_K": lds]))
                    }
                }
            }
            return out
        case .conv:
            var out: [KernelConfig] = []
            for (tp, toc) in [(4, 4), (2, 4), (4, 2), (8, 2), (1, 4)] {
                for (wp, woc) in [(16, 4), (64, 1), (32, 2)] {
                    out.append(KernelConfig(template: t, parameters: ["TP": tp, "TOC": toc, "WG_P": wp, "WG_OC": woc, "UNROLL": 1]))
                }
            }
            return out
        case .depthwise:
            return [2, 1, 4].flatMap { tp in [64, 128].map { KernelConfig(template: t, parameters: ["TP": tp, "WG": $0]) } }
        case .eltwise:
            return [1, 2, 4].flatMap { vpt in [256, 64].map { KernelConfig(template: t, parameters: ["WG": $0, "VPT": vpt]) } }
        default:
            return [64, 128, 256].map { KernelConfig(template: t, parameters: ["WG": $0]) }
        }
    }
}
