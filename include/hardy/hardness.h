/* Multi-view hardness (docs/ALGORITHM.md, "Multi-view hardness"): the numbers the hardness phase
 * computes for every training utterance from the frozen teacher's outputs.
 *
 *  - direct hardness e_i: reconstruction error on the missing modalities (local);
 *  - indirect hardness from cross-modal mutual information of teacher embeddings of the
 *    complete input, with the `entropy` estimator (local) or the `gaussian` estimator (a joint
 *    Gaussian fitted to the training-set embeddings of all ranks: distributed mean and
 *    covariance, ScaLAPACK Cholesky on a BLACS grid, then local log-densities);
 *  - global min-max normalisation, the combined score h_i and the exact global rank q_i
 *    (collective);
 *  - hardness.h5, written collectively with parallel HDF5.
 *
 * Modalities are indexed 0 audio, 1 text, 2 visual; an availability mask r is a bit set of the
 * present modalities (bit 0 a, bit 1 t, bit 2 v). Modality pairs are indexed 0 (a,t), 1 (a,v),
 * 2 (t,v). All sums are taken in double. Errors go through hardy_fail(); functions marked
 * collective agree on their status with hardy_agree() so no rank hangs. */
#ifndef HARDY_HARDNESS_H
#define HARDY_HARDNESS_H

#include <mpi.h>
#include <stdbool.h>
#include <stdint.h>

#include "hardy/config.h"
#include "hardy/mask.h"

enum { HARDY_N_PAIR = 3 };

/* Modalities of pair p: first HARDY_PAIR_MOD[p][0], second HARDY_PAIR_MOD[p][1]. */
extern const int HARDY_PAIR_MOD[HARDY_N_PAIR][2];

/* The hardness settings that the numerical core needs (a subset of config [hardness]). */
typedef struct {
  int estimator; /* hardy_mi_estimator_t */
  int mi_sign;   /* hardy_mi_sign_t: indirect = -MI (low_is_hard) or +MI (high_is_hard) */
  double beta, alpha1, alpha2;
  double ridge;                  /* added to the covariance diagonals of the gaussian estimator */
  bool use_direct, use_indirect; /* a disabled view contributes 0 to the score */
} hardy_hardness_params_t;

hardy_hardness_params_t hardy_hardness_params_from_config(const hardy_config_t *cfg);

/* Per-row results for this rank's training utterances. Every array has n rows and is owned by
 * the struct (hardy_hardness_alloc / hardy_hardness_free). Raw values are double. */
typedef struct {
  int64_t n;             /* rows on this rank (may be 0) */
  int64_t n_total;       /* rows over all ranks; set by hardy_hardness_rank */
  int64_t *id;           /* [n] global utterance ids, unique over all ranks */
  uint8_t *mask;         /* [n] training availability bit set r_i */
  double *direct;        /* [n] e_i, raw */
  double *mi;            /* [n] summed MI estimate (entropy I or gaussian PMI), raw */
  double *indirect;      /* [n] signed indirect hardness: -mi (low_is_hard) or +mi (high_is_hard) */
  double *direct_norm;   /* [n] e_hat in [0, 1] */
  double *indirect_norm; /* [n] m_hat in [0, 1] */
  double *score;         /* [n] h_i = sigmoid(beta (alpha1 e_hat + alpha2 m_hat)) */
  int64_t *rank;         /* [n] position of (h_i, id_i) in ascending order over all ranks */
  double *q;             /* [n] rank / (n_total - 1), 0 when n_total == 1 */
} hardy_hardness_t;

/* Allocate zeroed arrays for n rows (n may be 0). Local. Free with hardy_hardness_free. */
int hardy_hardness_alloc(hardy_hardness_t *h, int64_t n);
void hardy_hardness_free(hardy_hardness_t *h);

/* Direct hardness, local: e[i] = mean over missing m (bit m of avail[i] clear) of
 * ||x_hat_i^m - x_i^m||^2 / d_m, 0 when nothing is missing. x_hat [n, d_a+d_t+d_v] row-major
 * (modality blocks in order a, t, v); x[m] [n, dims[m]] the ground truth. Errors: avail > 7. */
int hardy_hardness_direct(const float *x_hat, const float *const x[3], const int dims[3],
                          const uint8_t *avail, int64_t n, double *e /* [n] */);

/* Entropy of softmax(z) over the hidden features z [hidden], in nats, computed stably in
 * double. Local. */
double hardy_hardness_softmax_entropy(const float *z, int hidden);

/* Entropy estimator, local: pair_mi[i*3 + p] = H(z^m_i) + H(z^n_i) - H(j^p_i) for the pair
 * p = (m, n). z[m] [n, hidden] teacher embeddings of the complete input, pair[p] [n, hidden]
 * the cross-attention outputs j^{mn}. */
int hardy_hardness_entropy_pairs(const float *const z[3], const float *const pair[3], int hidden,
                                 int64_t n, double *pair_mi /* [n, 3] */);

/* Sum per-pair MI over the pairs that count under the mask, local: the pairs (m, n) with one
 * modality present and the other missing, or all three pairs when nothing is missing.
 * Errors: avail > 7. */
int hardy_hardness_pair_sum(const double *pair_mi /* [n, 3] */, const uint8_t *avail, int64_t n,
                            double *mi /* [n] */);

/* A joint Gaussian fitted to [z^a; z^t; z^v] over the training set: the mean and the Cholesky
 * factors of the ridged joint (2H x 2H) covariance of each pair and of each marginal (H x H)
 * covariance, replicated on every rank. Factors are lower triangular, column-major. */
typedef struct {
  int hidden;                      /* H */
  int64_t n_fit;                   /* rows the fit used, over all ranks */
  double *mean;                    /* [3H] */
  double *chol_pair[HARDY_N_PAIR]; /* [2H, 2H] col-major lower: chol(Cov([z^m; z^n]) + ridge I) */
  double *chol_mod[3];             /* [H, H] col-major lower: chol(Cov(z^m) + ridge I) */
  double logdet_pair[HARDY_N_PAIR], logdet_mod[3]; /* log det of the ridged covariances */
  int grid_rows, grid_cols, block; /* the BLACS grid and block size the factors came from */
} hardy_gauss_mi_t;

/* Fit the Gaussian, collective over comm. z[m] [n_local, hidden] this rank's rows (n_local may
 * be 0 on some ranks; at least 2 rows over all ranks). Mean and covariance are two-pass double
 * allreduces; the six Cholesky factors come from ScaLAPACK pdpotrf on a near-square BLACS grid
 * over all ranks of comm and are then replicated. Errors (agreed): non-finite embeddings, too
 * few rows, a covariance that is not positive definite (names the pair or modality and the
 * column; raise hardness.ridge). Free with hardy_gauss_mi_free. */
int hardy_gauss_mi_fit(MPI_Comm comm, const float *const z[3], int hidden, int64_t n_local,
                       double ridge, hardy_gauss_mi_t *g);
void hardy_gauss_mi_free(hardy_gauss_mi_t *g);

/* Pointwise MI of each row under the fitted Gaussian, local:
 * pair_mi[i*3 + p] = log N([z^m_i; z^n_i]) - log N(z^m_i) - log N(z^n_i). z[m] [n, hidden]. */
int hardy_gauss_mi_eval(const hardy_gauss_mi_t *g, const float *const z[3], int64_t n,
                        double *pair_mi /* [n, 3] */);

/* Serial reference of fit + eval on ALL rows (plain loops, own Cholesky), local: what the
 * distributed path must reproduce. Errors: too few rows, not positive definite. */
int hardy_gauss_mi_ref(const float *const z[3], int hidden, int64_t n, double ridge,
                       double *pair_mi /* [n, 3] */);

/* From h->direct and h->mi: indirect = sign * mi, global min-max normalisation over all ranks
 * (a constant column normalises to 0), and score h_i. Collective over comm. Errors (agreed):
 * non-finite raw values (names the utterance id). */
int hardy_hardness_combine(MPI_Comm comm, const hardy_hardness_params_t *p, hardy_hardness_t *h);

/* Exact global rank of every score (ties by id) and q; sets n_total. Collective over comm
 * (hardy_dist_rank). Errors (agreed): duplicate ids, non-finite scores. */
int hardy_hardness_rank(MPI_Comm comm, hardy_hardness_t *h);

/* Attributes stored with hardness.h5. */
typedef struct {
  hardy_hardness_params_t params;
  hardy_missing_t missing; /* the training condition or missing rate */
} hardy_hardness_meta_t;

/* Write `path` (hardness.h5) collectively: each rank its rows at the global offset given by
 * the exclusive scan of the row counts, to path.tmp, closed, then renamed by rank 0. Datasets
 * under /hardness: id, rank (int64 [N]); direct, mi, indirect, direct_norm, indirect_norm,
 * score, q (float64 [N]); mask (uint8 [N, 3], 1 where present). Attributes of /hardness:
 * estimator, mi_sign (strings), beta, alpha1, alpha2, ridge (double), use_direct, use_indirect,
 * n_total (int), and condition (string) or rate (double). Collective; errors agreed. */
int hardy_hardness_write(MPI_Comm comm, const char *path, const hardy_hardness_t *h,
                         const hardy_hardness_meta_t *meta);

#endif
