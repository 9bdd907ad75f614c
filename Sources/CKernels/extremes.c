// The eight-lane loop of the calibration histogram's min/max pass (AbsHistogram.extremes in
// Passes/Calibration/Histogram.swift), in C so that it runs as one 256-bit vector per step
// (Swift's SIMD8 compiled to pairs of SSE operations). Lane l takes the values i ≡ l
// (mod 8) of the whole blocks, with the same comparisons as the Swift loop, so the lanes
// (and the caller's reduction of them) are what that loop gave, signed zeros included.
#include "qc_kernels.h"

#include <string.h>

typedef float v8f __attribute__((vector_size(32)));
typedef int32_t v8i __attribute__((vector_size(32)));

#define EXTREMES_BODY                                                                           \
    v8f lo, hi, inf, ninf;                                                                      \
    v8i zeros = {0}, bad = {0};                                                                 \
    for (int l = 0; l < 8; l++) { lo[l] = __builtin_inff(); hi[l] = -__builtin_inff();         \
                                  inf[l] = __builtin_inff(); ninf[l] = -__builtin_inff(); }    \
    for (long b = 0; b < blocks; b++) {                                                         \
        v8f v;                                                                                  \
        memcpy(&v, values + 8 * b, sizeof v);                                                   \
        v8i finite = (v < inf) & (v > ninf);                                                    \
        bad -= ~finite; /* ~finite is -1 where not finite */                                    \
        v8i takeLo = finite & (v < lo), takeHi = finite & (v > hi);                             \
        v8i vi, loi, hii;                                                                       \
        memcpy(&vi, &v, sizeof vi); memcpy(&loi, &lo, sizeof loi); memcpy(&hii, &hi, sizeof hii); \
        loi = (takeLo & vi) | (~takeLo & loi);                                                  \
        hii = (takeHi & vi) | (~takeHi & hii);                                                  \
        memcpy(&lo, &loi, sizeof lo); memcpy(&hi, &hii, sizeof hi);                             \
        zeros -= (v == 0);                                                                      \
    }                                                                                           \
    for (int l = 0; l < 8; l++) { low[l] = lo[l]; high[l] = hi[l]; zero_counts[l] = zeros[l]; bad_counts[l] = bad[l]; }

__attribute__((target("avx2"))) static void extremes_avx2(const float *values, long blocks, float *low, float *high,
                                                          int32_t *zero_counts, int32_t *bad_counts) {
    EXTREMES_BODY
}

static void extremes_base(const float *values, long blocks, float *low, float *high, int32_t *zero_counts,
                          int32_t *bad_counts) {
    EXTREMES_BODY
}

void qc_extremes8(const float *values, long blocks, float *low, float *high, int32_t *zero_counts, int32_t *bad_counts) {
    if (qc_cpu_vector_level() >= 1) extremes_avx2(values, blocks, low, high, zero_counts, bad_counts);
    else extremes_base(values, blocks, low, high, zero_counts, bad_counts);
}
