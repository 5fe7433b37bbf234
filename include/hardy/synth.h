/* Synthetic MER-like datasets in the hardy-mer format (docs/DATA_FORMAT.md, "Synthetic data").
 *
 * Model. Dialogue d has a length drawn like IEMOCAP or MOSEI; utterance i has a class y_i
 * (persisting within a dialogue: with probability 1/2 the previous utterance's class, else
 * uniform) and a planted difficulty h_i ~ Beta(2, 3). A shared latent u_i = mu_{y_i} + 0.5 n_i
 * in R^K carries the class; each modality m mixes it with a private latent e_i^m ~ N(0, I_K):
 *   l_i^m = s_m ((1 - h_i) u_i + h_i e_i^m),  x_i^m = tanh(P_m^T l_i^m) + sigma eps,
 * with P_m a fixed K x d_m Gaussian matrix scaled by 1/sqrt(K). Easy utterances (h near 0) have
 * strongly coupled, class-informative modalities; hard ones (h near 1) are dominated by private
 * noise. Regression scores are clip(1.5 w.u_i + 0.3 n, -3, 3) for a fixed unit vector w, with
 * the `classes` latent clusters as the mu's.
 *
 * Every draw is keyed by (seed, purpose, global utterance or dialogue id) with the Philox RNG,
 * and each row is computed by the same code whatever rank computes it, so the output is a pure
 * function of the parameters: byte-identical data for any rank count. */
#ifndef HARDY_SYNTH_H
#define HARDY_SYNTH_H

#include <mpi.h>
#include <stdint.h>

#include "hardy/config.h"
#include "hardy/dataset.h"

typedef enum { HARDY_SHAPE_IEMOCAP = 0, HARDY_SHAPE_MOSEI = 1 } hardy_synth_shape_t;
#define HARDY_SYNTH_MAX_LATENT 1024

typedef struct {
  char out[HARDY_PATH_MAX];
  int64_t n_utt;
  int dims[HARDY_N_MOD];         /* audio, text, visual feature widths */
  int num_classes;               /* classes; for regression the number of latent clusters */
  int task;                      /* hardy_task_t */
  int folds;                     /* F > 0: fold ids 1..F by dialogue; 0: -1 everywhere */
  uint64_t seed;
  int shape;                     /* hardy_synth_shape_t */
  int latent_dim;                /* K */
  float strength[HARDY_N_MOD];   /* s_m for audio, text, visual */
  float sigma;                   /* feature noise */
  float scale, offset;           /* features written as x * scale + offset (raw-valued data) */
  int64_t chunk_rows;            /* rows per HDF5 chunk and per generation step */
} hardy_synth_params_t;

/* Defaults: 5000 utterances, dims 512/1024/1024, 4 classes, classification, 5 folds, seed 1,
 * IEMOCAP shape, K = 32, strengths a 0.7 / t 1.0 / v 0.45, sigma 0.3, scale 1, offset 0,
 * 4096-row chunks. */
void hardy_synth_defaults(hardy_synth_params_t *p);
/* Range checks with messages naming the flag. Local. */
int hardy_synth_check(const hardy_synth_params_t *p);

/* A generator: the dialogue tables (computed on every rank from per-dialogue keyed draws; D is
 * about N/37 or N/7) and the fixed model matrices. */
typedef struct {
  hardy_synth_params_t p;
  int64_t n_dialogue;
  int64_t *offset;          /* [D+1] */
  int8_t *split;            /* [D] */
  int32_t *fold;            /* [D] */
  float *class_mean;        /* [C, K] */
  float *proj[HARDY_N_MOD]; /* [K, dims[m]] */
  float *reg_w;             /* [K] unit vector */
  uint64_t key_label, key_latent, key_private[HARDY_N_MOD], key_noise[HARDY_N_MOD];
} hardy_synth_t;

/* Local. Free with hardy_synth_free. */
int hardy_synth_init(hardy_synth_t *s, const hardy_synth_params_t *p);
void hardy_synth_free(hardy_synth_t *s);

/* Generate file rows [first, first + count). Outputs (each may be NULL): feat[m] [count,
 * dims[m]], label [count] (classification class or latent cluster), target [count] (regression
 * score), speaker [count], planted [count], latent [count, K] (the shared u_i). Local;
 * OpenMP-parallel over rows; the result does not depend on first/count or thread count.
 * Fails only when out of memory. */
int hardy_synth_rows(const hardy_synth_t *s, int64_t first, int64_t count,
                     float *const feat[HARDY_N_MOD], int32_t *label, float *target,
                     int32_t *speaker, float *planted, float *latent);

/* The tanh the generator uses (a rational approximation, within 1e-6 of tanhf). Local. */
float hardy_synth_tanh(float x);

/* Write the dataset to p->out. Collective over comm: each rank generates and writes its share
 * of row chunks (memory per rank: one chunk); rank 0 then adds the attributes, dialogue
 * tables and names. The file appears under its name only when complete. */
int hardy_synth_write(const hardy_synth_params_t *p, MPI_Comm comm);

#endif
