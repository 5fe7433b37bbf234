/* Hardness bookkeeping and the parts of multi-view hardness that are not estimators: the
 * per-row result arrays, direct hardness (reconstruction error on the missing modalities),
 * the mask rule that selects which modality pairs count, global min-max normalisation, the
 * combined score and the global rank. Normalisation is over the whole training split (one
 * MPI_Allreduce of minima and negated maxima), never per batch, so the scores do not depend
 * on how utterances are spread over ranks. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hardy/common.h"
#include "hardy/dist.h"
#include "hardy/hardness.h"

hardy_hardness_params_t hardy_hardness_params_from_config(const hardy_config_t *cfg) {
  hardy_hardness_params_t p = {
      .estimator = cfg->hardness.estimator,
      .mi_sign = cfg->hardness.mi_sign,
      .beta = cfg->hardness.beta,
      .alpha1 = cfg->hardness.alpha1,
      .alpha2 = cfg->hardness.alpha2,
      .ridge = cfg->hardness.ridge,
      .use_direct = cfg->hardness.use_direct,
      .use_indirect = cfg->hardness.use_indirect,
  };
  return p;
}

int hardy_hardness_alloc(hardy_hardness_t *h, int64_t n) {
  memset(h, 0, sizeof *h);
  if (n < 0)
    return hardy_fail(HARDY_ERR_INPUT, "hardness: negative row count %lld", (long long)n);
  size_t rows = (size_t)n;
  h->n = n;
  h->id = hardy_calloc(rows, sizeof *h->id, "hardness ids");
  h->mask = hardy_calloc(rows, sizeof *h->mask, "hardness masks");
  h->direct = hardy_calloc(rows, sizeof(double), "direct hardness");
  h->mi = hardy_calloc(rows, sizeof(double), "mutual information");
  h->indirect = hardy_calloc(rows, sizeof(double), "indirect hardness");
  h->direct_norm = hardy_calloc(rows, sizeof(double), "normalised direct hardness");
  h->indirect_norm = hardy_calloc(rows, sizeof(double), "normalised indirect hardness");
  h->score = hardy_calloc(rows, sizeof(double), "hardness scores");
  h->rank = hardy_calloc(rows, sizeof *h->rank, "hardness ranks");
  h->q = hardy_calloc(rows, sizeof(double), "hardness rank fractions");
  if (!(h->id && h->mask && h->direct && h->mi && h->indirect && h->direct_norm &&
        h->indirect_norm && h->score && h->rank && h->q)) {
    hardy_hardness_free(h);
    return HARDY_ERR_RUNTIME;
  }
  return HARDY_OK;
}

void hardy_hardness_free(hardy_hardness_t *h) {
  free(h->id);
  free(h->mask);
  free(h->direct);
  free(h->mi);
  free(h->indirect);
  free(h->direct_norm);
  free(h->indirect_norm);
  free(h->score);
  free(h->rank);
  free(h->q);
  memset(h, 0, sizeof *h);
}

static int check_masks(const uint8_t *avail, int64_t n) {
  for (int64_t i = 0; i < n; i++)
    if (avail[i] > HARDY_MOD_ALL)
      return hardy_fail(HARDY_ERR_INPUT,
                        "hardness: availability mask %u at row %lld is not a bit set of a, t, v "
                        "(0..7)",
                        (unsigned)avail[i], (long long)i);
  return HARDY_OK;
}

int hardy_hardness_direct(const float *x_hat, const float *const x[3], const int dims[3],
                          const uint8_t *avail, int64_t n, double *e) {
  HARDY_CHECK(check_masks(avail, n));
  int width = dims[0] + dims[1] + dims[2];
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; i++) {
    const float *row = x_hat + i * width;
    double sum = 0.0;
    int n_missing = 0, col = 0;
    for (int m = 0; m < 3; m++) {
      if (!((avail[i] >> m) & 1)) {
        const float *truth = x[m] + i * dims[m];
        double sq = 0.0;
        for (int k = 0; k < dims[m]; k++) {
          double diff = (double)row[col + k] - (double)truth[k];
          sq += diff * diff;
        }
        sum += dims[m] > 0 ? sq / dims[m] : 0.0;
        n_missing++;
      }
      col += dims[m];
    }
    e[i] = n_missing ? sum / n_missing : 0.0;
  }
  return HARDY_OK;
}

/* A pair (m, n) counts when exactly one of m, n is present, or for every pair when nothing is
 * missing (the research definition: the complete utterance is scored on all pairs). */
static int pair_counts(uint8_t avail, int pair) {
  if (avail == HARDY_MOD_ALL)
    return 1;
  int m = HARDY_PAIR_MOD[pair][0], k = HARDY_PAIR_MOD[pair][1];
  return ((avail >> m) & 1) != ((avail >> k) & 1);
}

int hardy_hardness_pair_sum(const double *pair_mi, const uint8_t *avail, int64_t n, double *mi) {
  HARDY_CHECK(check_masks(avail, n));
  for (int64_t i = 0; i < n; i++) {
    double sum = 0.0;
    for (int p = 0; p < HARDY_N_PAIR; p++)
      if (pair_counts(avail[i], p))
        sum += pair_mi[i * HARDY_N_PAIR + p];
    mi[i] = sum;
  }
  return HARDY_OK;
}

static int check_finite(const hardy_hardness_t *h) {
  for (int64_t i = 0; i < h->n; i++) {
    if (!isfinite(h->direct[i]))
      return hardy_fail(HARDY_ERR_INPUT,
                        "direct hardness of utterance %lld is %g (the teacher's "
                        "reconstruction is not finite)",
                        (long long)h->id[i], h->direct[i]);
    if (!isfinite(h->mi[i]))
      return hardy_fail(HARDY_ERR_INPUT,
                        "mutual information of utterance %lld is %g (teacher "
                        "embeddings not finite, or raise hardness.ridge)",
                        (long long)h->id[i], h->mi[i]);
  }
  return HARDY_OK;
}

/* (x - lo) / (hi - lo), and 0 for a constant column (hi == lo) instead of 0/0. */
static double min_max(double x, double lo, double hi) {
  return hi > lo ? (x - lo) / (hi - lo) : 0.0;
}

int hardy_hardness_combine(MPI_Comm comm, const hardy_hardness_params_t *p, hardy_hardness_t *h) {
  HARDY_CHECK(hardy_agree(check_finite(h), comm));
  double sign = p->mi_sign == HARDY_MI_HIGH_IS_HARD ? 1.0 : -1.0;
  /* ext = {min e, min m, -max e, -max m}: one MIN allreduce gives both ends of both views. */
  double ext[4] = {INFINITY, INFINITY, INFINITY, INFINITY}, global[4];
  for (int64_t i = 0; i < h->n; i++) {
    h->indirect[i] = sign * h->mi[i];
    ext[0] = fmin(ext[0], h->direct[i]);
    ext[1] = fmin(ext[1], h->indirect[i]);
    ext[2] = fmin(ext[2], -h->direct[i]);
    ext[3] = fmin(ext[3], -h->indirect[i]);
  }
  HARDY_MPI_CHECK(MPI_Allreduce(ext, global, 4, MPI_DOUBLE, MPI_MIN, comm));
  double w_direct = p->use_direct ? p->alpha1 : 0.0, w_indirect = p->use_indirect ? p->alpha2 : 0.0;
  for (int64_t i = 0; i < h->n; i++) {
    h->direct_norm[i] = min_max(h->direct[i], global[0], -global[2]);
    h->indirect_norm[i] = min_max(h->indirect[i], global[1], -global[3]);
    double s = w_direct * h->direct_norm[i] + w_indirect * h->indirect_norm[i];
    h->score[i] = 1.0 / (1.0 + exp(-p->beta * s));
  }
  return HARDY_OK;
}

int hardy_hardness_rank(MPI_Comm comm, hardy_hardness_t *h) {
  HARDY_CHECK(hardy_dist_rank(comm, h->score, h->id, h->n, h->rank, &h->n_total));
  for (int64_t i = 0; i < h->n; i++)
    h->q[i] = hardy_dist_rank_fraction(h->rank[i], h->n_total);
  return HARDY_OK;
}
