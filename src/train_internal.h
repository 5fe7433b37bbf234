/* Internal to the train module: the state of one run (a fold and a missing condition), padded
 * batch assembly, and the phases. Shared by train.c (the job), train_run.c (one run and its
 * checkpoints), train_phase.c (epochs and steps), train_hardness.c (teacher scoring, ranking,
 * retrieval) and train_batch.c (batches, evaluation). */
#ifndef HARDY_TRAIN_INTERNAL_H
#define HARDY_TRAIN_INTERNAL_H

#include <cjson/cJSON.h>
#include <signal.h>

#include "hardy/checkpoint.h"
#include "hardy/config.h"
#include "hardy/dataset.h"
#include "hardy/dist.h"
#include "hardy/hardness.h"
#include "hardy/log.h"
#include "hardy/mask.h"
#include "hardy/metrics.h"
#include "hardy/model.h"
#include "hardy/train.h"

/* ---- batches ------------------------------------------------------------------------------ */

/* Buffers for one padded batch, allocated once at setup for the largest batch. */
typedef struct {
  int64_t max_rows;
  int dims[3];
  float *x[3];      /* [max_rows, d_m] */
  uint8_t *avail;   /* [max_rows] */
  int32_t *label;   /* [max_rows] */
  float *score;     /* [max_rows] */
  float *weight;    /* [max_rows] */
  int64_t *utt_id;  /* [max_rows] */
  int64_t *local;   /* [max_rows] local shard row of each batch row, -1 on padding */
  hardy_batch_t batch;
} batch_buf_t;

/* How the availability of each row is chosen. */
typedef enum {
  AVAIL_NATURAL, /* the source's own modalities (stage 1, teacher warm-up, complete input) */
  AVAIL_TRAIN,   /* hardy_mask_train(seed, miss, epoch, id) */
  AVAIL_EVAL,    /* hardy_mask_eval(seed, miss, id) */
} avail_mode_t;

typedef struct {
  avail_mode_t mode;
  hardy_missing_t miss;
  uint64_t seed;
  uint64_t epoch;
} avail_rule_t;

/* A curriculum view: rows whose utterance has a budget that reaches view v show a neighbour's
 * features instead of their own (the anchor's label and mask stay). */
typedef struct {
  int view;              /* 0..K */
  int k_max;             /* K */
  const int8_t *budget;  /* [n_utt] effective budget per local row */
  const int64_t *nbr_id; /* [n_utt, K] neighbour global ids (-1: none) */
  float *const *nbr;     /* [3] of [n_utt * K, d_m] neighbour feature rows */
} view_src_t;

int batch_buf_alloc(batch_buf_t *bb, int64_t max_rows, const int dims[3]);
void batch_buf_free(batch_buf_t *bb);

/* Fill bb with local dialogues local_dlg[0..n) of shard (padded to their longest), availability
 * by rule, loss weight `row_weight` on real rows, features from `view` when not NULL. Returns
 * the number of real rows. */
int64_t batch_fill(batch_buf_t *bb, const hardy_shard_t *shard, const int64_t *local_dlg, int n,
                   const avail_rule_t *rule, float row_weight, const view_src_t *view);

/* Natural availability bit set of local row i of a shard. */
static inline uint8_t shard_natural(const hardy_shard_t *sh, int64_t i) {
  return sh->present ? hardy_mask_from_present(sh->present + 3 * i) : 7;
}

/* Largest number of whole dialogues of a shard that fit `max_rows` padded rows, at most cap. */
int batch_dialogues_fitting(const hardy_shard_t *sh, int64_t max_rows, int cap);

/* ---- one run ------------------------------------------------------------------------------ */

typedef enum {
  PHASE_TEACHER_WARMUP = 0,
  PHASE_TEACHER = 1,
  PHASE_STAGE1 = 2,
  PHASE_STAGE2 = 3,
  PHASE_DONE = 4,
} phase_t;

const char *phase_name(int phase);

/* A model under training with its optimiser state. */
typedef struct {
  hardy_model_t *model;
  float *adam_m, *adam_v; /* [n_params] */
  int64_t adam_step;
} trainee_t;

typedef struct {
  const hardy_config_t *cfg;
  const hardy_train_opts_t *opts;
  const hardy_dataset_t *ds;
  MPI_Comm comm;
  int rank, nranks;
  int run_index;          /* position of this run in the job (fold-major, then condition) */
  hardy_missing_t miss;
  int fold;               /* fold id, or HARDY_FOLD_NONE */
  char name[64];          /* "at", "at/fold1" */
  char tag[64];           /* file-name form: "at", "at-fold1" */
  /* data */
  const hardy_selection_t *train_sel;
  const hardy_shard_t *train, *val, *test;
  int64_t *owner_local;   /* [train_sel->n] local dialogue index of each selected dialogue or -1 */
  int64_t *dlg_len;       /* [train_sel->n] utterances per selected dialogue */
  int64_t max_rows;       /* batch_dialogues x longest dialogue */
  /* models */
  trainee_t student, teacher;
  bool have_teacher;
  float *best_params;     /* [n_params] student parameters at the best validation epoch */
  hardy_grad_sync_t sync; /* for whichever model is training */
  batch_buf_t bb;
  int64_t *step_dlg;      /* [batch_dialogues] */
  /* position (checkpointed) */
  int phase, epoch;
  int64_t step_in_epoch;
  int64_t global_step;
  double best_value;
  int best_epoch;
  hardy_metrics_t best_val;
  /* curriculum state for the local training rows (checkpointed as tables by global id) */
  bool have_curriculum;
  hardy_hardness_t hard;  /* hardness of the local training rows */
  int8_t *budget;         /* [n_utt] k_i */
  int64_t *nbr_id;        /* [n_utt, K] */
  float *nbr_dist;        /* [n_utt, K] */
  float *nbr[3];          /* [n_utt * K, d_m] neighbour features */
  int8_t *eff_budget;     /* [n_utt] budget after pacing in the current epoch */
  float *q_f32;           /* [n_utt] global hardness rank q_i (pacing order) */
  /* evaluation groups: hardness tercile of each local test row (-1: none) */
  int8_t *test_tercile;
  const char *tercile_source; /* "planted", "teacher" or NULL */
  /* output */
  hardy_jsonl_t *metrics;
  double t_last_ckpt;
  bool ckpt_due;          /* agreed at the last step: a periodic checkpoint is due */
  int stop_agreed;        /* agreed at the last step: some rank was asked to stop */
  int step_nonfinite;     /* this rank, this step: 1 non-finite loss, 2 non-finite gradient */
  int nonfinite_from;     /* agreed at the last step: 2 * rank + (gradient only) of the lowest
                           * rank with a non-finite value, -2 when the summed gradient alone is,
                           * -1 when every value was finite */
  int nonfinite_run;      /* consecutive skipped steps (not checkpointed) */
  cJSON *diagnostics;     /* curriculum diagnostics for results.json */
  cJSON *results_so_far;  /* borrowed: the job's finished runs (stored in checkpoints) */
} run_t;

/* Set from the signal handler; checked at step boundaries. */
extern volatile sig_atomic_t hardy_stop_requested;

int run_setup(run_t *r);
void run_free(run_t *r);

/* Agree at a step boundary on (status, stop requested, checkpoint due, non-finite values): one
 * allreduce. Returns the agreed status, *stop = 1 when any rank received a stop signal, and
 * sets r->ckpt_due and r->nonfinite_from from r->step_nonfinite. Collective. */
int step_agree(run_t *r, int status, int *stop);

/* Train `t` for the epochs of one phase (teacher warm-up, teacher, stage 1, or uniform
 * stage 2), from the run's position. Collective. Returns HARDY_STATUS_PREEMPTED after
 * writing a checkpoint when a stop signal arrived. */
int phase_train(run_t *r, trainee_t *t, int phase, int epochs);

/* Hardness of the local training rows with `scorer` under the training masks of `mask_epoch`,
 * global ranking, retrieval of K neighbours and their rows, budgets. Collective. */
int curriculum_refresh(run_t *r, hardy_model_t *scorer, int mask_epoch);
/* Neighbour feature rows for the current nbr_id table (after a refresh or a resume). */
int curriculum_fetch_rows(run_t *r);
/* Effective budgets for a stage-2 epoch (pacing). Local. */
void curriculum_pace(run_t *r, int epoch);

/* Terciles of the test rows by planted hardness (synthetic data) or teacher hardness; leaves
 * r->test_tercile NULL when neither exists. Collective. */
int test_terciles(run_t *r);

/* Write a checkpoint of the run's position and of trainee t (the teacher while r->phase is a
 * teacher phase, else the student). Collective. */
int run_checkpoint(run_t *r, trainee_t *t, bool is_best);
/* Restore the run from a checkpoint written by run_checkpoint (any rank count). Collective. */
int run_restore(run_t *r, const char *path, const hardy_ckpt_info_t *info);
/* The whole run from its current position; fills the results object. Collective. */
int run_one(run_t *r, cJSON **result);

/* Evaluate the student on a shard; per-tercile metrics when `groups` is not NULL
 * (out[0] all rows, out[1..3] easy, medium, hard). Collective. */
int run_evaluate(run_t *r, hardy_model_t *model, const hardy_shard_t *sh, const int8_t *groups,
                 hardy_metrics_t *out);

/* Metrics as a JSON object (wa/ua/f1 or mae/corr/acc2/acc2_has0/f1, and n), and back. */
cJSON *metrics_json(const hardy_metrics_t *m);
void metrics_from_json(const cJSON *o, int task, hardy_metrics_t *m);

#endif
