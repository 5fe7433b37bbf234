/* Feature preprocessing of a training job (train module): the statistics of a fold (computed on
 * its training shard, or read from the checkpoint a run resumes from), the warnings about badly
 * scaled features, applying them to the fold's train/validation/test shards, and reading them
 * back from checkpoints and teachers (eval, resume, frozen teachers). The statistics live in
 * the dataset module (dataset_stats.c). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hardy/checkpoint.h"
#include "hardy/common.h"
#include "hardy/log.h"
#include "train_internal.h"

static const char *standardize_word(int s) {
  return s == HARDY_STANDARDIZE_ZSCORE ? "zscore" : "none";
}
static const char *l2_word(int l) {
  return l == HARDY_L2_TEXT ? "text" : "none";
}

int hardy_train_featnorm_load(const hardy_ckpt_info_t *info, const hardy_dataset_t *ds,
                              hardy_featnorm_t *fn, bool *legacy) {
  *legacy = !info->standardize_json || !info->standardize_json[0];
  if (*legacy)
    return hardy_dataset_featnorm_init(fn, ds->dims, HARDY_STANDARDIZE_NONE, HARDY_L2_NONE);
  char origin[sizeof info->path + 32];
  snprintf(origin, sizeof origin, "%s:/meta/standardize_json", info->path);
  return hardy_dataset_featnorm_from_json(fn, info->standardize_json, ds->dims, origin);
}

void hardy_train_featnorm_warn(const hardy_featnorm_t *fn, const char *where) {
  for (int m = 0; m < HARDY_N_MOD; m++) {
    char why[256];
    if (hardy_dataset_featnorm_badly_scaled(fn, m, why, sizeof why) > 0)
      hardy_log_warn("%s: %s features are badly scaled: %s; standardise them "
                     "(data.standardize = zscore, the default)",
                     where, hardy_dataset_modality_name(m), why);
  }
}

/* Relative difference up to which stored statistics count as the fold's: what summation
 * order at another rank count can change, far below anything a model could notice. */
#define STORED_STATS_RTOL 1e-9

/* The statistics stored in a checkpoint or teacher for this fold; its modes must be the
 * configuration's. */
static int from_stored(const hardy_config_t *cfg, const hardy_ckpt_info_t *info,
                       const hardy_dataset_t *ds, hardy_featnorm_t *fn) {
  bool legacy;
  HARDY_CHECK(hardy_train_featnorm_load(info, ds, fn, &legacy));
  if (legacy && (cfg->data.standardize != HARDY_STANDARDIZE_NONE ||
                 cfg->data.l2_normalize != HARDY_L2_NONE)) {
    hardy_dataset_featnorm_free(fn);
    return hardy_fail(HARDY_ERR_INPUT,
                      "%s predates feature standardisation (no "
                      "/meta/standardize_json): its model was trained on the features as stored; "
                      "use it with --set data.standardize=none --set data.l2_normalize=none, or "
                      "start a new run (or train a new teacher)",
                      info->path);
  }
  const char *key = fn->standardize != cfg->data.standardize     ? "data.standardize"
                    : fn->l2_normalize != cfg->data.l2_normalize ? "data.l2_normalize"
                                                                 : NULL;
  if (key) {
    char was[64];
    snprintf(was, sizeof was, "standardize = %s, l2_normalize = %s",
             standardize_word(fn->standardize), l2_word(fn->l2_normalize));
    hardy_dataset_featnorm_free(fn);
    return hardy_fail(HARDY_ERR_INPUT,
                      "%s: config key %s differs from the checkpoint's (%s): its "
                      "model was trained on features preprocessed that way; use the checkpoint's "
                      "value or start a new run (or train a new teacher)",
                      info->path, key, was);
  }
  return HARDY_OK;
}

/* Stored statistics must be those of this fold's training rows up to rounding: anything else
 * means another file, fold or validation hold-out. */
static int check_stored(const hardy_featnorm_t *stored, const hardy_featnorm_t *fresh,
                        const char *path) {
  if (stored->count[0] + stored->count[1] + stored->count[2] == 0)
    return HARDY_OK; /* legacy */
  double diff = hardy_dataset_featnorm_diff(stored, fresh);
  if (diff <= STORED_STATS_RTOL)
    return HARDY_OK;
  return hardy_fail(HARDY_ERR_INPUT,
                    "%s: its feature statistics are not those of this fold's "
                    "training rows (relative difference %.3g; rows audio %lld, text %lld, visual "
                    "%lld stored, %lld, %lld, %lld now): it was written for another data file, "
                    "fold or validation hold-out (data.val_fraction, run.seed)",
                    path, diff, (long long)stored->count[0], (long long)stored->count[1],
                    (long long)stored->count[2], (long long)fresh->count[0],
                    (long long)fresh->count[1], (long long)fresh->count[2]);
}

int train_fold_featnorm(const hardy_config_t *cfg, const hardy_dataset_t *ds,
                        const hardy_ckpt_info_t *stored, hardy_shard_t *train, hardy_shard_t *val,
                        hardy_shard_t *test, MPI_Comm comm, hardy_featnorm_t *fn, char **json) {
  *json = NULL;
  if (stored) {
    HARDY_CHECK(hardy_agree(from_stored(cfg, stored, ds, fn), comm));
    hardy_featnorm_t fresh;
    int st = hardy_dataset_featnorm_compute(&fresh, train, fn->standardize, fn->l2_normalize, comm);
    if (st == HARDY_OK) {
      st = hardy_agree(check_stored(fn, &fresh, stored->path), comm);
      hardy_dataset_featnorm_free(&fresh);
    }
    if (st < 0) {
      hardy_dataset_featnorm_free(fn);
      return st;
    }
    hardy_log_info("feature statistics from %s (standardize = %s, l2_normalize = %s)", stored->path,
                   standardize_word(fn->standardize), l2_word(fn->l2_normalize));
  } else {
    HARDY_CHECK(hardy_dataset_featnorm_compute(fn, train, cfg->data.standardize,
                                               cfg->data.l2_normalize, comm));
    if (fn->standardize == HARDY_STANDARDIZE_ZSCORE)
      hardy_log_info("features z-scored with training-split statistics (rows present: audio "
                     "%lld, text %lld, visual %lld%s)",
                     (long long)fn->count[0], (long long)fn->count[1], (long long)fn->count[2],
                     fn->l2_normalize == HARDY_L2_TEXT ? "; text rows L2-normalised first" : "");
    else
      hardy_train_featnorm_warn(fn, ds->path);
  }
  int st = hardy_dataset_featnorm_apply(fn, train);
  if (st == HARDY_OK)
    st = hardy_dataset_featnorm_apply(fn, val);
  if (st == HARDY_OK)
    st = hardy_dataset_featnorm_apply(fn, test);
  if (st == HARDY_OK && !(*json = hardy_dataset_featnorm_to_json(fn)))
    st = HARDY_ERR_RUNTIME;
  st = hardy_agree(st, comm);
  if (st < 0) {
    free(*json);
    *json = NULL;
    hardy_dataset_featnorm_free(fn);
  }
  return st;
}

int train_check_teacher_featnorm(const hardy_featnorm_t *fn, const hardy_ckpt_info_t *info,
                                 const hardy_dataset_t *ds) {
  hardy_featnorm_t t;
  bool legacy;
  HARDY_CHECK(hardy_train_featnorm_load(info, ds, &t, &legacy));
  double diff = legacy ? 0.0 : hardy_dataset_featnorm_diff(&t, fn);
  bool modes = t.standardize == fn->standardize && t.l2_normalize == fn->l2_normalize;
  hardy_dataset_featnorm_free(&t);
  if (legacy && (fn->standardize != HARDY_STANDARDIZE_NONE || fn->l2_normalize != HARDY_L2_NONE))
    return hardy_fail(HARDY_ERR_INPUT,
                      "teacher %s predates feature standardisation: it was "
                      "trained on the features as stored, this job standardises them; retrain the "
                      "teacher, or run with --set data.standardize=none --set "
                      "data.l2_normalize=none",
                      info->path);
  if (!modes || !(diff <= STORED_STATS_RTOL))
    return hardy_fail(HARDY_ERR_INPUT,
                      "teacher %s was trained on features preprocessed "
                      "differently (%s; relative difference of the statistics %.3g): train the "
                      "teacher on this file and fold with the same data.standardize and "
                      "data.l2_normalize",
                      info->path,
                      modes ? "other training-split statistics"
                            : "another data.standardize or "
                              "data.l2_normalize",
                      diff);
  return HARDY_OK;
}
