/* Parallel HDF5 checkpoints: one file per checkpoint, written collectively with the MPI-IO
 * driver, atomically (NAME.h5.tmp, close, fsync, rename by rank 0, then the `latest` pointer),
 * with retention of the last `keep` files plus the best-validation one. A checkpoint holds what
 * is needed to continue exactly: parameters, Adam moments and step, the position (run, phase,
 * epoch, step), model-selection state, the effective config text, the dataset path and
 * fingerprint, the program version, the rank count, and per-utterance tables keyed by global
 * utterance id (so a different rank count can resume). h5py and h5dump can read it; parameters
 * are also indexed by name (/model/index). Every array carries a checksum that does not depend
 * on the rank count, verified when read. Decides nothing about WHEN to save (train does).
 * File layout and protocol: docs/CHECKPOINTS.md. */
#ifndef HARDY_CHECKPOINT_H
#define HARDY_CHECKPOINT_H

#include <mpi.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hardy/model.h"

#define HARDY_CKPT_FORMAT "hardy-ckpt"
#define HARDY_CKPT_LAYOUT_VERSION 1
#define HARDY_CKPT_MAX_TABLES 8
#define HARDY_CKPT_NAME_MAX 48
#define HARDY_CKPT_TENSOR_NAME_MAX 128 /* bytes stored per name in /model/index/name */

typedef enum { HARDY_CKPT_F32 = 0, HARDY_CKPT_I64 = 1, HARDY_CKPT_U8 = 2 } hardy_ckpt_type_t;

/* A per-utterance table: this rank's rows, row i belongs to global utterance id[i]. Stored in
 * the file sorted by global id, so any rank count can read it back by id. Ids must be unique
 * over all ranks. */
typedef struct {
  char name[HARDY_CKPT_NAME_MAX]; /* e.g. "hardness/score", "neighbors/id": [A-Za-z0-9_./-] */
  int type;                       /* hardy_ckpt_type_t */
  int width;                      /* values per row (e.g. K for neighbour lists), >= 1 */
  int64_t n_local;                /* rows on this rank */
  const int64_t *id;              /* [n_local] global utterance ids */
  const void *data;               /* [n_local, width] */
} hardy_ckpt_table_t;

/* Everything a checkpoint holds. Arrays of the model are replicated on every rank (all ranks
 * pass identical values; each writes a slice). The tensor index comes from the model
 * (hardy_ckpt_model_index) or is built by the caller; the checkpoint module itself does not
 * call into the model, so it links without it. */
typedef struct {
  /* model and optimiser */
  size_t n_params;                      /* floats in each flat buffer */
  size_t n_tensors;                     /* entries of tensors[] (0: no index) */
  const hardy_tensor_info_t *tensors;   /* [n_tensors] named tensors of the arena */
  const float *params, *adam_m, *adam_v; /* [n_params] */
  const float *best_params;   /* [n_params] parameters of the best validation epoch, or NULL */
  int64_t adam_step;
  /* position: which run of the job (fold x condition index), phase, epoch, step in epoch */
  int run_index;
  int phase;
  int epoch;
  int64_t step_in_epoch;
  int64_t global_step;
  uint64_t seed;
  /* model selection */
  double best_value;
  int best_epoch;
  const char *best_metrics_json; /* validation metrics of the best epoch (JSON text) or NULL */
  const char *results_json;      /* results of the runs finished so far (JSON text) or NULL */
  /* provenance */
  const char *config_text;
  const char *data_path;
  uint64_t data_fingerprint;
  /* the feature statistics the model's inputs were standardised with
     (hardy_dataset_featnorm_to_json), or NULL */
  const char *standardize_json;
  /* per-utterance state */
  int n_tables;
  hardy_ckpt_table_t tables[HARDY_CKPT_MAX_TABLES];
} hardy_ckpt_state_t;

/* The model's named tensors as an index for hardy_ckpt_state_t: *tensors is malloc'd
 * [*n_tensors] (caller frees); names point into the model (valid while it lives). Local. */
int hardy_ckpt_model_index(const hardy_model_t *m, hardy_tensor_info_t **tensors,
                           size_t *n_tensors);

/* The conventional file name stem for a checkpoint at `global_step` ("ckpt-000000001234").
 * Retention orders checkpoints by this number, so it must grow over the job. Local. */
void hardy_ckpt_name(char *out, size_t cap, int64_t global_step);

/* Write DIR/NAME.h5 atomically and point DIR/latest at it (DIR is created if missing); then
 * delete the checkpoints of DIR named <stem><digits>.h5 with the same stem as NAME (NAME minus
 * its trailing digits) beyond the newest `keep` by that number, never the files named by
 * DIR/latest or DIR/best, and stale <stem><digits>.h5.tmp files of killed writers. `is_best`
 * also points DIR/best at it. The timed write includes fsync. Logs the write bandwidth (MB/s)
 * on rank 0 and returns it in *mb_per_s if not NULL. Collective over comm; errors agreed
 * (unwritable directory, disk full, bad table) and the previous checkpoint stays valid. */
int hardy_ckpt_save(const hardy_ckpt_state_t *st, const char *dir, const char *name, int keep,
                    bool is_best, MPI_Comm comm, double *mb_per_s);

/* What a job that has succeeded leaves in its checkpoint directory DIR, by `keep`
 * (hardy_ckpt_keep_t, config checkpoint.keep): FINAL deletes every step checkpoint
 * (ckpt-<digits>.h5, and stale .tmp files) and DIR/latest, so the named final models and DIR/best
 * remain; LAST keeps the newest step checkpoint and the pointers; ALL deletes nothing. A missing
 * DIR is fine. Call on one rank only after the job's results are written: without `latest` the
 * job cannot be resumed. Local (file system). */
int hardy_ckpt_finish(const char *dir, int keep);

/* A table as stored in a checkpoint. */
typedef struct {
  char name[HARDY_CKPT_NAME_MAX];
  int type, width;
  int64_t n_rows;
  bool ids_contiguous; /* ids are first_id, first_id + 1, ... (read by arithmetic) */
  int64_t first_id;
} hardy_ckpt_table_info_t;

/* What a checkpoint file says about itself (read by hardy_ckpt_open). Strings are owned by
 * the struct (never NULL: "" when the checkpoint had none); free with hardy_ckpt_info_free. */
typedef struct {
  char path[4096];
  char version[64]; /* program version that wrote it */
  int layout_version;
  int nranks_written;
  size_t n_params;
  int64_t adam_step;
  int run_index, phase, epoch;
  int64_t step_in_epoch, global_step;
  uint64_t seed;
  double best_value;
  int best_epoch;
  bool has_best_params;
  char *best_metrics_json, *results_json, *config_text, *data_path;
  char *standardize_json; /* "" in checkpoints written before feature standardisation */
  uint64_t data_fingerprint;
  size_t n_tensors;
  int n_tables;
  char table_names[HARDY_CKPT_MAX_TABLES][HARDY_CKPT_NAME_MAX];
  hardy_ckpt_table_info_t tables[HARDY_CKPT_MAX_TABLES];
} hardy_ckpt_info_t;

/* Resolve "DIR" (uses DIR/latest, or DIR/best when there is no latest: a finished job under
 * checkpoint.keep = final), a pointer file "DIR/latest" or "DIR/best", or a file path to a
 * checkpoint file path. Local. Error (input) if there is no checkpoint. */
int hardy_ckpt_resolve(const char *where, char *path, size_t cap);

/* Open and validate a checkpoint file: format, layout version, presence, types and sizes of
 * every dataset, the metadata checksum and the checksums of every array (the payload is read
 * once, each rank its slice). Corrupt, truncated, empty, non-HDF5 or foreign files are refused
 * with HARDY_ERR_INPUT and a message naming the file and what is wrong. Collective; on error
 * *info holds nothing to free. */
int hardy_ckpt_open(const char *path, hardy_ckpt_info_t *info, MPI_Comm comm);
void hardy_ckpt_info_free(hardy_ckpt_info_t *info);

/* Read parameters / Adam state / best parameters into caller buffers of info->n_params floats
 * (any may be NULL to skip; best_params needs info->has_best_params). Each rank reads a slice,
 * verifies its checksum, and the slices are broadcast. Collective. */
int hardy_ckpt_read_model(const char *path, const hardy_ckpt_info_t *info, float *params,
                          float *adam_m, float *adam_v, float *best_params, MPI_Comm comm);

/* Read this rank's rows of a table by global id: out[i] = row of id[i] ([n, width] of `type`;
 * ids in any order, n may differ per rank and be 0). Errors (agreed): unknown table, type or
 * width differing from the file, an id not in the table (names the first). Collective. */
int hardy_ckpt_read_table(const char *path, const char *name, const int64_t *id, int64_t n,
                          int type, int width, void *out, MPI_Comm comm);

/* Can this checkpoint continue the run described by (config text, dataset fingerprint,
 * program version, n_params) now? Refused (HARDY_ERR_INPUT, message says which key or value
 * and what to do): a config key that changes shapes differs (hardy_config_shape_differs),
 * another dataset fingerprint, another program version (pass NULL to skip), another parameter
 * count (0 to skip). Allowed: any other changed key; their names ("section.key") are
 * written comma-separated to changed[cap] ("" when none) for the caller to log. Local. */
int hardy_ckpt_check_compatible(const hardy_ckpt_info_t *info, const char *config_text_now,
                                uint64_t data_fingerprint_now, const char *program_version_now,
                                size_t n_params_now, char *changed, size_t cap);

#endif
