// C = alpha * A * B^T + beta * C for a few rows of A against a large weight B [n, k] (a fully
// connected layer on a short sequence: common's 8,210 x 1,024 classifier on 25 columns of a
// text line). OpenBLAS repacks B on every call, which for such shapes costs as much as the
// arithmetic; here B's rows are read in place, six at a time, against four rows of A at a
// time: 24 accumulators of 16 lanes over k, reduced in a fixed order (six B rows against four
// A rows load 10 vectors per 24 multiply-adds: 20% faster than four against four on common's
// classifier). Six B rows (24 KiB at k = 1,024) stay in L1 while every block of A rows passes
// over them, so B streams from memory once. Each C element is one dot product in the same order whatever range of j a thread takes.
#include "qc_kernels.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#include <immintrin.h>

int qc_sgemm_nt_available(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    if (!((c >> 27) & 1)) return 0;                    // OSXSAVE
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & 0xE6) != 0xE6) return 0;                 // XMM, YMM, opmask, ZMM state
    if (__get_cpuid_max(0, 0) < 7) return 0;
    __cpuid_count(7, 0, a, b, c, d);
    return (b >> 16) & 1;                              // AVX-512F
}

// Sum of the 16 lanes, always in the same order.
__attribute__((target("avx512f"))) static inline float lanes(__m512 v) {
    __m256 h = _mm256_add_ps(_mm512_castps512_ps256(v), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
    __m128 q = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
    q = _mm_add_ps(q, _mm_movehl_ps(q, q));
    q = _mm_add_ss(q, _mm_shuffle_ps(q, q, 1));
    return _mm_cvtss_f32(q);
}

// Rows [i, i + MR) of A against rows [j, j + NR) of B: MR x NR accumulators of 16 lanes, B's
// NR rows loaded once per 16 values of k and each A row then multiplied by all of them.
#define FIXED_BLOCK(MR, NR)                                                                                  \
    __attribute__((target("avx512f"))) static void block_##MR##x##NR(long k, float alpha, const float *a, long lda, \
                                                                     const float *b, long ldb, float beta, float *c, long ldc) { \
        __m512 acc[MR][NR];                                                                                  \
        for (int r = 0; r < MR; r++)                                                                         \
            for (int s = 0; s < NR; s++) acc[r][s] = _mm512_setzero_ps();                                    \
        const long full = k / 16 * 16;                                                                       \
        for (long p = 0; p < full; p += 16) {                                                                \
            __m512 w[NR];                                                                                    \
            for (int s = 0; s < NR; s++) w[s] = _mm512_loadu_ps(b + s * ldb + p);                            \
            for (int r = 0; r < MR; r++) {                                                                   \
                __m512 x = _mm512_loadu_ps(a + r * lda + p);                                                 \
                for (int s = 0; s < NR; s++) acc[r][s] = _mm512_fmadd_ps(x, w[s], acc[r][s]);                \
            }                                                                                                \
        }                                                                                                    \
        if (full < k) {                                                                                      \
            const __mmask16 tail = (__mmask16)((1u << (k - full)) - 1);                                      \
            __m512 w[NR];                                                                                    \
            for (int s = 0; s < NR; s++) w[s] = _mm512_maskz_loadu_ps(tail, b + s * ldb + full);             \
            for (int r = 0; r < MR; r++) {                                                                   \
                __m512 x = _mm512_maskz_loadu_ps(tail, a + r * lda + full);                                  \
                for (int s = 0; s < NR; s++) acc[r][s] = _mm512_fmadd_ps(x, w[s], acc[r][s]);                \
            }                                                                                                \
        }                                                                                                    \
        for (int r = 0; r < MR; r++)                                                                         \
            for (int s = 0; s < NR; s++) {                                                                   \
                float v = alpha * lanes(acc[r][s]);                                                          \
                c[r * ldc + s] = beta == 0.0f ? v : v + beta * c[r * ldc + s];                               \
            }                                                                                                \
    }

FIXED_BLOCK(4, 6)
FIXED_BLOCK(3, 6)
FIXED_BLOCK(2, 6)
FIXED_BLOCK(1, 6)

// Rows [i, i + mr) of A against rows [j, j + nr) of B, mr <= 4, nr <= 6 (the ragged edges).
__attribute__((target("avx512f"))) static void block(long mr, long nr, long k, float alpha, const float *a, long lda,
                                                     const float *b, long ldb, float beta, float *c, long ldc) {
    __m512 acc[4][6];
    for (int r = 0; r < 4; r++)
        for (int s = 0; s < 6; s++) acc[r][s] = _mm512_setzero_ps();
    const long full = k / 16 * 16;
    const __mmask16 tail = (__mmask16)((1u << (k - full)) - 1);
    for (long p = 0; p < full; p += 16) {
        for (long s = 0; s < nr; s++) {
            __m512 w = _mm512_loadu_ps(b + s * ldb + p);
            for (long r = 0; r < mr; r++) acc[r][s] = _mm512_fmadd_ps(_mm512_loadu_ps(a + r * lda + p), w, acc[r][s]);
        }
    }
    if (tail) {
        for (long s = 0; s < nr; s++) {
            __m512 w = _mm512_maskz_loadu_ps(tail, b + s * ldb + full);
            for (long r = 0; r < mr; r++)
                acc[r][s] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, a + r * lda + full), w, acc[r][s]);
        }
    }
    for (long r = 0; r < mr; r++)
        for (long s = 0; s < nr; s++) {
            float v = alpha * lanes(acc[r][s]);
            c[r * ldc + s] = beta == 0.0f ? v : v + beta * c[r * ldc + s];
        }
}

// Every element is the same sum whatever the blocking: its accumulator takes the products of
// its row and column 16 lanes at a time in k order, then `lanes` reduces it.
__attribute__((target("avx512f"))) void qc_sgemm_nt_rows(long m, long j0, long j1, long k, float alpha, const float *a, long lda,
                                                         const float *b, long ldb, float beta, float *c, long ldc) {
    for (long j = j0; j < j1; j += 6) {
        const long nr = j1 - j < 6 ? j1 - j : 6;
        const float *bj = b + j * ldb;
        if (nr < 6) {
            for (long i = 0; i < m; i += 4) {
                const long mr = m - i < 4 ? m - i : 4;
                block(mr, nr, k, alpha, a + i * lda, lda, bj, ldb, beta, c + i * ldc + j, ldc);
            }
            continue;
        }
        long i = 0;
        for (; i + 4 <= m; i += 4) block_4x6(k, alpha, a + i * lda, lda, bj, ldb, beta, c + i * ldc + j, ldc);
        switch (m - i) {
        case 3: block_3x6(k, alpha, a + i * lda, lda, bj, ldb, beta, c + i * ldc + j, ldc); break;
        case 2: block_2x6(k, alpha, a + i * lda, lda, bj, ldb, beta, c + i * ldc + j, ldc); break;
        case 1: block_1x6(k, alpha, a + i * lda, lda, bj, ldb, beta, c + i * ldc + j, ldc); break;
        default: break;
        }
    }
}

#else

int qc_sgemm_nt_available(void) { return 0; }

void qc_sgemm_nt_rows(long m, long j0, long j1, long k, float alpha, const float *a, long lda,
                      const float *b, long ldb, float beta, float *c, long ldc) {
    (void)m; (void)j0; (void)j1; (void)k; (void)alpha; (void)a; (void)lda; (void)b; (void)ldb; (void)beta; (void)c; (void)ldc;
}

#endif
