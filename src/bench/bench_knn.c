/* `hardy-hpc bench knn`: throughput of the exact squared-L2 search (queries/s and effective
 * GFLOP/s = 2 nq nb d / time) on uniform random data, beside the sgemm peak measured in the same
 * run on the same thread count; per phase times (fused distance kernel, query allgather, top-K
 * allreduce) and the neighbour-row fetch. Index and queries are split evenly over the ranks;
 * the data are keyed by global row, so every rank count searches the same problem.
 * bench/knn.sh runs it beside FAISS (bench/knn_faiss.py). */
#include <cjson/cJSON.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hardy/bench.h"
#include "hardy/blas.h"
#include "hardy/cli.h"
#include "hardy/common.h"
#include "hardy/dist.h"
#include "hardy/knn.h"
#include "hardy/log.h"
#include "hardy/rng.h"

typedef struct {
  int64_t nq, nb;
  int d;
} knn_size_t;

static const knn_size_t FULL[] = {{4400, 4400, 1536}, {4400, 4400, 2560}, {4096, 100000, 1024}};
static const knn_size_t QUICK[] = {{600, 900, 256}, {300, 3000, 128}};

/* Rows [first, first + n) of a uniform [0, 1) matrix with d columns, keyed by global row. */
static void fill_uniform(float *x, int64_t first, int64_t n, int d, uint64_t stream) {
  uint64_t key = hardy_rng_key(42, HARDY_RNG_TEST_DATA);
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; i++)
    for (int c = 0; c < d; c += 4) {
      hardy_rng4_t r = hardy_philox(key, stream, (uint64_t)(first + i) * (uint64_t)d + (uint64_t)c);
      for (int l = 0; l < 4 && c + l < d; l++) x[i * d + c + l] = hardy_u01(r.v[l]);
    }
}

typedef struct {
  double seconds, kernel, gather, allreduce, fetch;
  int64_t candidates;
} run_result_t;

static double max_over_ranks(double v) {
  MPI_Allreduce(MPI_IN_PLACE, &v, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  return v;
}

/* One timed search of the whole problem (this rank's share), then the neighbour-row fetch. */
static int run_one(knn_size_t sz, int k, int threads, int repeat, int64_t query_block,
                   run_result_t *res) {
  int rank, nranks;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &nranks);
  int64_t b0 = sz.nb * rank / nranks, b1 = sz.nb * (rank + 1) / nranks;
  int64_t q0 = sz.nq * rank / nranks, q1 = sz.nq * (rank + 1) / nranks;
  int64_t nb = b1 - b0, nq = q1 - q0;
  float *x = hardy_aligned_alloc(sizeof(float) * (size_t)(nb * sz.d + 1), "bench index");
  float *q = hardy_aligned_alloc(sizeof(float) * (size_t)(nq * sz.d + 1), "bench queries");
  int64_t *x_id = hardy_malloc(sizeof(int64_t) * (size_t)(nb + 1), "bench ids");
  int64_t *q_id = hardy_malloc(sizeof(int64_t) * (size_t)(nq + 1), "bench ids");
  hardy_topk_pair_t *out = hardy_malloc(sizeof *out * (size_t)(nq * k + 1), "bench lists");
  int64_t *want = hardy_malloc(sizeof(int64_t) * (size_t)(nq * k + 1), "bench fetch ids");
  float *rows = hardy_aligned_alloc(sizeof(float) * (size_t)(nq * k * sz.d + 1), "bench rows");
  int status = x && q && x_id && q_id && out && want && rows ? HARDY_OK : HARDY_ERR_RUNTIME;
  status = hardy_agree(status, MPI_COMM_WORLD);
  if (status == HARDY_OK) {
    fill_uniform(x, b0, nb, sz.d, 1);
    fill_uniform(q, q0, nq, sz.d, 2);
    for (int64_t i = 0; i < nb; i++) x_id[i] = b0 + i;
    for (int64_t i = 0; i < nq; i++) q_id[i] = sz.nb + q0 + i; /* never an index id */
    hardy_knn_opts_t opt;
    hardy_knn_opts_default(&opt, k);
    opt.threads = threads;
    if (query_block > 0) opt.query_block = query_block;
    /* warm-up: BLAS buffers, page faults */
    status = hardy_knn_search_l2(q, q_id, HARDY_MIN(nq, (int64_t)64), x, x_id, nb, sz.d, &opt, out,
                                 NULL, MPI_COMM_WORLD);
    /* best of `repeat` searches by the slowest rank's time (the same on every rank, so every
     * rank takes the same branch), with that run's phase times */
    res->seconds = INFINITY;
    for (int rep = 0; rep < repeat && status == HARDY_OK; rep++) {
      hardy_knn_stats_t st = {0};
      MPI_Barrier(MPI_COMM_WORLD);
      double t0 = hardy_now();
      status = hardy_knn_search_l2(q, q_id, nq, x, x_id, nb, sz.d, &opt, out, &st, MPI_COMM_WORLD);
      double sec = max_over_ranks(hardy_now() - t0);
      if (sec < res->seconds) {
        res->seconds = sec;
        res->kernel = max_over_ranks(st.t_kernel);
        res->gather = max_over_ranks(st.t_gather);
        res->allreduce = max_over_ranks(st.t_allreduce);
        res->candidates = st.n_candidates;
      }
    }
    MPI_Allreduce(MPI_IN_PLACE, &res->candidates, 1, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD);
    hardy_rows_t h;
    const float *field[1] = {x};
    if (status == HARDY_OK) status = hardy_rows_open(&h, x_id, nb, 1, field, &sz.d, MPI_COMM_WORLD);
    if (status == HARDY_OK) {
      for (int64_t i = 0; i < nq * k; i++) want[i] = out[i].id;
      MPI_Barrier(MPI_COMM_WORLD);
      double t1 = hardy_now();
      status = hardy_rows_fetch(&h, want, nq * k, &rows);
      res->fetch = max_over_ranks(hardy_now() - t1);
      hardy_rows_close(&h);
    }
  }
  free(x), free(q), free(x_id), free(q_id), free(out), free(want), free(rows);
  return status;
}

static int parse_threads(const char *text, int *list, int cap) {
  int n = 0;
  char buf[256];
  snprintf(buf, sizeof buf, "%s", text);
  for (char *tok = strtok(buf, ","); tok && n < cap; tok = strtok(NULL, ",")) {
    int64_t v;
    HARDY_CHECK(hardy_cli_int64("--threads", tok, 1, 1024, &v));
    list[n++] = (int)v;
  }
  return n;
}

/* "NQxNBxD" into a size. */
static int parse_size(const char *text, knn_size_t *sz) {
  long long nq, nb, d;
  char tail;
  if (sscanf(text, "%lldx%lldx%lld%c", &nq, &nb, &d, &tail) != 3 || nq < 1 || nb < 2 || d < 1 ||
      d > 1 << 20 || nq > (1LL << 40) || nb > (1LL << 40))
    return hardy_fail(HARDY_ERR_INPUT, "--size '%s': expected NQxNBxD with NQ >= 1, NB >= 2, "
                      "D >= 1 (e.g. 4400x4400x1536)", text);
  sz->nq = nq, sz->nb = nb, sz->d = (int)d;
  return HARDY_OK;
}

static void usage(void) {
  printf("usage: mpirun -n R hardy-hpc bench knn [--threads 1,2] [--k 4] [--size NQxNBxD]...\n"
         "                                     [--repeat N] [--query-block B] [--quick]\n"
         "                                     [--json FILE]\n"
         "  Exact squared-L2 kNN throughput for (nq, nb, d) = (4400, 4400, 1536), (4400, 4400,\n"
         "  2560), (4096, 100000, 1024) beside the sgemm peak on the same threads (per rank).\n"
         "  --size replaces those sizes (repeatable, up to 8); --repeat reports the best of N\n"
         "  searches (default 1); --query-block is the search's queries per round over all ranks;\n"
         "  --quick uses small sizes (smoke test). HARDY_KNN_KERNEL=auto|fused|fused-avx512|\n"
         "  fused-avx2|blas picks the kernel (now %s) and HARDY_KNN_TILE=QBxXB its tile (query\n"
         "  rows per thread x index rows; now %s).\n", hardy_knn_kernel_name(), hardy_knn_tile_string());
}

int hardy_bench_knn(int argc, char **argv) {
  int threads[8] = {1, 2}, n_threads = 2, k = 4, quick = 0, repeat = 1, n_custom = 0;
  knn_size_t custom[8];
  int64_t query_block = 0;
  const char *json_path = NULL;
  int status = HARDY_OK;
  for (int i = 1; i < argc && status == HARDY_OK; i++) {
    const char *v = NULL;
    int64_t x;
    if (!strcmp(argv[i], "--help")) {
      if (hardy_world_rank() == 0) usage();
      return HARDY_OK;
    } else if (!strcmp(argv[i], "--quick")) {
      quick = 1;
    } else if (!strcmp(argv[i], "--threads") && (v = hardy_cli_value(argc, argv, i++))) {
      n_threads = parse_threads(v, threads, 8);
      if (n_threads <= 0) status = n_threads < 0 ? n_threads : hardy_fail(HARDY_ERR_INPUT, "--threads: empty list");
    } else if (!strcmp(argv[i], "--k") && (v = hardy_cli_value(argc, argv, i++))) {
      status = hardy_cli_int64("--k", v, 1, 1024, &x);
      k = (int)x;
    } else if (!strcmp(argv[i], "--repeat") && (v = hardy_cli_value(argc, argv, i++))) {
      status = hardy_cli_int64("--repeat", v, 1, 100, &x);
      repeat = (int)x;
    } else if (!strcmp(argv[i], "--query-block") && (v = hardy_cli_value(argc, argv, i++))) {
      status = hardy_cli_int64("--query-block", v, 1, 1 << 24, &query_block);
    } else if (!strcmp(argv[i], "--size") && (v = hardy_cli_value(argc, argv, i++))) {
      if (n_custom >= 8) status = hardy_fail(HARDY_ERR_INPUT, "--size: at most 8 sizes");
      else status = parse_size(v, &custom[n_custom++]);
    } else if (!strcmp(argv[i], "--json") && (v = hardy_cli_value(argc, argv, i++))) {
      json_path = v;
    } else if (!v) {
      status = hardy_fail(HARDY_ERR_INPUT, "bench knn: unknown option '%s' (see --help)", argv[i]);
    }
  }
  status = hardy_agree(status, MPI_COMM_WORLD);
  if (status < 0) return status;
  hardy_blas_report();
  int nranks;
  MPI_Comm_size(MPI_COMM_WORLD, &nranks);
  const knn_size_t *sizes = n_custom ? custom : quick ? QUICK : FULL;
  int n_sizes = n_custom ? n_custom
                : quick  ? (int)(sizeof QUICK / sizeof QUICK[0])
                         : (int)(sizeof FULL / sizeof FULL[0]);
  cJSON *root = cJSON_CreateObject(), *runs = cJSON_AddArrayToObject(root, "runs");
  cJSON_AddStringToObject(root, "benchmark", "knn");
  cJSON_AddNumberToObject(root, "ranks", nranks);
  cJSON_AddNumberToObject(root, "k", k);
  cJSON_AddNumberToObject(root, "repeat", repeat);
  cJSON_AddStringToObject(root, "tile", hardy_knn_tile_string());
  cJSON_AddStringToObject(root, "kernel", hardy_knn_kernel_name());
  if (hardy_world_rank() == 0)
    printf("knn kernel %s, tile %s (HARDY_KNN_KERNEL, HARDY_KNN_TILE)\n", hardy_knn_kernel_name(),
           hardy_knn_tile_string());
  cJSON_AddStringToObject(root, "blas_core", hardy_blas_core());
  for (int t = 0; t < n_threads && status == HARDY_OK; t++) {
    omp_set_num_threads(threads[t]);
    hardy_blas_set_threads(threads[t]);
    /* every rank measures its own peak at the same time: the per-rank peak under load */
    MPI_Barrier(MPI_COMM_WORLD);
    double peak = hardy_bench_sgemm_gflops(2048, 2048, 1024, quick ? 0.2 : 1.0);
    MPI_Allreduce(MPI_IN_PLACE, &peak, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD); /* all ranks */
    for (int s = 0; s < n_sizes && status == HARDY_OK; s++) {
      run_result_t r = {0};
      status = run_one(sizes[s], k, threads[t], repeat, query_block, &r);
      double flop = 2.0 * sizes[s].nq * sizes[s].nb * sizes[s].d;
      cJSON *o = cJSON_CreateObject();
      cJSON_AddNumberToObject(o, "nq", (double)sizes[s].nq);
      cJSON_AddNumberToObject(o, "nb", (double)sizes[s].nb);
      cJSON_AddNumberToObject(o, "d", sizes[s].d);
      cJSON_AddNumberToObject(o, "threads", threads[t]);
      cJSON_AddNumberToObject(o, "seconds", r.seconds);
      cJSON_AddNumberToObject(o, "queries_per_s", sizes[s].nq / r.seconds);
      cJSON_AddNumberToObject(o, "gflops", flop / r.seconds * 1e-9);
      cJSON_AddNumberToObject(o, "kernel_gflops", flop / r.kernel * 1e-9);
      cJSON_AddNumberToObject(o, "sgemm_peak_gflops", peak);
      cJSON_AddNumberToObject(o, "kernel_share_of_peak", flop / r.kernel * 1e-9 / peak);
      cJSON_AddNumberToObject(o, "allreduce_share", r.allreduce / r.seconds);
      cJSON_AddNumberToObject(o, "gather_share", r.gather / r.seconds);
      cJSON_AddNumberToObject(o, "candidates_per_query", (double)r.candidates / sizes[s].nq);
      cJSON_AddNumberToObject(o, "fetch_seconds", r.fetch);
      cJSON_AddItemToArray(runs, o);
      if (hardy_world_rank() == 0)
        printf("knn nq=%lld nb=%lld d=%d ranks=%d threads=%d: %.3f s, %.0f queries/s, %.1f GFLOP/s "
               "(kernel %.1f = %.0f%% of sgemm peak %.1f), allreduce %.1f%%, gather %.1f%%, "
               "%.1f candidates/query, fetch %.3f s\n",
               (long long)sizes[s].nq, (long long)sizes[s].nb, sizes[s].d, nranks, threads[t],
               r.seconds, sizes[s].nq / r.seconds, flop / r.seconds * 1e-9, flop / r.kernel * 1e-9,
               100.0 * flop / r.kernel * 1e-9 / peak, peak, 100.0 * r.allreduce / r.seconds,
               100.0 * r.gather / r.seconds, (double)r.candidates / sizes[s].nq, r.fetch);
    }
  }
  if (status == HARDY_OK && json_path && hardy_world_rank() == 0)
    status = hardy_json_write_file(json_path, root);
  cJSON_Delete(root);
  return hardy_agree(status, MPI_COMM_WORLD);
}
