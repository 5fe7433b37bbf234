/* Plain reference twins of the dense nn kernels: simple loops, no BLAS, no OpenMP, double
 * accumulation, libm erf. The tests compare every optimised kernel against these, and the
 * model's reference path (hardy_model_set_reference) runs on them. */
#include <math.h>

#include "hardy/nn.h"

void hardy_nn_linear_forward_ref(float *out, int ld_out, const float *in, int ld_in, const float *w,
                                 int ld_w, const float *bias, int rows, int in_dim, int out_dim,
                                 int accumulate) {
  for (int r = 0; r < rows; r++)
    for (int o = 0; o < out_dim; o++) {
      double acc = bias ? bias[o] : 0.0;
      for (int i = 0; i < in_dim; i++)
        acc += (double)in[(size_t)r * ld_in + i] * w[(size_t)o * ld_w + i];
      float *dst = &out[(size_t)r * ld_out + o];
      *dst = accumulate ? (float)(*dst + acc) : (float)acc;
    }
}

void hardy_nn_linear_backward_ref(float *din, int ld_din, float *dw, int ld_dw, float *db,
                                  const float *dout, int ld_dout, const float *in, int ld_in,
                                  const float *w, int ld_w, int rows, int in_dim, int out_dim) {
  if (din)
    for (int r = 0; r < rows; r++)
      for (int i = 0; i < in_dim; i++) {
        double acc = 0.0;
        for (int o = 0; o < out_dim; o++)
          acc += (double)dout[(size_t)r * ld_dout + o] * w[(size_t)o * ld_w + i];
        din[(size_t)r * ld_din + i] += (float)acc;
      }
  if (dw)
    for (int o = 0; o < out_dim; o++)
      for (int i = 0; i < in_dim; i++) {
        double acc = 0.0;
        for (int r = 0; r < rows; r++)
          acc += (double)dout[(size_t)r * ld_dout + o] * in[(size_t)r * ld_in + i];
        dw[(size_t)o * ld_dw + i] += (float)acc;
      }
  if (db)
    for (int o = 0; o < out_dim; o++) {
      double acc = 0.0;
      for (int r = 0; r < rows; r++)
        acc += dout[(size_t)r * ld_dout + o];
      db[o] += (float)acc;
    }
}

static double act_ref(double x, hardy_nn_act_t act) {
  if (act == HARDY_ACT_RELU)
    return x > 0.0 ? x : 0.0;
  if (act == HARDY_ACT_GELU)
    return 0.5 * x * (1.0 + erf(x / sqrt(2.0)));
  return x;
}

static double act_grad_ref(double x, hardy_nn_act_t act) {
  if (act == HARDY_ACT_RELU)
    return x > 0.0 ? 1.0 : 0.0;
  if (act == HARDY_ACT_GELU)
    return 0.5 * (1.0 + erf(x / sqrt(2.0))) + x * exp(-0.5 * x * x) / sqrt(2.0 * M_PI);
  return 1.0;
}

void hardy_nn_bias_act_dropout_forward_ref(float *out, float *pre, uint8_t *mask, const float *bias,
                                           const float *res1, const float *res2, int rows, int cols,
                                           hardy_nn_act_t act, const hardy_nn_dropout_t *drop) {
  int use_drop = drop && drop->rate > 0.0f;
  for (int r = 0; r < rows; r++)
    for (int c = 0; c < cols; c++) {
      size_t i = (size_t)r * cols + c;
      float x = pre[i] + (bias ? bias[c] : 0.0f);
      pre[i] = x;
      double y = act_ref(x, act);
      if (use_drop) {
        int keep = hardy_nn_dropout_keep(drop, drop->utt_id[r], c);
        mask[i] = (uint8_t)keep;
        y = keep ? y * (1.0 / (1.0 - drop->rate)) : 0.0;
      }
      if (res1)
        y += res1[i];
      if (res2)
        y += res2[i];
      out[i] = (float)y;
    }
}

void hardy_nn_act_dropout_backward_ref(float *dpre, const float *dout, const float *pre,
                                       const uint8_t *mask, float rate, int rows, int cols,
                                       hardy_nn_act_t act) {
  int use_drop = mask && rate > 0.0f;
  for (size_t i = 0; i < (size_t)rows * cols; i++) {
    double g = dout[i];
    if (use_drop)
      g = mask[i] ? g / (1.0 - rate) : 0.0;
    if (act != HARDY_ACT_NONE)
      g *= act_grad_ref(pre[i], act);
    dpre[i] = (float)g;
  }
}

void hardy_nn_layernorm_forward_ref(float *out, float *stat, const float *in, const float *gamma,
                                    const float *beta, int rows, int cols) {
  for (int r = 0; r < rows; r++) {
    const float *x = in + (size_t)r * cols;
    double mean = 0.0, var = 0.0;
    for (int c = 0; c < cols; c++)
      mean += x[c];
    mean /= cols;
    for (int c = 0; c < cols; c++)
      var += (x[c] - mean) * (x[c] - mean);
    double rstd = 1.0 / sqrt(var / cols + 1e-5);
    for (int c = 0; c < cols; c++)
      out[(size_t)r * cols + c] = (float)((x[c] - mean) * rstd * gamma[c] + beta[c]);
    stat[2 * r] = (float)mean;
    stat[2 * r + 1] = (float)rstd;
  }
}

void hardy_nn_layernorm_backward_ref(float *din, float *dgamma, float *dbeta, const float *dout,
                                     const float *in, const float *stat, const float *gamma,
                                     int rows, int cols) {
  for (int r = 0; r < rows; r++) {
    const float *x = in + (size_t)r * cols, *d = dout + (size_t)r * cols;
    double mean = stat[2 * r], rstd = stat[2 * r + 1], sum_d = 0.0, sum_dx = 0.0;
    for (int c = 0; c < cols; c++) {
      double xhat = (x[c] - mean) * rstd;
      sum_d += (double)d[c] * gamma[c];
      sum_dx += (double)d[c] * gamma[c] * xhat;
      dgamma[c] += (float)(d[c] * xhat);
      dbeta[c] += d[c];
    }
    for (int c = 0; c < cols; c++) {
      double xhat = (x[c] - mean) * rstd;
      din[(size_t)r * cols + c] +=
          (float)(((double)d[c] * gamma[c] - sum_d / cols - xhat * sum_dx / cols) * rstd);
    }
  }
}
