// Float32 Add, Sub, Mul and Div of two tensors of one shape, or of a tensor and a scalar
// (Arith.float32 in Sources/Interpreter/Ops/elementwiseBinary.swift), on the CPU's widest
// vectors: one IEEE operation per element, so the results are those of the Swift loop.
#include <stdint.h>

#include "vector_versions.h"

#define LOOPS(OP)                                                                               \
    if (sa && sb) { for (long i = 0; i < n; i++) out[i] = a[i] OP b[i]; }                      \
    else if (sa) { const float s = b[0]; for (long i = 0; i < n; i++) out[i] = a[i] OP s; }   \
    else if (sb) { const float s = a[0]; for (long i = 0; i < n; i++) out[i] = s OP b[i]; }   \
    else { const float v = a[0] OP b[0]; for (long i = 0; i < n; i++) out[i] = v; }

#define BINARY_BODY                                                                             \
    switch (op) {                                                                               \
    case 0: LOOPS(+) break;                                                                     \
    case 1: LOOPS(-) break;                                                                     \
    case 2: LOOPS(*) break;                                                                     \
    default: LOOPS(/) break;                                                                    \
    }

QC_VECTOR_VERSIONS("avx512f", qc_binary_f32,
                   (int op, const float *restrict a, int sa, const float *restrict b, int sb, float *restrict out, long n),
                   (op, a, sa, b, sb, out, n), BINARY_BODY)
