/* Rank-0 console output: info/warning lines, progress lines with rate and ETA, and the
 * JSON-lines metrics writer used by training. Only rank 0 of MPI_COMM_WORLD prints (warnings
 * from any rank go through hardy_log_warn_any, which prefixes the rank). */
#ifndef HARDY_LOG_H
#define HARDY_LOG_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* Printed on rank 0 only, to stderr, prefixed "hardy: ". */
void hardy_log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void hardy_log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Printed by whichever rank calls it, prefixed "hardy[rank R]: warning: ". */
void hardy_log_warn_any(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* In a sweep: leader 1 makes this process print (and write metrics files) as rank 0 of its
 * group does, 0 silences it, -1 restores rank 0 of MPI_COMM_WORLD; `tag` (may be NULL) names
 * the task on every info and progress line. */
void hardy_log_set_leader(int leader, const char *tag);
/* Silence info lines (tests, --quiet). Warnings still print. */
void hardy_log_set_quiet(bool quiet);

/* Progress over a counted unit of work (steps, rows, queries). Local: call on every rank; only
 * rank 0 prints, at most once per `min_interval` seconds, plus the final line. */
typedef struct {
  char phase[64];
  char unit[32];
  int64_t total, done;
  double t_start, t_last;
  double min_interval;
} hardy_progress_t;

void hardy_progress_begin(hardy_progress_t *p, const char *phase, int64_t total, const char *unit,
                          double min_interval);
/* `done` units finished so far; `rate_units` the units the rate is counted in (e.g. utterances,
 * when `done` counts steps) or -1 to use `done`. `detail` is appended (may be NULL). */
void hardy_progress_update(hardy_progress_t *p, int64_t done, double rate_units, const char *detail);
void hardy_progress_end(hardy_progress_t *p, double rate_units, const char *detail);
/* Would hardy_progress_update print now (rank 0, not quiet, interval passed)? Local; callers
 * that need a reduction for the line agree on it first. */
bool hardy_progress_due(const hardy_progress_t *p);

/* Format seconds as "1h02m", "3m05s" or "12.3s". */
void hardy_format_duration(double seconds, char *out, size_t cap);

/* JSON-lines writer (rank 0 opens; other ranks hold a closed writer and writes are no-ops). */
typedef struct {
  FILE *f;
} hardy_jsonl_t;

int hardy_jsonl_open(hardy_jsonl_t *w, const char *path, bool append);
/* Writes one compact line and flushes; takes ownership of obj (deletes it). */
int hardy_jsonl_write(hardy_jsonl_t *w, cJSON *obj);
void hardy_jsonl_close(hardy_jsonl_t *w);

/* Write a cJSON object to a file atomically (tmp + rename). Rank 0 only by convention. */
int hardy_json_write_file(const char *path, const cJSON *obj);

/* ---- the job position ---- */
/* Where a long job stands, for the progress lines a person follows: the position in the job
 * (`task 3/30` in a sweep, `run 2/6` among a train job's folds and conditions) and a job-level
 * ETA from the fraction of the job's optimiser steps done. Local (rank-local state, no MPI):
 * every rank of a run makes the same calls; only rank 0 prints. */
/* A sweep task: index (0-based) of n_tasks; n_tasks 0 outside a sweep. */
void hardy_job_set_task(int task_index, int n_tasks);
/* A train job of n_runs runs (folds x conditions) starts now. */
void hardy_job_begin(int n_runs);
/* Run run_index (0-based) of the job is under way: steps_done of its steps_total optimiser
 * steps (every phase) are done. The first call of a job fixes the starting fraction, so a
 * resumed job's ETA counts only the work it does itself. */
void hardy_job_update(int run_index, int64_t steps_done, int64_t steps_total);
/* "task 3/30 | run 2/6 | job 41% ETA 12m05s" (parts present only when known). */
void hardy_job_describe(char *out, size_t cap);

#endif
