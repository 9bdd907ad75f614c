#ifndef QC_HISTOGRAM_H
#define QC_HISTOGRAM_H

#include <stdint.h>

/// Counts |values[i]| into `bins` bins of width 1/scale: bin min(trunc(|v| * scale), bins - 1),
/// with |v| * scale in double precision. Non-finite values are skipped. `counts` has `bins`
/// entries and is added to.
void qc_histogram_bin_abs(const float *values, long count, double scale, int32_t *counts, int32_t bins);

#endif
