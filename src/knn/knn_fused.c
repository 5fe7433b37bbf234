/* The fused kNN kernel: distances and top-K selection in one pass, with no distance tile in
 * memory (knn.h; the blas path in knn_kernel.c is its portable twin, naive reference in
 * knn_ref.c).
 *
 * The queries of a chunk are packed once into panels of MR rows and each index block into
 * panels of NR rows, both k-major, so that an MR x NR register tile accumulates q.x over the
 * whole dimension with NR/W vector loads and MR broadcasts per k (W lanes per vector). The
 * finished tile becomes (-2 q.x + |q|^2) + |x|^2 (the same expression as the blas path) and is
 * compared with each query's current limit in registers; only tiles holding a hit are walked
 * in scalar code. An index panel (NR x d) is reused from L2 by the query panels of a group of
 * GROUP_ROWS rows. Two instruction sets:
 *   avx512: 12 x 32 tile, 24 of the 32 zmm registers accumulate;
 *   avx2:   6 x 16 tile, 12 of the 16 ymm registers accumulate (Zen 2/3, Haswell..).
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

enum {
  MR_MAX = 12,      /* largest tile: 12 x 32 */
  NR_MAX = 32,      /* <= 32: a row's hits are one uint32 */
  GROUP_ROWS = 192, /* query rows sharing one index panel from L2 */
  PROGRESS_EVERY = 8 /* index panels between progress calls (~1 ms at d = 1536) */
};

/* v[r][j] = (-2 a_r.b_j + qn[r]) + xn[j] over packed panels ap [d][mr], bp [d][nr]; bit j of
 * hits[r] is set when v[r][j] <= lim[r] and bit j of col_mask is set. */
typedef void (*tile_fn_t)(const float *ap, const float *bp, int d, const float *qn,
                          const float *xn, const float *lim, uint32_t col_mask, float *v,
                          uint32_t *hits);

typedef struct {
  hardy_knn_kernel_t isa;
  int mr, nr;
  tile_fn_t tile;
} isa_t;

/* ---- the register tiles ------------------------------------------------------------------- */

#ifdef HARDY_KNN_FUSED_X86
__attribute__((target("avx512f,fma"))) static void
tile_avx512(const float *ap, const float *bp, int d, const float *qn, const float *xn,
            const float *lim, uint32_t col_mask, float *v, uint32_t *hits) {
  enum { MR = 12, NR = 32 };
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

__attribute__((target("avx2,fma"))) static void
tile_avx2(const float *ap, const float *bp, int d, const float *qn, const float *xn,
          const float *lim, uint32_t col_mask, float *v, uint32_t *hits) {
  enum { MR = 6, NR = 16 };
  __m256 c0[MR], c1[MR];
  for (int r = 0; r < MR; r++) c0[r] = c1[r] = _mm256_setzero_ps();
  for (int kk = 0; kk < d; kk++) {
    __m256 b0 = _mm256_load_ps(bp + (size_t)kk * NR), b1 = _mm256_load_ps(bp + (size_t)kk * NR + 8);
#pragma GCC unroll 6
    for (int r = 0; r < MR; r++) {
      __m256 av = _mm256_broadcast_ss(ap + (size_t)kk * MR + r);
      c0[r] = _mm256_fmadd_ps(av, b0, c0[r]);
      c1[r] = _mm256_fmadd_ps(av, b1, c1[r]);
    }
  }
  __m256 minus2 = _mm256_set1_ps(-2.0f), x0 = _mm256_load_ps(xn), x1 = _mm256_load_ps(xn + 8);
#pragma GCC unroll 6
  for (int r = 0; r < MR; r++) {
    __m256 q = _mm256_set1_ps(qn[r]), l = _mm256_set1_ps(lim[r]);
    __m256 d0 = _mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(c0[r], minus2), q), x0);
    __m256 d1 = _mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(c1[r], minus2), q), x1);
    _mm256_store_ps(v + r * NR, d0);
    _mm256_store_ps(v + r * NR + 8, d1);
    uint32_t m = (uint32_t)_mm256_movemask_ps(_mm256_cmp_ps(d0, l, _CMP_LE_OQ)) |
                 (uint32_t)_mm256_movemask_ps(_mm256_cmp_ps(d1, l, _CMP_LE_OQ)) << 8;
    hits[r] = m & col_mask;
  }
}
#endif

static int cpu_has(hardy_knn_kernel_t isa) {
#ifdef HARDY_KNN_FUSED_X86
  __builtin_cpu_init();
  if (isa == HARDY_KNN_KERNEL_AVX512)
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma");
  if (isa == HARDY_KNN_KERNEL_AVX2)
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
  (void)isa;
  return 0;
}

hardy_knn_kernel_t hardy_knn_fused_best(void) {
  return cpu_has(HARDY_KNN_KERNEL_AVX512) ? HARDY_KNN_KERNEL_AVX512
         : cpu_has(HARDY_KNN_KERNEL_AVX2) ? HARDY_KNN_KERNEL_AVX2
                                          : HARDY_KNN_KERNEL_BLAS;
}

int hardy_knn_fused_supported(hardy_knn_kernel_t kernel) {
  return kernel != HARDY_KNN_KERNEL_BLAS && cpu_has(kernel);
}

static isa_t isa_of(hardy_knn_kernel_t which) {
  isa_t isa = {which, 1, 1, NULL};
#ifdef HARDY_KNN_FUSED_X86
  if (which == HARDY_KNN_KERNEL_AVX512) isa = (isa_t){which, 12, 32, tile_avx512};
  if (which == HARDY_KNN_KERNEL_AVX2) isa = (isa_t){which, 6, 16, tile_avx2};
#endif
  return isa;
}

/* ---- workspace ---------------------------------------------------------------------------- */

typedef struct {
  float *a;                /* [n_panels_a, d, mr] packed query panels */
  float *qn;               /* [n_panels_a * mr] query norms, 0 in padding */
  float *lim;              /* [n_panels_a * mr] filter limits, -inf in padding */
  float *b;                /* [n_panels_b, d, nr] packed index block */
  float *xn;               /* [n_panels_b * nr] index norms, 0 in padding */
  hardy_knn_cand_t *cands; /* [chunk, cap] */
  int *n_cand;             /* [chunk] */
} fused_ws_t;

static int64_t panels(int64_t rows, int r) { return (rows + r - 1) / r; }

/* Lays the parts out from base (NULL: just sizes) and returns the total bytes. */
static size_t ws_layout(char *base, const isa_t *isa, int64_t chunk, int xb, int d, int k,
                        fused_ws_t *w) {
  int64_t rows_a = panels(chunk, isa->mr) * isa->mr, rows_b = panels(xb, isa->nr) * isa->nr;
  size_t sizes[7] = {sizeof(float) * (size_t)(rows_a * d), sizeof(float) * (size_t)rows_a,
                     sizeof(float) * (size_t)rows_a,       sizeof(float) * (size_t)(rows_b * d),
                     sizeof(float) * (size_t)rows_b,
                     sizeof(hardy_knn_cand_t) * (size_t)chunk * (size_t)hardy_knn_cand_cap(k),
                     sizeof(int) * (size_t)chunk};
  void *part[7];
  size_t at = 0;
  for (int i = 0; i < 7; i++) {
    part[i] = base ? base + at : NULL;
    at += hardy_knn_align64(sizes[i]);
  }
  if (w) *w = (fused_ws_t){part[0], part[1], part[2], part[3], part[4], part[5], part[6]};
  return at;
}

size_t hardy_knn_fused_bytes(hardy_knn_kernel_t which, int64_t chunk_rows, int xb, int d, int k) {
  isa_t isa = isa_of(which);
  return ws_layout(NULL, &isa, chunk_rows, xb, d, k, NULL);
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

/* The hits of one tile row (query qi, columns col0 + j) into its list, re-checked against the
 * limit as it tightens. */
static int64_t take_hits(const hardy_knn_kargs_t *a, int64_t qi, const float *v, uint32_t hits,
                         int64_t col0, hardy_knn_cand_t *c, int *n, float *lim) {
  float band = hardy_knn_band(a, qi);
  int64_t n_direct = 0;
  for (; hits; hits &= hits - 1) {
    int j = __builtin_ctz(hits);
    n_direct += hardy_knn_cand_offer(a, qi, c, n, band, lim, v[j], a->x_id[col0 + j], col0 + j);
  }
  return n_direct;
}

/* ---- the search --------------------------------------------------------------------------- */

/* One thread's query panels [p0, p1) of the chunk starting at query c0 against the packed
 * index block starting at index row x0 (n_pb panels, nb valid rows). */
static int64_t block_panels(const hardy_knn_kargs_t *a, const isa_t *isa, const fused_ws_t *w,
                            int64_t c0, int p0, int p1, int64_t x0, int n_pb, int nb) {
  int d = a->d, cap = hardy_knn_cand_cap(a->k), mr = isa->mr, nr = isa->nr;
  int group = HARDY_MAX(1, GROUP_ROWS / mr), thread = omp_get_thread_num();
  int64_t n_direct = 0;
  float v[MR_MAX * NR_MAX] __attribute__((aligned(64)));
  uint32_t hits[MR_MAX];
  for (int g0 = p0; g0 < p1; g0 += group) {
    int g1 = HARDY_MIN(g0 + group, p1);
    for (int pb = 0; pb < n_pb; pb++) {
      if (pb % PROGRESS_EVERY == 0) hardy_knn_progress(a, thread);
      int cols = HARDY_MIN(nr, nb - pb * nr);
      uint32_t col_mask = cols >= 32 ? 0xffffffffu : (1u << cols) - 1u;
      for (int pa = g0; pa < g1; pa++) {
        int row0 = pa * mr;
        isa->tile(w->a + (size_t)row0 * d, w->b + (size_t)pb * nr * d, d, w->qn + row0,
                  w->xn + pb * nr, w->lim + row0, col_mask, v, hits);
        for (int r = 0; r < mr; r++) {
          if (!hits[r]) continue;
          int row = row0 + r; /* padded rows have lim = -inf: never a hit */
          n_direct += take_hits(a, c0 + row, v + r * nr, hits[r], x0 + (int64_t)pb * nr,
                                w->cands + (size_t)row * cap, &w->n_cand[row], &w->lim[row]);
        }
      }
    }
  }
  return n_direct;
}

int64_t hardy_knn_fused_search(const hardy_knn_kargs_t *a, hardy_knn_kernel_t which,
                               int threads, int64_t chunk_rows, int xb, void *workspace) {
  isa_t isa = isa_of(which);
  if (!isa.tile) return -1;
  int d = a->d, cap = hardy_knn_cand_cap(a->k), mr = isa.mr, nr = isa.nr;
  fused_ws_t w;
  ws_layout(workspace, &isa, chunk_rows, xb, d, a->k, &w);
  /* chunks of equal size, none above chunk_rows */
  int64_t n_chunks = panels(a->n_query, (int)HARDY_MIN(chunk_rows, (int64_t)INT32_MAX));
  int64_t chunk = n_chunks ? (a->n_query + n_chunks - 1) / n_chunks : 0;
  int64_t n_direct = 0;
  for (int64_t c0 = 0; c0 < a->n_query; c0 += chunk) {
    int nc = (int)HARDY_MIN(chunk, a->n_query - c0), n_pa = (int)panels(nc, mr);
#pragma omp parallel num_threads(threads) reduction(+ : n_direct)
    {
      int t = omp_get_thread_num(), nt = omp_get_num_threads();
      int p0 = (int)((int64_t)n_pa * t / nt), p1 = (int)((int64_t)n_pa * (t + 1) / nt);
      for (int p = p0; p < p1; p++) {
        int valid = HARDY_MIN(mr, nc - p * mr);
        pack_panel(a->q + (c0 + (int64_t)p * mr) * d, valid, d, mr, w.a + (size_t)p * mr * d);
        for (int r = 0; r < mr; r++) {
          int row = p * mr + r;
          w.qn[row] = r < valid ? a->q_norm[c0 + row] : 0.0f;
          w.lim[row] = r < valid ? INFINITY : -INFINITY;
          if (r < valid) w.n_cand[row] = 0;
        }
      }
      for (int64_t x0 = 0; x0 < a->n_index; x0 += xb) {
        int nb = (int)HARDY_MIN((int64_t)xb, a->n_index - x0), n_pb = (int)panels(nb, nr);
#pragma omp for schedule(static)
        for (int p = 0; p < n_pb; p++) {
          int valid = HARDY_MIN(nr, nb - p * nr);
          pack_panel(a->x + (x0 + (int64_t)p * nr) * d, valid, d, nr, w.b + (size_t)p * nr * d);
          for (int j = 0; j < nr; j++)
            w.xn[p * nr + j] = j < valid ? a->x_norm[x0 + p * nr + j] : 0.0f;
        } /* implicit barrier: the block is packed */
        n_direct += block_panels(a, &isa, &w, c0, p0, p1, x0, n_pb, nb);
#pragma omp barrier /* everyone is done with this block before it is overwritten */
      }
      for (int row = p0 * mr; row < HARDY_MIN(p1 * mr, nc); row++)
        n_direct += hardy_knn_cand_finish(a, c0 + row, w.cands + (size_t)row * cap, w.n_cand[row]);
    }
  }
  return n_direct;
}
