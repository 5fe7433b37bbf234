/* Gaussian MI estimator: the ScaLAPACK path (distributed moments, pdpotrf on the BLACS grid,
 * replicated factors, local DTRSM) against the serial double reference on the same embeddings;
 * the analytic MI of a known bivariate Gaussian; the agreed not-positive-definite error; the
 * too-few-rows error. Embeddings are Philox draws keyed by global row, so every rank can build
 * the whole set and the shards do not depend on the rank count. */
#include <stdlib.h>
#include <string.h>

#include "hardy/common.h"
#include "hardy/hardness.h"
#include "hardy/rng.h"
#include "harness.h"

typedef struct {
  int hidden;
  int64_t n;
  float *z[3]; /* [n, hidden] */
} embed_t;

static void embed_free(embed_t *e) {
  for (int m = 0; m < 3; m++)
    free(e->z[m]);
}

/* Correlated embeddings: z^m = A_m u + noise with a shared 3-d latent u, plus per-modality
 * offsets and scales, so the joints carry real cross-modal information. */
static void make_correlated(embed_t *e, int hidden, int64_t n) {
  e->hidden = hidden;
  e->n = n;
  uint64_t key = hardy_rng_key(11, HARDY_RNG_TEST_DATA);
  for (int m = 0; m < 3; m++)
    e->z[m] = malloc((size_t)n * hidden * sizeof(float));
  for (int64_t i = 0; i < n; i++) {
    float u[4];
    hardy_rng_normal2(key, 1, (uint64_t)i * 2, u);
    hardy_rng_normal2(key, 1, (uint64_t)i * 2 + 1, u + 2);
    for (int m = 0; m < 3; m++)
      for (int k = 0; k < hidden; k++) {
        float noise[2];
        hardy_rng_normal2(key, 2 + (uint64_t)m, (uint64_t)(i * hidden + k), noise);
        float mix = (float)((k + m) % 3 - 1) * u[(k + 2 * m) % 3] + 0.5f * u[3];
        e->z[m][i * hidden + k] = (1.0f + 0.1f * k) * (mix + 0.7f * noise[0]) + (float)m - 0.2f * k;
      }
  }
}

/* The rows [first, end) of this rank: uneven, and rank 1 is empty when there are 3+ ranks. */
static void my_rows(int64_t n, int64_t *first, int64_t *end) {
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  int64_t b[5] = {0, 0, 0, 0, 0};
  for (int r = 0; r <= size; r++)
    b[r] = n * r * (r + 1) / (size * (size + 1));
  if (size >= 3)
    b[2] = b[1]; /* rank 1: [b1, b1), rank 2 takes its rows */
  *first = b[rank];
  *end = b[rank + 1];
}

static void shard_view(const embed_t *e, int64_t first, const float *out[3]) {
  for (int m = 0; m < 3; m++)
    out[m] = e->z[m] + first * e->hidden;
}

static void test_against_ref(int hidden, int64_t n, double ridge) {
  embed_t e;
  make_correlated(&e, hidden, n);
  double *ref = malloc((size_t)n * 3 * sizeof *ref);
  const float *all[3] = {e.z[0], e.z[1], e.z[2]};
  TEST_EQ_INT(hardy_gauss_mi_ref(all, hidden, n, ridge, ref), 0);
  int64_t first = 0, end = 0;
  my_rows(n, &first, &end);
  const float *mine[3];
  shard_view(&e, first, mine);
  hardy_gauss_mi_t g;
  int rc = hardy_gauss_mi_fit(MPI_COMM_WORLD, mine, hidden, end - first, ridge, &g);
  TEST_ASSERT(rc == 0, "fit H=%d: %s", hidden, hardy_error_message());
  if (rc == 0) {
    int size = 1;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    TEST_EQ_INT(g.grid_rows * g.grid_cols, size);
    TEST_EQ_INT(g.n_fit, n);
    double *got = malloc((size_t)(end - first + 1) * 3 * sizeof *got);
    TEST_EQ_INT(hardy_gauss_mi_eval(&g, mine, end - first, got), 0);
    /* 1e-5 relative, with 1e-5 absolute for PMI values near 0 */
    double worst = 0.0;
    for (int64_t i = first; i < end; i++)
      for (int p = 0; p < 3; p++) {
        double a = got[(i - first) * 3 + p], b = ref[i * 3 + p];
        worst = fmax(worst, fabs(a - b) / (1.0 + fabs(b)));
        TEST_NEAR(a, b, 1e-5, 1e-5);
      }
    if (hardy_test_rank() == 0)
      printf("gaussian H=%d n=%lld: grid %dx%d block %d, max |diff|/(1+|ref|) = %.2e\n", hidden,
             (long long)n, g.grid_rows, g.grid_cols, g.block, worst);
    /* The estimator finds the planted cross-modal information: mean PMI well above 0. */
    double s[2] = {0, (double)(end - first)};
    for (int64_t i = 0; i < end - first; i++)
      s[0] += got[i * 3];
    MPI_Allreduce(MPI_IN_PLACE, s, 2, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    TEST_ASSERT(s[0] / s[1] > 0.1, "mean (a,t) PMI %g: no shared information found", s[0] / s[1]);
    free(got);
    hardy_gauss_mi_free(&g);
  }
  free(ref);
  embed_free(&e);
}

/* Bivariate Gaussian with correlation rho between z^a and z^t (H = 1), z^v independent. The
 * average in-sample PMI is the plug-in MI -0.5 log(1 - r^2) of the sample correlation r, whose
 * sampling sd is about rho / sqrt(n) (the sd of PMI_i); tolerance 3 sd measured from the PMI
 * values themselves. For the independent pairs the plug-in MI is r^2 / 2 with r ~ N(0, 1/n):
 * bound 5 / n (a chi-square(1) above 10 has probability < 0.002). */
static void test_bivariate(void) {
  const int64_t n = 20000;
  const double rho = 0.8, mi_true = -0.5 * log(1.0 - rho * rho);
  int64_t first = 0, end = 0;
  my_rows(n, &first, &end);
  int64_t n_local = end - first;
  float *z[3];
  for (int m = 0; m < 3; m++)
    z[m] = malloc((size_t)(n_local + 1) * sizeof(float));
  uint64_t key = hardy_rng_key(3, HARDY_RNG_TEST_DATA);
  for (int64_t i = 0; i < n_local; i++) {
    float a[2], b[2];
    hardy_rng_normal2(key, 7, (uint64_t)(first + i), a);
    hardy_rng_normal2(key, 8, (uint64_t)(first + i), b);
    z[0][i] = 2.0f + a[0];
    z[1][i] = (float)(rho * a[0] + sqrt(1.0 - rho * rho) * a[1]) * 3.0f - 1.0f;
    z[2][i] = b[0];
  }
  hardy_gauss_mi_t g;
  const float *zc[3] = {z[0], z[1], z[2]};
  int rc = hardy_gauss_mi_fit(MPI_COMM_WORLD, zc, 1, n_local, 0.0, &g);
  TEST_ASSERT(rc == 0, "bivariate fit: %s", hardy_error_message());
  double *pmi = malloc((size_t)(n_local + 1) * 3 * sizeof *pmi);
  if (rc == 0)
    TEST_EQ_INT(hardy_gauss_mi_eval(&g, zc, n_local, pmi), 0);
  double s[5] = {0, 0, 0, 0, 0}; /* sum, sum of squares of (a,t); sum (a,v); sum (t,v) */
  for (int64_t i = 0; rc == 0 && i < n_local; i++) {
    s[0] += pmi[i * 3];
    s[1] += pmi[i * 3] * pmi[i * 3];
    s[2] += pmi[i * 3 + 1];
    s[3] += pmi[i * 3 + 2];
  }
  MPI_Allreduce(MPI_IN_PLACE, s, 5, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
  double mean = s[0] / n, sd = sqrt(s[1] / n - mean * mean), tol = 3.0 * sd / sqrt((double)n);
  if (hardy_test_rank() == 0)
    printf("bivariate rho=%.2f n=%lld: mean PMI %.5f, analytic %.5f, tolerance %.5f (3 se), "
           "independent pairs %.2e %.2e\n",
           rho, (long long)n, mean, mi_true, tol, s[2] / n, s[3] / n);
  TEST_NEAR(mean, mi_true, tol, 0);
  TEST_NEAR(sd, rho, 0.05, 0); /* sd of PMI_i is rho for a bivariate Gaussian */
  TEST_NEAR(s[2] / n, 0.0, 5.0 / n, 0);
  TEST_NEAR(s[3] / n, 0.0, 5.0 / n, 0);
  if (rc == 0)
    hardy_gauss_mi_free(&g);
  free(pmi);
  for (int m = 0; m < 3; m++)
    free(z[m]);
}

/* A constant text feature with ridge 0: the (a,t) joint has a zero pivot at column H + 1. Every
 * rank must return the same input error (no hang), and a small ridge must fix it. */
static void test_not_pd(void) {
  const int hidden = 3;
  const int64_t n = 50;
  embed_t e;
  make_correlated(&e, hidden, n);
  for (int64_t i = 0; i < n; i++)
    e.z[1][i * hidden] = 1.0f;
  int64_t first = 0, end = 0;
  my_rows(n, &first, &end);
  const float *mine[3];
  shard_view(&e, first, mine);
  hardy_gauss_mi_t g;
  hardy_error_clear();
  int rc = hardy_gauss_mi_fit(MPI_COMM_WORLD, mine, hidden, end - first, 0.0, &g);
  TEST_EQ_INT(rc, HARDY_ERR_INPUT);
  const char *want = "joint covariance of (a,t) embeddings is not positive definite at column 4; "
                     "raise hardness.ridge";
  TEST_ASSERT(strstr(hardy_error_message(), want) != NULL, "message: %s", hardy_error_message());
  double *ref = malloc((size_t)n * 3 * sizeof *ref);
  const float *all[3] = {e.z[0], e.z[1], e.z[2]};
  hardy_error_clear();
  TEST_EQ_INT(hardy_gauss_mi_ref(all, hidden, n, 0.0, ref), HARDY_ERR_INPUT);
  TEST_ASSERT(strstr(hardy_error_message(), want) != NULL, "reference: %s", hardy_error_message());
  hardy_error_clear();
  rc = hardy_gauss_mi_fit(MPI_COMM_WORLD, mine, hidden, end - first, 1e-6, &g);
  TEST_ASSERT(rc == 0, "with ridge: %s", hardy_error_message());
  if (rc == 0)
    hardy_gauss_mi_free(&g);
  /* fewer than two rows over all ranks */
  hardy_error_clear();
  rc = hardy_gauss_mi_fit(MPI_COMM_WORLD, mine, hidden, hardy_test_rank() == 0 ? 1 : 0, 0.1, &g);
  TEST_EQ_INT(rc, HARDY_ERR_INPUT);
  TEST_ASSERT(strstr(hardy_error_message(), "at least 2 training utterances") != NULL,
              "message: %s", hardy_error_message());
  /* a non-finite embedding on the last rank with rows is named on every rank */
  hardy_error_clear();
  float saved = e.z[2][(n - 1) * hidden + 1];
  e.z[2][(n - 1) * hidden + 1] = NAN;
  rc = hardy_gauss_mi_fit(MPI_COMM_WORLD, mine, hidden, end - first, 0.1, &g);
  TEST_EQ_INT(rc, HARDY_ERR_INPUT);
  TEST_ASSERT(strstr(hardy_error_message(), "v embedding of local row") != NULL, "message: %s",
              hardy_error_message());
  e.z[2][(n - 1) * hidden + 1] = saved;
  hardy_error_clear();
  free(ref);
  embed_free(&e);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  test_against_ref(8, 300, 1e-3);
  test_against_ref(40, 400, 1e-4);
  test_bivariate();
  test_not_pd();
  int status = hardy_test_finish("test_hardness_gauss");
  MPI_Finalize();
  return status;
}
