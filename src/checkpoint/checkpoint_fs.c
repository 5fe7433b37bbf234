/* The file-system side of checkpoints, done by one rank: creating the directory, fsync of
 * files and directories, the `latest` / `best` pointer files (written by tmp + rename, so a
 * reader sees the old or the new name, never a torn one), retention of old checkpoints, and
 * resolving DIR / pointer / file arguments to a checkpoint path. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint_internal.h"
#include "hardy/common.h"
#include "hardy/config.h"

bool ckpt_name_ok(const char *name) {
  size_t len = strlen(name);
  if (len == 0 || len >= HARDY_CKPT_NAME_MAX || name[0] == '.') return false;
  for (const char *c = name; *c; c++)
    if (!(*c == '_' || *c == '-' || *c == '.' || (*c >= '0' && *c <= '9') ||
          (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z')))
      return false;
  return true;
}

void hardy_ckpt_name(char *out, size_t cap, int64_t global_step) {
  snprintf(out, cap, "ckpt-%012lld", (long long)global_step);
}

int ckpt_mkdirs(const char *dir) { return hardy_mkdirs(dir, "checkpoint directory"); }

int ckpt_fsync_path(const char *path, bool is_dir) {
  int fd = open(path, is_dir ? O_RDONLY | O_DIRECTORY : O_RDONLY);
  if (fd < 0)
    return hardy_fail(HARDY_ERR_RUNTIME, "cannot open %s to flush it: %s", path, strerror(errno));
  int rc = fsync(fd);
  int err = errno;
  close(fd);
  /* some file systems cannot fsync directories; the data itself is what must be durable */
  if (rc != 0 && !(is_dir && (err == EINVAL || err == ENOTSUP)))
    return hardy_fail(HARDY_ERR_RUNTIME, "fsync of %s failed: %s", path, strerror(err));
  return HARDY_OK;
}

int ckpt_pointer_write(const char *dir, const char *pointer, const char *target) {
  char path[4200], tmp[4300];
  snprintf(path, sizeof path, "%s/%s", dir, pointer);
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE *f = fopen(tmp, "w");
  if (!f) return hardy_fail(HARDY_ERR_RUNTIME, "cannot write %s: %s", tmp, strerror(errno));
  bool ok = fprintf(f, "%s\n", target) > 0 && fflush(f) == 0 && fsync(fileno(f)) == 0;
  int err = errno;
  ok = fclose(f) == 0 && ok;
  if (!ok || rename(tmp, path) != 0) {
    err = ok ? errno : err;
    unlink(tmp);
    return hardy_fail(HARDY_ERR_RUNTIME, "cannot update %s: %s", path, strerror(err));
  }
  return ckpt_fsync_path(dir, true);
}

int ckpt_pointer_read(const char *dir, const char *pointer, char *target, size_t cap) {
  char path[4200];
  snprintf(path, sizeof path, "%s/%s", dir, pointer);
  FILE *f = fopen(path, "r");
  if (!f) {
    if (errno == ENOENT) return 0;
    return hardy_fail(HARDY_ERR_INPUT, "cannot read %s: %s", path, strerror(errno));
  }
  char line[512] = "";
  bool ok = fgets(line, sizeof line, f) != NULL;
  fclose(f);
  line[strcspn(line, "\r\n")] = '\0';
  if (!ok || !ckpt_name_ok(line))
    return hardy_fail(HARDY_ERR_INPUT, "%s does not name a checkpoint file (content '%.64s'); "
                      "pass a checkpoint file instead", path, line);
  snprintf(target, cap, "%s", line);
  return 1;
}

/* Length of `name`'s stem: everything before its trailing digits. */
static size_t stem_len(const char *name) {
  size_t n = strlen(name);
  while (n > 0 && name[n - 1] >= '0' && name[n - 1] <= '9') n--;
  return n;
}

/* Does entry `e` read <stem><digits><suffix>? Returns the number or -1. */
static long long match_numbered(const char *e, const char *stem, size_t sl, const char *suffix) {
  if (strncmp(e, stem, sl) != 0) return -1;
  const char *d = e + sl, *s = d;
  while (*s >= '0' && *s <= '9') s++;
  if (s == d || s - d > 18 || strcmp(s, suffix) != 0) return -1;
  return strtoll(d, NULL, 10);
}

typedef struct {
  long long number;
  char name[256];
} numbered_t;

static int by_number_desc(const void *a, const void *b) {
  long long x = ((const numbered_t *)a)->number, y = ((const numbered_t *)b)->number;
  return x < y ? 1 : x > y ? -1 : strcmp(((const numbered_t *)a)->name, ((const numbered_t *)b)->name);
}

int ckpt_retain(const char *dir, const char *name, int keep) {
  size_t sl = stem_len(name);
  if (sl == strlen(name)) return HARDY_OK; /* not a numbered name: nothing to order by */
  char latest[256] = "", best[256] = "";
  if (ckpt_pointer_read(dir, "latest", latest, sizeof latest) < 0 ||
      ckpt_pointer_read(dir, "best", best, sizeof best) < 0)
    hardy_error_clear(); /* an unreadable pointer protects nothing, but must not stop saving */
  DIR *d = opendir(dir);
  if (!d) return hardy_fail(HARDY_ERR_RUNTIME, "cannot list %s: %s", dir, strerror(errno));
  numbered_t *list = NULL;
  size_t n = 0, cap = 0;
  char path[4400];
  int rc = HARDY_OK;
  for (struct dirent *e; (e = readdir(d)) != NULL;) {
    if (strlen(e->d_name) >= sizeof list->name) continue;
    if (match_numbered(e->d_name, name, sl, ".h5.tmp") >= 0) {
      snprintf(path, sizeof path, "%s/%s", dir, e->d_name); /* left by a killed writer */
      unlink(path);
      continue;
    }
    long long num = match_numbered(e->d_name, name, sl, ".h5");
    if (num < 0) continue;
    if (n == cap) {
      cap = cap ? 2 * cap : 16;
      numbered_t *grown = realloc(list, cap * sizeof *list);
      if (!grown) {
        rc = hardy_fail(HARDY_ERR_RUNTIME, "out of memory listing %s", dir);
        break;
      }
      list = grown;
    }
    list[n].number = num;
    snprintf(list[n++].name, sizeof list->name, "%s", e->d_name);
  }
  closedir(d);
  if (rc == HARDY_OK && keep > 0) {
    qsort(list, n, sizeof *list, by_number_desc);
    for (size_t i = (size_t)keep; i < n; i++) {
      if (!strcmp(list[i].name, latest) || !strcmp(list[i].name, best)) continue;
      snprintf(path, sizeof path, "%s/%s", dir, list[i].name);
      if (unlink(path) != 0 && errno != ENOENT)
        rc = hardy_fail(HARDY_ERR_RUNTIME, "cannot delete old checkpoint %s: %s", path,
                        strerror(errno));
    }
  }
  free(list);
  return rc;
}

int hardy_ckpt_finish(const char *dir, int keep) {
  if (keep == HARDY_KEEP_ALL) return HARDY_OK;
  char path[4400];
  DIR *d = opendir(dir);
  if (!d) {
    if (errno == ENOENT) return HARDY_OK; /* no checkpoint was ever written */
    return hardy_fail(HARDY_ERR_RUNTIME, "cannot list %s: %s", dir, strerror(errno));
  }
  long long newest = -1; /* LAST keeps the newest step checkpoint */
  for (struct dirent *e; keep == HARDY_KEEP_LAST && (e = readdir(d)) != NULL;)
    newest = HARDY_MAX(newest, match_numbered(e->d_name, "ckpt-", 5, ".h5"));
  rewinddir(d);
  int rc = HARDY_OK;
  for (struct dirent *e; (e = readdir(d)) != NULL;) {
    long long num = match_numbered(e->d_name, "ckpt-", 5, ".h5");
    bool step = num >= 0 || match_numbered(e->d_name, "ckpt-", 5, ".h5.tmp") >= 0;
    if (!step || (num >= 0 && num == newest)) continue;
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    if (unlink(path) != 0 && errno != ENOENT && rc == HARDY_OK)
      rc = hardy_fail(HARDY_ERR_RUNTIME, "cannot delete checkpoint %s: %s", path, strerror(errno));
  }
  closedir(d);
  if (keep == HARDY_KEEP_FINAL) { /* nothing left to resume from: the job is complete */
    snprintf(path, sizeof path, "%s/latest", dir);
    if (unlink(path) != 0 && errno != ENOENT && rc == HARDY_OK)
      rc = hardy_fail(HARDY_ERR_RUNTIME, "cannot delete %s: %s", path, strerror(errno));
  }
  return rc;
}

int hardy_ckpt_resolve(const char *where, char *path, size_t cap) {
  struct stat st;
  if (stat(where, &st) != 0)
    return hardy_fail(HARDY_ERR_INPUT, "checkpoint %s: %s", where, strerror(errno));
  char dir[4096], target[256];
  const char *pointer = "latest";
  const char *base = strrchr(where, '/');
  base = base ? base + 1 : where;
  if (S_ISDIR(st.st_mode)) {
    snprintf(dir, sizeof dir, "%s", where);
    int rc = ckpt_pointer_read(dir, "latest", target, sizeof target);
    if (rc == 0) { /* a finished job under checkpoint.keep = final keeps only `best` */
      pointer = "best";
      rc = ckpt_pointer_read(dir, pointer, target, sizeof target);
    }
    if (rc < 0) return rc;
    if (rc == 0)
      return hardy_fail(HARDY_ERR_INPUT, "%s has no checkpoint (no file %s/latest or best); pass "
                        "a checkpoint directory that a run has written or a checkpoint file",
                        where, where);
  } else if (!strcmp(base, "latest") || !strcmp(base, "best")) {
    snprintf(dir, sizeof dir, "%.*s", base == where ? 1 : (int)(base - where - 1),
             base == where ? "." : where);
    pointer = base;
    int rc = ckpt_pointer_read(dir, pointer, target, sizeof target);
    if (rc <= 0) return rc < 0 ? rc : hardy_fail(HARDY_ERR_INPUT, "%s vanished", where);
  } else {
    if (snprintf(path, cap, "%s", where) >= (int)cap)
      return hardy_fail(HARDY_ERR_INPUT, "checkpoint path too long: %.64s...", where);
    return HARDY_OK;
  }
  if (snprintf(path, cap, "%s/%s", dir, target) >= (int)cap)
    return hardy_fail(HARDY_ERR_INPUT, "checkpoint path too long: %.64s...", dir);
  if (stat(path, &st) != 0)
    return hardy_fail(HARDY_ERR_INPUT, "%s/%s names %s, which does not exist (%s); pass an "
                      "older checkpoint file explicitly", dir, pointer, path, strerror(errno));
  return HARDY_OK;
}
