/* The portable kNN kernel ("blas", any machine): per thread, sgemm (alpha = -2) of a query
 * sub-block against an index block into a distance tile, then one vector filter pass over the
 * tile that offers values within each query's band to its candidate list (knn_cand.c). The
 * fused register-tile kernels (knn_fused.c) are its fast twins; tests compare them. */
#include <cblas.h>
#include <omp.h>
#include <string.h>

#include "hardy/common.h"
#include "hardy/knn.h"
#include "knn_internal.h"

enum { SCAN = 64 };
typedef hardy_knn_cand_t cand_t;
typedef hardy_knn_kargs_t kernel_args_t;

/* Filter one tile row of query qi into its candidate list: index column j is a candidate when
 * row[j] + |q|^2 + |x_j|^2 is within the band of the current K-th value. Runs of SCAN columns
 * are tested with one vector pass against the current limit, and only a run holding a value
 * under it is walked one by one (the limit tightens as it goes), so after the first few runs
 * of a query almost all columns cost one vector compare. Built for AVX-512, AVX2 and baseline
 * x86-64, picked at load time (the library itself is not built with -march). */
__attribute__((target_clones("avx512f", "avx2", "default")))
static int64_t filter_row(const kernel_args_t *a, int64_t qi, const float *row, const float *xn,
                          const int64_t *xid, int64_t x0, int xb, cand_t *c, int *n_cand) {
  float qn = a->q_norm[qi], band = hardy_knn_band(a, qi);
  float lim = hardy_knn_limit(a, c, *n_cand, band);
  int64_t n_direct = 0;
  for (int c0 = 0; c0 < xb; c0 += SCAN) {
    int c1 = HARDY_MIN(c0 + SCAN, xb), hit = 0;
    for (int j = c0; j < c1; j++) hit |= row[j] + qn + xn[j] <= lim;
    if (!hit) continue;
    for (int j = c0; j < c1; j++)
      n_direct += hardy_knn_cand_offer(a, qi, c, n_cand, band, &lim, row[j] + qn + xn[j], xid[j],
                                       x0 + j);
  }
  return n_direct;
}

/* One query sub-block [q0, q1) against every index block of xb rows; tile [q1-q0, xb], the
 * candidate lists [q1-q0, cap] and their counts are thread-private. */
static int64_t search_subblock(const kernel_args_t *a, int xb_max, int64_t q0, int64_t q1,
                               float *tile, cand_t *cands, int *n_cand) {
  int64_t n_direct = 0;
  int d = a->d, cap = hardy_knn_cand_cap(a->k), qb = (int)(q1 - q0);
  memset(n_cand, 0, sizeof(int) * (size_t)qb);
  int thread = omp_get_thread_num();
  for (int64_t x0 = 0; x0 < a->n_index; x0 += xb_max) {
    int xb = (int)HARDY_MIN((int64_t)xb_max, a->n_index - x0);
    hardy_knn_progress(a, thread);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, qb, xb, d, -2.0f, a->q + q0 * d, d,
                a->x + x0 * d, d, 0.0f, tile, xb);
    for (int i = 0; i < qb; i++)
      n_direct += filter_row(a, q0 + i, tile + (size_t)i * xb, a->x_norm + x0, a->x_id + x0, x0,
                             xb, cands + (size_t)i * cap, &n_cand[i]);
  }
  for (int i = 0; i < qb; i++)
    n_direct += hardy_knn_cand_finish(a, q0 + i, cands + (size_t)i * cap, n_cand[i]);
  return n_direct;
}


size_t hardy_knn_blas_tile_bytes(hardy_knn_tile_t cap) {
  return hardy_knn_align64(sizeof(float) * (size_t)cap.qb * (size_t)cap.xb);
}
size_t hardy_knn_blas_cand_bytes(hardy_knn_tile_t cap, int k) {
  return hardy_knn_align64(sizeof(cand_t) * (size_t)cap.qb * (size_t)hardy_knn_cand_cap(k));
}
size_t hardy_knn_blas_bytes(hardy_knn_tile_t cap, int k) {
  return hardy_knn_blas_tile_bytes(cap) + hardy_knn_blas_cand_bytes(cap, k) +
         hardy_knn_align64(sizeof(int) * (size_t)cap.qb);
}

/* The blas path on its workspace: equal query sub-blocks, a multiple of the thread count, none
 * above the workspace's rows, each searched by one thread with single-threaded sgemm. */
int64_t hardy_knn_blas_search(const kernel_args_t *a, int threads, hardy_knn_tile_t cap,
                              size_t stride, char *base) {
  int k = a->k;
  int64_t per = (int64_t)threads * cap.qb;
  int64_t n_sub = threads * ((a->n_query + per - 1) / per);
  int64_t sub = n_sub > 0 ? (a->n_query + n_sub - 1) / n_sub : 0;
  int64_t n_cand = 0;
#pragma omp parallel num_threads(threads) reduction(+ : n_cand)
  {
    char *ws = base + stride * (size_t)omp_get_thread_num();
    float *tile = (float *)ws;
    cand_t *cands = (cand_t *)(ws + hardy_knn_blas_tile_bytes(cap));
    int *counts = (int *)(ws + hardy_knn_blas_tile_bytes(cap) + hardy_knn_blas_cand_bytes(cap, k));
#pragma omp for schedule(static)
    for (int64_t s = 0; s < n_sub; s++) {
      int64_t q0 = s * sub, q1 = HARDY_MIN(q0 + sub, a->n_query);
      if (q0 < q1) n_cand += search_subblock(a, cap.xb, q0, q1, tile, cands, counts);
    }
  }
  return n_cand;
}
