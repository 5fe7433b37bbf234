/* The BLAS library in use: its name, core and threads, for the start-up line, --version and
 * run records, and the one place that sets its thread count. Local (no MPI). */
#ifndef HARDY_BLAS_H
#define HARDY_BLAS_H

#include <stddef.h>

/* Report the BLAS library, its core and threads on rank 0; warn on a generic core.
 * Local; call once at start-up of compute commands. */
void hardy_blas_report(void);
/* Name of the OpenBLAS core in use ("Haswell", "SkylakeX", ...), or "unknown" (another BLAS). */
const char *hardy_blas_core(void);
/* The BLAS chosen at configure time: "OpenBLAS", "BLIS", "MKL" or its library's file name. */
const char *hardy_blas_name(void);
/* Threads the BLAS uses per call, or -1 when this BLAS has no call to ask. Local. */
int hardy_blas_threads(void);
/* Set the BLAS's threads per call (OpenBLAS, BLIS, MKL; other BLAS: no effect). Local. */
void hardy_blas_set_threads(int n_threads);
/* The shared library that provides cblas_sgemm at run time, or "statically linked". */
const char *hardy_blas_library_file(void);
/* One line: library, core (OpenBLAS), build, threads and file, into buf (NUL-terminated). */
void hardy_blas_describe(char *buf, size_t size);

#endif
