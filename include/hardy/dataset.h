/* The hardy dataset file (HDF5, format "hardy-mer" version 1; docs/DATA_FORMAT.md): opening
 * and validating it, choosing train/validation/test dialogues, and reading a rank's shard
 * (whole dialogues, balanced by utterance count) with collective hyperslab reads. Global
 * utterance ids are file rows; global dialogue ids are rows of /dialogue/offset. */
#ifndef HARDY_DATASET_H
#define HARDY_DATASET_H

#include <mpi.h>
#include <stdbool.h>
#include <stdint.h>

#include "hardy/config.h"

enum { HARDY_SPLIT_TRAIN = 0, HARDY_SPLIT_VAL = 1, HARDY_SPLIT_TEST = 2 };
enum { HARDY_N_MOD = 3 }; /* audio, text, visual: the order of the feature groups */
#define HARDY_MAX_CLASSES 1024

/* What every rank knows about an open file: attributes and the dialogue tables (D is small). */
typedef struct {
  char path[HARDY_PATH_MAX];
  int64_t n_utt;      /* N */
  int64_t n_dialogue; /* D */
  int dims[HARDY_N_MOD];
  int task;        /* hardy_task_t */
  int num_classes; /* C, or 1 for regression */
  char **class_names; /* [C] or NULL */
  char source[1024];
  bool has_present;  /* /utterance/present exists */
  bool has_planted;  /* /utterance/planted_hardness exists (synthetic data) */
  int64_t *offset;   /* [D+1] */
  int8_t *split;     /* [D] */
  int32_t *fold;     /* [D] */
  uint64_t fingerprint; /* hash of attributes, shapes and dialogue tables: identifies the data */
} hardy_dataset_t;

/* Before later opens (rank 0, before the collective open): walk the file's whole HDF5
 * structure (objects, attributes, dataset headers) in a forked child process, so that a file
 * on which HDF5 itself crashes or loops is reported as corrupt instead of taking the job down.
 * `inspect` turns it on; `train` with data.precheck = true. Local; off by default. The walk
 * is given HARDY_STRUCTURE_CHECK_SECONDS (environment variable of the same name overrides). */
void hardy_dataset_set_structure_check(bool on);
#define HARDY_STRUCTURE_CHECK_SECONDS 60

/* Open and validate the metadata (attributes, required datasets, ranks, types, shapes,
 * offsets, split and fold values). Collective over comm; errors are agreed and name the file,
 * the HDF5 path and the row. Free with hardy_dataset_close. */
int hardy_dataset_open(hardy_dataset_t *ds, const char *path, MPI_Comm comm);
void hardy_dataset_close(hardy_dataset_t *ds);

/* Stream every row of the file (split over the ranks, chunk by chunk) and check the row rules:
 * finite features, labels in [0, C) or finite. Collective. With policy HARDY_NONFINITE_ZERO,
 * non-finite values are counted (not an error) and the global count returned in *n_nonfinite. */
int hardy_dataset_validate_rows(const hardy_dataset_t *ds, MPI_Comm comm, int nonfinite_policy,
                                int64_t *n_nonfinite);

/* A sorted list of global dialogue ids. */
typedef struct {
  int64_t n;
  int64_t *dialogue; /* [n] ascending */
  int64_t n_utt;     /* utterances in these dialogues */
} hardy_selection_t;

typedef struct {
  hardy_selection_t train, val, test;
} hardy_splits_t;

/* Train/validation/test dialogues for a fold setting (config data.fold):
 *  HARDY_FOLD_NONE: the file's split column; fold >= 0: dialogues of that fold are the test
 *  set, all other dialogues with a fold id train. When the result has no validation dialogues,
 *  a seeded `val_fraction` of the training dialogues (at least one) becomes validation.
 * Local and deterministic (same result on every rank). Errors: no training or test dialogues,
 * an unknown fold id (the message lists the fold ids present). */
int hardy_dataset_select(const hardy_dataset_t *ds, int fold, double val_fraction, uint64_t seed,
                         hardy_splits_t *out);
void hardy_splits_free(hardy_splits_t *s);
/* The distinct fold ids present (>= 0), ascending; returns how many (<= cap). */
int hardy_dataset_folds(const hardy_dataset_t *ds, int *folds, int cap);

/* Partition a selection into `nranks` contiguous runs of dialogues with utterance counts as
 * equal as possible (prefix sums; each part within one dialogue of the ideal). bounds[r] ..
 * bounds[r+1] are indices into sel->dialogue. Local and deterministic. */
void hardy_dataset_partition(const hardy_dataset_t *ds, const hardy_selection_t *sel, int nranks,
                             int64_t *bounds /* [nranks+1] */);

/* One rank's data: whole dialogues of a selection. Row i of every array is utterance utt_id[i]. */
typedef struct {
  int64_t n_dialogue;        /* local dialogues */
  int64_t *dialogue_id;      /* [n_dialogue] global dialogue ids */
  int64_t *dialogue_start;   /* [n_dialogue+1] local row offsets */
  int64_t n_utt;             /* local utterances */
  int64_t *utt_id;           /* [n_utt] global utterance ids (file rows) */
  int dims[HARDY_N_MOD];
  float *feat[HARDY_N_MOD];  /* [n_utt, dims[m]] row-major */
  int32_t *label;            /* [n_utt] class ids (classification), else NULL */
  float *target;             /* [n_utt] scores (regression), else NULL */
  int32_t *speaker;          /* [n_utt] */
  uint8_t *present;          /* [n_utt, 3]: 1 where the modality exists in the source */
  float *planted;            /* [n_utt] planted hardness (synthetic data), else NULL */
  int64_t total_utt;         /* over all ranks */
  int64_t total_dialogue;    /* over all ranks */
  int64_t first_index;       /* index in the selection of this rank's first dialogue */
  int64_t n_nonfinite;       /* values zeroed under HARDY_NONFINITE_ZERO (global count) */
} hardy_shard_t;

/* Read this rank's shard of a selection (partitioned by hardy_dataset_partition over the ranks
 * of comm) with collective hyperslab reads, validating the rows it reads. Collective. A rank
 * may get zero dialogues when there are fewer dialogues than ranks. Free with hardy_shard_free. */
int hardy_dataset_read_shard(const hardy_dataset_t *ds, const hardy_selection_t *sel,
                             MPI_Comm comm, int nonfinite_policy, hardy_shard_t *out);
void hardy_shard_free(hardy_shard_t *sh);

/* ---- summaries and names ------------------------------------------------------------------ */

/* The dialogue holding file row `row`: the last d with offset[d] <= row (binary search over
 * offset [n_dialogue+1]). Local. */
int64_t hardy_dataset_dialogue_of(const int64_t *offset, int64_t n_dialogue, int64_t row);

/* "audio", "text", "visual" for m = 0, 1, 2, and the HDF5 path of that feature group. */
const char *hardy_dataset_modality_name(int m);
const char *hardy_dataset_feature_path(int m);

/* ---- feature standardisation (dataset_stats.c; docs/DATA_FORMAT.md "Standardisation") ---- */

/* Per modality and dimension statistics of the features as the model sees them before
 * z-scoring (that is, after data.l2_normalize), over the rows where the modality is present,
 * and the preprocessing they define. Accumulated locally with Welford's update in double,
 * merged across ranks with Chan's pairwise update in rank order (MPI_Reduce with a
 * non-commutative op, then a broadcast): every rank holds the same values, and any rank count
 * gives the same values up to rounding (relative 1e-12 is tested). */
typedef struct {
  int standardize;             /* hardy_standardize_t */
  int l2_normalize;            /* hardy_l2_normalize_t */
  int dims[HARDY_N_MOD];
  int64_t count[HARDY_N_MOD];  /* rows where the modality is present */
  double *mean[HARDY_N_MOD];   /* [dims[m]] */
  double *m2[HARDY_N_MOD];     /* [dims[m]] sum of squared deviations (while accumulating) */
  double *std[HARDY_N_MOD];    /* [dims[m]] population std (ddof 0), after reduce / load */
  double *min[HARDY_N_MOD], *max[HARDY_N_MOD]; /* [dims[m]] */
} hardy_featnorm_t;

/* Empty statistics for features of `dims` (counts 0). Local. Free with _free. */
int hardy_dataset_featnorm_init(hardy_featnorm_t *fn, const int dims[HARDY_N_MOD],
                                int standardize, int l2_normalize);
void hardy_dataset_featnorm_free(hardy_featnorm_t *fn);
/* Add n rows: feat[m] [n, dims[m]] as stored; present [n, 3] or NULL (all present). The
 * l2_normalize rule is applied to a copy of each row first. Local. */
int hardy_dataset_featnorm_add(hardy_featnorm_t *fn, float *const feat[HARDY_N_MOD],
                               const uint8_t *present, int64_t n);
/* Merge every rank's accumulation and set std. Collective over comm. */
int hardy_dataset_featnorm_reduce(hardy_featnorm_t *fn, MPI_Comm comm);
/* init + add the shard's rows + reduce: the statistics of a (training) shard as stored in
 * the file. Collective over comm. */
int hardy_dataset_featnorm_compute(hardy_featnorm_t *fn, const hardy_shard_t *train,
                                   int standardize, int l2_normalize, MPI_Comm comm);
/* The divisor of dimension j of modality m: std, or 1 where the dimension is constant over
 * the present rows (max == min) or no row has the modality. Local. */
double hardy_dataset_featnorm_scale(const hardy_featnorm_t *fn, int m, int j);
/* Preprocess a shard in place for the model: on rows where modality m is present, the L2 rule
 * (text rows scaled to unit norm; zero rows stay zero), then under zscore
 * x = (x - mean) / scale computed in double. Absent rows are left as stored (the model never
 * reads them). Dimensions must match. Local. */
int hardy_dataset_featnorm_apply(const hardy_featnorm_t *fn, hardy_shard_t *sh);
/* How many dimensions of modality m are badly scaled: |mean| > 10, or std outside
 * [0.01, 100] on a non-constant dimension. A one-line description goes to why[cap]. Local. */
int hardy_dataset_featnorm_badly_scaled(const hardy_featnorm_t *fn, int m, char *why, size_t cap);
/* Mean and std over every value of modality m (all present rows and dimensions). Local. */
void hardy_dataset_featnorm_pooled(const hardy_featnorm_t *fn, int m, double *mean, double *std);
/* JSON text (malloc'd) with the mode, the l2 rule and per modality count, mean, std, min,
 * max: doubles printed so that they read back exactly. Stored in checkpoints. Local. */
char *hardy_dataset_featnorm_to_json(const hardy_featnorm_t *fn);
/* Parse that text; dims must equal `dims` (the dataset's). `origin` names the source in
 * errors (HARDY_ERR_INPUT). Local. */
int hardy_dataset_featnorm_from_json(hardy_featnorm_t *fn, const char *text,
                                     const int dims[HARDY_N_MOD], const char *origin);
/* Largest relative difference of mean (relative to max(|mean|, std)) and std between two
 * statistics, or +inf when their modes, dims or counts differ. Local. */
double hardy_dataset_featnorm_diff(const hardy_featnorm_t *a, const hardy_featnorm_t *b);

/* What a whole-file scan finds besides errors (global, identical on every rank). */
typedef struct {
  int64_t n_nonfinite;                        /* values zeroed under HARDY_NONFINITE_ZERO */
  int64_t class_count[3][HARDY_MAX_CLASSES];  /* [split][class], classification only */
  double target_min, target_max, target_sum;  /* regression scores */
  int64_t present_count[HARDY_N_MOD];         /* utterances where modality m exists */
  double planted_min, planted_max, planted_sum; /* when has_planted */
  hardy_featnorm_t *features; /* set by the caller before the scan: also accumulate feature
                                 statistics over every present row (reduced), or NULL */
} hardy_dataset_stats_t;

/* hardy_dataset_validate_rows that also returns the statistics above (used by `inspect`).
 * Collective; memory per rank is bounded by one row chunk (about 64 MB). */
int hardy_dataset_scan(const hardy_dataset_t *ds, MPI_Comm comm, int nonfinite_policy,
                       hardy_dataset_stats_t *st);

#endif
