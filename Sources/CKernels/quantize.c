// QuantizeLinear and DequantizeLinear with one scale and zero point (the activations of a QDQ
// model; Ops.fastQuantize / fastDequantize in Sources/Interpreter/Ops/quantization.swift) on
// the CPU's widest vectors, with the Swift loops' operations exactly: x / s bounded to ±1024
// (NaN to 0), rounded half to even by adding 1.5·2²³, plus the zero point, clamped.
#pragma STDC FP_CONTRACT OFF
#include <stdint.h>
#include <string.h>

#include "vector_versions.h"

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

QC_VECTOR_VERSIONS("avx512f,avx512bw", qc_quantize_linear,
                   (const float *restrict x, long n, float s, int32_t zp, int32_t qlo, int32_t qhi, uint8_t *restrict y),
                   (x, n, s, zp, qlo, qhi, y), QUANTIZE_BODY)
QC_VECTOR_VERSIONS("avx512f,avx512bw", qc_dequantize_linear,
                   (const uint8_t *restrict x, long n, int is_signed, float z, float s, float *restrict y),
                   (x, n, is_signed, z, s, y), DEQUANTIZE_BODY)
