/* Memory bound of the distributed search: N = 24,000 rows, where an N x N float distance
 * matrix would take 2.3 GB and an N x N_local one at least 1.15 GB, must run with a peak RSS
 * growth under 32 MiB plus the kernel's tile workspace (hardy_knn_workspace_bytes: one tile of
 * at most QB x XB floats per thread, 32 MiB at the default 2048 x 4096). The data are 1.5 MB;
 * norms, query block and lists a few MB. Also checks the result is well formed: sorted
 * lists, no self match, valid ids. */
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "harness.h"
#include "hardy/common.h"
#include "hardy/knn.h"
#include "hardy/rng.h"

enum { N = 24000, K = 4 };
static const int DIMS[3] = {6, 5, 5};

static double peak_rss_mib(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss / 1024.0; /* Linux: KiB */
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int rank, nranks;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &nranks);
  int64_t lo = (int64_t)N * rank / nranks, hi = (int64_t)N * (rank + 1) / nranks, n = hi - lo;
  uint64_t key = hardy_rng_key(11, HARDY_RNG_TEST_DATA);
  float *feat[3];
  int64_t *id = malloc(sizeof(int64_t) * (size_t)n);
  for (int m = 0; m < 3; m++) {
    feat[m] = malloc(sizeof(float) * (size_t)(n * DIMS[m]));
    for (int64_t i = 0; i < n; i++)
      hardy_rng_normal_fill(key, (uint64_t)(lo + i) * 4 + m, feat[m] + i * DIMS[m], DIMS[m]);
  }
  for (int64_t i = 0; i < n; i++) id[i] = lo + i;
  hardy_knn_rows_t rows = {n, id, {DIMS[0], DIMS[1], DIMS[2]}, {feat[0], feat[1], feat[2]}, {0}};
  hardy_knn_metrics_input(rows.metric);
  uint8_t *mask = malloc((size_t)n);
  for (int64_t i = 0; i < n; i++) mask[i] = (uint8_t)(1 + (lo + i) % 7); /* all 7 patterns */
  int64_t *nb_id = malloc(sizeof(int64_t) * (size_t)(n * K));
  float *nb_dist = malloc(sizeof(float) * (size_t)(n * K));
  double before = peak_rss_mib();
  hardy_knn_index_t ix;
  TEST_EQ_INT(hardy_knn_index_build(&ix, &rows, MPI_COMM_WORLD), 0);
  hardy_knn_opts_t opt;
  hardy_knn_opts_default(&opt, K);
  TEST_EQ_INT(hardy_knn_search(&ix, &rows, mask, &opt, nb_id, nb_dist, NULL, MPI_COMM_WORLD), 0);
  double growth = peak_rss_mib() - before;
  double full_matrix_mib = (double)N * N * 4 / 1048576.0;
  double tiles_mib = (double)hardy_knn_workspace_bytes(n, N, DIMS[0] + DIMS[1] + DIMS[2], K, 0) / 1048576.0;
  TEST_ASSERT(tiles_mib < 0.1 * full_matrix_mib, "tile workspace %.1f MiB is not small", tiles_mib);
  TEST_ASSERT(growth < 32.0 + tiles_mib,
              "peak RSS grew by %.1f MiB, over 32 MiB + %.1f MiB of tiles (an N x N matrix would "
              "be %.0f MiB)", growth, tiles_mib, full_matrix_mib);
  int bad = 0;
  for (int64_t i = 0; i < n; i++)
    for (int j = 0; j < K; j++) {
      int64_t v = nb_id[i * K + j];
      bad += v < 0 || v >= N || v == id[i] || !(nb_dist[i * K + j] >= 0.0f);
      if (j > 0) bad += nb_dist[i * K + j] < nb_dist[i * K + j - 1];
    }
  TEST_EQ_INT(bad, 0);
  if (rank == 0)
    printf("peak RSS growth %.1f MiB at %d ranks (tiles %.1f MiB; N x N floats: %.0f MiB)\n",
           growth, nranks, tiles_mib, full_matrix_mib);
  for (int m = 0; m < 3; m++) free(feat[m]);
  free(id), free(mask), free(nb_id), free(nb_dist);
  int rc = hardy_test_finish("test_knn_memory");
  MPI_Finalize();
  return rc;
}
