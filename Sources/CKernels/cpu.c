// The vector extensions this CPU and OS support, found once: for choosing OpenBLAS's kernel set
// when its table of CPU models does not know the CPU (Interpreter's Blas.kernels), and for
// choosing among the AVX-512, AVX2 and baseline versions of this module's kernels.
// 2 = AVX-512 F/DQ/BW/VL with ZMM state enabled, 1 = AVX2 + FMA with YMM state enabled,
// 0 = neither (or not x86-64). Intel SDM vol. 2A, CPUID leaves 1 and 7; XGETBV.
#include "qc_kernels.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>

static int detect(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    int osxsave = (c >> 27) & 1, fma = (c >> 12) & 1, avx = (c >> 28) & 1;
    if (!osxsave || !avx) return 0;
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & 0x6) != 0x6) return 0;                  // XMM and YMM state
    if (__get_cpuid_max(0, 0) < 7) return 0;
    __cpuid_count(7, 0, a, b, c, d);
    int avx2 = (b >> 5) & 1;
    int avx512 = ((b >> 16) & 1) && ((b >> 17) & 1) && ((b >> 30) & 1) && ((b >> 31) & 1);
    if (avx512 && (lo & 0xE0) == 0xE0) return 2;      // opmask, ZMM_Hi256, Hi16_ZMM state
    return avx2 && fma ? 1 : 0;
}

int qc_cpu_vector_level(void) {
    // -1 until found; racing first calls compute the same value.
    static int level = -1;
    int l = __atomic_load_n(&level, __ATOMIC_RELAXED);
    if (l < 0) {
        l = detect();
        __atomic_store_n(&level, l, __ATOMIC_RELAXED);
    }
    return l;
}
#else
int qc_cpu_vector_level(void) { return 0; }
#endif
