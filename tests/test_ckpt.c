/* Checkpoint round trips at the launched rank count: flat buffers and every metadata field
 * come back bitwise; the tensor index of a real model is stored and checksummed; tables come
 * back by global id whether the ranks held their rows in global order (shards) or scattered,
 * with contiguous or gapped ids; a checkpoint written by a sub-communicator (another rank
 * count) reads back on all ranks and the other way round; the XXH64 checksum matches the
 * published algorithm (reference values from libxxhash 0.8.1). */
#include "test_ckpt_common.h"

#include "../src/checkpoint/checkpoint_internal.h"

static void test_xxh64_known_answers(void) {
  unsigned char bytes[100];
  for (int i = 0; i < 100; i++) bytes[i] = (unsigned char)i;
  TEST_ASSERT(ckpt_xxh64("", 0, 0) == 0xef46db3751d8e999ull, "XXH64 of empty input");
  TEST_ASSERT(ckpt_xxh64("abc", 3, 0) == 0x44bc2cf5ad770999ull, "XXH64 of abc");
  TEST_ASSERT(ckpt_xxh64(bytes, 100, 7) == 0x80653e7e9b887cddull, "XXH64 of 0..99 seed 7");
  TEST_ASSERT(ckpt_xxh64(bytes, 37, 123456789) == 0x5e97a4ff795b3fd1ull, "XXH64 of 0..36");
}

static void check_info(const hardy_ckpt_info_t *in, const hardy_ckpt_state_t *st, int nranks) {
  TEST_EQ_INT(in->nranks_written, nranks);
  TEST_EQ_INT(in->layout_version, HARDY_CKPT_LAYOUT_VERSION);
  TEST_ASSERT(!strcmp(in->version, HARDY_VERSION), "version %s", in->version);
  TEST_EQ_INT(in->n_params, st->n_params);
  TEST_EQ_INT(in->n_tensors, st->n_tensors);
  TEST_EQ_INT(in->adam_step, st->adam_step);
  TEST_EQ_INT(in->run_index, st->run_index);
  TEST_EQ_INT(in->phase, st->phase);
  TEST_EQ_INT(in->epoch, st->epoch);
  TEST_EQ_INT(in->step_in_epoch, st->step_in_epoch);
  TEST_EQ_INT(in->global_step, st->global_step);
  TEST_ASSERT(in->seed == st->seed, "seed %llx", (unsigned long long)in->seed);
  TEST_ASSERT(memcmp(&in->best_value, &st->best_value, sizeof(double)) == 0, "best_value %.17g",
              in->best_value);
  TEST_EQ_INT(in->best_epoch, st->best_epoch);
  TEST_EQ_INT(in->has_best_params, st->best_params != NULL);
  TEST_ASSERT(!strcmp(in->best_metrics_json, st->best_metrics_json), "best metrics");
  TEST_ASSERT(!strcmp(in->results_json, st->results_json), "results");
  TEST_ASSERT(!strcmp(in->config_text, st->config_text), "config text");
  TEST_ASSERT(!strcmp(in->data_path, st->data_path), "data path");
  TEST_ASSERT(in->data_fingerprint == st->data_fingerprint, "fingerprint");
  TEST_EQ_INT(in->n_tables, st->n_tables);
}

/* Save, open, read every array back bitwise, on comm. */
static void round_trip(const char *dir, size_t n, MPI_Comm comm) {
  int nranks;
  MPI_Comm_size(comm, &nranks);
  ckpt_test_model_t tm;
  ckpt_test_model_init(&tm, n, n);
  hardy_ckpt_state_t st = ckpt_test_state(&tm, 7);
  double mbs = -1;
  int rc = hardy_ckpt_save(&st, dir, "ckpt-000000000007", 2, true, comm, &mbs);
  TEST_ASSERT(rc == HARDY_OK, "save: %s", hardy_error_message());
  TEST_ASSERT(n == 0 ? mbs >= 0 : mbs > 0, "bandwidth %g", mbs);
  char path[4200];
  TEST_ASSERT(hardy_ckpt_resolve(dir, path, sizeof path) == HARDY_OK, "%s", hardy_error_message());
  hardy_ckpt_info_t info;
  rc = hardy_ckpt_open(path, &info, comm);
  TEST_ASSERT(rc == HARDY_OK, "open: %s", hardy_error_message());
  if (rc != HARDY_OK) return;
  check_info(&info, &st, nranks);
  float *back[4];
  for (int a = 0; a < 4; a++) back[a] = calloc(n ? n : 1, sizeof(float));
  rc = hardy_ckpt_read_model(path, &info, back[0], back[1], back[2], back[3], comm);
  TEST_ASSERT(rc == HARDY_OK, "read_model: %s", hardy_error_message());
  TEST_ASSERT(ckpt_test_same(back[0], tm.params, n), "params differ (n %zu)", n);
  TEST_ASSERT(ckpt_test_same(back[1], tm.m, n), "adam_m differs");
  TEST_ASSERT(ckpt_test_same(back[2], tm.v, n), "adam_v differs");
  TEST_ASSERT(ckpt_test_same(back[3], tm.best, n), "best params differ");
  for (int a = 0; a < 4; a++) free(back[a]);
  hardy_ckpt_info_free(&info);
  ckpt_test_model_free(&tm);
}

/* The index of a real model goes in, and a model-sized buffer round trips. */
static void real_model_index(const char *dir, MPI_Comm comm) {
  hardy_model_cfg_t cfg = {{8, 6, 4}, 16, 1, 2, 1.0f, 0.0f, true, 32, 4, false, true, 16, 7, true};
  hardy_model_t *m = NULL;
  int rc = hardy_model_create(&cfg, &m);
  TEST_ASSERT(rc == HARDY_OK, "model: %s", hardy_error_message());
  if (rc != HARDY_OK) return;
  hardy_model_init(m);
  hardy_tensor_info_t *index = NULL;
  size_t n_tensors = 0, n = hardy_model_num_params(m);
  TEST_ASSERT(hardy_ckpt_model_index(m, &index, &n_tensors) == HARDY_OK, "index");
  TEST_ASSERT(n_tensors > 10, "model has %zu tensors", n_tensors);
  ckpt_test_model_t tm;
  ckpt_test_model_init(&tm, n, 3);
  memcpy(tm.params, hardy_model_params(m), n * sizeof(float));
  hardy_ckpt_state_t st = ckpt_test_state(&tm, 9);
  st.tensors = index;
  st.n_tensors = n_tensors;
  st.best_params = NULL;
  rc = hardy_ckpt_save(&st, dir, "ckpt-000000000009", 2, false, comm, NULL);
  TEST_ASSERT(rc == HARDY_OK, "save: %s", hardy_error_message());
  hardy_ckpt_info_t info;
  char path[4200];
  snprintf(path, sizeof path, "%s/ckpt-000000000009.h5", dir);
  rc = hardy_ckpt_open(path, &info, comm);
  TEST_ASSERT(rc == HARDY_OK, "open: %s", hardy_error_message());
  if (rc == HARDY_OK) {
    TEST_EQ_INT(info.n_tensors, n_tensors);
    TEST_ASSERT(!info.has_best_params, "no best params were given");
    float *back = calloc(n, sizeof(float));
    rc = hardy_ckpt_read_model(path, &info, back, NULL, NULL, NULL, comm);
    TEST_ASSERT(rc == HARDY_OK && ckpt_test_same(back, hardy_model_params(m), n),
                "model params round trip: %s", hardy_error_message());
    free(back);
    hardy_ckpt_info_free(&info);
  }
  free(index);
  ckpt_test_model_free(&tm);
  hardy_model_free(m);
}

/* Rows this rank holds. mode 0: shard order, contiguous ids (rank r: a block of ids);
 * mode 1: scattered and reversed, ids with gaps (id = 3 * k + 1). */
typedef struct {
  int64_t n;
  int64_t *id;
  float *f;   /* [n, 3] */
  int64_t *l; /* [n, 2] */
  uint8_t *u; /* [n] */
} rows_t;

static float fval(int64_t id, int j) { return (float)id * 0.5f + (float)j * 0.125f - 3.0f; }

static void rows_make(rows_t *r, int64_t n_total, int mode, int rank, int nranks) {
  int64_t lo = n_total * rank / nranks, hi = n_total * (rank + 1) / nranks;
  r->n = mode == 0 ? hi - lo : 0;
  if (mode == 1)
    for (int64_t k = 0; k < n_total; k++) r->n += k % nranks == rank;
  r->id = malloc((size_t)(r->n + 1) * 8);
  r->f = malloc((size_t)(r->n + 1) * 3 * sizeof(float));
  r->l = malloc((size_t)(r->n + 1) * 2 * 8);
  r->u = malloc((size_t)(r->n + 1));
  int64_t i = 0;
  for (int64_t k = n_total - 1; mode == 1 && k >= 0; k--)
    if (k % nranks == rank) r->id[i++] = 3 * k + 1;
  for (int64_t k = lo; mode == 0 && k < hi; k++) r->id[i++] = 100 + k;
  for (i = 0; i < r->n; i++) {
    for (int j = 0; j < 3; j++) r->f[3 * i + j] = fval(r->id[i], j);
    r->l[2 * i] = -r->id[i];
    r->l[2 * i + 1] = r->id[i] * r->id[i];
    r->u[i] = (uint8_t)(r->id[i] * 7);
  }
}

static void rows_free(rows_t *r) { free(r->id), free(r->f), free(r->l), free(r->u); }

static void add_tables(hardy_ckpt_state_t *st, const rows_t *shard, const rows_t *scat) {
  st->n_tables = 4;
  st->tables[0] = (hardy_ckpt_table_t){"hardness/score", HARDY_CKPT_F32, 3, shard->n, shard->id, shard->f};
  st->tables[1] = (hardy_ckpt_table_t){"neighbors/id", HARDY_CKPT_I64, 2, shard->n, shard->id, shard->l};
  st->tables[2] = (hardy_ckpt_table_t){"scattered_f", HARDY_CKPT_F32, 3, scat->n, scat->id, scat->f};
  st->tables[3] = (hardy_ckpt_table_t){"scattered_u8", HARDY_CKPT_U8, 1, scat->n, scat->id, scat->u};
}

/* Read every table back on comm, each rank asking for a different mix of ids in any order. */
static void check_tables(const char *path, int64_t n_shard, int64_t n_scat, MPI_Comm comm) {
  int rank, nranks;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &nranks);
  int64_t n = 0, want[64];
  for (int64_t k = rank; k < n_shard && n < 32; k += nranks + 1) want[n++] = 100 + (n_shard - 1 - k);
  if (n > 1) want[n++] = want[0]; /* a repeated id */
  float f[64 * 3];
  int64_t l[64 * 2];
  int rc = hardy_ckpt_read_table(path, "hardness/score", want, n, HARDY_CKPT_F32, 3, f, comm);
  TEST_ASSERT(rc == HARDY_OK, "read hardness/score: %s", hardy_error_message());
  rc = hardy_ckpt_read_table(path, "neighbors/id", want, n, HARDY_CKPT_I64, 2, l, comm);
  TEST_ASSERT(rc == HARDY_OK, "read neighbors/id: %s", hardy_error_message());
  int bad = 0;
  for (int64_t i = 0; i < n; i++)
    bad += f[3 * i + 2] != fval(want[i], 2) || l[2 * i] != -want[i] || l[2 * i + 1] != want[i] * want[i];
  TEST_EQ_INT(bad, 0);
  int64_t m = 0, want2[64];
  uint8_t u[64];
  for (int64_t k = n_scat - 1 - rank; k >= 0 && m < 40; k -= 2) want2[m++] = 3 * k + 1;
  rc = hardy_ckpt_read_table(path, "scattered_f", want2, m, HARDY_CKPT_F32, 3, f, comm);
  TEST_ASSERT(rc == HARDY_OK, "read scattered_f: %s", hardy_error_message());
  rc = hardy_ckpt_read_table(path, "scattered_u8", want2, m, HARDY_CKPT_U8, 1, u, comm);
  TEST_ASSERT(rc == HARDY_OK, "read scattered_u8: %s", hardy_error_message());
  bad = 0;
  for (int64_t i = 0; i < m; i++)
    bad += f[3 * i] != fval(want2[i], 0) || f[3 * i + 1] != fval(want2[i], 1) ||
           u[i] != (uint8_t)(want2[i] * 7);
  TEST_EQ_INT(bad, 0);
  /* a missing id (a gap of the scattered ids) and a wrong width are refused on every rank */
  int64_t missing = 2;
  rc = hardy_ckpt_read_table(path, "scattered_f", &missing, rank == 0, HARDY_CKPT_F32, 3, f, comm);
  TEST_ASSERT(rc == HARDY_ERR_INPUT && ckpt_test_contains(hardy_error_message(), "no row for utterance id 2"),
              "missing id: %s", hardy_error_message());
  hardy_error_clear();
  rc = hardy_ckpt_read_table(path, "scattered_f", want2, m, HARDY_CKPT_F32, 2, f, comm);
  TEST_ASSERT(rc == HARDY_ERR_INPUT && ckpt_test_contains(hardy_error_message(), "float32 x 3"),
              "wrong width: %s", hardy_error_message());
  hardy_error_clear();
}

/* Write tables on `wcomm` (a subset of the ranks or all), read them on `rcomm`. */
static void tables_across(const char *dir, MPI_Comm wcomm, MPI_Comm rcomm, const char *name) {
  const int64_t n_shard = 37, n_scat = 53;
  char path[4200];
  snprintf(path, sizeof path, "%s/%s.h5", dir, name);
  if (wcomm != MPI_COMM_NULL) {
    int rank, nranks;
    MPI_Comm_rank(wcomm, &rank);
    MPI_Comm_size(wcomm, &nranks);
    rows_t shard, scat;
    rows_make(&shard, n_shard, 0, rank, nranks);
    rows_make(&scat, n_scat, 1, rank, nranks);
    ckpt_test_model_t tm;
    ckpt_test_model_init(&tm, 1000, 5);
    hardy_ckpt_state_t st = ckpt_test_state(&tm, 1);
    add_tables(&st, &shard, &scat);
    int rc = hardy_ckpt_save(&st, dir, name, 0, false, wcomm, NULL);
    TEST_ASSERT(rc == HARDY_OK, "save with tables: %s", hardy_error_message());
    hardy_ckpt_info_t info;
    rc = hardy_ckpt_open(path, &info, wcomm);
    TEST_ASSERT(rc == HARDY_OK, "open: %s", hardy_error_message());
    if (rc == HARDY_OK) {
      TEST_EQ_INT(info.n_tables, 4);
      TEST_ASSERT(info.tables[0].ids_contiguous && info.tables[0].first_id == 100, "shard ids");
      TEST_ASSERT(!info.tables[2].ids_contiguous, "scattered ids have gaps");
      TEST_EQ_INT(info.tables[2].n_rows, n_scat);
      hardy_ckpt_info_free(&info);
    }
    ckpt_test_model_free(&tm);
    rows_free(&shard);
    rows_free(&scat);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  if (rcomm != MPI_COMM_NULL) check_tables(path, n_shard, n_scat, rcomm);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int rank, nranks;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &nranks);
  char dir[256];
  ckpt_test_tmpdir(dir, sizeof dir, MPI_COMM_WORLD);
  TEST_ASSERT(dir[0], "mkdtemp failed");
  test_xxh64_known_answers();
  /* sizes around the 1 MiB block: empty, tiny, several blocks plus a tail */
  size_t sizes[] = {0, 1000, 3 * CKPT_BLOCK_FLOATS + 12345};
  for (int i = 0; i < 3; i++) round_trip(dir, sizes[i], MPI_COMM_WORLD);
  real_model_index(dir, MPI_COMM_WORLD);
  tables_across(dir, MPI_COMM_WORLD, MPI_COMM_WORLD, "tables-all");
  /* another rank count: the first half writes, everyone reads; then everyone writes, rank 0
   * alone reads */
  MPI_Comm half, solo;
  MPI_Comm_split(MPI_COMM_WORLD, rank < (nranks + 1) / 2 ? 0 : MPI_UNDEFINED, rank, &half);
  MPI_Comm_split(MPI_COMM_WORLD, rank == 0 ? 0 : MPI_UNDEFINED, rank, &solo);
  tables_across(dir, half, MPI_COMM_WORLD, "tables-half");
  tables_across(dir, MPI_COMM_WORLD, solo, "tables-solo");
  if (half != MPI_COMM_NULL) MPI_Comm_free(&half);
  if (solo != MPI_COMM_NULL) MPI_Comm_free(&solo);
  ckpt_test_rmdir(dir, MPI_COMM_WORLD);
  int status = hardy_test_finish("test_ckpt");
  MPI_Finalize();
  return status;
}
