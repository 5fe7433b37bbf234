/* The fused kNN kernel: distances and top-K selection in one pass, with no distance tile in
 * memory (knn.h; the blas path in knn_kernel.c is its portable twin, naive reference in
 * knn_ref.c).
 *
 * The queries of a chunk are packed once into panels of MR rows and each index block into
 * panels of NR rows, both k-major, so that a 12 x 32 register tile accumulates q.x over the
 * whole dimension with two vector loads and twelve broadcasts per k. The finished tile becomes
 * (-2 q.x + |q|^2) + |x|^2 (the same expression as the blas path) and is compared with each
 * query's current limit in registers; only tiles holding a hit are walked in scalar code. An
 * index panel (NR x d) is reused from L2 by a group of GROUP query panels.
 *
 * Threads share the packed index block and each owns a contiguous share of the query panels
 * (and so of the candidate lists): no locks, one barrier per index block. */
#include <omp.h>
#include <stdint.h>
#include <string.h>

#include "hardy/common.h"
#include "knn_internal.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HARDY_KNN_FUSED_X86 1
#endif

#ifndef HARDY_KNN_GROUP
#define HARDY_KNN_GROUP 16
#endif
enum {
  MR = 12,   /* query rows of a register tile */
  NR = 32,   /* index rows of a register tile: two 16-lane vectors */
  GROUP = HARDY_KNN_GROUP, /* query panels sharing one index panel from L2 */
  PROGRESS_EVERY = 8        /* index panels between progress calls (~1 ms at d = 1536) */
};

int hardy_knn_fused_supported(void) {
#ifdef HARDY_KNN_FUSED_X86
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma");
#else
  return 0;
#endif
}

/* ---- workspace ---------------------------------------------------------------------------- */

typedef struct {
  float *a;                /* [n_panels_a, d, MR] packed query panels */
  float *qn;               /* [n_panels_a * MR] query norms, 0 in padding */
  float *lim;              /* [n_panels_a * MR] filter limits, -inf in padding */
  float *b;                /* [n_panels_b, d, NR] packed index block */
  float *xn;               /* [n_panels_b * NR] index norms, 0 in padding */
  hardy_knn_cand_t *cands; /* [chunk, cap] */
  int *n_cand;             /* [chunk] */
} fused_ws_t;

static size_t align64(size_t n) { return (n + 63) / 64 * 64; }
static int64_t panels(int64_t rows, int r) { return (rows + r - 1) / r; }

/* Lays the parts out from base (NULL: just sizes) and returns the total bytes. */
static size_t ws_layout(char *base, int64_t chunk, int xb, int d, int k, fused_ws_t *w) {
  int64_t rows_a = panels(chunk, MR) * MR, rows_b = panels(xb, NR) * NR;
  size_t sizes[7] = {sizeof(float) * (size_t)(rows_a * d), sizeof(float) * (size_t)rows_a,
                     sizeof(float) * (size_t)rows_a,       sizeof(float) * (size_t)(rows_b * d),
                     sizeof(float) * (size_t)rows_b,
                     sizeof(hardy_knn_cand_t) * (size_t)chunk * (size_t)hardy_knn_cand_cap(k),
                     sizeof(int) * (size_t)chunk};
  void *part[7];
  size_t at = 0;
  for (int i = 0; i < 7; i++) {
    part[i] = base ? base + at : NULL;
    at += align64(sizes[i]);
  }
  if (w) *w = (fused_ws_t){part[0], part[1], part[2], part[3], part[4], part[5], part[6]};
  return at;
}

size_t hardy_knn_fused_bytes(int64_t chunk_rows, int xb, int d, int k) {
  return ws_layout(NULL, chunk_rows, xb, d, k, NULL);
}

/* Rows [0, n_valid) of `rows` ([*, d]) into one k-major panel out[d][R], zeros past n_valid.
 * In steps of 16 columns, so each step writes 16 whole output rows (16 R floats) while they sit
 * in L1, reading 64 contiguous bytes of each input row. */
static void pack_panel(const float *rows, int n_valid, int d, int r_panel, float *out) {
  enum { STEP = 16 };
  for (int k0 = 0; k0 < d; k0 += STEP) {
    int k1 = HARDY_MIN(k0 + STEP, d);
    for (int r = 0; r < r_panel; r++) {
      const float *src = rows + (size_t)r * d;
      float *dst = out + r;
      if (r < n_valid)
        for (int kk = k0; kk < k1; kk++) dst[(size_t)kk * r_panel] = src[kk];
      else
        for (int kk = k0; kk < k1; kk++) dst[(size_t)kk * r_panel] = 0.0f;
    }
  }
}

/* ---- the register tile -------------------------------------------------------------------- */

#ifdef HARDY_KNN_FUSED_X86
/* v[r][j] = (-2 a_r.b_j + qn[r]) + xn[j] for a 12 x 32 tile over packed panels ap [d][MR] and
 * bp [d][NR]; bit j of hits[r] is set when v[r][j] <= lim[r] and column j is in col_mask. */
__attribute__((target("avx512f,fma"))) static void
tile_avx512(const float *ap, const float *bp, int d, const float *qn, const float *xn,
            const float *lim, uint32_t col_mask, float *v, uint32_t *hits) {
  __m512 c0[MR], c1[MR];
  for (int r = 0; r < MR; r++) c0[r] = c1[r] = _mm512_setzero_ps();
  for (int kk = 0; kk < d; kk++) {
    __m512 b0 = _mm512_load_ps(bp + (size_t)kk * NR), b1 = _mm512_load_ps(bp + (size_t)kk * NR + 16);
#pragma GCC unroll 12
    for (int r = 0; r < MR; r++) {
      __m512 av = _mm512_set1_ps(ap[(size_t)kk * MR + r]);
      c0[r] = _mm512_fmadd_ps(av, b0, c0[r]);
      c1[r] = _mm512_fmadd_ps(av, b1, c1[r]);
    }
  }
  __m512 minus2 = _mm512_set1_ps(-2.0f), x0 = _mm512_load_ps(xn), x1 = _mm512_load_ps(xn + 16);
  __mmask16 m0 = (__mmask16)(col_mask & 0xffffu), m1 = (__mmask16)(col_mask >> 16);
#pragma GCC unroll 12
  for (int r = 0; r < MR; r++) {
    __m512 q = _mm512_set1_ps(qn[r]), l = _mm512_set1_ps(lim[r]);
    __m512 d0 = _mm512_add_ps(_mm512_add_ps(_mm512_mul_ps(c0[r], minus2), q), x0);
    __m512 d1 = _mm512_add_ps(_mm512_add_ps(_mm512_mul_ps(c1[r], minus2), q), x1);
    _mm512_store_ps(v + r * NR, d0);
    _mm512_store_ps(v + r * NR + 16, d1);
    hits[r] = (uint32_t)_mm512_mask_cmp_ps_mask(m0, d0, l, _CMP_LE_OQ) |
              (uint32_t)_mm512_mask_cmp_ps_mask(m1, d1, l, _CMP_LE_OQ) << 16;
  }
}
#endif

/* The hits of one tile row (query qi, columns col0 + j) into its list, re-checked against the
 * limit as it tightens. */
static int64_t take_hits(const hardy_knn_kargs_t *a, int64_t qi, const float *v, uint32_t hits,
                         int64_t col0, hardy_knn_cand_t *c, int *n, float *lim) {
  float band = hardy_knn_band(a, qi);
  int64_t self = a->q_id[qi], n_direct = 0;
  for (; hits; hits &= hits - 1) {
    int j = __builtin_ctz(hits);
    int64_t id = a->x_id[col0 + j];
    if (v[j] > *lim || id == self) continue;
    hardy_knn_cand_t item = {HARDY_MAX(v[j], 0.0f), -1.0f, id, col0 + j};
    n_direct += hardy_knn_cand_add(a, qi, c, n, band, item);
    *lim = hardy_knn_limit(a, c, *n, band);
  }
  return n_direct;
}

/* ---- the search --------------------------------------------------------------------------- */

/* One thread's query panels [p0, p1) of the chunk starting at query c0 against the packed
 * index block starting at index row x0 (n_pb panels, nb valid rows). */
static int64_t block_panels(const hardy_knn_kargs_t *a, const fused_ws_t *w, int64_t c0, int p0,
                            int p1, int64_t x0, int n_pb, int nb) {
#ifdef HARDY_KNN_FUSED_X86
  int d = a->d, cap = hardy_knn_cand_cap(a->k);
  int64_t n_direct = 0;
  float v[MR * NR] __attribute__((aligned(64)));
  uint32_t hits[MR];
  int thread = omp_get_thread_num();
  for (int g0 = p0; g0 < p1; g0 += GROUP) {
    int g1 = HARDY_MIN(g0 + GROUP, p1);
    for (int pb = 0; pb < n_pb; pb++) {
      if (pb % PROGRESS_EVERY == 0) hardy_knn_progress(a, thread);
      int cols = HARDY_MIN(NR, nb - pb * NR);
      uint32_t col_mask = cols >= 32 ? 0xffffffffu : (1u << cols) - 1u;
      for (int pa = g0; pa < g1; pa++) {
        int row0 = pa * MR;
        tile_avx512(w->a + (size_t)row0 * d, w->b + (size_t)pb * NR * d, d, w->qn + row0,
                    w->xn + pb * NR, w->lim + row0, col_mask, v, hits);
        for (int r = 0; r < MR; r++) {
          if (!hits[r]) continue;
          int row = row0 + r; /* padded rows have lim = -inf: never a hit */
          n_direct += take_hits(a, c0 + row, v + r * NR, hits[r], x0 + (int64_t)pb * NR,
                                w->cands + (size_t)row * cap, &w->n_cand[row], &w->lim[row]);
        }
      }
    }
  }
  return n_direct;
#else
  (void)a, (void)w, (void)c0, (void)p0, (void)p1, (void)x0, (void)n_pb, (void)nb;
  return 0;
#endif
}

int64_t hardy_knn_fused_search(const hardy_knn_kargs_t *a, int threads, int64_t chunk_rows, int xb,
                               void *workspace) {
  int d = a->d, cap = hardy_knn_cand_cap(a->k);
  fused_ws_t w;
  ws_layout(workspace, chunk_rows, xb, d, a->k, &w);
  /* chunks of equal size, none above chunk_rows */
  int64_t n_chunks = panels(a->n_query, (int)HARDY_MIN(chunk_rows, (int64_t)INT32_MAX));
  int64_t chunk = n_chunks ? (a->n_query + n_chunks - 1) / n_chunks : 0;
  int64_t n_direct = 0;
  for (int64_t c0 = 0; c0 < a->n_query; c0 += chunk) {
    int nc = (int)HARDY_MIN(chunk, a->n_query - c0), n_pa = (int)panels(nc, MR);
#pragma omp parallel num_threads(threads) reduction(+ : n_direct)
    {
      int t = omp_get_thread_num(), nt = omp_get_num_threads();
      int p0 = (int)((int64_t)n_pa * t / nt), p1 = (int)((int64_t)n_pa * (t + 1) / nt);
      for (int p = p0; p < p1; p++) {
        int valid = HARDY_MIN(MR, nc - p * MR);
        pack_panel(a->q + (c0 + (int64_t)p * MR) * d, valid, d, MR, w.a + (size_t)p * MR * d);
        for (int r = 0; r < MR; r++) {
          int row = p * MR + r;
          w.qn[row] = r < valid ? a->q_norm[c0 + row] : 0.0f;
          w.lim[row] = r < valid ? INFINITY : -INFINITY;
          if (r < valid) w.n_cand[row] = 0;
        }
      }
      for (int64_t x0 = 0; x0 < a->n_index; x0 += xb) {
        int nb = (int)HARDY_MIN((int64_t)xb, a->n_index - x0), n_pb = (int)panels(nb, NR);
#pragma omp for schedule(static)
        for (int p = 0; p < n_pb; p++) {
          int valid = HARDY_MIN(NR, nb - p * NR);
          pack_panel(a->x + (x0 + (int64_t)p * NR) * d, valid, d, NR, w.b + (size_t)p * NR * d);
          for (int j = 0; j < NR; j++)
            w.xn[p * NR + j] = j < valid ? a->x_norm[x0 + p * NR + j] : 0.0f;
        } /* implicit barrier: the block is packed */
        n_direct += block_panels(a, &w, c0, p0, p1, x0, n_pb, nb);
#pragma omp barrier /* everyone is done with this block before it is overwritten */
      }
      for (int row = p0 * MR; row < HARDY_MIN(p1 * MR, nc); row++)
        n_direct += hardy_knn_cand_finish(a, c0 + row, w.cands + (size_t)row * cap, w.n_cand[row]);
    }
  }
  return n_direct;
}
