/* Internals of the kNN module (not a public header). Its files, each using only those listed
 * before it:
 *   knn_cand.c    candidate lists, their band filter and direct distances;
 *   knn_blas.c    the portable sgemm-tile kernel;
 *   knn_fused.c   the fused register-tile kernels (AVX-512, AVX2);
 *   knn_config.c  which kernel and tiles a search uses (CPU, HARDY_KNN_KERNEL/_TILE);
 *   knn_local.c   workspace, row norms and the local top-K on the chosen kernel;
 *   knn_rounds.c  the distributed driver (pipelined rounds);
 *   knn.c         the retrieval layer of knn.h (modalities, scales, patterns);
 *   knn_ref.c     the plain reference search the tests compare against. */
#ifndef HARDY_KNN_INTERNAL_H
#define HARDY_KNN_INTERNAL_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "hardy/dist.h"

/* Tile sizes in effect (HARDY_KNN_TILE or the compiled defaults): qb query rows per thread,
 * xb index rows per block. */
typedef struct {
  int qb, xb;
} hardy_knn_tile_t;
/* Limits of a tile (HARDY_KNN_TILE is checked against them). */
enum { HARDY_KNN_QB_MAX = 16384, HARDY_KNN_XB_MAX = 65536 };
hardy_knn_tile_t hardy_knn_tile_config(void);

/* Which kernel a search runs: fused register tiles (x86-64 with AVX-512F, or AVX2 and FMA) or
 * sgemm tiles plus a vector filter pass (any machine). HARDY_KNN_KERNEL=auto|fused|
 * fused-avx512|fused-avx2|blas; auto and fused take the best fused kernel this CPU runs. */
typedef enum {
  HARDY_KNN_KERNEL_BLAS = 0,
  HARDY_KNN_KERNEL_AVX512 = 1,
  HARDY_KNN_KERNEL_AVX2 = 2
} hardy_knn_kernel_t;
hardy_knn_kernel_t hardy_knn_kernel_config(void);

/* A candidate of one query: its GEMM-expanded distance (approx), its direct distance once
 * computed (exact, < 0 before), its global id and its row in the index. */
typedef struct {
  float approx, exact;
  int64_t id, pos;
} hardy_knn_cand_t;

/* Candidates per query kept between compactions. */
static inline int hardy_knn_cand_cap(int k) { return 2 * k + 8; }

/* One local search: queries q against index rows x, results into lists. */
typedef struct {
  const float *q, *x;           /* [n_query, d], [n_index, d] */
  const float *q_norm, *x_norm; /* [n_query], [n_index] squared norms */
  const int64_t *q_id, *x_id;   /* [n_query], [n_index] global ids */
  int64_t n_query, n_index;
  int d, k;
  float margin;             /* relative rounding-error band of the expanded distance */
  float x_norm_max;         /* max over x_norm */
  hardy_topk_pair_t *lists; /* [n_query, k] */
  /* Called now and then by OpenMP thread 0 (the thread that called the search) while the
   * kernel runs, so that the driver's non-blocking collectives progress; may be NULL. */
  void (*progress)(void *ctx);
  void *progress_ctx;
} hardy_knn_kargs_t;

/* The progress hook, from thread 0 only. */
static inline void hardy_knn_progress(const hardy_knn_kargs_t *a, int thread) {
  if (a->progress && thread == 0) a->progress(a->progress_ctx);
}

/* The band of query qi: candidates within it of the K-th smallest expanded distance are kept. */
static inline float hardy_knn_band(const hardy_knn_kargs_t *a, int64_t qi) {
  return a->margin * (a->q_norm[qi] + a->x_norm_max);
}
/* The filter limit of a list holding n candidates. */
static inline float hardy_knn_limit(const hardy_knn_kargs_t *a, const hardy_knn_cand_t *c, int n,
                                    float band) {
  return n >= a->k ? c[a->k - 1].approx + band : INFINITY;
}

/* Insert a candidate into query qi's list c (n entries, capacity hardy_knn_cand_cap); returns
 * the direct distance evaluations a compaction made. */
int64_t hardy_knn_cand_add(const hardy_knn_kargs_t *a, int64_t qi, hardy_knn_cand_t *c, int *n,
                           float band, hardy_knn_cand_t item);
/* Offer index row pos (global id) with expanded distance v to query qi's list: kept when v is
 * within the current limit *lim and the row is not the query itself; *lim is updated. Returns
 * the direct distance evaluations a compaction made. The one way both kernels feed lists. */
static inline int64_t hardy_knn_cand_offer(const hardy_knn_kargs_t *a, int64_t qi,
                                           hardy_knn_cand_t *c, int *n, float band, float *lim,
                                           float v, int64_t id, int64_t pos) {
  if (v > *lim || id == a->q_id[qi]) return 0;
  hardy_knn_cand_t item = {v > 0.0f ? v : 0.0f, -1.0f, id, pos};
  int64_t n_direct = hardy_knn_cand_add(a, qi, c, n, band, item);
  *lim = hardy_knn_limit(a, c, *n, band);
  return n_direct;
}
/* Direct distances for the list's candidates, then its K best into a->lists[qi]; returns the
 * direct distance evaluations. */
int64_t hardy_knn_cand_finish(const hardy_knn_kargs_t *a, int64_t qi, hardy_knn_cand_t *c, int n);

/* Bytes rounded up to a whole number of 64-byte cache lines (workspace part sizes). */
static inline size_t hardy_knn_align64(size_t bytes) { return (bytes + 63) / 64 * 64; }

/* Squared norm of a [d] row (fixed summation order). */
float hardy_knn_sqnorm(const float *a, int d);
/* The relative rounding-error band of the expanded distance at dimension d. */
float hardy_knn_filter_margin(int d);

/* ---- the blas path (knn_blas.c) ---- */

/* Per-thread workspace parts of a blas search with query sub-blocks of up to cap.qb rows over
 * index blocks of cap.xb rows: the distance tile, the candidate lists, and all with counts. */
size_t hardy_knn_blas_tile_bytes(hardy_knn_tile_t cap);
size_t hardy_knn_blas_cand_bytes(hardy_knn_tile_t cap, int k);
size_t hardy_knn_blas_bytes(hardy_knn_tile_t cap, int k);
/* The search with `threads` OpenMP threads, each on `stride` bytes of `base`: equal query
 * sub-blocks, each searched by one thread with single-threaded sgemm. Returns direct distance
 * evaluations. */
int64_t hardy_knn_blas_search(const hardy_knn_kargs_t *a, int threads, hardy_knn_tile_t cap,
                              size_t stride, char *base);

/* ---- the fused path (knn_fused.c) ---- */

/* The best fused kernel this CPU runs (HARDY_KNN_KERNEL_BLAS: none). */
hardy_knn_kernel_t hardy_knn_fused_best(void);
/* Non-zero when this CPU runs the fused kernel `kernel`. */
int hardy_knn_fused_supported(hardy_knn_kernel_t kernel);
/* Workspace of a fused search of chunks of up to chunk_rows queries over index blocks of up to
 * xb rows: packed query panels, a packed index block, candidate lists. Shared by the threads. */
size_t hardy_knn_fused_bytes(hardy_knn_kernel_t kernel, int64_t chunk_rows, int xb, int d, int k);
/* The search with `threads` OpenMP threads on that workspace (64-byte aligned). Returns direct
 * distance evaluations (-1 if `kernel` is not a fused kernel). */
int64_t hardy_knn_fused_search(const hardy_knn_kargs_t *a, hardy_knn_kernel_t kernel, int threads,
                               int64_t chunk_rows, int xb, void *workspace);

/* ---- workspace and local top-K (knn_local.c) ---- */

/* The workspace of searches of up to max_query queries over n_index rows, sized to the
 * problem (a small search does not reserve a full tile).
 *   blas: per thread a distance tile [rows, xb], the candidate lists of a sub-block and their
 *     counts, each part 64-byte aligned (`stride` bytes per thread);
 *   fused: one shared block (knn_fused.c) for chunks of `rows` x threads queries. */
typedef struct {
  char *base;
  hardy_knn_kernel_t kernel;
  hardy_knn_tile_t cap;    /* rows: largest query sub-block per thread; xb: the index block */
  size_t stride; /* blas: bytes per thread */
  size_t bytes;  /* all threads */
  int threads;
  int64_t chunk; /* fused: queries per chunk (all threads) */
} hardy_knn_ws_t;

/* The index side of a search: rows, ids and norms, prepared once. */
typedef struct {
  const float *x;       /* [n_index, d] */
  const int64_t *x_id;  /* [n_index] */
  const float *x_norm;  /* [n_index] */
  float x_norm_max;
  int64_t n_index;
  int d, k;
} hardy_knn_side_t;

/* Plan the workspace of searches of up to max_query queries over n_index rows of dimension d
 * with `threads` threads, on the configured kernel; allocate it (64-byte aligned, huge pages
 * for large ones; free with free(w->base)). */
hardy_knn_ws_t hardy_knn_ws_plan(int64_t max_query, int64_t n_index, int d, int k, int threads);
int hardy_knn_ws_alloc(hardy_knn_ws_t *w);
/* Norms of rows [n, d] into norm[n] with `threads` threads; returns the largest. */
float hardy_knn_row_norms(const float *rows, int64_t n, int d, int threads, float *norm);
/* The kernel on a workspace planned for at least n_query queries over this index: q_norm
 * [n_query] is filled here; progress (may be NULL) is called from thread 0 while it runs. */
int64_t hardy_knn_local_ws(const hardy_knn_side_t *ix, const float *q, const int64_t *q_id,
                           int64_t n_query, float *q_norm, const hardy_knn_ws_t *w,
                           hardy_topk_pair_t *lists, void (*progress)(void *), void *ctx);

#endif
