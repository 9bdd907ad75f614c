/// The helpers every kernel of `kernels.cl` uses, emitted once at the top.
///
/// With `-nogpulib` OpenCL library functions (exp, tanh, erf, dot, native_*)
/// become calls (`s_swappc_b64`) that blow registers up, so everything here is
/// written with clang builtins that lower to single GCN instructions
/// (`v_exp_f32`, `v_rndne_f32`, `v_fma_f32`, `v_max_f32`, …) and stays inline.
enum PreludeTemplate {
    static let source = #"""
/* ---- quantc prelude ---------------------------------------------------- */
/* No contraction of a*b+c into fma: the quantized arithmetic below mirrors the
   reference's separately rounded products and sums (fma only where it fuses). */
#pragma OPENCL FP_CONTRACT OFF
#define QC_MAGIC 0x4B000000u
/* 2^23: as_float(QC_MAGIC | n) - QC_TWO23 == n for n < 2^23 (integer to float
   without v_cvt_f32_u32; GCN practice, see docs). */
#define QC_TWO23 8388608.0f
/* QC_HOST_CPU: the runtime defines it to 1 when it builds kernels.cl for a CPU
   device (pocl) without --gcn-bodies; templates with a CPU body (GEMV) take it
   then. The gfx803 code (clang-15, gcn-check) is always the default 0 path. */
#ifndef QC_HOST_CPU
#define QC_HOST_CPU 0
#endif

/* Work-item ids, barriers and integer min/max: with -nogpulib the OpenCL
   built-ins (get_global_id, barrier, min) are library calls on amdgcn, so
   there they map to the intrinsics. Kernels are launched without global
   offsets and with their required work-group size, so the global id is
   group id × work-group size + local id. */
#ifdef __AMDGCN__
#define qc_lid0() ((int)__builtin_amdgcn_workitem_id_x())
#define qc_lid1() ((int)__builtin_amdgcn_workitem_id_y())
#define qc_grp0() ((int)__builtin_amdgcn_workgroup_id_x())
#define qc_grp1() ((int)__builtin_amdgcn_workgroup_id_y())
#define qc_grp2() ((int)__builtin_amdgcn_workgroup_id_z())
#define qc_barrier() do { __builtin_amdgcn_fence(__ATOMIC_RELEASE, "workgroup"); __builtin_amdgcn_s_barrier(); \
                          __builtin_amdgcn_fence(__ATOMIC_ACQUIRE, "workgroup"); } while (0)
#else
#define qc_lid0() ((int)get_local_id(0))
#define qc_lid1() ((int)get_local_id(1))
#define qc_grp0() ((int)get_group_id(0))
#define qc_grp1() ((int)get_group_id(1))
#define qc_grp2() ((int)get_group_id(2))
#define qc_barrier() barrier(CLK_LOCAL_MEM_FENCE)
#endif
static inline int qc_imin(int a, int b) { return a < b ? a : b; }
static inline int qc_imax(int a, int b) { return a > b ? a : b; }

static inline float qc_min(float a, float b) { return __builtin_fminf(a, b); }
static inline float qc_max(float a, float b) { return __builtin_fmaxf(a, b); }
static inline float qc_clamp(float x, float lo, float hi) { return __builtin_fminf(__builtin_fmaxf(x, lo), hi); }
static inline float qc_abs(float x) { return __builtin_fabsf(x); }
static inline float qc_sqrt(float x) { return __builtin_sqrtf(x); }
/* e^x = 2^(x·log2 e). */
static inline float qc_exp(float x) { return __builtin_exp2f(x * 1.4426950408889634f); }

/* Fake quantization, ONNX QuantizeLinear then DequantizeLinear:
   (clamp(rint(x / s) + zp, lo, hi) - zp) · s, rint = round half to even. */
static inline float qc_fq(float x, float s, float zp, float lo, float hi) {
    return (qc_clamp(__builtin_rintf(x / s) + zp, lo, hi) - zp) * s;
}

/* Requantization of an integer accumulator already scaled to output steps
   (ONNX Runtime's MlasRequantizeOutput), then dequantized: lo/hi are the output
   range less the zero point. */
static inline float qc_requant(float v, float lo, float hi, float s) {
    return __builtin_rintf(qc_clamp(v, lo, hi)) * s;
}

/* QLinearMul (ONNX Runtime's MlasQLinearMulKernel) on dequantized operands:
   c = round(float((a - zA)(b - zB)) · (sA·sB/sC) + zC), saturated, dequantized. */
static inline float qc_qlmul(float a, float b, float sa, float sb, float ratio, float zc, float lo, float hi, float sc) {
    const float p = __builtin_rintf(a / sa) * __builtin_rintf(b / sb);
    const float v = p * ratio + zc;
    return (qc_clamp(__builtin_rintf(v), lo, hi) - zc) * sc;
}
/* QLinearAdd (MlasQLinearAddKernelAvx2Helper): with rA = sA/sC, rB = sB/sC and
   f = zC - (rA·zA + rB·zB), c = round(fma(qa, rA, fma(qb, rB, f))); an operand
   constant along the innermost run ("scalar", mode 1 for A, 2 for B) is folded
   into f first with a separate product and sum. */
static inline float qc_qladd(float a, float b, float sa, float za, float sb, float zb, float ra, float rb, float f,
                             float mode, float zc, float lo, float hi, float sc) {
    const float qa = __builtin_rintf(a / sa) + za, qb = __builtin_rintf(b / sb) + zb;
    float v;
    if (mode == 1.0f) v = __builtin_fmaf(qb, rb, f + qa * ra);
    else if (mode == 2.0f) v = __builtin_fmaf(qa, ra, f + qb * rb);
    else v = __builtin_fmaf(qa, ra, __builtin_fmaf(qb, rb, f));
    return (qc_clamp(__builtin_rintf(v), lo, hi) - zc) * sc;
}

static inline float qc_relu(float x) { return __builtin_fmaxf(x, 0.0f); }
static inline float qc_sigmoid(float x) { return 1.0f / (1.0f + qc_exp(-x)); }
static inline float qc_silu(float x) { return x * qc_sigmoid(x); }
static inline float qc_hardsigmoid(float x, float a, float b) { return qc_clamp(a * x + b, 0.0f, 1.0f); }
static inline float qc_hardswish(float x) { return x * qc_clamp(x * (1.0f / 6.0f) + 0.5f, 0.0f, 1.0f); }
static inline float qc_leakyrelu(float x, float a) { return x >= 0.0f ? x : a * x; }
/* tanh x = sign(x)·(1 - 2/(e^{2|x|} + 1)); absolute error ~1e-7. */
static inline float qc_tanh(float x) {
    float e = qc_exp(2.0f * qc_abs(x));
    float t = 1.0f - 2.0f / (e + 1.0f);
    return x < 0.0f ? -t : t;
}
/* erf: Abramowitz & Stegun 7.1.26, |error| <= 1.5e-7. */
static inline float qc_erf(float x) {
    float a = qc_abs(x);
    float t = 1.0f / (1.0f + 0.3275911f * a);
    float p = t * (0.254829592f + t * (-0.284496736f + t * (1.421413741f + t * (-1.453152027f + t * 1.061405429f))));
    float r = 1.0f - p * qc_exp(-a * a);
    return x < 0.0f ? -r : r;
}
static inline float qc_gelu(float x) { return 0.5f * x * (1.0f + qc_erf(x * 0.70710678118654752f)); }

/* Quantized weights, struct of arrays: values in rows of ROW_BYTES (16-byte
   aligned), element k of a row at byte k (8 bits) or in nibble k of byte k/2,
   low nibble first (4 bits). "Raw" values are q + offset + 2^23 as floats, the
   offset turning signed into unsigned (flip 0x80 / 0x8); the kernel subtracts
   2^23 + offset + zero point, exactly, before scaling. */
#define QC_RAW8(p, k, flip) as_float(QC_MAGIC | ((uint)(p)[(k)] ^ (flip)))
#define QC_RAW4(p, k, flip) as_float(QC_MAGIC | ((((uint)(p)[(k) >> 1] >> (((k) & 1) << 2)) & 15u) ^ (flip)))
/* ---- end of prelude ---------------------------------------------------- */


"""#
}
