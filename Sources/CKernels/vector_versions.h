// One kernel body compiled three times, and the function that calls the version the CPU runs.
#ifndef QC_VECTOR_VERSIONS_H
#define QC_VECTOR_VERSIONS_H

#include "qc_kernels.h"

// Defines NAME##_avx512 (for the target AVX512, e.g. "avx512f"), NAME##_avx2 and NAME##_base,
// each `static void NAME##_… PARAMS { BODY }`, and `void NAME PARAMS` calling the one
// qc_cpu_vector_level() picks with ARGS (PARAMS' names in parentheses). BODY is a macro holding
// the loops: the same C source, so every version computes the same IEEE operations.
#if defined(__x86_64__) && defined(__GNUC__)
#define QC_VECTOR_VERSIONS(AVX512, NAME, PARAMS, ARGS, BODY)                                    \
    __attribute__((target(AVX512))) static void NAME##_avx512 PARAMS { BODY }                 \
    __attribute__((target("avx2"))) static void NAME##_avx2 PARAMS { BODY }                   \
    static void NAME##_base PARAMS { BODY }                                                   \
    void NAME PARAMS {                                                                        \
        const int level = qc_cpu_vector_level();                                              \
        if (level == 2) { NAME##_avx512 ARGS; return; }                                       \
        if (level == 1) { NAME##_avx2 ARGS; return; }                                         \
        NAME##_base ARGS;                                                                     \
    }
#else
#define QC_VECTOR_VERSIONS(AVX512, NAME, PARAMS, ARGS, BODY) void NAME PARAMS { BODY }
#endif

#endif
