/* Runs that cannot be mixed up: which configuration keys determine a run's results, the
 * run's fingerprint, the checks that keep one output directory to one run (resume refuses a
 * result-determining change, a non-empty directory needs --resume or --overwrite), status.json
 * for every failure, and the provenance block of results.json (build, command, hosts, time).
 *
 * Key classes. Every key of the config schema is result-determining unless it is listed in
 * run_guard.c as operational (threads, progress, checkpoint cadence and retention, the
 * allreduce algorithm and bucket size, the kNN query block, the free-text run name): a key
 * added to the schema later is result-determining until someone says otherwise. data.path is
 * compared through the data file's content fingerprint, not its spelling. The "replicate" keys
 * (seed, fold, condition, rate, data, teacher checkpoint) vary between the runs of one method;
 * the method fingerprint leaves them out. */
#ifndef HARDY_RUN_H
#define HARDY_RUN_H

#include <cjson/cJSON.h>
#include <mpi.h>
#include <stdbool.h>
#include <stdint.h>

#include "hardy/config.h"

/* Does "section.key" determine results (false: operational)? Local. */
bool hardy_run_key_determines_results(const char *section_key);
/* Is "section.key" a replicate key (seed, fold, condition, rate, data, teacher checkpoint)? */
bool hardy_run_key_is_replicate(const char *section_key);

/* Refuse to resume when a result-determining key differs between the checkpoint's config text
 * and `now`. On a difference records one error naming `ckpt_path` and every such key with its
 * old and new value ("seed: 5 -> 6") and returns HARDY_ERR_INPUT. Local. */
int hardy_run_check_resume(const char *ckpt_config_text, const hardy_config_t *now,
                           const char *ckpt_path);

/* Fingerprints (16 hex digits + NUL) of the canonical result-determining keys, with data.path
 * replaced by the data's content fingerprint: `config` over every result-determining key,
 * `method` over those that are not replicate keys. Local. */
int hardy_run_fingerprints(const hardy_config_t *cfg, uint64_t data_fingerprint, char config[17],
                           char method[17]);

/* What an output directory holds. */
typedef enum {
  HARDY_OUT_EMPTY = 0,   /* absent, empty, or only log files (*.log, *.out) */
  HARDY_OUT_RUN = 1,     /* a hardy run's files (config.ini, metrics.jsonl, status.json, ...) */
  HARDY_OUT_FOREIGN = 2, /* files hardy-hpc does not write */
} hardy_out_kind_t;

/* Classify DIR; `example` (may be NULL) receives the first foreign entry's name. Local. */
hardy_out_kind_t hardy_run_out_kind(const char *dir, char *example, size_t cap);

/* Check DIR may receive a new run: empty or absent is fine; a run's directory needs `resume`
 * (kept) or `overwrite` (its run files are removed; logs stay); foreign files are refused even
 * with overwrite. HARDY_ERR_INPUT with the cause and the fix otherwise. Local: call on one rank
 * (rank 0) and agree. */
int hardy_run_prepare_out(const char *dir, bool resume, bool overwrite);

/* Write DIR/status.json for `status` (done / preempted / failed with the current error
 * message), creating DIR if needed. Best effort, never touches the error record. Local: call on
 * the rank that owns the directory (rank 0 of the run's communicator). */
void hardy_run_write_status(const char *dir, int status);

/* Does DIR/status.json say the run finished ("done")? Local. */
bool hardy_run_is_done(const char *dir);

/* Remember the command line for provenance (main.c calls it once). Local. */
void hardy_run_set_command_line(int argc, char **argv);
/* Start of a job: record the UTC start time, and gather the host names of comm's ranks.
 * Collective over comm. */
int hardy_run_provenance_begin(MPI_Comm comm);
/* The provenance object of results.json: program version and git commit, command line, start
 * and end time (UTC, ISO 8601), hosts, ranks, threads, BLAS core, and the fingerprints. Local;
 * the caller owns the result. */
cJSON *hardy_run_provenance_json(const hardy_config_t *cfg, uint64_t data_fingerprint);

#endif
