/* The squared-L2 top-K search kernel and its distributed driver (knn.h, "plain squared-L2
 * layer"). The kernel multiplies a query sub-block by an index block with sgemm (alpha = -2),
 * adds the norms and filters the tile against each query's current K-th distance right after
 * each sgemm; no distance matrix outlives its tile. Survivors of the filter get their distance
 * recomputed directly (fixed-order double sum of squared differences), which is what the lists
 * hold: the GEMM expansion's rounding never decides an order. */
#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "hardy/common.h"
#include "hardy/knn.h"

/* Tile sizes: a query sub-block of up to QB rows against XB index rows. sgemm re-packs both
 * operands on every call (cost ~ 1/QB + 1/XB of the flops), while the tile itself costs only
 * 8 bytes of traffic per 2d flops, so large tiles win even when they spill from L2. On an idle
 * machine 1024 x 2048 beat 512 x 1024 by 8-10% (kernel 0.91-0.94 of sgemm peak instead of
 * 0.83-0.87; docs/KNN.md). XB <= 64 * CHUNK. */
#ifndef HARDY_KNN_QB
#define HARDY_KNN_QB 1024
#endif
#ifndef HARDY_KNN_XB
#define HARDY_KNN_XB 2048
#endif
enum { LANES = 16, CHUNK = 64 };

/* sum (a - b)^2 in double with 8 independent partial sums in a fixed order: exact to ~1e-16
 * whatever the caller's blocking, so rounding it to float32 decides the order as the double
 * reference does. Compiled for AVX-512, AVX2 and baseline x86-64, picked at load time. */
__attribute__((target_clones("avx512f", "avx2", "default")))
static double l2sq_direct(const float *a, const float *b, int d) {
  double acc[8] = {0};
  int i = 0;
  for (; i + 8 <= d; i += 8)
    for (int l = 0; l < 8; l++) {
      double t = (double)a[i + l] - (double)b[i + l];
      acc[l] += t * t;
    }
  double s = 0.0;
  for (; i < d; i++) {
    double t = (double)a[i] - b[i];
    s += t * t;
  }
  for (int l = 0; l < 8; l++) s += acc[l];
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

/* A candidate of one query: its GEMM-expanded distance (approx), its direct distance once
 * computed (exact, < 0 before), its global id and its row in the index. */
typedef struct {
  float approx, exact;
  int64_t id, pos;
} cand_t;

/* Candidates per query kept between compactions. */
static int cand_cap(int k) { return 2 * k + 8; }

typedef struct {
  const float *q, *x, *q_norm, *x_norm;
  const int64_t *q_id, *x_id;
  int64_t n_query, n_index;
  int d, k;
  float margin, x_norm_max;
  hardy_topk_pair_t *lists;
} kernel_args_t;

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
 * many items crowd the band (duplicates), they are refined and only the K best kept. */
static int64_t cand_add(const kernel_args_t *a, int64_t qi, cand_t *c, int *n, float band, cand_t item) {
  int k = a->k, at = *n;
  for (; at > 0 && by_approx(&item, &c[at - 1]); at--) c[at] = c[at - 1];
  c[at] = item;
  (*n)++;
  if (*n > k)
    while (*n > k && c[*n - 1].approx > c[k - 1].approx + band) (*n)--;
  if (*n < cand_cap(k)) return 0;
  int64_t n_direct = refine(a, qi, c, *n);
  *n = k;
  sort_cands(c, *n, by_approx);
  return n_direct;
}

/* Finish one tile row in place (row[j] += |q|^2 + |x_j|^2) and return a bit per CHUNK-wide
 * chunk holding a value <= lim. The one vector pass over the tile; built for AVX-512, AVX2 and
 * baseline x86-64 and picked at load time (the library itself is not built with -march). */
__attribute__((target_clones("avx512f", "avx2", "default")))
static uint64_t finish_row(float *row, float qn, const float *xn, int xb, float lim) {
  uint64_t hits = 0;
  for (int c0 = 0, bit = 0; c0 < xb; c0 += CHUNK, bit++) {
    int c1 = HARDY_MIN(c0 + CHUNK, xb), hit = 0;
    for (int j = c0; j < c1; j++) {
      float v = row[j] + qn + xn[j];
      row[j] = v;
      hit |= v <= lim;
    }
    if (hit) hits |= (uint64_t)1 << bit;
  }
  return hits;
}

/* One query sub-block [q0, q1) against every index block; tile [q1-q0, XB] and the candidate
 * lists [q1-q0, cand_cap(k)] are thread-private. */
static int64_t search_subblock(const kernel_args_t *a, int64_t q0, int64_t q1, float *tile,
                               cand_t *cands) {
  int64_t n_direct = 0;
  int k = a->k, d = a->d, cap = cand_cap(k), qb = (int)(q1 - q0);
  int n_cand[HARDY_KNN_QB] = {0};
  for (int64_t x0 = 0; x0 < a->n_index; x0 += HARDY_KNN_XB) {
    int xb = (int)HARDY_MIN((int64_t)HARDY_KNN_XB, a->n_index - x0);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, qb, xb, d, -2.0f, a->q + q0 * d, d,
                a->x + x0 * d, d, 0.0f, tile, xb);
    for (int i = 0; i < qb; i++) {
      int64_t qi = q0 + i;
      cand_t *c = cands + (size_t)i * cap;
      float band = a->margin * (a->q_norm[qi] + a->x_norm_max);
      float lim = n_cand[i] >= k ? c[k - 1].approx + band : INFINITY;
      float *row = tile + (size_t)i * xb;
      uint64_t hits = finish_row(row, a->q_norm[qi], a->x_norm + x0, xb, lim);
      for (int bit = 0; hits; bit++, hits >>= 1) {
        if (!(hits & 1)) continue;
        for (int j = bit * CHUNK; j < HARDY_MIN((bit + 1) * CHUNK, xb); j++) {
          if (row[j] > lim || a->x_id[x0 + j] == a->q_id[qi]) continue;
          cand_t item = {HARDY_MAX(row[j], 0.0f), -1.0f, a->x_id[x0 + j], x0 + j};
          n_direct += cand_add(a, qi, c, &n_cand[i], band, item);
          lim = n_cand[i] >= k ? c[k - 1].approx + band : INFINITY;
        }
      }
    }
  }
  for (int i = 0; i < qb; i++) {
    cand_t *c = cands + (size_t)i * cap;
    hardy_topk_pair_t *list = a->lists + (q0 + i) * k;
    n_direct += refine(a, q0 + i, c, n_cand[i]);
    int n = HARDY_MIN(n_cand[i], k);
    for (int j = 0; j < n; j++) list[j].dist = c[j].exact, list[j].id = c[j].id;
    hardy_topk_clear(list + n, k - n);
  }
  return n_direct;
}

/* Per-thread workspace: a distance tile and the candidate lists of a sub-block. */
static size_t workspace_bytes(int k) {
  return sizeof(float) * HARDY_KNN_QB * HARDY_KNN_XB + sizeof(cand_t) * HARDY_KNN_QB * (size_t)cand_cap(k);
}

static void *alloc_workspace(int threads, int k) {
  return hardy_aligned_alloc(workspace_bytes(k) * (size_t)threads, "knn distance tiles");
}

/* Norms of rows [n, d] into norm[n]; returns the largest. */
static float row_norms(const float *rows, int64_t n, int d, float *norm) {
  float mx = 0.0f;
  for (int64_t i = 0; i < n; i++) {
    norm[i] = sqnorm(rows + i * d, d);
    mx = HARDY_MAX(mx, norm[i]);
  }
  return mx;
}

/* The kernel on preallocated workspace: q_norm [n_query], workspace [threads] (see above). */
static int64_t topk_local_ws(const float *q, const int64_t *q_id, int64_t n_query, const float *x,
                             const int64_t *x_id, const float *x_norm, float x_norm_max,
                             int64_t n_index, int d, int k, int threads, float *q_norm,
                             char *workspace, hardy_topk_pair_t *lists) {
  row_norms(q, n_query, d, q_norm);
  kernel_args_t a = {q, x, q_norm, x_norm, q_id, x_id, n_query, n_index, d, k,
                     filter_margin(d), x_norm_max, lists};
  /* Equal sub-blocks, a multiple of the thread count, none above HARDY_KNN_QB rows. */
  int64_t per = (int64_t)threads * HARDY_KNN_QB;
  int64_t n_sub = threads * ((n_query + per - 1) / per);
  int64_t sub = n_sub > 0 ? (n_query + n_sub - 1) / n_sub : 0;
  int64_t n_cand = 0;
#pragma omp parallel num_threads(threads) reduction(+ : n_cand)
  {
    char *ws = workspace + workspace_bytes(k) * (size_t)omp_get_thread_num();
    float *tile = (float *)ws;
    cand_t *cands = (cand_t *)(ws + sizeof(float) * HARDY_KNN_QB * HARDY_KNN_XB);
#pragma omp for schedule(static)
    for (int64_t s = 0; s < n_sub; s++) {
      int64_t q0 = s * sub, q1 = HARDY_MIN(q0 + sub, n_query);
      if (q0 < q1) n_cand += search_subblock(&a, q0, q1, tile, cands);
    }
  }
  return n_cand;
}

int64_t hardy_knn_topk_local(const float *q, const int64_t *q_id, int64_t n_query, const float *x,
                             const int64_t *x_id, int64_t n_index, int d, int k, int threads,
                             hardy_topk_pair_t *lists) {
  if (threads <= 0) threads = omp_get_max_threads();
  float *q_norm = hardy_malloc(sizeof(float) * (size_t)(n_query + 1), "knn query norms");
  float *x_norm = hardy_malloc(sizeof(float) * (size_t)(n_index + 1), "knn index norms");
  char *tiles = alloc_workspace(threads, k);
  int64_t n_cand = -1;
  if (q_norm && x_norm && tiles) {
    float x_max = row_norms(x, n_index, d, x_norm);
    n_cand = topk_local_ws(q, q_id, n_query, x, x_id, x_norm, x_max, n_index, d, k, threads,
                           q_norm, tiles, lists);
  }
  free(q_norm), free(x_norm), free(tiles);
  return n_cand;
}

/* ---- distributed driver --------------------------------------------------------------- */

void hardy_knn_opts_default(hardy_knn_opts_t *opt, int k) {
  opt->k = k;
  opt->query_block = 4096;
  opt->threads = 0;
}

typedef struct {
  float *rows;              /* [n_block, d] gathered queries */
  int64_t *ids;             /* [n_block] */
  hardy_topk_pair_t *lists; /* [n_block, k] */
  int *count, *displ;       /* [nranks] */
  float *q_norm, *x_norm;   /* [n_block], [n_index] */
  char *tiles;              /* per-thread kernel workspace */
} round_buf_t;

static void round_buf_free(round_buf_t *b) {
  free(b->rows), free(b->ids), free(b->lists), free(b->count), free(b->displ);
  free(b->q_norm), free(b->x_norm), free(b->tiles);
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
  /* Per-rank block: the global block split over ranks, rounds balanced to equal sizes. */
  int64_t per_rank = HARDY_MAX((int64_t)1, opt->query_block / nranks);
  int64_t n_rounds = (g[0] + per_rank - 1) / per_rank;
  if (n_rounds > 0) per_rank = (g[0] + n_rounds - 1) / n_rounds;
  if (per_rank * nranks > INT_MAX / 2)
    status = hardy_fail(HARDY_ERR_INPUT, "knn search: query block %lld too large",
                        (long long)opt->query_block);
  round_buf_t b = {0};
  int64_t cap = per_rank * nranks;
  b.rows = hardy_aligned_alloc(sizeof(float) * (size_t)(cap * d + 1), "knn query block");
  b.ids = hardy_malloc(sizeof(int64_t) * (size_t)(cap + 1), "knn query ids");
  b.lists = hardy_malloc(sizeof(hardy_topk_pair_t) * (size_t)(cap * k + 1), "knn lists");
  b.count = hardy_calloc((size_t)nranks, sizeof(int), "knn counts");
  b.displ = hardy_calloc((size_t)nranks, sizeof(int), "knn displs");
  if (!b.rows || !b.ids || !b.lists || !b.count || !b.displ) status = HARDY_ERR_RUNTIME;
  int threads = opt->threads > 0 ? opt->threads : omp_get_max_threads();
  b.q_norm = hardy_malloc(sizeof(float) * (size_t)(cap + 1), "knn query norms");
  b.x_norm = hardy_malloc(sizeof(float) * (size_t)(n_index + 1), "knn index norms");
  b.tiles = alloc_workspace(threads, k);
  if (!b.q_norm || !b.x_norm || !b.tiles) status = HARDY_ERR_RUNTIME;
  hardy_topk_mpi_t op = {0};
  if (status == HARDY_OK) status = hardy_topk_mpi_create(&op, k);
  MPI_Datatype row_type = MPI_DATATYPE_NULL;
  if (status == HARDY_OK && MPI_Type_contiguous(d, MPI_FLOAT, &row_type) == MPI_SUCCESS)
    MPI_Type_commit(&row_type);
  status = hardy_agree(status, comm);
  double t_gather = 0, t_kernel = 0, t_reduce = 0;
  float x_max = status == HARDY_OK ? row_norms(x, n_index, d, b.x_norm) : 0.0f;
  int64_t n_cand = 0;
  for (int64_t r = 0; status == HARDY_OK && r < n_rounds; r++) {
    int64_t q0 = HARDY_MIN(r * per_rank, n_query), q1 = HARDY_MIN(q0 + per_rank, n_query);
    int mine = (int)(q1 - q0);
    double t0 = hardy_now();
    HARDY_MPI_CHECK(MPI_Allgather(&mine, 1, MPI_INT, b.count, 1, MPI_INT, comm));
    int n_block = 0;
    for (int s = 0; s < nranks; s++) {
      b.displ[s] = n_block;
      n_block += b.count[s];
    }
    HARDY_MPI_CHECK(MPI_Allgatherv(q + q0 * d, mine, row_type, b.rows, b.count, b.displ, row_type, comm));
    HARDY_MPI_CHECK(MPI_Allgatherv(q_id + q0, mine, MPI_INT64_T, b.ids, b.count, b.displ,
                                   MPI_INT64_T, comm));
    double t1 = hardy_now();
    n_cand += topk_local_ws(b.rows, b.ids, n_block, x, x_id, b.x_norm, x_max, n_index, d, k,
                            threads, b.q_norm, b.tiles, b.lists);
    double t2 = hardy_now();
    HARDY_CHECK(hardy_topk_allreduce(&op, b.lists, n_block, comm));
    memcpy(out + q0 * k, b.lists + (int64_t)b.displ[rank] * k, sizeof(hardy_topk_pair_t) * (size_t)mine * k);
    double t3 = hardy_now();
    t_gather += t1 - t0, t_kernel += t2 - t1, t_reduce += t3 - t2;
  }
  if (row_type != MPI_DATATYPE_NULL) MPI_Type_free(&row_type);
  hardy_topk_mpi_free(&op);
  round_buf_free(&b);
  if (stats) {
    stats->t_gather += t_gather, stats->t_kernel += t_kernel, stats->t_allreduce += t_reduce;
    stats->n_candidates += n_cand, stats->n_rounds += n_rounds;
    stats->t_total += hardy_now() - t_start;
  }
  return status;
}
