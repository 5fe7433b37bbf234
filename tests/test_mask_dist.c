/* Masks of the training shard at 1..3 ranks: each rank draws the masks of its own rows (read
 * with the real sharded reader), the union over ranks equals the masks drawn for the whole
 * training selection by one process, bit for bit, for every rate and epoch; every utterance
 * keeps a modality; and the realised missing share of the training set is within +-0.01 of
 * the rate (2/3 at 0.7, GCNet's single-modality regime). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "hardy/common.h"
#include "hardy/dataset.h"
#include "hardy/mask.h"
#include "hardy/synth.h"

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int size = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  char path[64];
  snprintf(path, sizeof path, "test_mask_dist_np%d.h5", size);
  hardy_synth_params_t p;
  hardy_synth_defaults(&p);
  snprintf(p.out, sizeof p.out, "%s", path);
  p.n_utt = 3000;
  p.dims[0] = 4, p.dims[1] = 4, p.dims[2] = 4;
  TEST_ASSERT(hardy_synth_write(&p, MPI_COMM_WORLD) == HARDY_OK, "synth: %s", hardy_error_message());
  hardy_dataset_t ds;
  TEST_ASSERT(hardy_dataset_open(&ds, path, MPI_COMM_WORLD) == HARDY_OK, "open: %s",
              hardy_error_message());
  hardy_splits_t sp;
  TEST_ASSERT(hardy_dataset_select(&ds, HARDY_FOLD_NONE, 0.1, 1, &sp) == HARDY_OK, "select");
  hardy_shard_t sh;
  memset(&sh, 0, sizeof sh);
  TEST_ASSERT(hardy_dataset_read_shard(&ds, &sp.train, MPI_COMM_WORLD, HARDY_NONFINITE_ERROR, &sh) ==
                  HARDY_OK, "read shard: %s", hardy_error_message());
  uint8_t *mine = calloc((size_t)ds.n_utt, 1), *serial = calloc((size_t)ds.n_utt, 1);
  const double rates[4] = {0.1, 0.3, 0.5, 0.7};
  for (int ri = 0; ri < 4; ri++)
    for (uint64_t epoch = 0; epoch < 4; epoch += 3) {
      hardy_missing_t miss = {0, rates[ri]};
      memset(mine, 0, (size_t)ds.n_utt);
      for (int64_t i = 0; i < sh.n_utt; i++)
        mine[sh.utt_id[i]] = hardy_mask_train(5, miss, epoch, sh.utt_id[i], 7);
      MPI_Allreduce(MPI_IN_PLACE, mine, (int)ds.n_utt, MPI_UINT8_T, MPI_BOR, MPI_COMM_WORLD);
      memset(serial, 0, (size_t)ds.n_utt);
      int64_t cells = 0, missing = 0, empty = 0;
      for (int64_t k = 0; k < sp.train.n; k++) {
        int64_t d = sp.train.dialogue[k];
        for (int64_t id = ds.offset[d]; id < ds.offset[d + 1]; id++) {
          uint8_t m = hardy_mask_train(5, miss, epoch, id, 7);
          serial[id] = m;
          empty += m == 0;
          missing += 3 - ((m & 1) + ((m >> 1) & 1) + ((m >> 2) & 1));
          cells += 3;
        }
      }
      TEST_ASSERT(memcmp(mine, serial, (size_t)ds.n_utt) == 0,
                  "rate %.1f epoch %d: the shards' masks differ from one process's", rates[ri],
                  (int)epoch);
      TEST_EQ_INT(empty, 0);
      double want = rates[ri] > 2.0 / 3.0 ? 2.0 / 3.0 : rates[ri];
      TEST_NEAR((double)missing / (double)cells, want, 0.01, 0);
      if (hardy_test_rank() == 0)
        printf("rate %.1f epoch %d: %lld training utterances, realised missing share %.4f\n",
               rates[ri], (int)epoch, (long long)(cells / 3), (double)missing / (double)cells);
    }
  free(mine), free(serial);
  hardy_shard_free(&sh);
  hardy_splits_free(&sp);
  hardy_dataset_close(&ds);
  MPI_Barrier(MPI_COMM_WORLD);
  if (hardy_test_rank() == 0) remove(path);
  int status = hardy_test_finish("test_mask_dist");
  MPI_Finalize();
  return status;
}
