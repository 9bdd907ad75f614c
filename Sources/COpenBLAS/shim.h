// OpenBLAS's CBLAS interface (Debian: libopenblas-dev; cblas.h resolves to
// OpenBLAS's through the alternatives system) plus its thread-count control.
#include <cblas.h>
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
char *openblas_get_corename(void);
// LAPACK routines OpenBLAS exports (Fortran calling convention, column-major):
// Cholesky factorization and the inverse from it, for GPTQ's H⁻¹.
void dpotrf_(const char *uplo, const int *n, double *a, const int *lda, int *info);
void dpotri_(const char *uplo, const int *n, double *a, const int *lda, int *info);

