// The calibration histogram's inner loop (Passes/Calibration/Histogram.swift). In C because
// its two halves then compile to vector code: bin indices for a block of values (abs,
// widen to double, scale, clamp, truncate; no traps), then the increments, spread over four
// copies of the counts so that a run of equal indices (the zeros of a ReLU's output) is not
// one chain of dependent stores (for calls of at least four values per bin).
#include "qc_kernels.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { BLOCK = 1024, COPIES = 4 };

void qc_histogram_bin_abs(const float *values, long count, double scale, int32_t *counts, int32_t bins) {
    const double last = (double)(bins - 1);
    // Counting is unsigned (wraps like Swift's &+=, never undefined).
    uint32_t *out = (uint32_t *)counts;
    // One extra slot per copy takes the non-finite values. Few values: one copy, the caller's.
    const long stride = (long)bins + 1;
    uint32_t *copies = count >= 4L * bins ? calloc((size_t)(COPIES * stride), sizeof(uint32_t)) : NULL;
    int32_t index[BLOCK];
    for (long start = 0; start < count; start += BLOCK) {
        const long n = count - start < BLOCK ? count - start : BLOCK;
        const float *v = values + start;
        for (long i = 0; i < n; i++) {
            float x = v[i];
            double a = fabs((double)x) * scale;
            a = a < last ? a : last;
            int32_t k = (int32_t)(a == a ? a : 0.0);
            // x - x is 0 exactly for finite x, NaN for ±inf and NaN.
            index[i] = (x - x == 0.0f) ? k : bins;
        }
        if (!copies) {
            for (long i = 0; i < n; i++)
                if (index[i] < bins) out[index[i]] += 1u;
            continue;
        }
        long i = 0;
        for (; i + COPIES <= n; i += COPIES) {
            copies[index[i]] += 1u;
            copies[stride + index[i + 1]] += 1u;
            copies[2 * stride + index[i + 2]] += 1u;
            copies[3 * stride + index[i + 3]] += 1u;
        }
        for (; i < n; i++) copies[index[i]] += 1u;
    }
    if (copies) {
        for (long k = 0; k < bins; k++) out[k] += copies[k] + copies[stride + k] + copies[2 * stride + k] + copies[3 * stride + k];
        free(copies);
    }
}
