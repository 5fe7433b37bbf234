/* Masked multi-head attention within segments (the utterances of one dialogue), forward and
 * backward, plus the plain _ref twins. Work is split over (segment, head) pairs, so each
 * thread owns the key/value gradient rows it writes. Backward recomputes the probabilities
 * from the saved log-sum-exp instead of storing [len x len] matrices per head and layer: the
 * recomputation is a few percent of the step, the saved memory is O(rows * len). Keys outside
 * the mask are skipped exactly; a query with no valid key has lse = -inf, outputs 0 and gets
 * zero gradients, so no NaN can appear. */
#include <math.h>
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

static int max_segment(const hardy_nn_attn_t *a) {
  int mx = 1;
  for (int s = 0; s < a->n_seg; s++)
    mx = HARDY_NN_MAXI(mx, a->seg_off[s + 1] - a->seg_off[s]);
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

void hardy_nn_attention_forward(float *out, int ld_out, float *lse, const float *q, int ld_q,
                                const float *k, int ld_k, const float *v, int ld_v,
                                const hardy_nn_attn_t *a) {
  const int tasks = a->n_seg * a->heads, smax = max_segment(a);
#pragma omp parallel
  {
    float sc[smax];
#pragma omp for schedule(dynamic, 1)
    for (int t = 0; t < tasks; t++)
      fwd_task(out, ld_out, lse, q, ld_q, k, ld_k, v, ld_v, a, t / a->heads, t % a->heads, sc);
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

void hardy_nn_attention_backward(float *dq, float *dk, float *dv, const float *dout, int ld_out,
                                 const float *out, const float *lse, const float *q, int ld_q,
                                 const float *k, int ld_k, const float *v, int ld_v,
                                 const hardy_nn_attn_t *a) {
  const int tasks = a->n_seg * a->heads;
#pragma omp parallel for schedule(dynamic, 1)
  for (int t = 0; t < tasks; t++)
    bwd_task(dq, dk, dv, dout, ld_out, out, lse, q, ld_q, k, ld_k, v, ld_v, a, t / a->heads,
             t % a->heads);
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
