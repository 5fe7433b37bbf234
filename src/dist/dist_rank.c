/* Exact global ranking of (key, id) pairs spread over the ranks of a communicator, without
 * gathering them on one rank: a sample sort (parallel sorting by regular sampling). Each rank
 * sorts its pairs and contributes P regular samples; every rank sorts the gathered samples and
 * picks the same P-1 splitters; pairs go to their bucket's rank with one MPI_Alltoallv; each
 * rank sorts its bucket, adds the exclusive scan of bucket sizes to get global positions, and
 * a second MPI_Alltoallv returns the positions to the owners. Because ids are unique, (key, id)
 * is a total order, so heavy ties in the keys do not unbalance the buckets; regular sampling
 * bounds a bucket by about twice the mean. hardy_dist_rank_ref is the serial qsort twin. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hardy/common.h"
#include "hardy/dist.h"

typedef struct {
  double key;
  int64_t id;
} rank_pair_t;

/* Ascending key, ties by ascending id. */
static int pair_cmp(const rank_pair_t *a, const rank_pair_t *b) {
  if (a->key < b->key)
    return -1;
  if (a->key > b->key)
    return 1;
  return (a->id > b->id) - (a->id < b->id);
}

static int pair_qsort_cmp(const void *a, const void *b) {
  return pair_cmp(a, b);
}

/* A pair plus where it came from (row on the owner, or receive slot on the bucket rank). */
typedef struct {
  rank_pair_t p;
  int64_t slot;
} slot_pair_t;

static int slot_qsort_cmp(const void *a, const void *b) {
  return pair_cmp(&((const slot_pair_t *)a)->p, &((const slot_pair_t *)b)->p);
}

void hardy_dist_rank_ref(const double *key, const int64_t *id, int64_t n, int64_t *rank_out) {
  slot_pair_t *all = malloc((size_t)(n > 0 ? n : 1) * sizeof *all);
  if (!all)
    abort(); /* test-only reference: no error path worth having */
  for (int64_t i = 0; i < n; i++)
    all[i] = (slot_pair_t){{key[i], id[i]}, i};
  qsort(all, (size_t)n, sizeof *all, slot_qsort_cmp);
  for (int64_t r = 0; r < n; r++)
    rank_out[all[r].slot] = r;
  free(all);
}

/* Number of splitters strictly below p: the bucket (= destination rank) of p. */
static int bucket_of(const rank_pair_t *p, const rank_pair_t *split, int n_split) {
  int lo = 0, hi = n_split;
  while (lo < hi) {
    int mid = (lo + hi) / 2;
    if (pair_cmp(&split[mid], p) < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

/* Local checks before any exchange: finite keys, int-sized counts. */
static int check_input(const double *key, const int64_t *id, int64_t n_local) {
  if (n_local < 0 || n_local > INT32_MAX / 2)
    return hardy_fail(HARDY_ERR_INPUT, "distributed rank: %lld rows on this rank (at most %d)",
                      (long long)n_local, INT32_MAX / 2);
  for (int64_t i = 0; i < n_local; i++)
    if (!isfinite(key[i]))
      return hardy_fail(HARDY_ERR_INPUT, "distributed rank: score of utterance %lld is %g",
                        (long long)id[i], key[i]);
  return HARDY_OK;
}

/* The P-1 splitters, identical on every rank: P regular samples of each rank's sorted pairs
 * (fewer when a rank has fewer rows), gathered, sorted, and taken at regular positions. */
static int choose_splitters(MPI_Comm comm, MPI_Datatype pair_type, const slot_pair_t *sorted,
                            int n_local, int nranks, rank_pair_t *split /* [nranks-1] */) {
  int n_sample = HARDY_MIN(n_local, nranks), total = 0;
  rank_pair_t *mine = hardy_malloc((size_t)(n_sample + 1) * sizeof *mine, "rank samples");
  int *counts = hardy_malloc((size_t)nranks * sizeof *counts, "rank sample counts");
  int *displs = hardy_malloc((size_t)nranks * sizeof *displs, "rank sample offsets");
  rank_pair_t *all = NULL;
  int status = hardy_agree(mine && counts && displs ? HARDY_OK : HARDY_ERR_RUNTIME, comm);
  if (status == HARDY_OK) {
    for (int s = 0; s < n_sample; s++)
      mine[s] = sorted[(int64_t)s * n_local / n_sample].p;
    MPI_Allgather(&n_sample, 1, MPI_INT, counts, 1, MPI_INT, comm);
    for (int r = 0; r < nranks; r++) {
      displs[r] = total;
      total += counts[r];
    }
    all = hardy_malloc((size_t)(total + 1) * sizeof *all, "gathered rank samples");
    status = hardy_agree(all ? HARDY_OK : HARDY_ERR_RUNTIME, comm);
  }
  if (status == HARDY_OK) {
    MPI_Allgatherv(mine, n_sample, pair_type, all, counts, displs, pair_type, comm);
    qsort(all, (size_t)total, sizeof *all, pair_qsort_cmp);
    /* total >= 1 whenever some rank has rows; with no rows at all the splitters are unused. */
    for (int s = 1; s < nranks; s++)
      split[s - 1] = total ? all[(int64_t)s * total / nranks] : (rank_pair_t){0.0, 0};
  }
  free(mine);
  free(counts);
  free(displs);
  free(all);
  return status;
}

/* Bucket side: sort the received pairs, write each one's global position into pos (receive
 * order), and detect duplicate ids (equal pairs always land in the same bucket). */
static int rank_bucket(MPI_Comm comm, const rank_pair_t *recv, int n_recv, int64_t *pos) {
  int status = HARDY_OK;
  slot_pair_t *b = hardy_malloc((size_t)(n_recv + 1) * sizeof *b, "rank bucket");
  int64_t first = 0, count = n_recv;
  MPI_Exscan(&count, &first, 1, MPI_INT64_T, MPI_SUM, comm);
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  if (rank == 0)
    first = 0; /* MPI_Exscan leaves rank 0's result undefined */
  if (!b)
    return HARDY_ERR_RUNTIME;
  for (int i = 0; i < n_recv; i++)
    b[i] = (slot_pair_t){recv[i], i};
  qsort(b, (size_t)n_recv, sizeof *b, slot_qsort_cmp);
  for (int i = 0; i < n_recv; i++) {
    if (i > 0 && b[i].p.id == b[i - 1].p.id && status == HARDY_OK)
      status = hardy_fail(HARDY_ERR_INPUT,
                          "distributed rank: utterance id %lld occurs twice (ids must be unique)",
                          (long long)b[i].p.id);
    pos[b[i].slot] = first + i;
  }
  free(b);
  return status;
}

/* Exchange counts of a send plan and derive displacements for both directions. */
static void plan_displs(const int *send_counts, const int *recv_counts, int nranks, int *sdispl,
                        int *rdispl, int *n_recv) {
  int s = 0, r = 0;
  for (int k = 0; k < nranks; k++) {
    sdispl[k] = s;
    rdispl[k] = r;
    s += send_counts[k];
    r += recv_counts[k];
  }
  *n_recv = r;
}

typedef struct {
  int *scount, *rcount, *sdispl, *rdispl; /* [nranks] each */
  slot_pair_t *sorted;                    /* [n_local] local pairs, sorted, slot = row */
  rank_pair_t *split;                     /* [nranks - 1] bucket boundaries */
  rank_pair_t *send, *recv;               /* [n_local], [n_recv] */
  int64_t *pos_recv, *pos_send;           /* [n_recv], [n_local] */
} rank_work_t;

static void work_free(rank_work_t *w) {
  free(w->scount);
  free(w->rcount);
  free(w->sdispl);
  free(w->rdispl);
  free(w->sorted);
  free(w->split);
  free(w->send);
  free(w->recv);
  free(w->pos_recv);
  free(w->pos_send);
}

static int sample_sort(MPI_Comm comm, MPI_Datatype pair_type, const double *key, const int64_t *id,
                       int n_local, int nranks, rank_work_t *w, int64_t *rank_out) {
  size_t np = (size_t)nranks, nl = (size_t)n_local + 1;
  w->scount = hardy_calloc(np, sizeof(int), "rank send counts");
  w->rcount = hardy_calloc(np, sizeof(int), "rank receive counts");
  w->sdispl = hardy_calloc(np, sizeof(int), "rank send offsets");
  w->rdispl = hardy_calloc(np, sizeof(int), "rank receive offsets");
  w->sorted = hardy_malloc(nl * sizeof *w->sorted, "rank local pairs");
  w->send = hardy_malloc(nl * sizeof *w->send, "rank send buffer");
  w->pos_send = hardy_malloc(nl * sizeof(int64_t), "rank positions");
  w->split = hardy_malloc(np * sizeof *w->split, "rank splitters");
  int ok = w->scount && w->rcount && w->sdispl && w->rdispl && w->sorted && w->send &&
           w->pos_send && w->split;
  HARDY_CHECK(hardy_agree(ok ? HARDY_OK : HARDY_ERR_RUNTIME, comm));

  for (int i = 0; i < n_local; i++)
    w->sorted[i] = (slot_pair_t){{key[i], id[i]}, i};
  qsort(w->sorted, (size_t)n_local, sizeof *w->sorted, slot_qsort_cmp);
  HARDY_CHECK(choose_splitters(comm, pair_type, w->sorted, n_local, nranks, w->split));
  for (int i = 0; i < n_local; i++) {
    w->send[i] = w->sorted[i].p;
    w->scount[bucket_of(&w->sorted[i].p, w->split, nranks - 1)]++;
  }
  MPI_Alltoall(w->scount, 1, MPI_INT, w->rcount, 1, MPI_INT, comm);
  int n_recv = 0;
  plan_displs(w->scount, w->rcount, nranks, w->sdispl, w->rdispl, &n_recv);
  w->recv = hardy_malloc((size_t)(n_recv + 1) * sizeof *w->recv, "rank bucket pairs");
  w->pos_recv = hardy_malloc((size_t)(n_recv + 1) * sizeof(int64_t), "rank bucket positions");
  HARDY_CHECK(hardy_agree(w->recv && w->pos_recv ? HARDY_OK : HARDY_ERR_RUNTIME, comm));
  MPI_Alltoallv(w->send, w->scount, w->sdispl, pair_type, w->recv, w->rcount, w->rdispl, pair_type,
                comm);

  HARDY_CHECK(hardy_agree(rank_bucket(comm, w->recv, n_recv, w->pos_recv), comm));

  /* The reverse exchange returns positions in the order the pairs were sent: sorted order. */
  MPI_Alltoallv(w->pos_recv, w->rcount, w->rdispl, MPI_INT64_T, w->pos_send, w->scount, w->sdispl,
                MPI_INT64_T, comm);
  for (int i = 0; i < n_local; i++)
    rank_out[w->sorted[i].slot] = w->pos_send[i];
  return HARDY_OK;
}

int hardy_dist_rank(MPI_Comm comm, const double *key, const int64_t *id, int64_t n_local,
                    int64_t *rank_out, int64_t *n_total) {
  int nranks = 1;
  MPI_Comm_size(comm, &nranks);
  HARDY_CHECK(hardy_agree(check_input(key, id, n_local), comm));
  int64_t total = 0;
  HARDY_MPI_CHECK(MPI_Allreduce(&n_local, &total, 1, MPI_INT64_T, MPI_SUM, comm));
  if (n_total)
    *n_total = total;

  MPI_Datatype pair_type;
  MPI_Type_contiguous((int)sizeof(rank_pair_t), MPI_BYTE, &pair_type);
  MPI_Type_commit(&pair_type);
  rank_work_t w = {0};
  int status = sample_sort(comm, pair_type, key, id, (int)n_local, nranks, &w, rank_out);
  work_free(&w);
  MPI_Type_free(&pair_type);
  return status;
}

double hardy_dist_rank_fraction(int64_t rank, int64_t n_total) {
  return n_total > 1 ? (double)rank / (double)(n_total - 1) : 0.0;
}
