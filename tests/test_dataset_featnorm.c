/* Feature standardisation statistics at 1..4 ranks (dataset_stats.c): on a raw-valued file
 * (synthetic features x 100 + 50, one constant dimension, text and audio absent on some rows
 * whose stored values are junk) the training split's per-dimension mean and std equal a serial
 * two-pass reference in long double within relative 1e-12 (so any two rank counts agree within
 * 2e-12), validation/test and absent rows are excluded, every rank holds bit-identical values,
 * the constant dimension gets scale 1, applying them gives (x - mean) / scale on present rows
 * and leaves absent rows as stored, L2-normalised text is standardised after normalisation,
 * and the JSON form stored in checkpoints reads back bit for bit. */
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hardy/common.h"
#include "hardy/dataset.h"
#include "hardy/synth.h"
#include "harness.h"

#define JUNK 1.0e6f /* stored on absent rows: would dominate any statistic that saw it */
#define CONST_DIM 3 /* a visual dimension set to one value everywhere */
#define CONST_VALUE 7.25f

static bool absent(int64_t row, int m) {
  return (m == 1 && row % 5 == 0) || (m == 0 && row % 7 == 3);
}

/* Rank 0, serially: mark absent rows in /utterance/present, write junk there, and make one
 * visual dimension constant. */
static void doctor_file(const char *path, const int dims[3], int64_t n) {
  hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
  TEST_ASSERT(f >= 0, "open %s for writing", path);
  uint8_t *present = malloc((size_t)n * 3);
  for (int64_t i = 0; i < n; i++)
    for (int m = 0; m < 3; m++)
      present[i * 3 + m] = absent(i, m) ? 0 : 1;
  hsize_t pd[2] = {(hsize_t)n, 3};
  hid_t sp = H5Screate_simple(2, pd, NULL);
  hid_t d =
      H5Dcreate2(f, "/utterance/present", H5T_STD_U8LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  TEST_ASSERT(H5Dwrite(d, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, present) >= 0,
              "present");
  H5Dclose(d), H5Sclose(sp);
  for (int m = 0; m < 3; m++) {
    float *x = malloc((size_t)n * (size_t)dims[m] * sizeof(float));
    d = H5Dopen2(f, hardy_dataset_feature_path(m), H5P_DEFAULT);
    TEST_ASSERT(H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, x) >= 0, "read");
    for (int64_t i = 0; i < n; i++) {
      if (m == 2)
        x[i * dims[m] + CONST_DIM] = CONST_VALUE;
      if (!present[i * 3 + m])
        for (int j = 0; j < dims[m]; j++)
          x[i * dims[m] + j] = JUNK;
    }
    TEST_ASSERT(H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, x) >= 0, "write");
    H5Dclose(d);
    free(x);
  }
  free(present);
  H5Fclose(f);
}

static float *read_feat(const char *path, int m, int64_t n, int dim) {
  float *x = malloc((size_t)n * (size_t)dim * sizeof(float));
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  hid_t d = H5Dopen2(f, hardy_dataset_feature_path(m), H5P_DEFAULT);
  TEST_ASSERT(H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, x) >= 0, "serial read");
  H5Dclose(d);
  H5Fclose(f);
  return x;
}

/* The row as the statistics see it: the text row L2-normalised in double when asked. */
static void model_row(const float *x, int dim, bool l2, float *out) {
  memcpy(out, x, (size_t)dim * sizeof(float));
  if (!l2)
    return;
  double ss = 0;
  for (int j = 0; j < dim; j++)
    ss += (double)out[j] * out[j];
  if (ss > 0)
    for (int j = 0; j < dim; j++)
      out[j] = (float)(out[j] / sqrt(ss));
}

/* Serial two-pass reference over the training split's present rows, in long double. */
static void check_against_reference(const hardy_dataset_t *ds, const hardy_selection_t *train,
                                    const hardy_featnorm_t *fn, float *const raw[3], bool l2) {
  for (int m = 0; m < 3; m++) {
    int dim = ds->dims[m];
    long double *mean = malloc((size_t)dim * sizeof(long double));
    long double *std = malloc((size_t)dim * sizeof(long double));
    int64_t count = 0;
    /* pass 1 */
    float *row = malloc((size_t)dim * sizeof(float));
    for (int j = 0; j < dim; j++)
      mean[j] = std[j] = 0;
    for (int64_t k = 0; k < train->n; k++)
      for (int64_t i = ds->offset[train->dialogue[k]]; i < ds->offset[train->dialogue[k] + 1];
           i++) {
        if (absent(i, m))
          continue;
        model_row(raw[m] + i * dim, dim, l2 && m == 1, row);
        count++;
        for (int j = 0; j < dim; j++)
          mean[j] += row[j];
      }
    for (int j = 0; j < dim; j++)
      mean[j] /= (long double)count;
    for (int64_t k = 0; k < train->n; k++)
      for (int64_t i = ds->offset[train->dialogue[k]]; i < ds->offset[train->dialogue[k] + 1];
           i++) {
        if (absent(i, m))
          continue;
        model_row(raw[m] + i * dim, dim, l2 && m == 1, row);
        for (int j = 0; j < dim; j++)
          std[j] += (row[j] - mean[j]) * (row[j] - mean[j]);
      }
    TEST_EQ_INT(fn->count[m], count);
    for (int j = 0; j < dim; j++) {
      double sd = (double)sqrtl(std[j] / (long double)count);
      double mu = (double)mean[j];
      /* the mean relative to its own size or the dimension's spread, whichever is larger */
      TEST_NEAR(fn->mean[m][j], mu, 1e-12 * fmax(fabs(mu), sd), 0.0);
      TEST_NEAR(fn->std[m][j], sd, 1e-300, 1e-12);
    }
    free(row), free(mean), free(std);
  }
}

/* Every rank holds rank 0's statistics bit for bit. */
static void check_identical(const hardy_featnorm_t *fn) {
  for (int m = 0; m < 3; m++) {
    int dim = fn->dims[m];
    double *r0 = malloc(2 * (size_t)dim * sizeof(double));
    memcpy(r0, fn->mean[m], (size_t)dim * sizeof(double));
    memcpy(r0 + dim, fn->std[m], (size_t)dim * sizeof(double));
    MPI_Bcast(r0, 2 * dim, MPI_DOUBLE, 0, MPI_COMM_WORLD);
    TEST_ASSERT(!memcmp(r0, fn->mean[m], (size_t)dim * sizeof(double)) &&
                    !memcmp(r0 + dim, fn->std[m], (size_t)dim * sizeof(double)),
                "%s statistics differ from rank 0's", hardy_dataset_modality_name(m));
    free(r0);
  }
}

static void check_apply(const hardy_featnorm_t *fn, const hardy_shard_t *before,
                        const hardy_shard_t *after, bool l2) {
  for (int m = 0; m < 3; m++) {
    int dim = before->dims[m];
    float *row = malloc((size_t)dim * sizeof(float));
    int64_t bad = 0;
    for (int64_t i = 0; i < before->n_utt; i++) {
      const float *x = before->feat[m] + i * dim, *y = after->feat[m] + i * dim;
      if (absent(before->utt_id[i], m)) {
        for (int j = 0; j < dim; j++)
          bad += y[j] != JUNK;
        continue;
      }
      model_row(x, dim, l2 && m == 1, row);
      for (int j = 0; j < dim; j++)
        bad += y[j] !=
               (float)(((double)row[j] - fn->mean[m][j]) / hardy_dataset_featnorm_scale(fn, m, j));
    }
    TEST_EQ_INT(bad, 0);
    free(row);
  }
  /* the constant dimension: scale 1, standardised to exactly 0 */
  TEST_NEAR(hardy_dataset_featnorm_scale(fn, 2, CONST_DIM), 1.0, 0, 0);
  TEST_NEAR(fn->mean[2][CONST_DIM], CONST_VALUE, 0, 0);
  for (int64_t i = 0; i < after->n_utt; i++)
    if (!absent(after->utt_id[i], 2))
      TEST_NEAR(after->feat[2][i * after->dims[2] + CONST_DIM], 0.0, 0, 0);
}

static void check_json(const hardy_featnorm_t *fn, const int dims[3]) {
  char *text = hardy_dataset_featnorm_to_json(fn);
  TEST_ASSERT(text != NULL, "to_json");
  hardy_featnorm_t back;
  int rc = hardy_dataset_featnorm_from_json(&back, text, dims, "test");
  TEST_ASSERT(rc == HARDY_OK, "from_json: %s", hardy_error_message());
  if (rc == HARDY_OK) {
    TEST_ASSERT(back.standardize == fn->standardize && back.l2_normalize == fn->l2_normalize,
                "modes");
    for (int m = 0; m < 3; m++) {
      size_t bytes = (size_t)dims[m] * sizeof(double);
      TEST_EQ_INT(back.count[m], fn->count[m]);
      TEST_ASSERT(
          !memcmp(back.mean[m], fn->mean[m], bytes) && !memcmp(back.std[m], fn->std[m], bytes) &&
              !memcmp(back.min[m], fn->min[m], bytes) && !memcmp(back.max[m], fn->max[m], bytes),
          "%s: JSON round trip is not exact", hardy_dataset_modality_name(m));
    }
    TEST_NEAR(hardy_dataset_featnorm_diff(&back, fn), 0.0, 0, 0);
    hardy_dataset_featnorm_free(&back);
  }
  int other[3] = {dims[0], dims[1] + 1, dims[2]};
  TEST_EQ_INT(hardy_dataset_featnorm_from_json(&back, text, other, "test"), HARDY_ERR_INPUT);
  TEST_ASSERT(strstr(hardy_error_message(), "text dimension") != NULL, "message: %s",
              hardy_error_message());
  hardy_error_clear();
  TEST_EQ_INT(hardy_dataset_featnorm_from_json(&back, "{\"standardize\": 3}", dims, "test"),
              HARDY_ERR_INPUT);
  hardy_error_clear();
  free(text);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int size = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  char path[64];
  snprintf(path, sizeof path, "test_dataset_featnorm_np%d.h5", size);
  hardy_synth_params_t p;
  hardy_synth_defaults(&p);
  snprintf(p.out, sizeof p.out, "%s", path);
  p.n_utt = 1800;
  p.dims[0] = 8, p.dims[1] = 12, p.dims[2] = 10;
  p.folds = 0;
  p.scale = 100.0f, p.offset = 50.0f;
  p.chunk_rows = 256;
  TEST_ASSERT(hardy_synth_write(&p, MPI_COMM_WORLD) == HARDY_OK, "synth: %s",
              hardy_error_message());
  if (hardy_test_rank() == 0)
    doctor_file(path, p.dims, p.n_utt);
  MPI_Barrier(MPI_COMM_WORLD);

  hardy_dataset_t ds;
  int rc = hardy_dataset_open(&ds, path, MPI_COMM_WORLD);
  TEST_ASSERT(rc == HARDY_OK, "open: %s", hardy_error_message());
  if (rc == HARDY_OK) {
    hardy_splits_t sp;
    TEST_ASSERT(hardy_dataset_select(&ds, HARDY_FOLD_NONE, 0.1, 1, &sp) == HARDY_OK, "select");
    float *raw[3];
    for (int m = 0; m < 3; m++)
      raw[m] = read_feat(path, m, ds.n_utt, ds.dims[m]);
    for (int l2 = 0; l2 <= 1; l2++) {
      hardy_shard_t sh, orig;
      TEST_ASSERT(hardy_dataset_read_shard(&ds, &sp.train, MPI_COMM_WORLD, 0, &sh) == HARDY_OK,
                  "read");
      TEST_ASSERT(hardy_dataset_read_shard(&ds, &sp.train, MPI_COMM_WORLD, 0, &orig) == HARDY_OK,
                  "read");
      hardy_featnorm_t fn;
      rc = hardy_dataset_featnorm_compute(&fn, &sh, HARDY_STANDARDIZE_ZSCORE,
                                          l2 ? HARDY_L2_TEXT : HARDY_L2_NONE, MPI_COMM_WORLD);
      TEST_ASSERT(rc == HARDY_OK, "compute: %s", hardy_error_message());
      if (rc == HARDY_OK) {
        check_against_reference(&ds, &sp.train, &fn, raw, l2);
        check_identical(&fn);
        TEST_ASSERT(hardy_dataset_featnorm_apply(&fn, &sh) == HARDY_OK, "apply");
        check_apply(&fn, &orig, &sh, l2);
        char why[256];
        /* raw x 100 + 50: badly scaled; the z-scored training rows are not */
        TEST_ASSERT(hardy_dataset_featnorm_badly_scaled(&fn, 0, why, sizeof why) > 0, "%s", why);
        hardy_featnorm_t after;
        TEST_ASSERT(hardy_dataset_featnorm_compute(&after, &sh, HARDY_STANDARDIZE_ZSCORE,
                                                   HARDY_L2_NONE, MPI_COMM_WORLD) == HARDY_OK,
                    "recompute");
        for (int m = 0; m < 3; m++) {
          TEST_EQ_INT(hardy_dataset_featnorm_badly_scaled(&after, m, why, sizeof why), 0);
          for (int j = 0; j < ds.dims[m]; j++) {
            TEST_NEAR(after.mean[m][j], 0.0, 1e-6, 0);
            if (!(m == 2 && j == CONST_DIM))
              TEST_NEAR(after.std[m][j], 1.0, 1e-6, 0);
          }
        }
        hardy_dataset_featnorm_free(&after);
        check_json(&fn, ds.dims);
        hardy_dataset_featnorm_free(&fn);
      }
      hardy_shard_free(&sh);
      hardy_shard_free(&orig);
    }
    for (int m = 0; m < 3; m++)
      free(raw[m]);
    hardy_splits_free(&sp);
    hardy_dataset_close(&ds);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  if (hardy_test_rank() == 0)
    remove(path);
  int status = hardy_test_finish("test_dataset_featnorm");
  MPI_Finalize();
  return status;
}
