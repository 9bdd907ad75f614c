// OpenBLAS's CBLAS interface (Debian: libopenblas-dev; cblas.h resolves to
// OpenBLAS's through the alternatives system) plus its thread-count control.
#include <cblas.h>
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
