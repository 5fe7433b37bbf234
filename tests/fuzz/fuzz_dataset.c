/* Fuzz target: opening and validating a dataset file, the path `inspect` and `train` take
 * (hardy_dataset_open, then hardy_dataset_validate_rows over every row) on one rank. The
 * input is the file's bytes; the seeds are small valid files, so libFuzzer's mutations reach
 * HDF5 structures, attribute values, dataset shapes and row data alike. The structure check
 * runs first, as in `inspect` (a forked child per input, 5 s limit): files on which HDF5 itself
 * crashes or loops are rejected there, so what remains to find is ours. A rejected file is
 * fine; a crash or UB is a finding. */
#include "fuzz_common.h"
#include "hardy/config.h"
#include "hardy/dataset.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  setenv("HARDY_STRUCTURE_CHECK_SECONDS", "5", 0);
  hardy_dataset_set_structure_check(true);
  return fuzz_init();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (fuzz_write(data, size) != 0) return 0;
  hardy_dataset_t ds;
  if (hardy_dataset_open(&ds, fuzz_path, MPI_COMM_SELF) == HARDY_OK) {
    int64_t n_nonfinite = 0;
    if (ds.n_utt <= 1000000) /* a mutated size field must not make the run slow, only wrong */
      hardy_dataset_validate_rows(&ds, MPI_COMM_SELF, HARDY_NONFINITE_ZERO, &n_nonfinite);
    hardy_dataset_close(&ds);
  }
  hardy_error_clear();
  return 0;
}
