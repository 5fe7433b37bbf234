/* The bridge from the model to a checkpoint's tensor index, kept in its own file so that the
 * rest of the checkpoint module links without the model (the static library only pulls this
 * object in when a caller uses it). */
#include <stdlib.h>

#include "hardy/checkpoint.h"
#include "hardy/common.h"

int hardy_ckpt_model_index(const hardy_model_t *m, hardy_tensor_info_t **tensors,
                           size_t *n_tensors) {
  size_t n = hardy_model_num_tensors(m);
  *tensors = hardy_malloc(n * sizeof **tensors, "checkpoint tensor index");
  *n_tensors = 0;
  if (!*tensors) return HARDY_ERR_RUNTIME;
  for (size_t i = 0; i < n; i++) (*tensors)[i] = hardy_model_tensor(m, i);
  *n_tensors = n;
  return HARDY_OK;
}
