/// Convolution as an implicit GEMM (NCHW, weights [OC][ICg·KH·KW] rows):
/// out[b][oc][p] = epilogue(Σ_k W[oc][k] · im2col(x)[k][p] + bias[oc]) with
/// k = (ic·KH + kh)·KW + kw, the im2col gather done on the fly (no buffer).
/// Each work-item computes `TP` output pixels × `TOC` output channels in
/// registers; each weight is dequantized once per `TP` pixels. `IS_1X1`
/// (1×1 kernel, stride 1, no padding) skips the gather arithmetic: it is a
/// plain GEMM over channels.
///
/// Parameters: `B`, `IC`, `IH`, `IW`, `OC`, `OH`, `OW`, `KH`, `KW`, `SH`, `SW`,
/// `PT`, `PL` (top/left padding), `DH`, `DW`, `GROUPS`, `ROW_BYTES`, `HAS_BIAS`,
/// `IS_1X1`, weight access. Tuning: `TP`, `TOC`, `WG_P`, `WG_OC`, `UNROLL`.
/// Grid: (ceil(OH·OW / TP)…, ceil(OC / TOC)…, B).
enum ConvTemplate {
    static let source = WeightAccessTemplate.source + #"""
#define ICG (IC / GROUPS)
#define OCG (OC / GROUPS)
#define KSZ (ICG * KH * KW)
#define NPIX (OH * OW)
__kernel __attribute__((reqd_work_group_size(WG_P, WG_OC, 1)))
void KERNEL_NAME(__global float* restrict y, __global const float* restrict x, W_PARAMS
#if HAS_BIAS
                 , __global const BIAS_T* restrict bias
#endif
                 MULT_PARAM EPI_PARAMS)
{
    const int p0 = (qc_grp0() * WG_P + qc_lid0()) * TP;
    const int oc0 = (qc_grp1() * WG_OC + qc_lid1()) * TOC;
    const int b = qc_grp2();
    if (p0 >= NPIX || oc0 >= OC) return;
    /* TOC divides OCG, so the tile's channels share one group. */
    const int g = oc0 / OCG;
    __global const float* xb = x + ((size_t)b * IC + (size_t)g * ICG) * (IH * IW);
    ACC_T acc[TP][TOC];
    int oy[TP], ox[TP];
    #pragma unroll
    for (int t = 0; t < TP; ++t) {
        const int p = qc_imin(p0 + t, NPIX - 1);
        oy[t] = p / OW; ox[t] = p % OW;
        #pragma unroll
        for (int j = 0; j < TOC; ++j) acc[t][j] = 0;
    }
    #pragma unroll UNROLL
    for (int k = 0; k < KSZ; ++k) {
        ACC_T xv[TP], wv[TOC];
#if IS_1X1
        #pragma unroll
        for (int t = 0; t < TP; ++t) xv[t] = X_VAL(xb[(size_t)k * NPIX + qc_imin(p0 + t, NPIX - 1)]);
#else
        const int ic = k / (KH * KW), r = k % (KH * KW);
        const int kh = r / KW, kw = r % KW;
        #pragma unroll
        for (int t = 0; t < TP; ++t) {
            const int iy = oy[t] * SH - PT + kh * DH, ix = ox[t] * SW - PL + kw * DW;
            const bool inside = iy >= 0 && iy < IH && ix >= 0 && ix < IW;
            xv[t] = inside ? X_VAL(xb[((size_t)ic * IH + iy) * IW + ix]) : 0;
        }
#endif
        #pragma unroll
        for (int j = 0; j < TOC; ++j) {
            const int oc = qc_imin(oc0 + j, OC - 1);
            wv[j] = W_VAL(w + (size_t)oc * ROW_BYTES, oc, k);
        }
        #pragma unroll
        for (int t = 0; t < TP; ++t)
            #pragma unroll
            for (int j = 0; j < TOC; ++j) acc[t][j] += xv[t] * wv[j];
    }
    #pragma unroll
    for (int t = 0; t < TP; ++t) {
        #pragma unroll
        for (int j = 0; j < TOC; ++j) {
            const int p = p0 + t, oc = oc0 + j;
            if (p < NPIX && oc < OC) {
#if HAS_BIAS
                float v = FINISH(acc[t][j], bias[oc], oc);
#else
                float v = FINISH(acc[t][j], 0, oc);
#endif
                const int idx = (b * OC + oc) * NPIX + p;
                EPILOGUE(v, idx);
                y[idx] = v;
            }
        }
    }
}
#undef ICG
#undef OCG
#undef KSZ
#undef NPIX

"""# + WeightAccessTemplate.cleanup
}
