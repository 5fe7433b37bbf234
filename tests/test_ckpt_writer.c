/* Driver for the checkpoint script tests (kill -9 during writes, h5py access by name).
 *   test_ckpt_writer write DIR N_PARAMS FIRST_STEP COUNT [model]
 *     saves checkpoints for steps FIRST_STEP.. (keep 2, every third one "best"); buffers hold
 *     value(step, j) so any reader can tell which step a file holds and that it is whole.
 *     With `model` the tensor index (and N_PARAMS) come from a small real model.
 *   test_ckpt_writer check DIR
 *     DIR/latest must resolve to a file that opens, verifies and holds its step's values;
 *     every .h5 file in DIR must too. Prints "latest STEP". Exit 0, or 2 with the reason. */
#include <dirent.h>

#include "test_ckpt_common.h"

#include "hardy/log.h"

/* Exact in float32 for step * 1000 + 997 < 2^24. */
static float value(int64_t step, size_t j, int array) {
  return (float)(step * 1000 + (int64_t)(j % 997)) * 0.5f + 0.125f * (float)array;
}

static int write_loop(const char *dir, size_t n, int64_t first, int64_t count, bool model) {
  hardy_model_t *m = NULL;
  hardy_tensor_info_t *index = NULL;
  size_t n_tensors = 0;
  if (model) {
    hardy_model_cfg_t cfg = {{8, 6, 4}, 16, 1, 2, 1.0f, 0.0f, true, 32, 4, false, true, 16, 7, true};
    HARDY_CHECK(hardy_model_create(&cfg, &m));
    HARDY_CHECK(hardy_ckpt_model_index(m, &index, &n_tensors));
    n = hardy_model_num_params(m);
  }
  ckpt_test_model_t tm;
  ckpt_test_model_init(&tm, n, 1);
  int rc = HARDY_OK;
  for (int64_t step = first; step < first + count && rc == HARDY_OK; step++) {
    float *arrays[4] = {tm.params, tm.m, tm.v, tm.best};
    for (int a = 0; a < 4; a++)
      for (size_t j = 0; j < n; j++) arrays[a][j] = value(step, j, a);
    hardy_ckpt_state_t st = ckpt_test_state(&tm, step);
    if (model) {
      st.tensors = index;
      st.n_tensors = n_tensors;
    }
    char name[64];
    hardy_ckpt_name(name, sizeof name, step);
    rc = hardy_ckpt_save(&st, dir, name, 2, step % 3 == 0, MPI_COMM_WORLD, NULL);
  }
  ckpt_test_model_free(&tm);
  free(index);
  if (m) hardy_model_free(m);
  return rc;
}

/* The file opens, verifies, and every array holds value(global_step, j, array). */
static int check_file(const char *path, int64_t *step) {
  hardy_ckpt_info_t info;
  HARDY_CHECK(hardy_ckpt_open(path, &info, MPI_COMM_WORLD));
  size_t n = info.n_params;
  float *a[4];
  for (int k = 0; k < 4; k++) a[k] = malloc((n ? n : 1) * sizeof(float));
  int rc = hardy_ckpt_read_model(path, &info, a[0], a[1], a[2], info.has_best_params ? a[3] : NULL,
                                 MPI_COMM_WORLD);
  for (int k = 0; k < 4 && rc == HARDY_OK; k++)
    for (size_t j = 0; j < n && (k < 3 || info.has_best_params); j++)
      if (a[k][j] != value(info.global_step, j, k)) {
        rc = hardy_fail(HARDY_ERR_INPUT, "%s: array %d element %zu holds %g, step %lld wrote %g",
                        path, k, j, a[k][j], (long long)info.global_step,
                        value(info.global_step, j, k));
        break;
      }
  *step = info.global_step;
  for (int k = 0; k < 4; k++) free(a[k]);
  hardy_ckpt_info_free(&info);
  return rc;
}

static int check_dir(const char *dir) {
  char path[4200];
  int64_t step = -1, other;
  HARDY_CHECK(hardy_ckpt_resolve(dir, path, sizeof path));
  HARDY_CHECK(check_file(path, &step));
  /* every file under a final name is complete (the listing is taken on rank 0 only) */
  char names[64][256];
  int n = 0;
  if (hardy_world_rank() == 0) {
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d)) != NULL && n < 64;) {
      size_t len = strlen(e->d_name);
      if (len > 3 && len < 256 && !strcmp(e->d_name + len - 3, ".h5"))
        snprintf(names[n++], 256, "%s", e->d_name);
    }
    if (d) closedir(d);
  }
  MPI_Bcast(&n, 1, MPI_INT, 0, MPI_COMM_WORLD);
  MPI_Bcast(names, (int)sizeof names, MPI_CHAR, 0, MPI_COMM_WORLD);
  for (int i = 0; i < n; i++) {
    snprintf(path, sizeof path, "%s/%s", dir, names[i]);
    HARDY_CHECK(check_file(path, &other));
  }
  if (hardy_world_rank() == 0) printf("latest %lld files %d\n", (long long)step, n);
  return HARDY_OK;
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  hardy_log_set_quiet(true);
  int rc;
  if (argc >= 6 && !strcmp(argv[1], "write"))
    rc = write_loop(argv[2], (size_t)atoll(argv[3]), atoll(argv[4]), atoll(argv[5]),
                    argc > 6 && !strcmp(argv[6], "model"));
  else if (argc == 3 && !strcmp(argv[1], "check"))
    rc = check_dir(argv[2]);
  else
    rc = hardy_fail(HARDY_ERR_INPUT, "usage: %s write DIR N FIRST COUNT [model] | check DIR",
                    argv[0]);
  if (rc < 0 && hardy_world_rank() == 0) fprintf(stderr, "error: %s\n", hardy_error_message());
  MPI_Finalize();
  return hardy_exit_code(rc);
}
