/* Sharded reads at 1..4 ranks: every selected dialogue is read by exactly one rank, in order;
 * each rank's utterance count is within one dialogue of the ideal; and every value of a shard
 * equals the same rows read serially from the file (exact float equality). Covers contiguous,
 * non-contiguous (train split, a fold) selections and a file with fewer dialogues than ranks. */
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "hardy/common.h"
#include "hardy/dataset.h"
#include "hardy/synth.h"

/* The whole file, read serially with the default (POSIX) driver. */
typedef struct {
  float *feat[HARDY_N_MOD];
  int32_t *label, *speaker;
  float *planted;
} serial_t;

static void *read_all(hid_t file, const char *h5path, hid_t type, size_t bytes) {
  void *buf = malloc(bytes);
  hid_t d = H5Dopen2(file, h5path, H5P_DEFAULT);
  herr_t err = H5Dread(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
  H5Dclose(d);
  TEST_ASSERT(err >= 0, "serial read of %s", h5path);
  return buf;
}

static void serial_read(const hardy_dataset_t *ds, serial_t *s) {
  hid_t file = H5Fopen(ds->path, H5F_ACC_RDONLY, H5P_DEFAULT);
  TEST_ASSERT(file >= 0, "serial open of %s", ds->path);
  size_t n = (size_t)ds->n_utt;
  for (int m = 0; m < HARDY_N_MOD; m++)
    s->feat[m] = read_all(file, hardy_dataset_feature_path(m), H5T_NATIVE_FLOAT,
                          n * (size_t)ds->dims[m] * sizeof(float));
  s->label = read_all(file, "/utterance/label", H5T_NATIVE_INT32, n * sizeof(int32_t));
  s->speaker = read_all(file, "/utterance/speaker", H5T_NATIVE_INT32, n * sizeof(int32_t));
  s->planted = read_all(file, "/utterance/planted_hardness", H5T_NATIVE_FLOAT, n * sizeof(float));
  H5Fclose(file);
}

static void serial_free(serial_t *s) {
  for (int m = 0; m < HARDY_N_MOD; m++) free(s->feat[m]);
  free(s->label);
  free(s->speaker);
  free(s->planted);
}

static int64_t max_len(const hardy_dataset_t *ds, const hardy_selection_t *sel) {
  int64_t mx = 0;
  for (int64_t i = 0; i < sel->n; i++)
    mx = HARDY_MAX(mx, ds->offset[sel->dialogue[i] + 1] - ds->offset[sel->dialogue[i]]);
  return mx;
}

static void check_selection(const hardy_dataset_t *ds, const serial_t *ref,
                            const hardy_selection_t *sel, const char *what) {
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  hardy_shard_t sh;
  int rc = hardy_dataset_read_shard(ds, sel, MPI_COMM_WORLD, HARDY_NONFINITE_ERROR, &sh);
  TEST_ASSERT(rc == HARDY_OK, "%s: read_shard: %s", what, hardy_error_message());
  if (rc != HARDY_OK) return;
  TEST_EQ_INT(sh.total_utt, sel->n_utt);
  TEST_EQ_INT(sh.total_dialogue, sel->n);

  /* Every selected dialogue exactly once, in selection order across ranks. */
  int n_local = (int)sh.n_dialogue, *counts = malloc((size_t)size * sizeof(int));
  int *displs = malloc((size_t)size * sizeof(int));
  MPI_Allgather(&n_local, 1, MPI_INT, counts, 1, MPI_INT, MPI_COMM_WORLD);
  int total = 0;
  for (int r = 0; r < size; r++) {
    displs[r] = total;
    total += counts[r];
  }
  TEST_EQ_INT(total, sel->n);
  int64_t *all = malloc((size_t)(total + 1) * sizeof(int64_t));
  MPI_Allgatherv(sh.dialogue_id, n_local, MPI_INT64_T, all, counts, displs, MPI_INT64_T,
                 MPI_COMM_WORLD);
  int order_ok = total == sel->n;
  for (int i = 0; order_ok && i < total; i++) order_ok = all[i] == sel->dialogue[i];
  TEST_ASSERT(order_ok, "%s: gathered dialogue ids differ from the selection", what);
  TEST_EQ_INT(sh.first_index, displs[rank]);

  /* Balance: within one (the longest) dialogue of the ideal share. */
  double ideal = (double)sel->n_utt / size;
  TEST_ASSERT(fabs((double)sh.n_utt - ideal) <= (double)max_len(ds, sel),
              "%s: rank %d holds %lld utterances, ideal %.1f, longest dialogue %lld", what, rank,
              (long long)sh.n_utt, ideal, (long long)max_len(ds, sel));

  /* Rows: ids follow the dialogues; every value equals the serial read. */
  int64_t mismatches = 0;
  for (int64_t i = 0; i < sh.n_dialogue; i++) {
    int64_t d = sh.dialogue_id[i];
    if (sh.dialogue_start[i + 1] - sh.dialogue_start[i] != ds->offset[d + 1] - ds->offset[d])
      mismatches++;
    for (int64_t k = sh.dialogue_start[i]; k < sh.dialogue_start[i + 1]; k++)
      if (sh.utt_id[k] != ds->offset[d] + (k - sh.dialogue_start[i])) mismatches++;
  }
  for (int64_t k = 0; k < sh.n_utt; k++) {
    int64_t u = sh.utt_id[k];
    for (int m = 0; m < HARDY_N_MOD; m++)
      for (int j = 0; j < ds->dims[m]; j++)
        mismatches += sh.feat[m][k * ds->dims[m] + j] != ref->feat[m][u * ds->dims[m] + j];
    mismatches += sh.label[k] != ref->label[u];
    mismatches += sh.speaker[k] != ref->speaker[u];
    mismatches += sh.planted[k] != ref->planted[u];
    for (int m = 0; m < HARDY_N_MOD; m++) mismatches += sh.present[k * HARDY_N_MOD + m] != 1;
  }
  TEST_ASSERT(mismatches == 0, "%s: %lld values differ from the serial read", what,
              (long long)mismatches);
  TEST_ASSERT(sh.target == NULL && sh.n_nonfinite == 0, "%s: classification shard", what);
  free(all);
  free(counts);
  free(displs);
  hardy_shard_free(&sh);
}

static void make_file(const char *path, int64_t n_utt, int shape) {
  hardy_synth_params_t p;
  hardy_synth_defaults(&p);
  snprintf(p.out, sizeof p.out, "%s", path);
  p.n_utt = n_utt;
  p.dims[0] = 8;
  p.dims[1] = 12;
  p.dims[2] = 10;
  p.shape = shape;
  p.chunk_rows = 256;
  int rc = hardy_synth_write(&p, MPI_COMM_WORLD);
  TEST_ASSERT(rc == HARDY_OK, "synth %s: %s", path, hardy_error_message());
}

static hardy_selection_t all_dialogues(const hardy_dataset_t *ds) {
  hardy_selection_t s = {ds->n_dialogue, malloc((size_t)ds->n_dialogue * sizeof(int64_t)),
                         ds->n_utt};
  for (int64_t d = 0; d < ds->n_dialogue; d++) s.dialogue[d] = d;
  return s;
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int size = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  char big[64], tiny[64];
  snprintf(big, sizeof big, "test_dataset_shard_np%d.h5", size);
  snprintf(tiny, sizeof tiny, "test_dataset_shard_tiny_np%d.h5", size);
  make_file(big, 2500, HARDY_SHAPE_IEMOCAP);
  make_file(tiny, 9, HARDY_SHAPE_MOSEI);

  hardy_dataset_t ds;
  int rc = hardy_dataset_open(&ds, big, MPI_COMM_WORLD);
  TEST_ASSERT(rc == HARDY_OK, "open: %s", hardy_error_message());
  if (rc == HARDY_OK) {
    serial_t ref;
    serial_read(&ds, &ref);
    hardy_selection_t every = all_dialogues(&ds);
    check_selection(&ds, &ref, &every, "all dialogues");
    free(every.dialogue);
    hardy_splits_t sp;
    TEST_ASSERT(hardy_dataset_select(&ds, HARDY_FOLD_NONE, 0.1, 1, &sp) == HARDY_OK, "select");
    TEST_ASSERT(sp.train.n + sp.val.n + sp.test.n == ds.n_dialogue, "file split covers all");
    check_selection(&ds, &ref, &sp.train, "train split (non-contiguous)");
    check_selection(&ds, &ref, &sp.test, "test split");
    hardy_splits_free(&sp);
    TEST_ASSERT(hardy_dataset_select(&ds, 3, 0.1, 1, &sp) == HARDY_OK, "select fold 3");
    check_selection(&ds, &ref, &sp.test, "fold 3 (every 5th dialogue)");
    check_selection(&ds, &ref, &sp.val, "held-out validation");
    hardy_splits_free(&sp);
    serial_free(&ref);
    hardy_dataset_close(&ds);
  }

  rc = hardy_dataset_open(&ds, tiny, MPI_COMM_WORLD);
  TEST_ASSERT(rc == HARDY_OK, "open tiny: %s", hardy_error_message());
  if (rc == HARDY_OK) {
    TEST_ASSERT(ds.n_dialogue <= 3, "tiny file has %lld dialogues", (long long)ds.n_dialogue);
    serial_t ref;
    serial_read(&ds, &ref);
    hardy_selection_t every = all_dialogues(&ds);
    check_selection(&ds, &ref, &every, "tiny file (ranks without dialogues)");
    free(every.dialogue);
    serial_free(&ref);
    hardy_dataset_close(&ds);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  if (hardy_test_rank() == 0) {
    remove(big);
    remove(tiny);
  }
  int status = hardy_test_finish("test_dataset_shard");
  MPI_Finalize();
  return status;
}
