/* Job position and job-level ETA for progress lines (see log_job.h). The fraction of a job
 * done is (finished runs + the current run's share of its optimiser steps) / runs; the ETA
 * extrapolates the time since this process began the job over the fraction it has done. */
#include "hardy/log.h"

#include <stdio.h>

#include "hardy/common.h"

static struct {
  int task, n_tasks;
  int run, n_runs;
  double fraction, fraction0, t0;
  int started;
} g_job;

void hardy_job_set_task(int task_index, int n_tasks) {
  g_job.task = task_index;
  g_job.n_tasks = n_tasks;
}

void hardy_job_begin(int n_runs) {
  g_job.run = 0;
  g_job.n_runs = n_runs;
  g_job.fraction = g_job.fraction0 = 0;
  g_job.t0 = hardy_now();
  g_job.started = 0;
}

void hardy_job_update(int run_index, int64_t steps_done, int64_t steps_total) {
  g_job.run = run_index;
  double in_run = steps_total > 0 ? (double)steps_done / (double)steps_total : 0.0;
  if (in_run > 1) in_run = 1;
  g_job.fraction = g_job.n_runs > 0 ? ((double)run_index + in_run) / g_job.n_runs : 0.0;
  if (!g_job.started) {
    g_job.fraction0 = g_job.fraction;
    g_job.t0 = hardy_now();
    g_job.started = 1;
  }
}

void hardy_job_describe(char *out, size_t cap) {
  int n = 0;
  out[0] = '\0';
  if (g_job.n_tasks > 0)
    n += snprintf(out + n, cap - (size_t)n, "task %d/%d | ", g_job.task + 1, g_job.n_tasks);
  if (g_job.n_runs > 0 && (size_t)n < cap)
    n += snprintf(out + n, cap - (size_t)n, "run %d/%d | ", g_job.run + 1, g_job.n_runs);
  if ((size_t)n >= cap) return;
  double did = g_job.fraction - g_job.fraction0, elapsed = hardy_now() - g_job.t0;
  char eta[32] = "?";
  if (did > 1e-9) hardy_format_duration(elapsed * (1.0 - g_job.fraction) / did, eta, sizeof eta);
  snprintf(out + n, cap - (size_t)n, "job %.0f%% ETA %s", 100.0 * g_job.fraction, eta);
}
