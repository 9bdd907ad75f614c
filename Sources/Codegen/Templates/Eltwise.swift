/// Elementwise and broadcast operators (Add/Sub/Mul/Div/Pow/Max/Min,
/// activations, Clip, fake quantization, GELU's Div→Erf→Add→Mul chain, …)
/// fused into one pass over the output: the whole expression is the kernel's
/// `EPILOGUE`, which reads its operands (arena tensors and weight blobs) at
/// their broadcast index of output element `i`.
///
/// Parameters: `COUNT` (output elements), the epilogue. Tuning: `WG`, `VPT`
/// (elements per work-item). Grid: ceil(COUNT / VPT) rounded up to WG.
enum EltwiseTemplate {
    static let source = #"""
__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void KERNEL_NAME(__global float* restrict y EPI_PARAMS)
{
    const int base = (qc_grp0() * WG + qc_lid0()) * VPT;
    #pragma unroll
    for (int t = 0; t < VPT; ++t) {
        const int i = base + t;
        if (i < COUNT) {
            float v = 0.0f;
            EPILOGUE(v, i);
            y[i] = v;
        }
    }
}

"""#
}
