/* Runs that cannot be mixed up (see run_guard.h): the key classes, the resume check, the run
 * fingerprints, the output-directory rules, status.json and the provenance of results.json.
 * Every comparison works on the canonical echo of a parsed configuration
 * (hardy_config_to_string), so spelling, order and defaults in the files do not matter, and a
 * key added to the schema is covered without touching this file. */
#define _XOPEN_SOURCE 700 /* nftw */
#include "hardy/run.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hardy/blas.h"
#include "hardy/common.h"
#include "hardy_gitrev.h" /* HARDY_GIT_COMMIT, written at every build (cmake/HardyGitRev.cmake) */

/* Keys that change how a run executes, never what it computes. Everything else, including any
 * key added to the schema later, determines results. */
static const char *OPERATIONAL_KEYS[] = {
    "run.threads",       "run.name",        "run.progress_seconds",  "checkpoint.every_steps",
    "checkpoint.every_seconds", "checkpoint.keep", "train.allreduce", "train.bucket_mb",
    "retrieval.query_block", "checkpoint.keep_recent", "train.optimizer_shard",
};
/* Keys that vary between the runs of one method (replicates and settings of the experiment
 * grid); data.path is compared by content elsewhere. */
static const char *REPLICATE_KEYS[] = {
    "run.seed", "data.path", "data.fold", "missing.condition", "missing.rate", "teacher.checkpoint",
};

static bool in_list(const char *key, const char **list, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!strcmp(key, list[i])) return true;
  return false;
}

bool hardy_run_key_determines_results(const char *section_key) {
  return !in_list(section_key, OPERATIONAL_KEYS, sizeof OPERATIONAL_KEYS / sizeof *OPERATIONAL_KEYS);
}

bool hardy_run_key_is_replicate(const char *section_key) {
  return in_list(section_key, REPLICATE_KEYS, sizeof REPLICATE_KEYS / sizeof *REPLICATE_KEYS);
}

/* ---- canonical key/value walk ------------------------------------------------------------ */

/* Next "key = value" line of a canonical echo: fills section.key and value, advances *text.
 * Returns false at the end. */
static bool next_pair(const char **text, char *section, size_t scap, char *key, size_t kcap,
                      const char **value, size_t *vlen) {
  while (**text) {
    const char *line = *text;
    size_t len = strcspn(line, "\n");
    *text = line + len + (line[len] == '\n');
    if (len == 0) continue;
    if (line[0] == '[') {
      snprintf(section, scap, "%.*s", (int)(len > 2 ? len - 2 : 0), line + 1);
      continue;
    }
    size_t klen = strcspn(line, " =");
    snprintf(key, kcap, "%s.%.*s", section, (int)klen, line);
    const char *eq = memchr(line, '=', len);
    *value = eq ? eq + 1 + (eq[1] == ' ') : line + len;
    *vlen = (size_t)(line + len - *value);
    return true;
  }
  return false;
}

int hardy_run_check_resume(const char *ckpt_config_text, const hardy_config_t *now,
                           const char *ckpt_path) {
  hardy_config_t *then = hardy_malloc(sizeof *then, "configuration");
  if (!then) return HARDY_ERR_RUNTIME;
  hardy_config_defaults(then);
  char origin[HARDY_PATH_MAX + 32];
  snprintf(origin, sizeof origin, "%s:/meta/config_text", ckpt_path);
  int rc = hardy_config_load_string(then, ckpt_config_text, origin);
  if (rc == HARDY_OK) rc = hardy_config_finalize(then);
  char *a = rc == HARDY_OK ? hardy_config_to_string(then) : NULL;
  char *b = rc == HARDY_OK ? hardy_config_to_string(now) : NULL;
  free(then);
  if (rc != HARDY_OK || !a || !b) {
    free(a), free(b);
    return rc != HARDY_OK ? rc : HARDY_ERR_RUNTIME;
  }
  char list[3072] = "";
  size_t used = 0;
  int n_changed = 0;
  const char *pa = a, *pb = b, *va, *vb;
  size_t la, lb;
  char sa[128] = "", sb[128] = "", ka[256], kb[256];
  while (next_pair(&pa, sa, sizeof sa, ka, sizeof ka, &va, &la) &&
         next_pair(&pb, sb, sizeof sb, kb, sizeof kb, &vb, &lb)) {
    if (!strcmp(ka, "data.path") || !hardy_run_key_determines_results(ka)) continue;
    if (la == lb && !strncmp(va, vb, la)) continue;
    n_changed++;
    int n = snprintf(list + used, sizeof list - used, "\n  %s: %.*s -> %.*s", ka, (int)la, va,
                     (int)lb, vb);
    if (n > 0 && used + (size_t)n < sizeof list) used += (size_t)n;
  }
  free(a), free(b);
  if (!n_changed) return HARDY_OK;
  return hardy_fail(HARDY_ERR_INPUT,
                    "cannot resume: %d setting(s) that determine the results differ from the "
                    "checkpoint %s (checkpoint -> now):%s\nresume with the checkpoint's values "
                    "(they are in the run's config.ini), or start a new run in another --out "
                    "(or replace this one with --overwrite)",
                    n_changed, ckpt_path, list);
}

/* ---- fingerprints ------------------------------------------------------------------------ */

static uint64_t fnv1a(uint64_t h, const void *data, size_t len) {
  const unsigned char *p = data;
  for (size_t i = 0; i < len; i++) h = (h ^ p[i]) * 0x100000001b3ull;
  return h;
}

int hardy_run_fingerprints(const hardy_config_t *cfg, uint64_t data_fingerprint, char config[17],
                           char method[17]) {
  char *text = hardy_config_to_string(cfg);
  if (!text) return HARDY_ERR_RUNTIME;
  uint64_t hc = 0xcbf29ce484222325ull, hm = hc;
  char section[128] = "", key[256], line[64];
  const char *p = text, *v;
  size_t vlen;
  while (next_pair(&p, section, sizeof section, key, sizeof key, &v, &vlen)) {
    if (!hardy_run_key_determines_results(key)) continue;
    bool replicate = hardy_run_key_is_replicate(key);
    if (!strcmp(key, "data.path")) { /* the content, not the spelling of the path */
      int n = snprintf(line, sizeof line, "data.content=%016llx\n",
                       (unsigned long long)data_fingerprint);
      hc = fnv1a(hc, line, (size_t)n);
      continue;
    }
    hc = fnv1a(hc, key, strlen(key)), hc = fnv1a(hc, "=", 1);
    hc = fnv1a(hc, v, vlen), hc = fnv1a(hc, "\n", 1);
    if (replicate) continue;
    hm = fnv1a(hm, key, strlen(key)), hm = fnv1a(hm, "=", 1);
    hm = fnv1a(hm, v, vlen), hm = fnv1a(hm, "\n", 1);
  }
  free(text);
  snprintf(config, 17, "%016llx", (unsigned long long)hc);
  snprintf(method, 17, "%016llx", (unsigned long long)hm);
  return HARDY_OK;
}

/* ---- output directory -------------------------------------------------------------------- */

static bool ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && !strcmp(s + n - m, suffix);
}

/* Files and folders a run writes into its --out directory. */
static bool is_run_entry(const char *name) {
  static const char *NAMES[] = {"config.ini", "metrics.jsonl", "results.json", "status.json",
                                "checkpoints", "teachers", "job.done", "sweep-task.txt" /* job scripts */};
  for (size_t i = 0; i < sizeof NAMES / sizeof *NAMES; i++)
    if (!strcmp(name, NAMES[i])) return true;
  return (!strncmp(name, "hardness-", 9) && ends_with(name, ".h5")) || ends_with(name, ".json.tmp");
}

/* Job logs (Slurm's --output inside the run directory): neither the run's nor foreign. */
static bool is_log_entry(const char *name) { return ends_with(name, ".log") || ends_with(name, ".out"); }

hardy_out_kind_t hardy_run_out_kind(const char *dir, char *example, size_t cap) {
  DIR *d = opendir(dir);
  if (!d) return HARDY_OUT_EMPTY;
  hardy_out_kind_t kind = HARDY_OUT_EMPTY;
  struct dirent *e;
  while ((e = readdir(d))) {
    const char *n = e->d_name;
    if (!strcmp(n, ".") || !strcmp(n, "..") || is_log_entry(n)) continue;
    if (is_run_entry(n)) {
      if (kind == HARDY_OUT_EMPTY) kind = HARDY_OUT_RUN;
    } else if (kind != HARDY_OUT_FOREIGN) {
      kind = HARDY_OUT_FOREIGN;
      if (example) snprintf(example, cap, "%s", n);
    }
  }
  closedir(d);
  return kind;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb, (void)flag, (void)ftw;
  return remove(path);
}

/* Remove the run entries of dir (files, and the checkpoints/ and teachers/ trees). */
static int clear_run(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return hardy_fail(HARDY_ERR_INPUT, "--overwrite: cannot read %s: %s", dir, strerror(errno));
  struct dirent *e;
  int rc = HARDY_OK;
  char path[HARDY_PATH_MAX + 300];
  while (rc == HARDY_OK && (e = readdir(d))) {
    if (!is_run_entry(e->d_name)) continue;
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    if (nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
      rc = hardy_fail(HARDY_ERR_RUNTIME, "--overwrite: cannot remove %s: %s", path, strerror(errno));
  }
  closedir(d);
  return rc;
}

int hardy_run_prepare_out(const char *dir, bool resume, bool overwrite) {
  char example[256] = "";
  hardy_out_kind_t kind = hardy_run_out_kind(dir, example, sizeof example);
  if (kind == HARDY_OUT_EMPTY || resume) return HARDY_OK;
  if (kind == HARDY_OUT_FOREIGN)
    return hardy_fail(HARDY_ERR_INPUT, "output directory %s holds files that hardy-hpc did not "
                      "write (e.g. '%s'): choose a new or empty --out directory%s", dir, example,
                      overwrite ? " (--overwrite clears only a hardy run's own files)" : "");
  if (!overwrite)
    return hardy_fail(HARDY_ERR_INPUT, "output directory %s already holds a run: pass --resume "
                      "to continue it, --overwrite to replace it, or choose another --out", dir);
  return clear_run(dir);
}

/* ---- status.json ------------------------------------------------------------------------- */

void hardy_run_write_status(const char *dir, int status) {
  bool preempted = status == HARDY_STATUS_PREEMPTED;
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "state", status == HARDY_OK ? "done" : preempted ? "preempted" : "failed");
  cJSON_AddNumberToObject(o, "exit_code", preempted ? HARDY_EXIT_PREEMPTED : hardy_exit_code(status));
  if (status < 0 && !preempted) cJSON_AddStringToObject(o, "error", hardy_error_message());
  char when[32];
  time_t t = time(NULL);
  struct tm tm;
  strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
  cJSON_AddStringToObject(o, "time", when);
  char *text = cJSON_Print(o);
  cJSON_Delete(o);
  char path[HARDY_PATH_MAX + 16], tmp[HARDY_PATH_MAX + 32];
  snprintf(path, sizeof path, "%s/status.json", dir);
  snprintf(tmp, sizeof tmp, "%s/status.json.tmp", dir);
  mkdir(dir, 0777); /* the earliest errors come before the run made its directory */
  FILE *f = text ? fopen(tmp, "w") : NULL;
  if (f) {
    fprintf(f, "%s\n", text);
    if (fclose(f) == 0) rename(tmp, path);
    else remove(tmp);
  }
  free(text);
}

bool hardy_run_is_done(const char *dir) {
  char path[HARDY_PATH_MAX + 16], buf[4096];
  snprintf(path, sizeof path, "%s/status.json", dir);
  FILE *f = fopen(path, "r");
  if (!f) return false;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  cJSON *o = cJSON_Parse(buf);
  cJSON *state = cJSON_GetObjectItem(o, "state");
  bool done = cJSON_IsString(state) && !strcmp(state->valuestring, "done");
  cJSON_Delete(o);
  return done;
}

/* ---- provenance -------------------------------------------------------------------------- */

#define HOST_MAX 256

static struct {
  char *command_line;
  char start[32];
  int ranks;
  cJSON *hosts; /* unique host names, in rank order */
} g_prov;

void hardy_run_set_command_line(int argc, char **argv) {
  size_t len = 1;
  for (int i = 0; i < argc; i++) len += 3 + 2 * strlen(argv[i]);
  free(g_prov.command_line);
  char *s = g_prov.command_line = malloc(len);
  if (!s) return;
  s[0] = '\0';
  size_t at = 0;
  for (int i = 0; i < argc; i++) { /* quote words a shell would split */
    bool quote = !argv[i][0] || strpbrk(argv[i], " \t'\"$\\*?;&|<>()") != NULL;
    if (i) s[at++] = ' ';
    if (quote) s[at++] = '\'';
    for (const char *c = argv[i]; *c; c++) {
      if (quote && *c == '\'') { memcpy(s + at, "'\\''", 4); at += 4; continue; }
      s[at++] = *c;
    }
    if (quote) s[at++] = '\'';
  }
  s[at] = '\0';
}

static void utc_now(char *out, size_t cap) {
  time_t t = time(NULL);
  struct tm tm;
  strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
}

int hardy_run_provenance_begin(MPI_Comm comm) {
  int rank, nranks;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &nranks);
  utc_now(g_prov.start, sizeof g_prov.start);
  MPI_Bcast(g_prov.start, sizeof g_prov.start, MPI_CHAR, 0, comm);
  g_prov.ranks = nranks;
  char mine[HOST_MAX] = "";
  if (gethostname(mine, sizeof mine - 1) != 0) snprintf(mine, sizeof mine, "unknown");
  char *all = hardy_malloc((size_t)nranks * HOST_MAX, "host names");
  int ok = all != NULL;
  MPI_Allreduce(MPI_IN_PLACE, &ok, 1, MPI_INT, MPI_MIN, comm);
  if (!ok) {
    free(all);
    return hardy_agree(HARDY_ERR_RUNTIME, comm);
  }
  MPI_Allgather(mine, HOST_MAX, MPI_CHAR, all, HOST_MAX, MPI_CHAR, comm);
  cJSON_Delete(g_prov.hosts);
  g_prov.hosts = cJSON_CreateArray();
  for (int r = 0; r < nranks; r++) {
    const char *h = all + (size_t)r * HOST_MAX;
    bool seen = false;
    for (int q = 0; q < r && !seen; q++) seen = !strcmp(h, all + (size_t)q * HOST_MAX);
    if (!seen) cJSON_AddItemToArray(g_prov.hosts, cJSON_CreateString(h));
  }
  free(all);
  return HARDY_OK;
}

cJSON *hardy_run_provenance_json(const hardy_config_t *cfg, uint64_t data_fingerprint) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "version", HARDY_VERSION);
  cJSON_AddStringToObject(o, "git_commit", HARDY_GIT_COMMIT);
  cJSON_AddStringToObject(o, "command", g_prov.command_line ? g_prov.command_line : "?");
  char end[32];
  utc_now(end, sizeof end);
  cJSON_AddStringToObject(o, "start_utc", g_prov.start[0] ? g_prov.start : "?");
  cJSON_AddStringToObject(o, "end_utc", end);
  cJSON_AddItemToObject(o, "hosts", g_prov.hosts ? cJSON_Duplicate(g_prov.hosts, 1) : cJSON_CreateArray());
  cJSON_AddNumberToObject(o, "ranks", g_prov.ranks);
  cJSON_AddNumberToObject(o, "threads", omp_get_max_threads());
  cJSON_AddStringToObject(o, "blas_core", hardy_blas_core());
  char fc[17] = "?", fm[17] = "?";
  hardy_run_fingerprints(cfg, data_fingerprint, fc, fm);
  char data_fp[17];
  snprintf(data_fp, sizeof data_fp, "%016llx", (unsigned long long)data_fingerprint);
  cJSON_AddStringToObject(o, "data_fingerprint", data_fp);
  cJSON_AddStringToObject(o, "config_fingerprint", fc);
  cJSON_AddStringToObject(o, "method_fingerprint", fm);
  return o;
}
