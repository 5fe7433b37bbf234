/* Dense layers of the nn module: linear (cblas_sgemm, row-major, W in PyTorch [out, in]
 * layout), the fused bias + activation + dropout (+ residual) pass that follows every linear
 * layer, and LayerNorm. Fusing the elementwise work into one pass per linear layer keeps the
 * step bound by the GEMMs. The _ref twins live in nn_ref.c. */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "hardy/nn.h"
#include "hardy/rng.h"
#include "nn_math.h"

void hardy_nn_linear_forward(float *out, int ld_out, const float *in, int ld_in, const float *w,
                             int ld_w, const float *bias, int rows, int in_dim, int out_dim,
                             int accumulate) {
  if (rows <= 0 || out_dim <= 0)
    return;
  float beta = accumulate ? 1.0f : 0.0f;
  if (bias) {
#pragma omp parallel for schedule(static)
    for (int r = 0; r < rows; r++) {
      float *o = out + (size_t)r * ld_out;
      if (accumulate)
        for (int c = 0; c < out_dim; c++)
          o[c] += bias[c];
      else
        memcpy(o, bias, (size_t)out_dim * sizeof(float));
    }
    beta = 1.0f;
  }
  if (in_dim > 0)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, out_dim, in_dim, 1.0f, in, ld_in, w,
                ld_w, beta, out, ld_out);
  else if (!bias && !accumulate)
    for (int r = 0; r < rows; r++)
      memset(out + (size_t)r * ld_out, 0, (size_t)out_dim * sizeof(float));
}

HARDY_NN_CLONES
static void colsum_block(float *db, const float *dout, int ld, int rows, int cols) {
  float acc[64] = {0};
  for (int r = 0; r < rows; r++) {
    const float *d = dout + (size_t)r * ld;
#pragma omp simd
    for (int c = 0; c < cols; c++)
      acc[c] += d[c];
  }
  for (int c = 0; c < cols; c++)
    db[c] += acc[c];
}

void hardy_nn_linear_backward(float *din, int ld_din, float *dw, int ld_dw, float *db,
                              const float *dout, int ld_dout, const float *in, int ld_in,
                              const float *w, int ld_w, int rows, int in_dim, int out_dim) {
  if (rows <= 0 || out_dim <= 0)
    return;
  if (din)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, in_dim, out_dim, 1.0f, dout,
                ld_dout, w, ld_w, 1.0f, din, ld_din);
  if (dw)
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out_dim, in_dim, rows, 1.0f, dout, ld_dout,
                in, ld_in, 1.0f, dw, ld_dw);
  if (db) {
    /* Column blocks per thread: each thread owns its columns, rows summed in order. */
#pragma omp parallel for schedule(static)
    for (int c0 = 0; c0 < out_dim; c0 += 64)
      colsum_block(db + c0, dout + c0, ld_dout, rows, c0 + 64 < out_dim ? 64 : out_dim - c0);
  }
}

/* ---- dropout bits ---- */

static inline uint32_t drop_threshold(float rate) {
  double t = (double)rate * 4294967296.0;
  return t >= 4294967295.0 ? 0xFFFFFFFFu : (uint32_t)t;
}

static inline hardy_rng4_t drop_bits(const hardy_nn_dropout_t *d, int64_t utt_id, int quad) {
  return hardy_philox(d->key, (d->step << 16) | (uint64_t)(d->layer & 0xFFFFu),
                      ((uint64_t)utt_id << 22) | (uint64_t)quad);
}

int hardy_nn_dropout_keep(const hardy_nn_dropout_t *d, int64_t utt_id, int col) {
  hardy_rng4_t r = drop_bits(d, utt_id, col / 4);
  return r.v[col % 4] >= drop_threshold(d->rate);
}

/* Philox4x32-10 of counters (hi, lo0 + q), q < nq, written as 4 lanes per q: the same bits as
 * hardy_philox, in a loop the compiler vectorises (32x32->64 multiplies). */
HARDY_NN_CLONES
static void philox_quads(uint32_t *out, uint64_t key, uint64_t hi, uint64_t lo0, int nq) {
  const uint32_t c2i = (uint32_t)hi, c3i = (uint32_t)(hi >> 32);
#pragma omp simd
  for (int q = 0; q < nq; q++) {
    uint64_t lo = lo0 + (uint64_t)q;
    uint32_t c0 = (uint32_t)lo, c1 = (uint32_t)(lo >> 32), c2 = c2i, c3 = c3i;
    uint32_t k0 = (uint32_t)key, k1 = (uint32_t)(key >> 32);
    for (int round = 0; round < 10; round++) {
      uint64_t p0 = (uint64_t)0xD2511F53u * c0, p1 = (uint64_t)0xCD9E8D57u * c2;
      uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0, n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
      c1 = (uint32_t)p1;
      c3 = (uint32_t)p0;
      c0 = n0;
      c2 = n2;
      k0 += 0x9E3779B9u;
      k1 += 0xBB67AE85u;
    }
    out[4 * q + 0] = c0;
    out[4 * q + 1] = c1;
    out[4 * q + 2] = c2;
    out[4 * q + 3] = c3;
  }
}

/* Keep flags of one row, in chunks of 1024 columns. */
static void drop_row_mask(uint8_t *mask, const hardy_nn_dropout_t *d, int64_t utt_id, int cols) {
  enum { CHUNK = 1024 };
  uint32_t bits[CHUNK];
  const uint32_t thr = drop_threshold(d->rate);
  const uint64_t hi = (d->step << 16) | (uint64_t)(d->layer & 0xFFFFu), lo = (uint64_t)utt_id << 22;
  for (int c0 = 0; c0 < cols; c0 += CHUNK) {
    int n = cols - c0 < CHUNK ? cols - c0 : CHUNK;
    philox_quads(bits, d->key, hi, lo | (uint64_t)(c0 / 4), (n + 3) / 4);
    for (int c = 0; c < n; c++)
      mask[c0 + c] = bits[c] >= thr;
  }
}

static const float INV_SQRT2 = 0.70710678118654752f, INV_SQRT_2PI = 0.39894228040143268f;

/* One row of the fused forward: keep flags (one Philox call per 4 columns), then short
 * branch-free passes over the row (it stays in L1), specialised by activation. */
HARDY_NN_CLONES
static void bad_row(float *o, float *p, uint8_t *mk, const float *bias, const float *r1,
                    const float *r2, int cols, hardy_nn_act_t act, const hardy_nn_dropout_t *drop,
                    int64_t utt_id, float scale) {
  if (mk)
    drop_row_mask(mk, drop, utt_id, cols);
  if (bias)
#pragma omp simd
    for (int c = 0; c < cols; c++)
      p[c] += bias[c];
  if (act == HARDY_ACT_RELU) {
#pragma omp simd
    for (int c = 0; c < cols; c++)
      o[c] = p[c] > 0.0f ? p[c] : 0.0f;
  } else if (act == HARDY_ACT_GELU) {
#pragma omp simd
    for (int c = 0; c < cols; c++) {
      float g, x = p[c];
      o[c] = 0.5f * x * (1.0f + hardy_nn_erff(x * INV_SQRT2, &g));
    }
  } else if (o != p) {
    memcpy(o, p, (size_t)cols * sizeof(float));
  }
  if (mk)
#pragma omp simd
    for (int c = 0; c < cols; c++)
      o[c] = o[c] * (scale * (float)mk[c]);
  if (r1 && r2) {
#pragma omp simd
    for (int c = 0; c < cols; c++)
      o[c] += r1[c] + r2[c];
  } else if (r1 || r2) {
    const float *r = r1 ? r1 : r2;
#pragma omp simd
    for (int c = 0; c < cols; c++)
      o[c] += r[c];
  }
}

void hardy_nn_bias_act_dropout_forward(float *out, float *pre, uint8_t *mask, const float *bias,
                                       const float *res1, const float *res2, int rows, int cols,
                                       hardy_nn_act_t act, const hardy_nn_dropout_t *drop) {
  const int use_drop = drop && drop->rate > 0.0f;
  const float scale = use_drop ? 1.0f / (1.0f - drop->rate) : 1.0f;
#pragma omp parallel for schedule(static)
  for (int r = 0; r < rows; r++) {
    size_t base = (size_t)r * cols;
    bad_row(out + base, pre + base, use_drop ? mask + base : NULL, bias, res1 ? res1 + base : NULL,
            res2 ? res2 + base : NULL, cols, act, drop, use_drop ? drop->utt_id[r] : 0, scale);
  }
}

HARDY_NN_CLONES
static void ad_row(float *dp, const float *d, const float *p, const uint8_t *mk, int cols,
                   hardy_nn_act_t act, float scale) {
  if (mk) {
#pragma omp simd
    for (int c = 0; c < cols; c++)
      dp[c] = d[c] * (scale * (float)mk[c]);
  } else if (dp != d) {
    memcpy(dp, d, (size_t)cols * sizeof(float));
  }
  if (act == HARDY_ACT_RELU) {
#pragma omp simd
    for (int c = 0; c < cols; c++)
      dp[c] = p[c] > 0.0f ? dp[c] : 0.0f;
  } else if (act == HARDY_ACT_GELU) {
#pragma omp simd
    for (int c = 0; c < cols; c++) {
      float gauss, x = p[c], e = hardy_nn_erff(x * INV_SQRT2, &gauss);
      dp[c] *= 0.5f * (1.0f + e) + x * gauss * INV_SQRT_2PI;
    }
  }
}

void hardy_nn_act_dropout_backward(float *dpre, const float *dout, const float *pre,
                                   const uint8_t *mask, float rate, int rows, int cols,
                                   hardy_nn_act_t act) {
  const int use_drop = mask && rate > 0.0f;
  const float scale = use_drop ? 1.0f / (1.0f - rate) : 1.0f;
#pragma omp parallel for schedule(static)
  for (int r = 0; r < rows; r++) {
    size_t base = (size_t)r * cols;
    ad_row(dpre + base, dout + base, pre ? pre + base : NULL, use_drop ? mask + base : NULL, cols,
           act, scale);
  }
}

/* ---- LayerNorm ---- */

void hardy_nn_layernorm_forward(float *out, float *stat, const float *in, const float *gamma,
                                const float *beta, int rows, int cols) {
#pragma omp parallel for schedule(static)
  for (int r = 0; r < rows; r++) {
    const float *x = in + (size_t)r * cols;
    float *o = out + (size_t)r * cols;
    float mean = 0.0f, var = 0.0f;
    for (int c = 0; c < cols; c++)
      mean += x[c];
    mean /= (float)cols;
    for (int c = 0; c < cols; c++)
      var += (x[c] - mean) * (x[c] - mean);
    float rstd = 1.0f / sqrtf(var / (float)cols + 1e-5f);
    for (int c = 0; c < cols; c++)
      o[c] = (x[c] - mean) * rstd * gamma[c] + beta[c];
    stat[2 * r] = mean;
    stat[2 * r + 1] = rstd;
  }
}

void hardy_nn_layernorm_backward(float *din, float *dgamma, float *dbeta, const float *dout,
                                 const float *in, const float *stat, const float *gamma, int rows,
                                 int cols) {
#pragma omp parallel for schedule(static)
  for (int r = 0; r < rows; r++) {
    const float *x = in + (size_t)r * cols, *d = dout + (size_t)r * cols;
    float mean = stat[2 * r], rstd = stat[2 * r + 1], sum_d = 0.0f, sum_dx = 0.0f;
    for (int c = 0; c < cols; c++) {
      float dn = d[c] * gamma[c];
      sum_d += dn;
      sum_dx += dn * (x[c] - mean) * rstd;
    }
    sum_d /= (float)cols;
    sum_dx /= (float)cols;
    float *di = din + (size_t)r * cols;
    for (int c = 0; c < cols; c++) {
      float xhat = (x[c] - mean) * rstd;
      di[c] += (d[c] * gamma[c] - sum_d - xhat * sum_dx) * rstd;
    }
  }
  /* Parameter gradients by column blocks, so no two threads write the same element. */
#pragma omp parallel for schedule(static)
  for (int c0 = 0; c0 < cols; c0 += 64) {
    int c1 = c0 + 64 < cols ? c0 + 64 : cols;
    for (int r = 0; r < rows; r++) {
      const float *x = in + (size_t)r * cols, *d = dout + (size_t)r * cols;
      float mean = stat[2 * r], rstd = stat[2 * r + 1];
      for (int c = c0; c < c1; c++) {
        dgamma[c] += d[c] * (x[c] - mean) * rstd;
        dbeta[c] += d[c];
      }
    }
  }
}
