/* Sharded optimiser state (ZeRO stage 1) against the replicated reference at 1-4 ranks: N Adam
 * steps of reduce-scatter + Adam on the rank's slice + allgather give the same parameters as
 * allreduce + Adam on every parameter. With gradients that are small multiples of 1/16 the sums
 * are exact in any order, so the two must agree bitwise; with random gradients they agree within
 * rounding (1e-6 absolute on parameters of size ~1 after 20 steps at lr 1e-2). Sizes include
 * fewer parameters than ranks (empty slices) and counts not divisible by the ranks. */
#include <stdlib.h>
#include <string.h>

#include "hardy/common.h"
#include "hardy/dist.h"
#include "hardy/nn.h"
#include "hardy/rng.h"
#include "harness.h"

#define STEPS 20

static float grad_of(int exact, int rank, int step, size_t i) {
  if (exact)
    return (float)((int)((rank * 7 + i * 3 + (size_t)step * 5) % 17) - 8) / 16.0f;
  uint64_t key = hardy_rng_key(11, HARDY_RNG_TEST_DATA);
  return (float)(2.0 * hardy_rng_uniform(key, (uint64_t)rank * 1000003u + (uint64_t)step, i) - 1.0);
}

static void run(size_t n, int exact, int rank) {
  float *p_rep = malloc(n * sizeof(float)), *p_sh = malloc(n * sizeof(float));
  float *g = malloc(n * sizeof(float)), *m = calloc(n, sizeof(float)),
        *v = calloc(n, sizeof(float));
  float *m_whole = malloc(n * sizeof(float));
  hardy_zero_t z;
  TEST_EQ_INT(hardy_zero_init(&z, n, MPI_COMM_WORLD), 0);
  float *ms = calloc(z.count + 1, sizeof(float)), *vs = calloc(z.count + 1, sizeof(float));
  float *gs = calloc(z.count + 1, sizeof(float));
  for (size_t i = 0; i < n; i++)
    p_rep[i] = p_sh[i] = (float)i / (float)n - 0.5f;
  for (int s = 1; s <= STEPS; s++) {
    for (size_t i = 0; i < n; i++)
      g[i] = grad_of(exact, rank, s, i);
    MPI_Allreduce(MPI_IN_PLACE, g, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    hardy_nn_adam_step(p_rep, g, m, v, n, 1e-2f, 0.9f, 0.999f, 1e-8f, 1e-4f, s);
    for (size_t i = 0; i < n; i++)
      g[i] = grad_of(exact, rank, s, i);
    TEST_EQ_INT(hardy_zero_reduce_scatter(&z, g, gs), 0);
    if (z.count)
      hardy_nn_adam_step(p_sh + z.first, gs, ms, vs, z.count, 1e-2f, 0.9f, 0.999f, 1e-8f, 1e-4f, s);
    TEST_EQ_INT(hardy_zero_allgather(&z, p_sh), 0);
  }
  TEST_EQ_INT(hardy_zero_gather_full(&z, ms, m_whole), 0);
  double dp = 0, dm = 0;
  for (size_t i = 0; i < n; i++) {
    dp = fmax(dp, fabs((double)p_rep[i] - p_sh[i]));
    dm = fmax(dm, fabs((double)m[i] - m_whole[i]));
  }
  if (exact) {
    TEST_ASSERT(!memcmp(p_rep, p_sh, n * sizeof(float)), "n=%zu exact sums: params differ by %.3g",
                n, dp);
    TEST_ASSERT(!memcmp(m, m_whole, n * sizeof(float)), "n=%zu exact sums: m differs by %.3g", n,
                dm);
  } else {
    TEST_NEAR(dp, 0.0, 1e-6, 0.0);
    TEST_NEAR(dm, 0.0, 1e-6, 0.0);
  }
  size_t total = 0;
  for (int r = 0; r < z.nranks; r++)
    total += (size_t)z.counts[r];
  TEST_EQ_INT(total, n);
  hardy_zero_free(&z);
  free(p_rep), free(p_sh), free(g), free(m), free(v), free(m_whole), free(ms), free(vs), free(gs);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  size_t sizes[] = {3, 1000, 10007};
  for (int e = 0; e < 2; e++)
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++)
      run(sizes[k], 1 - e, rank);
  int rc = hardy_test_finish("test_zero");
  MPI_Finalize();
  return rc;
}
