/* Threads per rank: the pure rule over placements this machine cannot produce (64-core nodes,
 * two sockets, bound and unbound ranks, explicit settings), then hardy_placement_apply on the
 * real masks at 1-4 ranks: unbound (every rank sees every CPU, so CPUs / ranks on the node) and
 * bound one CPU per rank with sched_setaffinity (ranks overlap only where they share a CPU). */
#define _GNU_SOURCE
#include <omp.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "hardy/placement.h"
#include "harness.h"

#define MAX_RANKS 128
#define MASK_BYTES 16 /* 128 CPUs */

static unsigned char masks[MAX_RANKS * MASK_BYTES];

/* rank r's mask = CPUs [first, first + count) */
static void set_range(int r, int first, int count) {
  unsigned char *m = masks + (size_t)r * MASK_BYTES;
  memset(m, 0, MASK_BYTES);
  for (int c = first; c < first + count; c++)
    m[c / 8] |= (unsigned char)(1u << (c % 8));
}

/* threads of rank `me` among n ranks with the masks set above */
static int threads_of(int n, int me, int explicit_threads, int *sharing) {
  *sharing = hardy_placement_sharing(masks, n, MASK_BYTES, me);
  int cpus = 0;
  for (int b = 0; b < MASK_BYTES; b++)
    cpus += __builtin_popcount(masks[me * MASK_BYTES + b]);
  return hardy_placement_threads(cpus, *sharing, explicit_threads);
}

static void test_rule(void) {
  int sh;
  /* 64 unbound ranks on a 64-core node: 1 thread each (not 64 x 64) */
  for (int r = 0; r < 64; r++)
    set_range(r, 0, 64);
  TEST_EQ_INT(threads_of(64, 17, 0, &sh), 1);
  TEST_EQ_INT(sh, 64);
  /* 4 unbound ranks on 64 cores: 16 each; 5 ranks on 48 cores: 9 (floor) */
  TEST_EQ_INT(threads_of(4, 3, 0, &sh), 16);
  for (int r = 0; r < 5; r++)
    set_range(r, 0, 48);
  TEST_EQ_INT(threads_of(5, 0, 0, &sh), 9);
  /* two 32-core sockets, 2 ranks bound to each: 16 each, sharing only within a socket */
  for (int r = 0; r < 4; r++)
    set_range(r, r < 2 ? 0 : 32, 32);
  TEST_EQ_INT(threads_of(4, 2, 0, &sh), 16);
  TEST_EQ_INT(sh, 2);
  /* bound to one core each: 1 thread, nobody shares */
  for (int r = 0; r < 64; r++)
    set_range(r, r, 1);
  TEST_EQ_INT(threads_of(64, 40, 0, &sh), 1);
  TEST_EQ_INT(sh, 1);
  /* bound to 8-core blocks, 8 ranks: 8 threads each */
  for (int r = 0; r < 8; r++)
    set_range(r, 8 * r, 8);
  TEST_EQ_INT(threads_of(8, 5, 0, &sh), 8);
  /* this workstation: 2 CPUs, 1 / 2 / 3 unbound ranks -> 2 / 1 / 1 */
  for (int r = 0; r < 3; r++)
    set_range(r, 0, 2);
  TEST_EQ_INT(threads_of(1, 0, 0, &sh), 2);
  TEST_EQ_INT(threads_of(2, 1, 0, &sh), 1);
  TEST_EQ_INT(threads_of(3, 2, 0, &sh), 1);
  /* overlapping masks that are not equal: rank 1 [4,12) overlaps rank 0 [0,8) and 2 [8,16) */
  set_range(0, 0, 8), set_range(1, 4, 8), set_range(2, 8, 8);
  TEST_EQ_INT(threads_of(3, 1, 0, &sh), 2);
  TEST_EQ_INT(sh, 3);
  TEST_EQ_INT(threads_of(3, 0, 0, &sh), 4);
  /* an explicit setting wins, even when it oversubscribes */
  TEST_EQ_INT(threads_of(3, 0, 6, &sh), 6);
  /* an empty mask counts only itself and still gets one thread */
  memset(masks, 0, MASK_BYTES);
  TEST_EQ_INT(threads_of(3, 0, 0, &sh), 1);
  TEST_EQ_INT(sh, 1);
  TEST_EQ_INT(hardy_placement_threads(0, 0, 0), 1);
}

static void test_apply(int nranks, int rank) {
  cpu_set_t saved;
  TEST_ASSERT(sched_getaffinity(0, sizeof saved, &saved) == 0, "sched_getaffinity");
  int ncpu = CPU_COUNT(&saved);
  unsetenv("OMP_NUM_THREADS");
  hardy_placement_t p;
  /* unbound (mpirun --bind-to none): every rank sees the node's CPUs */
  TEST_EQ_INT(hardy_placement_apply(0, MPI_COMM_WORLD, &p), 0);
  TEST_EQ_INT(p.source, HARDY_THREADS_AUTO);
  TEST_EQ_INT(p.cpus, ncpu);
  TEST_EQ_INT(p.ranks_sharing, nranks);
  TEST_EQ_INT(p.threads, ncpu / nranks > 0 ? ncpu / nranks : 1);
  TEST_EQ_INT(omp_get_max_threads(), p.threads);
  TEST_EQ_INT(p.n_nodes, 1);
  TEST_EQ_INT(p.ranks_per_node_max, nranks);
  TEST_EQ_INT(p.node_cpus_max, ncpu);
  TEST_EQ_INT(p.n_oversubscribed_nodes, nranks > ncpu ? 1 : 0);
  /* bound one CPU per rank, round robin: ranks on the same CPU share it */
  cpu_set_t one;
  CPU_ZERO(&one);
  int n_cpu_slots = 0, mine = -1;
  for (int c = 0; c < CPU_SETSIZE; c++)
    if (CPU_ISSET(c, &saved) && n_cpu_slots++ == rank % ncpu)
      mine = c;
  CPU_SET(mine, &one);
  TEST_ASSERT(sched_setaffinity(0, sizeof one, &one) == 0, "sched_setaffinity cpu %d", mine);
  TEST_EQ_INT(hardy_placement_apply(0, MPI_COMM_WORLD, &p), 0);
  int same_cpu = nranks / ncpu + (rank % ncpu < nranks % ncpu ? 1 : 0);
  TEST_EQ_INT(p.cpus, 1);
  TEST_EQ_INT(p.ranks_sharing, same_cpu);
  TEST_EQ_INT(p.threads, 1);
  TEST_EQ_INT(p.node_cpus_max, nranks < ncpu ? nranks : ncpu);
  TEST_EQ_INT(p.n_oversubscribed_nodes, nranks > ncpu ? 1 : 0);
  sched_setaffinity(0, sizeof saved, &saved);
  /* run.threads wins; then OMP_NUM_THREADS (as the runtime holds it) */
  TEST_EQ_INT(hardy_placement_apply(3, MPI_COMM_WORLD, &p), 0);
  TEST_EQ_INT(p.source, HARDY_THREADS_CONFIG);
  TEST_EQ_INT(p.threads, 3);
  TEST_EQ_INT(omp_get_max_threads(), 3);
  TEST_EQ_INT(p.n_oversubscribed_nodes, 3 * nranks > ncpu ? 1 : 0);
  setenv("OMP_NUM_THREADS", "3", 1);
  TEST_EQ_INT(hardy_placement_apply(0, MPI_COMM_WORLD, &p), 0);
  TEST_EQ_INT(p.source, HARDY_THREADS_ENV);
  TEST_EQ_INT(p.threads, omp_get_max_threads());
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int nranks, rank;
  MPI_Comm_size(MPI_COMM_WORLD, &nranks);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  test_rule();
  test_apply(nranks, rank);
  int rc = hardy_test_finish("test_placement");
  MPI_Finalize();
  return rc;
}
