/* The BLAS as the program sees it: which library was linked (detected at configure time:
 * HARDY_BLAS_OPENBLAS, HARDY_BLAS_BLIS, HARDY_BLAS_MKL; cmake/HardyDeps.cmake), its core and
 * threads, and the start-up report. The BLAS's own calls are compiled only for the BLAS that
 * has them; see blas.h. */
#define _GNU_SOURCE /* dladdr */
#include "hardy/blas.h"

#include <cblas.h>
#include <dlfcn.h>
#include <errno.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hardy/common.h"
#include "hardy/log.h"

#ifndef HARDY_BLAS_NAME
#define HARDY_BLAS_NAME "BLAS"
#endif

/* BLAS entry points (declared here: cblas.h differs between builds and vendors). */
#if defined(HARDY_BLAS_OPENBLAS)
extern char *openblas_get_corename(void);
extern char *openblas_get_config(void);
extern int openblas_get_num_threads(void);
extern int openblas_get_parallel(void);
extern void openblas_set_num_threads(int n);
#elif defined(HARDY_BLAS_BLIS)
extern void bli_thread_set_num_threads(long n);
extern long bli_thread_get_num_threads(void);
#elif defined(HARDY_BLAS_MKL)
extern void MKL_Set_Num_Threads(int n);
extern int MKL_Get_Max_Threads(void);
#endif

const char *hardy_blas_core(void) {
#if defined(HARDY_BLAS_OPENBLAS)
  const char *core = openblas_get_corename();
  return core ? core : "unknown";
#else
  return "unknown";
#endif
}

const char *hardy_blas_name(void) { return HARDY_BLAS_NAME; }

int hardy_blas_threads(void) {
#if defined(HARDY_BLAS_OPENBLAS)
  return openblas_get_num_threads();
#elif defined(HARDY_BLAS_BLIS)
  long n = bli_thread_get_num_threads();
  return n > 0 ? (int)n : 1; /* BLIS reports -1 when no thread count was set: it runs 1 */
#elif defined(HARDY_BLAS_MKL)
  return MKL_Get_Max_Threads();
#else
  return -1;
#endif
}

void hardy_blas_set_threads(int n_threads) {
#if defined(HARDY_BLAS_OPENBLAS)
  openblas_set_num_threads(n_threads);
#elif defined(HARDY_BLAS_BLIS)
  bli_thread_set_num_threads(n_threads);
#elif defined(HARDY_BLAS_MKL)
  MKL_Set_Num_Threads(n_threads);
#else
  (void)n_threads; /* an unknown BLAS follows its own variables (OMP_NUM_THREADS, ...) */
#endif
}

const char *hardy_blas_library_file(void) {
  /* the shared object that provides the sgemm this program calls, as the loader resolved it */
  void (*fn)(void) = (void (*)(void))cblas_sgemm;
  void *addr;
  memcpy(&addr, &fn, sizeof addr);
  Dl_info info;
  if (dladdr(addr, &info) && info.dli_fname && info.dli_fname[0]) return info.dli_fname;
  return "statically linked";
}

void hardy_blas_describe(char *buf, size_t size) {
  int threads = hardy_blas_threads();
  char thr[48];
  if (threads > 0) snprintf(thr, sizeof thr, "%d threads", threads);
  else snprintf(thr, sizeof thr, "threads set by its own variables");
#if defined(HARDY_BLAS_OPENBLAS)
  const char *env = getenv("OPENBLAS_CORETYPE");
  int par = openblas_get_parallel(); /* 0 sequential, 1 pthreads, 2 OpenMP */
  snprintf(buf, size, "OpenBLAS core %s%s%s%s, %s build, %s (%s)", hardy_blas_core(),
           env ? " (OPENBLAS_CORETYPE=" : "", env ? env : "", env ? ")" : "",
           par == 2 ? "OpenMP" : par == 1 ? "pthreads" : "sequential", thr,
           hardy_blas_library_file());
#else
  snprintf(buf, size, "%s, %s (%s)", HARDY_BLAS_NAME, thr, hardy_blas_library_file());
#endif
}

void hardy_blas_report(void) {
  char desc[512];
  hardy_blas_describe(desc, sizeof desc);
  hardy_log_info("BLAS: %s; OpenMP %d threads", desc, omp_get_max_threads());
#if defined(HARDY_BLAS_OPENBLAS)
  const char *core = hardy_blas_core();
  static const char *generic[] = {"Prescott", "Core2", "Katmai", "Coppermine", "Northwood",
                                  "Banias", "Atom", "Penryn", "Dunnington", "Nehalem", "unknown"};
  for (size_t i = 0; i < sizeof generic / sizeof generic[0]; i++)
    if (!strcmp(core, generic[i])) {
      hardy_log_warn("OpenBLAS runs the generic '%s' kernels, several times slower than this CPU "
                     "allows (old OpenBLAS builds misdetect new Xeons). Set "
                     "OPENBLAS_CORETYPE=SkylakeX (AVX-512) or Haswell (AVX2) in the job script.",
                     core);
      break;
    }
  if (openblas_get_parallel() == 1)
    hardy_log_warn("OpenBLAS is the pthreads build; with OpenMP ranks it oversubscribes cores. "
                   "Install libopenblas-openmp-dev (and remove libopenblas-pthread-dev).");
#endif
}
