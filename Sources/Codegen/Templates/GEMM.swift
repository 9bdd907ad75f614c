/// Dequantize-in-registers GEMM: C[m][n] = epilogue(Σ_k A[m][k] · W[n][k] + bias[n])
/// for Gemm/MatMul layers with a constant (quantized or float) weight and
/// more than a few rows. Each work-item keeps a `TM`×`TN` tile of C in
/// registers (fp32 accumulation); every weight it loads is dequantized once
/// and used `TM` times, every activation `TN` times. gfx803 has no int8 dot
/// instruction, so the win of int8/int4 weights is the bytes they save.
///
/// Parameters: `M`, `N`, `K`, `ROW_BYTES`, `HAS_BIAS`, weight access.
/// Tuning: `TM`, `TN` (outputs per work-item), `WG_M`, `WG_N` (work-group
/// shape), `UNROLL` (k-loop unroll), `LDS_K` (0: every work-item loads its
/// operands through the vector L1; > 0: the work-group stages LDS_K-deep
/// slices of its WG_M·TM activation rows and WG_N·TN weight rows, weights
/// dequantized once, in LDS: each global value is read once per work-group
/// instead of once per work-item, and LDS serves 128 B/clk/CU against the
/// L1's 64). Grid: (ceil(N/TN)·…, ceil(M/TM)·…).
enum GEMMTemplate {
    static let source = WeightAccessTemplate.source + #"""
__kernel __attribute__((reqd_work_group_size(WG_N, WG_M, 1)))
void KERNEL_NAME(__global float* restrict y, __global const float* restrict a, W_PARAMS
#if HAS_BIAS
                 , __global const BIAS_T* restrict bias
#endif
                 MULT_PARAM EPI_PARAMS)
{
#if LDS_K
    /* +1: rows one bank apart. */
    __local ACC_T la[WG_M * TM][LDS_K + 1];
    __local ACC_T lw[WG_N * TN][LDS_K + 1];
    const int lx = qc_lid0(), ly = qc_lid1(), lid = ly * WG_N + lx;
    const int gm = qc_grp1() * WG_M * TM, gn = qc_grp0() * WG_N * TN;
    const int n0 = gn + lx * TN, m0 = gm + ly * TM;
#else
    const int n0 = (qc_grp0() * WG_N + qc_lid0()) * TN;
    const int m0 = (qc_grp1() * WG_M + qc_lid1()) * TM;
    if (n0 >= N || m0 >= M) return;
#endif
    ACC_T acc[TM][TN];
    #pragma unroll
    for (int i = 0; i < TM; ++i)
        #pragma unroll
        for (int j = 0; j < TN; ++j) acc[i][j] = 0;
#if LDS_K
    /* Every work-item reaches both barriers: out-of-range rows load clamped
       values and are not stored. */
    for (int k0 = 0; k0 < K; k0 += LDS_K) {
        for (int e = lid; e < WG_M * TM * LDS_K; e += WG_M * WG_N) {
            const int r = e / LDS_K, k = k0 + e % LDS_K;
            la[r][e % LDS_K] = k < K ? X_VAL(a[(size_t)qc_imin(gm + r, M - 1) * K + k]) : 0;
        }
        for (int e = lid; e < WG_N * TN * LDS_K; e += WG_M * WG_N) {
            const int r = e / LDS_K, k = k0 + e % LDS_K, n = qc_imin(gn + r, N - 1);
            lw[r][e % LDS_K] = k < K ? W_VAL(w + (size_t)n * ROW_BYTES, n, k) : 0;
        }
        qc_barrier();
        #pragma unroll UNROLL
        for (int kk = 0; kk < LDS_K; ++kk) {
            ACC_T wv[TN], av[TM];
            #pragma unroll
            for (int j = 0; j < TN; ++j) wv[j] = lw[lx * TN + j][kk];
            #pragma unroll
            for (int i = 0; i < TM; ++i) av[i] = la[ly * TM + i][kk];
            #pragma unroll
            for (int i = 0; i < TM; ++i)
                #pragma unroll
                for (int j = 0; j < TN; ++j) acc[i][j] += av[i] * wv[j];
        }
        qc_barrier();
    }
#else
    #pragma unroll UNROLL
    for (int k = 0; k < K; ++k) {
        ACC_T wv[TN], av[TM];
        #pragma unroll
        for (int j = 0; j < TN; ++j) {
            const int n = qc_imin(n0 + j, N - 1);
            wv[j] = W_VAL(w + (size_t)n * ROW_BYTES, n, k);
        }
        #pragma unroll
        for (int i = 0; i < TM; ++i) av[i] = X_VAL(a[(size_t)qc_imin(m0 + i, M - 1) * K + k]);
        #pragma unroll
        for (int i = 0; i < TM; ++i)
            #pragma unroll
            for (int j = 0; j < TN; ++j) acc[i][j] += av[i] * wv[j];
    }
#endif
    #pragma unroll
    for (int i = 0; i < TM; ++i) {
        #pragma unroll
        for (int j = 0; j < TN; ++j) {
            const int m = m0 + i, n = n0 + j;
            if (m < M && n < N) {
#if HAS_BIAS
                float v = FINISH(acc[i][j], bias[n], n);
#else
                float v = FINISH(acc[i][j], 0, n);
#endif
                const int idx = m * N + n;
                EPILOGUE(v, idx);
                y[idx] = v;
            }
        }
    }
}

"""# + WeightAccessTemplate.cleanup
}
