/* `hardy-hpc bench <name>`: dispatch to the benchmarks, and the sgemm peak they share. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hardy/bench.h"
#include "hardy/blas.h"
#include "hardy/cli.h"
#include "hardy/common.h"
#include "hardy/log.h"

double hardy_bench_sgemm_gflops(int m, int n, int k, double min_seconds) {
  float *a = hardy_aligned_alloc((size_t)m * k * sizeof(float), "sgemm bench A");
  float *b = hardy_aligned_alloc((size_t)k * n * sizeof(float), "sgemm bench B");
  float *c = hardy_aligned_alloc((size_t)m * n * sizeof(float), "sgemm bench C");
  if (!a || !b || !c) {
    free(a), free(b), free(c);
    return 0.0;
  }
  for (size_t i = 0; i < (size_t)m * k; i++) a[i] = (float)(i % 7) * 0.1f;
  for (size_t i = 0; i < (size_t)k * n; i++) b[i] = (float)(i % 5) * 0.1f;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1.0f, a, k, b, k, 0.0f, c, n);
  double best = 0.0, t_total = 0.0;
  for (int rep = 0; rep < 1000 && t_total < min_seconds; rep++) {
    double t0 = hardy_now();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1.0f, a, k, b, k, 0.0f, c, n);
    double dt = hardy_now() - t0;
    t_total += dt;
    double gf = 2.0 * m * n * k / dt * 1e-9;
    if (gf > best) best = gf;
  }
  free(a), free(b), free(c);
  return best;
}

typedef struct {
  const char *name;
  int (*run)(int argc, char **argv);
  const char *summary;
} bench_t;

static const bench_t BENCHES[] = {
    {"sgemm", NULL, "sgemm peak GFLOP/s on this machine and thread count"},
    {"knn", hardy_bench_knn, "exact kNN search: queries/s, GFLOP/s vs sgemm peak, allreduce share"},
    {"step", hardy_bench_step, "training step of the backbone: utterances/s, GFLOP/s vs sgemm peak"},
    {"ckpt", hardy_bench_ckpt, "checkpoint write MB/s (incl. fsync) vs dd conv=fdatasync"},
};

int hardy_cmd_bench(int argc, char **argv) {
  if (argc < 2 || !strcmp(argv[1], "--help")) {
    if (hardy_world_rank() == 0) {
      printf("usage: hardy-hpc bench <name> [options]   (each: --help)\n");
      for (size_t i = 0; i < sizeof BENCHES / sizeof BENCHES[0]; i++)
        printf("  %-8s %s\n", BENCHES[i].name, BENCHES[i].summary);
    }
    return argc < 2 ? hardy_fail(HARDY_ERR_INPUT, "bench: name a benchmark") : HARDY_OK;
  }
  if (!strcmp(argv[1], "sgemm")) {
    hardy_blas_report();
    double gf = hardy_bench_sgemm_gflops(2048, 2048, 2048, 2.0);
    if (hardy_world_rank() == 0) printf("{\"sgemm_gflops\": %.2f, \"core\": \"%s\"}\n", gf, hardy_blas_core());
    return HARDY_OK;
  }
  for (size_t i = 0; i < sizeof BENCHES / sizeof BENCHES[0]; i++)
    if (BENCHES[i].run && !strcmp(argv[1], BENCHES[i].name)) return BENCHES[i].run(argc - 1, argv + 1);
  return hardy_fail(HARDY_ERR_INPUT, "bench: unknown benchmark '%s' (see hardy-hpc bench --help)",
                    argv[1]);
}
