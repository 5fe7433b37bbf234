/* Where a long job stands, for the progress lines a person follows: the position in the job
 * (`task 3/30` in a sweep, `run 2/6` among a train job's folds and conditions) and a job-level
 * ETA from the fraction of the job's optimiser steps done. Local (rank-local state, no MPI):
 * every rank of a run makes the same calls; only rank 0 prints. */
#ifndef HARDY_LOG_JOB_H
#define HARDY_LOG_JOB_H

#include <stddef.h>
#include <stdint.h>

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
