/* Reading rows: the whole-file validation scan (each rank streams its contiguous share of rows
 * chunk by chunk) and a rank's shard of a selection (whole dialogues, a union of hyperslabs,
 * read in bounded batches with collective MPI-IO). Both check the row rules of
 * docs/DATA_FORMAT.md on what they read: finite features (or zeroed and counted under
 * HARDY_NONFINITE_ZERO), labels in [0, C) or finite, present values 0/1, planted hardness in
 * [0, 1]. Every collective read is entered by every rank the same number of times; a rank
 * with nothing (left) to read takes part with an empty selection. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "h5/h5.h"
#include "hardy/common.h"
#include "hardy/log.h"
#include "hardy/dataset.h"
#include "hardy/fault.h"

/* Bytes of row data one collective read moves per rank: bounds memory of the scan and keeps
 * each MPI-IO request well below 2 GiB. */
#define READ_BUDGET_BYTES (64ll << 20)
#define MAX_RANGES_PER_READ 1024

typedef struct {
  hid_t file, dxpl;
  hid_t feat[HARDY_N_MOD], label, speaker, present, planted; /* -1 when absent or unused */
} open_file_t;

/* Row buffers, each pointing at the first row to fill. NULL members are not read. */
typedef struct {
  float *feat[HARDY_N_MOD]; /* [rows, dims[m]] */
  int32_t *label;           /* [rows] classification */
  float *target;            /* [rows] regression */
  int32_t *speaker;         /* [rows] */
  uint8_t *present;         /* [rows, 3] */
  float *planted;           /* [rows] */
} rows_t;

static void files_close(open_file_t *f) {
  hid_t *ids[] = {&f->feat[0], &f->feat[1], &f->feat[2], &f->label, &f->speaker, &f->present,
                  &f->planted};
  for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++)
    if (*ids[i] >= 0) H5Dclose(*ids[i]);
  if (f->dxpl >= 0) H5Pclose(f->dxpl);
  if (f->file >= 0) H5Fclose(f->file);
}

static int open_dset(const hardy_dataset_t *ds, hid_t file, const char *h5path, hid_t *out) {
  *out = H5Dopen2(file, h5path, H5P_DEFAULT);
  if (*out >= 0) return HARDY_OK;
  char what[300];
  snprintf(what, sizeof what, "cannot open %s", h5path);
  return hardy_h5_fail(HARDY_ERR_INPUT, ds->path, what);
}

/* Collective: open the file and the datasets that will be read. */
static int files_open(const hardy_dataset_t *ds, MPI_Comm comm, bool want_speaker,
                      open_file_t *f) {
  f->file = f->dxpl = f->label = f->speaker = f->present = f->planted = -1;
  for (int m = 0; m < HARDY_N_MOD; m++) f->feat[m] = -1;
  HARDY_CHECK(hardy_h5_open_read(ds->path, comm, &f->file));
  int rc = (f->dxpl = hardy_h5_dxpl_collective()) < 0
               ? hardy_h5_fail(HARDY_ERR_RUNTIME, ds->path, "MPI-IO transfer setup failed")
               : HARDY_OK;
  for (int m = 0; m < HARDY_N_MOD && rc == HARDY_OK; m++)
    rc = open_dset(ds, f->file, hardy_dataset_feature_path(m), &f->feat[m]);
  if (rc == HARDY_OK) rc = open_dset(ds, f->file, "/utterance/label", &f->label);
  if (rc == HARDY_OK && want_speaker) rc = open_dset(ds, f->file, "/utterance/speaker", &f->speaker);
  if (rc == HARDY_OK && ds->has_present)
    rc = open_dset(ds, f->file, "/utterance/present", &f->present);
  if (rc == HARDY_OK && ds->has_planted)
    rc = open_dset(ds, f->file, "/utterance/planted_hardness", &f->planted);
  rc = hardy_agree(rc, comm);
  if (rc < 0) files_close(f);
  return rc;
}

/* Collective: read the union of `ranges` from every dataset that `dst` asks for. After a local
 * failure the rank keeps taking part with empty selections so no collective is left waiting. */
static int read_ranges(const hardy_dataset_t *ds, const open_file_t *f,
                       const hardy_row_range_t *ranges, int64_t n_ranges, const rows_t *dst,
                       int rc) {
  const char *p = ds->path;
  struct {
    hid_t dset, type;
    void *buf;
    const char *h5;
  } cols[] = {
      {f->feat[0], H5T_NATIVE_FLOAT, dst->feat[0], "/features/audio"},
      {f->feat[1], H5T_NATIVE_FLOAT, dst->feat[1], "/features/text"},
      {f->feat[2], H5T_NATIVE_FLOAT, dst->feat[2], "/features/visual"},
      {f->label, H5T_NATIVE_INT32, dst->label, "/utterance/label"},
      {f->label, H5T_NATIVE_FLOAT, dst->target, "/utterance/label"},
      {f->speaker, H5T_NATIVE_INT32, dst->speaker, "/utterance/speaker"},
      {f->present, H5T_NATIVE_UINT8, dst->present, "/utterance/present"},
      {f->planted, H5T_NATIVE_FLOAT, dst->planted, "/utterance/planted_hardness"},
  };
  for (size_t c = 0; c < sizeof cols / sizeof cols[0]; c++) {
    if (cols[c].dset < 0 || !cols[c].buf) continue;
    int r = hardy_h5_read_rows(cols[c].dset, cols[c].type, f->dxpl, ranges,
                               rc == HARDY_OK ? n_ranges : 0, cols[c].buf, p, cols[c].h5);
    if (r == HARDY_OK && rc == HARDY_OK && hardy_fault_hit(HARDY_FAULT_IO, 0))
      r = hardy_fail(HARDY_ERR_RUNTIME, "%s: reading %s failed: Input/output error (injected by "
                     "HARDY_FAULT)", p, cols[c].h5);
    if (rc == HARDY_OK) rc = r;
  }
  return rc;
}

/* ---- row rules -------------------------------------------------------------------------- */

#define ROW_ID(i) (ids ? ids[i] : first_row + (i))

static int check_rows(const hardy_dataset_t *ds, const rows_t *rows, int64_t n_rows,
                      const int64_t *ids, int64_t first_row, int policy, int64_t *n_nonfinite) {
  /* Rows outermost, so the error names the first bad row whatever its modality. */
  for (int64_t i = 0; i < n_rows; i++)
    for (int m = 0; m < HARDY_N_MOD; m++) {
      int64_t dim = ds->dims[m];
      float *x = rows->feat[m] ? rows->feat[m] + i * dim : NULL;
      for (int64_t j = 0; x && j < dim; j++) {
        if (isfinite(x[j])) continue;
        if (policy == HARDY_NONFINITE_ZERO) {
          x[j] = 0.0f;
          (*n_nonfinite)++;
          continue;
        }
        return hardy_fail(HARDY_ERR_INPUT,
                          "%s: %s[%lld, %lld] = %s (row %lld, column %lld): features must be "
                          "finite; fix the data, or allow it with --allow-nonfinite=zero "
                          "(data.allow_nonfinite = zero) to zero such values and count them",
                          ds->path, hardy_dataset_feature_path(m), (long long)ROW_ID(i),
                          (long long)j, isnan(x[j]) ? "nan" : x[j] > 0 ? "inf" : "-inf",
                          (long long)ROW_ID(i), (long long)j);
      }
    }
  for (int64_t i = 0; rows->label && i < n_rows; i++)
    if (rows->label[i] < 0 || rows->label[i] >= ds->num_classes)
      return hardy_fail(HARDY_ERR_INPUT, "%s: /utterance/label[%lld] = %d is outside [0, %d) "
                        "(num_classes = %d)", ds->path, (long long)ROW_ID(i), rows->label[i],
                        ds->num_classes, ds->num_classes);
  for (int64_t i = 0; rows->target && i < n_rows; i++)
    if (!isfinite(rows->target[i]))
      return hardy_fail(HARDY_ERR_INPUT, "%s: /utterance/label[%lld] = %g: regression scores "
                        "must be finite", ds->path, (long long)ROW_ID(i), (double)rows->target[i]);
  for (int64_t i = 0; rows->present && i < n_rows * HARDY_N_MOD; i++)
    if (rows->present[i] > 1)
      return hardy_fail(HARDY_ERR_INPUT, "%s: /utterance/present[%lld, %lld] = %u, expected 0 or "
                        "1", ds->path, (long long)ROW_ID(i / HARDY_N_MOD),
                        (long long)(i % HARDY_N_MOD), rows->present[i]);
  for (int64_t i = 0; rows->planted && i < n_rows; i++)
    if (!(rows->planted[i] >= 0.0f && rows->planted[i] <= 1.0f))
      return hardy_fail(HARDY_ERR_INPUT, "%s: /utterance/planted_hardness[%lld] = %g, expected a "
                        "value in [0, 1]", ds->path, (long long)ROW_ID(i),
                        (double)rows->planted[i]);
  return HARDY_OK;
}

/* ---- whole-file scan -------------------------------------------------------------------- */

static void stats_init(hardy_dataset_stats_t *st) {
  hardy_featnorm_t *features = st->features; /* the caller's */
  memset(st, 0, sizeof *st);
  st->features = features;
  st->target_min = st->planted_min = INFINITY;
  st->target_max = st->planted_max = -INFINITY;
}

/* Add a chunk of rows starting at file row `first` to the local statistics. */
static void stats_add(const hardy_dataset_t *ds, const rows_t *rows, int64_t first,
                      int64_t n_rows, hardy_dataset_stats_t *st) {
  int64_t d = hardy_dataset_dialogue_of(ds->offset, ds->n_dialogue, first);
  for (int64_t i = 0; i < n_rows; i++) {
    while (ds->offset[d + 1] <= first + i) d++;
    if (rows->label) st->class_count[ds->split[d]][rows->label[i]]++;
  }
  for (int64_t i = 0; rows->target && i < n_rows; i++) {
    double t = rows->target[i];
    st->target_min = fmin(st->target_min, t);
    st->target_max = fmax(st->target_max, t);
    st->target_sum += t;
  }
  for (int64_t i = 0; i < n_rows; i++)
    for (int m = 0; m < HARDY_N_MOD; m++)
      st->present_count[m] += rows->present ? rows->present[i * HARDY_N_MOD + m] : 1;
  for (int64_t i = 0; rows->planted && i < n_rows; i++) {
    double h = rows->planted[i];
    st->planted_min = fmin(st->planted_min, h);
    st->planted_max = fmax(st->planted_max, h);
    st->planted_sum += h;
  }
}

static void stats_reduce(hardy_dataset_stats_t *st, MPI_Comm comm) {
  MPI_Allreduce(MPI_IN_PLACE, &st->n_nonfinite, 1, MPI_INT64_T, MPI_SUM, comm);
  MPI_Allreduce(MPI_IN_PLACE, st->class_count, 3 * HARDY_MAX_CLASSES, MPI_INT64_T, MPI_SUM, comm);
  MPI_Allreduce(MPI_IN_PLACE, st->present_count, HARDY_N_MOD, MPI_INT64_T, MPI_SUM, comm);
  double mins[2] = {st->target_min, st->planted_min}, maxs[2] = {st->target_max, st->planted_max};
  double sums[2] = {st->target_sum, st->planted_sum};
  MPI_Allreduce(MPI_IN_PLACE, mins, 2, MPI_DOUBLE, MPI_MIN, comm);
  MPI_Allreduce(MPI_IN_PLACE, maxs, 2, MPI_DOUBLE, MPI_MAX, comm);
  MPI_Allreduce(MPI_IN_PLACE, sums, 2, MPI_DOUBLE, MPI_SUM, comm);
  st->target_min = mins[0];
  st->planted_min = mins[1];
  st->target_max = maxs[0];
  st->planted_max = maxs[1];
  st->target_sum = sums[0];
  st->planted_sum = sums[1];
}

static int64_t row_bytes(const hardy_dataset_t *ds) {
  return 4 * ((int64_t)ds->dims[0] + ds->dims[1] + ds->dims[2]) + 16;
}

/* Point `rows` at chunk buffers of `cap` rows (one allocation). */
static void *rows_alloc(const hardy_dataset_t *ds, int64_t cap, rows_t *rows) {
  char *base = hardy_malloc((size_t)(cap * row_bytes(ds)), "row chunk");
  memset(rows, 0, sizeof *rows);
  if (!base) return NULL;
  char *p = base;
  for (int m = 0; m < HARDY_N_MOD; m++) {
    rows->feat[m] = (float *)p;
    p += (size_t)cap * (size_t)ds->dims[m] * sizeof(float);
  }
  if (ds->task == HARDY_TASK_CLASSIFICATION) rows->label = (int32_t *)p;
  else rows->target = (float *)p;
  p += (size_t)cap * 4;
  if (ds->has_planted) rows->planted = (float *)p;
  p += (size_t)cap * 4;
  if (ds->has_present) rows->present = (uint8_t *)p;
  return base;
}

int hardy_dataset_scan(const hardy_dataset_t *ds, MPI_Comm comm, int nonfinite_policy,
                       hardy_dataset_stats_t *st) {
  stats_init(st);
  int rank = 0, size = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  int64_t cap = HARDY_MAX(1, HARDY_MIN(65536, READ_BUDGET_BYTES / row_bytes(ds)));
  int64_t first = ds->n_utt * rank / size, end = ds->n_utt * (rank + 1) / size;
  int64_t n_iter = (end - first + cap - 1) / cap;
  MPI_Allreduce(MPI_IN_PLACE, &n_iter, 1, MPI_INT64_T, MPI_MAX, comm);
  rows_t rows;
  void *buf = rows_alloc(ds, cap, &rows);
  int rc = hardy_agree(buf ? HARDY_OK : HARDY_ERR_RUNTIME, comm);
  open_file_t f;
  if (rc == HARDY_OK) rc = files_open(ds, comm, false, &f);
  if (rc < 0) {
    free(buf);
    return rc;
  }
  hardy_progress_t prog; /* rank 0's rows; every rank reads the same share */
  hardy_progress_begin(&prog, "scan rows", end - first, "rows", 10.0);
  for (int64_t it = 0; it < n_iter; it++) {
    hardy_progress_update(&prog, HARDY_MIN(it * cap, end - first), -1, NULL);
    hardy_row_range_t range = {first + it * cap, HARDY_MIN(cap, end - first - it * cap)};
    int64_t n_ranges = range.count > 0 ? 1 : 0;
    rc = read_ranges(ds, &f, &range, n_ranges, &rows, rc);
    if (rc == HARDY_OK && n_ranges) {
      rc = check_rows(ds, &rows, range.count, NULL, range.first, nonfinite_policy,
                      &st->n_nonfinite);
      if (rc == HARDY_OK) stats_add(ds, &rows, range.first, range.count, st);
      if (rc == HARDY_OK && st->features)
        rc = hardy_dataset_featnorm_add(st->features, rows.feat, rows.present, range.count);
    }
  }
  files_close(&f);
  free(buf);
  /* Ranks hold ascending row ranges, so the lowest failing rank has the first bad row. */
  rc = hardy_agree(rc, comm);
  if (rc == HARDY_OK) stats_reduce(st, comm);
  if (rc == HARDY_OK && st->features) rc = hardy_dataset_featnorm_reduce(st->features, comm);
  return rc;
}

int hardy_dataset_validate_rows(const hardy_dataset_t *ds, MPI_Comm comm, int nonfinite_policy,
                                int64_t *n_nonfinite) {
  hardy_dataset_stats_t *st = hardy_calloc(1, sizeof *st, "scan statistics");
  int rc = hardy_agree(st ? HARDY_OK : HARDY_ERR_RUNTIME, comm);
  if (rc == HARDY_OK) rc = hardy_dataset_scan(ds, comm, nonfinite_policy, st);
  if (n_nonfinite) *n_nonfinite = rc == HARDY_OK ? st->n_nonfinite : 0;
  free(st);
  return rc;
}

/* ---- shards ----------------------------------------------------------------------------- */

void hardy_shard_free(hardy_shard_t *sh) {
  if (!sh) return;
  free(sh->dialogue_id);
  free(sh->dialogue_start);
  free(sh->utt_id);
  for (int m = 0; m < HARDY_N_MOD; m++) free(sh->feat[m]);
  free(sh->label);
  free(sh->target);
  free(sh->speaker);
  free(sh->present);
  free(sh->planted);
  memset(sh, 0, sizeof *sh);
}

/* Fill the shard's index arrays for dialogues sel->dialogue[first .. first+n) and allocate its
 * row buffers. */
static int shard_layout(const hardy_dataset_t *ds, const hardy_selection_t *sel, int64_t first,
                        int64_t n, hardy_shard_t *sh) {
  sh->n_dialogue = n;
  sh->first_index = first;
  sh->dialogue_id = hardy_malloc((size_t)(n + 1) * sizeof(int64_t), "shard dialogue ids");
  sh->dialogue_start = hardy_malloc((size_t)(n + 1) * sizeof(int64_t), "shard dialogue starts");
  if (!sh->dialogue_id || !sh->dialogue_start) return HARDY_ERR_RUNTIME;
  sh->dialogue_start[0] = 0;
  for (int64_t i = 0; i < n; i++) {
    int64_t d = sel->dialogue[first + i];
    sh->dialogue_id[i] = d;
    sh->dialogue_start[i + 1] = sh->dialogue_start[i] + ds->offset[d + 1] - ds->offset[d];
  }
  int64_t rows = sh->n_utt = sh->dialogue_start[n];
  sh->utt_id = hardy_malloc((size_t)(rows + 1) * sizeof(int64_t), "shard utterance ids");
  if (!sh->utt_id) return HARDY_ERR_RUNTIME;
  for (int64_t i = 0, k = 0; i < n; i++)
    for (int64_t u = ds->offset[sh->dialogue_id[i]]; u < ds->offset[sh->dialogue_id[i] + 1]; u++)
      sh->utt_id[k++] = u;
  size_t r1 = (size_t)(rows ? rows : 1);
  for (int m = 0; m < HARDY_N_MOD; m++) {
    sh->dims[m] = ds->dims[m];
    sh->feat[m] = hardy_aligned_alloc(r1 * (size_t)ds->dims[m] * sizeof(float), "shard features");
    if (!sh->feat[m]) return HARDY_ERR_RUNTIME;
  }
  if (ds->task == HARDY_TASK_CLASSIFICATION)
    sh->label = hardy_malloc(r1 * sizeof(int32_t), "shard labels");
  else
    sh->target = hardy_malloc(r1 * sizeof(float), "shard targets");
  sh->speaker = hardy_malloc(r1 * sizeof(int32_t), "shard speakers");
  sh->present = hardy_malloc(r1 * HARDY_N_MOD, "shard present flags");
  if (ds->has_planted) sh->planted = hardy_malloc(r1 * sizeof(float), "shard planted hardness");
  if ((!sh->label && !sh->target) || !sh->speaker || !sh->present ||
      (ds->has_planted && !sh->planted))
    return HARDY_ERR_RUNTIME;
  if (!ds->has_present) memset(sh->present, 1, r1 * HARDY_N_MOD);
  return HARDY_OK;
}

/* Row ranges of the shard (adjacent dialogues merged), cut into pieces of at most `max_rows`
 * rows so that a batch of pieces bounds one read. */
static hardy_row_range_t *shard_ranges(const hardy_dataset_t *ds, const hardy_shard_t *sh,
                                       int64_t max_rows, int64_t *n_out) {
  int64_t cap = sh->n_dialogue + sh->n_utt / max_rows + 1, n = 0;
  hardy_row_range_t *r = hardy_malloc((size_t)cap * sizeof *r, "shard row ranges");
  if (!r) return NULL;
  for (int64_t i = 0; i < sh->n_dialogue; i++) {
    int64_t d = sh->dialogue_id[i], lo = ds->offset[d], hi = ds->offset[d + 1];
    if (n && r[n - 1].first + r[n - 1].count == lo) {
      r[n - 1].count += hi - lo;
    } else {
      r[n].first = lo;
      r[n++].count = hi - lo;
    }
  }
  /* Split long runs (back to front so the split pieces stay in file order). */
  int64_t n_split = 0;
  for (int64_t i = 0; i < n; i++) n_split += (r[i].count + max_rows - 1) / max_rows;
  for (int64_t i = n - 1, w = n_split - 1; i >= 0; i--) {
    hardy_row_range_t run = r[i];
    for (int64_t p = (run.count + max_rows - 1) / max_rows - 1; p >= 0; p--, w--) {
      r[w].first = run.first + p * max_rows;
      r[w].count = HARDY_MIN(max_rows, run.count - p * max_rows);
    }
  }
  *n_out = n_split;
  return r;
}

/* Shift every buffer of `rows` forward by `n` rows. */
static rows_t rows_advance(const hardy_dataset_t *ds, rows_t rows, int64_t n) {
  for (int m = 0; m < HARDY_N_MOD; m++)
    if (rows.feat[m]) rows.feat[m] += n * ds->dims[m];
  if (rows.label) rows.label += n;
  if (rows.target) rows.target += n;
  if (rows.speaker) rows.speaker += n;
  if (rows.present) rows.present += n * HARDY_N_MOD;
  if (rows.planted) rows.planted += n;
  return rows;
}

/* Collective: read the shard's rows in batches of at most max_rows rows and
 * MAX_RANGES_PER_READ ranges. */
static int shard_read_rows(const hardy_dataset_t *ds, hardy_shard_t *sh, MPI_Comm comm,
                           int rc) {
  int64_t max_rows = HARDY_MAX(1, READ_BUDGET_BYTES / row_bytes(ds) * 4);
  int64_t n_ranges = 0;
  hardy_row_range_t *ranges = rc == HARDY_OK ? shard_ranges(ds, sh, max_rows, &n_ranges) : NULL;
  if (rc == HARDY_OK && !ranges) rc = HARDY_ERR_RUNTIME;
  /* Count batches first so every rank knows how many collective reads to enter. */
  int64_t n_batch = 0;
  for (int64_t i = 0, rows = 0, k = 0; i < n_ranges; i++) {
    if (k == 0 || rows + ranges[i].count > max_rows || k == MAX_RANGES_PER_READ) {
      n_batch++;
      rows = k = 0;
    }
    rows += ranges[i].count;
    k++;
  }
  MPI_Allreduce(MPI_IN_PLACE, &n_batch, 1, MPI_INT64_T, MPI_MAX, comm);
  rc = hardy_agree(rc, comm);
  open_file_t f;
  if (rc == HARDY_OK) rc = files_open(ds, comm, true, &f);
  if (rc < 0) {
    free(ranges);
    return rc;
  }
  rows_t dst = {{sh->feat[0], sh->feat[1], sh->feat[2]}, sh->label, sh->target, sh->speaker,
                ds->has_present ? sh->present : NULL, sh->planted};
  int64_t next = 0;
  for (int64_t b = 0; b < n_batch; b++) {
    int64_t begin = next, rows = 0;
    while (next < n_ranges && next - begin < MAX_RANGES_PER_READ &&
           (next == begin || rows + ranges[next].count <= max_rows))
      rows += ranges[next++].count;
    rc = read_ranges(ds, &f, ranges + begin, next - begin, &dst, rc);
    dst = rows_advance(ds, dst, rows);
  }
  files_close(&f);
  free(ranges);
  return rc;
}

int hardy_dataset_read_shard(const hardy_dataset_t *ds, const hardy_selection_t *sel,
                             MPI_Comm comm, int nonfinite_policy, hardy_shard_t *out) {
  memset(out, 0, sizeof *out);
  int rank = 0, size = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  int64_t *bounds = hardy_malloc((size_t)(size + 1) * sizeof *bounds, "partition bounds");
  int rc = bounds ? HARDY_OK : HARDY_ERR_RUNTIME;
  if (rc == HARDY_OK) {
    hardy_dataset_partition(ds, sel, size, bounds);
    rc = shard_layout(ds, sel, bounds[rank], bounds[rank + 1] - bounds[rank], out);
  }
  free(bounds);
  out->total_utt = sel->n_utt;
  out->total_dialogue = sel->n;
  rc = shard_read_rows(ds, out, comm, rc);
  if (rc == HARDY_OK) {
    rows_t rows = {{out->feat[0], out->feat[1], out->feat[2]}, out->label, out->target, NULL,
                   ds->has_present ? out->present : NULL, out->planted};
    rc = check_rows(ds, &rows, out->n_utt, out->utt_id, 0, nonfinite_policy, &out->n_nonfinite);
  }
  MPI_Allreduce(MPI_IN_PLACE, &out->n_nonfinite, 1, MPI_INT64_T, MPI_SUM, comm);
  rc = hardy_agree(rc, comm);
  if (rc < 0) hardy_shard_free(out);
  return rc;
}
