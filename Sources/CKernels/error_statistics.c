// The inner loop of quantc's ErrorAccumulator (Passes/Evaluation/ErrorStatistics.swift):
// sums of squares, products and absolute errors in double precision, one element after
// the other (so the sums are the Swift loop's, bit for bit: no reordering and no fused
// multiply-add), and the log-scale histogram of |error|.
#pragma STDC FP_CONTRACT OFF
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "qc_kernels.h"

// Bin of e > 0, finite: 16 bins per octave from 2^-64, clamped to [0, 2047]. The sub-octave
// bin is the number of steps 2^(j/16), j = 1..15 (given as the smallest doubles at or above
// them; steps[16] = 2), that the mantissa m in [1, 2) reaches: `cells[i]` counts those at or
// below 1 + i/256, and as the steps are more than 1/256 apart at most one more lies in m's cell.
static inline int error_bin(double e, const double *steps, const uint8_t *cells) {
    uint64_t bits;
    memcpy(&bits, &e, sizeof bits);
    int octave = (int)((bits >> 52) & 0x7ff) - 1023 + 64;
    if (octave < 0) return 0;
    if (octave >= 128) return 128 * 16 - 1;
    uint64_t mb = (bits & 0x000fffffffffffffULL) | 0x3ff0000000000000ULL;
    double m;
    memcpy(&m, &mb, sizeof m);
    int lo = cells[(bits >> 44) & 0xff];
    lo += m >= steps[lo + 1];
    return octave * 16 + lo;
}

void qc_error_accumulate(const float *x, const float *y, long n, const double *steps, const uint8_t *cells, double *sums,
                         long *count, long *zeros, long *bins) {
    double signal = sums[0], noise = sums[1], dot = sums[2], xx = sums[3], yy = sums[4], abs_sum = sums[5];
    long c = *count, z = *zeros;
    for (long i = 0; i < n; i++) {
        double a = (double)x[i], b = (double)y[i];
        if (!isfinite(a) || !isfinite(b)) continue;
        double e = a - b;
        signal += a * a;
        noise += e * e;
        dot += a * b;
        xx += a * a;
        yy += b * b;
        abs_sum += fabs(e);
        c++;
        if (e == 0) z++;
        else bins[error_bin(fabs(e), steps, cells)]++;
    }
    sums[0] = signal; sums[1] = noise; sums[2] = dot; sums[3] = xx; sums[4] = yy; sums[5] = abs_sum;
    *count = c;
    *zeros = z;
}

int qc_error_bin(double e, const double *steps, const uint8_t *cells) { return error_bin(e, steps, cells); }
