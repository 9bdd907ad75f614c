/// Depthwise convolution (one input channel per group): each work-item
/// computes `TP` adjacent output pixels of one channel; the KH×KW weights of
/// the channel are dequantized once into registers.
///
/// Parameters as the convolution template (`ICG` = 1, `OCG` = OC / GROUPS).
/// Tuning: `TP`, `WG`. Grid: (ceil(OH·OW / TP) rounded to WG, OC, B).
enum DepthwiseTemplate {
    static let source = WeightAccessTemplate.source + #"""
#define OCG (OC / GROUPS)
#define NPIX (OH * OW)
__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void KERNEL_NAME(__global float* restrict y, __global const float* restrict x, W_PARAMS
#if HAS_BIAS
                 , __global const BIAS_T* restrict bias
#endif
                 MULT_PARAM EPI_PARAMS)
{
    const int p0 = (qc_grp0() * WG + qc_lid0()) * TP;
    const int oc = qc_grp1();
    const int b = qc_grp2();
    if (p0 >= NPIX) return;
    const int ic = oc / OCG;
    __global const float* xc = x + ((size_t)b * IC + ic) * (IH * IW);
    __global const uchar* wr = w + (size_t)oc * ROW_BYTES;
    ACC_T wv[KH * KW];
    #pragma unroll
    for (int k = 0; k < KH * KW; ++k) wv[k] = W_VAL(wr, oc, k);
    #pragma unroll
    for (int t = 0; t < TP; ++t) {
        const int p = p0 + t;
        if (p < NPIX) {
            const int oy = p / OW, ox = p % OW;
            ACC_T acc = 0;
            #pragma unroll
            for (int kh = 0; kh < KH; ++kh) {
                const int iy = oy * SH - PT + kh * DH;
                #pragma unroll
                for (int kw = 0; kw < KW; ++kw) {
                    const int ix = ox * SW - PL + kw * DW;
                    if (iy >= 0 && iy < IH && ix >= 0 && ix < IW) acc += X_VAL(xc[iy * IW + ix]) * wv[kh * KW + kw];
                }
            }
#if HAS_BIAS
            float v = FINISH(acc, bias[oc], oc);
#else
            float v = FINISH(acc, 0, oc);
#endif
            const int idx = (b * OC + oc) * NPIX + p;
            EPILOGUE(v, idx);
            y[idx] = v;
        }
    }
}
#undef OCG
#undef NPIX

"""# + WeightAccessTemplate.cleanup
}
