/* Distributed building blocks shared by the modules: the collectives that know nothing about
 * the model. Each section below belongs to one concern; add new concerns as new sections.
 * Every function marked "collective over comm" must be called by every rank of comm in the
 * same order; errors are agreed with hardy_agree() before returning, so no rank hangs. */
#ifndef HARDY_DIST_H
#define HARDY_DIST_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

/* ======================================================================================
 * Top-K merge / neighbour rows (src/dist_topk.c)
 * ====================================================================================== */

/* One neighbour: distance and global utterance id. An empty slot is id -1, dist +inf; empty
 * slots order after every real neighbour. Real neighbours order by (dist, id): ties go to the
 * smaller global id, so the order never depends on which rank found a neighbour. */
typedef struct {
  float dist;
  int64_t id;
} hardy_topk_pair_t;

/* A query's top-K list is `hardy_topk_pair_t[k]`, sorted ascending, empty slots last. */

/* Fill list[0..k) with empty slots. Local. */
void hardy_topk_clear(hardy_topk_pair_t *list, int k);

/* 1 if pair a orders strictly before pair b (see above), else 0. Local. */
static inline int hardy_topk_less(hardy_topk_pair_t a, hardy_topk_pair_t b) {
  if (a.id < 0) return 0;
  if (b.id < 0) return 1;
  return a.dist < b.dist || (a.dist == b.dist && a.id < b.id);
}

/* Merge two sorted lists of length k into out (the k smallest of their union; a pair present
 * in both is kept once). out may alias b but not a. Local. */
void hardy_topk_merge(const hardy_topk_pair_t *a, const hardy_topk_pair_t *b, hardy_topk_pair_t *out,
                      int k);
/* Plain version of the same result (concatenate, insertion sort, drop repeats); tests only. */
void hardy_topk_merge_ref(const hardy_topk_pair_t *a, const hardy_topk_pair_t *b,
                          hardy_topk_pair_t *out, int k);

/* The MPI datatype of one query's list (k pairs) and the commutative reduction that merges
 * such lists. Create once per k, free with hardy_topk_mpi_free. Local (no communication). */
typedef struct {
  int k;
  MPI_Datatype type; /* k x {float, int64}, extent k * sizeof(hardy_topk_pair_t) */
  MPI_Op op;
} hardy_topk_mpi_t;

int hardy_topk_mpi_create(hardy_topk_mpi_t *t, int k);
void hardy_topk_mpi_free(hardy_topk_mpi_t *t);

/* Merge every rank's lists into the global lists, in place: lists[n_query][k] on every rank
 * becomes the k best of the union over ranks. ONE MPI_Allreduce. Collective over comm; every
 * rank passes the same n_query. */
int hardy_topk_allreduce(const hardy_topk_mpi_t *t, hardy_topk_pair_t *lists, int64_t n_query,
                         MPI_Comm comm);
/* The same merge started as ONE MPI_Iallreduce (n_query <= INT_MAX / 2); lists must stay
 * untouched until *req completes (MPI_Wait/MPI_Test). Collective over comm. */
int hardy_topk_iallreduce(const hardy_topk_mpi_t *t, hardy_topk_pair_t *lists, int64_t n_query,
                          MPI_Comm comm, MPI_Request *req);

/* Neighbour-row fetch: rank r owns the rows of the global ids own_id[0..n_own) (ascending; the
 * ranks' id ranges must not overlap, as with dataset shards). Up to HARDY_ROWS_MAX_FIELDS
 * row-major arrays (e.g. the three modalities' features) are served. The handle borrows the
 * arrays and own_id: keep them alive and unchanged until hardy_rows_close. */
#define HARDY_ROWS_MAX_FIELDS 4
typedef struct {
  MPI_Comm comm;
  int nranks, n_field;
  int64_t n_own;
  const int64_t *own_id;                       /* [n_own] ascending */
  const float *field[HARDY_ROWS_MAX_FIELDS];   /* [n_own, width[f]] */
  int width[HARDY_ROWS_MAX_FIELDS];
  int64_t *range;                              /* [nranks, 2]: first and last id of each rank */
} hardy_rows_t;

/* Collective over comm (one MPI_Allgather of the id ranges). Errors: ids not ascending,
 * overlapping ranges between ranks. */
int hardy_rows_open(hardy_rows_t *h, const int64_t *own_id, int64_t n_own, int n_field,
                    const float *const *field, const int *width, MPI_Comm comm);
void hardy_rows_close(hardy_rows_t *h);

/* Rows of the global ids want[0..n_want) (any order, repeats allowed; id -1 gives a zero row):
 * out[f] is [n_want, width[f]], caller-allocated. Rows owned locally are copied, the others
 * arrive in one MPI_Alltoallv of rows (after an MPI_Alltoall of counts and an MPI_Alltoallv of
 * the requested ids). Collective over comm; n_want may differ per rank (also 0). Errors: an id
 * no rank owns (names the id). */
int hardy_rows_fetch(const hardy_rows_t *h, const int64_t *want, int64_t n_want, float *const *out);

/* ======================================================================================
 * Gradient averaging (src/dist_grad.c)
 * ====================================================================================== */

/* Sums a flat gradient buffer over the ranks, in buckets of about bucket_bytes, with
 * non-blocking MPI_Iallreduce started while backward is still running (hardy_grad_sync_ready
 * is the model's on_ready callback). Buckets are always started in the same order on every
 * rank (from the end of the buffer to the start, the order backward finishes them), whatever
 * order the ready calls come in, as MPI requires of collectives. The blocking mode (one
 * MPI_Allreduce at finish) is the plain reference. */
typedef struct {
  MPI_Comm comm;
  float *buf;           /* [n] the gradient arena (borrowed) */
  size_t n;
  int blocking;
  size_t n_bucket;
  size_t *bucket_start; /* [n_bucket + 1] float offsets, ascending */
  size_t *ready;        /* [n_bucket] floats marked ready in this step */
  MPI_Request *req;     /* [n_bucket] */
  size_t next;          /* buckets started so far this step, counted from the last bucket */
  double t_wait;        /* seconds spent waiting in finish (accumulates) */
  int local_nonfinite;  /* this step: a NaN/Inf among the ranges this rank marked ready */
  int sum_nonfinite;    /* after finish: a NaN/Inf in the summed gradient (same on every rank) */
} hardy_grad_sync_t;

/* Local setup (no communication). */
int hardy_grad_sync_init(hardy_grad_sync_t *s, float *buf, size_t n, double bucket_bytes,
                         int blocking, MPI_Comm comm);
void hardy_grad_sync_free(hardy_grad_sync_t *s);
/* Mark [first, end) final; starts every bucket that is complete and next in order. Collective
 * in effect (every rank must mark the whole buffer each step, in any order). Also scans the
 * range for NaN/Inf before it is sent (local_nonfinite; cleared by finish). */
void hardy_grad_sync_ready(void *sync, size_t first, size_t end);
/* Start what is left and wait for all buckets: buf now holds the sum over ranks. Collective.
 * Read local_nonfinite before calling it (it is cleared here for the next step); sets
 * sum_nonfinite. */
int hardy_grad_sync_finish(hardy_grad_sync_t *s);

/* ======================================================================================
 * Global ranking (src/dist_rank.c)
 * ====================================================================================== */

/* Exact position of every (key, id) pair in the ascending order of all pairs over all ranks,
 * ties in key broken by ascending id: rank_out[i] in [0, N) for this rank's n_local pairs, a
 * permutation of 0..N-1 over the ranks. Sample sort with two MPI_Alltoallv exchanges; no rank
 * ever holds all pairs. Ranks may have 0 rows, N may be smaller than the rank count. ids must
 * be unique over all ranks. *n_total (may be NULL) receives N. Collective over comm. Errors
 * (agreed): non-finite key (names the id), duplicate id, more than 2^30 rows on a rank. */
int hardy_dist_rank(MPI_Comm comm, const double *key, const int64_t *id, int64_t n_local,
                    int64_t *rank_out, int64_t *n_total);
/* Serial twin: qsort of all n pairs. Local; tests only. */
void hardy_dist_rank_ref(const double *key, const int64_t *id, int64_t n, int64_t *rank_out);
/* rank / (n_total - 1), or 0 when n_total <= 1: the rank as a fraction in [0, 1]. Local. */
double hardy_dist_rank_fraction(int64_t rank, int64_t n_total);

/* ======================================================================================
 * Sharded optimiser state, ZeRO stage 1 (src/dist_zero.c)
 * ====================================================================================== */

/* Rank r owns the slice [first, first + count) of a flat n-float buffer (balanced, contiguous,
 * in rank order; count may be 0 when n < ranks). */
typedef struct {
  MPI_Comm comm;
  int rank, nranks;
  size_t n, first, count;
  int *counts, *displs; /* [nranks] every rank's slice */
} hardy_zero_t;

/* Local setup (no communication); n <= INT_MAX. */
int hardy_zero_init(hardy_zero_t *z, size_t n, MPI_Comm comm);
void hardy_zero_free(hardy_zero_t *z);
/* grad_slice[count] = this rank's slice of the sum over ranks of grads[n]: ONE
 * MPI_Reduce_scatter (half an allreduce's traffic). Collective over comm. */
int hardy_zero_reduce_scatter(const hardy_zero_t *z, const float *grads, float *grad_slice);
/* buf[n]: every rank's slice [first, first + count) goes to all ranks, in place: ONE
 * MPI_Allgatherv (the other half). Collective over comm. */
int hardy_zero_allgather(const hardy_zero_t *z, float *buf);
/* full[n] on every rank from each rank's slice[count] (checkpoints). Collective over comm. */
int hardy_zero_gather_full(const hardy_zero_t *z, const float *slice, float *full);

#endif
