/* Sharded optimiser state for a trainee (train module): with train.optimizer_shard each rank
 * keeps Adam's m and v only for its 1/R slice of the flat parameters (hardy_zero_t), receives
 * that slice's summed gradient by reduce-scatter, updates it, and allgathers the parameters.
 * Checkpoints stay in the replicated format (whole m and v, gathered at save time and sliced
 * again at load), so they are exact and resume at any rank count with either optimiser. */
#include <stdlib.h>
#include <string.h>

#include "hardy/common.h"
#include "hardy/nn.h"
#include "train_internal.h"

int trainee_opt_alloc(trainee_t *t, bool sharded, MPI_Comm comm) {
  size_t n = hardy_model_num_params(t->model), len = n;
  t->sharded = sharded;
  if (sharded) {
    HARDY_CHECK(hardy_zero_init(&t->zero, n, comm));
    len = t->zero.count;
    t->zero_grad = hardy_calloc(HARDY_MAX(len, 1), sizeof(float), "gradient slice");
    if (!t->zero_grad)
      return HARDY_ERR_RUNTIME;
  }
  t->adam_m = hardy_calloc(HARDY_MAX(len, 1), sizeof(float), "Adam first moments");
  t->adam_v = hardy_calloc(HARDY_MAX(len, 1), sizeof(float), "Adam second moments");
  t->adam_step = 0;
  return t->adam_m && t->adam_v ? HARDY_OK : HARDY_ERR_RUNTIME;
}

void trainee_opt_free(trainee_t *t) {
  free(t->adam_m), free(t->adam_v), free(t->zero_grad);
  t->adam_m = t->adam_v = t->zero_grad = NULL;
  if (t->sharded)
    hardy_zero_free(&t->zero);
}

/* New whole-size m and v buffers. */
static int whole_bufs(const trainee_t *t, float **m, float **v) {
  *m = hardy_malloc(t->zero.n * sizeof(float), "whole Adam moments (checkpoint)");
  *v = *m ? hardy_malloc(t->zero.n * sizeof(float), "whole Adam moments (checkpoint)") : NULL;
  if (*v)
    return HARDY_OK;
  free(*m);
  *m = NULL;
  return HARDY_ERR_RUNTIME;
}

int trainee_opt_whole(trainee_t *t, float **m, float **v) {
  *m = t->adam_m, *v = t->adam_v;
  if (!t->sharded)
    return HARDY_OK;
  HARDY_CHECK(hardy_agree(whole_bufs(t, m, v), t->zero.comm));
  int st = hardy_zero_gather_full(&t->zero, t->adam_m, *m);
  if (st == HARDY_OK)
    st = hardy_zero_gather_full(&t->zero, t->adam_v, *v);
  if (st != HARDY_OK)
    trainee_opt_release(t, *m, *v);
  return st;
}

void trainee_opt_release(const trainee_t *t, float *m, float *v) {
  if (t->sharded)
    free(m), free(v);
}

int trainee_opt_read_bufs(trainee_t *t, float **m, float **v) {
  *m = t->adam_m, *v = t->adam_v;
  return t->sharded ? whole_bufs(t, m, v) : HARDY_OK;
}

void trainee_opt_adopt(trainee_t *t, float *m, float *v) {
  if (!t->sharded)
    return;
  memcpy(t->adam_m, m + t->zero.first, t->zero.count * sizeof(float));
  memcpy(t->adam_v, v + t->zero.first, t->zero.count * sizeof(float));
  free(m), free(v);
}

int trainee_opt_step_sharded(trainee_t *t, float lr, float beta1, float beta2, float eps,
                             float weight_decay, double *t_comm) {
  float *params = hardy_model_params(t->model);
  double t0 = hardy_now();
  HARDY_CHECK(hardy_zero_reduce_scatter(&t->zero, hardy_model_grads(t->model), t->zero_grad));
  double t1 = hardy_now();
  t->adam_step++;
  if (t->zero.count > 0)
    hardy_nn_adam_step(params + t->zero.first, t->zero_grad, t->adam_m, t->adam_v, t->zero.count,
                       lr, beta1, beta2, eps, weight_decay, t->adam_step);
  double t2 = hardy_now();
  HARDY_CHECK(hardy_zero_allgather(&t->zero, params));
  *t_comm += (t1 - t0) + (hardy_now() - t2);
  return HARDY_OK;
}
