/* The flat parameter and gradient arena: tensors are registered with names and shapes, then
 * one 64-byte aligned allocation each holds every parameter and every gradient, so an
 * allreduce, an optimiser step or a checkpoint touches one buffer. */
#include <stdlib.h>
#include <string.h>

#include "hardy/common.h"
#include "hardy/nn.h"

#define ARENA_ALIGN_FLOATS 16 /* 64 bytes */

size_t hardy_nn_arena_add(hardy_nn_arena_t *a, const char *name, int64_t rows, int64_t cols) {
  if (a->params) {
    hardy_fail(HARDY_ERR_RUNTIME, "nn arena: tensor '%s' added after allocation", name);
    return (size_t)-1;
  }
  if (a->n_tensors == a->cap_tensors) {
    size_t cap = a->cap_tensors ? 2 * a->cap_tensors : 64;
    hardy_nn_tensor_t *t = realloc(a->tensors, cap * sizeof *t);
    if (!t) {
      hardy_fail(HARDY_ERR_RUNTIME, "out of memory registering tensor '%s'", name);
      return (size_t)-1;
    }
    a->tensors = t;
    a->cap_tensors = cap;
  }
  hardy_nn_tensor_t *t = &a->tensors[a->n_tensors++];
  memset(t, 0, sizeof *t);
  strncpy(t->name, name, sizeof t->name - 1);
  t->offset = a->n_params;
  t->rank = cols > 0 ? 2 : 1;
  t->shape[0] = rows;
  t->shape[1] = cols > 0 ? cols : 0;
  size_t count = (size_t)rows * (size_t)(cols > 0 ? cols : 1);
  a->n_params += (count + ARENA_ALIGN_FLOATS - 1) / ARENA_ALIGN_FLOATS * ARENA_ALIGN_FLOATS;
  return t->offset;
}

int hardy_nn_arena_alloc(hardy_nn_arena_t *a) {
  size_t bytes = (a->n_params ? a->n_params : ARENA_ALIGN_FLOATS) * sizeof(float);
  a->params = hardy_aligned_alloc(bytes, "parameter arena");
  a->grads = hardy_aligned_alloc(bytes, "gradient arena");
  if (!a->params || !a->grads) {
    hardy_nn_arena_free(a);
    return HARDY_ERR_RUNTIME;
  }
  memset(a->params, 0, bytes);
  memset(a->grads, 0, bytes);
  return HARDY_OK;
}

void hardy_nn_arena_free(hardy_nn_arena_t *a) {
  free(a->params);
  free(a->grads);
  free(a->tensors);
  memset(a, 0, sizeof *a);
}
