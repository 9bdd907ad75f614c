/// ReduceMean / ReduceSum / ReduceMax / ReduceMin over contiguous axes, the
/// tensor viewed as [OUTER][R][INNER]: one output per work-item.
/// Parameters: `OUTER`, `R`, `INNER`, `OP` (0 mean, 1 sum, 2 max, 3 min).
/// Tuning: `WG`.
enum ReduceTemplate {
    static let source = #"""
__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void KERNEL_NAME(__global float* restrict y, __global const float* restrict x EPI_PARAMS)
{
    const int i = (qc_grp0() * WG + qc_lid0());
    if (i >= OUTER * INNER) return;
    const int o = i / INNER, in = i % INNER;
    __global const float* xp = x + (size_t)o * R * INNER + in;
#if OP >= 2
    float acc = xp[0];
    for (int j = 1; j < R; ++j) acc = OP == 2 ? qc_max(acc, xp[j * INNER]) : qc_min(acc, xp[j * INNER]);
#else
    float acc = 0.0f;
    for (int j = 0; j < R; ++j) acc += xp[j * INNER];
#if OP == 0
    acc /= (float)R;
#endif
#endif
    EPILOGUE(acc, i);
    y[i] = acc;
}

"""#
}
