/* Run configuration: INI files (libinih) plus `--set section.key=value` overrides, typed
 * defaults, range checks, and an exact text echo that is stored with every run and checkpoint.
 * Every key is declared once in the schema in config.c (name, type, default, range, help);
 * unknown sections or keys are errors. Local (no MPI): every rank parses the same inputs and
 * reaches the same result, and callers agree on errors with hardy_agree(). */
#ifndef HARDY_CONFIG_H
#define HARDY_CONFIG_H

#include <stdbool.h>
#include <stdio.h>

#define HARDY_PATH_MAX 4096
#define HARDY_CFG_STR 256
#define HARDY_MAX_CONDITIONS 16

/* Missing-modality conditions as bit sets of present modalities: bit 0 audio, 1 text, 2 visual. */
enum { HARDY_MOD_A = 1, HARDY_MOD_T = 2, HARDY_MOD_V = 4, HARDY_MOD_ALL = 7 };

/* Largest missing rate (GCNet's): at 2/3 and above every utterance keeps exactly one of the
 * three modalities, so the realised rate stops at 2/3. */
#define HARDY_MISSING_RATE_MAX 0.7

typedef enum { HARDY_FOLD_NONE = -1, HARDY_FOLD_ALL = -2 } hardy_fold_mode_t;
typedef enum { HARDY_NONFINITE_ERROR = 0, HARDY_NONFINITE_ZERO = 1 } hardy_nonfinite_t;
/* Feature preprocessing (docs/DATA_FORMAT.md, "Standardisation"): value = position in the words. */
typedef enum { HARDY_STANDARDIZE_ZSCORE = 0, HARDY_STANDARDIZE_NONE = 1 } hardy_standardize_t;
typedef enum { HARDY_L2_NONE = 0, HARDY_L2_TEXT = 1 } hardy_l2_normalize_t;
typedef enum { HARDY_MI_ENTROPY = 0, HARDY_MI_GAUSSIAN = 1 } hardy_mi_estimator_t;
typedef enum { HARDY_MI_LOW_IS_HARD = 0, HARDY_MI_HIGH_IS_HARD = 1 } hardy_mi_sign_t;
typedef enum { HARDY_SCORER_TEACHER = 0, HARDY_SCORER_STUDENT = 1 } hardy_scorer_t;
typedef enum { HARDY_SPACE_INPUT = 0, HARDY_SPACE_EMBEDDING = 1 } hardy_space_t;
typedef enum { HARDY_CSCORE_RANK = 0, HARDY_CSCORE_SIGMOID = 1 } hardy_cscore_t;
typedef enum { HARDY_PACING_NONE = 0, HARDY_PACING_LINEAR = 1, HARDY_PACING_ROOT = 2 } hardy_pacing_t;
typedef enum { HARDY_VIEWS_RETRIEVAL = 0, HARDY_VIEWS_SELF = 1 } hardy_views_t;
typedef enum { HARDY_ALLREDUCE_BUCKETED = 0, HARDY_ALLREDUCE_BLOCKING = 1 } hardy_allreduce_t;
/* checkpoint.keep: what a job leaves in DIR/checkpoints once it has succeeded */
typedef enum { HARDY_KEEP_FINAL = 0, HARDY_KEEP_LAST = 1, HARDY_KEEP_ALL = 2 } hardy_ckpt_keep_t;

typedef struct {
  struct {
    char path[HARDY_PATH_MAX];
    char fold_text[HARDY_CFG_STR]; /* as written: none | all | <int> */
    int fold;                      /* >= 0 a fold id, or HARDY_FOLD_NONE / HARDY_FOLD_ALL */
    double val_fraction;           /* validation share of training dialogues when the file has none */
    bool precheck;                 /* structure walk in a child process before opening */
    int allow_nonfinite;           /* hardy_nonfinite_t */
    int standardize;               /* hardy_standardize_t */
    int l2_normalize;              /* hardy_l2_normalize_t */
  } data;
  struct {
    char condition_text[HARDY_CFG_STR]; /* comma list of a|t|v|at|av|tv|atv, or empty */
    char rate_text[HARDY_CFG_STR];      /* comma list of rates in [0, 0.7], or empty */
    int condition_src, rate_src;        /* where each was set: 0 default, 1 file, 2 --set */
    int n_conditions;                   /* parsed: how many runs, each a condition or a rate */
    int condition[HARDY_MAX_CONDITIONS]; /* present-modality bit set, or 0 when it is a rate */
    double rate[HARDY_MAX_CONDITIONS];   /* missing rate, or -1 when it is a condition */
  } missing;
  struct {
    long seed;
    int threads; /* 0: OMP_NUM_THREADS / the OpenMP default */
    char name[HARDY_CFG_STR];
    double progress_seconds; /* minimum seconds between rank-0 progress lines */
    bool save_predictions;   /* DIR/predictions-<run>.csv of the test split */
  } run;
  struct {
    int hidden, depth, heads;
    double mlp_ratio, dropout;
    bool layernorm;
    int decoder_hidden;
    bool attn_out_proj; /* output projection after each expert block's self-attention */
  } model;
  struct {
    int batch_dialogues;
    double lr, weight_decay, lambda_rec;
    int stage1_epochs, stage2_epochs;
    int allreduce;   /* hardy_allreduce_t */
    double bucket_mb;
    int max_steps;   /* 0: no limit; > 0 stops each phase early (tests, smoke runs) */
    char select_metric[HARDY_CFG_STR]; /* "auto" or a metric name (hardy_metrics_names) */
    bool optimizer_shard; /* Adam state sharded over ranks (reduce-scatter, allgather) */
    int max_nonfinite_steps; /* consecutive skipped non-finite steps before the run stops */
  } train;
  struct {
    int warmup_epochs, epochs;
    char checkpoint[HARDY_PATH_MAX];
  } teacher;
  struct {
    int estimator; /* hardy_mi_estimator_t */
    int mi_sign;   /* hardy_mi_sign_t */
    double beta, alpha1, alpha2, ridge;
    bool use_direct, use_indirect;
    int scorer; /* hardy_scorer_t */
  } hardness;
  struct {
    int k;
    int space; /* hardy_space_t */
    int query_block;
  } retrieval;
  struct {
    bool enabled;
    int score; /* hardy_cscore_t */
    int k_min;
    int pacing; /* hardy_pacing_t */
    double pacing_start;
    int pacing_epochs;
    int refresh_every;
    int views; /* hardy_views_t */
    bool dynamic_k;
  } curriculum;
  struct {
    int every_steps;
    double every_seconds;
    int keep_recent; /* step checkpoints kept while running (0: all) */
    int keep;        /* hardy_ckpt_keep_t: what stays after the job succeeds */
  } checkpoint;
} hardy_config_t;

/* Fill every key with its default. */
void hardy_config_defaults(hardy_config_t *cfg);

/* Defaults under a configuration text saved by a checkpoint: as hardy_config_defaults, except
 * that a key added after the text may have been written keeps the behaviour of then
 * (model.attn_out_proj = true: earlier versions always had the projection). Saved texts are
 * complete echoes, so a key they hold always wins. Local. */
void hardy_config_saved_defaults(hardy_config_t *cfg);

/* Parse an INI file on top of cfg. Errors name the file, line and key. */
int hardy_config_load_file(hardy_config_t *cfg, const char *path);

/* Parse INI text (e.g. stored in a checkpoint); `origin` names it in errors. */
int hardy_config_load_string(hardy_config_t *cfg, const char *text, const char *origin);

/* Apply one override "section.key=value"; `origin` names it in errors (e.g. "--set"). */
int hardy_config_set(hardy_config_t *cfg, const char *assignment, const char *origin);

/* Cross-key checks and derived fields (fold number, condition list). Call after loading. */
int hardy_config_finalize(hardy_config_t *cfg);

/* Write the effective configuration as INI text (every key, canonical form). */
int hardy_config_write(const hardy_config_t *cfg, FILE *out);

/* The same as a malloc'd string; caller frees. NULL on allocation failure. */
char *hardy_config_to_string(const hardy_config_t *cfg);

/* Print every key with its type, default and help (for `--help-config`). */
void hardy_config_print_schema(FILE *out);

/* Keys whose change alters the shape of model or optimizer state: a checkpoint written with a
 * different value cannot be resumed. Returns 1 and names the first such key, else 0. */
int hardy_config_shape_differs(const hardy_config_t *a, const hardy_config_t *b, const char **key);

/* Parse "a", "tv", "atv" (any order) into a present-modality bit set; -1 if invalid. */
int hardy_condition_parse(const char *text);
/* Canonical name of a bit set: "a", "t", "v", "at", "av", "tv", "atv". */
const char *hardy_condition_name(int present_bits);

#endif
