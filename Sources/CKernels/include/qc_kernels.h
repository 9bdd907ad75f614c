#ifndef QC_KERNELS_H
#define QC_KERNELS_H

#include <stdint.h>

/// The vector extensions of this CPU and OS, found once: 2 = AVX-512 F/DQ/BW/VL, 1 = AVX2 + FMA,
/// 0 = neither. The kernels below choose their AVX-512, AVX2 or baseline version by it. (cpu.c)
int qc_cpu_vector_level(void);

/// Counts |values[i]| into `bins` bins of width 1/scale: bin min(trunc(|v| * scale), bins - 1),
/// with |v| * scale in double precision. Non-finite values are skipped. `counts` has `bins`
/// entries and is added to. (histogram.c)
void qc_histogram_bin_abs(const float *values, long count, double scale, int32_t *counts, int32_t bins);

/// Whether qc_sgemm_nt_rows runs on this machine (AVX-512F with the OS saving its state).
int qc_sgemm_nt_available(void);

/// C[i, j] = alpha * sum_p A[i, p] * B[j, p] + beta * C[i, j] for i < m and j in [j0, j1):
/// A [m, k] and B [n, k] row-major (B is a weight read row by row, never repacked), each
/// element summed in a fixed order whatever the split of j. (gemm_nt.c)
void qc_sgemm_nt_rows(long m, long j0, long j1, long k, float alpha, const float *a, long lda,
                      const float *b, long ldb, float beta, float *c, long ldc);

/// ErrorAccumulator's loop over reference x and approximation y (n floats): adds to
/// sums = {Σa², Σe², Σab, Σa², Σb², Σ|e|} (a = x, b = y, e = a − b, in double, in order),
/// count, zeros (e == 0) and bins[2048] (16 per octave of |e| from 2^-64; `steps` holds the
/// 17 smallest doubles ≥ 2^(j/16), `cells[i]` how many of steps[1...15] are ≤ 1 + i/256);
/// pairs with a non-finite value are skipped. (error_statistics.c)
void qc_error_accumulate(const float *x, const float *y, long n, const double *steps, const uint8_t *cells,
                         double *sums, long *count, long *zeros, long *bins);

/// The bin of one |e| > 0 as qc_error_accumulate counts it.
int qc_error_bin(double e, const double *steps, const uint8_t *cells);

/// The lanes of AbsHistogram.extremes' eight-wide loop over `blocks` blocks of 8 values:
/// per lane l (values 8b + l), the finite minimum and maximum (±inf when none; a value
/// replaces the lane's only when strictly beyond it), the zeros and the non-finite values.
/// (extremes.c)
void qc_extremes8(const float *values, long blocks, float *low, float *high, int32_t *zero_counts, int32_t *bad_counts);

/// One LSTM step's cell for one batch row (gates i, o, f, c at offsets 0, 1, 2, 3 × hidden of
/// xi (x·Wᵀ), hi (h·Rᵀ), wb and rb): nc = σ(f)·cp + σ(i)·tanh(c), nh = σ(o)·tanh(nc), with
/// Activation.sigmoid's and .vectorTanh's arithmetic exactly. (lstm_cell.c)
void qc_lstm_cell(long hidden, const float *xi, const float *hi, const float *wb, const float *rb, const float *cp,
                  float *nc, float *nh);

/// y[i] = sigmoid(x[i]) for i < n, as Activation.sigmoid (y may be x). (lstm_cell.c)
void qc_sigmoid_array(const float *x, float *y, long n);

/// The scalar sigmoid and tanh qc_lstm_cell uses (for tests).
float qc_sigmoid(float x);
float qc_tanh(float x);

/// out[i] = a[i·sa] op b[i·sb] for i < n, op 0 Add, 1 Sub, 2 Mul, 3 Div, sa and sb 0 (a scalar)
/// or 1; out does not overlap a or b. (binary.c)
void qc_binary_f32(int op, const float *a, int sa, const float *b, int sb, float *out, long n);

/// QuantizeLinear of n floats with scale s and zero point zp into [qlo, qhi], stored as bytes
/// (uint8, or int8's two's complement), as Ops.fastQuantize. (quantize.c)
void qc_quantize_linear(const float *x, long n, float s, int32_t zp, int32_t qlo, int32_t qhi, uint8_t *y);

/// DequantizeLinear of n bytes (int8 when is_signed, else uint8): (q − z) · s. (quantize.c)
void qc_dequantize_linear(const uint8_t *x, long n, int is_signed, float z, float s, float *y);

#endif
