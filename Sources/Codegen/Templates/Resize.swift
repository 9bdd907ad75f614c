/// Resize of the last two axes (NCHW), nearest or (bi)linear, one output per
/// work-item. The source coordinate follows ONNX Resize:
/// `COORD` 0 half_pixel, 1 asymmetric, 2 align_corners, 3 pytorch_half_pixel,
/// 4 tf_half_pixel_for_nn; `NEAREST` 0 round_prefer_floor, 1 round_prefer_ceil,
/// 2 floor, 3 ceil. Parameters: `PLANES`, `IH`, `IW`, `OH`, `OW`, `SCALE_H`,
/// `SCALE_W` (output/input, as the model gives them), `LINEAR`. Tuning: `WG`.
enum ResizeTemplate {
    static let source = #"""
#if COORD == 0
#define RZ_COORD(o, scale, insz, outsz) (((float)(o) + 0.5f) / (scale) - 0.5f)
#elif COORD == 1
#define RZ_COORD(o, scale, insz, outsz) ((float)(o) / (scale))
#elif COORD == 2
#define RZ_COORD(o, scale, insz, outsz) ((outsz) == 1 ? 0.0f : (float)(o) * (float)((insz) - 1) / (float)((outsz) - 1))
#elif COORD == 3
#define RZ_COORD(o, scale, insz, outsz) ((outsz) > 1 ? ((float)(o) + 0.5f) / (scale) - 0.5f : 0.0f)
#else
#define RZ_COORD(o, scale, insz, outsz) (((float)(o) + 0.5f) / (scale))
#endif
#if NEAREST == 0
#define RZ_ROUND(c) ((c) == __builtin_floorf(c) + 0.5f ? __builtin_floorf(c) : __builtin_rintf(c))
#elif NEAREST == 1
#define RZ_ROUND(c) ((c) == __builtin_floorf(c) + 0.5f ? __builtin_ceilf(c) : __builtin_rintf(c))
#elif NEAREST == 2
#define RZ_ROUND(c) __builtin_floorf(c)
#else
#define RZ_ROUND(c) __builtin_ceilf(c)
#endif
#define RZ_NEAREST(c, insz) qc_imin(qc_imax((int)RZ_ROUND(c), 0), (insz) - 1)
__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void KERNEL_NAME(__global float* restrict y, __global const float* restrict x EPI_PARAMS)
{
    const int i = (qc_grp0() * WG + qc_lid0());
    if (i >= PLANES * OH * OW) return;
    const int ox = i % OW, oy = (i / OW) % OH, pl = i / (OW * OH);
    __global const float* xp = x + (size_t)pl * (IH * IW);
    const float cy = RZ_COORD(oy, SCALE_H, IH, OH), cx = RZ_COORD(ox, SCALE_W, IW, OW);
#if LINEAR
    const float fy = qc_clamp(cy, 0.0f, (float)(IH - 1)), fx = qc_clamp(cx, 0.0f, (float)(IW - 1));
    const int y0 = (int)__builtin_floorf(fy), x0 = (int)__builtin_floorf(fx);
    const int y1 = qc_imin(y0 + 1, IH - 1), x1 = qc_imin(x0 + 1, IW - 1);
    const float wy = fy - (float)y0, wx = fx - (float)x0;
    const float top = xp[y0 * IW + x0] * (1.0f - wx) + xp[y0 * IW + x1] * wx;
    const float bot = xp[y1 * IW + x0] * (1.0f - wx) + xp[y1 * IW + x1] * wx;
    float v = top * (1.0f - wy) + bot * wy;
#else
    float v = xp[RZ_NEAREST(cy, IH) * IW + RZ_NEAREST(cx, IW)];
#endif
    EPILOGUE(v, i);
    y[i] = v;
}
#undef RZ_COORD
#undef RZ_ROUND
#undef RZ_NEAREST

"""#
}
