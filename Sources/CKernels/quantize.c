// QuantizeLinear and DequantizeLinear with one scale and zero point (the activations of a QDQ
// model; Ops.fastQuantize / fastDequantize in Sources/Interpreter/Ops/quantization.swift) on
// the CPU's widest vectors, with the Swift loops' operations exactly: x / s bounded to ±1024
// (NaN to 0), rounded half to even by adding 1.5·2²³, plus the zero point, clamped.
#pragma STDC FP_CONTRACT OFF
#include <stdint.h>
#include <string.h>

#include "qc_kernels.h"

#define QUANTIZE_BODY                                                                           \
    const float magic = 12582912.0f, bound = 1024.0f;                                           \
    for (long i = 0; i < n; i++) {                                                              \
        float t = x[i] / s;                                                                     \
        float c = t < -bound ? -bound : t;                                                      \
        c = c > bound ? bound : c;                                                              \
        float v = t != t ? 0.0f : c;                                                            \
        float m = v + magic;                                                                    \
        int32_t bits;                                                                           \
        memcpy(&bits, &m, sizeof bits);                                                         \
        int32_t q = bits - 0x4B400000 + zp;                                                     \
        q = q < qlo ? qlo : q > qhi ? qhi : q;                                                  \
        y[i] = (uint8_t)q;                                                                      \
    }

#define DEQUANTIZE_BODY                                                                         \
    if (is_signed) { for (long i = 0; i < n; i++) y[i] = ((float)(int8_t)x[i] - z) * s; }      \
    else { for (long i = 0; i < n; i++) y[i] = ((float)x[i] - z) * s; }

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx512f,avx512bw"))) static void quantize_avx512(const float *restrict x, long n, float s, int32_t zp,
                                                                        int32_t qlo, int32_t qhi, uint8_t *restrict y) { QUANTIZE_BODY }
__attribute__((target("avx2"))) static void quantize_avx2(const float *restrict x, long n, float s, int32_t zp, int32_t qlo,
                                                          int32_t qhi, uint8_t *restrict y) { QUANTIZE_BODY }
__attribute__((target("avx512f,avx512bw"))) static void dequantize_avx512(const uint8_t *restrict x, long n, int is_signed, float z,
                                                                          float s, float *restrict y) { DEQUANTIZE_BODY }
__attribute__((target("avx2"))) static void dequantize_avx2(const uint8_t *restrict x, long n, int is_signed, float z, float s,
                                                            float *restrict y) { DEQUANTIZE_BODY }
#endif
static void quantize_base(const float *restrict x, long n, float s, int32_t zp, int32_t qlo, int32_t qhi,
                          uint8_t *restrict y) { QUANTIZE_BODY }
static void dequantize_base(const uint8_t *restrict x, long n, int is_signed, float z, float s, float *restrict y) {
    DEQUANTIZE_BODY
}

void qc_quantize_linear(const float *x, long n, float s, int32_t zp, int32_t qlo, int32_t qhi, uint8_t *y) {
#if defined(__x86_64__) && defined(__GNUC__)
    const int level = qc_cpu_vector_level();
    if (level == 2) { quantize_avx512(x, n, s, zp, qlo, qhi, y); return; }
    if (level == 1) { quantize_avx2(x, n, s, zp, qlo, qhi, y); return; }
#endif
    quantize_base(x, n, s, zp, qlo, qhi, y);
}

void qc_dequantize_linear(const uint8_t *x, long n, int is_signed, float z, float s, float *y) {
#if defined(__x86_64__) && defined(__GNUC__)
    const int level = qc_cpu_vector_level();
    if (level == 2) { dequantize_avx512(x, n, is_signed, z, s, y); return; }
    if (level == 1) { dequantize_avx2(x, n, is_signed, z, s, y); return; }
#endif
    dequantize_base(x, n, is_signed, z, s, y);
}
