/* Reading checkpoints: opening with plain-file checks first (missing, empty, not HDF5), then
 * validation of everything the file claims (format, layout version, every dataset's type and
 * size, the metadata checksum), then the payload checksums, each rank hashing its slice. The
 * flat arrays are read slice-wise and broadcast; tables are read by global id on any rank
 * count. Every refusal names the file and what is wrong, with HARDY_ERR_INPUT. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "checkpoint_internal.h"
#include "h5/h5.h"
#include "hardy/common.h"
#include "hardy/log.h"

/* ---- opening -------------------------------------------------------------------------------- */

static int precheck(const char *path) {
  struct stat st;
  if (stat(path, &st) != 0)
    return hardy_fail(HARDY_ERR_INPUT, "checkpoint %s: cannot open: %s", path, strerror(errno));
  if (!S_ISREG(st.st_mode))
    return hardy_fail(HARDY_ERR_INPUT, "checkpoint %s: not a regular file", path);
  if (st.st_size == 0)
    return hardy_fail(HARDY_ERR_INPUT, "checkpoint %s: file is empty (0 bytes); use an older "
                      "checkpoint", path);
  if (H5Fis_hdf5(path) <= 0)
    return hardy_fail(HARDY_ERR_INPUT, "checkpoint %s: not an HDF5 file (no HDF5 signature in "
                      "its %lld bytes)", path, (long long)st.st_size);
  return HARDY_OK;
}

/* Collective: precheck on rank 0, open read-only with the MPI-IO driver on every rank. */
static int open_file(const char *path, MPI_Comm comm, hid_t *file) {
  return hardy_h5_open_read_as(path, comm, file, precheck,
                               "truncated or corrupt checkpoint; use an older one");
}

static int check_format(hid_t file, const char *path) {
  char format[64];
  int got = hardy_h5_attr_string(file, "format", format, sizeof format, false, path);
  hardy_error_clear();
  if (got <= 0)
    return hardy_fail(HARDY_ERR_INPUT, "%s: not a hardy checkpoint (no root attribute "
                      "format = \"%s\"); another program's HDF5 file?", path, HARDY_CKPT_FORMAT);
  if (!strcmp(format, "hardy-mer"))
    return hardy_fail(HARDY_ERR_INPUT, "%s: is a hardy-mer dataset file, not a checkpoint; pass "
                      "a checkpoint (DIR/checkpoints/latest or a ckpt-*.h5 file)", path);
  if (strcmp(format, HARDY_CKPT_FORMAT))
    return hardy_fail(HARDY_ERR_INPUT, "%s: format is \"%.32s\", not a hardy checkpoint (\"%s\")",
                      path, format, HARDY_CKPT_FORMAT);
  int64_t layout = 0;
  HARDY_CHECK(ckpt_attr_get(file, "layout_version", H5T_NATIVE_INT64, &layout, path, "/"));
  if (layout != HARDY_CKPT_LAYOUT_VERSION)
    return hardy_fail(HARDY_ERR_INPUT, "%s: checkpoint layout version %lld; this program reads "
                      "layout %d (use the hardy-hpc version that wrote it)", path,
                      (long long)layout, HARDY_CKPT_LAYOUT_VERSION);
  return HARDY_OK;
}

/* Dataset `h5path` must exist with `cls`/`size` elements and dims {d0[, d1]}. */
static int check_dataset(hid_t file, const char *h5path, H5T_class_t cls, size_t size, int ndims,
                         hsize_t d0, hsize_t d1, const char *path) {
  if (H5Lexists(file, h5path, H5P_DEFAULT) <= 0)
    return hardy_fail(HARDY_ERR_INPUT, "%s: dataset %s is missing (incomplete or foreign "
                      "checkpoint)", path, h5path);
  hid_t d = H5Dopen2(file, h5path, H5P_DEFAULT);
  hid_t t = d >= 0 ? H5Dget_type(d) : -1, s = d >= 0 ? H5Dget_space(d) : -1;
  hsize_t dims[2] = {0, 0};
  int nd = s >= 0 ? H5Sget_simple_extent_dims(s, dims, NULL) : -1;
  bool ok = t >= 0 && H5Tget_class(t) == cls && (size == 0 || H5Tget_size(t) == size) &&
            nd == ndims && dims[0] == d0 && (ndims < 2 || dims[1] == d1);
  if (s >= 0) H5Sclose(s);
  if (t >= 0) H5Tclose(t);
  if (d >= 0) H5Dclose(d);
  if (!ok)
    return hardy_fail(HARDY_ERR_INPUT, "%s: dataset %s has the wrong type or shape (expected %s "
                      "[%llu%s%llu]); corrupt checkpoint", path, h5path, hardy_h5_class_name(cls),
                      (unsigned long long)d0, ndims == 2 ? ", " : "",
                      ndims == 2 ? (unsigned long long)d1 : 0ull);
  return HARDY_OK;
}

static int read_index_sum(hid_t file, size_t n, uint64_t *sum, const char *path) {
  char *name = hardy_calloc(n, HARDY_CKPT_TENSOR_NAME_MAX, "index names");
  int64_t *offset = hardy_calloc(n, sizeof *offset, "index offsets");
  int32_t *rank = hardy_calloc(n, sizeof *rank, "index ranks");
  int64_t *shape = hardy_calloc(2 * n, sizeof *shape, "index shapes");
  int rc = name && offset && rank && shape ? HARDY_OK : HARDY_ERR_RUNTIME;
  hid_t name_t = H5Tcopy(H5T_C_S1);
  H5Tset_size(name_t, HARDY_CKPT_TENSOR_NAME_MAX);
  H5Tset_strpad(name_t, H5T_STR_NULLPAD);
  const char *paths[] = {"/model/index/name", "/model/index/offset", "/model/index/rank",
                         "/model/index/shape"};
  hid_t types[] = {name_t, H5T_NATIVE_INT64, H5T_NATIVE_INT32, H5T_NATIVE_INT64};
  void *bufs[] = {name, offset, rank, shape};
  for (int p = 0; p < 4 && rc == HARDY_OK && n > 0; p++) {
    hid_t d = H5Dopen2(file, paths[p], H5P_DEFAULT);
    if (d < 0 || H5Dread(d, types[p], H5S_ALL, H5S_ALL, H5P_DEFAULT, bufs[p]) < 0)
      rc = hardy_h5_fail(HARDY_ERR_INPUT, path, "cannot read the tensor index");
    if (d >= 0) H5Dclose(d);
  }
  if (rc == HARDY_OK) *sum = ckpt_index_sum(name, offset, rank, shape, n);
  H5Tclose(name_t);
  free(name), free(offset), free(rank), free(shape);
  return rc;
}

static int read_tables_meta(hid_t file, ckpt_meta_t *meta, const char *path) {
  hardy_ckpt_info_t *in = &meta->info;
  if (in->n_tables < 0 || in->n_tables > HARDY_CKPT_MAX_TABLES)
    return hardy_fail(HARDY_ERR_INPUT, "%s: %d tables (corrupt checkpoint)", path, in->n_tables);
  char *names = NULL;
  HARDY_CHECK(ckpt_attr_get_str(file, "table_names", &names, true, path, "/"));
  char *save = NULL, *tok = strtok_r(names, "\n", &save);
  int rc = HARDY_OK;
  for (int t = 0; t < in->n_tables && rc == HARDY_OK; t++, tok = strtok_r(NULL, "\n", &save)) {
    hardy_ckpt_table_info_t *ti = &in->tables[t];
    if (!tok || strlen(tok) >= sizeof ti->name) {
      rc = hardy_fail(HARDY_ERR_INPUT, "%s: table list does not match n_tables = %d", path,
                      in->n_tables);
      break;
    }
    snprintf(ti->name, sizeof ti->name, "%s", tok);
    snprintf(in->table_names[t], sizeof in->table_names[t], "%s", tok);
    char g[128], where[160];
    snprintf(g, sizeof g, "/tables/%s", tok);
    hid_t grp = H5Lexists(file, "/tables", H5P_DEFAULT) > 0 && H5Lexists(file, g, H5P_DEFAULT) > 0
                    ? H5Gopen2(file, g, H5P_DEFAULT) : -1;
    if (grp < 0) {
      rc = hardy_fail(HARDY_ERR_INPUT, "%s: table group %s is missing", path, g);
      break;
    }
    int64_t v[5];
    const char *names5[] = {"type", "width", "n_rows", "ids_contiguous", "first_id"};
    for (int i = 0; i < 5 && rc == HARDY_OK; i++)
      rc = ckpt_attr_get(grp, names5[i], H5T_NATIVE_INT64, &v[i], path, g);
    if (rc == HARDY_OK)
      rc = ckpt_attr_get(grp, "checksum", H5T_NATIVE_UINT64, &meta->table_sum[t], path, g);
    H5Gclose(grp);
    if (rc < 0) break;
    if (v[0] < HARDY_CKPT_F32 || v[0] > HARDY_CKPT_U8 || v[1] < 1 || v[1] > INT32_MAX || v[2] < 0) {
      rc = hardy_fail(HARDY_ERR_INPUT, "%s: table %s has type %lld, width %lld, %lld rows "
                      "(corrupt checkpoint)", path, g, (long long)v[0], (long long)v[1],
                      (long long)v[2]);
      break;
    }
    ti->type = (int)v[0], ti->width = (int)v[1], ti->n_rows = v[2];
    ti->ids_contiguous = v[3] != 0, ti->first_id = v[4];
    snprintf(where, sizeof where, "%s/id", g);
    rc = check_dataset(file, where, H5T_INTEGER, 8, 1, (hsize_t)v[2], 0, path);
    snprintf(where, sizeof where, "%s/data", g);
    if (rc == HARDY_OK)
      rc = check_dataset(file, where, ti->type == HARDY_CKPT_F32 ? H5T_FLOAT : H5T_INTEGER,
                         ckpt_type_size(ti->type), 2, (hsize_t)v[2], (hsize_t)v[1], path);
  }
  free(names);
  return rc;
}

/* Everything but the payload: local (every rank reads the same metadata). */
static int read_meta(hid_t file, ckpt_meta_t *meta, const char *path) {
  HARDY_CHECK(check_format(file, path));
  uint64_t stored = 0;
  HARDY_CHECK(ckpt_meta_read(file, meta, &stored, path));
  hardy_ckpt_info_t *in = &meta->info;
  snprintf(in->path, sizeof in->path, "%s", path);
  HARDY_CHECK(ckpt_text_get(file, "/meta/config_text", &in->config_text, path));
  HARDY_CHECK(ckpt_text_get(file, "/meta/data_path", &in->data_path, path));
  HARDY_CHECK(ckpt_text_get(file, "/meta/best_metrics_json", &in->best_metrics_json, path));
  HARDY_CHECK(ckpt_text_get(file, "/meta/results_json", &in->results_json, path));
  if (H5Lexists(file, "/meta/standardize_json", H5P_DEFAULT) > 0)
    HARDY_CHECK(ckpt_text_get(file, "/meta/standardize_json", &in->standardize_json, path));
  else if (!(in->standardize_json = hardy_calloc(1, 1, "checkpoint text")))
    return HARDY_ERR_RUNTIME;
  HARDY_CHECK(read_tables_meta(file, meta, path));
  for (int a = 0; a < CKPT_N_ARRAYS; a++)
    if (a != CKPT_BEST || in->has_best_params)
      HARDY_CHECK(check_dataset(file, ckpt_array_path[a], H5T_FLOAT, 4, 1, in->n_params, 0, path));
  hsize_t nt = in->n_tensors;
  HARDY_CHECK(check_dataset(file, "/model/index/name", H5T_STRING, HARDY_CKPT_TENSOR_NAME_MAX, 1, nt, 0, path));
  HARDY_CHECK(check_dataset(file, "/model/index/offset", H5T_INTEGER, 8, 1, nt, 0, path));
  HARDY_CHECK(check_dataset(file, "/model/index/rank", H5T_INTEGER, 4, 1, nt, 0, path));
  HARDY_CHECK(check_dataset(file, "/model/index/shape", H5T_INTEGER, 8, 2, nt, 2, path));
  uint64_t index_sum = 0;
  HARDY_CHECK(read_index_sum(file, in->n_tensors, &index_sum, path));
  if (index_sum != meta->index_sum)
    return hardy_fail(HARDY_ERR_INPUT, "%s: checksum mismatch in /model/index: the checkpoint "
                      "is corrupt; use an older one", path);
  if (in->nranks_written < 1 || ckpt_meta_sum(meta) != stored)
    return hardy_fail(HARDY_ERR_INPUT, "%s: metadata checksum mismatch: the checkpoint's "
                      "attributes or texts are corrupt; use an older one", path);
  return HARDY_OK;
}

/* ---- payload verification -------------------------------------------------------------- */

#define VERIFY_CHUNK_FLOATS ((size_t)1 << 22) /* 16 MiB per rank per collective read */

static int sum_mismatch(uint64_t got, uint64_t want, const char *path, const char *h5path) {
  if (got == want) return HARDY_OK;
  return hardy_fail(HARDY_ERR_INPUT, "%s: checksum mismatch in %s (stored %016llx, data "
                    "%016llx): the checkpoint is corrupt; use an older one", path, h5path,
                    (unsigned long long)want, (unsigned long long)got);
}

/* Read this rank's slice of a flat array in bounded chunks (every rank makes the same number
 * of collective calls) and return its checksum share. dst: NULL to use a scratch buffer, or
 * the whole [n] destination. */
static int array_read_slice(hid_t file, const char *h5path, size_t n, float *dst, MPI_Comm comm,
                            uint64_t *share, const char *path) {
  int rank, nranks;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &nranks);
  size_t lo, hi, most = 0;
  for (int r = 0; r < nranks; r++) {
    ckpt_slice(n, r, nranks, &lo, &hi);
    most = HARDY_MAX(most, hi - lo);
  }
  ckpt_slice(n, rank, nranks, &lo, &hi);
  size_t chunk = dst ? HARDY_MAX(most, 1) : VERIFY_CHUNK_FLOATS;
  float *scratch = dst ? NULL : hardy_malloc(chunk * sizeof(float), "checkpoint verify buffer");
  hid_t d = H5Dopen2(file, h5path, H5P_DEFAULT);
  hid_t dxpl = hardy_h5_dxpl_collective();
  int rc = (dst || scratch) && d >= 0 && dxpl >= 0
               ? HARDY_OK : hardy_h5_fail(HARDY_ERR_RUNTIME, path, "cannot set up a read");
  rc = hardy_agree(rc, comm);
  *share = 0;
  for (size_t off = 0; rc == HARDY_OK && off < most; off += chunk) {
    size_t a = HARDY_MIN(lo + off, hi), b = HARDY_MIN(lo + off + chunk, hi);
    hardy_row_range_t r = {(int64_t)a, (int64_t)(b - a)};
    float *buf = dst ? dst + a : scratch;
    rc = hardy_h5_read_rows(d, H5T_NATIVE_FLOAT, dxpl, &r, b > a ? 1 : 0, buf, path, h5path);
    if (rc == HARDY_OK) *share += ckpt_blocks_sum(buf, b - a, a / CKPT_BLOCK_FLOATS);
    rc = hardy_agree(rc, comm);
  }
  if (dxpl >= 0) H5Pclose(dxpl);
  if (d >= 0) H5Dclose(d);
  free(scratch);
  return rc;
}

static int table_verify(hid_t file, const hardy_ckpt_table_info_t *ti, uint64_t want,
                        MPI_Comm comm, const char *path) {
  int rank, nranks;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &nranks);
  int64_t lo, hi;
  ckpt_row_slice(ti->n_rows, rank, nranks, &lo, &hi);
  size_t row_bytes = ckpt_type_size(ti->type) * (size_t)ti->width;
  int64_t *id = hardy_malloc((size_t)(hi - lo) * 8, "checkpoint table ids");
  void *data = hardy_malloc((size_t)(hi - lo) * row_bytes, "checkpoint table rows");
  char h5id[160], h5data[160];
  snprintf(h5id, sizeof h5id, "/tables/%s/id", ti->name);
  snprintf(h5data, sizeof h5data, "/tables/%s/data", ti->name);
  hid_t did = H5Dopen2(file, h5id, H5P_DEFAULT), ddata = H5Dopen2(file, h5data, H5P_DEFAULT);
  hid_t dxpl = hardy_h5_dxpl_collective();
  int rc = id && data && did >= 0 && ddata >= 0 && dxpl >= 0
               ? HARDY_OK : hardy_h5_fail(HARDY_ERR_RUNTIME, path, "cannot set up a table read");
  rc = hardy_agree(rc, comm);
  hardy_row_range_t r = {lo, hi - lo};
  uint64_t share = 0, sum = 0;
  if (rc == HARDY_OK && ti->n_rows > 0) {
    rc = hardy_h5_read_rows(did, H5T_NATIVE_INT64, dxpl, &r, hi > lo, id, path, h5id);
    if (rc == HARDY_OK)
      rc = hardy_h5_read_rows(ddata, ckpt_mem_type(ti->type), dxpl, &r, hi > lo, data, path, h5data);
    rc = hardy_agree(rc, comm);
  }
  if (rc == HARDY_OK) {
    share = ckpt_rows_sum(id, data, hi - lo, row_bytes, lo);
    MPI_Allreduce(&share, &sum, 1, MPI_UINT64_T, MPI_SUM, comm);
    rc = sum_mismatch(sum, want, path, h5data);
  }
  if (dxpl >= 0) H5Pclose(dxpl);
  if (did >= 0) H5Dclose(did);
  if (ddata >= 0) H5Dclose(ddata);
  free(id), free(data);
  return rc;
}

static int verify_payload(hid_t file, const ckpt_meta_t *meta, MPI_Comm comm, const char *path) {
  const hardy_ckpt_info_t *in = &meta->info;
  for (int a = 0; a < CKPT_N_ARRAYS; a++) {
    if (a == CKPT_BEST && !in->has_best_params) continue;
    uint64_t share = 0, sum = 0;
    HARDY_CHECK(array_read_slice(file, ckpt_array_path[a], in->n_params, NULL, comm, &share, path));
    MPI_Allreduce(&share, &sum, 1, MPI_UINT64_T, MPI_SUM, comm);
    HARDY_CHECK(sum_mismatch(sum, meta->array_sum[a], path, ckpt_array_path[a]));
  }
  for (int t = 0; t < in->n_tables; t++)
    HARDY_CHECK(table_verify(file, &in->tables[t], meta->table_sum[t], comm, path));
  return HARDY_OK;
}

void hardy_ckpt_info_free(hardy_ckpt_info_t *info) {
  free(info->best_metrics_json), free(info->results_json);
  free(info->config_text), free(info->data_path), free(info->standardize_json);
  info->best_metrics_json = info->results_json = info->config_text = info->data_path = NULL;
  info->standardize_json = NULL;
}

/* Collective open + metadata validation (agreed); *file open on success. */
static int open_meta(const char *path, ckpt_meta_t *meta, MPI_Comm comm, hid_t *file) {
  memset(meta, 0, sizeof *meta);
  HARDY_CHECK(open_file(path, comm, file));
  int rc = hardy_agree(read_meta(*file, meta, path), comm);
  if (rc < 0) {
    hardy_ckpt_info_free(&meta->info);
    H5Fclose(*file);
    *file = -1;
  }
  return rc;
}

int hardy_ckpt_open(const char *path, hardy_ckpt_info_t *info, MPI_Comm comm) {
  ckpt_meta_t meta;
  hid_t file;
  memset(info, 0, sizeof *info);
  HARDY_CHECK(open_meta(path, &meta, comm, &file));
  int rc = verify_payload(file, &meta, comm, path); /* agreed inside */
  H5Fclose(file);
  if (rc < 0) {
    hardy_ckpt_info_free(&meta.info);
    return rc;
  }
  *info = meta.info;
  return HARDY_OK;
}

/* ---- reading ------------------------------------------------------------------------------- */

int hardy_ckpt_read_model(const char *path, const hardy_ckpt_info_t *info, float *params,
                          float *adam_m, float *adam_v, float *best_params, MPI_Comm comm) {
  ckpt_meta_t meta;
  hid_t file;
  double t0 = hardy_now(), bytes = 0;
  HARDY_CHECK(open_meta(path, &meta, comm, &file));
  int rank, nranks;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &nranks);
  int rc = HARDY_OK;
  if (meta.info.n_params != info->n_params || (best_params && !meta.info.has_best_params))
    rc = hardy_fail(HARDY_ERR_INPUT, "%s: changed since it was opened (%zu parameters%s)", path,
                    meta.info.n_params, meta.info.has_best_params ? "" : ", no best parameters");
  rc = hardy_agree(rc, comm);
  float *dst[CKPT_N_ARRAYS] = {params, adam_m, adam_v, best_params};
  for (int a = 0; a < CKPT_N_ARRAYS && rc == HARDY_OK; a++) {
    if (!dst[a]) continue;
    uint64_t share = 0, sum = 0;
    rc = array_read_slice(file, ckpt_array_path[a], info->n_params, dst[a], comm, &share, path);
    if (rc < 0) break;
    MPI_Allreduce(&share, &sum, 1, MPI_UINT64_T, MPI_SUM, comm);
    rc = sum_mismatch(sum, meta.array_sum[a], path, ckpt_array_path[a]);
    bytes += 4.0 * (double)info->n_params;
    /* every rank holds one verified slice; broadcasting them replicates the array */
    for (int r = 0; r < nranks && rc == HARDY_OK; r++) {
      size_t lo, hi;
      ckpt_slice(info->n_params, r, nranks, &lo, &hi);
      for (size_t off = lo; off < hi; off += (size_t)1 << 28) {
        int count = (int)HARDY_MIN(hi - off, (size_t)1 << 28);
        MPI_Bcast(dst[a] + off, count, MPI_FLOAT, r, comm);
      }
    }
  }
  hardy_ckpt_info_free(&meta.info);
  H5Fclose(file);
  double dt = hardy_now() - t0;
  if (rc == HARDY_OK)
    hardy_log_info("checkpoint %s: read %.1f MB in %.2f s (%.0f MB/s)", path, bytes / 1e6, dt,
                   bytes / 1e6 / (dt > 0 ? dt : 1e-9));
  return rc;
}

typedef struct {
  int64_t pos; /* row in the file */
  int64_t at;  /* index in the request */
} want_t;

static int by_pos(const void *a, const void *b) {
  int64_t x = ((const want_t *)a)->pos, y = ((const want_t *)b)->pos;
  return (x > y) - (x < y);
}

/* File rows of the requested ids: arithmetic when ids are contiguous, else a binary search in
 * the id column (read whole: 8 bytes per utterance). */
static int locate_rows(hid_t file, const hardy_ckpt_table_info_t *ti, const int64_t *id,
                       int64_t n, want_t *w, MPI_Comm comm, const char *path) {
  int64_t *col = NULL;
  int rc = HARDY_OK;
  if (!ti->ids_contiguous) {
    char h5id[160];
    snprintf(h5id, sizeof h5id, "/tables/%s/id", ti->name);
    col = hardy_malloc((size_t)ti->n_rows * 8, "checkpoint table id column");
    hid_t d = H5Dopen2(file, h5id, H5P_DEFAULT), dxpl = hardy_h5_dxpl_collective();
    hardy_row_range_t all = {0, ti->n_rows};
    rc = hardy_agree(col && d >= 0 && dxpl >= 0 ? HARDY_OK : HARDY_ERR_RUNTIME, comm);
    if (rc == HARDY_OK && ti->n_rows > 0)
      rc = hardy_agree(hardy_h5_read_rows(d, H5T_NATIVE_INT64, dxpl, &all, 1, col, path, h5id), comm);
    if (dxpl >= 0) H5Pclose(dxpl);
    if (d >= 0) H5Dclose(d);
  }
  for (int64_t i = 0; i < n && rc == HARDY_OK; i++) {
    int64_t pos = -1;
    if (ti->ids_contiguous) {
      pos = id[i] - ti->first_id;
      if (pos < 0 || pos >= ti->n_rows) pos = -1;
    } else {
      int64_t a = 0, b = ti->n_rows;
      while (a < b) {
        int64_t m = a + (b - a) / 2;
        if (col[m] < id[i]) a = m + 1;
        else b = m;
      }
      pos = a < ti->n_rows && col[a] == id[i] ? a : -1;
    }
    if (pos < 0)
      rc = hardy_fail(HARDY_ERR_INPUT, "%s: table '%s' has no row for utterance id %lld", path,
                      ti->name, (long long)id[i]);
    w[i].pos = pos;
    w[i].at = i;
  }
  free(col);
  return rc;
}

/* Read the rows of w[0..n) (sorted by pos) as runs of consecutive file rows into out. */
static int read_runs(hid_t file, const hardy_ckpt_table_info_t *ti, const want_t *w, int64_t n,
                     void *out, MPI_Comm comm, const char *path) {
  size_t row_bytes = ckpt_type_size(ti->type) * (size_t)ti->width;
  hardy_row_range_t *runs = hardy_malloc((size_t)n * sizeof *runs, "checkpoint row runs");
  int64_t n_runs = 0, n_rows = 0;
  for (int64_t i = 0; runs && i < n; i++) {
    if (i > 0 && w[i].pos == w[i - 1].pos) continue;
    if (n_runs && runs[n_runs - 1].first + runs[n_runs - 1].count == w[i].pos) runs[n_runs - 1].count++;
    else runs[n_runs++] = (hardy_row_range_t){w[i].pos, 1};
    n_rows++;
  }
  unsigned char *rows = hardy_malloc((size_t)n_rows * row_bytes, "checkpoint table rows");
  char h5data[160];
  snprintf(h5data, sizeof h5data, "/tables/%s/data", ti->name);
  hid_t d = H5Dopen2(file, h5data, H5P_DEFAULT), dxpl = hardy_h5_dxpl_collective();
  int rc = hardy_agree(runs && rows && d >= 0 && dxpl >= 0 ? HARDY_OK : HARDY_ERR_RUNTIME, comm);
  if (rc == HARDY_OK)
    rc = hardy_agree(hardy_h5_read_rows(d, ckpt_mem_type(ti->type), dxpl, runs, n_runs, rows,
                                        path, h5data), comm);
  for (int64_t i = 0, k = -1; rc == HARDY_OK && i < n; i++) {
    if (i == 0 || w[i].pos != w[i - 1].pos) k++;
    memcpy((unsigned char *)out + (size_t)w[i].at * row_bytes, rows + (size_t)k * row_bytes,
           row_bytes);
  }
  if (dxpl >= 0) H5Pclose(dxpl);
  if (d >= 0) H5Dclose(d);
  free(runs), free(rows);
  return rc;
}

int hardy_ckpt_read_table(const char *path, const char *name, const int64_t *id, int64_t n,
                          int type, int width, void *out, MPI_Comm comm) {
  ckpt_meta_t meta;
  hid_t file;
  HARDY_CHECK(open_meta(path, &meta, comm, &file));
  const hardy_ckpt_table_info_t *ti = NULL;
  for (int t = 0; t < meta.info.n_tables; t++)
    if (!strcmp(meta.info.tables[t].name, name)) ti = &meta.info.tables[t];
  int rc = HARDY_OK;
  if (!ti)
    rc = hardy_fail(HARDY_ERR_INPUT, "%s: has no table '%s'", path, name);
  else if (ti->type != type || ti->width != width)
    rc = hardy_fail(HARDY_ERR_INPUT, "%s: table '%s' holds %s x %d per row, the reader expects "
                    "%s x %d", path, name, ckpt_type_name(ti->type), ti->width,
                    ckpt_type_name(type), width);
  want_t *w = hardy_malloc((size_t)HARDY_MAX(n, 0) * sizeof *w, "checkpoint row requests");
  if (rc == HARDY_OK && (n < 0 || !w))
    rc = hardy_fail(HARDY_ERR_INPUT, "read_table: %lld rows requested", (long long)n);
  rc = hardy_agree(rc, comm);
  if (rc == HARDY_OK) rc = hardy_agree(locate_rows(file, ti, id, n, w, comm, path), comm);
  if (rc == HARDY_OK) {
    qsort(w, (size_t)n, sizeof *w, by_pos);
    rc = read_runs(file, ti, w, n, out, comm, path);
  }
  free(w);
  hardy_ckpt_info_free(&meta.info);
  H5Fclose(file);
  return rc;
}
