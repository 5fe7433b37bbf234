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
  uint8_t *truth;   /* [max_rows] modalities whose ground truth the row's source holds */
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
  float *adam_m, *adam_v; /* [n_params], or [zero.count] this rank's slice when sharded */
  int64_t adam_step;
  bool sharded;           /* train.optimizer_shard: ZeRO stage 1 (train_zero.c) */
  hardy_zero_t zero;      /* the slices when sharded */
  float *zero_grad;       /* [zero.count] summed gradient of this rank's slice */
} trainee_t;

/* Optimiser state of a trainee (train_zero.c). Allocate m and v, whole or this rank's slice
 * (local). */
int trainee_opt_alloc(trainee_t *t, bool sharded, MPI_Comm comm);
void trainee_opt_free(trainee_t *t);
/* Whole m and v for a checkpoint: the trainee's own arrays, or (sharded) new arrays gathered
 * from the slices, which the caller frees with trainee_opt_release. Collective over comm. */
int trainee_opt_whole(trainee_t *t, float **m, float **v);
void trainee_opt_release(const trainee_t *t, float *m, float *v);
/* Buffers to read whole m and v into (the trainee's own, or new ones), then keep this rank's
 * slice of what was read (trainee_opt_adopt frees them). Local. */
int trainee_opt_read_bufs(trainee_t *t, float **m, float **v);
void trainee_opt_adopt(trainee_t *t, float *m, float *v);
/* The sharded update after backward: reduce-scatter the gradients, Adam on this rank's slice,
 * allgather the parameters. Adds its communication time to *t_comm. Collective over comm. */
int trainee_opt_step_sharded(trainee_t *t, float lr, float beta1, float beta2, float eps,
                             float weight_decay, double *t_comm);

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
  const hardy_featnorm_t *featnorm; /* the fold's feature preprocessing (already applied) */
  const char *featnorm_json;        /* its stored form, written into every checkpoint */
  int64_t *owner_local;   /* [train_sel->n] local dialogue index of each selected dialogue or -1 */
  int64_t *dlg_len;       /* [train_sel->n] utterances per selected dialogue */
  int64_t max_rows;       /* rank_batch x longest dialogue: activation and batch buffers */
  int rank_batch;         /* dialogues per pass on this rank: ceil(batch_dialogues / ranks); a
                           * step with more local dialogues runs several passes */
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

/* The fold's feature statistics: those stored in `stored` (the checkpoint a run of this fold
 * resumes from, or its stored teacher; they must match the configuration's modes and the
 * training rows up to rounding), else computed on the training shard; warnings when
 * unstandardised features are badly scaled; then applied to the three shards in place. *json
 * (malloc'd) is their stored form. Collective. */
int train_fold_featnorm(const hardy_config_t *cfg, const hardy_dataset_t *ds,
                        const hardy_ckpt_info_t *stored, hardy_shard_t *train, hardy_shard_t *val,
                        hardy_shard_t *test, MPI_Comm comm, hardy_featnorm_t *fn, char **json);
/* Path of a run's frozen teacher: teacher.checkpoint (a file, or a directory of
 * <tag>-teacher.h5 files), else the job's own OUT/teachers/<tag>-teacher.h5. Local. */
void train_teacher_path(const hardy_config_t *cfg, const char *out_dir, const char *tag, char *out,
                        size_t cap);
/* A run's name ("at", "at/fold1") and file-name tag ("at", "at-fold1"). Local. */
void train_run_names(hardy_missing_t miss, int fold, char *name, char *tag, size_t cap);
/* A frozen teacher's statistics must be the fold's (up to rounding). Local. */
int train_check_teacher_featnorm(const hardy_featnorm_t *fn, const hardy_ckpt_info_t *info,
                                 const hardy_dataset_t *ds);

/* Evaluate the student on a shard; per-tercile metrics when `groups` is not NULL
 * (out[0] all rows, out[1..3] easy, medium, hard). Collective. */
int run_evaluate(run_t *r, hardy_model_t *model, const hardy_shard_t *sh, const int8_t *groups,
                 hardy_metrics_t *out);

/* Metrics as a JSON object (wa/ua/f1 or mae/corr/acc2/acc2_has0/f1, and n), and back. */
/* DIR's bytes by kind (checkpoints, final_models, teachers, hardness, logs, other, total), as
 * results.json's "disk". Local: rank 0. */
cJSON *train_disk_use(const char *out_dir);
/* Apply checkpoint.keep (hardy_ckpt_keep_t) to DIR/checkpoints and DIR/teachers after a
 * successful job. Local: rank 0. */
int train_finish_checkpoints(const char *out_dir, int keep);
cJSON *metrics_json(const hardy_metrics_t *m);
void metrics_from_json(const cJSON *o, int task, hardy_metrics_t *m);

#endif
