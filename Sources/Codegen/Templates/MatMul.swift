/// MatMul of two activations (attention scores, attention × values):
/// C[b][m][n] = Σ_k A[b][m][k] · B[b][k][n], batch dims broadcast through
/// batch strides (0 for a broadcast operand), fp32, one output per work-item.
/// Parameters: `BATCH`, `M`, `N`, `K`, `A_BSTRIDE`, `B_BSTRIDE`. Tuning: `WG`.
enum MatMulTemplate {
    static let source = #"""
__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void KERNEL_NAME(__global float* restrict y, __global const float* restrict a, __global const float* restrict bm EPI_PARAMS)
{
    const int i = (qc_grp0() * WG + qc_lid0());
    if (i >= BATCH * M * N) return;
    const int n = i % N, m = (i / N) % M, b = i / (M * N);
    __global const float* ar = a + (size_t)b * A_BSTRIDE + (size_t)m * K;
    __global const float* bc = bm + (size_t)b * B_BSTRIDE + n;
    float acc = 0.0f;
    for (int k = 0; k < K; ++k) acc += ar[k] * bc[(size_t)k * N];
    EPILOGUE(acc, i);
    y[i] = acc;
}

"""#
}
