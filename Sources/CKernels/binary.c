// Float32 Add, Sub, Mul and Div of two tensors of one shape, or of a tensor and a scalar
// (Arith.float32 in Sources/Interpreter/Ops/elementwiseBinary.swift), on the CPU's widest
// vectors: one IEEE operation per element, so the results are those of the Swift loop.
#include <stdint.h>

#include "qc_kernels.h"

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

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx512f"))) static void binary_avx512(int op, const float *restrict a, int sa, const float *restrict b,
                                                             int sb, float *restrict out, long n) { BINARY_BODY }
__attribute__((target("avx2"))) static void binary_avx2(int op, const float *restrict a, int sa, const float *restrict b,
                                                        int sb, float *restrict out, long n) { BINARY_BODY }
#endif
static void binary_base(int op, const float *restrict a, int sa, const float *restrict b, int sb, float *restrict out,
                        long n) { BINARY_BODY }

void qc_binary_f32(int op, const float *a, int sa, const float *b, int sb, float *out, long n) {
#if defined(__x86_64__) && defined(__GNUC__)
    const int level = qc_cpu_vector_level();
    if (level == 2) { binary_avx512(op, a, sa, b, sb, out, n); return; }
    if (level == 1) { binary_avx2(op, a, sa, b, sb, out, n); return; }
#endif
    binary_base(op, a, sa, b, sb, out, n);
}
