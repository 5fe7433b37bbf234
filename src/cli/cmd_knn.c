/* `hardy-hpc knn`: the neighbour table of one split of a dataset file. Queries and index are the
 * split's utterances (each rank holds its shard of whole dialogues); query i searches on its
 * availability mask (a fixed condition, or a random rate drawn by mask.h for the training
 * epoch / once for evaluation splits), excluding itself. The table is written collectively
 * with parallel HDF5 as FILE.tmp and renamed when complete:
 *   /neighbors/id       int64   [N_split, K]  global utterance ids (-1: fewer than K exist)
 *   /neighbors/dist     float32 [N_split, K]  s(i, j) of docs/ALGORITHM.md (+inf for -1)
 *   /neighbors/query_id int64   [N_split]     the query of each row, in selection order
 *   /neighbors/mask     uint8   [N_split]     the query's present-modality bit set
 * with attributes k, condition or rate, seed, epoch, split, space, standardize, l2_normalize,
 * mu (3 normalisers). With --standardize zscore the input features are z-scored by statistics
 * of the training split (as `train` does; --l2-normalize text as data.l2_normalize).
 * Retrieval space `embedding` reads FILE (--embeddings) with /embeddings/id int64 [n]
 * (ascending, covering the split) and /embeddings/z float32 [n, 3, H] (audio, text, visual
 * teacher embeddings); every group then uses squared L2. */
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hardy/blas.h"
#include "hardy/cli.h"
#include "hardy/common.h"
#include "hardy/config.h"
#include "hardy/dataset.h"
#include "hardy/knn.h"
#include "hardy/log.h"
#include "hardy/mask.h"
#include "hardy/placement.h"

static const char *USAGE =
    "usage: mpirun -n RANKS hardy-hpc knn --data FILE --k K (--condition C | --missing-rate P)\n"
    "                                     --out FILE.h5 [options]\n"
    "Exact k-nearest-neighbour table of one split (queries and index = that split), searched on\n"
    "each query's present modalities (docs/ALGORITHM.md, Retrieval); written with parallel HDF5.\n"
    "  --data FILE           hardy-mer dataset (docs/DATA_FORMAT.md)\n"
    "  --k K                 neighbours per utterance\n"
    "  --condition C         fixed present set: a t v at av tv atv\n"
    "  --missing-rate P      random masks at missing rate P in [0, 0.7] (GCNet's generator)\n"
    "  --split S             train (default) | val | test\n"
    "  --seed S              seed of the masks and of the validation split (default 1)\n"
    "  --epoch E             training epoch whose masks are used (default 0; train split)\n"
    "  --fold F              none (default: the file's split column) or a fold id (test fold)\n"
    "  --space S             input (default) | embedding\n"
    "  --standardize S       none (default: features as stored) | zscore (per dimension, by\n"
    "                        statistics of the training split, as train's data.standardize)\n"
    "  --l2-normalize L      none (default) | text (unit-norm text rows first, as train's\n"
    "                        data.l2_normalize)\n"
    "  --embeddings FILE     with --space embedding: /embeddings/id int64 [n] ascending and\n"
    "                        /embeddings/z float32 [n, 3, H]\n"
    "  --query-block B       queries per search round over all ranks (default 4096)\n"
    "  --out FILE            output HDF5 file\n";

typedef struct {
  char data[HARDY_PATH_MAX], out[HARDY_PATH_MAX], embeddings[HARDY_PATH_MAX];
  int k, split, fold, space;
  int standardize, l2_normalize; /* hardy_standardize_t, hardy_l2_normalize_t */
  hardy_missing_t miss;
  int64_t seed, epoch, query_block;
} knn_args_t;

static int parse_flag(knn_args_t *a, const char *flag, const char *v, int *have_miss) {
  int64_t x;
  if (!strcmp(flag, "--data")) snprintf(a->data, sizeof a->data, "%s", v);
  else if (!strcmp(flag, "--out")) snprintf(a->out, sizeof a->out, "%s", v);
  else if (!strcmp(flag, "--embeddings")) snprintf(a->embeddings, sizeof a->embeddings, "%s", v);
  else if (!strcmp(flag, "--k")) {
    HARDY_CHECK(hardy_cli_int64(flag, v, 1, 100000, &x));
    a->k = (int)x;
  } else if (!strcmp(flag, "--condition")) {
    a->miss.condition = hardy_condition_parse(v);
    if (a->miss.condition <= 0)
      return hardy_fail(HARDY_ERR_INPUT, "--condition '%s': expected a, t, v, at, av, tv or atv", v);
    (*have_miss)++;
  } else if (!strcmp(flag, "--missing-rate")) {
    HARDY_CHECK(hardy_cli_double(flag, v, 0.0, HARDY_MISSING_RATE_MAX, &a->miss.rate));
    a->miss.condition = 0;
    (*have_miss)++;
  } else if (!strcmp(flag, "--split")) {
    a->split = !strcmp(v, "train") ? HARDY_SPLIT_TRAIN : !strcmp(v, "val") ? HARDY_SPLIT_VAL
               : !strcmp(v, "test") ? HARDY_SPLIT_TEST : -1;
    if (a->split < 0) return hardy_fail(HARDY_ERR_INPUT, "--split '%s': expected train, val or test", v);
  } else if (!strcmp(flag, "--seed")) HARDY_CHECK(hardy_cli_int64(flag, v, 0, INT64_MAX, &a->seed));
  else if (!strcmp(flag, "--epoch")) HARDY_CHECK(hardy_cli_int64(flag, v, 0, 1 << 30, &a->epoch));
  else if (!strcmp(flag, "--query-block"))
    HARDY_CHECK(hardy_cli_int64(flag, v, 1, 1 << 24, &a->query_block));
  else if (!strcmp(flag, "--fold")) {
    if (!strcmp(v, "none")) a->fold = HARDY_FOLD_NONE;
    else {
      HARDY_CHECK(hardy_cli_int64(flag, v, 0, 1 << 30, &x));
      a->fold = (int)x;
    }
  } else if (!strcmp(flag, "--standardize")) {
    a->standardize = !strcmp(v, "zscore") ? HARDY_STANDARDIZE_ZSCORE
                     : !strcmp(v, "none") ? HARDY_STANDARDIZE_NONE : -1;
    if (a->standardize < 0)
      return hardy_fail(HARDY_ERR_INPUT, "--standardize '%s': expected zscore or none", v);
  } else if (!strcmp(flag, "--l2-normalize")) {
    a->l2_normalize = !strcmp(v, "text") ? HARDY_L2_TEXT : !strcmp(v, "none") ? HARDY_L2_NONE : -1;
    if (a->l2_normalize < 0)
      return hardy_fail(HARDY_ERR_INPUT, "--l2-normalize '%s': expected none or text", v);
  } else if (!strcmp(flag, "--space")) {
    a->space = !strcmp(v, "input") ? HARDY_SPACE_INPUT : !strcmp(v, "embedding") ? HARDY_SPACE_EMBEDDING : -1;
    if (a->space < 0) return hardy_fail(HARDY_ERR_INPUT, "--space '%s': expected input or embedding", v);
  } else
    return hardy_fail(HARDY_ERR_INPUT, "knn: unknown option '%s' (see hardy-hpc knn --help)", flag);
  return HARDY_OK;
}

static int parse_args(int argc, char **argv, knn_args_t *a) {
  memset(a, 0, sizeof *a);
  a->seed = 1, a->fold = HARDY_FOLD_NONE, a->query_block = 4096, a->split = HARDY_SPLIT_TRAIN;
  a->standardize = HARDY_STANDARDIZE_NONE, a->l2_normalize = HARDY_L2_NONE;
  int have_miss = 0;
  for (int i = 1; i < argc; i += 2) { /* every flag takes a value */
    const char *v = hardy_cli_value(argc, argv, i);
    if (!v) return HARDY_ERR_INPUT;
    HARDY_CHECK(parse_flag(a, argv[i], v, &have_miss));
  }
  if (!a->data[0] || !a->out[0] || a->k < 1)
    return hardy_fail(HARDY_ERR_INPUT, "knn: --data, --k and --out are required (see --help)");
  if (have_miss != 1)
    return hardy_fail(HARDY_ERR_INPUT, "knn: give exactly one of --condition and --missing-rate");
  if ((a->space == HARDY_SPACE_EMBEDDING) != (a->embeddings[0] != 0))
    return hardy_fail(HARDY_ERR_INPUT, "knn: --space embedding and --embeddings FILE go together");
  return HARDY_OK;
}

/* ---- embeddings input ------------------------------------------------------------------ */

/* This rank's rows of /embeddings/z for its shard's ids, split into three [n, H] groups.
 * Collective (the reads are collective; a rank with no rows joins with an empty selection). */
static int read_embeddings(const char *path, const hardy_shard_t *sh, int *width, float **group,
                           MPI_Comm comm) {
  int status = HARDY_OK;
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS), file = -1, did = -1, dz = -1;
  H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL);
  H5E_BEGIN_TRY { file = H5Fopen(path, H5F_ACC_RDONLY, fapl); }
  H5E_END_TRY;
  H5Pclose(fapl);
  hsize_t dims[3] = {0, 0, 0}, n_file = 0;
  int64_t *file_id = NULL, *row = NULL;
  H5E_BEGIN_TRY {
    if (file >= 0) did = H5Dopen2(file, "/embeddings/id", H5P_DEFAULT);
    if (file >= 0) dz = H5Dopen2(file, "/embeddings/z", H5P_DEFAULT);
  }
  H5E_END_TRY;
  if (file < 0) status = hardy_fail(HARDY_ERR_INPUT, "%s: cannot open as HDF5", path);
  else if (did < 0 || dz < 0)
    status = hardy_fail(HARDY_ERR_INPUT, "%s: needs /embeddings/id and /embeddings/z", path);
  if (status == HARDY_OK) {
    hid_t s_id = H5Dget_space(did), s_z = H5Dget_space(dz);
    if (H5Sget_simple_extent_ndims(s_id) != 1 || H5Sget_simple_extent_ndims(s_z) != 3)
      status = hardy_fail(HARDY_ERR_INPUT, "%s: /embeddings/id must be [n], /embeddings/z [n, 3, H]", path);
    else {
      H5Sget_simple_extent_dims(s_id, &n_file, NULL);
      H5Sget_simple_extent_dims(s_z, dims, NULL);
      if (dims[0] != n_file || dims[1] != 3 || dims[2] < 1)
        status = hardy_fail(HARDY_ERR_INPUT, "%s: /embeddings/z is [%llu, %llu, %llu], expected "
                            "[%llu, 3, H]", path, (unsigned long long)dims[0],
                            (unsigned long long)dims[1], (unsigned long long)dims[2],
                            (unsigned long long)n_file);
    }
    H5Sclose(s_id), H5Sclose(s_z);
  }
  status = hardy_agree(status, comm);
  if (status == HARDY_OK) { /* every rank reads the id column (8 bytes per row) */
    file_id = hardy_malloc(sizeof(int64_t) * (n_file + 1), "embedding ids");
    row = hardy_malloc(sizeof(int64_t) * (size_t)(sh->n_utt + 1), "embedding rows");
    if (!file_id || !row || H5Dread(did, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, file_id) < 0)
      status = hardy_fail(HARDY_ERR_RUNTIME, "%s: cannot read /embeddings/id", path);
    for (hsize_t i = 1; status == HARDY_OK && i < n_file; i++)
      if (file_id[i] <= file_id[i - 1])
        status = hardy_fail(HARDY_ERR_INPUT, "%s: /embeddings/id is not ascending at row %llu", path,
                            (unsigned long long)i);
    int64_t lo = 0;
    for (int64_t i = 0; status == HARDY_OK && i < sh->n_utt; i++) { /* both ascending */
      while (lo < (int64_t)n_file && file_id[lo] < sh->utt_id[i]) lo++;
      if (lo == (int64_t)n_file || file_id[lo] != sh->utt_id[i])
        status = hardy_fail(HARDY_ERR_INPUT, "%s: no embedding for utterance %lld", path,
                            (long long)sh->utt_id[i]);
      else row[i] = lo;
    }
  }
  status = hardy_agree(status, comm);
  *width = (int)dims[2];
  float *z = NULL;
  if (status == HARDY_OK) {
    size_t per = 3 * (size_t)dims[2];
    z = hardy_malloc(sizeof(float) * (per * (size_t)sh->n_utt + 1), "embedding rows");
    for (int m = 0; m < 3; m++)
      group[m] = hardy_malloc(sizeof(float) * ((size_t)dims[2] * (size_t)sh->n_utt + 1), "embeddings");
    hid_t fs = H5Dget_space(dz);
    H5Sselect_none(fs);
    for (int64_t i = 0; i < sh->n_utt; i++) { /* runs of consecutive rows, OR-ed together */
      int64_t j = i;
      while (j + 1 < sh->n_utt && row[j + 1] == row[j] + 1) j++;
      hsize_t start[3] = {(hsize_t)row[i], 0, 0}, count[3] = {(hsize_t)(j - i + 1), 3, dims[2]};
      H5Sselect_hyperslab(fs, H5S_SELECT_OR, start, NULL, count, NULL);
      i = j;
    }
    hsize_t mdim = (hsize_t)sh->n_utt * per;
    hid_t ms = H5Screate_simple(1, &mdim, NULL), dxpl = H5Pcreate(H5P_DATASET_XFER);
    if (sh->n_utt == 0) H5Sselect_none(ms);
    H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE);
    if (!z || !group[0] || !group[1] || !group[2] || H5Dread(dz, H5T_NATIVE_FLOAT, ms, fs, dxpl, z) < 0)
      status = hardy_fail(HARDY_ERR_RUNTIME, "%s: cannot read /embeddings/z", path);
    H5Pclose(dxpl), H5Sclose(ms), H5Sclose(fs);
    for (int64_t i = 0; status == HARDY_OK && i < sh->n_utt; i++)
      for (int m = 0; m < 3; m++)
        memcpy(group[m] + (size_t)i * dims[2], z + (size_t)i * per + (size_t)m * dims[2],
               sizeof(float) * dims[2]);
  }
  free(z), free(file_id), free(row);
  if (dz >= 0) H5Dclose(dz);
  if (did >= 0) H5Dclose(did);
  if (file >= 0) H5Fclose(file);
  return hardy_agree(status, comm);
}

/* ---- output ---------------------------------------------------------------------------- */

static int attr_write(hid_t obj, const char *name, hid_t type, int n, const void *value) {
  hsize_t len = (hsize_t)n;
  hid_t space = n == 1 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &len, NULL);
  hid_t attr = H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
  herr_t rc = attr >= 0 ? H5Awrite(attr, type, value) : -1;
  if (attr >= 0) H5Aclose(attr);
  H5Sclose(space);
  return rc < 0 ? -1 : 0;
}

static int attr_string(hid_t obj, const char *name, const char *value) {
  hid_t type = H5Tcopy(H5T_C_S1);
  H5Tset_size(type, H5T_VARIABLE);
  int rc = attr_write(obj, name, type, 1, &value);
  H5Tclose(type);
  return rc;
}

/* /neighbors/NAME [total, width] with this rank's rows at offset (collective). */
static int write_rows(hid_t group, const char *name, hid_t type, const void *buf, int64_t n,
                      int64_t offset, int64_t total, int width) {
  int rank = width > 1 ? 2 : 1;
  hsize_t dims[2] = {(hsize_t)total, (hsize_t)width}, start[2] = {(hsize_t)offset, 0},
          count[2] = {(hsize_t)n, (hsize_t)width};
  hid_t fs = H5Screate_simple(rank, dims, NULL), ms = H5Screate_simple(rank, count, NULL);
  hid_t dset = H5Dcreate2(group, name, type, fs, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  hid_t dxpl = H5Pcreate(H5P_DATASET_XFER);
  H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE);
  herr_t rc = dset >= 0 ? 0 : -1;
  if (rc == 0 && n > 0) rc = H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
  else if (rc == 0) rc = H5Sselect_none(fs) < 0 || H5Sselect_none(ms) < 0 ? -1 : 0;
  if (rc >= 0) rc = H5Dwrite(dset, type, ms, fs, dxpl, buf);
  if (dset >= 0) H5Dclose(dset);
  H5Pclose(dxpl), H5Sclose(ms), H5Sclose(fs);
  return rc < 0 ? -1 : 0;
}

typedef struct {
  const int64_t *query_id, *id;
  const float *dist;
  const uint8_t *mask;
  int64_t n;
  const double *mu;
} table_t;

static int write_table(const knn_args_t *a, const table_t *t, MPI_Comm comm) {
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  int64_t offset = 0, total = 0;
  HARDY_MPI_CHECK(MPI_Exscan(&t->n, &offset, 1, MPI_INT64_T, MPI_SUM, comm));
  if (rank == 0) offset = 0;
  HARDY_MPI_CHECK(MPI_Allreduce(&t->n, &total, 1, MPI_INT64_T, MPI_SUM, comm));
  char tmp[HARDY_PATH_MAX + 8];
  snprintf(tmp, sizeof tmp, "%.*s.tmp", HARDY_PATH_MAX - 1, a->out);
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS), file = -1;
  H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL);
  H5E_BEGIN_TRY { file = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl); }
  H5E_END_TRY;
  H5Pclose(fapl);
  int status = file >= 0 ? HARDY_OK : hardy_fail(HARDY_ERR_INPUT, "cannot create %s (does the "
                                                 "directory exist and is it writable?)", tmp);
  status = hardy_agree(status, comm);
  if (status < 0) return status;
  hid_t g = H5Gcreate2(file, "neighbors", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  static const char *split_name[] = {"train", "val", "test"};
  long k = a->k, seed = (long)a->seed, epoch = (long)a->epoch;
  int rc = g < 0 ? -1 : 0;
  rc |= write_rows(g, "id", H5T_NATIVE_INT64, t->id, t->n, offset, total, a->k);
  rc |= write_rows(g, "dist", H5T_NATIVE_FLOAT, t->dist, t->n, offset, total, a->k);
  rc |= write_rows(g, "query_id", H5T_NATIVE_INT64, t->query_id, t->n, offset, total, 1);
  rc |= write_rows(g, "mask", H5T_NATIVE_UINT8, t->mask, t->n, offset, total, 1);
  rc |= attr_write(g, "k", H5T_NATIVE_LONG, 1, &k);
  rc |= attr_write(g, "seed", H5T_NATIVE_LONG, 1, &seed);
  rc |= attr_write(g, "epoch", H5T_NATIVE_LONG, 1, &epoch);
  rc |= attr_write(g, "mu", H5T_NATIVE_DOUBLE, 3, t->mu);
  rc |= attr_string(g, "split", split_name[a->split]);
  rc |= attr_string(g, "space", a->space == HARDY_SPACE_EMBEDDING ? "embedding" : "input");
  rc |= attr_string(g, "standardize",
                    a->standardize == HARDY_STANDARDIZE_ZSCORE ? "zscore" : "none");
  rc |= attr_string(g, "l2_normalize", a->l2_normalize == HARDY_L2_TEXT ? "text" : "none");
  if (a->miss.condition > 0) rc |= attr_string(g, "condition", hardy_condition_name(a->miss.condition));
  else rc |= attr_write(g, "rate", H5T_NATIVE_DOUBLE, 1, &a->miss.rate);
  if (g >= 0) H5Gclose(g);
  if (H5Fclose(file) < 0) rc = -1;
  if (rc < 0) status = hardy_fail(HARDY_ERR_RUNTIME, "%s: HDF5 could not write /neighbors", tmp);
  status = hardy_agree(status, comm);
  if (status == HARDY_OK && rank == 0 && rename(tmp, a->out) != 0)
    status = hardy_fail(HARDY_ERR_RUNTIME, "cannot rename %s to %s", tmp, a->out);
  return hardy_agree(status, comm);
}

/* ---- the command ----------------------------------------------------------------------- */

typedef struct {
  hardy_dataset_t ds;
  hardy_splits_t splits;
  hardy_shard_t sh;
  float *emb[3];
  uint8_t *mask;
  int64_t *id;
  float *dist;
} knn_state_t;

static void state_free(knn_state_t *s) {
  hardy_shard_free(&s->sh);
  hardy_splits_free(&s->splits);
  hardy_dataset_close(&s->ds);
  for (int m = 0; m < 3; m++) free(s->emb[m]);
  free(s->mask), free(s->id), free(s->dist);
}

/* --standardize / --l2-normalize: statistics of the training split (read for them when the
 * searched split is another), applied to the searched shard as `train` applies them. */
static int preprocess(const knn_args_t *a, knn_state_t *s, MPI_Comm comm) {
  if (a->standardize == HARDY_STANDARDIZE_NONE && a->l2_normalize == HARDY_L2_NONE) return HARDY_OK;
  hardy_shard_t train;
  memset(&train, 0, sizeof train);
  const hardy_shard_t *src = &s->sh;
  if (a->split != HARDY_SPLIT_TRAIN) {
    HARDY_CHECK(hardy_dataset_read_shard(&s->ds, &s->splits.train, comm, HARDY_NONFINITE_ERROR,
                                         &train));
    src = &train;
  }
  hardy_featnorm_t fn;
  int st = hardy_dataset_featnorm_compute(&fn, src, a->standardize, a->l2_normalize, comm);
  hardy_shard_free(&train);
  if (st < 0) return st;
  st = hardy_agree(hardy_dataset_featnorm_apply(&fn, &s->sh), comm);
  hardy_dataset_featnorm_free(&fn);
  return st;
}

static int run(const knn_args_t *a, knn_state_t *s, MPI_Comm comm) {
  hardy_config_t defaults;
  hardy_config_defaults(&defaults);
  HARDY_CHECK(hardy_dataset_open(&s->ds, a->data, comm));
  int status = hardy_dataset_select(&s->ds, a->fold, defaults.data.val_fraction, (uint64_t)a->seed,
                                    &s->splits);
  HARDY_CHECK(hardy_agree(status, comm));
  const hardy_selection_t *sel = a->split == HARDY_SPLIT_TRAIN ? &s->splits.train
                                 : a->split == HARDY_SPLIT_VAL ? &s->splits.val : &s->splits.test;
  HARDY_CHECK(hardy_dataset_read_shard(&s->ds, sel, comm, HARDY_NONFINITE_ERROR, &s->sh));
  HARDY_CHECK(preprocess(a, s, comm));
  const hardy_shard_t *sh = &s->sh;
  hardy_knn_rows_t rows = {sh->n_utt, sh->utt_id, {sh->dims[0], sh->dims[1], sh->dims[2]},
                           {sh->feat[0], sh->feat[1], sh->feat[2]}, {0}};
  hardy_knn_metrics_input(rows.metric);
  if (a->space == HARDY_SPACE_EMBEDDING) {
    int width = 0;
    HARDY_CHECK(read_embeddings(a->embeddings, sh, &width, s->emb, comm));
    for (int m = 0; m < 3; m++) {
      rows.dims[m] = width;
      rows.feat[m] = s->emb[m];
      rows.metric[m] = HARDY_KNN_L2SQ;
    }
  }
  int64_t n = sh->n_utt;
  s->mask = hardy_malloc((size_t)n + 1, "knn masks");
  s->id = hardy_malloc(sizeof(int64_t) * (size_t)(n * a->k + 1), "knn ids");
  s->dist = hardy_malloc(sizeof(float) * (size_t)(n * a->k + 1), "knn distances");
  status = s->mask && s->id && s->dist ? HARDY_OK : HARDY_ERR_RUNTIME;
  for (int64_t i = 0; status == HARDY_OK && i < n; i++) {
    uint8_t natural = hardy_mask_from_present(sh->present + 3 * i);
    s->mask[i] = a->split == HARDY_SPLIT_TRAIN
                     ? hardy_mask_train((uint64_t)a->seed, a->miss, (uint64_t)a->epoch, sh->utt_id[i], natural)
                     : hardy_mask_eval((uint64_t)a->seed, a->miss, sh->utt_id[i], natural);
    if (!s->mask[i])
      status = hardy_fail(HARDY_ERR_INPUT, "%s: utterance %lld has no modality in the source "
                          "(/utterance/present is all 0)", a->data, (long long)sh->utt_id[i]);
  }
  HARDY_CHECK(hardy_agree(status, comm));
  hardy_knn_index_t ix;
  HARDY_CHECK(hardy_knn_index_build(&ix, &rows, comm));
  hardy_knn_opts_t opt;
  hardy_knn_opts_default(&opt, a->k);
  opt.query_block = a->query_block;
  hardy_knn_stats_t st;
  HARDY_CHECK(hardy_knn_search(&ix, &rows, s->mask, &opt, s->id, s->dist, &st, comm));
  hardy_log_info("knn: %lld queries, k %d, %.2f s (kernel %.2f s, exposed gather %.2f s and "
                 "allreduce %.2f s; %s kernel, tile %s)", (long long)ix.n_global, a->k, st.t_total,
                 st.t_kernel, st.t_gather, st.t_allreduce, hardy_knn_kernel_name(),
                 hardy_knn_tile_string());
  table_t t = {sh->utt_id, s->id, s->dist, s->mask, n, ix.mu};
  return write_table(a, &t, comm);
}

int hardy_cmd_knn(int argc, char **argv) {
  for (int i = 1; i < argc; i++)
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      if (hardy_world_rank() == 0) fputs(USAGE, stdout);
      return HARDY_OK;
    }
  knn_args_t a;
  int status = hardy_agree(parse_args(argc, argv, &a), MPI_COMM_WORLD);
  if (status < 0) return status;
  HARDY_CHECK(hardy_placement_apply(0, MPI_COMM_WORLD, NULL));
  hardy_blas_report();
  knn_state_t s;
  memset(&s, 0, sizeof s);
  status = run(&a, &s, MPI_COMM_WORLD);
  state_free(&s);
  return hardy_agree(status, MPI_COMM_WORLD);
}
