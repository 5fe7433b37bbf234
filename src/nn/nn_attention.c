/* Masked multi-head attention within segments (the utterances of one dialogue), forward and
 * backward, plus the plain _ref twins. Work is split over (segment, head) pairs, so each
 * thread owns the key/value gradient rows it writes. Per pair, the products (scores Q K^T and
 * P V forward; recomputed scores, dP = dO V^T, dV = P^T dO, dQ = dS K, dK = dS^T Q backward)
 * are single-threaded sgemm calls on the contiguous rows of the segment, with the masking and
 * softmax fused in one loop over the [len x len] scratch: the products then run at GEMM speed
 * instead of as length-dh dot products. Backward recomputes the probabilities from the saved
 * log-sum-exp instead of storing [len x len] matrices per head and layer: the recomputation
 * is a few percent of the step, the saved memory is O(rows * len). Keys outside the mask get
 * probability exactly 0; a query with no valid key has lse = -inf, outputs 0 and gets zero
 * gradients, so no NaN can appear. The row-by-row loop kernels (no [len x len] scratch) take
 * segments longer than ATTN_GEMM_MAX_LEN, which keeps the scratch at most 2 MiB per thread,
 * and every segment when the scratch cannot be allocated. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hardy/nn.h"
#include "nn_math.h"

static inline float dotf(const float *a, const float *b, int n) {
  float s = 0.0f;
#pragma omp simd reduction(+ : s)
  for (int i = 0; i < n; i++)
    s += a[i] * b[i];
  return s;
}

static inline void axpyf(float *y, float alpha, const float *x, int n) {
#pragma omp simd
  for (int i = 0; i < n; i++)
    y[i] += alpha * x[i];
}

enum { ATTN_GEMM_MAX_LEN = 512 };

static int seg_len(const hardy_nn_attn_t *a, int s) {
  return a->seg_off[s + 1] - a->seg_off[s];
}

static int max_segment(const hardy_nn_attn_t *a) {
  int mx = 1;
  for (int s = 0; s < a->n_seg; s++)
    mx = HARDY_NN_MAXI(mx, seg_len(a, s));
  return mx;
}

/* One (segment, head) of the forward pass; sc: scratch of the segment length. */
HARDY_NN_CLONES
static void fwd_task(float *out, int ld_out, float *lse, const float *q, int ld_q, const float *k,
                     int ld_k, const float *v, int ld_v, const hardy_nn_attn_t *a, int s, int h,
                     float *sc) {
  const int heads = a->heads, dh = a->head_dim, i0 = a->seg_off[s], n = a->seg_off[s + 1] - i0;
  const float scale = 1.0f / sqrtf((float)dh);
  for (int i = i0; i < i0 + n; i++) {
    const float *qi = q + (size_t)i * ld_q + h * dh;
    float *oi = out + (size_t)i * ld_out + h * dh;
    float mx = -INFINITY;
    for (int j = 0; j < n; j++) {
      if (a->key_valid && !a->key_valid[i0 + j])
        continue;
      sc[j] = dotf(qi, k + (size_t)(i0 + j) * ld_k + h * dh, dh) * scale;
      mx = sc[j] > mx ? sc[j] : mx;
    }
    memset(oi, 0, (size_t)dh * sizeof(float));
    if (mx == -INFINITY) {
      lse[(size_t)i * heads + h] = -INFINITY;
      continue;
    }
    float sum = 0.0f;
    for (int j = 0; j < n; j++) {
      if (a->key_valid && !a->key_valid[i0 + j])
        continue;
      float p = hardy_nn_expf(sc[j] - mx);
      sum += p;
      axpyf(oi, p, v + (size_t)(i0 + j) * ld_v + h * dh, dh);
    }
    float inv = 1.0f / sum;
    for (int c = 0; c < dh; c++)
      oi[c] *= inv;
    lse[(size_t)i * heads + h] = mx + logf(sum);
  }
}

HARDY_NN_CLONES
static void bwd_task(float *dq, float *dk, float *dv, const float *dout, int ld_out,
                     const float *out, const float *lse, const float *q, int ld_q, const float *k,
                     int ld_k, const float *v, int ld_v, const hardy_nn_attn_t *a, int s, int h) {
  const int heads = a->heads, dh = a->head_dim, i0 = a->seg_off[s], n = a->seg_off[s + 1] - i0;
  const float scale = 1.0f / sqrtf((float)dh);
  for (int i = i0; i < i0 + n; i++) {
    memset(dk + (size_t)i * ld_k + h * dh, 0, (size_t)dh * sizeof(float));
    memset(dv + (size_t)i * ld_v + h * dh, 0, (size_t)dh * sizeof(float));
  }
  for (int i = i0; i < i0 + n; i++) {
    const float *qi = q + (size_t)i * ld_q + h * dh, *doi = dout + (size_t)i * ld_out + h * dh;
    float *dqi = dq + (size_t)i * ld_q + h * dh, l = lse[(size_t)i * heads + h];
    memset(dqi, 0, (size_t)dh * sizeof(float));
    if (l == -INFINITY)
      continue;
    const float di = dotf(doi, out + (size_t)i * ld_out + h * dh, dh);
    for (int j = i0; j < i0 + n; j++) {
      if (a->key_valid && !a->key_valid[j])
        continue;
      const float *kj = k + (size_t)j * ld_k + h * dh, *vj = v + (size_t)j * ld_v + h * dh;
      float p = hardy_nn_expf(dotf(qi, kj, dh) * scale - l);
      float ds = p * (dotf(doi, vj, dh) - di) * scale;
      axpyf(dv + (size_t)j * ld_v + h * dh, p, doi, dh);
      axpyf(dqi, ds, kj, dh);
      axpyf(dk + (size_t)j * ld_k + h * dh, ds, qi, dh);
    }
  }
}

/* ---- per (segment, head) products as sgemm calls ---- */

/* Probabilities of query row i (scores si[0..n) already scaled) in place, normalised; keys
 * outside the mask get exactly 0. Returns the log-sum-exp, -INFINITY (row zeroed) when no key
 * is valid. */
HARDY_NN_CLONES
static float softmax_row(float *si, const uint8_t *valid, int n) {
  float mx = -INFINITY;
  if (valid) {
    for (int j = 0; j < n; j++)
      if (valid[j] && si[j] > mx)
        mx = si[j];
  } else {
    for (int j = 0; j < n; j++)
      mx = si[j] > mx ? si[j] : mx;
  }
  if (mx == -INFINITY) {
    memset(si, 0, (size_t)n * sizeof(float));
    return -INFINITY;
  }
#pragma omp simd
  for (int j = 0; j < n; j++)
    si[j] = hardy_nn_expf(si[j] - mx);
  if (valid)
#pragma omp simd
    for (int j = 0; j < n; j++)
      si[j] = valid[j] ? si[j] : 0.0f;
  float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
  for (int j = 0; j < n; j++)
    sum += si[j];
  const float inv = 1.0f / sum;
#pragma omp simd
  for (int j = 0; j < n; j++)
    si[j] *= inv;
  return mx + logf(sum);
}

/* sc: [n x n] scratch, n the segment length. */
static void fwd_gemm(float *out, int ld_out, float *lse, const float *q, int ld_q, const float *k,
                     int ld_k, const float *v, int ld_v, const hardy_nn_attn_t *a, int s, int h,
                     float *sc) {
  const int heads = a->heads, dh = a->head_dim, i0 = a->seg_off[s], n = a->seg_off[s + 1] - i0;
  const size_t co = (size_t)h * dh;
  const float scale = 1.0f / sqrtf((float)dh);
  const uint8_t *valid = a->key_valid ? a->key_valid + i0 : NULL;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, dh, scale, q + (size_t)i0 * ld_q + co,
              ld_q, k + (size_t)i0 * ld_k + co, ld_k, 0.0f, sc, n);
  for (int i = 0; i < n; i++)
    lse[(size_t)(i0 + i) * heads + h] = softmax_row(sc + (size_t)i * n, valid, n);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, dh, n, 1.0f, sc, n,
              v + (size_t)i0 * ld_v + co, ld_v, 0.0f, out + (size_t)i0 * ld_out + co, ld_out);
}

/* P_ij = exp(s_ij - lse_i) on valid keys (0 elsewhere, and on rows with lse = -inf) into sp,
 * dS_ij = P_ij (dP_ij - D_i) scale into dp, with D_i = dO_i . O_i. */
HARDY_NN_CLONES
static void softmax_grad_row(float *sp, float *dp, float l, float di, float scale,
                             const uint8_t *valid, int n) {
  if (l == -INFINITY) {
    memset(sp, 0, (size_t)n * sizeof(float));
    memset(dp, 0, (size_t)n * sizeof(float));
    return;
  }
#pragma omp simd
  for (int j = 0; j < n; j++)
    sp[j] = hardy_nn_expf(sp[j] - l);
  if (valid)
#pragma omp simd
    for (int j = 0; j < n; j++)
      sp[j] = valid[j] ? sp[j] : 0.0f;
#pragma omp simd
  for (int j = 0; j < n; j++)
    dp[j] = sp[j] * (dp[j] - di) * scale;
}

/* sc: [2 x n x n] scratch. Overwrites the segment's rows of dq, dk, dv in head h's columns. */
static void bwd_gemm(float *dq, float *dk, float *dv, const float *dout, int ld_out,
                     const float *out, const float *lse, const float *q, int ld_q, const float *k,
                     int ld_k, const float *v, int ld_v, const hardy_nn_attn_t *a, int s, int h,
                     float *sc) {
  const int heads = a->heads, dh = a->head_dim, i0 = a->seg_off[s], n = a->seg_off[s + 1] - i0;
  const size_t co = (size_t)h * dh;
  const float scale = 1.0f / sqrtf((float)dh);
  const uint8_t *valid = a->key_valid ? a->key_valid + i0 : NULL;
  const float *qs = q + (size_t)i0 * ld_q + co, *ks = k + (size_t)i0 * ld_k + co;
  const float *vs = v + (size_t)i0 * ld_v + co, *dos = dout + (size_t)i0 * ld_out + co;
  float *sp = sc, *dp = sc + (size_t)n * n; /* [n x n] each: P, then dS */
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, dh, scale, qs, ld_q, ks, ld_k, 0.0f,
              sp, n);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, dh, 1.0f, dos, ld_out, vs, ld_v, 0.0f,
              dp, n);
  for (int i = 0; i < n; i++) {
    const float di = dotf(dos + (size_t)i * ld_out, out + (size_t)(i0 + i) * ld_out + co, dh);
    softmax_grad_row(sp + (size_t)i * n, dp + (size_t)i * n, lse[(size_t)(i0 + i) * heads + h], di,
                     scale, valid, n);
  }
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, n, dh, n, 1.0f, sp, n, dos, ld_out, 0.0f,
              dv + (size_t)i0 * ld_v + co, ld_v);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, dh, n, 1.0f, dp, n, ks, ld_k, 0.0f,
              dq + (size_t)i0 * ld_q + co, ld_q);
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, n, dh, n, 1.0f, dp, n, qs, ld_q, 0.0f,
              dk + (size_t)i0 * ld_k + co, ld_k);
}

/* Per-thread [len x len] scratch for the segments the sgemm path takes (NULL: none, or memory
 * is short, and the loop kernels run). The sgemm calls run inside the parallel region, where
 * the OpenMP build of OpenBLAS stays on the calling thread, so results do not depend on the
 * thread count or timing. */
static int gemm_len(const hardy_nn_attn_t *a) {
  int mx = 0;
  for (int s = 0; s < a->n_seg; s++)
    if (seg_len(a, s) <= ATTN_GEMM_MAX_LEN)
      mx = HARDY_NN_MAXI(mx, seg_len(a, s));
  return mx;
}

static float *scratch(int len, int count) {
  return len > 0 ? malloc((size_t)count * len * len * sizeof(float)) : NULL;
}

void hardy_nn_attention_forward(float *out, int ld_out, float *lse, const float *q, int ld_q,
                                const float *k, int ld_k, const float *v, int ld_v,
                                const hardy_nn_attn_t *a) {
  const int tasks = a->n_seg * a->heads, smax = max_segment(a), glen = gemm_len(a);
#pragma omp parallel
  {
    float *sc = scratch(glen, 1), row[smax];
#pragma omp for schedule(dynamic, 1)
    for (int t = 0; t < tasks; t++) {
      const int s = t / a->heads, h = t % a->heads;
      if (sc && seg_len(a, s) <= glen)
        fwd_gemm(out, ld_out, lse, q, ld_q, k, ld_k, v, ld_v, a, s, h, sc);
      else
        fwd_task(out, ld_out, lse, q, ld_q, k, ld_k, v, ld_v, a, s, h, row);
    }
    free(sc);
  }
}

void hardy_nn_attention_backward(float *dq, float *dk, float *dv, const float *dout, int ld_out,
                                 const float *out, const float *lse, const float *q, int ld_q,
                                 const float *k, int ld_k, const float *v, int ld_v,
                                 const hardy_nn_attn_t *a) {
  const int tasks = a->n_seg * a->heads, glen = gemm_len(a);
#pragma omp parallel
  {
    float *sc = scratch(glen, 2);
#pragma omp for schedule(dynamic, 1)
    for (int t = 0; t < tasks; t++) {
      const int s = t / a->heads, h = t % a->heads;
      if (sc && seg_len(a, s) <= glen)
        bwd_gemm(dq, dk, dv, dout, ld_out, out, lse, q, ld_q, k, ld_k, v, ld_v, a, s, h, sc);
      else
        bwd_task(dq, dk, dv, dout, ld_out, out, lse, q, ld_q, k, ld_k, v, ld_v, a, s, h);
    }
    free(sc);
  }
}

/* ---- reference twins: explicit probabilities in double, libm exp ---- */

void hardy_nn_attention_forward_ref(float *out, int ld_out, float *lse, const float *q, int ld_q,
                                    const float *k, int ld_k, const float *v, int ld_v,
                                    const hardy_nn_attn_t *a) {
  const int heads = a->heads, dh = a->head_dim;
  const double scale = 1.0 / sqrt((double)dh);
  for (int s = 0; s < a->n_seg; s++)
    for (int h = 0; h < heads; h++)
      for (int i = a->seg_off[s]; i < a->seg_off[s + 1]; i++) {
        double mx = -INFINITY, sum = 0.0;
        for (int j = a->seg_off[s]; j < a->seg_off[s + 1]; j++) {
          if (a->key_valid && !a->key_valid[j])
            continue;
          double d = 0.0;
          for (int c = 0; c < dh; c++)
            d += (double)q[(size_t)i * ld_q + h * dh + c] * k[(size_t)j * ld_k + h * dh + c];
          if (d * scale > mx)
            mx = d * scale;
        }
        for (int c = 0; c < dh; c++)
          out[(size_t)i * ld_out + h * dh + c] = 0.0f;
        lse[(size_t)i * heads + h] = -INFINITY;
        if (mx == -INFINITY)
          continue;
        double acc[dh];
        for (int c = 0; c < dh; c++)
          acc[c] = 0.0;
        for (int j = a->seg_off[s]; j < a->seg_off[s + 1]; j++) {
          if (a->key_valid && !a->key_valid[j])
            continue;
          double d = 0.0;
          for (int c = 0; c < dh; c++)
            d += (double)q[(size_t)i * ld_q + h * dh + c] * k[(size_t)j * ld_k + h * dh + c];
          double p = exp(d * scale - mx);
          sum += p;
          for (int c = 0; c < dh; c++)
            acc[c] += p * v[(size_t)j * ld_v + h * dh + c];
        }
        for (int c = 0; c < dh; c++)
          out[(size_t)i * ld_out + h * dh + c] = (float)(acc[c] / sum);
        lse[(size_t)i * heads + h] = (float)(mx + log(sum));
      }
}

void hardy_nn_attention_backward_ref(float *dq, float *dk, float *dv, const float *dout, int ld_out,
                                     const float *out, const float *lse, const float *q, int ld_q,
                                     const float *k, int ld_k, const float *v, int ld_v,
                                     const hardy_nn_attn_t *a) {
  const int heads = a->heads, dh = a->head_dim;
  const double scale = 1.0 / sqrt((double)dh);
  for (int s = 0; s < a->n_seg; s++) {
    const int i0 = a->seg_off[s], i1 = a->seg_off[s + 1];
    for (int h = 0; h < heads; h++) {
      for (int i = i0; i < i1; i++)
        for (int c = 0; c < dh; c++) {
          dq[(size_t)i * ld_q + h * dh + c] = 0.0f;
          dk[(size_t)i * ld_k + h * dh + c] = 0.0f;
          dv[(size_t)i * ld_v + h * dh + c] = 0.0f;
        }
      for (int i = i0; i < i1; i++) {
        if (lse[(size_t)i * heads + h] == -INFINITY)
          continue;
        const float *qi = q + (size_t)i * ld_q + h * dh, *doi = dout + (size_t)i * ld_out + h * dh;
        double di = 0.0;
        for (int c = 0; c < dh; c++)
          di += (double)doi[c] * out[(size_t)i * ld_out + h * dh + c];
        for (int j = i0; j < i1; j++) {
          if (a->key_valid && !a->key_valid[j])
            continue;
          const float *kj = k + (size_t)j * ld_k + h * dh, *vj = v + (size_t)j * ld_v + h * dh;
          double d = 0.0, dp = 0.0;
          for (int c = 0; c < dh; c++) {
            d += (double)qi[c] * kj[c];
            dp += (double)doi[c] * vj[c];
          }
          double p = exp(d * scale - lse[(size_t)i * heads + h]), ds = p * (dp - di) * scale;
          for (int c = 0; c < dh; c++) {
            dv[(size_t)j * ld_v + h * dh + c] += (float)(p * doi[c]);
            dq[(size_t)i * ld_q + h * dh + c] += (float)(ds * kj[c]);
            dk[(size_t)j * ld_k + h * dh + c] += (float)(ds * qi[c]);
          }
        }
      }
    }
  }
}
