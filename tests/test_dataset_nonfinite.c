/* Non-finite features at 1..3 ranks: with the default policy the whole-file scan and a shard
 * read both fail with a message naming the first bad row and column; with
 * HARDY_NONFINITE_ZERO both succeed, count exactly the injected values (globally), and the
 * shard holds zeros in their place. */
#include <hdf5.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "hardy/common.h"
#include "hardy/dataset.h"
#include "hardy/synth.h"

typedef struct {
  int mod;
  int64_t row, col;
  float value;
} bad_value_t;

static void inject(const char *path, const bad_value_t *bad, int n) {
  hid_t file = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
  TEST_ASSERT(file >= 0, "reopen %s", path);
  for (int i = 0; i < n; i++) {
    hid_t d = H5Dopen2(file, hardy_dataset_feature_path(bad[i].mod), H5P_DEFAULT);
    hid_t fs = H5Dget_space(d);
    hsize_t start[2] = {(hsize_t)bad[i].row, (hsize_t)bad[i].col}, count[2] = {1, 1};
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
    hid_t ms = H5Screate_simple(2, count, NULL);
    TEST_ASSERT(H5Dwrite(d, H5T_NATIVE_FLOAT, ms, fs, H5P_DEFAULT, &bad[i].value) >= 0, "inject");
    H5Sclose(ms);
    H5Sclose(fs);
    H5Dclose(d);
  }
  H5Fclose(file);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int size = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  char path[64];
  snprintf(path, sizeof path, "test_dataset_nonfinite_np%d.h5", size);
  hardy_synth_params_t p;
  hardy_synth_defaults(&p);
  snprintf(p.out, sizeof p.out, "%s", path);
  p.n_utt = 2000;
  p.dims[0] = 8;
  p.dims[1] = 12;
  p.dims[2] = 10;
  p.chunk_rows = 300;
  TEST_EQ_INT(hardy_synth_write(&p, MPI_COMM_WORLD), HARDY_OK);
  const bad_value_t bad[] = {
      {1, 700, 0, INFINITY}, {0, 5, 2, NAN}, {1, 700, 11, -INFINITY}, {2, 1999, 9, NAN},
  };
  const int n_bad = (int)(sizeof bad / sizeof bad[0]);
  if (hardy_test_rank() == 0) inject(path, bad, n_bad);
  MPI_Barrier(MPI_COMM_WORLD);

  hardy_dataset_t ds;
  TEST_EQ_INT(hardy_dataset_open(&ds, path, MPI_COMM_WORLD), HARDY_OK);
  int64_t count = -1;
  hardy_error_clear();
  TEST_EQ_INT(hardy_dataset_validate_rows(&ds, MPI_COMM_WORLD, HARDY_NONFINITE_ERROR, &count),
              HARDY_ERR_INPUT);
  TEST_ASSERT(strstr(hardy_error_message(), "/features/audio[5, 2] = nan (row 5, column 2)"),
              "scan names the first bad value: %s", hardy_error_message());
  hardy_error_clear();
  TEST_EQ_INT(hardy_dataset_validate_rows(&ds, MPI_COMM_WORLD, HARDY_NONFINITE_ZERO, &count),
              HARDY_OK);
  TEST_EQ_INT(count, n_bad);

  hardy_selection_t all = {ds.n_dialogue, malloc((size_t)ds.n_dialogue * sizeof(int64_t)),
                           ds.n_utt};
  for (int64_t d = 0; d < ds.n_dialogue; d++) all.dialogue[d] = d;
  hardy_shard_t sh;
  hardy_error_clear();
  TEST_EQ_INT(hardy_dataset_read_shard(&ds, &all, MPI_COMM_WORLD, HARDY_NONFINITE_ERROR, &sh),
              HARDY_ERR_INPUT);
  TEST_ASSERT(strstr(hardy_error_message(), "/features/audio[5, 2] = nan"),
              "shard read names the bad value: %s", hardy_error_message());
  hardy_error_clear();
  TEST_EQ_INT(hardy_dataset_read_shard(&ds, &all, MPI_COMM_WORLD, HARDY_NONFINITE_ZERO, &sh),
              HARDY_OK);
  TEST_EQ_INT(sh.n_nonfinite, n_bad);
  int zeroed = 0;
  for (int64_t k = 0; k < sh.n_utt; k++)
    for (int i = 0; i < n_bad; i++)
      if (sh.utt_id[k] == bad[i].row)
        zeroed += sh.feat[bad[i].mod][k * ds.dims[bad[i].mod] + bad[i].col] == 0.0f;
  MPI_Allreduce(MPI_IN_PLACE, &zeroed, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  TEST_EQ_INT(zeroed, n_bad);
  hardy_shard_free(&sh);
  free(all.dialogue);
  hardy_dataset_close(&ds);
  MPI_Barrier(MPI_COMM_WORLD);
  if (hardy_test_rank() == 0) remove(path);
  int status = hardy_test_finish("test_dataset_nonfinite");
  MPI_Finalize();
  return status;
}
