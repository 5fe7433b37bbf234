/* `hardy-hpc sweep CONFIG SWEEP_FILE --out DIR [--group-ranks G]`: a whole sweep in one MPI
 * job. Every line of the sweep file (overrides `section.key=value ...`) is a task trained into
 * DIR/<name>, the name built as jobs/sweep.sbatch builds it ("missing.rate=0.3 run.seed=2" ->
 * rate0.3-seed2). Every line is validated before any training. MPI_COMM_WORLD is split into
 * groups of G ranks; each group takes the next task from a counter in an RMA window on world
 * rank 0 (MPI_Fetch_and_op), so fast groups take more tasks. A finished task is skipped, a
 * checkpointed one resumes, any other starts over; a failing task fails only its directory
 * (status.json) and its group goes on. SIGUSR1/SIGTERM make every running task checkpoint;
 * the sweep then exits 143 and a rerun completes what is missing. */
#include <ctype.h>
#include <omp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hardy/blas.h"
#include "hardy/cli.h"
#include "hardy/common.h"
#include "hardy/config.h"
#include "hardy/log.h"
#include "hardy/run.h"
#include "hardy/train.h"

static const char *USAGE =
    "usage: hardy-hpc sweep CONFIG.ini SWEEP_FILE --out DIR [--group-ranks G]\n"
    "                       [--set section.key=value ...] [--quiet]\n"
    "Train every line of SWEEP_FILE (overrides `section.key=value ...`; blank lines and\n"
    "# comments skipped) into DIR/<name>, e.g. `missing.rate=0.3 run.seed=2` -> DIR/rate0.3-seed2.\n"
    "Every line is checked before any training (exit 2 naming the line and key).\n"
    "  --group-ranks G  ranks per task (default: all ranks, one task at a time); the ranks\n"
    "                   must be a multiple of G; ranks/G tasks train at once\n"
    "  --set k=v        override for every task (the line's own overrides win)\n"
    "Finished tasks are skipped, checkpointed ones resume; a failed task writes its\n"
    "status.json and the others go on. SIGUSR1/SIGTERM checkpoint every running task and exit\n"
    "143; run the same command again to complete the sweep. DIR/sweep-status.json lists every\n"
    "task's state. Exit: 0 all done, 2 bad input, 3 a task failed, 143 stopped.\n";

#define LINE_MAX_ 4096
#define NAME_MAX_ 256

typedef struct {
  int line_no;             /* in the sweep file, 1-based */
  char text[LINE_MAX_];    /* the overrides, comments and outer blanks removed */
  char name[NAME_MAX_];    /* directory under DIR */
} task_t;

/* Strip a '#' comment and outer blanks in place. */
static void clean_line(char *s) {
  char *hash = strchr(s, '#');
  if (hash) *hash = '\0';
  size_t n = strlen(s);
  while (n && isspace((unsigned char)s[n - 1])) s[--n] = '\0';
  size_t i = 0;
  while (isspace((unsigned char)s[i])) i++;
  memmove(s, s + i, strlen(s + i) + 1);
}

/* Directory name of a line: last key component + value per word, joined by '-'; value
 * characters ',', '/', ' ' become '+', '_', '_' (as jobs/sweep.sbatch). */
static int task_name(const char *text, char *out, size_t cap) {
  size_t at = 0;
  char buf[LINE_MAX_];
  snprintf(buf, sizeof buf, "%s", text);
  char *save = NULL;
  for (char *w = strtok_r(buf, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
    char *eq = strchr(w, '=');
    if (!eq) return -1;
    *eq = '\0';
    const char *key = strrchr(w, '.') ? strrchr(w, '.') + 1 : w;
    if (at && at + 1 < cap) out[at++] = '-';
    for (const char *c = key; *c && at + 1 < cap; c++) out[at++] = *c;
    for (const char *c = eq + 1; *c && at + 1 < cap; c++)
      out[at++] = *c == ',' ? '+' : (*c == '/' || *c == ' ') ? '_' : *c;
  }
  out[at] = '\0';
  return at ? 0 : -1;
}

/* The sweep file's task lines. Local. */
static int read_tasks(const char *path, task_t **tasks, int *n_tasks) {
  FILE *f = fopen(path, "r");
  if (!f) return hardy_fail(HARDY_ERR_INPUT, "sweep file %s cannot be opened: check the path", path);
  int cap = 16, n = 0, line_no = 0;
  task_t *t = hardy_malloc(sizeof *t * (size_t)cap, "sweep tasks");
  char line[LINE_MAX_];
  int rc = t ? HARDY_OK : HARDY_ERR_RUNTIME;
  while (rc == HARDY_OK && fgets(line, sizeof line, f)) {
    line_no++;
    clean_line(line);
    if (!line[0]) continue;
    if (n == cap) {
      task_t *bigger = realloc(t, sizeof *t * (size_t)(cap *= 2));
      if (!bigger) {
        rc = hardy_fail(HARDY_ERR_RUNTIME, "out of memory reading %s", path);
        break;
      }
      t = bigger;
    }
    t[n].line_no = line_no;
    snprintf(t[n].text, sizeof t[n].text, "%s", line);
    if (task_name(line, t[n].name, sizeof t[n].name) != 0)
      rc = hardy_fail(HARDY_ERR_INPUT, "%s:%d: '%s' is not a list of section.key=value overrides",
                      path, line_no, line);
    n++;
  }
  fclose(f);
  if (rc == HARDY_OK && n == 0)
    rc = hardy_fail(HARDY_ERR_INPUT, "sweep file %s has no task lines", path);
  for (int i = 0; rc == HARDY_OK && i < n; i++)
    for (int j = 0; j < i; j++)
      if (!strcmp(t[i].name, t[j].name)) {
        rc = hardy_fail(HARDY_ERR_INPUT, "%s:%d and line %d both map to the directory '%s': "
                        "make the lines differ", path, t[j].line_no, t[i].line_no, t[i].name);
        break;
      }
  *tasks = t;
  *n_tasks = n;
  return rc;
}

/* The configuration of a task: the base (CONFIG + global --set), then the line. Local. */
static int task_config(const hardy_config_t *base_unfinalized, const char *sweep_path,
                       const task_t *t, hardy_config_t *cfg) {
  *cfg = *base_unfinalized;
  char origin[HARDY_PATH_MAX + 32], buf[LINE_MAX_];
  snprintf(origin, sizeof origin, "%s:%d", sweep_path, t->line_no);
  snprintf(buf, sizeof buf, "%s", t->text);
  char *save = NULL;
  for (char *w = strtok_r(buf, " \t", &save); w; w = strtok_r(NULL, " \t", &save))
    HARDY_CHECK(hardy_config_set(cfg, w, origin));
  int rc = hardy_config_finalize(cfg);
  if (rc != HARDY_OK) return hardy_fail(rc, "(in %s)", origin);
  return HARDY_OK;
}

/* Everything checkable before training: keys, values, cross-key rules, and that each data
 * file exists and is readable (a file that opens but is not a valid dataset fails its task
 * alone, when the task opens it). Local (rank 0). */
static int validate(const hardy_config_t *base, const char *sweep_path, const task_t *tasks,
                    int n_tasks) {
  hardy_config_t *cfg = hardy_malloc(sizeof *cfg, "configuration");
  if (!cfg) return HARDY_ERR_RUNTIME;
  int rc = HARDY_OK;
  for (int i = 0; rc == HARDY_OK && i < n_tasks; i++) {
    rc = task_config(base, sweep_path, &tasks[i], cfg);
    if (rc == HARDY_OK && !cfg->data.path[0])
      rc = hardy_fail(HARDY_ERR_INPUT, "%s:%d: data.path is not set: put it in the config or "
                      "the line", sweep_path, tasks[i].line_no);
    if (rc == HARDY_OK && access(cfg->data.path, R_OK) != 0)
      rc = hardy_fail(HARDY_ERR_INPUT, "%s:%d: data.path = %s: no readable file there; fix the "
                      "path in the line or the config", sweep_path, tasks[i].line_no,
                      cfg->data.path);
  }
  free(cfg);
  return rc;
}

/* Where a task stands before its group starts it. */
enum { TASK_DONE = 0, TASK_RESUME = 1, TASK_FRESH = 2 };

static int task_state(const char *dir) {
  char latest[HARDY_PATH_MAX + NAME_MAX_ + 64];
  snprintf(latest, sizeof latest, "%s/checkpoints/latest", dir);
  if (hardy_run_is_done(dir)) return TASK_DONE;
  return access(latest, F_OK) == 0 ? TASK_RESUME : TASK_FRESH;
}

/* Train task i with the group's communicator. Returns the task's agreed status. */
static int run_task(const hardy_config_t *base, const char *sweep_path, const char *out,
                    const task_t *t, int index, int n_tasks, bool quiet, MPI_Comm group) {
  int grank;
  MPI_Comm_rank(group, &grank);
  char dir[HARDY_PATH_MAX + NAME_MAX_ + 2];
  snprintf(dir, sizeof dir, "%s/%s", out, t->name);
  int state = grank == 0 ? task_state(dir) : 0;
  MPI_Bcast(&state, 1, MPI_INT, 0, group);
  if (state == TASK_DONE) {
    hardy_log_info("task %d/%d %s: done before; skipped", index + 1, n_tasks, t->name);
    return HARDY_OK;
  }
  hardy_config_t cfg;
  int st = task_config(base, sweep_path, t, &cfg);
  /* a fresh task owns its directory: an earlier attempt's files go, foreign files refuse */
  if (st == HARDY_OK && grank == 0 && state == TASK_FRESH) st = hardy_run_prepare_out(dir, false, true);
  if (st == HARDY_OK && grank == 0) st = hardy_mkdirs(dir, "task directory");
  if (st == HARDY_OK && grank == 0) {
    char path[sizeof dir + 32];
    snprintf(path, sizeof path, "%s/sweep-task.txt", dir);
    FILE *f = fopen(path, "w");
    if (f) fprintf(f, "index %d\nline %s\nfile %s:%d\n", index, t->text, sweep_path, t->line_no), fclose(f);
  }
  st = hardy_agree(st, group);
  if (st != HARDY_OK) {
    if (grank == 0) hardy_run_write_status(dir, st);
    return st;
  }
  hardy_log_info("task %d/%d %s: %s (%s)", index + 1, n_tasks, t->name,
                 state == TASK_RESUME ? "resuming" : "starting", t->text);
  hardy_log_set_quiet(quiet);
  if (cfg.run.threads > 0) { /* a task's own run.threads; the placement was set for the sweep */
    omp_set_num_threads(cfg.run.threads);
    hardy_blas_set_threads(cfg.run.threads);
  }
  hardy_job_set_task(index, n_tasks);
  hardy_train_opts_t opts = {dir, state == TASK_RESUME ? "latest" : NULL, quiet, false};
  return hardy_train_run(&cfg, &opts, group);
}

/* Parse the flags. Local. */
static int parse_args(int argc, char **argv, const char **config, const char **sweep,
                      const char **out, int *group_ranks, bool *quiet) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--out") || !strcmp(a, "--group-ranks") || !strcmp(a, "--set")) {
      const char *v = hardy_cli_value(argc, argv, i++);
      if (!v) return HARDY_ERR_INPUT;
      if (!strcmp(a, "--out")) *out = v;
      if (!strcmp(a, "--group-ranks")) {
        int64_t g;
        HARDY_CHECK(hardy_cli_int64("--group-ranks", v, 1, 1 << 20, &g));
        *group_ranks = (int)g;
      }
    } else if (!strncmp(a, "--set=", 6)) {
      continue;
    } else if (!strcmp(a, "--quiet")) {
      *quiet = true;
    } else if (a[0] == '-') {
      return hardy_fail(HARDY_ERR_INPUT, "sweep: unknown option '%s' (see --help)", a);
    } else if (!*config) {
      *config = a;
    } else if (!*sweep) {
      *sweep = a;
    } else {
      return hardy_fail(HARDY_ERR_INPUT, "sweep: a third file '%s' (give CONFIG and SWEEP_FILE)", a);
    }
  }
  if (!*config || !*sweep)
    return hardy_fail(HARDY_ERR_INPUT, "sweep: give CONFIG.ini and SWEEP_FILE (see --help)");
  if (!*out) return hardy_fail(HARDY_ERR_INPUT, "sweep: --out DIR is required");
  return HARDY_OK;
}

/* The base configuration: CONFIG, then the global --set overrides (not finalized: each line
 * still applies on top). Local. */
static int base_config(int argc, char **argv, const char *config, hardy_config_t *base) {
  hardy_config_defaults(base);
  HARDY_CHECK(hardy_config_load_file(base, config));
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--out") || !strcmp(argv[i], "--group-ranks")) i++;
    else if (!strcmp(argv[i], "--set")) HARDY_CHECK(hardy_config_set(base, argv[++i], "--set"));
    else if (!strncmp(argv[i], "--set=", 6)) HARDY_CHECK(hardy_config_set(base, argv[i] + 6, "--set"));
  }
  return HARDY_OK;
}

/* DIR/sweep-status.json and the summary: every task's state from its status.json. Rank 0. */
static int summarize(const char *out, const task_t *tasks, int n_tasks) {
  cJSON *o = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(o, "tasks");
  int n_done = 0, n_failed = 0, n_other = 0, worst = HARDY_OK;
  for (int i = 0; i < n_tasks; i++) {
    char path[HARDY_PATH_MAX + NAME_MAX_ + 32], buf[8192] = "";
    snprintf(path, sizeof path, "%s/%s/status.json", out, tasks[i].name);
    FILE *f = fopen(path, "r");
    if (f) buf[fread(buf, 1, sizeof buf - 1, f)] = '\0', fclose(f);
    cJSON *st = cJSON_Parse(buf), *state = cJSON_GetObjectItem(st, "state");
    const char *s = cJSON_IsString(state) ? state->valuestring : "not started";
    cJSON *t = cJSON_CreateObject();
    cJSON_AddStringToObject(t, "name", tasks[i].name);
    cJSON_AddStringToObject(t, "line", tasks[i].text);
    cJSON_AddStringToObject(t, "state", s);
    cJSON *err = cJSON_GetObjectItem(st, "error");
    if (cJSON_IsString(err)) cJSON_AddStringToObject(t, "error", err->valuestring);
    cJSON_AddItemToArray(arr, t);
    if (!strcmp(s, "done")) {
      n_done++;
    } else if (!strcmp(s, "failed")) {
      n_failed++;
      cJSON *code = cJSON_GetObjectItem(st, "exit_code");
      int c = cJSON_IsNumber(code) && code->valueint == 2 ? HARDY_ERR_INPUT : HARDY_ERR_RUNTIME;
      worst = HARDY_MIN(worst, c);
      hardy_log_warn("task %s failed: %s", tasks[i].name,
                     cJSON_IsString(err) ? err->valuestring : "no message");
    } else {
      n_other++;
    }
    cJSON_Delete(st);
  }
  cJSON_AddNumberToObject(o, "done", n_done);
  cJSON_AddNumberToObject(o, "failed", n_failed);
  cJSON_AddNumberToObject(o, "unfinished", n_other);
  char path[HARDY_PATH_MAX + 32];
  snprintf(path, sizeof path, "%s/sweep-status.json", out);
  int rc = hardy_json_write_file(path, o);
  cJSON_Delete(o);
  hardy_log_info("sweep: %d of %d task(s) done, %d failed, %d unfinished -> %s", n_done, n_tasks,
                 n_failed, n_other, path);
  if (rc != HARDY_OK) return rc;
  if (n_failed)
    return hardy_fail(worst, "%d of %d sweep task(s) failed (their status.json has the message; "
                      "see %s): fix them and run the sweep again, the finished tasks are kept",
                      n_failed, n_tasks, path);
  return HARDY_OK;
}

int hardy_cmd_sweep(int argc, char **argv) {
  int wrank, wsize;
  MPI_Comm_rank(MPI_COMM_WORLD, &wrank);
  MPI_Comm_size(MPI_COMM_WORLD, &wsize);
  for (int i = 1; i < argc; i++)
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      if (wrank == 0) fputs(USAGE, stdout);
      return HARDY_OK;
    }
  const char *config = NULL, *sweep = NULL, *out = NULL;
  int group_ranks = wsize;
  bool quiet = false;
  task_t *tasks = NULL;
  int n_tasks = 0;
  hardy_config_t *base = hardy_malloc(sizeof *base, "configuration");
  int st = base ? parse_args(argc, argv, &config, &sweep, &out, &group_ranks, &quiet) : HARDY_ERR_RUNTIME;
  if (st == HARDY_OK && wsize % group_ranks != 0)
    st = hardy_fail(HARDY_ERR_INPUT, "sweep: %d rank(s) do not split into groups of "
                    "--group-ranks %d: use a divisor of the rank count", wsize, group_ranks);
  if (st == HARDY_OK) st = base_config(argc, argv, config, base);
  if (st == HARDY_OK) st = read_tasks(sweep, &tasks, &n_tasks);
  /* every line before any training: one rank checks, every rank agrees */
  if (st == HARDY_OK && wrank == 0) st = validate(base, sweep, tasks, n_tasks);
  if (st == HARDY_OK && wrank == 0) st = hardy_mkdirs(out, "sweep directory");
  st = hardy_agree(st, MPI_COMM_WORLD);
  /* threads per rank once for the whole sweep: the placement is collective over every rank,
   * which the groups' tasks cannot be */
  if (st == HARDY_OK) st = hardy_cli_apply_threads(base);
  if (st != HARDY_OK) {
    free(base), free(tasks);
    return st;
  }
  hardy_train_catch_stop_signals();
  int n_groups = wsize / group_ranks, color = wrank / group_ranks;
  hardy_log_info("sweep: %d task(s) from %s, %d group(s) of %d rank(s) -> %s", n_tasks, sweep,
                 n_groups, group_ranks, out);
  MPI_Comm group;
  MPI_Comm_split(MPI_COMM_WORLD, color, wrank, &group);
  int grank;
  MPI_Comm_rank(group, &grank);
  /* the next task: a counter on world rank 0, taken by each group's rank 0 */
  int64_t *counter = NULL;
  MPI_Win win;
  MPI_Win_allocate(wrank == 0 ? (MPI_Aint)sizeof(int64_t) : 0, sizeof(int64_t), MPI_INFO_NULL,
                   MPI_COMM_WORLD, &counter, &win);
  if (wrank == 0) {
    MPI_Win_lock(MPI_LOCK_EXCLUSIVE, 0, 0, win);
    *counter = 0;
    MPI_Win_unlock(0, win);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  int group_status = HARDY_OK; /* preempted wins over failures: the sweep is to be rerun */
  for (;;) {
    int64_t next = -1;
    if (grank == 0 && !hardy_stop_requested) {
      const int64_t one = 1;
      MPI_Win_lock(MPI_LOCK_SHARED, 0, 0, win);
      MPI_Fetch_and_op(&one, &next, MPI_INT64_T, 0, 0, MPI_SUM, win);
      MPI_Win_unlock(0, win);
    }
    MPI_Bcast(&next, 1, MPI_INT64_T, 0, group);
    if (next < 0) { /* stopped between tasks */
      group_status = HARDY_STATUS_PREEMPTED;
      break;
    }
    if (next >= n_tasks) break;
    hardy_log_set_leader(grank == 0, tasks[next].name);
    int ts = run_task(base, sweep, out, &tasks[next], (int)next, n_tasks, quiet, group);
    if (ts == HARDY_STATUS_PREEMPTED) {
      group_status = ts;
      hardy_log_set_leader(-1, NULL);
      break;
    }
    if (ts != HARDY_OK)
      hardy_log_warn("task %s failed (its status.json has the message); this group goes on",
                     tasks[next].name);
    hardy_error_clear(); /* the next task starts with a clean error record */
    hardy_log_set_leader(-1, NULL);
  }
  hardy_job_set_task(0, 0);
  MPI_Win_free(&win);
  MPI_Comm_free(&group);
  int all = group_status;
  MPI_Allreduce(MPI_IN_PLACE, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  if (all == HARDY_STATUS_PREEMPTED) {
    hardy_log_info("sweep: stopped by a signal; running tasks wrote checkpoints. Run the same "
                   "command again to complete the sweep");
  } else {
    st = wrank == 0 ? summarize(out, tasks, n_tasks) : HARDY_OK;
    all = hardy_agree(st, MPI_COMM_WORLD);
  }
  free(base), free(tasks);
  return all;
}
