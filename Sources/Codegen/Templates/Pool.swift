/// MaxPool / AveragePool over H×W windows of NCHW input, one output per
/// work-item. Parameters: `B`, `C`, `IH`, `IW`, `OH`, `OW`, `KH`, `KW`, `SH`,
/// `SW`, `PT`, `PL`, `DH`, `DW`, `IS_MAX`, `COUNT_PAD` (average counts the
/// padding). Tuning: `WG`. Grid: B·C·OH·OW rounded up to WG.
enum PoolTemplate {
    static let source = #"""
__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void KERNEL_NAME(__global float* restrict y, __global const float* restrict x EPI_PARAMS)
{
    const int i = (qc_grp0() * WG + qc_lid0());
    if (i >= B * C * OH * OW) return;
    const int ox = i % OW, oy = (i / OW) % OH, bc = i / (OW * OH);
    __global const float* xc = x + (size_t)bc * (IH * IW);
#if IS_MAX
    float acc = -INFINITY;
#else
    float acc = 0.0f;
    int n = 0;
#endif
    #pragma unroll
    for (int kh = 0; kh < KH; ++kh) {
        const int iy = oy * SH - PT + kh * DH;
        #pragma unroll
        for (int kw = 0; kw < KW; ++kw) {
            const int ix = ox * SW - PL + kw * DW;
            if (iy >= 0 && iy < IH && ix >= 0 && ix < IW) {
#if IS_MAX
                acc = qc_max(acc, xc[iy * IW + ix]);
#else
                acc += xc[iy * IW + ix];
                ++n;
#endif
            }
        }
    }
#if !IS_MAX
#if COUNT_PAD
    acc /= (float)(KH * KW);
#else
    acc /= (float)n;
#endif
#endif
    EPILOGUE(acc, i);
    y[i] = acc;
}

"""#
}
