/* Hybrid placement: how many OpenMP (and OpenBLAS) threads each rank runs. With neither
 * run.threads nor OMP_NUM_THREADS set, a rank takes the CPUs of its affinity mask divided by
 * the ranks on its node whose masks overlap it (so `mpirun -n 64` on a 64-core node gives one
 * thread per rank, and `--bind-to socket` with 2 ranks per socket gives half a socket each).
 * Rank 0 logs the placement and warns, naming the node, where ranks x threads exceed the CPUs
 * the node's ranks may run on. */
#ifndef HARDY_PLACEMENT_H
#define HARDY_PLACEMENT_H

#include <mpi.h>
#include <stddef.h>

/* Where a rank's thread count came from. */
typedef enum {
  HARDY_THREADS_AUTO = 0,   /* CPUs of the affinity mask / ranks sharing them */
  HARDY_THREADS_CONFIG = 1, /* run.threads */
  HARDY_THREADS_ENV = 2,    /* OMP_NUM_THREADS */
} hardy_threads_source_t;

typedef struct {
  int threads;       /* threads this rank runs (OpenMP and OpenBLAS) */
  int cpus;          /* logical CPUs in this rank's affinity mask */
  int ranks_sharing; /* ranks on this node whose masks overlap this rank's, itself included */
  hardy_threads_source_t source;
  /* the same on every rank of comm: */
  int n_nodes;
  int ranks_per_node_min, ranks_per_node_max;
  int node_cpus_min, node_cpus_max; /* CPUs in the union of a node's ranks' masks */
  int threads_min, threads_max;
  int n_oversubscribed_nodes; /* nodes where the ranks' threads add up to more than its CPUs */
} hardy_placement_t;

/* Threads for one rank: `explicit_threads` when > 0, else cpus / ranks_sharing, at least 1.
 * Pure. */
int hardy_placement_threads(int cpus, int ranks_sharing, int explicit_threads);

/* Of n_ranks CPU masks (each mask_bytes long, packed one after another), how many overlap
 * mask `me` (itself included; a rank with an empty mask counts only itself). Pure. */
int hardy_placement_sharing(const unsigned char *masks, int n_ranks, size_t mask_bytes, int me);

/* Choose and set this rank's threads (omp_set_num_threads, and openblas_set_num_threads when
 * the BLAS is OpenBLAS): run_threads > 0 wins, then OMP_NUM_THREADS, then the affinity rule
 * above. Rank 0 logs the placement and warns on oversubscribed nodes. `out` may be NULL.
 * Collective over comm (a node split of comm, one allgather on it, one gather to rank 0). */
int hardy_placement_apply(int run_threads, MPI_Comm comm, hardy_placement_t *out);

#endif
