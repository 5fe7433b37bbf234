/* Error agreement: one failing rank makes every rank return its status and message, without a
 * hang; the lowest failing rank's message wins. */
#include <string.h>

#include "harness.h"
#include "hardy/common.h"

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  TEST_EQ_INT(hardy_agree(HARDY_OK, MPI_COMM_WORLD), HARDY_OK);

  int bad = size - 1;
  int st = rank == bad ? hardy_fail(HARDY_ERR_INPUT, "file x.h5: row %d is bad", 42) : HARDY_OK;
  TEST_EQ_INT(hardy_agree(st, MPI_COMM_WORLD), HARDY_ERR_INPUT);
  TEST_ASSERT(strstr(hardy_error_message(), "file x.h5: row 42 is bad") != NULL, "msg: %s",
              hardy_error_message());
  if (size > 1) {
    char prefix[32];
    snprintf(prefix, sizeof prefix, "rank %d: ", bad);
    TEST_ASSERT(strncmp(hardy_error_message(), prefix, strlen(prefix)) == 0, "msg: %s",
                hardy_error_message());
  }
  hardy_error_clear();
  /* the most severe status wins: runtime (-3) over input (-2) */
  st = rank == 0 ? hardy_fail(HARDY_ERR_INPUT, "input") : HARDY_OK;
  if (rank == size - 1) st = hardy_fail(HARDY_ERR_RUNTIME, "runtime on last");
  TEST_EQ_INT(hardy_agree(st, MPI_COMM_WORLD), HARDY_ERR_RUNTIME);
  TEST_EQ_INT(hardy_exit_code(HARDY_ERR_RUNTIME), 3);
  TEST_EQ_INT(hardy_exit_code(HARDY_ERR_INPUT), 2);
  hardy_error_clear();
  int rc = hardy_test_finish("test_agree");
  MPI_Finalize();
  return rc;
}
