/* Gradient summation: the bucketed non-blocking path equals the blocking reference (bitwise:
 * same data, same reduction per element) and the exact sum, whatever order ranges are marked
 * ready in, including ranges that straddle buckets and a rank that marks everything at once. */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "hardy/common.h"
#include "hardy/dist.h"
#include "hardy/rng.h"

static void fill(float *g, size_t n, int rank) {
  for (size_t i = 0; i < n; i++) g[i] = (float)((int)(i % 97) - 48) * 0.25f + (float)rank;
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  const size_t n = 100003; /* not a multiple of the bucket */
  float *a = malloc(n * sizeof(float)), *b = malloc(n * sizeof(float));
  for (int trial = 0; trial < 3; trial++) {
    hardy_grad_sync_t sb, sr;
    TEST_EQ_INT(hardy_grad_sync_init(&sb, a, n, 4096.0 * 4 + 123 * 4, 0, MPI_COMM_WORLD), 0);
    TEST_EQ_INT(hardy_grad_sync_init(&sr, b, n, 0, 1, MPI_COMM_WORLD), 0);
    fill(a, n, rank);
    fill(b, n, rank);
    /* ranks mark ranges in different orders and granularities */
    size_t chunk = 1000 + 777 * (size_t)((rank + trial) % 3);
    if ((rank + trial) % 2 == 0) {
      for (size_t hi = n; hi > 0;) {
        size_t lo = hi > chunk ? hi - chunk : 0;
        hardy_grad_sync_ready(&sb, lo, hi);
        hi = lo;
      }
    } else if (rank == size - 1) {
      hardy_grad_sync_ready(&sb, 0, n);
    } else {
      for (size_t lo = 0; lo < n; lo += chunk) hardy_grad_sync_ready(&sb, lo, HARDY_MIN(n, lo + chunk));
    }
    TEST_EQ_INT(hardy_grad_sync_finish(&sb), 0);
    TEST_EQ_INT(hardy_grad_sync_finish(&sr), 0);
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
      float expect = 0;
      for (int r = 0; r < size; r++) expect += (float)((int)(i % 97) - 48) * 0.25f + (float)r;
      if (a[i] != b[i] || a[i] != expect) bad++;
    }
    TEST_ASSERT(bad == 0, "trial %d: %zu of %zu elements differ from the reference sum", trial, bad, n);
    hardy_grad_sync_free(&sb);
    hardy_grad_sync_free(&sr);
  }
  free(a), free(b);
  int rc = hardy_test_finish("test_dist_grad");
  MPI_Finalize();
  return rc;
}
