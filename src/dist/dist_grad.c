/* Bucketed, non-blocking gradient summation over ranks; see dist.h ("Gradient averaging").
 * The model reports finished gradient ranges during backward; complete buckets are started
 * with MPI_Iallreduce in a fixed order (last bucket first), so communication of the decoder
 * and heads overlaps the backward pass of the experts. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hardy/common.h"
#include "hardy/dist.h"

int hardy_grad_sync_init(hardy_grad_sync_t *s, float *buf, size_t n, double bucket_bytes,
                         int blocking, MPI_Comm comm) {
  memset(s, 0, sizeof *s);
  s->comm = comm;
  s->buf = buf;
  s->n = n;
  int size = 1;
  MPI_Comm_size(comm, &size);
  s->blocking = blocking || size == 1; /* one rank: nothing to sum */
  size_t per = (size_t)(bucket_bytes / sizeof(float));
  if (per < 1024) per = 1024;
  s->n_bucket = n ? (n + per - 1) / per : 0;
  s->bucket_start = hardy_malloc((s->n_bucket + 1) * sizeof(size_t), "gradient buckets");
  s->ready = hardy_calloc(s->n_bucket + 1, sizeof(size_t), "gradient buckets");
  s->req = hardy_malloc((s->n_bucket + 1) * sizeof(MPI_Request), "gradient buckets");
  if (!s->bucket_start || !s->ready || !s->req) return HARDY_ERR_RUNTIME;
  for (size_t b = 0; b <= s->n_bucket; b++) s->bucket_start[b] = HARDY_MIN(b * per, n);
  for (size_t b = 0; b < s->n_bucket; b++) s->req[b] = MPI_REQUEST_NULL;
  return HARDY_OK;
}

void hardy_grad_sync_free(hardy_grad_sync_t *s) {
  free(s->bucket_start);
  free(s->ready);
  free(s->req);
  memset(s, 0, sizeof *s);
}

static size_t bucket_len(const hardy_grad_sync_t *s, size_t b) {
  return s->bucket_start[b + 1] - s->bucket_start[b];
}

/* Start buckets in order (last first) while the next one is complete. */
static void start_ready(hardy_grad_sync_t *s) {
  while (s->next < s->n_bucket) {
    size_t b = s->n_bucket - 1 - s->next;
    if (s->ready[b] < bucket_len(s, b)) break;
    MPI_Iallreduce(MPI_IN_PLACE, s->buf + s->bucket_start[b], (int)bucket_len(s, b), MPI_FLOAT,
                   MPI_SUM, s->comm, &s->req[b]);
    s->next++;
  }
}

/* 1 if any of x[0..n) is NaN or +-Inf (a NaN fails every comparison); branch-free so it
 * vectorises. */
static int any_nonfinite(const float *x, size_t n) {
  int hit = 0;
  for (size_t i = 0; i < n; i++) hit |= !(fabsf(x[i]) <= FLT_MAX);
  return hit;
}

void hardy_grad_sync_ready(void *sync, size_t first, size_t end) {
  hardy_grad_sync_t *s = sync;
  /* before the range is sent: after the sum a NaN no longer says which rank produced it */
  if (end > first && any_nonfinite(s->buf + first, end - first)) s->local_nonfinite = 1;
  if (s->blocking || first >= end) return;
  size_t per = s->bucket_start[1] - s->bucket_start[0];
  for (size_t b = first / per; b < s->n_bucket && s->bucket_start[b] < end; b++) {
    size_t lo = HARDY_MAX(first, s->bucket_start[b]), hi = HARDY_MIN(end, s->bucket_start[b + 1]);
    if (hi > lo) s->ready[b] += hi - lo;
  }
  start_ready(s);
  /* Let Open MPI progress the started reductions while backward continues. */
  int flag;
  if (s->next > 0) MPI_Testall((int)s->n_bucket, s->req, &flag, MPI_STATUSES_IGNORE);
}

int hardy_grad_sync_finish(hardy_grad_sync_t *s) {
  double t0 = hardy_now();
  int size = 1;
  MPI_Comm_size(s->comm, &size);
  s->sum_nonfinite = s->local_nonfinite; /* the sum when there is one rank */
  s->local_nonfinite = 0;
  if (size == 1) return HARDY_OK;
  if (s->blocking) {
    HARDY_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, s->buf, (int)s->n, MPI_FLOAT, MPI_SUM, s->comm));
  } else {
    for (size_t b = 0; b < s->n_bucket; b++) s->ready[b] = bucket_len(s, b);
    start_ready(s);
    HARDY_MPI_CHECK(MPI_Waitall((int)s->n_bucket, s->req, MPI_STATUSES_IGNORE));
  }
  memset(s->ready, 0, s->n_bucket * sizeof(size_t));
  s->next = 0;
  /* identical on every rank (every rank holds the same sum): catches an overflow of the sum */
  s->sum_nonfinite = any_nonfinite(s->buf, s->n);
  s->t_wait += hardy_now() - t0;
  return HARDY_OK;
}
