/* Local hardness pieces against hand computation (direct hardness, softmax entropies, the pair
 * rule under masks, normalisation and the combined score), and rank-count invariance of the
 * collective combination + ranking: the scores of a Philox-generated training set split over
 * the ranks equal the single-process result on all rows exactly (min and max are exact, so
 * the normalised values are bitwise the same). */
#include <stdlib.h>
#include <string.h>

#include "hardy/common.h"
#include "hardy/hardness.h"
#include "hardy/rng.h"
#include "harness.h"

static double sigmoid(double x) {
  return 1.0 / (1.0 + exp(-x));
}

static void test_direct(void) {
  const int dims[3] = {2, 1, 3};
  /* x_hat rows: [a0 a1 | t0 | v0 v1 v2] */
  const float x_hat[3 * 6] = {5, 5, 5, 5, 5, 5, /**/ 9, 9, 2, 1, 1, 1, /**/ 1, 2, 7, 7, 7, 7};
  const float xa[3 * 2] = {0, 0, 0, 0, 0, 0}, xt[3] = {0, 0, 0},
                     xv[3 * 3] = {0, 0, 0, 0, 1, 3, 0, 0, 0};
  const float *x[3] = {xa, xt, xv};
  const uint8_t avail[3] = {HARDY_MOD_ALL, HARDY_MOD_A, HARDY_MOD_T | HARDY_MOD_V};
  double e[3];
  TEST_EQ_INT(hardy_hardness_direct(x_hat, x, dims, avail, 3, e), 0);
  TEST_NEAR(e[0], 0.0, 0, 0); /* nothing missing */
  /* row 1 misses t and v: t (2-0)^2/1 = 4, v ((1-0)^2 + 0 + (1-3)^2)/3 = 5/3; mean 17/6 */
  TEST_NEAR(e[1], 17.0 / 6.0, 1e-12, 0);
  /* row 2 misses a: ((1-0)^2 + (2-0)^2)/2 = 2.5 */
  TEST_NEAR(e[2], 2.5, 1e-12, 0);
  const uint8_t bad[1] = {9};
  TEST_EQ_INT(hardy_hardness_direct(x_hat, x, dims, bad, 1, e), HARDY_ERR_INPUT);
  hardy_error_clear();
}

static void test_entropy(void) {
  const double log2 = log(2.0), h3 = -(0.25 * log(0.25) + 0.75 * log(0.75));
  const float za[2] = {0, 0}, zt[2] = {0, (float)log(3.0)}, zv[2] = {1000, 1000};
  const float jat[2] = {5, 5}, jav[2] = {0, (float)log(3.0)}, jtv[2] = {-1000, 0};
  TEST_NEAR(hardy_hardness_softmax_entropy(za, 2), log2, 1e-12, 0);
  TEST_NEAR(hardy_hardness_softmax_entropy(zt, 2), h3, 1e-7, 0);    /* log 3 rounded to float */
  TEST_NEAR(hardy_hardness_softmax_entropy(zv, 2), log2, 1e-12, 0); /* no overflow */
  TEST_NEAR(hardy_hardness_softmax_entropy(jtv, 2), 0.0, 1e-12, 0); /* p = (e^-1000, 1) */
  const float *z[3] = {za, zt, zv}, *pair[3] = {jat, jav, jtv};
  double pmi[3];
  TEST_EQ_INT(hardy_hardness_entropy_pairs(z, pair, 2, 1, pmi), 0);
  TEST_NEAR(pmi[0], log2 + h3 - log2, 1e-7, 0); /* (a,t) */
  TEST_NEAR(pmi[1], log2 + log2 - h3, 1e-7, 0); /* (a,v) */
  TEST_NEAR(pmi[2], h3 + log2 - 0.0, 1e-7, 0);  /* (t,v) */

  /* The pair rule: (present, missing) pairs, or all pairs when nothing is missing. */
  const double v[3] = {1.0, 10.0, 100.0}; /* (a,t), (a,v), (t,v) */
  const struct {
    uint8_t mask;
    double sum;
  } rule[] = {
      {HARDY_MOD_ALL, 111},
      {HARDY_MOD_A, 11},
      {HARDY_MOD_T, 101},
      {HARDY_MOD_V, 110},
      {HARDY_MOD_A | HARDY_MOD_T, 110},
      {HARDY_MOD_A | HARDY_MOD_V, 101},
      {HARDY_MOD_T | HARDY_MOD_V, 11},
      {0, 0},
  };
  for (size_t r = 0; r < sizeof rule / sizeof *rule; r++) {
    double mi = -1;
    TEST_EQ_INT(hardy_hardness_pair_sum(v, &rule[r].mask, 1, &mi), 0);
    TEST_ASSERT(mi == rule[r].sum, "mask %u: sum %g, expected %g", rule[r].mask, mi, rule[r].sum);
  }
}

static hardy_hardness_params_t default_params(void) {
  hardy_hardness_params_t p = {
      HARDY_MI_ENTROPY, HARDY_MI_LOW_IS_HARD, 4.0, 0.6, 0.4, 1e-4, true, true};
  return p;
}

static void test_combine_by_hand(void) {
  hardy_hardness_t h;
  TEST_EQ_INT(hardy_hardness_alloc(&h, 4), 0);
  const double direct[4] = {0, 1, 2, 4}, mi[4] = {1, 3, 2, 1};
  for (int i = 0; i < 4; i++) {
    h.id[i] = 10 + i;
    h.direct[i] = direct[i];
    h.mi[i] = mi[i];
  }
  hardy_hardness_params_t p = default_params();
  TEST_EQ_INT(hardy_hardness_combine(MPI_COMM_SELF, &p, &h), 0);
  /* low_is_hard: indirect = -mi = {-1,-3,-2,-1}, in [-3,-1] -> {1, 0, 0.5, 1} */
  const double dn[4] = {0, 0.25, 0.5, 1}, mn[4] = {1, 0, 0.5, 1};
  for (int i = 0; i < 4; i++) {
    TEST_NEAR(h.indirect[i], -mi[i], 0, 0);
    TEST_NEAR(h.direct_norm[i], dn[i], 1e-15, 0);
    TEST_NEAR(h.indirect_norm[i], mn[i], 1e-15, 0);
    TEST_NEAR(h.score[i], sigmoid(4.0 * (0.6 * dn[i] + 0.4 * mn[i])), 1e-15, 0);
  }
  TEST_EQ_INT(hardy_hardness_rank(MPI_COMM_SELF, &h), 0);
  /* scores ascending: row 1 (0.15), row 0 (0.4), row 2 (0.5), row 3 (1.0) */
  const int64_t want_rank[4] = {1, 0, 2, 3};
  for (int i = 0; i < 4; i++) {
    TEST_EQ_INT(h.rank[i], want_rank[i]);
    TEST_NEAR(h.q[i], want_rank[i] / 3.0, 1e-15, 0);
  }
  /* high_is_hard, direct view off, constant direct column: only +mi matters, no 0/0 */
  p.mi_sign = HARDY_MI_HIGH_IS_HARD;
  p.use_direct = false;
  for (int i = 0; i < 4; i++)
    h.direct[i] = 7.0;
  TEST_EQ_INT(hardy_hardness_combine(MPI_COMM_SELF, &p, &h), 0);
  const double mn_high[4] = {0, 1, 0.5, 0};
  for (int i = 0; i < 4; i++) {
    TEST_NEAR(h.direct_norm[i], 0.0, 0, 0);
    TEST_NEAR(h.indirect_norm[i], mn_high[i], 1e-15, 0);
    TEST_NEAR(h.score[i], sigmoid(4.0 * 0.4 * mn_high[i]), 1e-15, 0);
  }
  /* a non-finite raw value is an input error naming the utterance */
  h.mi[2] = NAN;
  TEST_EQ_INT(hardy_hardness_combine(MPI_COMM_SELF, &p, &h), HARDY_ERR_INPUT);
  TEST_ASSERT(strstr(hardy_error_message(), "utterance 12") != NULL, "message: %s",
              hardy_error_message());
  hardy_error_clear();
  hardy_hardness_free(&h);
}

/* Rows [0, n) with heavy ties in mi (so ranks rely on the id tie-break) and ids out of order. */
static void fill_rows(hardy_hardness_t *h, int64_t first, int64_t n_total) {
  uint64_t key = hardy_rng_key(5, HARDY_RNG_TEST_DATA);
  for (int64_t i = 0; i < h->n; i++) {
    int64_t g = first + i;
    h->id[i] = (g * 37) % n_total + 1000;
    h->direct[i] = hardy_rng_uniform(key, 1, (uint64_t)g);
    h->mi[i] = (double)(int)(4 * hardy_rng_uniform(key, 2, (uint64_t)g));
    if (g % 5 == 0)
      h->direct[i] = 0.0; /* complete utterances */
  }
}

static void test_rank_count_invariance(void) {
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  const int64_t n_total = 101;
  hardy_hardness_params_t p = default_params();
  hardy_hardness_t all, mine;
  TEST_EQ_INT(hardy_hardness_alloc(&all, n_total), 0);
  fill_rows(&all, 0, n_total);
  TEST_EQ_INT(hardy_hardness_combine(MPI_COMM_SELF, &p, &all), 0);
  TEST_EQ_INT(hardy_hardness_rank(MPI_COMM_SELF, &all), 0);
  /* uneven shards; the last rank of 2+ holds nothing */
  int parts = size > 1 ? size - 1 : 1;
  int64_t first = rank < parts ? n_total * rank / parts : n_total;
  int64_t end = rank < parts ? n_total * (rank + 1) / parts : n_total;
  TEST_EQ_INT(hardy_hardness_alloc(&mine, end - first), 0);
  fill_rows(&mine, first, n_total);
  TEST_EQ_INT(hardy_hardness_combine(MPI_COMM_WORLD, &p, &mine), 0);
  TEST_EQ_INT(hardy_hardness_rank(MPI_COMM_WORLD, &mine), 0);
  TEST_EQ_INT(mine.n_total, n_total);
  int64_t differ = 0;
  for (int64_t i = 0; i < mine.n; i++) {
    const int64_t g = first + i;
    differ += mine.score[i] != all.score[g] || mine.direct_norm[i] != all.direct_norm[g] ||
              mine.indirect_norm[i] != all.indirect_norm[g] || mine.rank[i] != all.rank[g] ||
              mine.q[i] != all.q[g];
  }
  TEST_ASSERT(differ == 0, "%lld rows differ from the single-process result", (long long)differ);
  hardy_hardness_free(&all);
  hardy_hardness_free(&mine);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  test_direct();
  test_entropy();
  test_combine_by_hand();
  test_rank_count_invariance();
  int status = hardy_test_finish("test_hardness");
  MPI_Finalize();
  return status;
}
