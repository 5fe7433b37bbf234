/* `hardy-hpc bench ckpt`: checkpoint write bandwidth at the launched rank count for a model of
 * --params parameters plus Adam state (three float32 arrays, 1.2 GB at the default 100 million),
 * timed end to end as training sees it (checksums, collective HDF5 writes, close, fsync on
 * every rank, rename, pointer update, retention), reported against the `dd conv=fdatasync`
 * bandwidth to the same directory measured in the same run: by bench/ckpt.sh (--baseline-mbs)
 * and, with --dd, right before every write, so each write has a baseline taken under the same
 * conditions of a shared machine's disk.
 * Read-back (open with verification, then read_model) is timed too; the file was just written,
 * so that number is page-cache bound and labelled as such. Removes its files afterwards. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hardy/bench.h"
#include "hardy/checkpoint.h"
#include "hardy/cli.h"
#include "hardy/common.h"
#include "hardy/log.h"

static void usage(void) {
  printf("usage: hardy-hpc bench ckpt --dir DIR [--params N] [--reps R] [--baseline-mbs X] "
         "[--dd] [--json FILE]\n"
         "  writes R checkpoints of N parameters + Adam m, v (default 100000000, 3 reps) into DIR\n"
         "  and reports MB/s; X is the dd conv=fdatasync MB/s to DIR (bench/ckpt.sh measures it);\n"
         "  --dd runs that dd before every write and reports the ratio of each pair\n");
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

typedef struct {
  const char *dir, *json;
  int64_t n_params, reps;
  double baseline;
  bool dd; /* run dd before every write: pairs measured under the same conditions */
} opts_t;

/* MB/s of `dd conv=fdatasync` of `bytes` into dir (rank 0 runs it, the result is broadcast);
 * 0 when dd is unavailable. */
static double dd_mbs(const char *dir, double bytes) {
  double mbs = 0;
  if (hardy_world_rank() == 0) {
    char cmd[4400], line[512], path[4200];
    snprintf(path, sizeof path, "%s/dd.tmp", dir);
    snprintf(cmd, sizeof cmd, "dd if=/dev/zero of='%s' bs=8M count=%lld conv=fdatasync 2>&1",
             path, (long long)((bytes + 8388607) / 8388608));
    FILE *p = popen(cmd, "r");
    while (p && fgets(line, sizeof line, p)) {
      long long copied = 0;
      char *s = strstr(line, "copied, ");
      if (s && sscanf(line, "%lld", &copied) == 1) mbs = (double)copied / 1e6 / atof(s + 8);
    }
    if (p) pclose(p);
    unlink(path);
  }
  MPI_Bcast(&mbs, 1, MPI_DOUBLE, 0, MPI_COMM_WORLD);
  return mbs;
}

static int parse(int argc, char **argv, opts_t *o, bool *help) {
  *o = (opts_t){NULL, NULL, 100000000, 3, 0.0, false};
  const char *v;
  for (int i = 1; i < argc; i++) {
    int rc = HARDY_OK;
    if (!strcmp(argv[i], "--help")) *help = true;
    else if (!strcmp(argv[i], "--dir") && (v = hardy_cli_value(argc, argv, i++))) o->dir = v;
    else if (!strcmp(argv[i], "--json") && (v = hardy_cli_value(argc, argv, i++))) o->json = v;
    else if (!strcmp(argv[i], "--dd")) o->dd = true;
    else if (!strcmp(argv[i], "--params") && (v = hardy_cli_value(argc, argv, i++)))
      rc = hardy_cli_int64("--params", v, 1, (int64_t)1 << 34, &o->n_params);
    else if (!strcmp(argv[i], "--reps") && (v = hardy_cli_value(argc, argv, i++)))
      rc = hardy_cli_int64("--reps", v, 1, 100, &o->reps);
    else if (!strcmp(argv[i], "--baseline-mbs") && (v = hardy_cli_value(argc, argv, i++)))
      rc = hardy_cli_double("--baseline-mbs", v, 0, 1e9, &o->baseline);
    else
      rc = hardy_fail(HARDY_ERR_INPUT, "bench ckpt: unknown option or missing value '%s' (see "
                      "--help)", argv[i]);
    HARDY_CHECK(rc);
  }
  if (!*help && !o->dir) return hardy_fail(HARDY_ERR_INPUT, "bench ckpt: --dir DIR is required");
  return HARDY_OK;
}

/* Read back the newest file: open (verifies every checksum) + read_model; MB/s of the latter. */
static int read_back(const opts_t *o, float *buf, double *open_s, double *read_mbs) {
  char path[4200];
  hardy_ckpt_info_t info;
  HARDY_CHECK(hardy_agree(hardy_ckpt_resolve(o->dir, path, sizeof path), MPI_COMM_WORLD));
  double t0 = hardy_now();
  HARDY_CHECK(hardy_ckpt_open(path, &info, MPI_COMM_WORLD));
  *open_s = hardy_now() - t0;
  t0 = hardy_now();
  int rc = hardy_ckpt_read_model(path, &info, buf, buf + o->n_params, buf + 2 * o->n_params, NULL,
                                 MPI_COMM_WORLD);
  *read_mbs = 3.0 * 4.0 * (double)o->n_params / 1e6 / (hardy_now() - t0);
  hardy_ckpt_info_free(&info);
  return rc;
}

static void remove_files(const opts_t *o, int64_t reps) {
  if (hardy_world_rank() != 0) return;
  char path[4200], name[64];
  for (int64_t r = 1; r <= reps; r++) {
    hardy_ckpt_name(name, sizeof name, r);
    snprintf(path, sizeof path, "%s/%s.h5", o->dir, name);
    unlink(path);
  }
  snprintf(path, sizeof path, "%s/latest", o->dir);
  unlink(path);
}

/* Best and median of v[0..n). */
static void best_median(const double *v, int64_t n, double *best, double *median) {
  double sorted[100];
  memcpy(sorted, v, (size_t)n * sizeof(double));
  qsort(sorted, (size_t)n, sizeof(double), cmp_double);
  *best = sorted[n - 1];
  *median = sorted[n / 2];
}

static int report(const opts_t *o, const double *mbs, const double *dd, double open_s,
                  double read_mbs) {
  int nranks;
  MPI_Comm_size(MPI_COMM_WORLD, &nranks);
  double best, median, dd_best = 0, dd_median = 0, ratio[100], ratio_best = 0, ratio_median = 0;
  best_median(mbs, o->reps, &best, &median);
  if (o->dd) {
    for (int64_t r = 0; r < o->reps; r++) ratio[r] = dd[r] > 0 ? mbs[r] / dd[r] : 0;
    best_median(dd, o->reps, &dd_best, &dd_median);
    best_median(ratio, o->reps, &ratio_best, &ratio_median);
  }
  if (hardy_world_rank() != 0) return HARDY_OK;
  printf("bench ckpt: %d rank(s), %lld parameters + Adam m, v = %.0f MB per checkpoint\n", nranks,
         (long long)o->n_params, 12.0 * (double)o->n_params / 1e6);
  printf("  write (incl. fsync): best %.0f MB/s, median %.0f MB/s over %lld writes\n", best,
         median, (long long)o->reps);
  if (o->dd)
    printf("  dd conv=fdatasync before each write: best %.0f, median %.0f MB/s; ratio of each pair: "
           "best %.2f, median %.2f (goal >= 0.8)\n", dd_best, dd_median, ratio_best, ratio_median);
  if (o->baseline > 0)
    printf("  dd conv=fdatasync to the same directory: %.0f MB/s -> ratio best %.2f, median %.2f "
           "(goal >= 0.8)\n", o->baseline, best / o->baseline, median / o->baseline);
  printf("  read back (page cache warm): open + verify %.2f s, read_model %.0f MB/s\n", open_s,
         read_mbs);
  if (!o->json) return HARDY_OK;
  cJSON *root = cJSON_CreateObject(), *arr = cJSON_CreateArray();
  cJSON_AddStringToObject(root, "bench", "ckpt");
  cJSON_AddNumberToObject(root, "ranks", nranks);
  cJSON_AddNumberToObject(root, "n_params", (double)o->n_params);
  cJSON_AddNumberToObject(root, "bytes_per_checkpoint", 12.0 * (double)o->n_params);
  for (int64_t r = 0; r < o->reps; r++) cJSON_AddItemToArray(arr, cJSON_CreateNumber(mbs[r]));
  cJSON_AddItemToObject(root, "write_mbs", arr);
  cJSON_AddNumberToObject(root, "write_mbs_best", best);
  cJSON_AddNumberToObject(root, "write_mbs_median", median);
  cJSON_AddNumberToObject(root, "dd_fdatasync_mbs", o->baseline);
  cJSON_AddNumberToObject(root, "ratio_best", o->baseline > 0 ? best / o->baseline : 0);
  cJSON_AddNumberToObject(root, "ratio_median", o->baseline > 0 ? median / o->baseline : 0);
  if (o->dd) {
    cJSON *dd_arr = cJSON_CreateArray(), *ratio_arr = cJSON_CreateArray();
    for (int64_t r = 0; r < o->reps; r++) {
      cJSON_AddItemToArray(dd_arr, cJSON_CreateNumber(dd[r]));
      cJSON_AddItemToArray(ratio_arr, cJSON_CreateNumber(ratio[r]));
    }
    cJSON_AddItemToObject(root, "dd_before_each_mbs", dd_arr);
    cJSON_AddItemToObject(root, "pair_ratio", ratio_arr);
    cJSON_AddNumberToObject(root, "pair_ratio_best", ratio_best);
    cJSON_AddNumberToObject(root, "pair_ratio_median", ratio_median);
  }
  cJSON_AddNumberToObject(root, "open_verify_s_cached", open_s);
  cJSON_AddNumberToObject(root, "read_model_mbs_cached", read_mbs);
  const char *hints = getenv("HARDY_CKPT_MPIIO_HINTS");
  cJSON_AddStringToObject(root, "mpiio_hints", hints ? hints : "");
  int rc = hardy_json_write_file(o->json, root);
  cJSON_Delete(root);
  return rc;
}

int hardy_bench_ckpt(int argc, char **argv) {
  opts_t o;
  bool help = false;
  HARDY_CHECK(hardy_agree(parse(argc, argv, &o, &help), MPI_COMM_WORLD));
  if (help) {
    if (hardy_world_rank() == 0) usage();
    return HARDY_OK;
  }
  size_t n = (size_t)o.n_params;
  float *buf = hardy_aligned_alloc(3 * n * sizeof(float), "bench ckpt buffers"); /* [3, n] */
  HARDY_CHECK(hardy_agree(buf ? HARDY_OK : HARDY_ERR_RUNTIME, MPI_COMM_WORLD));
#pragma omp parallel for schedule(static)
  for (size_t j = 0; j < 3 * n; j++) buf[j] = (float)(j % 4093) * 1e-3f - 2.0f;
  hardy_ckpt_state_t st;
  memset(&st, 0, sizeof st);
  st.n_params = n;
  st.params = buf;
  st.adam_m = buf + n;
  st.adam_v = buf + 2 * n;
  st.config_text = "[train]\n";
  double mbs[100] = {0}, dd[100] = {0};
  int rc = HARDY_OK;
  for (int64_t r = 1; r <= o.reps && rc == HARDY_OK; r++) {
    if (o.dd) dd[r - 1] = dd_mbs(o.dir, 12.0 * (double)n);
    char name[64];
    hardy_ckpt_name(name, sizeof name, r);
    st.global_step = r;
    /* keep 1: the previous file is deleted inside the timed save, as in training */
    rc = hardy_ckpt_save(&st, o.dir, name, 1, false, MPI_COMM_WORLD, &mbs[r - 1]);
  }
  double open_s = 0, read_mbs = 0;
  if (rc == HARDY_OK) rc = read_back(&o, buf, &open_s, &read_mbs);
  remove_files(&o, o.reps);
  free(buf);
  HARDY_CHECK(rc);
  return hardy_agree(report(&o, mbs, dd, open_s, read_mbs), MPI_COMM_WORLD);
}
