/* Console and metrics output; see log.h. */
#include "hardy/log.h"

#include <errno.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "hardy/common.h"

static bool g_quiet = false;

void hardy_log_set_quiet(bool quiet) { g_quiet = quiet; }

/* Who prints: rank 0 of MPI_COMM_WORLD, unless a sweep made each group's rank 0 the leader. */
static int g_leader = -1;
static char g_tag[96];

void hardy_log_set_leader(int leader, const char *tag) {
  g_leader = leader;
  snprintf(g_tag, sizeof g_tag, "%s", tag ? tag : "");
}

static bool is_leader(void) { return g_leader >= 0 ? g_leader == 1 : hardy_world_rank() == 0; }

/* "hardy: 2026-12-04 15:20:31 " (UTC): info and progress lines carry the time. */
static void put_prefix(void) {
  char when[32];
  time_t t = time(NULL);
  struct tm tm;
  strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", gmtime_r(&t, &tm));
  fprintf(stderr, "hardy: %s %s%s", when, g_tag, g_tag[0] ? " " : "");
}

void hardy_log_info(const char *fmt, ...) {
  if (g_quiet || !is_leader()) return;
  va_list ap;
  va_start(ap, fmt);
  put_prefix();
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

void hardy_log_warn(const char *fmt, ...) {
  if (!is_leader()) return;
  va_list ap;
  va_start(ap, fmt);
  fputs("hardy: warning: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

void hardy_log_warn_any(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "hardy[rank %d]: warning: ", hardy_world_rank());
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

void hardy_format_duration(double s, char *out, size_t cap) {
  if (!(s >= 0) || s > 1e9) {
    snprintf(out, cap, "?");
  } else if (s >= 3600) {
    snprintf(out, cap, "%dh%02dm", (int)(s / 3600), (int)(s / 60) % 60);
  } else if (s >= 60) {
    snprintf(out, cap, "%dm%02ds", (int)(s / 60), (int)s % 60);
  } else {
    snprintf(out, cap, "%.1fs", s);
  }
}

void hardy_progress_begin(hardy_progress_t *p, const char *phase, int64_t total, const char *unit,
                          double min_interval) {
  memset(p, 0, sizeof *p);
  snprintf(p->phase, sizeof p->phase, "%s", phase);
  snprintf(p->unit, sizeof p->unit, "%s", unit);
  p->total = total;
  p->t_start = p->t_last = hardy_now();
  p->min_interval = min_interval;
}

static void print_line(hardy_progress_t *p, double rate_units, const char *detail, bool final) {
  double now = hardy_now(), elapsed = now - p->t_start;
  double units = rate_units >= 0 ? rate_units : (double)p->done;
  double rate = elapsed > 0 ? units / elapsed : 0.0;
  char eta[32], el[32];
  hardy_format_duration(elapsed, el, sizeof el);
  if (p->done > 0 && p->total > 0)
    hardy_format_duration(elapsed * (double)(p->total - p->done) / (double)p->done, eta, sizeof eta);
  else
    snprintf(eta, sizeof eta, "?");
  const char *rate_unit = rate_units >= 0 ? "utt" : p->unit;
  put_prefix();
  if (final)
    fprintf(stderr, "[%s] done %lld %s in %s | %.1f %s/s%s%s\n", p->phase,
            (long long)p->done, p->unit, el, rate, rate_unit, detail ? " | " : "", detail ? detail : "");
  else
    fprintf(stderr, "[%s] %lld/%lld %s (%.0f%%) | %.1f %s/s | ETA %s%s%s\n", p->phase,
            (long long)p->done, (long long)p->total, p->unit,
            p->total > 0 ? 100.0 * (double)p->done / (double)p->total : 0.0, rate, rate_unit, eta,
            detail ? " | " : "", detail ? detail : "");
  p->t_last = now;
}

void hardy_progress_update(hardy_progress_t *p, int64_t done, double rate_units, const char *detail) {
  p->done = done;
  if (g_quiet || !is_leader()) return;
  if (hardy_now() - p->t_last < p->min_interval) return;
  print_line(p, rate_units, detail, false);
}

bool hardy_progress_due(const hardy_progress_t *p) {
  return !g_quiet && is_leader() && hardy_now() - p->t_last >= p->min_interval;
}

void hardy_progress_end(hardy_progress_t *p, double rate_units, const char *detail) {
  if (g_quiet || !is_leader()) return;
  print_line(p, rate_units, detail, true);
}

int hardy_jsonl_open(hardy_jsonl_t *w, const char *path, bool append) {
  w->f = NULL;
  if (!is_leader()) return HARDY_OK;
  w->f = fopen(path, append ? "a" : "w");
  if (!w->f)
    return hardy_fail(HARDY_ERR_RUNTIME, "cannot open metrics file '%s': %s", path, strerror(errno));
  return HARDY_OK;
}

int hardy_jsonl_write(hardy_jsonl_t *w, cJSON *obj) {
  int rc = HARDY_OK;
  if (w->f && obj) {
    char *text = cJSON_PrintUnformatted(obj);
    if (!text) {
      rc = hardy_fail(HARDY_ERR_RUNTIME, "cannot format a metrics line");
    } else {
      fprintf(w->f, "%s\n", text);
      fflush(w->f);
      free(text);
    }
  }
  cJSON_Delete(obj);
  return rc;
}

void hardy_jsonl_close(hardy_jsonl_t *w) {
  if (w->f) fclose(w->f);
  w->f = NULL;
}

int hardy_json_write_file(const char *path, const cJSON *obj) {
  char tmp[4200];
  struct stat target;
  /* a device or pipe (/dev/null, /dev/stdout) is written through: renaming onto it would
   * replace the device itself when run as root */
  if (stat(path, &target) == 0 && !S_ISREG(target.st_mode))
    snprintf(tmp, sizeof tmp, "%s", path);
  else
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
  char *text = cJSON_Print(obj);
  if (!text) return hardy_fail(HARDY_ERR_RUNTIME, "cannot format JSON for '%s'", path);
  FILE *f = fopen(tmp, "w");
  if (!f) {
    free(text);
    return hardy_fail(HARDY_ERR_RUNTIME, "cannot write '%s': %s", tmp, strerror(errno));
  }
  size_t bytes = strlen(text) + 1;
  bool ok = fprintf(f, "%s\n", text) >= 0;
  int err = errno;
  free(text);
  if (fclose(f) != 0 && ok) ok = false, err = errno;
  if (!ok) { /* a full disk: say how much was needed, leave no partial file behind */
    unlink(tmp);
    struct statvfs vfs;
    char dir[4200];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = '\0';
    double free_mb = statvfs(slash ? dir : ".", &vfs) == 0
                         ? (double)vfs.f_bavail * (double)vfs.f_frsize / 1e6 : -1.0;
    return hardy_fail(HARDY_ERR_RUNTIME, "cannot write '%s': %s (it needs %zu bytes; %.3f MB "
                      "free)", path, strerror(err), bytes, free_mb);
  }
  if (strcmp(tmp, path) != 0 && rename(tmp, path) != 0)
    return hardy_fail(HARDY_ERR_RUNTIME, "cannot write '%s': %s", path, strerror(errno));
  return HARDY_OK;
}
