/// LayerNormalization over the last axes, viewed as [ROWS][L]: one
/// work-item per row, two-pass mean and variance in fp32, then
/// (x − μ)/√(σ² + ε)·γ + β. Parameters: `ROWS`, `L`, `EPS`, `HAS_BETA`.
/// Tuning: `WG`.
enum LayerNormTemplate {
    static let source = #"""
__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void KERNEL_NAME(__global float* restrict y, __global const float* restrict x, __global const float* restrict gamma
#if HAS_BETA
                 , __global const float* restrict beta
#endif
                 EPI_PARAMS)
{
    const int row = (qc_grp0() * WG + qc_lid0());
    if (row >= ROWS) return;
    __global const float* xr = x + (size_t)row * L;
    float mean = 0.0f;
    for (int j = 0; j < L; ++j) mean += xr[j];
    mean /= (float)L;
    float var = 0.0f;
    for (int j = 0; j < L; ++j) { const float d = xr[j] - mean; var += d * d; }
    var /= (float)L;
    const float inv = 1.0f / qc_sqrt(var + EPS);
    for (int j = 0; j < L; ++j) {
        float v = (xr[j] - mean) * inv * gamma[j];
#if HAS_BETA
        v += beta[j];
#endif
        const int i = row * L + j;
        EPILOGUE(v, i);
        y[i] = v;
    }
}

"""#
}
