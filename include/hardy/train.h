/* Training runs: for every configured missing condition (or rate) and fold, read the shards,
 * train the teacher (with the curriculum), the student's stage 1 (all modalities, unimodal
 * heads), score hardness and retrieve neighbours, train stage 2 (training masks, task +
 * reconstruction, curriculum views), select the epoch on the validation split, evaluate on
 * test, and write config.ini, metrics.jsonl, results.json, hardness-<run>.h5 and checkpoints. Data-parallel over the ranks of comm: the epoch
 * plan (which dialogues form each optimiser step) is a pure function of (seed, phase, epoch),
 * every rank processes the dialogues of each step that it owns, gradients are summed with
 * MPI_Allreduce every step, and losses are normalised by the step's global utterance count, so
 * results depend on the rank count only through floating-point summation order. */
#ifndef HARDY_TRAIN_H
#define HARDY_TRAIN_H

#include <cjson/cJSON.h>
#include <mpi.h>
#include <stdbool.h>
#include <signal.h>
#include <stdint.h>

#include "hardy/checkpoint.h"
#include "hardy/config.h"
#include "hardy/dataset.h"
#include "hardy/mask.h"
#include "hardy/metrics.h"
#include "hardy/model.h"

/* Options of `hardy-hpc train` beyond the config. */
typedef struct {
  const char *out_dir;   /* required: results directory (created) */
  const char *resume;    /* NULL, or where to resume from: DIR, DIR/latest or a checkpoint file */
  bool quiet;
  bool hardness_only;    /* stop each run after the teacher and hardness (`hardy-hpc hardness`) */
} hardy_train_opts_t;

/* The whole training job. Collective over comm; writes files in opts->out_dir (rank 0). */
int hardy_train_run(const hardy_config_t *cfg, const hardy_train_opts_t *opts, MPI_Comm comm);

/* The model configuration of a run: the student, or the teacher (with cross-attention), for
 * batches of at most max_rows padded rows. Local. */
void hardy_train_model_config(const hardy_config_t *cfg, const hardy_dataset_t *ds, bool teacher,
                              int64_t max_rows, hardy_model_cfg_t *mc);

/* Longest dialogue of the file times the batch: the padded rows a batch can need. Local. */
int64_t hardy_train_max_rows(const hardy_dataset_t *ds, int batch_dialogues);

/* Evaluate `model` on a shard under the evaluation masks of `miss` (drawn once per (seed,
 * utterance)). Collective over comm (one metrics reduction). */
int hardy_train_evaluate(hardy_model_t *model, const hardy_shard_t *shard, hardy_missing_t miss,
                         uint64_t seed, int batch_dialogues, int task, int n_classes,
                         MPI_Comm comm, hardy_metrics_t *out);
/* The same with per-group metrics: groups[i] in {0, 1, 2} (or -1) for local row i; out[0] is
 * every row, out[1 + g] the rows of group g. */
int hardy_train_evaluate_groups(hardy_model_t *model, const hardy_shard_t *shard,
                                hardy_missing_t miss, uint64_t seed, int batch_dialogues, int task,
                                int n_classes, const int8_t *groups, MPI_Comm comm,
                                hardy_metrics_t *out);
/* The same that also returns every local row's output: values[i * W + k] for local row i,
 * W = n_classes (softmax probabilities) or 1 (the regression value); values may be NULL. */
int hardy_train_evaluate_rows(hardy_model_t *model, const hardy_shard_t *shard,
                              hardy_missing_t miss, uint64_t seed, int batch_dialogues, int task,
                              int n_classes, const int8_t *groups, MPI_Comm comm,
                              hardy_metrics_t *out, float *values);

/* Metrics as reported in results.json and by eval --json: the task's scalar metrics and n,
 * plus per-class recall and the confusion matrix for classification. Caller deletes. Local. */
cJSON *hardy_train_metrics_json(const hardy_metrics_t *m);

/* Write the predictions of a split as CSV to `path`: one row per utterance of the shards over
 * comm, in global-id order (id, name, label, prediction, class probabilities or nothing more
 * for regression, hardness tercile). values as from hardy_train_evaluate_rows; tercile[i] in
 * {0, 1, 2} for local row i, or NULL (the column stays empty). Rows are gathered to rank 0,
 * which writes path.tmp and renames it. Collective; errors agreed. */
int hardy_train_write_predictions(const char *path, const hardy_dataset_t *ds,
                                  const hardy_shard_t *shard, const float *values,
                                  const int8_t *tercile, MPI_Comm comm);

/* The feature statistics stored in a checkpoint or teacher (its /meta/standardize_json) for a
 * dataset: *legacy = true for checkpoints written before standardisation existed, whose models
 * saw the features as stored (then fn is an identity: standardize = none). Local; free with
 * hardy_dataset_featnorm_free. */
int hardy_train_featnorm_load(const hardy_ckpt_info_t *info, const hardy_dataset_t *ds,
                              hardy_featnorm_t *fn, bool *legacy);
/* Warn (rank 0) for every modality whose features are badly scaled (|mean| > 10 or std
 * outside [0.01, 100] on some dimension), naming `where`. Local. */
void hardy_train_featnorm_warn(const hardy_featnorm_t *fn, const char *where);

/* Set by a SIGTERM/SIGUSR1 handler (train's own, or a driver's such as sweep); the training
 * loop checks it at step boundaries, and the ranks agree on it before acting. */
extern volatile sig_atomic_t hardy_stop_requested;
/* Install the handler that sets it for SIGTERM and SIGUSR1 (Slurm's --signal). Local. */
void hardy_train_catch_stop_signals(void);

#endif
