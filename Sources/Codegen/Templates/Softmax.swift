/// Softmax (opset 13: over one axis) of a tensor viewed as
/// [OUTER][L][INNER]: one work-item per (outer, inner) row, max-subtracted.
/// Parameters: `OUTER`, `L`, `INNER`, `LOG` (LogSoftmax). Tuning: `WG`.
enum SoftmaxTemplate {
    static let source = #"""
__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void KERNEL_NAME(__global float* restrict y, __global const float* restrict x EPI_PARAMS)
{
    const int row = (qc_grp0() * WG + qc_lid0());
    if (row >= OUTER * INNER) return;
    const int o = row / INNER, in = row % INNER;
    const int base = o * L * INNER + in;
    float mx = -INFINITY;
    for (int j = 0; j < L; ++j) mx = qc_max(mx, x[base + j * INNER]);
    float sum = 0.0f;
    for (int j = 0; j < L; ++j) sum += qc_exp(x[base + j * INNER] - mx);
    for (int j = 0; j < L; ++j) {
        const int i = base + j * INNER;
#if LOG
        float v = x[i] - mx - __builtin_logf(sum);
#else
        float v = qc_exp(x[i] - mx) / sum;
#endif
        EPILOGUE(v, i);
        y[i] = v;
    }
}

"""#
}
