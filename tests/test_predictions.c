/* Predictions CSV at 1..3 ranks: every rank passes the outputs of its own test rows (read with
 * the real sharded reader); rank 0's file holds one row per test utterance in global-id order,
 * with the utterance's name, its label, the argmax of its probabilities (first of equal ones)
 * and the probabilities as given, the tercile words, and no FILE.tmp left behind. The values
 * are a function of the global id, so the file must be the same at every rank count. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "hardy/common.h"
#include "hardy/dataset.h"
#include "hardy/synth.h"
#include "hardy/train.h"

#define C 3

/* Probabilities of utterance id: a fixed pattern with ties for every 5th id. */
static void probs_of(int64_t id, float *p) {
  if (id % 5 == 0) {
    p[0] = 0.25f, p[1] = 0.375f, p[2] = 0.375f; /* tie: the first (class 1) wins */
    return;
  }
  p[id % C] = 0.5f;
  p[(id + 1) % C] = 0.25f;
  p[(id + 2) % C] = 0.25f;
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int size = 1, rank = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  char path[64], csv[64];
  snprintf(path, sizeof path, "test_predictions_np%d.h5", size);
  snprintf(csv, sizeof csv, "test_predictions_np%d.csv", size);
  hardy_synth_params_t p;
  hardy_synth_defaults(&p);
  snprintf(p.out, sizeof p.out, "%s", path);
  p.n_utt = 400;
  p.num_classes = C;
  p.dims[0] = 4, p.dims[1] = 4, p.dims[2] = 4;
  TEST_ASSERT(hardy_synth_write(&p, MPI_COMM_WORLD) == HARDY_OK, "synth: %s", hardy_error_message());
  hardy_dataset_t ds;
  TEST_ASSERT(hardy_dataset_open(&ds, path, MPI_COMM_WORLD) == HARDY_OK, "open");
  hardy_splits_t sp;
  TEST_ASSERT(hardy_dataset_select(&ds, HARDY_FOLD_NONE, 0.1, 1, &sp) == HARDY_OK, "select");
  hardy_shard_t sh;
  memset(&sh, 0, sizeof sh);
  TEST_ASSERT(hardy_dataset_read_shard(&ds, &sp.test, MPI_COMM_WORLD, HARDY_NONFINITE_ERROR, &sh) ==
                  HARDY_OK, "read shard");
  float *values = malloc((size_t)(sh.n_utt + 1) * C * sizeof(float));
  int8_t *tercile = malloc((size_t)(sh.n_utt + 1));
  for (int64_t i = 0; i < sh.n_utt; i++) {
    probs_of(sh.utt_id[i], values + i * C);
    tercile[i] = (int8_t)(sh.utt_id[i] % 4 - 1); /* -1 (none), 0, 1, 2 */
  }
  /* every test label by id, from the shards */
  int32_t *labels = malloc((size_t)ds.n_utt * sizeof(int32_t));
  for (int64_t i = 0; i < ds.n_utt; i++) labels[i] = -1;
  for (int64_t i = 0; i < sh.n_utt; i++) labels[sh.utt_id[i]] = sh.label[i];
  MPI_Allreduce(MPI_IN_PLACE, labels, (int)ds.n_utt, MPI_INT32_T, MPI_MAX, MPI_COMM_WORLD);
  TEST_ASSERT(hardy_train_write_predictions(csv, &ds, &sh, values, tercile, MPI_COMM_WORLD) == HARDY_OK,
              "write: %s", hardy_error_message());
  if (rank == 0) {
    char tmp[80];
    snprintf(tmp, sizeof tmp, "%s.tmp", csv);
    TEST_ASSERT(access(tmp, F_OK) != 0, "%s left behind", tmp);
    FILE *f = fopen(csv, "r");
    TEST_ASSERT(f != NULL, "no %s", csv);
    char line[512];
    TEST_ASSERT(fgets(line, sizeof line, f) != NULL, "header");
    char want_header[256];
    snprintf(want_header, sizeof want_header, "id,name,label,prediction,prob_%s,prob_%s,prob_%s,"
             "hardness_tercile\n", ds.class_names[0], ds.class_names[1], ds.class_names[2]);
    TEST_ASSERT(!strcmp(line, want_header), "header '%s', expected '%s'", line, want_header);
    int64_t n_rows = 0, prev = -1;
    static const char *TERCILE[4] = {"", "easy", "medium", "hard"};
    while (fgets(line, sizeof line, f)) {
      long long id;
      char name[64], terc[16] = "";
      int label, pred;
      float pr[C];
      int got = sscanf(line, "%lld,%63[^,],%d,%d,%g,%g,%g,%15[a-z]", &id, name, &label, &pred,
                       &pr[0], &pr[1], &pr[2], terc);
      TEST_ASSERT(got >= 7, "row '%s'", line);
      TEST_ASSERT(id > prev, "ids not ascending: %lld after %lld", id, (long long)prev);
      prev = id;
      char want_name[64];
      snprintf(want_name, sizeof want_name, "utt_%lld", id);
      TEST_ASSERT(!strcmp(name, want_name), "name %s for id %lld", name, id);
      float want[C];
      probs_of(id, want);
      for (int k = 0; k < C; k++) TEST_NEAR(pr[k], want[k], 0, 0);
      int best = 0;
      for (int k = 1; k < C; k++)
        if (want[k] > want[best]) best = k;
      TEST_EQ_INT(pred, best);
      TEST_ASSERT(!strcmp(terc, TERCILE[id % 4]), "tercile '%s' for id %lld", terc, id);
      TEST_ASSERT(label >= 0 && label == labels[id], "label %d for id %lld, file %d", label, id,
                  labels[id]);
      n_rows++;
    }
    fclose(f);
    TEST_EQ_INT(n_rows, sh.total_utt);
    int64_t expect = 0;
    for (int64_t k = 0; k < sp.test.n; k++)
      expect += ds.offset[sp.test.dialogue[k] + 1] - ds.offset[sp.test.dialogue[k]];
    TEST_EQ_INT(n_rows, expect);
  }
  free(values), free(tercile), free(labels);
  hardy_shard_free(&sh);
  hardy_splits_free(&sp);
  hardy_dataset_close(&ds);
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank == 0) remove(path), remove(csv);
  int status = hardy_test_finish("test_predictions");
  MPI_Finalize();
  return status;
}
