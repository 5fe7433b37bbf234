/* Losses with per-row weights (the caller's w_r = 1 / global real-utterance count, 0 on
 * padding): softmax cross-entropy, squared error, and the reconstruction loss restricted to
 * missing modalities. Each returns sum_r w_r loss_r in double and ADDS w_r dloss_r / dinput to
 * the gradient buffer. These are plain loops (O(rows * width), far below the GEMMs), written
 * once: the tests check them against finite differences and hand-computed values. */
#include <math.h>

#include "hardy/nn.h"

double hardy_nn_cross_entropy(float *dlogits, const float *logits, const int32_t *label,
                              const float *w, int rows, int n_class) {
  double total = 0.0;
#pragma omp parallel for reduction(+ : total) schedule(static)
  for (int r = 0; r < rows; r++) {
    if (w[r] == 0.0f)
      continue;
    const float *z = logits + (size_t)r * n_class;
    double mx = z[0], sum = 0.0;
    for (int c = 1; c < n_class; c++)
      mx = z[c] > mx ? z[c] : mx;
    for (int c = 0; c < n_class; c++)
      sum += exp(z[c] - mx);
    double lse = mx + log(sum);
    total += w[r] * (lse - z[label[r]]);
    if (dlogits)
      for (int c = 0; c < n_class; c++)
        dlogits[(size_t)r * n_class + c] += (float)(w[r] * (exp(z[c] - lse) - (c == label[r])));
  }
  return total;
}

double hardy_nn_mse(float *dpred, const float *pred, const float *target, const float *w,
                    int rows) {
  double total = 0.0;
#pragma omp parallel for reduction(+ : total) schedule(static)
  for (int r = 0; r < rows; r++) {
    double e = (double)pred[r] - target[r];
    total += w[r] * e * e;
    if (dpred)
      dpred[r] += (float)(2.0 * w[r] * e);
  }
  return total;
}

double hardy_nn_recon_loss(float *dpred, const float *pred, int ld_pred, const float *const *target,
                           const int *tgt_row, const uint8_t *avail, const uint8_t *truth,
                           const float *w,
                           const int dims[3], const int col_off[3], unsigned blocks, int rows) {
  double total = 0.0;
#pragma omp parallel for reduction(+ : total) schedule(static)
  for (int r = 0; r < rows; r++) {
    if (w[r] == 0.0f)
      continue;
    size_t tr = (size_t)(tgt_row ? tgt_row[r] : r);
    for (int m = 0; m < 3; m++) {
      if (!(blocks >> m & 1u) || (avail[r] >> m & 1u) || (truth && !(truth[tr] >> m & 1u)))
        continue;
      const float *p = pred + (size_t)r * ld_pred + col_off[m], *t = target[m] + tr * dims[m];
      double acc = 0.0, coef = 2.0 * w[r] / dims[m];
      for (int c = 0; c < dims[m]; c++) {
        double e = (double)p[c] - t[c];
        acc += e * e;
        if (dpred)
          dpred[(size_t)r * ld_pred + col_off[m] + c] += (float)(coef * e);
      }
      total += w[r] * acc / dims[m];
    }
  }
  return total;
}
