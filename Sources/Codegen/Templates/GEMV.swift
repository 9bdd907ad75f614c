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
///
/// On a CPU device (`QC_HOST_CPU`, set by the runtime for pocl unless
/// `quantc exec --gcn-bodies`) int8/int4 weights with chunk scales take a CPU
/// body on explicit 8-wide vectors, one work-item per row (see its comment;
/// tools/bench_gcn.py measures it). gfx803 code never contains it.
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
#if QC_HOST_CPU && CHUNK_SCALE && !INT_MODE && (W_BITS == 4 || W_BITS == 8) && VPC % 8 == 0
    /* CPU OpenCL (pocl): the GCN body below runs there scalar, 13-18 ms for a
       4096x4096 int4/int8 GEMV, because pocl vectorizes only across work-items
       and the per-lane chunk loop and the barrier-split LDS reduction defeat
       that. Here the first lane of each row does the whole row on explicit
       8-wide vectors (AVX2 on x86): a value is sign- or zero-extended by a
       shift left then right (no mask, flip or 2^23 trick), chunk partials are
       kept in 8-lane accumulators, so no long dependency chain; the other
       lanes return, and no barrier is left. Summation order and fused
       multiply-adds differ from the GCN body (fp32 reassociation), so tests
       compare both bodies with the simulation (exec --gcn-bodies). */
    const int lid = qc_lid0();
    const int n = qc_grp0() * ROWS + lid / LANES;
    const int m = qc_grp1();
    if (lid % LANES != 0 || n >= N) return;
    __global const uchar* wr = w + (size_t)n * ROW_BYTES;
    __global const float* xr = x + (size_t)m * K;
    float8 acc8 = (float8)(0.0f);
    for (int c = 0; c < NCHUNK; ++c) {
        const int k0 = c * VPC;
#if W_ZP
        const float zp = W_SUB(n, k0) - W_BASE;   /* exact: integers below 2^24 */
#endif
        __global const uint* words = (__global const uint*)wr + c * (VEC_BYTES / 4);
        /* Two partial sums of fused multiply-adds (x86 FMA) per chunk, then one
           fma by the chunk's scale: ~10% fewer operations than separate
           multiplies and a tree (measured on pocl, one thread). */
        float8 p0 = (float8)(0.0f), p1 = (float8)(0.0f);
        #pragma unroll
        for (int g = 0; g < VPC / 8; ++g) {
#if W_BITS == 4
            const int8 t = as_int8((uint8)(words[g]) << (uint8)(28, 24, 20, 16, 12, 8, 4, 0));
#else
            const uint a = words[2 * g], b = words[2 * g + 1];
            const int8 t = as_int8((uint8)(a, a, a, a, b, b, b, b) << (uint8)(24, 16, 8, 0, 24, 16, 8, 0));
#endif
#if W_FLIP
            float8 v = convert_float8(t >> (32 - W_BITS));            /* signed storage */
#else
            float8 v = convert_float8(as_uint8(t) >> (32 - W_BITS));  /* unsigned storage */
#endif
#if W_ZP
            v -= zp;
#endif
            if (g % 2 == 0) p0 = fma(v, vload8(0, xr + k0 + 8 * g), p0);
            else p1 = fma(v, vload8(0, xr + k0 + 8 * g), p1);
        }
        acc8 = fma(p0 + p1, (float8)(W_SCALE(n, k0)), acc8);
    }
    const float4 a4 = acc8.lo + acc8.hi;
    float acc = (a4.x + a4.y) + (a4.z + a4.w);
    for (int k = NCHUNK * VPC; k < K; ++k)
        acc += W_VAL(wr, n, k) * X_VAL(xr[k]);
#if HAS_BIAS
    float v = FINISH(acc, bias[n], n);
#else
    float v = FINISH(acc, 0, n);
#endif
    const int i = m * N + n;
    EPILOGUE(v, i);
    y[i] = v;
#else
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
#endif
}
#undef LANES
#undef VPC
#undef NCHUNK
#undef WORD_INT
#undef VPW
#undef WORD_VALUE

"""# + WeightAccessTemplate.cleanup
}
