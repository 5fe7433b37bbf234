/* Per-utterance predictions of an evaluation as CSV (train module): `eval --predictions` and
 * `run.save_predictions`. Every rank packs its rows; rank 0 gathers them, orders them by global
 * utterance id, reads the utterance names of those ids from the file and writes FILE.tmp,
 * then renames it, so a reader never sees a partial file. See train.h. */
#include <errno.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hardy/common.h"
#include "hardy/train.h"

/* A packed row: id, label, prediction, tercile, then W values (class probabilities). */
enum { P_ID, P_LABEL, P_PRED, P_TERCILE, P_VALUES };

/* Class prediction: the first largest probability, as the metrics' argmax. */
static int argmax_f(const float *v, int n) {
  int best = 0;
  for (int k = 1; k < n; k++)
    if (v[k] > v[best]) best = k;
  return best;
}

static int cmp_row(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* A CSV field: quoted when it holds a comma, a quote or a line break. */
static void csv_field(FILE *f, const char *s) {
  if (!strpbrk(s, ",\"\n\r")) {
    fputs(s, f);
    return;
  }
  fputc('"', f);
  for (const char *p = s; *p; p++) {
    if (*p == '"') fputc('"', f);
    fputc(*p, f);
  }
  fputc('"', f);
}

/* /utterance/name of the whole file (variable or fixed length strings); rank 0 only. */
static int read_names(const char *path, int64_t n_utt, char ***out) {
  *out = NULL;
  hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (file < 0) return hardy_fail(HARDY_ERR_INPUT, "%s: cannot open to read /utterance/name", path);
  hid_t dset = H5Dopen2(file, "/utterance/name", H5P_DEFAULT);
  hid_t ftype = dset >= 0 ? H5Dget_type(dset) : -1;
  char **names = hardy_calloc((size_t)n_utt + 1, sizeof *names, "utterance names");
  herr_t err = dset < 0 || ftype < 0 || !names ? -1 : 0;
  hid_t mtype = H5Tcopy(H5T_C_S1);
  if (err >= 0 && H5Tis_variable_str(ftype) > 0) {
    H5Tset_size(mtype, H5T_VARIABLE);
    char **vl = hardy_calloc((size_t)n_utt + 1, sizeof *vl, "utterance names");
    err = vl ? H5Dread(dset, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, vl) : -1;
    for (int64_t i = 0; err >= 0 && i < n_utt; i++) names[i] = strdup(vl[i] ? vl[i] : "");
    if (err >= 0) {
      hid_t space = H5Dget_space(dset);
      H5Dvlen_reclaim(mtype, space, H5P_DEFAULT, vl);
      H5Sclose(space);
    }
    free(vl);
  } else if (err >= 0) {
    size_t len = H5Tget_size(ftype);
    H5Tset_size(mtype, len + 1);
    char *flat = hardy_calloc((size_t)n_utt, len + 1, "utterance names");
    err = flat ? H5Dread(dset, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, flat) : -1;
    for (int64_t i = 0; err >= 0 && i < n_utt; i++) names[i] = strndup(flat + (size_t)i * (len + 1), len);
    free(flat);
  }
  H5Tclose(mtype);
  if (ftype >= 0) H5Tclose(ftype);
  if (dset >= 0) H5Dclose(dset);
  H5Fclose(file);
  if (err < 0) {
    free(names);
    return hardy_fail(HARDY_ERR_INPUT, "%s: cannot read /utterance/name", path);
  }
  *out = names;
  return HARDY_OK;
}

static void free_names(char **names, int64_t n) {
  for (int64_t i = 0; names && i < n; i++) free(names[i]);
  free(names);
}

/* Rank 0: the CSV of `n` packed rows of width `width`, sorted by id. */
static int write_csv(const char *path, const hardy_dataset_t *ds, double *rows, int64_t n,
                     int width) {
  bool cls = ds->task == HARDY_TASK_CLASSIFICATION;
  int n_values = width - P_VALUES;
  qsort(rows, (size_t)n, (size_t)width * sizeof(double), cmp_row);
  char **names = NULL;
  HARDY_CHECK(read_names(ds->path, ds->n_utt, &names));
  char tmp[HARDY_PATH_MAX + 8];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE *f = fopen(tmp, "w");
  if (!f) {
    free_names(names, ds->n_utt);
    return hardy_fail(HARDY_ERR_INPUT, "cannot write predictions '%s': %s", tmp, strerror(errno));
  }
  fputs("id,name,label,prediction", f);
  for (int k = 0; cls && k < n_values; k++) {
    char col[300];
    if (ds->class_names) snprintf(col, sizeof col, "prob_%s", ds->class_names[k]);
    else snprintf(col, sizeof col, "prob_class%d", k);
    fputc(',', f);
    csv_field(f, col);
  }
  fputs(",hardness_tercile\n", f);
  static const char *TERCILE[3] = {"easy", "medium", "hard"};
  for (int64_t i = 0; i < n; i++) {
    const double *r = rows + i * width;
    int64_t id = (int64_t)r[P_ID];
    fprintf(f, "%lld,", (long long)id);
    csv_field(f, names[id] ? names[id] : "");
    if (cls) fprintf(f, ",%d,%d", (int)r[P_LABEL], (int)r[P_PRED]);
    else fprintf(f, ",%.9g,%.9g", r[P_LABEL], r[P_PRED]);
    for (int k = 0; k < n_values; k++) fprintf(f, ",%.9g", r[P_VALUES + k]);
    int t = (int)r[P_TERCILE];
    fprintf(f, ",%s\n", t >= 0 && t < 3 ? TERCILE[t] : "");
  }
  free_names(names, ds->n_utt);
  int bad = ferror(f);
  if (fclose(f) != 0 || bad) {
    remove(tmp);
    return hardy_fail(HARDY_ERR_RUNTIME, "cannot write predictions '%s' (disk full?)", tmp);
  }
  if (rename(tmp, path) != 0)
    return hardy_fail(HARDY_ERR_RUNTIME, "cannot rename '%s' to '%s': %s", tmp, path,
                      strerror(errno));
  return HARDY_OK;
}

int hardy_train_write_predictions(const char *path, const hardy_dataset_t *ds,
                                  const hardy_shard_t *sh, const float *values,
                                  const int8_t *tercile, MPI_Comm comm) {
  int rank, nranks;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &nranks);
  bool cls = ds->task == HARDY_TASK_CLASSIFICATION;
  int n_values = cls ? ds->num_classes : 0, width = P_VALUES + n_values;
  int64_t n = sh->n_utt;
  double *mine = hardy_malloc((size_t)HARDY_MAX(n, 1) * (size_t)width * sizeof(double), "prediction rows");
  int st = mine ? HARDY_OK : HARDY_ERR_RUNTIME;
  for (int64_t i = 0; st == HARDY_OK && i < n; i++) {
    double *r = mine + i * width;
    r[P_ID] = (double)sh->utt_id[i];
    r[P_LABEL] = cls ? (double)sh->label[i] : (double)sh->target[i];
    r[P_PRED] = cls ? (double)argmax_f(values + i * n_values, n_values) : (double)values[i];
    r[P_TERCILE] = tercile ? (double)tercile[i] : -1.0;
    for (int k = 0; k < n_values; k++) r[P_VALUES + k] = values[i * n_values + k];
  }
  HARDY_CHECK(hardy_agree(st, comm));
  int count = (int)(n * width);
  int *counts = rank == 0 ? hardy_malloc((size_t)nranks * sizeof(int), "gather counts") : NULL;
  int *displs = rank == 0 ? hardy_malloc((size_t)nranks * sizeof(int), "gather offsets") : NULL;
  if (rank == 0 && (!counts || !displs)) st = HARDY_ERR_RUNTIME;
  int64_t total = sh->total_utt;
  double *all = NULL;
  if (rank == 0 && st == HARDY_OK &&
      !(all = hardy_malloc((size_t)HARDY_MAX(total, 1) * (size_t)width * sizeof(double), "prediction rows")))
    st = HARDY_ERR_RUNTIME;
  st = hardy_agree(st, comm);
  if (st == HARDY_OK) {
    MPI_Gather(&count, 1, MPI_INT, counts, 1, MPI_INT, 0, comm);
    if (rank == 0)
      for (int q = 0, off = 0; q < nranks; q++) displs[q] = off, off += counts[q];
    MPI_Gatherv(mine, count, MPI_DOUBLE, all, counts, displs, MPI_DOUBLE, 0, comm);
    st = rank == 0 ? write_csv(path, ds, all, total, width) : HARDY_OK;
    st = hardy_agree(st, comm);
  }
  free(mine), free(counts), free(displs), free(all);
  return st;
}
