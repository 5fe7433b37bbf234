/* The distributed exact kNN driver (knn.h, "plain squared-L2 layer"): queries travel in
 * rounds of blocks gathered from every rank; each rank searches its index shard with the
 * local kernel (knn_local.c), and the per-rank lists are merged by the top-K reduction. With
 * several ranks the rounds are pipelined (the next block's gather and the previous block's
 * merge are non-blocking collectives, progressed from inside the kernel). */
#include <limits.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "hardy/common.h"
#include "hardy/knn.h"
#include "hardy/log.h"
#include "knn_internal.h"

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
  hardy_knn_ws_t ws;              /* kernel workspace */
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
static int search_rounds(const round_plan_t *p, const hardy_knn_side_t *ix, round_buf_t *b,
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
    st->n_candidates += hardy_knn_local_ws(ix, b->rows[slot], b->ids[slot], n_block, b->q_norm, &b->ws,
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
  b.ws = hardy_knn_ws_plan(cap, n_index, d, k, threads);
  if (!b.q_norm || !b.x_norm || hardy_knn_ws_alloc(&b.ws) < 0) status = HARDY_ERR_RUNTIME;
  hardy_topk_mpi_t op = {0};
  if (status == HARDY_OK) status = hardy_topk_mpi_create(&op, k);
  MPI_Datatype row_type = MPI_DATATYPE_NULL;
  if (status == HARDY_OK && MPI_Type_contiguous(d, MPI_FLOAT, &row_type) == MPI_SUCCESS)
    MPI_Type_commit(&row_type);
  status = hardy_agree(status, comm);
  hardy_knn_stats_t st = {0};
  if (status == HARDY_OK) {
    hardy_knn_side_t ix = {x, x_id, b.x_norm, hardy_knn_row_norms(x, n_index, d, threads, b.x_norm), n_index, d, k};
    if (nranks == 1) {
      /* one rank: the block is this rank's own rows; search them in place, no copies */
      double t1 = hardy_now();
      st.n_candidates = hardy_knn_local_ws(&ix, q, q_id, n_query, b.q_norm, &b.ws, out, NULL, NULL);
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
