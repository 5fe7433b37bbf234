/* Distributed global ranking (hardy_dist_rank) against the serial qsort twin, at any rank count:
 * random scores, heavy ties, all-equal scores, empty ranks, fewer rows than ranks, a single
 * row, no rows; and the agreed errors for a duplicate id and a non-finite score. Every rank
 * builds the whole problem from Philox draws keyed by row, ranks its own shard, and compares
 * with the serial ranks of the same rows: the ranks must be identical (exact integers). */
#include <stdlib.h>
#include <string.h>

#include "hardy/common.h"
#include "hardy/dist.h"
#include "hardy/rng.h"
#include "harness.h"

typedef enum { SCORES_RANDOM, SCORES_TIES, SCORES_EQUAL } scores_t;
typedef enum { SPLIT_EVEN, SPLIT_SKEWED, SPLIT_LAST_ONLY, SPLIT_SECOND_EMPTY } split_t;

/* Rows [first, end) of this rank under a split pattern. */
static void shard(int64_t n, split_t split, int rank, int size, int64_t *first, int64_t *end) {
  int64_t b[65];
  for (int r = 0; r <= size; r++) {
    switch (split) {
    case SPLIT_EVEN: b[r] = n * r / size; break;
    case SPLIT_SKEWED: b[r] = n * r * r / ((int64_t)size * size); break; /* grows with rank */
    case SPLIT_LAST_ONLY: b[r] = r == size ? n : 0; break;
    case SPLIT_SECOND_EMPTY: /* rank 1 holds nothing, the others share evenly */
      b[r] = size == 1 ? n * r : n * (r == 0 ? 0 : r == 1 ? 1 : r - 1) / (size - 1);
      break;
    }
  }
  b[size] = n;
  *first = b[rank];
  *end = b[rank + 1];
}

static void make_rows(int64_t n, scores_t kind, double *score, int64_t *id) {
  uint64_t key = hardy_rng_key(17, HARDY_RNG_TEST_DATA);
  for (int64_t i = 0; i < n; i++) {
    double u = hardy_rng_uniform(key, 1, (uint64_t)i);
    score[i] = kind == SCORES_RANDOM ? u : kind == SCORES_TIES ? (double)(int)(u * 3) / 2 : 0.25;
    /* ids are unique but not in row order, so ties are broken by something other than the row */
    id[i] = ((i * 7919) % n) * 3 + 5;
  }
}

static void check_case(int64_t n, scores_t kind, split_t split, const char *label) {
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  size_t cap = (size_t)(n > 0 ? n : 1);
  double *score = malloc(cap * sizeof *score);
  int64_t *id = malloc(cap * sizeof *id), *ref = malloc(cap * sizeof *ref),
          *got = malloc(cap * sizeof *got);
  make_rows(n, kind, score, id);
  hardy_dist_rank_ref(score, id, n, ref);
  int64_t first = 0, end = 0, total = -1;
  shard(n, split, rank, size, &first, &end);
  int rc = hardy_dist_rank(MPI_COMM_WORLD, score + first, id + first, end - first, got, &total);
  TEST_ASSERT(rc == 0, "%s: status %d: %s", label, rc, hardy_error_message());
  TEST_EQ_INT(total, n);
  int64_t mismatch = 0;
  for (int64_t i = first; i < end; i++)
    mismatch += got[i - first] != ref[i];
  TEST_ASSERT(mismatch == 0, "%s: %lld of %lld ranks differ from the serial sort", label,
              (long long)mismatch, (long long)(end - first));
  /* The global ranks are a permutation of 0..n-1: their sum and sum of squares match. */
  double s[2] = {0, 0};
  for (int64_t i = first; i < end; i++) {
    s[0] += (double)got[i - first];
    s[1] += (double)got[i - first] * (double)got[i - first];
  }
  MPI_Allreduce(MPI_IN_PLACE, s, 2, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
  double nn = (double)n;
  TEST_NEAR(s[0], nn * (nn - 1) / 2, 0, 0);
  TEST_NEAR(s[1], (nn - 1) * nn * (2 * nn - 1) / 6, 0, 0);
  free(score);
  free(id);
  free(ref);
  free(got);
}

static void check_errors(void) {
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  /* Duplicate id 42 on the last rank and (at one rank) twice locally. */
  double score[2] = {0.5, 0.5};
  int64_t id[2] = {rank * 10 + 1, 42}, out[2];
  int64_t n_local = rank == size - 1 ? 2 : 1;
  if (size == 1)
    id[0] = 42;
  else if (rank == 0)
    id[0] = 42;
  hardy_error_clear();
  int rc = hardy_dist_rank(MPI_COMM_WORLD, score, id, n_local, out, NULL);
  TEST_EQ_INT(rc, HARDY_ERR_INPUT);
  TEST_ASSERT(strstr(hardy_error_message(), "utterance id 42 occurs twice") != NULL,
              "duplicate-id message: %s", hardy_error_message());
  /* A NaN score on the last rank: every rank gets the same message naming the id. */
  double bad[1] = {rank == size - 1 ? NAN : 1.0};
  int64_t one_id[1] = {1000 + rank};
  hardy_error_clear();
  rc = hardy_dist_rank(MPI_COMM_WORLD, bad, one_id, 1, out, NULL);
  TEST_EQ_INT(rc, HARDY_ERR_INPUT);
  char want[64];
  snprintf(want, sizeof want, "score of utterance %d is nan", 1000 + size - 1);
  TEST_ASSERT(strstr(hardy_error_message(), want) != NULL, "NaN message: %s",
              hardy_error_message());
  hardy_error_clear();
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  const scores_t kinds[] = {SCORES_RANDOM, SCORES_TIES, SCORES_EQUAL};
  const split_t splits[] = {SPLIT_EVEN, SPLIT_SKEWED, SPLIT_LAST_ONLY, SPLIT_SECOND_EMPTY};
  const char *kind_name[] = {"random", "ties", "equal"};
  const char *split_name[] = {"even", "skewed", "last-only", "second-empty"};
  const int64_t sizes[] = {1000, 37, 3, 2, 1, 0};
  for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++)
    for (int k = 0; k < 3; k++)
      for (int p = 0; p < 4; p++) {
        char label[96];
        snprintf(label, sizeof label, "n=%lld %s %s", (long long)sizes[s], kind_name[k],
                 split_name[p]);
        check_case(sizes[s], kinds[k], splits[p], label);
      }
  /* rank fractions: q = rank / (N - 1), 0 for a single row */
  TEST_NEAR(hardy_dist_rank_fraction(0, 1), 0.0, 0, 0);
  TEST_NEAR(hardy_dist_rank_fraction(3, 4), 1.0, 0, 0);
  TEST_NEAR(hardy_dist_rank_fraction(1, 5), 0.25, 0, 0);
  check_errors();
  int status = hardy_test_finish("test_rank");
  MPI_Finalize();
  return status;
}
