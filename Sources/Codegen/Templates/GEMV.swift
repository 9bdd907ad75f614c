/// Dequantize-in-registers GEMV (batch rows M small, typically 1):
/// y[m][n] = epilogue(Σ_k x[m][k] · (q[n][k] − zp)·s + bias[n]).
///
/// Memory-bound on GCN, so it is written for weight bandwidth: each lane
/// streams 16-byte (`VEC_BYTES`) chunks of a row, dequantizes them in
/// registers, and applies the chunk's scale once after its partial dot
/// (llama.cpp's GCN lesson, PR #10665); the `LANES = WG / ROWS` lanes of a row
/// then reduce in LDS. A chunk never straddles two scale groups (the code
/// generator only picks `VEC_BYTES` with `GROUP % VPC == 0`).
///
/// Parameters: `N`, `K`, `M`, `ROW_BYTES`, `CHUNK_SCALE` (1: a chunk lies in
/// one scale group), `HAS_BIAS`, weight access (WeightAccess).
/// Tuning: `WG` (work-group size), `ROWS` (rows per work-group), `VEC_BYTES`
/// (4, 8 or 16 bytes per load). Grid: (ceil(N / ROWS) · WG, M).
enum GEMVTemplate {
    static let source = WeightAccessTemplate.source + #"""
#define LANES (WG / ROWS)
#define VPC (VEC_BYTES * 8 / W_BITS)
#define NCHUNK (K / VPC)
#if INT_MODE
#define WORD_INT(x) ((int)(x))
#else
#define WORD_INT(x) (x)
#endif
#if W_BITS == 8
#define VPW 4
#define WORD_VALUE(wd, j) as_float(QC_MAGIC | ((((wd) >> (8 * (j))) & 0xFFu) ^ W_FLIP))
#elif W_BITS == 4
#define VPW 8
#define WORD_VALUE(wd, j) as_float(QC_MAGIC | ((((wd) >> (4 * (j))) & 0xFu) ^ W_FLIP))
#else
#define VPW 1
#define WORD_VALUE(wd, j) as_float(wd)
#endif
__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void KERNEL_NAME(__global float* restrict y, __global const float* restrict x, W_PARAMS
#if HAS_BIAS
                 , __global const BIAS_T* restrict bias
#endif
                 MULT_PARAM EPI_PARAMS)
{
    __local ACC_T red[WG];
    const int lid = qc_lid0();
    const int r = lid / LANES, lane = lid % LANES;
    const int n = qc_grp0() * ROWS + r;
    const int m = qc_grp1();
    ACC_T acc = 0;
    if (n < N) {
        __global const uchar* wr = w + (size_t)n * ROW_BYTES;
        __global const float* xr = x + (size_t)m * K;
        for (int c = lane; c < NCHUNK; c += LANES) {
            const int k0 = c * VPC;
            ACC_T part = 0;
#if CHUNK_SCALE
            const float sub = W_SUB(n, k0);
#endif
            /* One VEC_BYTES load per chunk (dwordx4 for 16 bytes), decoded word by word:
               value j of a little-endian word sits at bits W_BITS·j. */
            __global const uint* words = (__global const uint*)wr + c * (VEC_BYTES / 4);
            #pragma unroll
            for (int wi = 0; wi < VEC_BYTES / 4; ++wi) {
                const uint wd = words[wi];
                #pragma unroll
                for (int j = 0; j < VPW; ++j) {
                    const int k = k0 + wi * VPW + j;
#if CHUNK_SCALE
                    part += WORD_INT(WORD_VALUE(wd, j) - sub) * X_VAL(xr[k]);
#else
                    /* Groups shorter than a chunk: scale per element. */
                    part += (WORD_VALUE(wd, j) - W_SUB(n, k)) * W_SCALE(n, k) * xr[k];
#endif
                }
            }
#if CHUNK_SCALE && !INT_MODE
            acc += part * W_SCALE(n, k0);
#else
            acc += part;
#endif
        }
        /* The tail of a row shorter than a chunk, element by element. */
        for (int k = NCHUNK * VPC + lane; k < K; k += LANES)
            acc += W_VAL(wr, n, k) * X_VAL(xr[k]);
    }
    red[lid] = acc;
    qc_barrier();
    for (int s = LANES / 2; s > 0; s >>= 1) {
        if (lane < s) red[lid] += red[lid + s];
        qc_barrier();
    }
    if (lane == 0 && n < N) {
#if HAS_BIAS
        float v = FINISH(red[lid], bias[n], n);
#else
        float v = FINISH(red[lid], 0, n);
#endif
        const int i = m * N + n;
        EPILOGUE(v, i);
        y[i] = v;
    }
}
#undef LANES
#undef VPC
#undef NCHUNK
#undef WORD_INT
#undef VPW
#undef WORD_VALUE

"""# + WeightAccessTemplate.cleanup
}
