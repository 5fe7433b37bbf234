/* What a finished job leaves on disk (train module): the checkpoint retention of
 * checkpoint.keep applied once the results are written, and the bytes of DIR by kind for
 * results.json ("disk"), so a study's storage can be planned from a small run. Rank 0 only. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "hardy/checkpoint.h"
#include "hardy/common.h"
#include "train_internal.h"

enum { K_CHECKPOINTS, K_FINAL, K_TEACHERS, K_HARDNESS, K_LOGS, K_OTHER, N_KINDS };
static const char *KIND_NAMES[N_KINDS] = {"checkpoints", "final_models", "teachers",
                                          "hardness",    "logs",         "other"};

static bool ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && !strcmp(s + n - m, suffix);
}

/* Kind of file `name` in DIR/`sub` ("" for DIR itself). */
static int kind_of(const char *sub, const char *name) {
  if (!strcmp(sub, "checkpoints")) return ends_with(name, "-final.h5") ? K_FINAL : K_CHECKPOINTS;
  if (!strcmp(sub, "teachers")) return K_TEACHERS;
  if (sub[0]) return K_OTHER;
  if (!strncmp(name, "hardness-", 9) && ends_with(name, ".h5")) return K_HARDNESS;
  if (ends_with(name, ".jsonl") || ends_with(name, ".json") || ends_with(name, ".ini") ||
      ends_with(name, ".log") || ends_with(name, ".out") || ends_with(name, ".err"))
    return K_LOGS;
  return K_OTHER;
}

/* Add the sizes of the regular files under path (recursively) to bytes[kind]. */
static void walk(const char *path, const char *sub, double bytes[N_KINDS], int depth) {
  DIR *d = opendir(path);
  if (!d) return;
  char child[HARDY_PATH_MAX + 512];
  for (struct dirent *e; (e = readdir(d)) != NULL;) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    snprintf(child, sizeof child, "%s/%s", path, e->d_name);
    struct stat st;
    if (lstat(child, &st) != 0) continue;
    if (S_ISDIR(st.st_mode) && depth < 8)
      walk(child, depth == 0 ? e->d_name : sub, bytes, depth + 1);
    else if (S_ISREG(st.st_mode))
      bytes[kind_of(sub, e->d_name)] += (double)st.st_size;
  }
  closedir(d);
}

cJSON *train_disk_use(const char *out_dir) {
  double bytes[N_KINDS] = {0}, total = 0;
  walk(out_dir, "", bytes, 0);
  cJSON *o = cJSON_CreateObject();
  for (int k = 0; k < N_KINDS; k++) {
    cJSON_AddNumberToObject(o, KIND_NAMES[k], bytes[k]);
    total += bytes[k];
  }
  cJSON_AddNumberToObject(o, "total", total);
  return o;
}

int train_finish_checkpoints(const char *out_dir, int keep) {
  char dir[HARDY_PATH_MAX + 32];
  snprintf(dir, sizeof dir, "%s/checkpoints", out_dir);
  int st = hardy_ckpt_finish(dir, keep);
  snprintf(dir, sizeof dir, "%s/teachers", out_dir);
  if (st == HARDY_OK) st = hardy_ckpt_finish(dir, keep);
  return st;
}
