/* kNN unit tests, one process: the top-K merge (plain function and the MPI operation through
 * MPI_Reduce_local) is commutative, associative and equal to its reference, including ties and
 * empty slots; the fused GEMM kernel equals the naive reference with duplicate rows, self
 * matches and k beyond the index size; the closed-form mu equals the brute-force pair mean. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "hardy/common.h"
#include "hardy/knn.h"
#include "hardy/rng.h"

static uint64_t KEY;

/* A sorted list of k pairs: `n_real` entries with ids drawn without repeats from the
 * stream (ids spaced by `stride` from `base`), distances from a 5-value set (many ties). */
static void random_list(hardy_topk_pair_t *list, int k, int n_real, int64_t base, int stride,
                        uint64_t draw) {
  hardy_topk_clear(list, k);
  for (int i = 0; i < n_real; i++) {
    hardy_topk_pair_t p;
    p.id = base + (int64_t)i * stride;
    p.dist = (float)hardy_rng_below(KEY, draw, (uint64_t)i, 5) * 0.25f;
    /* insertion into the sorted prefix */
    int at = i;
    while (at > 0 && hardy_topk_less(p, list[at - 1])) {
      list[at] = list[at - 1];
      at--;
    }
    list[at] = p;
  }
}

static int lists_equal(const hardy_topk_pair_t *a, const hardy_topk_pair_t *b, int k) {
  for (int i = 0; i < k; i++)
    if (a[i].id != b[i].id || !(a[i].dist == b[i].dist || (isinf(a[i].dist) && isinf(b[i].dist))))
      return 0;
  return 1;
}

static void test_merge(void) {
  enum { K = 9, TRIALS = 300 };
  hardy_topk_pair_t a[K], b[K], c[K], ab[K], ba[K], ab_c[K], bc[K], a_bc[K], ref[K];
  hardy_topk_mpi_t op;
  TEST_EQ_INT(hardy_topk_mpi_create(&op, K), 0);
  int bad_comm = 0, bad_assoc = 0, bad_ref = 0, bad_op = 0;
  for (int t = 0; t < TRIALS; t++) {
    int na = (int)hardy_rng_below(KEY, 1000 + t, 0, K + 1);
    int nb = (int)hardy_rng_below(KEY, 1000 + t, 1, K + 1);
    int nc = (int)hardy_rng_below(KEY, 1000 + t, 2, K + 1);
    /* disjoint ids as between shards; every 3rd trial b overlaps a (same id, same dist) */
    random_list(a, K, na, 0, 3, 3u * t);
    if (t % 3 == 2) memcpy(b, a, sizeof a), random_list(c, K, nc, 2, 3, 3u * t + 2);
    else random_list(b, K, nb, 1, 3, 3u * t + 1), random_list(c, K, nc, 2, 3, 3u * t + 2);
    hardy_topk_merge(a, b, ab, K);
    hardy_topk_merge(b, a, ba, K);
    hardy_topk_merge(ab, c, ab_c, K);
    hardy_topk_merge(b, c, bc, K);
    hardy_topk_merge(a, bc, a_bc, K);
    hardy_topk_merge_ref(a, b, ref, K);
    bad_comm += !lists_equal(ab, ba, K);
    bad_assoc += !lists_equal(ab_c, a_bc, K);
    bad_ref += !lists_equal(ab, ref, K);
    /* the MPI operation itself, as MPI_Allreduce would call it */
    hardy_topk_pair_t inout[K];
    memcpy(inout, b, sizeof b);
    MPI_Reduce_local(a, inout, 1, op.type, op.op);
    bad_op += !lists_equal(inout, ab, K);
  }
  TEST_EQ_INT(bad_comm, 0);
  TEST_EQ_INT(bad_assoc, 0);
  TEST_EQ_INT(bad_ref, 0);
  TEST_EQ_INT(bad_op, 0);
  /* empty slots last, real ties by id */
  hardy_topk_pair_t x[3] = {{1.0f, 7}, {1.0f, 9}, {INFINITY, -1}}, y[3] = {{1.0f, 8}, {INFINITY, -1}, {INFINITY, -1}}, z[3];
  hardy_topk_merge(x, y, z, 3);
  TEST_ASSERT(z[0].id == 7 && z[1].id == 8 && z[2].id == 9, "tie order %lld %lld %lld",
              (long long)z[0].id, (long long)z[1].id, (long long)z[2].id);
  hardy_topk_mpi_free(&op);
}

static void fill_normal(float *x, int64_t n, uint64_t stream) {
  hardy_rng_normal_fill(KEY, stream, x, n);
}

/* The kernel in effect (HARDY_KNN_KERNEL / HARDY_KNN_TILE, see knn.cmake) against the naive
 * reference on one shape. */
static void check_kernel_shape(int nq, int nx, int d) {
  float *q = malloc(sizeof(float) * (size_t)(nq * d)), *x = malloc(sizeof(float) * (size_t)(nx * d));
  int64_t *q_id = malloc(sizeof(int64_t) * (size_t)nq), *x_id = malloc(sizeof(int64_t) * (size_t)nx);
  fill_normal(x, (int64_t)nx * d, 1);
  fill_normal(q, (int64_t)nq * d, 2);
  for (int j = 0; j < nx; j++) x_id[j] = 3 * j + 1;
  /* duplicates: every 7th index row repeats the previous one (equal distances, tie by id) */
  for (int j = 7; j < nx; j += 7) memcpy(x + j * d, x + (j - 1) * d, sizeof(float) * (size_t)d);
  for (int i = 0; i < nq; i++) {
    q_id[i] = 100000 + i;
    if (i % 5 == 0) { /* query equal to an index row (self match by id for half of them) */
      int j = (i * 13) % nx;
      memcpy(q + i * d, x + j * d, sizeof(float) * (size_t)d);
      if (i % 10 == 0) q_id[i] = x_id[j];
    }
  }
  int ks[] = {1, 4, 50, nx + 3};
  for (size_t t = 0; t < sizeof ks / sizeof ks[0]; t++) {
    int k = ks[t];
    hardy_topk_pair_t *got = malloc(sizeof *got * (size_t)(nq * k));
    hardy_topk_pair_t *ref = malloc(sizeof *ref * (size_t)(nq * k));
    for (int threads = 1; threads <= 2; threads++) {
      hardy_knn_topk_local(q, q_id, nq, x, x_id, nx, d, k, threads, got);
      hardy_knn_topk_local_ref(q, q_id, nq, x, x_id, nx, d, k, ref);
      int bad_id = 0;
      for (int i = 0; i < nq * k; i++) {
        bad_id += got[i].id != ref[i].id;
        if (got[i].id != ref[i].id && bad_id <= 5)
          fprintf(stderr, "query %d slot %d: id %lld (%.9g), reference %lld (%.9g)\n", i / k, i % k,
                  (long long)got[i].id, got[i].dist, (long long)ref[i].id, ref[i].dist);
        if (ref[i].id >= 0) TEST_NEAR(got[i].dist, ref[i].dist, 1e-5, 1e-5);
        else TEST_ASSERT(isinf(got[i].dist), "empty slot %d has dist %g", i, got[i].dist);
      }
      TEST_ASSERT(bad_id == 0, "%dx%dx%d k=%d threads=%d: %d ids differ from the reference", nq, nx,
                  d, k, threads, bad_id);
    }
    free(got), free(ref);
  }
  free(q), free(x), free(q_id), free(x_id);
}

static void test_kernel(void) {
  printf("kernel %s, tile %s\n", hardy_knn_kernel_name(), hardy_knn_tile_string());
  check_kernel_shape(70, 1100, 37); /* partial register tiles in both directions */
  check_kernel_shape(13, 33, 1);    /* d = 1 */
  check_kernel_shape(25, 9, 100);   /* an index smaller than one panel */
  check_kernel_shape(24, 64, 16);   /* whole panels */
}

static void test_mu(void) {
  enum { N = 90 };
  int dims[3] = {6, 11, 4};
  float *f[3];
  int64_t id[N];
  for (int m = 0; m < 3; m++) {
    f[m] = malloc(sizeof(float) * N * dims[m]);
    fill_normal(f[m], (int64_t)N * dims[m], 10 + m);
    for (int i = 0; i < N * dims[m]; i++) f[m][i] += 3.0f * (float)m; /* non-zero means */
  }
  memset(f[1] + 5 * dims[1], 0, sizeof(float) * dims[1]); /* a zero text row */
  for (int i = 0; i < N; i++) id[i] = i;
  hardy_knn_rows_t rows = {N, id, {dims[0], dims[1], dims[2]}, {f[0], f[1], f[2]}, {0}};
  hardy_knn_metrics_input(rows.metric);
  hardy_knn_index_t ix;
  TEST_EQ_INT(hardy_knn_index_build(&ix, &rows, MPI_COMM_WORLD), 0);
  double mu_ref[3];
  hardy_knn_mu_ref(&rows, mu_ref);
  for (int m = 0; m < 3; m++) TEST_NEAR(ix.mu[m], mu_ref[m], 0, 1e-10);
  TEST_EQ_INT(ix.n_global, N);
  for (int m = 0; m < 3; m++) free(f[m]);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  KEY = hardy_rng_key(7, HARDY_RNG_TEST_DATA);
  test_merge();
  test_kernel();
  test_mu();
  int rc = hardy_test_finish("test_knn_unit");
  MPI_Finalize();
  return rc;
}
