/* Sharded optimiser state (ZeRO stage 1): a balanced partition of the flat parameter buffer,
 * the reduce-scatter that hands each rank the summed gradient of its slice, and the allgather
 * that returns the updated slices to every rank. Reduce-scatter + allgather move the same
 * bytes as one ring allreduce; the optimiser's work and state per rank fall to 1/R. */
#include <stdlib.h>
#include <string.h>

#include "hardy/common.h"
#include "hardy/dist.h"

int hardy_zero_init(hardy_zero_t *z, size_t n, MPI_Comm comm) {
  memset(z, 0, sizeof *z);
  z->comm = comm;
  z->n = n;
  MPI_Comm_rank(comm, &z->rank);
  MPI_Comm_size(comm, &z->nranks);
  if (n > (size_t)INT32_MAX)
    return hardy_fail(HARDY_ERR_INPUT,
                      "sharded optimiser: %zu parameters exceed MPI's int "
                      "counts; set train.optimizer_shard = false",
                      n);
  z->counts = hardy_malloc(sizeof(int) * (size_t)z->nranks, "optimiser slices");
  z->displs = hardy_malloc(sizeof(int) * (size_t)z->nranks, "optimiser slices");
  if (!z->counts || !z->displs)
    return HARDY_ERR_RUNTIME;
  for (int r = 0; r < z->nranks; r++) {
    size_t lo = n * (size_t)r / (size_t)z->nranks, hi = n * (size_t)(r + 1) / (size_t)z->nranks;
    z->displs[r] = (int)lo;
    z->counts[r] = (int)(hi - lo);
  }
  z->first = (size_t)z->displs[z->rank];
  z->count = (size_t)z->counts[z->rank];
  return HARDY_OK;
}

void hardy_zero_free(hardy_zero_t *z) {
  free(z->counts), free(z->displs);
  memset(z, 0, sizeof *z);
}

int hardy_zero_reduce_scatter(const hardy_zero_t *z, const float *grads, float *grad_slice) {
  if (z->nranks == 1) {
    memcpy(grad_slice, grads, z->n * sizeof(float));
    return HARDY_OK;
  }
  HARDY_MPI_CHECK(MPI_Reduce_scatter(grads, grad_slice, z->counts, MPI_FLOAT, MPI_SUM, z->comm));
  return HARDY_OK;
}

int hardy_zero_allgather(const hardy_zero_t *z, float *buf) {
  if (z->nranks == 1)
    return HARDY_OK;
  HARDY_MPI_CHECK(MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, buf, z->counts, z->displs,
                                 MPI_FLOAT, z->comm));
  return HARDY_OK;
}

int hardy_zero_gather_full(const hardy_zero_t *z, const float *slice, float *full) {
  memcpy(full + z->first, slice, z->count * sizeof(float));
  return hardy_zero_allgather(z, full);
}
