/* Opening a hardy dataset file: the root attributes, the presence, rank, type class and shape
 * of every dataset, and the dialogue tables (offset, split, fold), each checked against the
 * rules of docs/DATA_FORMAT.md with a message naming the file, the HDF5 path and the row. The
 * row-level rules (finite features, label ranges) live in dataset_read.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "h5/h5.h"
#include "hardy/common.h"
#include "hardy/dataset.h"

static const char *const MODALITY_NAMES[HARDY_N_MOD] = {"audio", "text", "visual"};
static const char *const FEATURE_PATHS[HARDY_N_MOD] = {"/features/audio", "/features/text",
                                                       "/features/visual"};

const char *hardy_dataset_modality_name(int m) {
  return m >= 0 && m < HARDY_N_MOD ? MODALITY_NAMES[m] : "?";
}

const char *hardy_dataset_feature_path(int m) {
  return m >= 0 && m < HARDY_N_MOD ? FEATURE_PATHS[m] : "?";
}

/* ---- attributes ------------------------------------------------------------------------- */

static int read_attributes(hardy_dataset_t *ds, hid_t file) {
  const char *path = ds->path;
  char text[256];
  long version = 0, num_classes = 0;
  HARDY_CHECK(hardy_h5_attr_string(file, "format", text, sizeof text, true, path));
  if (strcmp(text, "hardy-mer") != 0)
    return hardy_fail(HARDY_ERR_INPUT,
                      "%s: root attribute format = '%s', expected 'hardy-mer' (not a hardy "
                      "dataset file; see docs/DATA_FORMAT.md)",
                      path, text);
  HARDY_CHECK(hardy_h5_attr_long(file, "version", &version, true, path));
  if (version != 1)
    return hardy_fail(HARDY_ERR_INPUT,
                      "%s: root attribute version = %ld; this hardy-hpc reads format version 1 "
                      "(rewrite the file with a matching converter)",
                      path, version);
  HARDY_CHECK(hardy_h5_attr_string(file, "task", text, sizeof text, true, path));
  if (!strcmp(text, "classification")) {
    ds->task = HARDY_TASK_CLASSIFICATION;
  } else if (!strcmp(text, "regression")) {
    ds->task = HARDY_TASK_REGRESSION;
  } else {
    return hardy_fail(HARDY_ERR_INPUT,
                      "%s: root attribute task = '%s', expected 'classification' or 'regression'",
                      path, text);
  }
  HARDY_CHECK(hardy_h5_attr_long(file, "num_classes", &num_classes, true, path));
  if (ds->task == HARDY_TASK_REGRESSION && num_classes != 1)
    return hardy_fail(HARDY_ERR_INPUT, "%s: root attribute num_classes = %ld, expected 1 for task "
                      "'regression'", path, num_classes);
  if (ds->task == HARDY_TASK_CLASSIFICATION && (num_classes < 2 || num_classes > HARDY_MAX_CLASSES))
    return hardy_fail(HARDY_ERR_INPUT, "%s: root attribute num_classes = %ld, expected 2..%d for "
                      "task 'classification'", path, num_classes, HARDY_MAX_CLASSES);
  ds->num_classes = (int)num_classes;

  char **mods = NULL;
  int64_t n_mods = 0;
  HARDY_CHECK(hardy_h5_attr_strings(file, "modalities", &mods, &n_mods, true, path));
  int ok = n_mods == HARDY_N_MOD;
  for (int m = 0; ok && m < HARDY_N_MOD; m++) ok = !strcmp(mods[m], MODALITY_NAMES[m]);
  hardy_h5_free_strings(mods, n_mods);
  if (!ok)
    return hardy_fail(HARDY_ERR_INPUT, "%s: root attribute modalities must be [\"audio\", "
                      "\"text\", \"visual\"] (the order of the feature groups)", path);

  int64_t n_names = 0;
  int rc = hardy_h5_attr_strings(file, "class_names", &ds->class_names, &n_names, false, path);
  HARDY_CHECK(rc);
  if (rc == 1 && n_names != ds->num_classes) {
    hardy_h5_free_strings(ds->class_names, n_names);
    ds->class_names = NULL;
    return hardy_fail(HARDY_ERR_INPUT, "%s: root attribute class_names has %lld names but "
                      "num_classes = %d", path, (long long)n_names, ds->num_classes);
  }
  HARDY_CHECK(hardy_h5_attr_string(file, "source", ds->source, sizeof ds->source, false, path));
  return HARDY_OK;
}

/* ---- datasets: presence, rank, type class, shape ---------------------------------------- */

typedef struct {
  const char *h5path;
  int rank;
  H5T_class_t cls;
  const char *cls_why; /* appended to a type error, e.g. "for a classification dataset" */
  int64_t rows;        /* expected rows, or -1 */
  const char *rows_why;
  int64_t cols;        /* expected columns for rank 2, or -1 (any > 0) */
  bool required;
} dset_spec_t;

/* Does link `h5path` exist, checking each group on the way (H5Lexists needs its parent)? */
static int link_exists(hid_t file, const char *h5path) {
  char partial[256];
  for (const char *p = strchr(h5path + 1, '/'); ; p = strchr(p + 1, '/')) {
    size_t len = p ? (size_t)(p - h5path) : strlen(h5path);
    snprintf(partial, sizeof partial, "%.*s", (int)len, h5path);
    htri_t e = H5Lexists(file, partial, H5P_DEFAULT);
    if (e <= 0) return 0;
    if (!p) return 1;
  }
}

/* Check one dataset against its spec; dims_out gets its shape. Returns 1 present, 0 absent
 * and optional, or an error. */
static int check_dataset(const hardy_dataset_t *ds, hid_t file, const dset_spec_t *spec,
                         hsize_t dims_out[2]) {
  const char *path = ds->path, *h5 = spec->h5path;
  if (!link_exists(file, h5)) {
    if (!spec->required) return 0;
    return hardy_fail(HARDY_ERR_INPUT, "%s: required dataset %s is missing (docs/DATA_FORMAT.md "
                      "lists the schema)", path, h5);
  }
  hid_t dset = H5Dopen2(file, h5, H5P_DEFAULT);
  if (dset < 0) {
    char what[300];
    snprintf(what, sizeof what, "%s exists but cannot be opened as a dataset", h5);
    return hardy_h5_fail(HARDY_ERR_INPUT, path, what);
  }
  hid_t type = H5Dget_type(dset), space = H5Dget_space(dset);
  H5T_class_t cls = type >= 0 ? H5Tget_class(type) : H5T_NO_CLASS;
  size_t size = type >= 0 ? H5Tget_size(type) : 0;
  int ndims = space >= 0 ? H5Sget_simple_extent_ndims(space) : -1;
  hsize_t dims[2] = {0, 0};
  if (ndims >= 1 && ndims <= 2) H5Sget_simple_extent_dims(space, dims, NULL);
  if (type >= 0) H5Tclose(type);
  if (space >= 0) H5Sclose(space);
  H5Dclose(dset);
  if (ndims < 0) return hardy_h5_fail(HARDY_ERR_INPUT, path, "cannot read a dataset's shape");
  if (ndims != spec->rank)
    return hardy_fail(HARDY_ERR_INPUT, "%s: %s has rank %d, expected rank %d", path, h5, ndims,
                      spec->rank);
  if (cls != spec->cls)
    return hardy_fail(HARDY_ERR_INPUT, "%s: %s has type %s (%zu bytes), expected a%s %s type%s%s",
                      path, h5, hardy_h5_class_name(cls), size, spec->cls == H5T_INTEGER ? "n" : "",
                      hardy_h5_class_name(spec->cls), spec->cls_why ? " " : "",
                      spec->cls_why ? spec->cls_why : "");
  if (spec->rows >= 0 && (int64_t)dims[0] != spec->rows)
    return hardy_fail(HARDY_ERR_INPUT, "%s: %s has %llu rows, expected %lld (%s)", path, h5,
                      (unsigned long long)dims[0], (long long)spec->rows, spec->rows_why);
  if (spec->rank == 2 && (dims[1] == 0 || (spec->cols >= 0 && (int64_t)dims[1] != spec->cols)))
    return hardy_fail(HARDY_ERR_INPUT, "%s: %s has %llu columns, expected %s%lld", path, h5,
                      (unsigned long long)dims[1], spec->cols >= 0 ? "" : "at least ",
                      (long long)(spec->cols >= 0 ? spec->cols : 1));
  if (dims_out) {
    dims_out[0] = dims[0];
    dims_out[1] = dims[1];
  }
  return 1;
}

static int check_datasets(hardy_dataset_t *ds, hid_t file) {
  bool cls = ds->task == HARDY_TASK_CLASSIFICATION;
  hsize_t dims[2];
  /* N is the length of the label column; every per-utterance dataset must match it. */
  dset_spec_t label = {"/utterance/label", 1, cls ? H5T_INTEGER : H5T_FLOAT,
                       cls ? "for task 'classification' (class ids)" : "for task 'regression' "
                       "(scores)", -1, NULL, -1, true};
  HARDY_CHECK(check_dataset(ds, file, &label, dims));
  ds->n_utt = (int64_t)dims[0];
  if (ds->n_utt < 1)
    return hardy_fail(HARDY_ERR_INPUT, "%s: /utterance/label is empty (N = 0)", ds->path);
  const char *n_why = "N, the length of /utterance/label";
  for (int m = 0; m < HARDY_N_MOD; m++) {
    dset_spec_t f = {FEATURE_PATHS[m], 2, H5T_FLOAT, "(features are float32)", ds->n_utt, n_why,
                     -1, true};
    HARDY_CHECK(check_dataset(ds, file, &f, dims));
    if (dims[1] > (1u << 24))
      return hardy_fail(HARDY_ERR_INPUT, "%s: %s has %llu columns; at most %u supported", ds->path,
                        FEATURE_PATHS[m], (unsigned long long)dims[1], 1u << 24);
    ds->dims[m] = (int)dims[1];
  }
  const dset_spec_t per_utt[] = {
      {"/utterance/speaker", 1, H5T_INTEGER, NULL, ds->n_utt, n_why, -1, true},
      {"/utterance/name", 1, H5T_STRING, NULL, ds->n_utt, n_why, -1, true},
  };
  for (size_t i = 0; i < sizeof per_utt / sizeof per_utt[0]; i++)
    HARDY_CHECK(check_dataset(ds, file, &per_utt[i], NULL));
  dset_spec_t present = {"/utterance/present", 2, H5T_INTEGER, "(uint8 0/1)", ds->n_utt, n_why,
                         HARDY_N_MOD, false};
  int rc = check_dataset(ds, file, &present, NULL);
  HARDY_CHECK(rc);
  ds->has_present = rc == 1;
  dset_spec_t planted = {"/utterance/planted_hardness", 1, H5T_FLOAT, NULL, ds->n_utt, n_why, -1,
                         false};
  rc = check_dataset(ds, file, &planted, NULL);
  HARDY_CHECK(rc);
  ds->has_planted = rc == 1;

  dset_spec_t offset = {"/dialogue/offset", 1, H5T_INTEGER, "(int64)", -1, NULL, -1, true};
  HARDY_CHECK(check_dataset(ds, file, &offset, dims));
  if (dims[0] < 2)
    return hardy_fail(HARDY_ERR_INPUT, "%s: /dialogue/offset has %llu entries; it needs D+1 >= 2 "
                      "(at least one dialogue)", ds->path, (unsigned long long)dims[0]);
  ds->n_dialogue = (int64_t)dims[0] - 1;
  const char *d_why = "D, one less than the length of /dialogue/offset";
  const dset_spec_t per_dlg[] = {
      {"/dialogue/split", 1, H5T_INTEGER, "(int8)", ds->n_dialogue, d_why, -1, true},
      {"/dialogue/fold", 1, H5T_INTEGER, "(int32)", ds->n_dialogue, d_why, -1, true},
      {"/dialogue/name", 1, H5T_STRING, NULL, ds->n_dialogue, d_why, -1, true},
  };
  for (size_t i = 0; i < sizeof per_dlg / sizeof per_dlg[0]; i++)
    HARDY_CHECK(check_dataset(ds, file, &per_dlg[i], NULL));
  return HARDY_OK;
}

/* ---- dialogue tables -------------------------------------------------------------------- */

static int read_whole(const hardy_dataset_t *ds, hid_t file, const char *h5path, hid_t mtype,
                      void *buf) {
  hid_t dset = H5Dopen2(file, h5path, H5P_DEFAULT);
  herr_t err = dset >= 0 ? H5Dread(dset, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) : -1;
  if (dset >= 0) H5Dclose(dset);
  if (err < 0) {
    char what[300];
    snprintf(what, sizeof what, "cannot read %s", h5path);
    return hardy_h5_fail(HARDY_ERR_INPUT, ds->path, what);
  }
  return HARDY_OK;
}

static int check_tables(const hardy_dataset_t *ds, const int32_t *split32) {
  const char *path = ds->path;
  const int64_t *off = ds->offset;
  int64_t n_dlg = ds->n_dialogue;
  if (off[0] != 0)
    return hardy_fail(HARDY_ERR_INPUT, "%s: /dialogue/offset[0] = %lld, expected 0 (the first "
                      "dialogue starts at row 0)", path, (long long)off[0]);
  for (int64_t d = 1; d <= n_dlg; d++)
    if (off[d] <= off[d - 1])
      return hardy_fail(HARDY_ERR_INPUT, "%s: /dialogue/offset[%lld] = %lld is not greater than "
                        "offset[%lld] = %lld (empty or unsorted dialogue %lld)", path,
                        (long long)d, (long long)off[d], (long long)(d - 1),
                        (long long)off[d - 1], (long long)(d - 1));
  if (off[n_dlg] != ds->n_utt)
    return hardy_fail(HARDY_ERR_INPUT, "%s: /dialogue/offset[%lld] = %lld, expected N = %lld (the "
                      "last dialogue must end at the last row)", path, (long long)n_dlg,
                      (long long)off[n_dlg], (long long)ds->n_utt);
  for (int64_t d = 0; d < n_dlg; d++)
    if (split32[d] < 0 || split32[d] > 2)
      return hardy_fail(HARDY_ERR_INPUT, "%s: /dialogue/split[%lld] = %d, expected 0 (train), "
                        "1 (validation) or 2 (test)", path, (long long)d, split32[d]);
  for (int64_t d = 0; d < n_dlg; d++)
    if (ds->fold[d] < -1)
      return hardy_fail(HARDY_ERR_INPUT, "%s: /dialogue/fold[%lld] = %d, expected a fold id >= 0 "
                        "or -1 (unused)", path, (long long)d, ds->fold[d]);
  return HARDY_OK;
}

static int read_tables(hardy_dataset_t *ds, hid_t file) {
  int64_t n_dlg = ds->n_dialogue;
  ds->offset = hardy_malloc((size_t)(n_dlg + 1) * sizeof *ds->offset, "/dialogue/offset");
  ds->split = hardy_malloc((size_t)n_dlg * sizeof *ds->split, "/dialogue/split");
  ds->fold = hardy_malloc((size_t)n_dlg * sizeof *ds->fold, "/dialogue/fold");
  /* Split is read as int32 so an out-of-range value is reported as stored, not clamped. */
  int32_t *split32 = hardy_malloc((size_t)n_dlg * sizeof *split32, "/dialogue/split");
  int rc = ds->offset && ds->split && ds->fold && split32 ? HARDY_OK : HARDY_ERR_RUNTIME;
  if (rc == HARDY_OK) rc = read_whole(ds, file, "/dialogue/offset", H5T_NATIVE_INT64, ds->offset);
  if (rc == HARDY_OK) rc = read_whole(ds, file, "/dialogue/split", H5T_NATIVE_INT32, split32);
  if (rc == HARDY_OK) rc = read_whole(ds, file, "/dialogue/fold", H5T_NATIVE_INT32, ds->fold);
  if (rc == HARDY_OK) rc = check_tables(ds, split32);
  for (int64_t d = 0; rc == HARDY_OK && d < n_dlg; d++) ds->split[d] = (int8_t)split32[d];
  free(split32);
  return rc;
}

/* ---- fingerprint ------------------------------------------------------------------------ */

static uint64_t fnv1a(uint64_t h, const void *data, size_t len) {
  const unsigned char *p = data;
  for (size_t i = 0; i < len; i++) {
    h ^= p[i];
    h *= 0x100000001B3ull;
  }
  return h;
}

static uint64_t fingerprint(const hardy_dataset_t *ds) {
  uint64_t h = 0xCBF29CE484222325ull;
  int64_t head[7] = {1, ds->task, ds->num_classes, ds->n_utt, ds->n_dialogue, 0, 0};
  h = fnv1a(h, "hardy-mer", 9);
  h = fnv1a(h, head, sizeof head);
  h = fnv1a(h, ds->dims, sizeof ds->dims);
  h = fnv1a(h, ds->offset, (size_t)(ds->n_dialogue + 1) * sizeof *ds->offset);
  h = fnv1a(h, ds->split, (size_t)ds->n_dialogue * sizeof *ds->split);
  h = fnv1a(h, ds->fold, (size_t)ds->n_dialogue * sizeof *ds->fold);
  return h;
}

/* ---- open / close ----------------------------------------------------------------------- */

/* The metadata reads of hardy_dataset_open on an open file, without MPI; on error the caller
 * closes ds. */
static int read_meta(hardy_dataset_t *ds, hid_t file) {
  int rc = read_attributes(ds, file);
  if (rc == HARDY_OK) rc = check_datasets(ds, file);
  if (rc == HARDY_OK) rc = read_tables(ds, file);
  if (rc == HARDY_OK) ds->fingerprint = fingerprint(ds);
  return rc;
}

/* The structure check's child runs the same reads as the real open (h5.h). */
static int structure_reads(hid_t file) {
  hardy_dataset_t ds;
  memset(&ds, 0, sizeof ds);
  int rc = read_meta(&ds, file);
  hardy_dataset_close(&ds);
  return rc;
}

void hardy_dataset_set_structure_check(bool on) {
  hardy_h5_set_structure_check(on, HARDY_STRUCTURE_CHECK_SECONDS, structure_reads);
}

int hardy_dataset_open(hardy_dataset_t *ds, const char *path, MPI_Comm comm) {
  memset(ds, 0, sizeof *ds);
  if (strlen(path) >= sizeof ds->path)
    return hardy_agree(hardy_fail(HARDY_ERR_INPUT, "data file path is longer than %zu characters",
                                  sizeof ds->path - 1), comm);
  snprintf(ds->path, sizeof ds->path, "%s", path);
  hid_t file = -1;
  HARDY_CHECK(hardy_h5_open_read(path, comm, &file));
  int rc = read_meta(ds, file);
  if (H5Fclose(file) < 0 && rc == HARDY_OK)
    rc = hardy_h5_fail(HARDY_ERR_RUNTIME, path, "closing the file failed");
  rc = hardy_agree(rc, comm);
  if (rc < 0) hardy_dataset_close(ds);
  return rc;
}

void hardy_dataset_close(hardy_dataset_t *ds) {
  if (!ds) return;
  hardy_h5_free_strings(ds->class_names, ds->num_classes);
  free(ds->offset);
  free(ds->split);
  free(ds->fold);
  ds->class_names = NULL;
  ds->offset = NULL;
  ds->split = NULL;
  ds->fold = NULL;
}
