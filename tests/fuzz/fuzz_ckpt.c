/* Fuzz target: the checkpoint loader (hardy_ckpt_open: layout, attributes, checksums, the
 * tensor index; then hardy_ckpt_read_model) on one rank. The input is the
 * file's bytes; the seeds are small valid checkpoints. A refused file is fine; a crash, leak
 * or UB is a finding. */
#include <string.h>

#include "fuzz_common.h"
#include "hardy/checkpoint.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) { return fuzz_init(); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (fuzz_write(data, size) != 0) return 0;
  hardy_ckpt_info_t info;
  if (hardy_ckpt_open(fuzz_path, &info, MPI_COMM_SELF) == HARDY_OK) {
    size_t n = info.n_params;
    if (n <= (1u << 22)) {
      float *a = malloc(4 * (n ? n : 1) * sizeof(float));
      if (a)
        hardy_ckpt_read_model(fuzz_path, &info, a, a + n, a + 2 * n,
                              info.has_best_params ? a + 3 * n : NULL, MPI_COMM_SELF);
      free(a);
    }
    hardy_ckpt_info_free(&info);
  }
  hardy_error_clear();
  return 0;
}
