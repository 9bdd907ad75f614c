/// Per-kernel access to packed weights, included by every template that reads
/// them. Parameters (from the kernel's `#define` block):
/// - `W_BITS` 8, 4 (quantized) or 32 (float weights of a layer kept in float)
/// - `W_FLIP` 0x80 / 0x8 for signed 8/4-bit values, 0 for unsigned
/// - `W_OFF` the offset `W_FLIP` adds (128 / 8 / 0)
/// - `W_ZP` 1 when a zero-point array is passed (asymmetric weights)
/// - `SIDX(n, k)` index into the scale (and zero-point) array of row n, element k
/// - `INT_MODE` 1: the layer is ONNX Runtime's QLinearConv/QLinearMatMul pattern
///   (8-bit input on a known grid `XS`, 8-bit weights, int32 bias, quantized
///   output): products summed exactly in int32 and requantized as
///   float(acc + bias)·mult[n] (mult = x_scale·w_scale/y_scale), so rounding
///   matches the reference bit for bit; 0: dequantize, fp32 accumulation.
enum WeightAccessTemplate {
    static let source = #"""
#if W_BITS == 8
#define W_RAW(p, k) QC_RAW8(p, k, W_FLIP)
#define W_BASE (QC_TWO23 + (float)W_OFF)
#elif W_BITS == 4
#define W_RAW(p, k) QC_RAW4(p, k, W_FLIP)
#define W_BASE (QC_TWO23 + (float)W_OFF)
#else
#define W_RAW(p, k) (((__global const float*)(p))[(k)])
#define W_BASE 0.0f
#endif
#if W_BITS == 32
#define W_SCALE(n, k) 1.0f
#define W_SUB(n, k) 0.0f
#elif W_ZP
#define W_SCALE(n, k) ws[SIDX(n, k)]
#define W_SUB(n, k) (W_BASE + wz[SIDX(n, k)])
#else
#define W_SCALE(n, k) ws[SIDX(n, k)]
#define W_SUB(n, k) W_BASE
#endif
#if INT_MODE
#define ACC_T int
#define X_VAL(v) ((int)__builtin_rintf((v) * (1.0f / XS)))
#define W_VAL(p, n, k) ((int)(W_RAW(p, k) - W_SUB(n, k)))
#define BIAS_T int
#define MULT_PARAM , __global const float* restrict mult
#define FINISH(acc, b, n) ((float)((acc) + (b)) * mult[n])
#else
#define ACC_T float
#define X_VAL(v) (v)
#define W_VAL(p, n, k) ((W_RAW(p, k) - W_SUB(n, k)) * W_SCALE(n, k))
#define BIAS_T float
#define MULT_PARAM
#define FINISH(acc, b, n) ((acc) + (b))
#endif
/* The weight arguments of a kernel signature. */
#if W_BITS == 32
#define W_PARAMS __global const uchar* restrict w
#elif W_ZP
#define W_PARAMS __global const uchar* restrict w, __global const float* restrict ws, __global const float* restrict wz
#else
#define W_PARAMS __global const uchar* restrict w, __global const float* restrict ws
#endif

"""#

    static let cleanup = #"""
#undef W_RAW
#undef W_BASE
#undef W_SCALE
#undef W_SUB
#undef W_PARAMS
#undef ACC_T
#undef X_VAL
#undef W_VAL
#undef BIAS_T
#undef MULT_PARAM
#undef FINISH

"""#
}
