/// Data movement as one strided copy over a logical shape of rank ≤ 6
/// (`D0`…`D5`, outermost first, padded with 1): Transpose (permuted source
/// strides), Slice and Split (stepped source strides, start offset), Concat
/// inputs that cannot be written in place (destination strides of the output,
/// offset along the axis), with a fused epilogue at the destination index.
///
/// Parameters: `COUNT`, `D0`…`D5`, `SS0`…`SS5`, `SRC_BASE`, `DS0`…`DS5`, `DST_BASE`.
/// Tuning: `WG`. Grid: COUNT rounded up to WG.
enum StridedCopyTemplate {
    static let source = #"""
__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void KERNEL_NAME(__global float* restrict y, __global const float* restrict x EPI_PARAMS)
{
    const int i = (qc_grp0() * WG + qc_lid0());
    if (i >= COUNT) return;
    int r = i;
    const int c5 = r % D5; r /= D5;
    const int c4 = r % D4; r /= D4;
    const int c3 = r % D3; r /= D3;
    const int c2 = r % D2; r /= D2;
    const int c1 = r % D1; r /= D1;
    const int c0 = r;
    const int src = SRC_BASE + c0 * SS0 + c1 * SS1 + c2 * SS2 + c3 * SS3 + c4 * SS4 + c5 * SS5;
    const int dst = DST_BASE + c0 * DS0 + c1 * DS1 + c2 * DS2 + c3 * DS3 + c4 * DS4 + c5 * DS5;
    float v = x[src];
    EPILOGUE(v, dst);
    y[dst] = v;
}

"""#
}
