/* Hybrid placement: threads per rank from the affinity masks of the ranks on each node, and
 * the rank-0 report of the placement (see placement.h). The rule is a pure function
 * (hardy_placement_threads, hardy_placement_sharing) so tests can check it for placements this
 * machine cannot produce; hardy_placement_apply gathers the masks and sets the runtimes. */
#define _GNU_SOURCE /* cpu_set_t, sched_getaffinity */
#include "hardy/placement.h"

#include <omp.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hardy/blas.h"
#include "hardy/common.h"
#include "hardy/log.h"

int hardy_placement_threads(int cpus, int ranks_sharing, int explicit_threads) {
  if (explicit_threads > 0)
    return explicit_threads;
  if (ranks_sharing < 1)
    ranks_sharing = 1;
  int t = cpus / ranks_sharing;
  return t >= 1 ? t : 1;
}

static int masks_overlap(const unsigned char *a, const unsigned char *b, size_t bytes) {
  for (size_t i = 0; i < bytes; i++)
    if (a[i] & b[i])
      return 1;
  return 0;
}

int hardy_placement_sharing(const unsigned char *masks, int n_ranks, size_t mask_bytes, int me) {
  const unsigned char *mine = masks + (size_t)me * mask_bytes;
  int n = 1; /* itself, even with an empty mask */
  for (int r = 0; r < n_ranks; r++)
    if (r != me && masks_overlap(mine, masks + (size_t)r * mask_bytes, mask_bytes))
      n++;
  return n;
}

/* This process's CPUs; without an affinity mask (or on failure), all online CPUs. */
static void own_mask(cpu_set_t *set) {
  CPU_ZERO(set);
  if (sched_getaffinity(0, sizeof *set, set) == 0 && CPU_COUNT(set) > 0)
    return;
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  CPU_ZERO(set);
  for (long c = 0; c < n && c < CPU_SETSIZE; c++)
    CPU_SET((int)c, set);
}

/* Explicit thread count and its source: run.threads, then OMP_NUM_THREADS (as the OpenMP
 * runtime parsed it), else 0 (choose from the masks). */
static int explicit_threads(int run_threads, hardy_threads_source_t *source) {
  const char *env = getenv("OMP_NUM_THREADS");
  if (run_threads > 0) {
    *source = HARDY_THREADS_CONFIG;
    return run_threads;
  }
  if (env && *env) {
    *source = HARDY_THREADS_ENV;
    return omp_get_max_threads();
  }
  *source = HARDY_THREADS_AUTO;
  return 0;
}

typedef struct {
  int node_rank, node_size, node_cpus, node_threads;
  char host[64];
} node_record_t;

/* Rank 0 names the nodes whose ranks' threads exceed its CPUs (at most 8, then a count). */
static int warn_oversubscribed(const node_record_t *mine, int n_over, MPI_Comm comm) {
  int rank, size;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  node_record_t *all = NULL;
  int st = HARDY_OK;
  if (rank == 0 && !(all = hardy_malloc(sizeof *all * (size_t)size, "placement records")))
    st = HARDY_ERR_RUNTIME;
  HARDY_CHECK(hardy_agree(st, comm));
  HARDY_MPI_CHECK(
      MPI_Gather(mine, (int)sizeof *mine, MPI_BYTE, all, (int)sizeof *mine, MPI_BYTE, 0, comm));
  if (rank == 0) {
    int named = 0;
    for (int r = 0; r < size && named < 8; r++) {
      const node_record_t *n = &all[r];
      if (n->node_rank != 0 || n->node_threads <= n->node_cpus)
        continue;
      hardy_log_warn("node %s: %d rank(s) run %d threads in all on %d CPU(s): oversubscribed, "
                     "each thread gets about %.2f of a CPU. Start fewer ranks per node, bind "
                     "them (mpirun --bind-to core|socket, srun --cpus-per-task), or lower "
                     "run.threads / OMP_NUM_THREADS.",
                     n->host, n->node_size, n->node_threads, n->node_cpus,
                     (double)n->node_cpus / n->node_threads);
      named++;
    }
    if (n_over > named)
      hardy_log_warn("... and %d more oversubscribed node(s)", n_over - named);
  }
  free(all);
  return HARDY_OK;
}

static const char *source_name(hardy_threads_source_t s) {
  return s == HARDY_THREADS_CONFIG ? "run.threads"
         : s == HARDY_THREADS_ENV  ? "OMP_NUM_THREADS"
                                   : "automatic";
}

int hardy_placement_apply(int run_threads, MPI_Comm comm, hardy_placement_t *out) {
  hardy_placement_t p;
  memset(&p, 0, sizeof p);
  cpu_set_t mask;
  own_mask(&mask);
  p.cpus = CPU_COUNT(&mask);

  int rank;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm node;
  HARDY_MPI_CHECK(MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node));
  int node_rank, node_size;
  MPI_Comm_rank(node, &node_rank);
  MPI_Comm_size(node, &node_size);
  unsigned char *masks = hardy_malloc(sizeof mask * (size_t)node_size, "node affinity masks");
  int st = hardy_agree(masks ? HARDY_OK : HARDY_ERR_RUNTIME, comm);
  if (st == HARDY_OK && MPI_Allgather(&mask, (int)sizeof mask, MPI_BYTE, masks, (int)sizeof mask,
                                      MPI_BYTE, node) != MPI_SUCCESS)
    st = hardy_fail(HARDY_ERR_RUNTIME, "placement: allgather of affinity masks failed");
  int node_cpus = 0;
  if (st == HARDY_OK) {
    p.ranks_sharing = hardy_placement_sharing(masks, node_size, sizeof mask, node_rank);
    cpu_set_t all;
    CPU_ZERO(&all);
    for (int r = 0; r < node_size; r++) {
      cpu_set_t m;
      memcpy(&m, masks + (size_t)r * sizeof mask, sizeof m);
      CPU_OR(&all, &all, &m);
    }
    node_cpus = CPU_COUNT(&all);
  }
  free(masks);
  if (st != HARDY_OK) {
    MPI_Comm_free(&node);
    return st;
  }

  p.threads =
      hardy_placement_threads(p.cpus, p.ranks_sharing, explicit_threads(run_threads, &p.source));
  if (p.source != HARDY_THREADS_ENV)
    omp_set_num_threads(p.threads);
  hardy_blas_set_threads(p.threads);

  node_record_t rec;
  memset(&rec, 0, sizeof rec);
  rec.node_rank = node_rank;
  rec.node_size = node_size;
  rec.node_cpus = node_cpus;
  MPI_Allreduce(&p.threads, &rec.node_threads, 1, MPI_INT, MPI_SUM, node);
  MPI_Comm_free(&node);
  char host[MPI_MAX_PROCESSOR_NAME];
  int len = 0;
  MPI_Get_processor_name(host, &len);
  memcpy(rec.host, host, HARDY_MIN((size_t)len, sizeof rec.host - 1)); /* rec is zeroed */

  /* max of (-x, x) pairs gives min and max in one reduction */
  int mx[6] = {-node_size, node_size, -node_cpus, node_cpus, -p.threads, p.threads};
  int sum[2] = {node_rank == 0, node_rank == 0 && rec.node_threads > node_cpus};
  HARDY_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, mx, 6, MPI_INT, MPI_MAX, comm));
  HARDY_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, sum, 2, MPI_INT, MPI_SUM, comm));
  p.ranks_per_node_min = -mx[0], p.ranks_per_node_max = mx[1];
  p.node_cpus_min = -mx[2], p.node_cpus_max = mx[3];
  p.threads_min = -mx[4], p.threads_max = mx[5];
  p.n_nodes = sum[0];
  p.n_oversubscribed_nodes = sum[1];

  char rpn[32], cpn[32], tpr[32];
  snprintf(rpn, sizeof rpn, p.ranks_per_node_min == p.ranks_per_node_max ? "%d" : "%d-%d",
           p.ranks_per_node_min, p.ranks_per_node_max);
  snprintf(cpn, sizeof cpn, p.node_cpus_min == p.node_cpus_max ? "%d" : "%d-%d", p.node_cpus_min,
           p.node_cpus_max);
  snprintf(tpr, sizeof tpr, p.threads_min == p.threads_max ? "%d" : "%d-%d", p.threads_min,
           p.threads_max);
  hardy_log_info("placement: %d node(s), %s rank(s) per node, %s CPU(s) per node, %s thread(s) "
                 "per rank (%s%s; rank 0: %d CPU(s) in its mask shared by %d rank(s))",
                 p.n_nodes, rpn, cpn, tpr, source_name(p.source),
                 p.source == HARDY_THREADS_AUTO ? ": mask CPUs / ranks sharing them" : "", p.cpus,
                 p.ranks_sharing);
  if (p.n_oversubscribed_nodes > 0)
    HARDY_CHECK(warn_oversubscribed(&rec, p.n_oversubscribed_nodes, comm));
  if (out)
    *out = p;
  return HARDY_OK;
}
