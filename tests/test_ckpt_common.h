/* Shared fixtures of the checkpoint tests: a scratch directory every rank agrees on, a
 * deterministic replicated state (flat buffers, a fake tensor index, metadata) and helpers to
 * compare what comes back. */
#ifndef HARDY_TEST_CKPT_COMMON_H
#define HARDY_TEST_CKPT_COMMON_H

#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "hardy/checkpoint.h"
#include "hardy/common.h"
#include "hardy/rng.h"

/* mkdtemp on rank 0, broadcast. */
static inline void ckpt_test_tmpdir(char *dir, size_t cap, MPI_Comm comm) {
  int rank;
  MPI_Comm_rank(comm, &rank);
  /* mkdtemp's template: the prefix, then six placeholder characters it replaces */
  char buf[256] = "/tmp/hardy-ckpt-test-";
  memset(buf + strlen(buf), 'X', 6);
  if (rank == 0 && !mkdtemp(buf)) buf[0] = '\0';
  MPI_Bcast(buf, sizeof buf, MPI_CHAR, 0, comm);
  snprintf(dir, cap, "%s", buf);
}

static inline void ckpt_test_rmdir(const char *dir, MPI_Comm comm) {
  int rank;
  MPI_Barrier(comm);
  MPI_Comm_rank(comm, &rank);
  char cmd[512];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (rank == 0 && dir[0] && system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", dir);
}

/* Replicated buffers: values keyed by (seed, array, index), the same on every rank. */
typedef struct {
  size_t n;
  float *params, *m, *v, *best;
  hardy_tensor_info_t tensors[3];
  char names[3][64];
} ckpt_test_model_t;

static inline void ckpt_test_model_init(ckpt_test_model_t *tm, size_t n, uint64_t seed) {
  tm->n = n;
  float **arrays[4] = {&tm->params, &tm->m, &tm->v, &tm->best};
  for (int a = 0; a < 4; a++) {
    *arrays[a] = malloc((n ? n : 1) * sizeof(float));
    hardy_rng_normal_fill(hardy_rng_key(seed, HARDY_RNG_TEST_DATA), (uint64_t)a, *arrays[a],
                          (int64_t)n);
  }
  /* three tensors covering the buffer: a matrix, a vector and the rest */
  size_t rows = n / 64 > 0 ? n / 64 - 1 : 0, vec = n >= 64 * rows + 5 ? 5 : 0;
  snprintf(tm->names[0], 64, "expert.a.layer0.attn.q.weight");
  snprintf(tm->names[1], 64, "expert.a.layer0.attn.q.bias");
  snprintf(tm->names[2], 64, "head.rest");
  tm->tensors[0] = (hardy_tensor_info_t){tm->names[0], 0, 2, {(int64_t)rows, 64}};
  tm->tensors[1] = (hardy_tensor_info_t){tm->names[1], 64 * rows, 1, {(int64_t)vec, 0}};
  tm->tensors[2] = (hardy_tensor_info_t){tm->names[2], 64 * rows + vec, 1,
                                         {(int64_t)(n - 64 * rows - vec), 0}};
}

static inline void ckpt_test_model_free(ckpt_test_model_t *tm) {
  free(tm->params), free(tm->m), free(tm->v), free(tm->best);
}

static inline hardy_ckpt_state_t ckpt_test_state(const ckpt_test_model_t *tm, int64_t step) {
  hardy_ckpt_state_t st;
  memset(&st, 0, sizeof st);
  st.n_params = tm->n;
  st.n_tensors = 3;
  st.tensors = tm->tensors;
  st.params = tm->params;
  st.adam_m = tm->m;
  st.adam_v = tm->v;
  st.best_params = tm->best;
  st.adam_step = 1000 + step;
  st.run_index = 3;
  st.phase = 2;
  st.epoch = 17;
  st.step_in_epoch = 42;
  st.global_step = step;
  st.seed = 0xFEEDFACECAFEBEEFull;
  st.best_value = 0.6180339887498949;
  st.best_epoch = 11;
  st.best_metrics_json = "{\"wa\": 0.71, \"ua\": 0.69}";
  st.results_json = "[{\"run\": 0, \"test\": {\"wa\": 0.7}}]";
  st.config_text = "[train]\nlr = 0.001\n";
  st.data_path = "/data/iemocap4.h5";
  st.data_fingerprint = 0x0123456789ABCDEFull;
  return st;
}

static inline int ckpt_test_contains(const char *text, const char *needle) {
  return strstr(text, needle) != NULL;
}

static inline int ckpt_test_same(const float *a, const float *b, size_t n) {
  return memcmp(a, b, n * sizeof(float)) == 0;
}

#endif
