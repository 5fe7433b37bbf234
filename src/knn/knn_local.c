/* The local top-K of the kNN module: plans and allocates the kernel workspace for a search,
 * computes row norms, and runs the kernel the configuration chose (knn_config.c): a fused
 * register-tile kernel (knn_fused.c) or the portable sgemm-tile kernel (knn_blas.c). The
 * distributed driver (knn_rounds.c) calls it once per round. */
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "hardy/common.h"
#include "hardy/knn.h"
#include "knn_internal.h"

/* The fused kernel's packed copies grow with d: at most this many bytes per thread and block. */
#define PACK_BYTES ((int64_t)64 << 20)
typedef hardy_knn_tile_t tile_t;
typedef hardy_knn_kargs_t kernel_args_t;

/* Index blocks of equal size, none above the configured width (a short last block would run
 * at a poor shape). */
static int index_block(int64_t n_index, int xb_max) {
  int64_t n_blk = HARDY_MAX((int64_t)1, (n_index + xb_max - 1) / xb_max);
  return (int)HARDY_MAX((int64_t)1, (n_index + n_blk - 1) / n_blk);
}

hardy_knn_ws_t hardy_knn_ws_plan(int64_t max_query, int64_t n_index, int d, int k, int threads) {
  tile_t cfg = hardy_knn_tile_config();
  hardy_knn_kernel_t kernel = hardy_knn_kernel_config();
  if (kernel != HARDY_KNN_KERNEL_BLAS) {
    int64_t rows = HARDY_MIN((int64_t)HARDY_KNN_QB_MAX,
                             HARDY_MAX((int64_t)64, PACK_BYTES / (4 * (int64_t)d)));
    cfg.qb = (int)HARDY_MIN((int64_t)cfg.qb, rows), cfg.xb = (int)HARDY_MIN((int64_t)cfg.xb, rows);
  }
  hardy_knn_ws_t w = {NULL, kernel, {0, index_block(n_index, cfg.xb)}, 0, 0, threads, 0};
  w.cap.qb = (int)HARDY_MAX((int64_t)1, HARDY_MIN((int64_t)cfg.qb, max_query));
  if (w.kernel != HARDY_KNN_KERNEL_BLAS) {
    w.chunk = HARDY_MIN((int64_t)w.cap.qb * threads, HARDY_MAX(max_query, (int64_t)1));
    w.bytes = hardy_knn_fused_bytes(w.kernel, w.chunk, w.cap.xb, d, k);
  } else {
    w.stride = hardy_knn_blas_bytes(w.cap, k);
    w.bytes = w.stride * (size_t)threads;
  }
  return w;
}

/* Tiles of many MiB are written and scanned once per block: on 4 KiB pages that is a TLB miss
 * every 1,024 floats and a page fault per 4 KiB on first touch. Large workspaces are 2 MiB
 * aligned and marked for transparent huge pages (a hint; ignored where THP is off). */
int hardy_knn_ws_alloc(hardy_knn_ws_t *w) {
  size_t huge = (size_t)2 << 20;
  w->base = NULL;
  if (w->bytes >= 4 * huge) {
    size_t rounded = (w->bytes + huge - 1) / huge * huge;
    void *p = NULL;
    if (posix_memalign(&p, huge, rounded) == 0) {
      (void)madvise(p, rounded, MADV_HUGEPAGE);
      w->base = p;
    }
  }
  if (!w->base) w->base = hardy_aligned_alloc(w->bytes, "knn kernel workspace");
  return w->base ? HARDY_OK : HARDY_ERR_RUNTIME;
}

size_t hardy_knn_workspace_bytes(int64_t max_query, int64_t n_index, int d, int k, int threads) {
  if (threads <= 0) threads = omp_get_max_threads();
  return hardy_knn_ws_plan(max_query, n_index, d, k, threads).bytes;
}

/* Norms of rows [n, d] into norm[n] with `threads` threads; returns the largest. */
float hardy_knn_row_norms(const float *rows, int64_t n, int d, int threads, float *norm) {
  float mx = 0.0f;
#pragma omp parallel for num_threads(threads) schedule(static) reduction(max : mx)
  for (int64_t i = 0; i < n; i++) {
    norm[i] = hardy_knn_sqnorm(rows + i * d, d);
    mx = HARDY_MAX(mx, norm[i]);
  }
  return mx;
}

/* The kernel on a workspace planned for at least n_query queries over this index: q_norm
 * [n_query] is filled here; progress (may be NULL) is called from thread 0 while it runs. */
int64_t hardy_knn_local_ws(const hardy_knn_side_t *ix, const float *q, const int64_t *q_id,
                             int64_t n_query, float *q_norm, const hardy_knn_ws_t *w,
                             hardy_topk_pair_t *lists, void (*progress)(void *), void *ctx) {
  hardy_knn_row_norms(q, n_query, ix->d, w->threads, q_norm);
  kernel_args_t a = {q, ix->x, q_norm, ix->x_norm, q_id, ix->x_id, n_query, ix->n_index, ix->d,
                     ix->k, hardy_knn_filter_margin(ix->d), ix->x_norm_max, lists, progress, ctx};
  if (w->kernel != HARDY_KNN_KERNEL_BLAS)
    return hardy_knn_fused_search(&a, w->kernel, w->threads, w->chunk, w->cap.xb, w->base);
  return hardy_knn_blas_search(&a, w->threads, w->cap, w->stride, w->base);
}

int64_t hardy_knn_topk_local(const float *q, const int64_t *q_id, int64_t n_query, const float *x,
                             const int64_t *x_id, int64_t n_index, int d, int k, int threads,
                             hardy_topk_pair_t *lists) {
  if (threads <= 0) threads = omp_get_max_threads();
  float *q_norm = hardy_malloc(sizeof(float) * (size_t)(n_query + 1), "knn query norms");
  float *x_norm = hardy_malloc(sizeof(float) * (size_t)(n_index + 1), "knn index norms");
  hardy_knn_ws_t w = hardy_knn_ws_plan(n_query, n_index, d, k, threads);
  int64_t n_cand = -1;
  if (q_norm && x_norm && hardy_knn_ws_alloc(&w) == HARDY_OK) {
    hardy_knn_side_t ix = {x, x_id, x_norm, hardy_knn_row_norms(x, n_index, d, threads, x_norm), n_index, d, k};
    n_cand = hardy_knn_local_ws(&ix, q, q_id, n_query, q_norm, &w, lists, NULL, NULL);
  }
  free(q_norm), free(x_norm), free(w.base);
  return n_cand;
}
