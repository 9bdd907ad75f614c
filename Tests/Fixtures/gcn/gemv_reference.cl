// Reference GEMV kernels for gfx803 (issue 7): y = W·x + b, batch 1, W [N, K] quantized,
// x and y fp32. The design codegen's templates follow (see /work/shared/notes/gcn.md):
//  - struct-of-arrays weights: packed integers in 16-byte aligned arrays read with
//    uint4 loads (flat_load_dwordx4), scales in a separate float array;
//  - integer→float by the exponent bit trick: as_float(0x4B000000 | n) = 2^23 + n for
//    n < 2^23, so subtracting 2^23 + offset gives n − offset in two VALU ops, with the
//    storage offset (int4 +8, int8 +128) folded into the constant;
//  - the block scale multiplies the partial dot once per group, not every weight
//    (llama.cpp #10665, the largest GCN win there);
//  - a work-group of one wave (64 lanes) handles ROWS output rows, each lane a strided
//    share of K, then reduces across lanes in LDS.
// Everything below compiles with -nogpulib to zero scratch and no s_swappc: OpenCL
// work-item functions and barrier() are library calls there, so the prelude maps them
// to clang builtins on AMDGCN and to the OpenCL functions elsewhere (pocl).

// ---- prelude -------------------------------------------------------------------------
#ifdef __AMDGCN__
#define QC_LID0() ((int)__builtin_amdgcn_workitem_id_x())
#define QC_GROUP0() ((int)__builtin_amdgcn_workgroup_id_x())
// OpenCL barrier(CLK_LOCAL_MEM_FENCE): release fence, s_barrier, acquire fence.
#define QC_BARRIER() do { __builtin_amdgcn_fence(__ATOMIC_RELEASE, "workgroup"); __builtin_amdgcn_s_barrier(); \
                          __builtin_amdgcn_fence(__ATOMIC_ACQUIRE, "workgroup"); } while (0)
#else
#define QC_LID0() ((int)get_local_id(0))
#define QC_GROUP0() ((int)get_group_id(0))
#define QC_BARRIER() barrier(CLK_LOCAL_MEM_FENCE)
#endif

// n − offset as float for 0 ≤ n < 2^23: two ops (v_or_b32, v_sub_f32) instead of a conversion.
static inline float qc_u2f(uint n, float bias) { return as_float(0x4B000000u | n) - bias; }
// a·b + c, contracted to v_mac_f32/v_mad_f32 (full rate); gfx803 has no fast fp32 FMA,
// so __builtin_fmaf (v_fma_f32) is avoided.
static inline float qc_mad(float a, float b, float c) { return a * b + c; }
#define QC_I4_BIAS 8388616.0f /* 2^23 + 8: uint4 storage q + 8 */
#define QC_I8_BIAS 8388736.0f /* 2^23 + 128: uint8 storage q + 128 */

// Activation fake-quant, the Q→DQ pair of the QDQ graph: (clamp(rint(x/s) + zp, lo, hi) − zp)·s,
// rint rounding half to even as QuantizeLinear does.
static inline float qc_fake_quant(float x, float s, float zp, float lo, float hi) {
    float q = __builtin_fminf(__builtin_fmaxf(__builtin_rintf(x / s) + zp, lo), hi);
    return (q - zp) * s;
}

// ---- int4, per group of 32, symmetric --------------------------------------------------
// wq: [N][K/32] uint4, one uint4 = 32 nibbles = one group, element 2k in the low nibble
// of byte k (ONNX order), each stored as q + 8; ws: [N][K/32] float scales.
#define I4_N 4096
#define I4_K 4096
#define I4_ROWS 2
#define I4_WG 64
#define I4_GROUPS (I4_K / 32)

// Σ over 8 nibbles of one 32-bit word times 8 consecutive x.
static inline float qc_dot8_i4(uint w, float4 xa, float4 xb) {
    float a = xa.x * qc_u2f(w & 15u, QC_I4_BIAS);
    a = qc_mad(xa.y, qc_u2f((w >> 4) & 15u, QC_I4_BIAS), a);
    a = qc_mad(xa.z, qc_u2f((w >> 8) & 15u, QC_I4_BIAS), a);
    a = qc_mad(xa.w, qc_u2f((w >> 12) & 15u, QC_I4_BIAS), a);
    a = qc_mad(xb.x, qc_u2f((w >> 16) & 15u, QC_I4_BIAS), a);
    a = qc_mad(xb.y, qc_u2f((w >> 20) & 15u, QC_I4_BIAS), a);
    a = qc_mad(xb.z, qc_u2f((w >> 24) & 15u, QC_I4_BIAS), a);
    return qc_mad(xb.w, qc_u2f(w >> 28, QC_I4_BIAS), a);
}

__kernel __attribute__((reqd_work_group_size(I4_WG, 1, 1)))
void gemv_int4_g32(__global const uint4* restrict wq, __global const float* restrict ws,
                   __global const float* restrict bias, __global const float4* restrict x,
                   __global float* restrict y) {
    __local float partial[I4_ROWS][I4_WG];
    const int lid = QC_LID0();
    const int row0 = QC_GROUP0() * I4_ROWS;
    float acc[I4_ROWS];
    for (int r = 0; r < I4_ROWS; ++r) acc[r] = 0.0f;
    for (int g = lid; g < I4_GROUPS; g += I4_WG) {
        // x of the group, shared by the rows: 8 float4 loads.
        const float4 x0 = x[g * 8 + 0], x1 = x[g * 8 + 1], x2 = x[g * 8 + 2], x3 = x[g * 8 + 3];
        const float4 x4 = x[g * 8 + 4], x5 = x[g * 8 + 5], x6 = x[g * 8 + 6], x7 = x[g * 8 + 7];
        for (int r = 0; r < I4_ROWS; ++r) {
            const uint4 w = wq[(row0 + r) * I4_GROUPS + g];
            float d = qc_dot8_i4(w.x, x0, x1) + qc_dot8_i4(w.y, x2, x3) + qc_dot8_i4(w.z, x4, x5) + qc_dot8_i4(w.w, x6, x7);
            acc[r] = qc_mad(ws[(row0 + r) * I4_GROUPS + g], d, acc[r]); // block scale once per group
        }
    }
    for (int r = 0; r < I4_ROWS; ++r) partial[r][lid] = acc[r];
    QC_BARRIER();
    for (int s = I4_WG / 2; s > 0; s >>= 1) {
        if (lid < s)
            for (int r = 0; r < I4_ROWS; ++r) partial[r][lid] += partial[r][lid + s];
        QC_BARRIER();
    }
    if (lid < I4_ROWS) y[row0 + lid] = partial[lid][0] + bias[row0 + lid];
}

// ---- int8, per output channel, symmetric, fused output fake-quant ----------------------
// wq: [N][K/16] uint4, 16 weights per load, byte k of a word = element k, stored as q + 128;
// ws: [N] float scales, applied once after the row's reduction.
#define I8_N 4096
#define I8_K 4096
#define I8_ROWS 2
#define I8_WG 64
#define I8_CHUNKS (I8_K / 16)

// Σ over the 4 bytes of one word times 4 consecutive x.
static inline float qc_dot4_i8(uint w, float4 xv, float a) {
    a = qc_mad(xv.x, qc_u2f(w & 255u, QC_I8_BIAS), a);
    a = qc_mad(xv.y, qc_u2f((w >> 8) & 255u, QC_I8_BIAS), a);
    a = qc_mad(xv.z, qc_u2f((w >> 16) & 255u, QC_I8_BIAS), a);
    return qc_mad(xv.w, qc_u2f(w >> 24, QC_I8_BIAS), a);
}

__kernel __attribute__((reqd_work_group_size(I8_WG, 1, 1)))
void gemv_int8_channel(__global const uint4* restrict wq, __global const float* restrict ws,
                       __global const float* restrict bias, __global const float4* restrict x,
                       __global float* restrict y, float out_scale, float out_zero_point) {
    __local float partial[I8_ROWS][I8_WG];
    const int lid = QC_LID0();
    const int row0 = QC_GROUP0() * I8_ROWS;
    float acc[I8_ROWS];
    for (int r = 0; r < I8_ROWS; ++r) acc[r] = 0.0f;
    for (int c = lid; c < I8_CHUNKS; c += I8_WG) {
        const float4 x0 = x[c * 4 + 0], x1 = x[c * 4 + 1], x2 = x[c * 4 + 2], x3 = x[c * 4 + 3];
        for (int r = 0; r < I8_ROWS; ++r) {
            const uint4 w = wq[(row0 + r) * I8_CHUNKS + c];
            float a = qc_dot4_i8(w.x, x0, acc[r]);
            a = qc_dot4_i8(w.y, x1, a);
            a = qc_dot4_i8(w.z, x2, a);
            acc[r] = qc_dot4_i8(w.w, x3, a);
        }
    }
    for (int r = 0; r < I8_ROWS; ++r) partial[r][lid] = acc[r];
    QC_BARRIER();
    for (int s = I8_WG / 2; s > 0; s >>= 1) {
        if (lid < s)
            for (int r = 0; r < I8_ROWS; ++r) partial[r][lid] += partial[r][lid + s];
        QC_BARRIER();
    }
    if (lid < I8_ROWS) {
        const int n = row0 + lid;
        // Epilogue: channel scale, bias, ReLU, then the output's uint8 fake-quant.
        const float v = __builtin_fmaxf(qc_mad(partial[lid][0], ws[n], bias[n]), 0.0f);
        y[n] = qc_fake_quant(v, out_scale, out_zero_point, 0.0f, 255.0f);
    }
}
