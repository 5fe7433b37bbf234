/* hardness.h5 writer: builds a training set's hardness from Philox draws keyed by global row
 * (so every rank count produces the same rows), splits it unevenly over the ranks (the last
 * rank of 3+ holds nothing), combines, ranks and writes argv[1]. Checks here: the write
 * succeeds, no .tmp file is left, and a missing output directory is an agreed error naming
 * the path. The file's contents are checked with h5py by tests/hardness/test_hardness_h5.sh. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hardy/common.h"
#include "hardy/hardness.h"
#include "hardy/rng.h"
#include "harness.h"

enum { N_TOTAL = 23 };

static void fill(hardy_hardness_t *h, int64_t first) {
  uint64_t key = hardy_rng_key(9, HARDY_RNG_TEST_DATA);
  for (int64_t i = 0; i < h->n; i++) {
    uint64_t g = (uint64_t)(first + i);
    h->id[i] = 100 + 2 * (int64_t)g;
    h->mask[i] = (uint8_t)(1 + hardy_rng_below(key, 1, g, 7)); /* 1..7 */
    h->direct[i] = h->mask[i] == HARDY_MOD_ALL ? 0.0 : hardy_rng_uniform(key, 2, g);
    h->mi[i] = (double)hardy_rng_below(key, 3, g, 3); /* heavy ties */
  }
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  const char *path = argc > 1 ? argv[1] : "test_hardness_io.h5";
  int parts = size >= 3 ? size - 1 : size;
  int64_t first = rank < parts ? (int64_t)N_TOTAL * rank / parts : N_TOTAL;
  int64_t end = rank < parts ? (int64_t)N_TOTAL * (rank + 1) / parts : N_TOTAL;

  hardy_hardness_t h;
  TEST_EQ_INT(hardy_hardness_alloc(&h, end - first), 0);
  fill(&h, first);
  hardy_hardness_meta_t meta = {
      .params = {HARDY_MI_GAUSSIAN, HARDY_MI_LOW_IS_HARD, 4.0, 0.6, 0.4, 1e-4, true, true},
      .missing = {HARDY_MOD_A | HARDY_MOD_T, -1.0},
  };
  TEST_EQ_INT(hardy_hardness_combine(MPI_COMM_WORLD, &meta.params, &h), 0);
  TEST_EQ_INT(hardy_hardness_rank(MPI_COMM_WORLD, &h), 0);
  int rc = hardy_hardness_write(MPI_COMM_WORLD, path, &h, &meta);
  TEST_ASSERT(rc == 0, "write %s: %s", path, hardy_error_message());
  char tmp[4200];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  TEST_ASSERT(access(path, F_OK) == 0, "%s missing after the write", path);
  TEST_ASSERT(access(tmp, F_OK) != 0, "%s left behind", tmp);

  /* a rate run stores `rate` instead of `condition`; an absent directory is an agreed error */
  hardy_error_clear();
  meta.missing = (hardy_missing_t){0, 0.3};
  rc = hardy_hardness_write(MPI_COMM_WORLD, "/nonexistent-dir/hardness.h5", &h, &meta);
  TEST_EQ_INT(rc, HARDY_ERR_RUNTIME);
  TEST_ASSERT(strstr(hardy_error_message(), "/nonexistent-dir/hardness.h5.tmp") != NULL,
              "message: %s", hardy_error_message());
  hardy_error_clear();
  hardy_hardness_free(&h);
  if (argc <= 1 && rank == 0)
    unlink(path); /* standalone run: leave nothing behind */
  int status = hardy_test_finish("test_hardness_io");
  MPI_Finalize();
  return status;
}
