/* Top-K merge lists and their MPI reduction, and the neighbour-row fetch (see dist.h,
 * section "top-K merge / neighbour rows"). The reduction is what makes the distributed kNN
 * exact: every rank's local top-K lists over its index shard are merged by one MPI_Allreduce
 * with a commutative user operation, and the total order on (dist, id) makes the merged result
 * independent of the reduction tree, hence of the rank count. */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hardy/common.h"
#include "hardy/dist.h"

void hardy_topk_clear(hardy_topk_pair_t *list, int k) {
  for (int i = 0; i < k; i++) {
    list[i].dist = INFINITY;
    list[i].id = -1;
  }
}

static int same_pair(hardy_topk_pair_t a, hardy_topk_pair_t b) { return a.id >= 0 && a.id == b.id; }

void hardy_topk_merge(const hardy_topk_pair_t *a, const hardy_topk_pair_t *b, hardy_topk_pair_t *out,
                      int k) {
  int ia = 0, ib = 0, n = 0;
  while (n < k && (ia < k || ib < k)) {
    hardy_topk_pair_t next;
    if (ib >= k || (ia < k && !hardy_topk_less(b[ib], a[ia]))) {
      next = a[ia++];
      if (ib < k && same_pair(next, b[ib])) ib++; /* the same neighbour from both sides */
    } else {
      next = b[ib++];
    }
    if (next.id < 0) break; /* both remaining heads are empty slots */
    out[n++] = next;
  }
  hardy_topk_clear(out + n, k - n);
}

void hardy_topk_merge_ref(const hardy_topk_pair_t *a, const hardy_topk_pair_t *b,
                          hardy_topk_pair_t *out, int k) {
  hardy_topk_pair_t *all = malloc(sizeof *all * (size_t)(2 * k) + 1);
  int n = 0;
  for (int i = 0; i < k; i++) {
    if (a[i].id >= 0) all[n++] = a[i];
    if (b[i].id >= 0) all[n++] = b[i];
  }
  for (int i = 1; i < n; i++) /* insertion sort */
    for (int j = i; j > 0 && hardy_topk_less(all[j], all[j - 1]); j--) {
      hardy_topk_pair_t t = all[j];
      all[j] = all[j - 1];
      all[j - 1] = t;
    }
  int m = 0;
  for (int i = 0; i < n && m < k; i++)
    if (m == 0 || all[i].id != out[m - 1].id) out[m++] = all[i];
  hardy_topk_clear(out + m, k - m);
  free(all);
}

/* MPI user operation: inout[q] = merge(in[q], inout[q]) for each of *len lists. k is recovered
 * from the datatype's size (k floats + k int64 = 12 k bytes; padding is not counted). */
static void topk_reduce(void *in, void *inout, int *len, MPI_Datatype *type) {
  int bytes = 0;
  MPI_Type_size(*type, &bytes);
  int k = bytes / (int)(sizeof(float) + sizeof(int64_t));
  hardy_topk_pair_t stack_tmp[64];
  hardy_topk_pair_t *tmp = k <= 64 ? stack_tmp : malloc(sizeof *tmp * (size_t)k);
  if (!tmp) MPI_Abort(MPI_COMM_WORLD, HARDY_EXIT_RUNTIME); /* no error path inside an MPI_Op */
  hardy_topk_pair_t *a = in, *b = inout;
  for (int q = 0; q < *len; q++) {
    hardy_topk_merge(a + (size_t)q * k, b + (size_t)q * k, tmp, k);
    memcpy(b + (size_t)q * k, tmp, sizeof *tmp * (size_t)k);
  }
  if (tmp != stack_tmp) free(tmp);
}

int hardy_topk_mpi_create(hardy_topk_mpi_t *t, int k) {
  memset(t, 0, sizeof *t);
  if (k < 1) return hardy_fail(HARDY_ERR_INPUT, "top-K lists need k >= 1 (got %d)", k);
  t->k = k;
  int blocklen[2] = {1, 1};
  MPI_Aint disp[2] = {offsetof(hardy_topk_pair_t, dist), offsetof(hardy_topk_pair_t, id)};
  MPI_Datatype types[2] = {MPI_FLOAT, MPI_INT64_T}, pair, pair_resized;
  HARDY_MPI_CHECK(MPI_Type_create_struct(2, blocklen, disp, types, &pair));
  HARDY_MPI_CHECK(MPI_Type_create_resized(pair, 0, sizeof(hardy_topk_pair_t), &pair_resized));
  HARDY_MPI_CHECK(MPI_Type_contiguous(k, pair_resized, &t->type));
  HARDY_MPI_CHECK(MPI_Type_commit(&t->type));
  MPI_Type_free(&pair);
  MPI_Type_free(&pair_resized);
  HARDY_MPI_CHECK(MPI_Op_create(topk_reduce, 1, &t->op));
  return HARDY_OK;
}

void hardy_topk_mpi_free(hardy_topk_mpi_t *t) {
  if (t->k > 0) {
    MPI_Type_free(&t->type);
    MPI_Op_free(&t->op);
  }
  t->k = 0;
}

int hardy_topk_allreduce(const hardy_topk_mpi_t *t, hardy_topk_pair_t *lists, int64_t n_query,
                         MPI_Comm comm) {
  /* Counts are ints: reduce in slices of at most INT_MAX / 2 lists. */
  for (int64_t done = 0; done < n_query;) {
    int count = (int)HARDY_MIN(n_query - done, (int64_t)(INT_MAX / 2));
    HARDY_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, lists + done * t->k, count, t->type, t->op, comm));
    done += count;
  }
  return HARDY_OK;
}

int hardy_topk_iallreduce(const hardy_topk_mpi_t *t, hardy_topk_pair_t *lists, int64_t n_query,
                          MPI_Comm comm, MPI_Request *req) {
  if (n_query > INT_MAX / 2)
    return hardy_fail(HARDY_ERR_INPUT, "top-K merge: %lld lists in one non-blocking reduction "
                      "(at most %d)", (long long)n_query, INT_MAX / 2);
  HARDY_MPI_CHECK(MPI_Iallreduce(MPI_IN_PLACE, lists, (int)n_query, t->type, t->op, comm, req));
  return HARDY_OK;
}

/* ---- neighbour rows --------------------------------------------------------------------- */

static int64_t find_sorted(const int64_t *ids, int64_t n, int64_t id) {
  int64_t lo = 0, hi = n;
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    if (ids[mid] < id) lo = mid + 1;
    else hi = mid;
  }
  return lo < n && ids[lo] == id ? lo : -1;
}

/* The rank whose id range holds id, or -1. Ranges are disjoint, so a linear scan over the
 * (few) ranks in a binary search over the range table would be equivalent; R is small. */
static int owner_of(const hardy_rows_t *h, int64_t id) {
  for (int r = 0; r < h->nranks; r++)
    if (id >= h->range[2 * r] && id <= h->range[2 * r + 1]) return r;
  return -1;
}

int hardy_rows_open(hardy_rows_t *h, const int64_t *own_id, int64_t n_own, int n_field,
                    const float *const *field, const int *width, MPI_Comm comm) {
  memset(h, 0, sizeof *h);
  int rank = 0, status = HARDY_OK;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &h->nranks);
  h->comm = comm;
  h->n_own = n_own;
  h->own_id = own_id;
  h->n_field = n_field;
  if (n_field < 1 || n_field > HARDY_ROWS_MAX_FIELDS)
    status = hardy_fail(HARDY_ERR_INPUT, "row fetch: %d fields (1..%d allowed)", n_field,
                        HARDY_ROWS_MAX_FIELDS);
  for (int f = 0; status == HARDY_OK && f < n_field; f++) {
    h->field[f] = field[f];
    h->width[f] = width[f];
  }
  for (int64_t i = 1; status == HARDY_OK && i < n_own; i++)
    if (own_id[i] <= own_id[i - 1])
      status = hardy_fail(HARDY_ERR_INPUT,
                          "row fetch: rank %d's ids are not ascending at row %lld (%lld after %lld)",
                          rank, (long long)i, (long long)own_id[i], (long long)own_id[i - 1]);
  int64_t mine[2] = {INT64_MAX, INT64_MIN}; /* empty range */
  if (n_own > 0) mine[0] = own_id[0], mine[1] = own_id[n_own - 1];
  h->range = hardy_malloc(sizeof(int64_t) * 2 * (size_t)h->nranks, "row fetch ranges");
  if (!h->range) status = HARDY_ERR_RUNTIME;
  status = hardy_agree(status, comm);
  if (status < 0) {
    hardy_rows_close(h);
    return status;
  }
  HARDY_MPI_CHECK(MPI_Allgather(mine, 2, MPI_INT64_T, h->range, 2, MPI_INT64_T, comm));
  for (int r = 0; r < h->nranks && status == HARDY_OK; r++)
    for (int s = r + 1; s < h->nranks; s++)
      if (h->range[2 * r] <= h->range[2 * s + 1] && h->range[2 * s] <= h->range[2 * r + 1]) {
        status = hardy_fail(HARDY_ERR_INPUT,
                            "row fetch: ranks %d and %d own overlapping id ranges [%lld, %lld] "
                            "and [%lld, %lld]; shards must be contiguous runs of ids",
                            r, s, (long long)h->range[2 * r], (long long)h->range[2 * r + 1],
                            (long long)h->range[2 * s], (long long)h->range[2 * s + 1]);
        break;
      }
  if (status < 0) hardy_rows_close(h);
  return status; /* every rank ran the same check on the same table */
}

void hardy_rows_close(hardy_rows_t *h) {
  free(h->range);
  h->range = NULL;
}

static int row_width(const hardy_rows_t *h) {
  int w = 0;
  for (int f = 0; f < h->n_field; f++) w += h->width[f];
  return w;
}

/* Copy local row `row` (all fields, concatenated) to dst, or zeros for row < 0. */
static void pack_row(const hardy_rows_t *h, int64_t row, float *dst) {
  for (int f = 0; f < h->n_field; f++) {
    size_t w = (size_t)h->width[f];
    if (row >= 0) memcpy(dst, h->field[f] + (size_t)row * w, w * sizeof(float));
    else memset(dst, 0, w * sizeof(float));
    dst += w;
  }
}

static void unpack_row(const hardy_rows_t *h, const float *src, float *const *out, int64_t i) {
  for (int f = 0; f < h->n_field; f++) {
    size_t w = (size_t)h->width[f];
    memcpy(out[f] + (size_t)i * w, src, w * sizeof(float));
    src += w;
  }
}

typedef struct {
  int *send_n, *recv_n, *send_off, *recv_off; /* [nranks] each, in ids/rows */
  int64_t *send_id, *recv_id;                  /* requested ids, grouped by owner */
  int64_t *slot;                               /* [n_remote] index into want of send_id[i] */
  float *send_rows, *recv_rows;                /* rows packed for the requesters / received */
} fetch_buf_t;

static void fetch_buf_free(fetch_buf_t *b) {
  free(b->send_n), free(b->recv_n), free(b->send_off), free(b->recv_off);
  free(b->send_id), free(b->recv_id), free(b->slot), free(b->send_rows), free(b->recv_rows);
}

static int exclusive_scan(const int *n, int *off, int count, const char *what) {
  int64_t total = 0;
  for (int r = 0; r < count; r++) {
    off[r] = (int)total;
    total += n[r];
  }
  if (total > INT_MAX)
    return hardy_fail(HARDY_ERR_RUNTIME, "row fetch: %lld %s exceed one exchange; fetch in parts",
                      (long long)total, what);
  return (int)total;
}

int hardy_rows_fetch(const hardy_rows_t *h, const int64_t *want, int64_t n_want, float *const *out) {
  int rank = 0, status = HARDY_OK, R = h->nranks, width = row_width(h);
  MPI_Comm_rank(h->comm, &rank);
  fetch_buf_t b = {0};
  b.send_n = calloc((size_t)R, sizeof(int)), b.recv_n = calloc((size_t)R, sizeof(int));
  b.send_off = calloc((size_t)R, sizeof(int)), b.recv_off = calloc((size_t)R, sizeof(int));
  b.slot = hardy_malloc(sizeof(int64_t) * (size_t)(n_want + 1), "row fetch slots");
  b.send_id = hardy_malloc(sizeof(int64_t) * (size_t)(n_want + 1), "row fetch ids");
  if (!b.send_n || !b.recv_n || !b.send_off || !b.recv_off || !b.slot || !b.send_id)
    status = hardy_fail(HARDY_ERR_RUNTIME, "out of memory in row fetch (%lld ids)", (long long)n_want);
  /* Local rows and empty slots now; remote ids counted per owner. */
  for (int64_t i = 0; status == HARDY_OK && i < n_want; i++) {
    int o = want[i] < 0 ? rank : owner_of(h, want[i]);
    if (o < 0) {
      status = hardy_fail(HARDY_ERR_INPUT, "row fetch: no rank owns id %lld (want[%lld])",
                          (long long)want[i], (long long)i);
    } else if (o == rank) {
      int64_t row = want[i] < 0 ? -1 : find_sorted(h->own_id, h->n_own, want[i]);
      if (want[i] >= 0 && row < 0)
        status = hardy_fail(HARDY_ERR_INPUT, "row fetch: id %lld is in rank %d's range but not "
                            "in its shard", (long long)want[i], rank);
      for (int f = 0; f < h->n_field; f++) {
        size_t w = (size_t)h->width[f];
        if (row >= 0) memcpy(out[f] + (size_t)i * w, h->field[f] + (size_t)row * w, w * sizeof(float));
        else memset(out[f] + (size_t)i * w, 0, w * sizeof(float));
      }
    } else {
      b.send_n[o]++;
    }
  }
  int n_remote = status == HARDY_OK ? exclusive_scan(b.send_n, b.send_off, R, "ids") : 0;
  if (n_remote < 0) status = n_remote;
  status = hardy_agree(status, h->comm);
  if (status < 0) {
    fetch_buf_free(&b);
    return status;
  }
  { /* group the remote requests by owner (counting sort keeps want order within an owner) */
    int *fill = calloc((size_t)R, sizeof(int));
    for (int64_t i = 0; i < n_want; i++) {
      if (want[i] < 0) continue;
      int o = owner_of(h, want[i]);
      if (o == rank) continue;
      int at = b.send_off[o] + fill[o]++;
      b.send_id[at] = want[i];
      b.slot[at] = i;
    }
    free(fill);
  }
  HARDY_MPI_CHECK(MPI_Alltoall(b.send_n, 1, MPI_INT, b.recv_n, 1, MPI_INT, h->comm));
  int n_serve = exclusive_scan(b.recv_n, b.recv_off, R, "ids");
  if (n_serve < 0) status = n_serve;
  b.recv_id = hardy_malloc(sizeof(int64_t) * (size_t)(HARDY_MAX(n_serve, 0) + 1), "row fetch ids");
  b.send_rows = hardy_aligned_alloc(sizeof(float) * ((size_t)HARDY_MAX(n_serve, 0) * width + 1),
                                    "row fetch rows out");
  b.recv_rows = hardy_aligned_alloc(sizeof(float) * ((size_t)n_remote * width + 1), "row fetch rows in");
  if (!b.recv_id || !b.send_rows || !b.recv_rows) status = HARDY_ERR_RUNTIME;
  status = hardy_agree(status, h->comm);
  if (status < 0) {
    fetch_buf_free(&b);
    return status;
  }
  HARDY_MPI_CHECK(MPI_Alltoallv(b.send_id, b.send_n, b.send_off, MPI_INT64_T, b.recv_id, b.recv_n,
                                b.recv_off, MPI_INT64_T, h->comm));
  for (int i = 0; i < n_serve; i++) {
    int64_t row = find_sorted(h->own_id, h->n_own, b.recv_id[i]);
    if (row < 0 && status == HARDY_OK)
      status = hardy_fail(HARDY_ERR_INPUT, "row fetch: id %lld is in rank %d's range but not in "
                          "its shard", (long long)b.recv_id[i], rank);
    pack_row(h, row, b.send_rows + (size_t)i * width);
  }
  /* One row = `width` floats: counts and offsets stay in rows. */
  MPI_Datatype row_type;
  HARDY_MPI_CHECK(MPI_Type_contiguous(width, MPI_FLOAT, &row_type));
  HARDY_MPI_CHECK(MPI_Type_commit(&row_type));
  int rc = MPI_Alltoallv(b.send_rows, b.recv_n, b.recv_off, row_type, b.recv_rows, b.send_n,
                         b.send_off, row_type, h->comm);
  MPI_Type_free(&row_type);
  if (rc != MPI_SUCCESS) status = hardy_mpi_fail(rc, __FILE__, __LINE__, "MPI_Alltoallv(rows)");
  for (int i = 0; status == HARDY_OK && i < n_remote; i++)
    unpack_row(h, b.recv_rows + (size_t)i * width, out, b.slot[i]);
  fetch_buf_free(&b);
  return hardy_agree(status, h->comm);
}
