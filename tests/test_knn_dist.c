/* Distributed kNN against the serial reference at any rank count: every fixed condition and
 * random masks, k from 1 to beyond N (empty slots), k larger than a shard, an empty shard on
 * one rank (3+ ranks), several query rounds of uneven size; data with exact ties (duplicated
 * rows and groups, text rows that are scaled copies). Ids must match exactly, distances within
 * 1e-5 absolute + 1e-4 relative (distances are normalised to mean 1). Also: the distributed
 * mu equals the brute-force pair mean, and the neighbour-row fetch returns exactly the rows of
 * the requested ids. */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "hardy/common.h"
#include "hardy/config.h"
#include "hardy/dist.h"
#include "hardy/knn.h"
#include "hardy/mask.h"
#include "hardy/rng.h"

enum { N = 120 };
static const int DIMS[3] = {20, 33, 9};
static uint64_t KEY;
static float *FEAT[3]; /* [N, DIMS[m]] the whole data set, on every rank (for the reference) */
static int64_t ID[N];

static int64_t row_of_id(int64_t id) { return (id - 10) / 3; }

static void make_data(void) {
  for (int m = 0; m < 3; m++) {
    FEAT[m] = malloc(sizeof(float) * N * DIMS[m]);
    for (int g = 0; g < N; g++)
      hardy_rng_normal_fill(KEY, (uint64_t)g * 4 + m, FEAT[m] + g * DIMS[m], DIMS[m]);
  }
  for (int g = 0; g < N; g++) {
    ID[g] = 3 * g + 10;
    float *a = FEAT[0] + g * DIMS[0], *t = FEAT[1] + g * DIMS[1], *v = FEAT[2] + g * DIMS[2];
    if (g % 10 == 3)
      for (int m = 0; m < 3; m++) /* a full duplicate of the previous row */
        memcpy(FEAT[m] + g * DIMS[m], FEAT[m] + (g - 1) * DIMS[m], sizeof(float) * DIMS[m]);
    if (g % 10 == 7) memcpy(a, FEAT[0] + (g - 5) * DIMS[0], sizeof(float) * DIMS[0]);
    if (g % 10 == 5) memcpy(v, FEAT[2] + (g - 2) * DIMS[2], sizeof(float) * DIMS[2]);
    if (g % 10 == 9) /* the same direction: cosine distance 0, a tie in text */
      for (int c = 0; c < DIMS[1]; c++) t[c] = 2.0f * FEAT[1][(g - 4) * DIMS[1] + c];
  }
}

/* Rows [lo, hi) of this rank: an even split, except that with 3+ ranks rank 1 is empty. */
static void shard_range(int rank, int nranks, int64_t *lo, int64_t *hi) {
  int parts = nranks >= 3 ? nranks - 1 : nranks;
  int part = nranks >= 3 ? (rank == 0 ? 0 : rank == 1 ? -1 : rank - 1) : rank;
  if (part < 0) {
    *lo = *hi = 0;
    return;
  }
  *lo = (int64_t)N * part / parts;
  *hi = (int64_t)N * (part + 1) / parts;
}

static hardy_knn_rows_t rows_of(int64_t lo, int64_t hi) {
  hardy_knn_rows_t r = {hi - lo, ID + lo, {DIMS[0], DIMS[1], DIMS[2]},
                        {FEAT[0] + lo * DIMS[0], FEAT[1] + lo * DIMS[1], FEAT[2] + lo * DIMS[2]}, {0}};
  hardy_knn_metrics_input(r.metric);
  return r;
}

static void check_search(const hardy_knn_index_t *ix, const hardy_knn_rows_t *mine,
                         const uint8_t *mask, int k, const char *what) {
  hardy_knn_rows_t all = rows_of(0, N);
  int64_t n = mine->n;
  int64_t *id = malloc(sizeof(int64_t) * (n * k + 1)), *ref_id = malloc(sizeof(int64_t) * (n * k + 1));
  float *dist = malloc(sizeof(float) * (n * k + 1)), *ref_dist = malloc(sizeof(float) * (n * k + 1));
  hardy_knn_opts_t opt;
  hardy_knn_opts_default(&opt, k);
  opt.query_block = 16; /* several rounds, uneven per rank */
  TEST_EQ_INT(hardy_knn_search(ix, mine, mask, &opt, id, dist, NULL, MPI_COMM_WORLD), 0);
  TEST_EQ_INT(hardy_knn_search_ref(&all, mine, mask, k, ref_id, ref_dist), 0);
  int bad = 0;
  for (int64_t i = 0; i < n * k; i++) {
    if (id[i] != ref_id[i] && bad++ < 5)
      fprintf(stderr, "%s k=%d query %lld slot %lld: id %lld (%.9g), reference %lld (%.9g)\n", what,
              k, (long long)mine->id[i / k], (long long)(i % k), (long long)id[i], dist[i],
              (long long)ref_id[i], ref_dist[i]);
    if (ref_id[i] >= 0) TEST_NEAR(dist[i], ref_dist[i], 1e-5, 1e-4);
    else TEST_ASSERT(dist[i] > 1e30f, "%s: empty slot has dist %g", what, dist[i]);
  }
  TEST_ASSERT(bad == 0, "%s k=%d: %d ids differ from the reference", what, k, bad);
  free(id), free(ref_id), free(dist), free(ref_dist);
}

static void test_fetch(const hardy_knn_index_t *ix, const hardy_knn_rows_t *mine) {
  const float *field[3] = {mine->feat[0], mine->feat[1], mine->feat[2]};
  hardy_rows_t h;
  TEST_EQ_INT(hardy_rows_open(&h, mine->id, mine->n, 3, field, DIMS, MPI_COMM_WORLD), 0);
  /* Ask for neighbours of every local query (k = 5), in list order, plus an empty slot. */
  enum { K = 5 };
  int64_t n_want = mine->n * K + 1;
  int64_t *want = malloc(sizeof(int64_t) * n_want);
  float *dist = malloc(sizeof(float) * n_want);
  uint8_t *mask = malloc((size_t)mine->n + 1);
  memset(mask, 7, (size_t)mine->n + 1);
  hardy_knn_opts_t opt;
  hardy_knn_opts_default(&opt, K);
  TEST_EQ_INT(hardy_knn_search(ix, mine, mask, &opt, want, dist, NULL, MPI_COMM_WORLD), 0);
  want[n_want - 1] = -1;
  float *out[3];
  for (int m = 0; m < 3; m++) out[m] = malloc(sizeof(float) * n_want * DIMS[m]);
  TEST_EQ_INT(hardy_rows_fetch(&h, want, n_want, out), 0);
  int bad = 0;
  for (int64_t i = 0; i < n_want; i++)
    for (int m = 0; m < 3; m++)
      for (int c = 0; c < DIMS[m]; c++) {
        float expect = want[i] < 0 ? 0.0f : FEAT[m][row_of_id(want[i]) * DIMS[m] + c];
        bad += out[m][i * DIMS[m] + c] != expect;
      }
  TEST_EQ_INT(bad, 0);
  /* an id nobody owns is an agreed input error on every rank */
  int64_t stray = 11; /* between ID[0] = 10 and ID[1] = 13 */
  hardy_error_clear();
  TEST_EQ_INT(hardy_rows_fetch(&h, &stray, 1, out), HARDY_ERR_INPUT);
  hardy_error_clear();
  for (int m = 0; m < 3; m++) free(out[m]);
  free(want), free(dist), free(mask);
  hardy_rows_close(&h);
}

static void test_l2(const hardy_knn_rows_t *mine) {
  /* The plain squared-L2 layer on raw visual features, k above a shard's size. */
  enum { K = 50 };
  int d = DIMS[2];
  hardy_topk_pair_t *got = malloc(sizeof *got * (mine->n * K + 1)), *ref = malloc(sizeof *ref * (mine->n * K + 1));
  hardy_knn_opts_t opt;
  hardy_knn_opts_default(&opt, K);
  opt.query_block = 7;
  TEST_EQ_INT(hardy_knn_search_l2(mine->feat[2], mine->id, mine->n, mine->feat[2], mine->id, mine->n,
                                  d, &opt, got, NULL, MPI_COMM_WORLD), 0);
  hardy_knn_topk_local_ref(mine->feat[2], mine->id, mine->n, FEAT[2], ID, N, d, K, ref);
  int bad = 0;
  for (int64_t i = 0; i < mine->n * K; i++) bad += got[i].id != ref[i].id;
  TEST_EQ_INT(bad, 0);
  free(got), free(ref);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int rank, nranks;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &nranks);
  KEY = hardy_rng_key(3, HARDY_RNG_TEST_DATA);
  make_data();
  int64_t lo, hi;
  shard_range(rank, nranks, &lo, &hi);
  hardy_knn_rows_t mine = rows_of(lo, hi), all = rows_of(0, N);
  hardy_knn_index_t ix;
  TEST_EQ_INT(hardy_knn_index_build(&ix, &mine, MPI_COMM_WORLD), 0);
  double mu_ref[3];
  hardy_knn_mu_ref(&all, mu_ref);
  for (int m = 0; m < 3; m++) TEST_NEAR(ix.mu[m], mu_ref[m], 0, 1e-10);
  TEST_EQ_INT(ix.n_global, N);

  uint8_t *mask = malloc((size_t)mine.n + 1);
  const int ks[] = {1, 4, 45, N - 1, N + 2};
  for (int cond = 1; cond <= 7; cond++) {
    memset(mask, cond, (size_t)mine.n + 1);
    for (size_t t = 0; t < sizeof ks / sizeof ks[0]; t++)
      check_search(&ix, &mine, mask, ks[t], hardy_condition_name(cond));
  }
  const double rates[] = {0.4, 0.7};
  for (int r = 0; r < 2; r++) {
    hardy_missing_t miss = {0, rates[r]};
    for (int64_t i = 0; i < mine.n; i++) mask[i] = hardy_mask_train(5, miss, 0, mine.id[i], 7);
    char what[32];
    snprintf(what, sizeof what, "rate %.1f", rates[r]);
    for (size_t t = 0; t < sizeof ks / sizeof ks[0]; t++) check_search(&ix, &mine, mask, ks[t], what);
  }
  test_fetch(&ix, &mine);
  test_l2(&mine);
  free(mask);
  for (int m = 0; m < 3; m++) free(FEAT[m]);
  int rc = hardy_test_finish("test_knn_dist");
  MPI_Finalize();
  return rc;
}
