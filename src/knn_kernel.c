/* The squared-L2 top-K search kernel and its distributed driver (knn.h, "plain squared-L2
 * layer"). Both kernel paths compute the expanded distance |q|^2 + |x|^2 - 2 q.x block by block
 * and filter it against each query's current K-th value right away; no distance matrix
 * outlives its block:
 *   fused (knn_fused.c, x86-64 with AVX-512F or AVX2): register tiles of 12 x 32 (AVX-512)
 *     or 6 x 16 (AVX2) over packed operands, compared in registers; nothing but hits leaves
 *     the registers;
 *   blas (here, any machine): sgemm (alpha = -2) into a query sub-block x index block tile,
 *     then one vector pass over the tile.
 * Survivors of the filter get their distance recomputed directly (fixed-order double sum of
 * squared differences), which is what the lists hold: the expansion's rounding never decides
 * an order, so both paths give identical results. */
#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "hardy/common.h"
#include "hardy/knn.h"
#include "hardy/log.h"
#include "knn_internal.h"

/* Tile sizes: per thread, a query sub-block of up to QB rows against index blocks of up to XB
 * rows. The sgemm path re-packs both operands on every call (cost ~ 1/QB + 1/XB of the flops)
 * while its tile costs only 8 bytes of traffic per 2d flops, so large tiles win even when they
 * spill from L2; the fused path packs a chunk of QB rows per thread once and each index block
 * once per chunk. HARDY_KNN_TILE=QBxXB overrides them at run time (docs/KNN.md). */
enum { LANES = 16, SCAN = 64, QB_MAX = 16384, XB_MAX = 65536 };
#define PACK_BYTES ((int64_t)64 << 20)
/* blas, fused-avx512, fused-avx2 */
static const int DEFAULT_QB[3] = {2048, 4096, 4096}, DEFAULT_XB[3] = {4096, 4096, 4096};
static const char *const KERNEL_NAME[3] = {"blas", "fused-avx512", "fused-avx2"};
typedef hardy_knn_tile_t tile_t;
typedef hardy_knn_cand_t cand_t;
typedef hardy_knn_kargs_t kernel_args_t;

/* Parses "QBxXB" within limits; 0 when invalid. */
static int parse_tile(const char *text, tile_t *t) {
  long qb = 0, xb = 0;
  char tail = 0;
  if (sscanf(text, "%ldx%ld%c", &qb, &xb, &tail) != 2 || qb < 16 || qb > QB_MAX || xb < 64 ||
      xb > XB_MAX)
    return 0;
  t->qb = (int)qb, t->xb = (int)xb;
  return 1;
}

/* Read once from the environment (a bad value is reported and ignored). Called from the
 * thread that runs the search, before any parallel region. */
static struct {
  int done;
  tile_t tile;
  hardy_knn_kernel_t kernel;
} knn_config;

static void config_once(void) {
  if (knn_config.done) return;
  hardy_knn_kernel_t best = hardy_knn_fused_best(), kernel = best;
  const char *kind = getenv("HARDY_KNN_KERNEL");
  if (kind && *kind && strcmp(kind, "auto") != 0 && strcmp(kind, "fused") != 0) {
    int found = 0;
    for (int i = 0; i < 3; i++)
      if (!strcmp(kind, KERNEL_NAME[i])) {
        found = 1;
        if (i == HARDY_KNN_KERNEL_BLAS || hardy_knn_fused_supported((hardy_knn_kernel_t)i))
          kernel = (hardy_knn_kernel_t)i;
        else
          hardy_log_warn("HARDY_KNN_KERNEL=%s: this CPU cannot run it; using %s", kind,
                         KERNEL_NAME[best]);
      }
    if (!found)
      hardy_log_warn("HARDY_KNN_KERNEL='%s' ignored: expected auto, fused, fused-avx512, "
                     "fused-avx2 or blas", kind);
  }
  tile_t t = {DEFAULT_QB[kernel], DEFAULT_XB[kernel]};
  const char *env = getenv("HARDY_KNN_TILE");
  if (env && *env && !parse_tile(env, &t))
    hardy_log_warn("HARDY_KNN_TILE='%s' ignored: expected QBxXB with 16 <= QB <= %d and "
                   "64 <= XB <= %d (e.g. 2048x4096)", env, QB_MAX, XB_MAX);
  knn_config.tile = t, knn_config.kernel = kernel, knn_config.done = 1;
}

hardy_knn_tile_t hardy_knn_tile_config(void) {
  config_once();
  return knn_config.tile;
}

hardy_knn_kernel_t hardy_knn_kernel_config(void) {
  config_once();
  return knn_config.kernel;
}

const char *hardy_knn_tile_string(void) {
  static char text[32];
  tile_t t = hardy_knn_tile_config();
  snprintf(text, sizeof text, "%dx%d", t.qb, t.xb);
  return text;
}

const char *hardy_knn_kernel_name(void) { return KERNEL_NAME[hardy_knn_kernel_config()]; }

/* sum (a - b)^2 in double with 32 independent partial sums (four vector accumulators) in a
 * fixed order: exact to ~1e-16 whatever the caller's blocking, so rounding it to float32
 * decides the order as the double reference does. Compiled for AVX-512, AVX2 and baseline
 * x86-64, picked at load time. */
__attribute__((target_clones("avx512f", "avx2", "default")))
static double l2sq_direct(const float *a, const float *b, int d) {
  enum { P = 32 };
  double acc[P] = {0};
  int i = 0;
  for (; i + P <= d; i += P)
    for (int l = 0; l < P; l++) {
      double t = (double)a[i + l] - (double)b[i + l];
      acc[l] += t * t;
    }
  double s = 0.0;
  for (; i < d; i++) {
    double t = (double)a[i] - b[i];
    s += t * t;
  }
  for (int l = 0; l < P; l++) s += acc[l];
  return s;
}

static float sqnorm(const float *a, int d) {
  float acc[LANES] = {0};
  int i = 0;
  for (; i + LANES <= d; i += LANES)
    for (int l = 0; l < LANES; l++) acc[l] += a[i + l] * a[i + l];
  double s = 0.0;
  for (; i < d; i++) s += (double)a[i] * a[i];
  for (int l = 0; l < LANES; l++) s += acc[l];
  return (float)s;
}

/* Bound on |GEMM-expanded distance - exact distance| relative to |q|^2 + |x|^2, doubled (the
 * band argument below needs 2e): e <= gamma_{d+2} (|q|^2 + |x|^2 + 2|q||x|) <= 2 gamma
 * (|q|^2 + |x|^2); plus slack for the float32 rounding of the final order. */
static float filter_margin(int d) {
  double u = ldexp(1.0, -24), g = (d + 4) * u / (1.0 - (d + 4) * u);
  return (float)(4.0 * g * 1.01 + 4.0 * u);
}

static int by_approx(const cand_t *a, const cand_t *b) {
  return a->approx < b->approx || (a->approx == b->approx && a->id < b->id);
}
static int by_exact(const cand_t *a, const cand_t *b) {
  return a->exact < b->exact || (a->exact == b->exact && a->id < b->id);
}
static void sort_cands(cand_t *c, int n, int (*less)(const cand_t *, const cand_t *)) {
  for (int i = 1; i < n; i++) {
    cand_t t = c[i];
    int j = i;
    for (; j > 0 && less(&t, &c[j - 1]); j--) c[j] = c[j - 1];
    c[j] = t;
  }
}

/* Direct distances for the candidates that lack one, then order by (exact, id). */
static int64_t refine(const kernel_args_t *a, int64_t qi, cand_t *c, int n) {
  int64_t n_direct = 0;
  for (int i = 0; i < n; i++)
    if (c[i].exact < 0.0f) {
      c[i].exact = (float)l2sq_direct(a->q + qi * a->d, a->x + c[i].pos * a->d, a->d);
      n_direct++;
    }
  sort_cands(c, n, by_exact);
  return n_direct;
}

/* Why the band keeps the answer: a member y of the true top-K has exact(y) <= exact of some
 * item among the K smallest approx values, so approx(y) <= exact(y) + e <= approx_K + 2e. The
 * K-th smallest approx only decreases, so dropping items above approx_K + 2e is safe; when
 * many items crowd the band (duplicates), they are refined and only the K best kept. This
 * holds for any summation order of q.x, so both kernel paths use it. */
int64_t hardy_knn_cand_add(const kernel_args_t *a, int64_t qi, cand_t *c, int *n, float band,
                           cand_t item) {
  int k = a->k, at = *n;
  for (; at > 0 && by_approx(&item, &c[at - 1]); at--) c[at] = c[at - 1];
  c[at] = item;
  (*n)++;
  if (*n > k)
    while (*n > k && c[*n - 1].approx > c[k - 1].approx + band) (*n)--;
  if (*n < hardy_knn_cand_cap(k)) return 0;
  int64_t n_direct = refine(a, qi, c, *n);
  *n = k;
  sort_cands(c, *n, by_approx);
  return n_direct;
}

int64_t hardy_knn_cand_finish(const kernel_args_t *a, int64_t qi, cand_t *c, int n) {
  int64_t n_direct = refine(a, qi, c, n);
  hardy_topk_pair_t *list = a->lists + qi * a->k;
  int kept = HARDY_MIN(n, a->k);
  for (int j = 0; j < kept; j++) list[j].dist = c[j].exact, list[j].id = c[j].id;
  hardy_topk_clear(list + kept, a->k - kept);
  return n_direct;
}

/* ---- the blas path -------------------------------------------------------------------- */

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

/* ---- workspace and dispatch ------------------------------------------------------------ */

/* Index blocks of equal size, none above the configured width (a short last block would run
 * at a poor shape). */
static int index_block(int64_t n_index, int xb_max) {
  int64_t n_blk = HARDY_MAX((int64_t)1, (n_index + xb_max - 1) / xb_max);
  return (int)HARDY_MAX((int64_t)1, (n_index + n_blk - 1) / n_blk);
}

/* The workspace of searches of up to max_query queries over n_index rows, sized to the
 * problem (a small search does not reserve a full tile).
 *   blas: per thread a distance tile [rows, xb], the candidate lists of a sub-block and their
 *     counts, each part 64-byte aligned (`stride` bytes per thread);
 *   fused: one shared block (knn_fused.c) for chunks of `rows` x threads queries. */
typedef struct {
  char *base;
  hardy_knn_kernel_t kernel;
  tile_t cap;    /* rows: largest query sub-block per thread; xb: the index block */
  size_t stride; /* blas: bytes per thread */
  size_t bytes;  /* all threads */
  int threads;
  int64_t chunk; /* fused: queries per chunk (all threads) */
} workspace_t;

static size_t ws_tile_bytes(tile_t t) {
  return hardy_knn_align64(sizeof(float) * (size_t)t.qb * (size_t)t.xb);
}
static size_t ws_cand_bytes(tile_t t, int k) {
  return hardy_knn_align64(sizeof(cand_t) * (size_t)t.qb * (size_t)hardy_knn_cand_cap(k));
}

static workspace_t workspace_plan(int64_t max_query, int64_t n_index, int d, int k, int threads) {
  tile_t cfg = hardy_knn_tile_config();
  hardy_knn_kernel_t kernel = hardy_knn_kernel_config();
  if (kernel != HARDY_KNN_KERNEL_BLAS) {
    /* the fused kernel's packed copies grow with d: at most PACK_BYTES per thread and block */
    int rows = (int)HARDY_MIN((int64_t)QB_MAX, HARDY_MAX((int64_t)64, PACK_BYTES / (4 * (int64_t)d)));
    cfg.qb = HARDY_MIN(cfg.qb, rows), cfg.xb = HARDY_MIN(cfg.xb, rows);
  }
  workspace_t w = {NULL, kernel, {0, index_block(n_index, cfg.xb)}, 0, 0, threads, 0};
  w.cap.qb = (int)HARDY_MAX((int64_t)1, HARDY_MIN((int64_t)cfg.qb, max_query));
  if (w.kernel != HARDY_KNN_KERNEL_BLAS) {
    w.chunk = HARDY_MIN((int64_t)w.cap.qb * threads, HARDY_MAX(max_query, (int64_t)1));
    w.bytes = hardy_knn_fused_bytes(w.kernel, w.chunk, w.cap.xb, d, k);
  } else {
    w.stride = ws_tile_bytes(w.cap) + ws_cand_bytes(w.cap, k) +
               hardy_knn_align64(sizeof(int) * (size_t)w.cap.qb);
    w.bytes = w.stride * (size_t)threads;
  }
  return w;
}

/* Tiles of many MiB are written and scanned once per block: on 4 KiB pages that is a TLB miss
 * every 1,024 floats and a page fault per 4 KiB on first touch. Large workspaces are 2 MiB
 * aligned and marked for transparent huge pages (a hint; ignored where THP is off). */
static int workspace_alloc(workspace_t *w) {
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
  return workspace_plan(max_query, n_index, d, k, threads).bytes;
}

/* Norms of rows [n, d] into norm[n] with `threads` threads; returns the largest. */
static float row_norms(const float *rows, int64_t n, int d, int threads, float *norm) {
  float mx = 0.0f;
#pragma omp parallel for num_threads(threads) schedule(static) reduction(max : mx)
  for (int64_t i = 0; i < n; i++) {
    norm[i] = sqnorm(rows + i * d, d);
    mx = HARDY_MAX(mx, norm[i]);
  }
  return mx;
}

/* The blas path on its workspace: equal query sub-blocks, a multiple of the thread count, none
 * above the workspace's rows, each searched by one thread with single-threaded sgemm. */
static int64_t blas_search(const kernel_args_t *a, const workspace_t *w) {
  int threads = w->threads, k = a->k;
  int64_t per = (int64_t)threads * w->cap.qb;
  int64_t n_sub = threads * ((a->n_query + per - 1) / per);
  int64_t sub = n_sub > 0 ? (a->n_query + n_sub - 1) / n_sub : 0;
  int64_t n_cand = 0;
#pragma omp parallel num_threads(threads) reduction(+ : n_cand)
  {
    char *ws = w->base + w->stride * (size_t)omp_get_thread_num();
    float *tile = (float *)ws;
    cand_t *cands = (cand_t *)(ws + ws_tile_bytes(w->cap));
    int *counts = (int *)(ws + ws_tile_bytes(w->cap) + ws_cand_bytes(w->cap, k));
#pragma omp for schedule(static)
    for (int64_t s = 0; s < n_sub; s++) {
      int64_t q0 = s * sub, q1 = HARDY_MIN(q0 + sub, a->n_query);
      if (q0 < q1) n_cand += search_subblock(a, w->cap.xb, q0, q1, tile, cands, counts);
    }
  }
  return n_cand;
}

/* The index side of a search: rows, ids and norms, prepared once. */
typedef struct {
  const float *x;       /* [n_index, d] */
  const int64_t *x_id;  /* [n_index] */
  const float *x_norm;  /* [n_index] */
  float x_norm_max;
  int64_t n_index;
  int d, k;
} index_side_t;

/* The kernel on a workspace planned for at least n_query queries over this index: q_norm
 * [n_query] is filled here; progress (may be NULL) is called from thread 0 while it runs. */
static int64_t topk_local_ws(const index_side_t *ix, const float *q, const int64_t *q_id,
                             int64_t n_query, float *q_norm, const workspace_t *w,
                             hardy_topk_pair_t *lists, void (*progress)(void *), void *ctx) {
  row_norms(q, n_query, ix->d, w->threads, q_norm);
  kernel_args_t a = {q, ix->x, q_norm, ix->x_norm, q_id, ix->x_id, n_query, ix->n_index, ix->d,
                     ix->k, filter_margin(ix->d), ix->x_norm_max, lists, progress, ctx};
  if (w->kernel != HARDY_KNN_KERNEL_BLAS)
    return hardy_knn_fused_search(&a, w->kernel, w->threads, w->chunk, w->cap.xb, w->base);
  return blas_search(&a, w);
}

int64_t hardy_knn_topk_local(const float *q, const int64_t *q_id, int64_t n_query, const float *x,
                             const int64_t *x_id, int64_t n_index, int d, int k, int threads,
                             hardy_topk_pair_t *lists) {
  if (threads <= 0) threads = omp_get_max_threads();
  float *q_norm = hardy_malloc(sizeof(float) * (size_t)(n_query + 1), "knn query norms");
  float *x_norm = hardy_malloc(sizeof(float) * (size_t)(n_index + 1), "knn index norms");
  workspace_t w = workspace_plan(n_query, n_index, d, k, threads);
  int64_t n_cand = -1;
  if (q_norm && x_norm && workspace_alloc(&w) == HARDY_OK) {
    index_side_t ix = {x, x_id, x_norm, row_norms(x, n_index, d, threads, x_norm), n_index, d, k};
    n_cand = topk_local_ws(&ix, q, q_id, n_query, q_norm, &w, lists, NULL, NULL);
  }
  free(q_norm), free(x_norm), free(w.base);
  return n_cand;
}

/* ---- distributed driver --------------------------------------------------------------- */

void hardy_knn_opts_default(hardy_knn_opts_t *opt, int k) {
  opt->k = k;
  opt->query_block = 4096;
  opt->threads = 0;
}

/* Buffers of the rounds. With several ranks the rounds are pipelined: while round r's block
 * is searched, round r+1's block is gathered and round r-1's lists are merged, each by a
 * non-blocking collective that the kernel's progress hook drives; so two of each. */
typedef struct {
  float *rows[2];              /* [cap, d] gathered queries */
  int64_t *ids[2];             /* [cap] */
  hardy_topk_pair_t *lists[2]; /* [cap, k] */
  int *count[2], *displ[2];    /* [nranks] the block layout of the round in a slot */
  int n_block[2];              /* the block size of the round in a slot */
  int64_t *n_all;              /* [nranks] every rank's query count */
  float *q_norm, *x_norm;      /* [cap], [n_index] */
  workspace_t ws;              /* kernel workspace */
  MPI_Request req[3];          /* gather rows, gather ids, merge */
} round_buf_t;

static void round_buf_free(round_buf_t *b) {
  for (int s = 0; s < 2; s++) free(b->rows[s]), free(b->ids[s]), free(b->lists[s]);
  for (int s = 0; s < 2; s++) free(b->count[s]), free(b->displ[s]);
  free(b->n_all);
  free(b->q_norm), free(b->x_norm), free(b->ws.base);
}

static int round_buf_alloc(round_buf_t *b, int64_t cap, int d, int k, int nranks) {
  int ok = 1;
  for (int s = 0; s < 2; s++) {
    ok &= (b->rows[s] = hardy_aligned_alloc(sizeof(float) * (size_t)(cap * d + 1), "knn query block")) != NULL;
    ok &= (b->ids[s] = hardy_malloc(sizeof(int64_t) * (size_t)(cap + 1), "knn query ids")) != NULL;
    ok &= (b->lists[s] = hardy_malloc(sizeof(hardy_topk_pair_t) * (size_t)(cap * k + 1), "knn lists")) != NULL;
    ok &= (b->count[s] = hardy_calloc((size_t)nranks, sizeof(int), "knn counts")) != NULL;
    ok &= (b->displ[s] = hardy_calloc((size_t)nranks, sizeof(int), "knn displs")) != NULL;
  }
  ok &= (b->n_all = hardy_calloc((size_t)nranks, sizeof(int64_t), "knn query counts")) != NULL;
  return ok ? HARDY_OK : HARDY_ERR_RUNTIME;
}

/* Queries rank s (n_s in all) contributes to round r: at most per_rank. */
static int round_count(int64_t n_s, int64_t per_rank, int64_t r) {
  return (int)HARDY_MAX((int64_t)0, HARDY_MIN(per_rank, n_s - r * per_rank));
}

/* Round r's block layout over the ranks; returns the block's size. */
static int round_layout(const int64_t *n_all, int nranks, int64_t per_rank, int64_t r, int *count,
                        int *displ) {
  int n_block = 0;
  for (int s = 0; s < nranks; s++) {
    count[s] = round_count(n_all[s], per_rank, r);
    displ[s] = n_block;
    n_block += count[s];
  }
  return n_block;
}

/* The kernel's progress hook: lets the pending gather and merge advance. */
static void progress_requests(void *ctx) {
  int done;
  MPI_Testall(3, ((round_buf_t *)ctx)->req, &done, MPI_STATUSES_IGNORE);
}

typedef struct {
  const float *q;
  const int64_t *q_id;
  int64_t n_query, per_rank;
  int d, k, rank, nranks;
  MPI_Datatype row_type;
  MPI_Comm comm;
} round_plan_t;

static int start_gather(const round_plan_t *p, round_buf_t *b, int64_t r, int slot) {
  b->n_block[slot] = round_layout(b->n_all, p->nranks, p->per_rank, r, b->count[slot], b->displ[slot]);
  int64_t q0 = HARDY_MIN(r * p->per_rank, p->n_query);
  int mine = b->count[slot][p->rank];
  HARDY_MPI_CHECK(MPI_Iallgatherv(p->q + q0 * p->d, mine, p->row_type, b->rows[slot],
                                  b->count[slot], b->displ[slot], p->row_type, p->comm, &b->req[0]));
  HARDY_MPI_CHECK(MPI_Iallgatherv(p->q_id + q0, mine, MPI_INT64_T, b->ids[slot], b->count[slot],
                                  b->displ[slot], MPI_INT64_T, p->comm, &b->req[1]));
  return HARDY_OK;
}

/* Waits for round r's merge (in `slot`) and copies this rank's lists to out. The slot's
 * layout may already hold a later round, so this rank's part is recounted. */
static int finish_round(const round_plan_t *p, round_buf_t *b, int64_t r, int slot,
                        hardy_topk_pair_t *out) {
  HARDY_MPI_CHECK(MPI_Wait(&b->req[2], MPI_STATUS_IGNORE));
  int64_t offset = 0;
  for (int s = 0; s < p->rank; s++) offset += round_count(b->n_all[s], p->per_rank, r);
  int64_t q0 = HARDY_MIN(r * p->per_rank, p->n_query);
  memcpy(out + q0 * p->k, b->lists[slot] + offset * p->k,
         sizeof(hardy_topk_pair_t) * (size_t)round_count(p->n_query, p->per_rank, r) *
             (size_t)p->k);
  return HARDY_OK;
}

/* The pipelined rounds (several ranks). Times: exposed waits only. */
static int search_rounds(const round_plan_t *p, const index_side_t *ix, round_buf_t *b,
                         const hardy_topk_mpi_t *op, int64_t n_rounds, hardy_topk_pair_t *out,
                         hardy_knn_stats_t *st) {
  b->req[0] = b->req[1] = b->req[2] = MPI_REQUEST_NULL;
  double t0 = hardy_now();
  HARDY_CHECK(start_gather(p, b, 0, 0));
  HARDY_MPI_CHECK(MPI_Waitall(2, b->req, MPI_STATUSES_IGNORE));
  st->t_gather += hardy_now() - t0;
  hardy_progress_t prog;
  hardy_progress_begin(&prog, "knn", n_rounds, "query blocks", 10.0);
  for (int64_t r = 0; r < n_rounds; r++) {
    hardy_progress_update(&prog, r, -1, NULL);
    int slot = (int)(r & 1), n_block = b->n_block[slot];
    double t1 = hardy_now();
    if (r + 1 < n_rounds) HARDY_CHECK(start_gather(p, b, r + 1, slot ^ 1));
    double t2 = hardy_now();
    st->n_candidates += topk_local_ws(ix, b->rows[slot], b->ids[slot], n_block, b->q_norm, &b->ws,
                                      b->lists[slot], progress_requests, b);
    double t3 = hardy_now();
    if (r > 0) HARDY_CHECK(finish_round(p, b, r - 1, slot ^ 1, out));
    HARDY_CHECK(hardy_topk_iallreduce(op, b->lists[slot], n_block, p->comm, &b->req[2]));
    double t4 = hardy_now();
    if (r + 1 < n_rounds) HARDY_MPI_CHECK(MPI_Waitall(2, b->req, MPI_STATUSES_IGNORE));
    double t5 = hardy_now();
    st->t_gather += (t2 - t1) + (t5 - t4), st->t_kernel += t3 - t2, st->t_allreduce += t4 - t3;
  }
  double t6 = hardy_now();
  if (n_rounds > 0) HARDY_CHECK(finish_round(p, b, n_rounds - 1, (int)((n_rounds - 1) & 1), out));
  st->t_allreduce += hardy_now() - t6;
  return HARDY_OK;
}

int hardy_knn_search_l2(const float *q, const int64_t *q_id, int64_t n_query, const float *x,
                        const int64_t *x_id, int64_t n_index, int d, const hardy_knn_opts_t *opt,
                        hardy_topk_pair_t *out, hardy_knn_stats_t *stats, MPI_Comm comm) {
  double t_start = hardy_now();
  int rank = 0, nranks = 1, k = opt->k, status = HARDY_OK;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &nranks);
  /* Agree on the shape: max of (n_query, d, -d, k, -k). */
  int64_t shape[5] = {n_query, d, -(int64_t)d, k, -(int64_t)k}, g[5];
  HARDY_MPI_CHECK(MPI_Allreduce(shape, g, 5, MPI_INT64_T, MPI_MAX, comm));
  if (g[1] != -g[2] || g[3] != -g[4])
    status = hardy_fail(HARDY_ERR_INPUT, "knn search: ranks disagree on the dimension (%lld..%lld) "
                        "or k (%lld..%lld)", (long long)-g[2], (long long)g[1], (long long)-g[4],
                        (long long)g[3]);
  else if (k < 1 || d < 1)
    status = hardy_fail(HARDY_ERR_INPUT, "knn search: k = %d and dimension %d must be >= 1", k, d);
  /* Per-rank block: the global block split over ranks, rounds balanced to equal sizes. One
   * rank searches its queries in place, in one round. */
  int64_t per_rank = nranks == 1 ? HARDY_MAX((int64_t)1, g[0])
                                 : HARDY_MAX((int64_t)1, opt->query_block / nranks);
  int64_t n_rounds = (g[0] + per_rank - 1) / per_rank;
  if (n_rounds > 0) per_rank = (g[0] + n_rounds - 1) / n_rounds;
  if (nranks > 1 && per_rank * nranks > INT_MAX / 2)
    status = hardy_fail(HARDY_ERR_INPUT, "knn search: query block %lld too large",
                        (long long)opt->query_block);
  round_buf_t b = {0};
  int64_t cap = per_rank * nranks;
  if (nranks > 1 && status == HARDY_OK) status = round_buf_alloc(&b, cap, d, k, nranks);
  int threads = opt->threads > 0 ? opt->threads : omp_get_max_threads();
  b.q_norm = hardy_malloc(sizeof(float) * (size_t)(cap + 1), "knn query norms");
  b.x_norm = hardy_malloc(sizeof(float) * (size_t)(n_index + 1), "knn index norms");
  b.ws = workspace_plan(cap, n_index, d, k, threads);
  if (!b.q_norm || !b.x_norm || workspace_alloc(&b.ws) < 0) status = HARDY_ERR_RUNTIME;
  hardy_topk_mpi_t op = {0};
  if (status == HARDY_OK) status = hardy_topk_mpi_create(&op, k);
  MPI_Datatype row_type = MPI_DATATYPE_NULL;
  if (status == HARDY_OK && MPI_Type_contiguous(d, MPI_FLOAT, &row_type) == MPI_SUCCESS)
    MPI_Type_commit(&row_type);
  status = hardy_agree(status, comm);
  hardy_knn_stats_t st = {0};
  if (status == HARDY_OK) {
    index_side_t ix = {x, x_id, b.x_norm, row_norms(x, n_index, d, threads, b.x_norm), n_index, d, k};
    if (nranks == 1) {
      /* one rank: the block is this rank's own rows; search them in place, no copies */
      double t1 = hardy_now();
      st.n_candidates = topk_local_ws(&ix, q, q_id, n_query, b.q_norm, &b.ws, out, NULL, NULL);
      st.t_kernel = hardy_now() - t1;
    } else {
      round_plan_t plan = {q, q_id, n_query, per_rank, d, k, rank, nranks, row_type, comm};
      if (MPI_Allgather(&n_query, 1, MPI_INT64_T, b.n_all, 1, MPI_INT64_T, comm) != MPI_SUCCESS)
        status = hardy_fail(HARDY_ERR_RUNTIME, "knn search: MPI_Allgather of query counts failed");
      else
        status = search_rounds(&plan, &ix, &b, &op, n_rounds, out, &st);
    }
  }
  if (row_type != MPI_DATATYPE_NULL) MPI_Type_free(&row_type);
  hardy_topk_mpi_free(&op);
  round_buf_free(&b);
  if (stats) {
    stats->t_gather += st.t_gather, stats->t_kernel += st.t_kernel;
    stats->t_allreduce += st.t_allreduce, stats->n_candidates += st.n_candidates;
    stats->n_rounds += n_rounds, stats->t_total += hardy_now() - t_start;
  }
  return status;
}
