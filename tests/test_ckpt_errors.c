/* What must be refused, and what must survive: flipped payload bytes, a flipped attribute, a
 * truncated, empty, non-HDF5 or foreign HDF5 file and a hardy-mer dataset file are refused on
 * every rank with HARDY_ERR_INPUT and a message naming the file and the fault, while the
 * previous checkpoint still resolves and loads; a save into an unwritable directory fails on
 * every rank without touching `latest`; retention keeps exactly `keep` plus the best and
 * removes stale .tmp files; the compatibility check refuses shape, data and version changes
 * and lists changed learning-rate-like keys; pointer resolution. */
#include <limits.h>
#include <fcntl.h>
#include <hdf5.h>
#include <unistd.h>

#include "test_ckpt_common.h"

#include "hardy/config.h"
#include "hardy/synth.h"

static MPI_Comm world;
static int rank_, nranks_;

/* Rank 0 runs `fn` on a copy of `src` named `dst` while the others wait. */
static void on_rank0(void (*fn)(const char *), const char *src, const char *dst) {
  if (rank_ == 0) {
    char cmd[2 * PATH_MAX + 16];
    int len = snprintf(cmd, sizeof cmd, "cp '%s' '%s'", src, dst);
    if (src[0] && (len >= (int)sizeof cmd || system(cmd) != 0)) fprintf(stderr, "cp failed\n");
    if (fn) fn(dst);
  }
  MPI_Barrier(world);
}

static void flip_payload(const char *path) {
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  hid_t d = H5Dopen2(f, "/optimizer/adam_v", H5P_DEFAULT);
  haddr_t off = H5Dget_offset(d);
  H5Dclose(d);
  H5Fclose(f);
  int fd = open(path, O_RDWR);
  unsigned char b[3];
  off_t at = (off_t)off + 4 * 300001; /* inside the second 1 MiB block */
  if (pread(fd, b, 3, at) != 3) fprintf(stderr, "pread failed\n");
  b[0] ^= 0x40, b[2] ^= 0x01;
  if (pwrite(fd, b, 3, at) != 3) fprintf(stderr, "pwrite failed\n");
  close(fd);
}

static void flip_attribute(const char *path) {
  hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
  hid_t a = H5Aopen(f, "epoch", H5P_DEFAULT);
  int64_t epoch = 18;
  H5Awrite(a, H5T_NATIVE_INT64, &epoch);
  H5Aclose(a);
  H5Fclose(f);
}

static void truncate_half(const char *path) {
  int fd = open(path, O_RDONLY);
  off_t size = lseek(fd, 0, SEEK_END);
  close(fd);
  if (truncate(path, size / 2) != 0) fprintf(stderr, "truncate failed\n");
}

static void make_empty(const char *path) { fclose(fopen(path, "w")); }

static void make_text(const char *path) {
  FILE *f = fopen(path, "w");
  fprintf(f, "this is not a checkpoint\n");
  fclose(f);
}

static void make_foreign(const char *path) {
  hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  hsize_t dims[1] = {4};
  hid_t s = H5Screate_simple(1, dims, NULL);
  hid_t d = H5Dcreate2(f, "weights", H5T_IEEE_F32LE, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  H5Dclose(d), H5Sclose(s), H5Fclose(f);
}

static void expect_refused(const char *path, const char *what) {
  hardy_ckpt_info_t info;
  int rc = hardy_ckpt_open(path, &info, world);
  const char *msg = hardy_error_message();
  TEST_ASSERT(rc == HARDY_ERR_INPUT && ckpt_test_contains(msg, path) && ckpt_test_contains(msg, what),
              "%s: rc %d, message '%s' should name the file and say '%s'", path, rc, msg, what);
  if (rc == HARDY_OK) hardy_ckpt_info_free(&info);
  if (rank_ == 0) printf("refused: %s\n", msg);
  hardy_error_clear();
}

static void expect_loads(const char *dir, const ckpt_test_model_t *tm) {
  char path[4200];
  hardy_ckpt_info_t info;
  int rc = hardy_ckpt_resolve(dir, path, sizeof path);
  if (rc == HARDY_OK) rc = hardy_ckpt_open(path, &info, world);
  TEST_ASSERT(rc == HARDY_OK, "previous checkpoint: %s", hardy_error_message());
  if (rc != HARDY_OK) return;
  float *p = malloc(tm->n * sizeof(float));
  rc = hardy_ckpt_read_model(path, &info, p, NULL, NULL, NULL, world);
  TEST_ASSERT(rc == HARDY_OK && ckpt_test_same(p, tm->params, tm->n), "reload: %s",
              hardy_error_message());
  free(p);
  hardy_ckpt_info_free(&info);
}

static void test_refusals(const char *dir) {
  ckpt_test_model_t tm;
  ckpt_test_model_init(&tm, 2 * (1 << 18) + 77, 11);
  hardy_ckpt_state_t st = ckpt_test_state(&tm, 5);
  int rc = hardy_ckpt_save(&st, dir, "ckpt-000000000005", 2, false, world, NULL);
  TEST_ASSERT(rc == HARDY_OK, "save: %s", hardy_error_message());
  char good[4200], bad[4300];
  snprintf(good, sizeof good, "%s/ckpt-000000000005.h5", dir);
  struct {
    void (*fn)(const char *);
    const char *name, *what;
  } cases[] = {
      {flip_payload, "flipped.h5", "checksum mismatch in /optimizer/adam_v"},
      {flip_attribute, "attr.h5", "metadata checksum mismatch"},
      {truncate_half, "truncated.h5", "truncated or corrupt"},
      {make_empty, "empty.h5", "file is empty"},
      {make_text, "text.h5", "not an HDF5 file"},
      {make_foreign, "foreign.h5", "not a hardy checkpoint"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    snprintf(bad, sizeof bad, "%s/%s", dir, cases[i].name);
    on_rank0(cases[i].fn, cases[i].fn == make_foreign || cases[i].fn == make_empty ||
                              cases[i].fn == make_text ? "" : good, bad);
    expect_refused(bad, cases[i].what);
  }
  /* a real dataset file */
  hardy_synth_params_t sp;
  hardy_synth_defaults(&sp);
  snprintf(sp.out, sizeof sp.out, "%s/data.h5", dir);
  sp.n_utt = 64;
  sp.dims[0] = sp.dims[1] = sp.dims[2] = 4;
  sp.chunk_rows = 64;
  rc = hardy_synth_write(&sp, world);
  TEST_ASSERT(rc == HARDY_OK, "synth: %s", hardy_error_message());
  expect_refused(sp.out, "is a hardy-mer dataset file, not a checkpoint");
  snprintf(bad, sizeof bad, "%s/missing.h5", dir);
  expect_refused(bad, "cannot open");
  expect_loads(dir, &tm);
  /* read_model verifies again: a file corrupted after it was opened is caught too */
  snprintf(bad, sizeof bad, "%s/late.h5", dir);
  on_rank0(NULL, good, bad);
  hardy_ckpt_info_t info;
  rc = hardy_ckpt_open(bad, &info, world);
  TEST_ASSERT(rc == HARDY_OK, "copy opens: %s", hardy_error_message());
  on_rank0(flip_payload, "", bad);
  float *v = malloc(tm.n * sizeof(float));
  if (rc == HARDY_OK) {
    rc = hardy_ckpt_read_model(bad, &info, NULL, NULL, v, NULL, world);
    TEST_ASSERT(rc == HARDY_ERR_INPUT && ckpt_test_contains(hardy_error_message(), "checksum "
                "mismatch in /optimizer/adam_v"), "late corruption: %s", hardy_error_message());
    hardy_error_clear();
    hardy_ckpt_info_free(&info);
  }
  free(v);
  ckpt_test_model_free(&tm);
}

static void test_unwritable(const char *dir) {
  ckpt_test_model_t tm;
  ckpt_test_model_init(&tm, 5000, 12);
  hardy_ckpt_state_t st = ckpt_test_state(&tm, 6);
  char blocked[4200];
  snprintf(blocked, sizeof blocked, "%s/ckpt-000000000005.h5/sub", dir); /* under a file */
  int rc = hardy_ckpt_save(&st, blocked, "ckpt-000000000006", 2, false, world, NULL);
  TEST_ASSERT(rc == HARDY_ERR_INPUT && ckpt_test_contains(hardy_error_message(), "cannot create "
              "checkpoint directory"), "unwritable: rc %d %s", rc, hardy_error_message());
  hardy_error_clear();
  rc = hardy_ckpt_save(&st, dir, "../escape", 2, false, world, NULL);
  TEST_ASSERT(rc == HARDY_ERR_INPUT, "a name with '/' is refused");
  hardy_error_clear();
  char path[4200];
  TEST_ASSERT(hardy_ckpt_resolve(dir, path, sizeof path) == HARDY_OK &&
              ckpt_test_contains(path, "ckpt-000000000005.h5"), "latest unchanged: %s", path);
  ckpt_test_model_free(&tm);
}

static int count_files(const char *dir, const char *suffix) {
  char cmd[600], out[64] = "0";
  snprintf(cmd, sizeof cmd, "ls '%s' | grep -c '%s$'", dir, suffix);
  FILE *p = popen(cmd, "r");
  if (p && !fgets(out, sizeof out, p)) out[0] = '\0';
  if (p) pclose(p);
  return atoi(out);
}

static void test_retention(const char *root) {
  char dir[4200], name[64], path[4400];
  snprintf(dir, sizeof dir, "%s/retain", root);
  ckpt_test_model_t tm;
  ckpt_test_model_init(&tm, 3000, 13);
  for (int64_t step = 1; step <= 6; step++) {
    if (step == 4 && rank_ == 0) { /* a killed writer's leftover */
      snprintf(path, sizeof path, "%s/ckpt-000000000003.h5.tmp", dir);
      fclose(fopen(path, "w"));
    }
    hardy_ckpt_state_t st = ckpt_test_state(&tm, step);
    hardy_ckpt_name(name, sizeof name, step);
    int rc = hardy_ckpt_save(&st, dir, name, 2, step == 2, world, NULL);
    TEST_ASSERT(rc == HARDY_OK, "save %lld: %s", (long long)step, hardy_error_message());
  }
  MPI_Barrier(world);
  TEST_EQ_INT(count_files(dir, ".h5"), 3); /* 5, 6 and the best, 2 */
  TEST_EQ_INT(count_files(dir, ".tmp"), 0);
  char resolved[4400];
  snprintf(path, sizeof path, "%s/best", dir);
  TEST_ASSERT(hardy_ckpt_resolve(path, resolved, sizeof resolved) == HARDY_OK &&
              ckpt_test_contains(resolved, "ckpt-000000000002.h5"), "best: %s", resolved);
  snprintf(path, sizeof path, "%s/latest", dir);
  TEST_ASSERT(hardy_ckpt_resolve(path, resolved, sizeof resolved) == HARDY_OK &&
              ckpt_test_contains(resolved, "ckpt-000000000006.h5"), "latest: %s", resolved);
  snprintf(path, sizeof path, "%s/ckpt-000000000005.h5", dir);
  TEST_ASSERT(access(path, R_OK) == 0, "the second newest is kept");
  TEST_ASSERT(hardy_ckpt_resolve(root, resolved, sizeof resolved) == HARDY_OK, "root has latest");
  snprintf(path, sizeof path, "%s/nothing", root);
  TEST_ASSERT(hardy_ckpt_resolve(path, resolved, sizeof resolved) == HARDY_ERR_INPUT, "missing");
  hardy_error_clear();
  ckpt_test_model_free(&tm);
}

static void test_compatible(void) {
  hardy_config_t cfg;
  hardy_config_defaults(&cfg);
  char *text = hardy_config_to_string(&cfg);
  hardy_ckpt_info_t info;
  memset(&info, 0, sizeof info);
  snprintf(info.path, sizeof info.path, "run/checkpoints/ckpt-1.h5");
  snprintf(info.version, sizeof info.version, "%s", HARDY_VERSION);
  info.config_text = text;
  info.data_fingerprint = 77;
  info.n_params = 1234;
  char changed[256];
  int rc = hardy_ckpt_check_compatible(&info, text, 77, HARDY_VERSION, 1234, changed, sizeof changed);
  TEST_ASSERT(rc == HARDY_OK && changed[0] == '\0', "same config: %s '%s'", hardy_error_message(), changed);
  const char *now_lr = "[train]\nlr = 0.003\n[checkpoint]\nkeep = last\n";
  rc = hardy_ckpt_check_compatible(&info, now_lr, 77, NULL, 0, changed, sizeof changed);
  TEST_ASSERT(rc == HARDY_OK && !strcmp(changed, "train.lr,checkpoint.keep"), "lr: %s '%s'",
              hardy_error_message(), changed);
  rc = hardy_ckpt_check_compatible(&info, "[model]\nhidden = 64\n", 77, NULL, 0, changed, sizeof changed);
  TEST_ASSERT(rc == HARDY_ERR_INPUT && ckpt_test_contains(hardy_error_message(), "model.hidden"),
              "shape key: %s", hardy_error_message());
  hardy_error_clear();
  /* the other block type: the key is named, also when the parameter count differs too */
  rc = hardy_ckpt_check_compatible(&info, "[model]\nattn_out_proj = true\n", 77, NULL, 999,
                                   changed, sizeof changed);
  TEST_ASSERT(rc == HARDY_ERR_INPUT && ckpt_test_contains(hardy_error_message(), "model.attn_out_proj"),
              "attn_out_proj: %s", hardy_error_message());
  hardy_error_clear();
  /* a text saved before the key existed had the projection */
  rc = hardy_ckpt_check_compatible(&info, "[model]\nattn_out_proj = true\n", 77, NULL, 0,
                                   changed, sizeof changed);
  TEST_ASSERT(rc == HARDY_ERR_INPUT, "attn_out_proj differs from a full echo");
  hardy_error_clear();
  hardy_ckpt_info_t old = info;
  old.config_text = "[model]\nhidden = 256\n";
  rc = hardy_ckpt_check_compatible(&old, "[model]\nattn_out_proj = true\n", 77, NULL, 0, changed,
                                   sizeof changed);
  TEST_ASSERT(rc == HARDY_OK, "a saved text without the key had the projection: %s",
              hardy_error_message());
  hardy_error_clear();
  rc = hardy_ckpt_check_compatible(&old, "[model]\nhidden = 256\n", 77, NULL, 0, changed,
                                   sizeof changed);
  TEST_ASSERT(rc == HARDY_ERR_INPUT && ckpt_test_contains(hardy_error_message(), "model.attn_out_proj"),
              "old text vs the new default: %s", hardy_error_message());
  hardy_error_clear();
  rc = hardy_ckpt_check_compatible(&info, text, 78, NULL, 0, changed, sizeof changed);
  TEST_ASSERT(rc == HARDY_ERR_INPUT && ckpt_test_contains(hardy_error_message(), "another dataset"),
              "dataset: %s", hardy_error_message());
  hardy_error_clear();
  rc = hardy_ckpt_check_compatible(&info, text, 77, "0.0.1-other", 0, changed, sizeof changed);
  TEST_ASSERT(rc == HARDY_ERR_INPUT && ckpt_test_contains(hardy_error_message(), "0.0.1-other"),
              "version: %s", hardy_error_message());
  hardy_error_clear();
  rc = hardy_ckpt_check_compatible(&info, text, 77, NULL, 999, changed, sizeof changed);
  TEST_ASSERT(rc == HARDY_ERR_INPUT, "parameter count");
  hardy_error_clear();
  free(text);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  world = MPI_COMM_WORLD;
  MPI_Comm_rank(world, &rank_);
  MPI_Comm_size(world, &nranks_);
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  char dir[256];
  ckpt_test_tmpdir(dir, sizeof dir, world);
  test_refusals(dir);
  test_unwritable(dir);
  test_retention(dir);
  test_compatible();
  ckpt_test_rmdir(dir, world);
  int status = hardy_test_finish("test_ckpt_errors");
  MPI_Finalize();
  return status;
}
