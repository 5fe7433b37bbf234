/* Flag parsing helpers and the BLAS start-up report; see cli.h. */
#include "hardy/cli.h"

#include <errno.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "hardy/common.h"
#include "hardy/log.h"

/* OpenBLAS entry points (declared here: Debian's cblas.h differs between builds). */
extern char *openblas_get_corename(void);
extern char *openblas_get_config(void);
extern int openblas_get_num_threads(void);
extern int openblas_get_parallel(void);

int hardy_cli_int64(const char *flag, const char *text, int64_t lo, int64_t hi, int64_t *out) {
  errno = 0;
  char *end = NULL;
  long long v = strtoll(text, &end, 10);
  if (errno || end == text || *end)
    return hardy_fail(HARDY_ERR_INPUT, "%s '%s': expected an integer", flag, text);
  if (v < lo || v > hi)
    return hardy_fail(HARDY_ERR_INPUT, "%s %lld: must be in [%lld, %lld]", flag, v, (long long)lo,
                      (long long)hi);
  *out = v;
  return HARDY_OK;
}

int hardy_cli_double(const char *flag, const char *text, double lo, double hi, double *out) {
  errno = 0;
  char *end = NULL;
  double v = strtod(text, &end);
  if (errno || end == text || *end)
    return hardy_fail(HARDY_ERR_INPUT, "%s '%s': expected a number", flag, text);
  if (!(v >= lo && v <= hi))
    return hardy_fail(HARDY_ERR_INPUT, "%s %g: must be in [%g, %g]", flag, v, lo, hi);
  *out = v;
  return HARDY_OK;
}

const char *hardy_cli_value(int argc, char **argv, int i) {
  if (i + 1 >= argc) {
    hardy_fail(HARDY_ERR_INPUT, "%s needs a value (see --help)", argv[i]);
    return NULL;
  }
  return argv[i + 1];
}

const char *hardy_blas_core(void) {
  const char *core = openblas_get_corename();
  return core ? core : "unknown";
}

void hardy_blas_report(void) {
  const char *core = hardy_blas_core();
  const char *env = getenv("OPENBLAS_CORETYPE");
  int par = openblas_get_parallel(); /* 0 sequential, 1 pthreads, 2 OpenMP */
  hardy_log_info("BLAS: OpenBLAS core %s%s%s%s, %s build, %d threads; OpenMP %d threads", core,
                 env ? " (OPENBLAS_CORETYPE=" : "", env ? env : "", env ? ")" : "",
                 par == 2 ? "OpenMP" : par == 1 ? "pthreads" : "sequential",
                 openblas_get_num_threads(), omp_get_max_threads());
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
  if (par == 1)
    hardy_log_warn("OpenBLAS is the pthreads build; with OpenMP ranks it oversubscribes cores. "
                   "Install libopenblas-openmp-dev (and remove libopenblas-pthread-dev).");
}
