// The LSTM cell of quantc's recurrent kernel (Sources/Interpreter/Ops/recurrent.swift, default
// activations, no peepholes or clipping) for one batch row: the gate sums, sigmoid and tanh
// written out as Activation.sigmoid and Activation.vectorTanh are, operation for operation
// (no fused multiply-add, the same constants), so the results are the Swift loop's bit for
// bit; here the loop runs 8 or 16 lanes wide (AVX2 or AVX-512 when the CPU has them). The
// Sigmoid operator's loop too.
#pragma STDC FP_CONTRACT OFF
#include <stdint.h>
#include <string.h>

#include "vector_versions.h"

static inline float as_float(int32_t i) { float f; memcpy(&f, &i, sizeof f); return f; }
static inline int32_t as_int(float f) { int32_t i; memcpy(&i, &f, sizeof i); return i; }

static inline float sigmoid(float x) {
    float v = -x;
    v = v < -87.33654f ? -87.33654f : v;
    v = v > 88.0f ? 88.0f : v;
    const float magic = 12582912.0f;
    float t = v * 1.4426950408889634f + magic;
    float n = t - magic;
    float r = v - n * 0.693359375f;
    r = r - n * -2.1219444e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * (r * r) + r + 1.0f;
    int32_t exponent = (int32_t)((uint32_t)(as_int(t) - as_int(magic) + 127) << 23);
    float e = p * as_float(exponent);
    return 1.0f / (1.0f + e);
}

static inline float vector_tanh(float x) {
    float a = x < 0 ? -x : x;
    float z = x * x;
    float p = -5.70498872745e-3f;
    p = p * z + 2.06390887954e-2f;
    p = p * z - 5.37397155531e-2f;
    p = p * z + 1.33314422036e-1f;
    p = p * z - 3.33332819422e-1f;
    float small = p * z * x + x;
    float v = -2.0f * a;
    float large = 1.0f - 2.0f * sigmoid(v);
    float sign = x < 0 ? -large : large;
    return a < 0.625f ? small : sign;
}

#define CELL_BODY                                                                               \
    for (long j = 0; j < hidden; j++) {                                                         \
        float pi = xi[j] + hi[j] + wb[j] + rb[j];                                               \
        float po = xi[hidden + j] + hi[hidden + j] + wb[hidden + j] + rb[hidden + j];           \
        float pf = xi[2 * hidden + j] + hi[2 * hidden + j] + wb[2 * hidden + j] + rb[2 * hidden + j]; \
        float pc = xi[3 * hidden + j] + hi[3 * hidden + j] + wb[3 * hidden + j] + rb[3 * hidden + j]; \
        float cn = sigmoid(pf) * cp[j] + sigmoid(pi) * vector_tanh(pc);                         \
        nc[j] = cn;                                                                             \
        nh[j] = sigmoid(po) * vector_tanh(cn);                                                  \
    }

QC_VECTOR_VERSIONS("avx512f", qc_lstm_cell,
                   (long hidden, const float *restrict xi, const float *restrict hi, const float *restrict wb,
                    const float *restrict rb, const float *restrict cp, float *restrict nc, float *restrict nh),
                   (hidden, xi, hi, wb, rb, cp, nc, nh), CELL_BODY)

// Two loops: in place (y == x, as fused epilogues call it) and into a separate array (restrict),
// so that neither falls back to scalar code on an aliasing check.
#define SIGMOID_BODY                                                                            \
    if (x == y) { for (long i = 0; i < n; i++) y[i] = sigmoid(y[i]); }                          \
    else { const float *restrict xs = x; float *restrict ys = y; for (long i = 0; i < n; i++) ys[i] = sigmoid(xs[i]); }
QC_VECTOR_VERSIONS("avx512f", qc_sigmoid_array, (const float *x, float *y, long n), (x, y, n), SIGMOID_BODY)

float qc_sigmoid(float x) { return sigmoid(x); }
float qc_tanh(float x) { return vector_tanh(x); }
