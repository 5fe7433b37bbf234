/* Writing a checkpoint (hardy_ckpt_save): validate the state on every rank, checksum each
 * rank's block-aligned slice of the replicated flat buffers, bring the per-utterance tables
 * into global id order, create DIR/NAME.h5.tmp with the MPI-IO driver (1 MiB alignment,
 * collective metadata), write everything with collective hyperslab writes, close, fsync on
 * every rank, and only then let rank 0 rename it, flush the directory, update DIR/latest (and
 * DIR/best) and apply retention. Every step's status is agreed across ranks, so a failure on
 * any rank (unwritable directory, disk full) returns the same error everywhere and leaves the
 * previous checkpoint and pointers untouched. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "checkpoint_internal.h"
#include "h5/h5.h"
#include "hardy/common.h"
#include "hardy/fault.h"
#include "hardy/log.h"

#ifndef HARDY_VERSION
#define HARDY_VERSION "unknown"
#endif

/* ---- validation and metadata ------------------------------------------------------------- */

static int check_state(const hardy_ckpt_state_t *st, const char *name, int keep) {
  if (!ckpt_name_ok(name))
    return hardy_fail(HARDY_ERR_INPUT, "checkpoint name '%s' must be 1..%d characters of "
                      "[A-Za-z0-9_.-] not starting with '.'", name, HARDY_CKPT_NAME_MAX - 1);
  if (keep < 0) return hardy_fail(HARDY_ERR_INPUT, "checkpoint keep = %d must be >= 0", keep);
  if (st->n_params > 0 && (!st->params || !st->adam_m || !st->adam_v))
    return hardy_fail(HARDY_ERR_INPUT, "checkpoint state: params, adam_m and adam_v are required");
  if (st->n_tables < 0 || st->n_tables > HARDY_CKPT_MAX_TABLES)
    return hardy_fail(HARDY_ERR_INPUT, "checkpoint state: %d tables (at most %d)", st->n_tables,
                      HARDY_CKPT_MAX_TABLES);
  if (st->n_tensors > 0 && !st->tensors)
    return hardy_fail(HARDY_ERR_INPUT, "checkpoint state: n_tensors = %zu but no index",
                      st->n_tensors);
  for (size_t i = 0; i < st->n_tensors; i++) {
    const hardy_tensor_info_t *t = &st->tensors[i];
    int64_t numel = t->rank == 0 ? 1 : t->shape[0] * (t->rank == 2 ? t->shape[1] : 1);
    if (!t->name || strlen(t->name) >= HARDY_CKPT_TENSOR_NAME_MAX || t->rank < 0 || t->rank > 2 ||
        t->shape[0] < 0 || (t->rank == 2 && t->shape[1] < 0) || t->offset > st->n_params ||
        (size_t)numel > st->n_params - t->offset)
      return hardy_fail(HARDY_ERR_INPUT, "checkpoint tensor index entry %zu ('%.64s', rank %d, "
                        "offset %zu) does not fit the %zu parameters or the %d-byte name limit",
                        i, t->name ? t->name : "(null)", t->rank, t->offset, st->n_params,
                        HARDY_CKPT_TENSOR_NAME_MAX);
  }
  for (int i = 0; i < st->n_tables; i++)
    for (int j = 0; j < i; j++)
      if (!strcmp(st->tables[i].name, st->tables[j].name))
        return hardy_fail(HARDY_ERR_INPUT, "checkpoint table '%s' given twice", st->tables[i].name);
  return HARDY_OK;
}

static void fill_meta(const hardy_ckpt_state_t *st, int nranks, ckpt_meta_t *meta) {
  memset(meta, 0, sizeof *meta);
  hardy_ckpt_info_t *in = &meta->info;
  snprintf(in->version, sizeof in->version, "%s", HARDY_VERSION);
  in->layout_version = HARDY_CKPT_LAYOUT_VERSION;
  in->nranks_written = nranks;
  in->n_params = st->n_params;
  in->adam_step = st->adam_step;
  in->run_index = st->run_index;
  in->phase = st->phase;
  in->epoch = st->epoch;
  in->step_in_epoch = st->step_in_epoch;
  in->global_step = st->global_step;
  in->seed = st->seed;
  in->best_value = st->best_value;
  in->best_epoch = st->best_epoch;
  in->has_best_params = st->best_params != NULL;
  /* the writer only reads these strings; the struct's non-const type serves the reader */
  in->best_metrics_json = (char *)(st->best_metrics_json ? st->best_metrics_json : "");
  in->results_json = (char *)(st->results_json ? st->results_json : "");
  in->config_text = (char *)(st->config_text ? st->config_text : "");
  in->data_path = (char *)(st->data_path ? st->data_path : "");
  in->standardize_json = (char *)(st->standardize_json ? st->standardize_json : "");
  in->data_fingerprint = st->data_fingerprint;
  in->n_tensors = st->n_tensors;
  in->n_tables = st->n_tables;
}

static const float *array_of(const hardy_ckpt_state_t *st, int a) {
  return a == CKPT_PARAMS ? st->params : a == CKPT_ADAM_M ? st->adam_m
                                       : a == CKPT_ADAM_V ? st->adam_v
                                                          : st->best_params;
}

/* ---- the tensor index, packed as its datasets store it ------------------------------------ */

typedef struct {
  char *name;      /* [T, HARDY_CKPT_TENSOR_NAME_MAX] zero padded */
  int64_t *offset; /* [T] */
  int32_t *rank;   /* [T] */
  int64_t *shape;  /* [T, 2] */
} packed_index_t;

static int index_pack(const hardy_ckpt_state_t *st, packed_index_t *ix) {
  size_t t = st->n_tensors;
  ix->name = hardy_calloc(t, HARDY_CKPT_TENSOR_NAME_MAX, "checkpoint index names");
  ix->offset = hardy_calloc(t, sizeof(int64_t), "checkpoint index offsets");
  ix->rank = hardy_calloc(t, sizeof(int32_t), "checkpoint index ranks");
  ix->shape = hardy_calloc(2 * t, sizeof(int64_t), "checkpoint index shapes");
  if (!ix->name || !ix->offset || !ix->rank || !ix->shape) return HARDY_ERR_RUNTIME;
  for (size_t i = 0; i < t; i++) {
    memcpy(ix->name + i * HARDY_CKPT_TENSOR_NAME_MAX, st->tensors[i].name,
           strlen(st->tensors[i].name));
    ix->offset[i] = (int64_t)st->tensors[i].offset;
    ix->rank[i] = st->tensors[i].rank;
    ix->shape[2 * i] = st->tensors[i].shape[0];
    ix->shape[2 * i + 1] = st->tensors[i].shape[1];
  }
  return HARDY_OK;
}

uint64_t ckpt_index_sum(const char *name, const int64_t *offset, const int32_t *rank,
                        const int64_t *shape, size_t n) {
  uint64_t h = ckpt_xxh64(name, n * HARDY_CKPT_TENSOR_NAME_MAX, 1);
  h = ckpt_xxh64(offset, n * sizeof *offset, h);
  h = ckpt_xxh64(rank, n * sizeof *rank, h);
  return ckpt_xxh64(shape, 2 * n * sizeof *shape, h);
}

static void index_free(packed_index_t *ix) {
  free(ix->name), free(ix->offset), free(ix->rank), free(ix->shape);
}

/* ---- writing ------------------------------------------------------------------------------- */

/* MPI-IO hints from HARDY_CKPT_MPIIO_HINTS="key=value,key=value" (e.g. Lustre striping or
 * ROMIO collective buffering), so sites can tune without rebuilding. */
static MPI_Info hints_from_env(void) {
  const char *env = getenv("HARDY_CKPT_MPIIO_HINTS");
  if (!env || !*env) return MPI_INFO_NULL;
  MPI_Info info;
  MPI_Info_create(&info);
  char buf[1024];
  snprintf(buf, sizeof buf, "%s", env);
  char *save = NULL;
  for (char *kv = strtok_r(buf, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
    char *eq = strchr(kv, '=');
    if (!eq) continue;
    *eq = '\0';
    MPI_Info_set(info, kv, eq + 1);
  }
  return info;
}

static hid_t create_file(const char *tmp, MPI_Comm comm) {
  MPI_Info info = hints_from_env();
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  hid_t f = -1;
  if (fapl >= 0 && H5Pset_fapl_mpio(fapl, comm, info) >= 0 &&
      H5Pset_alignment(fapl, CKPT_ALIGN_BYTES, CKPT_ALIGN_BYTES) >= 0 &&
      H5Pset_all_coll_metadata_ops(fapl, 1) >= 0 && H5Pset_coll_metadata_write(fapl, 1) >= 0)
    f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  if (fapl >= 0) H5Pclose(fapl);
  if (info != MPI_INFO_NULL) MPI_Info_free(&info);
  return f;
}

static int write_index(hid_t file, const packed_index_t *ix, size_t n, hid_t dxpl, int rank,
                       const char *path) {
  hsize_t d1[1] = {n}, d2[2] = {n, 2};
  hid_t name_t = H5Tcopy(H5T_C_S1);
  H5Tset_size(name_t, HARDY_CKPT_TENSOR_NAME_MAX);
  H5Tset_strpad(name_t, H5T_STR_NULLPAD);
  struct {
    const char *h5path;
    hid_t ftype, mtype;
    int ndims;
    const hsize_t *dims;
    const void *buf;
  } parts[] = {
      {"/model/index/name", name_t, name_t, 1, d1, ix->name},
      {"/model/index/offset", H5T_STD_I64LE, H5T_NATIVE_INT64, 1, d1, ix->offset},
      {"/model/index/rank", H5T_STD_I32LE, H5T_NATIVE_INT32, 1, d1, ix->rank},
      {"/model/index/shape", H5T_STD_I64LE, H5T_NATIVE_INT64, 2, d2, ix->shape},
  };
  int rc = HARDY_OK;
  for (size_t p = 0; p < sizeof parts / sizeof parts[0] && rc == HARDY_OK; p++) {
    hid_t d = ckpt_dataset_create(file, parts[p].h5path, parts[p].ftype, parts[p].ndims,
                                  parts[p].dims);
    if (d < 0) {
      rc = hardy_h5_fail(HARDY_ERR_RUNTIME, path, "cannot create the tensor index");
      break;
    }
    /* the index is small: rank 0 writes it, the others take part with empty selections */
    hardy_row_range_t all = {0, (int64_t)n};
    if (n > 0)
      rc = hardy_h5_write_rows(d, parts[p].mtype, dxpl, &all, rank == 0 ? 1 : 0, parts[p].buf,
                               path, parts[p].h5path);
    H5Dclose(d);
  }
  H5Tclose(name_t);
  return rc;
}

static int write_array(hid_t file, const char *h5path, const float *data, size_t n, hid_t dxpl,
                       int rank, int nranks, const char *path) {
  hsize_t dims[1] = {n};
  hid_t d = ckpt_dataset_create(file, h5path, H5T_IEEE_F32LE, 1, dims);
  if (d < 0) return hardy_h5_fail(HARDY_ERR_RUNTIME, path, "cannot create a dataset");
  size_t lo, hi;
  ckpt_slice(n, rank, nranks, &lo, &hi);
  hardy_row_range_t mine = {(int64_t)lo, (int64_t)(hi - lo)};
  int rc = HARDY_OK;
  if (n > 0)
    rc = hardy_h5_write_rows(d, H5T_NATIVE_FLOAT, dxpl, &mine, hi > lo ? 1 : 0, data + lo, path,
                             h5path);
  H5Dclose(d);
  return rc;
}

static int write_table(hid_t file, const hardy_ckpt_table_t *t, const ckpt_sorted_t *s,
                       uint64_t sum, hid_t dxpl, const char *path, MPI_Comm comm) {
  char gpath[128], h5path[160];
  snprintf(gpath, sizeof gpath, "/tables/%s", t->name);
  hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
  H5Pset_create_intermediate_group(lcpl, 1);
  hid_t g = H5Gcreate2(file, gpath, lcpl, H5P_DEFAULT, H5P_DEFAULT);
  H5Pclose(lcpl);
  if (g < 0) return hardy_h5_fail(HARDY_ERR_RUNTIME, path, "cannot create a table group");
  int64_t attrs[] = {t->type, t->width, s->n_total, s->contiguous, s->first_id};
  const char *names[] = {"type", "width", "n_rows", "ids_contiguous", "first_id"};
  int bad = ckpt_attr_put_str(g, "type_name", ckpt_type_name(t->type));
  for (int i = 0; i < 5; i++) bad |= ckpt_attr_put(g, names[i], H5T_STD_I64LE, H5T_NATIVE_INT64, &attrs[i]);
  bad |= ckpt_attr_put(g, "checksum", H5T_STD_U64LE, H5T_NATIVE_UINT64, &sum);
  H5Gclose(g);
  if (bad) return hardy_h5_fail(HARDY_ERR_RUNTIME, path, "cannot write table attributes");
  hsize_t d1[1] = {(hsize_t)s->n_total}, d2[2] = {(hsize_t)s->n_total, (hsize_t)t->width};
  hardy_row_range_t mine = {s->row_lo, s->n_rows};
  snprintf(h5path, sizeof h5path, "%s/id", gpath);
  hid_t d = ckpt_dataset_create(file, h5path, H5T_STD_I64LE, 1, d1);
  int rc = d < 0 ? hardy_h5_fail(HARDY_ERR_RUNTIME, path, "cannot create a table") : HARDY_OK;
  if (rc == HARDY_OK && s->n_total > 0)
    rc = hardy_h5_write_rows(d, H5T_NATIVE_INT64, dxpl, &mine, s->n_rows ? 1 : 0, s->id, path,
                             h5path);
  if (d >= 0) H5Dclose(d);
  rc = hardy_agree(rc, comm); /* before the next collective write (see write_contents) */
  if (rc < 0) return rc;
  snprintf(h5path, sizeof h5path, "%s/data", gpath);
  d = ckpt_dataset_create(file, h5path, ckpt_file_type(t->type), 2, d2);
  rc = d < 0 ? hardy_h5_fail(HARDY_ERR_RUNTIME, path, "cannot create a table") : HARDY_OK;
  if (rc == HARDY_OK && s->n_total > 0)
    rc = hardy_h5_write_rows(d, ckpt_mem_type(t->type), dxpl, &mine, s->n_rows ? 1 : 0, s->data,
                             path, h5path);
  if (d >= 0) H5Dclose(d);
  return rc;
}

typedef struct {
  const hardy_ckpt_state_t *st;
  const ckpt_meta_t *meta;
  const packed_index_t *ix;
  const ckpt_sorted_t *sorted;
  int rank, nranks;
  const char *path;
  MPI_Comm comm;
} save_job_t;

/* Everything inside the open file. Each collective write's status is agreed before the next
 * one starts: a full disk fails the write only on the ranks whose slice did not fit, and a rank
 * that skipped the next collective write would leave the others waiting in it. */
static int write_contents(hid_t file, const save_job_t *job) {
  const hardy_ckpt_state_t *st = job->st;
  hid_t dxpl = hardy_h5_dxpl_collective();
  if (dxpl < 0) return hardy_h5_fail(HARDY_ERR_RUNTIME, job->path, "cannot set collective I/O");
  const char *io = getenv("HARDY_CKPT_IO");
  if (io && !strcmp(io, "individual")) H5Pset_dxpl_mpio_collective_opt(dxpl, H5FD_MPIO_INDIVIDUAL_IO);
  int rc = ckpt_meta_write(file, job->meta) < 0
               ? hardy_h5_fail(HARDY_ERR_RUNTIME, job->path, "cannot write root attributes")
               : HARDY_OK;
  char names[HARDY_CKPT_MAX_TABLES * HARDY_CKPT_NAME_MAX] = "";
  for (int t = 0; t < st->n_tables; t++) {
    if (t) strcat(names, "\n");
    strcat(names, st->tables[t].name);
  }
  if (rc == HARDY_OK && ckpt_attr_put_str(file, "table_names", names) < 0)
    rc = hardy_h5_fail(HARDY_ERR_RUNTIME, job->path, "cannot write root attributes");
  const hardy_ckpt_info_t *in = &job->meta->info;
  const char *texts[][2] = {{"/meta/config_text", in->config_text},
                            {"/meta/data_path", in->data_path},
                            {"/meta/best_metrics_json", in->best_metrics_json},
                            {"/meta/results_json", in->results_json},
                            {"/meta/standardize_json", in->standardize_json}};
  MPI_Comm comm = job->comm;
  rc = hardy_agree(rc, comm);
  for (size_t i = 0; i < sizeof texts / sizeof texts[0] && rc == HARDY_OK; i++)
    rc = hardy_agree(ckpt_text_put(file, texts[i][0], texts[i][1], dxpl, job->rank, job->path),
                     comm);
  if (rc == HARDY_OK)
    rc = hardy_agree(write_index(file, job->ix, st->n_tensors, dxpl, job->rank, job->path), comm);
  for (int a = 0; a < CKPT_N_ARRAYS && rc == HARDY_OK; a++)
    if (array_of(st, a))
      rc = hardy_agree(write_array(file, ckpt_array_path[a], array_of(st, a), st->n_params, dxpl,
                                   job->rank, job->nranks, job->path), comm);
  for (int t = 0; t < st->n_tables && rc == HARDY_OK; t++)
    rc = hardy_agree(write_table(file, &st->tables[t], &job->sorted[t], job->meta->table_sum[t],
                                 dxpl, job->path, comm), comm);
  /* after every collective write, as a full disk that refused the data would report it */
  if (rc == HARDY_OK && hardy_fault_hit(HARDY_FAULT_ENOSPC, 0))
    rc = hardy_fail(HARDY_ERR_RUNTIME, "%s: writing the checkpoint data failed: No space left on "
                    "device (injected by HARDY_FAULT)", job->path);
  H5Pclose(dxpl);
  return rc;
}

/* After a failed write: how much space the checkpoint needs and how much `dir` has, so a full
 * disk (or quota) says what to free. Local; every rank appends the same note. */
static void space_note(const char *dir, double payload_bytes) {
  struct statvfs vfs;
  if (statvfs(dir, &vfs) != 0) return;
  double free_bytes = (double)vfs.f_bavail * (double)vfs.f_frsize;
  hardy_fail(HARDY_ERR_RUNTIME, "the checkpoint needs about %.3f MB (%.0f bytes of data plus HDF5 "
             "metadata); %.3f MB are free in %s. The previous checkpoint and the 'latest' "
             "pointer are unchanged; free space or point the output elsewhere, then resume",
             payload_bytes / 1e6, payload_bytes, free_bytes / 1e6, dir);
}

/* Checksums of this rank's slices, summed over the ranks; tables into sorted order. */
static int prepare(const hardy_ckpt_state_t *st, ckpt_meta_t *meta, ckpt_sorted_t *sorted,
                   MPI_Comm comm, int rank, int nranks, double *payload_bytes) {
  uint64_t part[CKPT_N_ARRAYS + HARDY_CKPT_MAX_TABLES] = {0};
  size_t lo, hi;
  ckpt_slice(st->n_params, rank, nranks, &lo, &hi);
  *payload_bytes = 0;
  for (int a = 0; a < CKPT_N_ARRAYS; a++)
    if (array_of(st, a)) {
      part[a] = ckpt_blocks_sum(array_of(st, a) + lo, hi - lo, lo / CKPT_BLOCK_FLOATS);
      *payload_bytes += (double)st->n_params * sizeof(float);
    }
  for (int t = 0; t < st->n_tables; t++) {
    HARDY_CHECK(ckpt_table_sort(&st->tables[t], comm, &sorted[t]));
    const hardy_ckpt_table_t *tab = &st->tables[t];
    size_t row_bytes = ckpt_type_size(tab->type) * (size_t)tab->width;
    part[CKPT_N_ARRAYS + t] =
        ckpt_rows_sum(sorted[t].id, sorted[t].data, sorted[t].n_rows, row_bytes, sorted[t].row_lo);
    hardy_ckpt_table_info_t *ti = &meta->info.tables[t];
    snprintf(ti->name, sizeof ti->name, "%s", tab->name);
    snprintf(meta->info.table_names[t], sizeof meta->info.table_names[t], "%s", tab->name);
    ti->type = tab->type;
    ti->width = tab->width;
    ti->n_rows = sorted[t].n_total;
    ti->ids_contiguous = sorted[t].contiguous;
    ti->first_id = sorted[t].first_id;
    *payload_bytes += (double)sorted[t].n_total * (8.0 + (double)row_bytes);
  }
  uint64_t sum[CKPT_N_ARRAYS + HARDY_CKPT_MAX_TABLES];
  MPI_Allreduce(part, sum, CKPT_N_ARRAYS + HARDY_CKPT_MAX_TABLES, MPI_UINT64_T, MPI_SUM, comm);
  memcpy(meta->array_sum, sum, sizeof meta->array_sum);
  memcpy(meta->table_sum, sum + CKPT_N_ARRAYS, sizeof meta->table_sum);
  return HARDY_OK;
}

/* Rank 0, after every rank's data is durable: publish the file and tidy the directory. */
static int publish(const char *dir, const char *name, const char *tmp, const char *final,
                   int keep, bool is_best) {
  char file_name[HARDY_CKPT_NAME_MAX + 4];
  snprintf(file_name, sizeof file_name, "%s.h5", name);
  if (rename(tmp, final) != 0)
    return hardy_fail(HARDY_ERR_RUNTIME, "cannot rename %s to %s", tmp, final);
  HARDY_CHECK(ckpt_fsync_path(dir, true));
  HARDY_CHECK(ckpt_pointer_write(dir, "latest", file_name));
  if (is_best) HARDY_CHECK(ckpt_pointer_write(dir, "best", file_name));
  return HARDY_OK;
}

/* After publishing: delete what retention drops. Failing to delete old checkpoints must not
 * fail the save; not part of the timed write (deleting a large file costs what it costs). */
static void retain(const char *dir, const char *name, int keep) {
  if (ckpt_retain(dir, name, keep) < 0) {
    hardy_log_warn("checkpoint retention: %s", hardy_error_message());
    hardy_error_clear();
  }
}

/* Parallel HDF5 deadlocks in H5Fclose if ranks create different metadata, and a text's length
 * is part of its dataset's type: refuse texts that differ in length between ranks instead. */
static int texts_agree(const hardy_ckpt_state_t *st, MPI_Comm comm) {
  const char *texts[] = {st->best_metrics_json, st->results_json, st->config_text, st->data_path,
                         st->standardize_json};
  static const char *names[] = {"best_metrics_json", "results_json", "config_text", "data_path",
                                "standardize_json"};
  long long len[10];
  for (int i = 0; i < 5; i++) {
    len[i] = texts[i] ? (long long)strlen(texts[i]) : -1;
    len[5 + i] = -len[i];
  }
  MPI_Allreduce(MPI_IN_PLACE, len, 10, MPI_LONG_LONG, MPI_MIN, comm);
  for (int i = 0; i < 5; i++)
    if (len[i] != -len[5 + i])
      return hardy_fail(HARDY_ERR_RUNTIME, "checkpoint: %s differs between ranks (lengths %lld to "
                        "%lld); every rank must pass the same text", names[i], len[i], -len[5 + i]);
  return HARDY_OK;
}

int hardy_ckpt_save(const hardy_ckpt_state_t *st, const char *dir, const char *name, int keep,
                    bool is_best, MPI_Comm comm, double *mb_per_s) {
  hardy_h5_quiet();
  double t0 = hardy_now();
  int rank, nranks;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &nranks);
  if (mb_per_s) *mb_per_s = 0.0;
  HARDY_CHECK(hardy_agree(check_state(st, name, keep), comm));
  HARDY_CHECK(hardy_agree(texts_agree(st, comm), comm));
  HARDY_CHECK(hardy_agree(rank == 0 ? ckpt_mkdirs(dir) : HARDY_OK, comm));
  char tmp[4200], final[4160];
  if (strlen(dir) >= 4096)
    return hardy_agree(hardy_fail(HARDY_ERR_INPUT, "checkpoint directory path too long"), comm);
  snprintf(final, sizeof final, "%s/%s.h5", dir, name);
  snprintf(tmp, sizeof tmp, "%s.tmp", final);

  ckpt_meta_t meta;
  fill_meta(st, nranks, &meta);
  ckpt_sorted_t sorted[HARDY_CKPT_MAX_TABLES];
  memset(sorted, 0, sizeof sorted);
  packed_index_t ix = {0};
  double bytes = 0;
  int rc = hardy_agree(index_pack(st, &ix), comm);
  if (rc == HARDY_OK) {
    meta.index_sum = ckpt_index_sum(ix.name, ix.offset, ix.rank, ix.shape, st->n_tensors);
    rc = prepare(st, &meta, sorted, comm, rank, nranks, &bytes);
  }
  double t_phase[5] = {hardy_now(), 0, 0, 0, 0}; /* prepared, written, closed, synced, published */
  hid_t file = -1;
  if (rc == HARDY_OK) {
    file = create_file(tmp, comm);
    rc = hardy_agree(file < 0 ? hardy_h5_fail(HARDY_ERR_INPUT, tmp, "cannot create the "
                                              "checkpoint file") : HARDY_OK, comm);
  }
  if (file >= 0) {
    save_job_t job = {st, &meta, &ix, sorted, rank, nranks, tmp, comm};
    if (rc == HARDY_OK) rc = hardy_agree(write_contents(file, &job), comm);
    t_phase[1] = hardy_now();
    int crc = H5Fclose(file) < 0 ? hardy_h5_fail(HARDY_ERR_RUNTIME, tmp, "closing (flushing) "
                                                 "the checkpoint failed (disk full?)") : HARDY_OK;
    crc = hardy_agree(crc, comm);
    if (rc == HARDY_OK) rc = crc;
    t_phase[2] = hardy_now();
    /* every rank flushes what its node cached: on parallel file systems one fsync does not
     * cover the pages another client wrote */
    if (rc == HARDY_OK) rc = hardy_agree(ckpt_fsync_path(tmp, false), comm);
    t_phase[3] = hardy_now();
    if (rc == HARDY_OK)
      rc = hardy_agree(rank == 0 ? publish(dir, name, tmp, final, keep, is_best) : HARDY_OK, comm);
    else if (rank == 0)
      unlink(tmp);
    t_phase[4] = hardy_now();
  }
  for (int t = 0; t < st->n_tables; t++) ckpt_sorted_free(&sorted[t]);
  index_free(&ix);
  if (rc < 0) {
    if (file >= 0) space_note(dir, bytes);
    hardy_error_trace(__FILE__, __LINE__, "hardy_ckpt_save");
    return rc;
  }
  double dt = hardy_now() - t0, mbs = bytes / 1e6 / (dt > 0 ? dt : 1e-9);
  hardy_log_info("checkpoint %s: %.1f MB in %.2f s (%.0f MB/s; prepare %.2f, write %.2f, close "
                 "%.2f, fsync %.2f, publish %.2f s)", final, bytes / 1e6, dt, mbs, t_phase[0] - t0,
                 t_phase[1] - t_phase[0], t_phase[2] - t_phase[1], t_phase[3] - t_phase[2],
                 t_phase[4] - t_phase[3]);
  if (mb_per_s) *mb_per_s = mbs;
  if (rank == 0) retain(dir, name, keep);
  return HARDY_OK;
}
