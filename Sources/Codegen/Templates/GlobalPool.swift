/// GlobalAveragePool / GlobalMaxPool: one work-group per (batch, channel)
/// plane of `HW` values, lanes stride over the plane and reduce in LDS.
/// Parameters: `PLANES`, `HW`, `IS_MAX`. Tuning: `WG` (a power of two).
/// Grid: PLANES · WG.
enum GlobalPoolTemplate {
    static let source = #"""
__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void KERNEL_NAME(__global float* restrict y, __global const float* restrict x EPI_PARAMS)
{
    __local float red[WG];
    const int lid = qc_lid0();
    const int plane = qc_grp0();
    __global const float* xp = x + (size_t)plane * HW;
#if IS_MAX
    float acc = -INFINITY;
    for (int j = lid; j < HW; j += WG) acc = qc_max(acc, xp[j]);
#else
    float acc = 0.0f;
    for (int j = lid; j < HW; j += WG) acc += xp[j];
#endif
    red[lid] = acc;
    qc_barrier();
    for (int s = WG / 2; s > 0; s >>= 1) {
#if IS_MAX
        if (lid < s) red[lid] = qc_max(red[lid], red[lid + s]);
#else
        if (lid < s) red[lid] += red[lid + s];
#endif
        qc_barrier();
    }
    if (lid == 0) {
#if IS_MAX
        float v = red[0];
#else
        float v = red[0] / (float)HW;
#endif
        EPILOGUE(v, plane);
        y[plane] = v;
    }
}

"""#
}
