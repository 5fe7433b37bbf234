/* Exact k-nearest-neighbour retrieval (docs/ALGORITHM.md, "Retrieval"), distributed over ranks.
 *
 * Distance from query i with present modality set P to index row j != i:
 *   s(i, j) = (1/|P|) sum_{m in P} d_m(i, j) / mu_m,
 * d_m squared L2 (HARDY_KNN_L2SQ) or 1 - cosine (HARDY_KNN_COSINE; an all-zero row counts as
 * the zero vector u = 0 and d = (|u|^2 + |v|^2)/2 - u.v, which is 1 - cos for unit vectors),
 * mu_m the mean of d_m over all distinct pairs of the index (closed form, one allreduce).
 * s is evaluated as ONE squared-L2 search in the concatenation of the present modalities'
 * scaled rows: L2 row x sqrt(1/(|P| mu)), cosine row x/|x| x sqrt(1/(2 |P| mu)).
 *
 * The search kernel computes ||q||^2 + ||x||^2 - 2 q.x with sgemm over cache-sized (query
 * block x index block) tiles and updates a sorted top-K list per query right after each tile.
 * The GEMM value only filters candidates (with a rounding-error margin); a candidate's reported
 * distance is recomputed directly as sum (q - x)^2 in double (fixed order) and rounded to
 * float32; lists are ordered by (float32 distance, global id), so duplicate rows tie exactly,
 * ties go to the smaller id, and results are identical for any rank count and blocking. Self matches (same global id) are excluded; distances are >= 0;
 * missing slots (fewer than k candidates) are id -1, dist +inf.
 *
 * Distributed: every rank holds a shard of the index and its own queries. Queries go in rounds:
 * each rank contributes a block, the blocks are allgathered, every rank searches its shard,
 * and one MPI_Allreduce with the top-K merge operation (dist.h) gives the global lists.
 * Memory per rank: O(shard + query block), never O(N^2). */
#ifndef HARDY_KNN_H
#define HARDY_KNN_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include "hardy/dist.h"

enum { HARDY_KNN_GROUPS = 3 }; /* feature groups: audio, text, visual (dataset.h order) */
typedef enum { HARDY_KNN_L2SQ = 0, HARDY_KNN_COSINE = 1 } hardy_knn_metric_t;

/* One rank's rows of the three feature groups. Borrowed pointers (not owned). */
typedef struct {
  int64_t n;                          /* local rows (may be 0) */
  const int64_t *id;                  /* [n] global ids, unique over all ranks */
  int dims[HARDY_KNN_GROUPS];
  const float *feat[HARDY_KNN_GROUPS]; /* [n, dims[m]] row-major */
  int metric[HARDY_KNN_GROUPS];       /* hardy_knn_metric_t per group */
} hardy_knn_rows_t;

/* Metrics of the input-feature space: audio L2, text cosine, visual L2. */
void hardy_knn_metrics_input(int metric[HARDY_KNN_GROUPS]);

/* An index: the local rows plus the global normalisers. */
typedef struct {
  hardy_knn_rows_t rows; /* borrowed; keep alive while the index is used */
  int64_t n_global;      /* rows over all ranks */
  double mu[HARDY_KNN_GROUPS]; /* mean d_m over distinct pairs (1 when undefined or 0) */
} hardy_knn_index_t;

/* Build the index over every rank's rows: mu_m from one MPI_Allreduce of per-group sums
 * (squared L2: mu = (2 N S2 - 2 |S1|^2) / (N (N-1)) = 2N/(N-1) tr Cov; cosine: the same on unit
 * rows, halved). Collective over comm; dims and metrics must agree on every rank. */
int hardy_knn_index_build(hardy_knn_index_t *ix, const hardy_knn_rows_t *rows, MPI_Comm comm);

/* Search options. */
typedef struct {
  int k;               /* neighbours per query, >= 1 */
  int64_t query_block; /* queries searched per round over all ranks (default 4096) */
  int threads;         /* OpenMP threads in the kernel; 0 = omp_get_max_threads() */
} hardy_knn_opts_t;

void hardy_knn_opts_default(hardy_knn_opts_t *opt, int k);

/* Timings of a search (seconds, this rank) and work counters. */
typedef struct {
  double t_total, t_kernel, t_gather, t_allreduce, t_prepare;
  int64_t n_candidates; /* direct distance evaluations (rows passing the GEMM filter) */
  int64_t n_rounds;
} hardy_knn_stats_t;

/* Multimodal search: query row i (this rank's) with present set mask[i] (bit 0 audio, 1 text,
 * 2 visual; must be non-zero) against the whole index. Queries are grouped by mask (at most 7
 * searches). out_id [queries->n, k] global ids, out_dist [queries->n, k]; caller-allocated.
 * Collective over comm (every rank calls, with 0 queries if it has none). stats may be NULL. */
int hardy_knn_search(const hardy_knn_index_t *ix, const hardy_knn_rows_t *queries,
                     const uint8_t *mask, const hardy_knn_opts_t *opt, int64_t *out_id,
                     float *out_dist, hardy_knn_stats_t *stats, MPI_Comm comm);

/* Serial reference: the distance definition above as a naive triple loop in double, mu by the
 * brute-force mean over all distinct pairs of `index` (all rows, one process). Same output
 * contract as hardy_knn_search. Local. O(n^2 d): tests only. */
int hardy_knn_search_ref(const hardy_knn_rows_t *index, const hardy_knn_rows_t *queries,
                         const uint8_t *mask, int k, int64_t *out_id, float *out_dist);

/* Brute-force mean pair distance per group over all rows (O(n^2 d), tests). Local. */
void hardy_knn_mu_ref(const hardy_knn_rows_t *rows, double mu[HARDY_KNN_GROUPS]);

/* ---- the plain squared-L2 layer the multimodal search runs on ----------------------------- */

/* Embed rows for a present set: out [rows->n, hardy_knn_embed_dim(rows, mask)], the scaled
 * concatenation described at the top. Local. */
int hardy_knn_embed_dim(const hardy_knn_rows_t *rows, uint8_t mask);
void hardy_knn_embed(const hardy_knn_index_t *ix, const hardy_knn_rows_t *rows, uint8_t mask,
                     const int64_t *row_list, int64_t n_list, float *out);

/* Kernel tile: query rows per thread x index rows per block. Defaults: 4096 x 4096 for the
 * fused kernels, 2048 x 4096 for the blas one (tuned in docs/KNN.md). The environment variable
 * HARDY_KNN_TILE=QBxXB overrides them at run time (read once; an invalid value is reported and
 * ignored). hardy_knn_tile_string() gives the tile in effect, "QBxXB". */
const char *hardy_knn_tile_string(void);
/* The kernel in effect: "fused-avx512" or "fused-avx2" (register tiles over packed operands,
 * compared in registers; x86-64 with AVX-512F, or AVX2 + FMA) or "blas" (sgemm tiles plus a
 * vector filter pass; any machine). HARDY_KNN_KERNEL=auto|fused|fused-avx512|fused-avx2|blas
 * chooses (read once; auto and fused = the best fused kernel the CPU runs). All give identical
 * results. */
const char *hardy_knn_kernel_name(void);
/* Kernel workspace of a search of up to max_query queries (per round) over n_index local rows
 * of dimension d with `threads` threads (0 = default): blas, per thread a tile of
 * min(QB, max_query) x (index block <= XB) floats plus candidate lists; fused, packed copies of
 * a query chunk (<= QB x threads rows) and of an index block plus candidate lists. The search's
 * memory beyond its inputs and outputs is this plus O(query block + n_index). */
size_t hardy_knn_workspace_bytes(int64_t max_query, int64_t n_index, int d, int k, int threads);

/* Local fused kernel: lists[n_query, k] (sorted top-K by squared L2) of query rows q[n_query, d]
 * over index rows x[n_index, d]. Uses `threads` OpenMP threads (0 = default) and the kernel in
 * effect (hardy_knn_kernel_name). Returns direct-distance evaluations. */
int64_t hardy_knn_topk_local(const float *q, const int64_t *q_id, int64_t n_query, const float *x,
                             const int64_t *x_id, int64_t n_index, int d, int k, int threads,
                             hardy_topk_pair_t *lists);
/* Its naive twin (double accumulation, no blocking); same contract. */
void hardy_knn_topk_local_ref(const float *q, const int64_t *q_id, int64_t n_query, const float *x,
                              const int64_t *x_id, int64_t n_index, int d, int k,
                              hardy_topk_pair_t *lists);

/* Distributed squared-L2 search of every rank's queries q[n_query, d] over the union of every
 * rank's index rows x[n_index, d]. out [n_query, k]. Collective over comm; d and k must agree
 * on every rank. stats may be NULL (accumulated into when not). */
int hardy_knn_search_l2(const float *q, const int64_t *q_id, int64_t n_query, const float *x,
                        const int64_t *x_id, int64_t n_index, int d, const hardy_knn_opts_t *opt,
                        hardy_topk_pair_t *out, hardy_knn_stats_t *stats, MPI_Comm comm);

#endif
