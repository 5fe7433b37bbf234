/* Adam over the flat buffers, with torch.optim.Adam semantics: L2 weight decay added to the
 * gradient, bias corrections folded into the step size and the denominator exactly as PyTorch
 * 1.13 does (denom = sqrt(v) / sqrt(1 - b2^t) + eps), so a twin in PyTorch follows the same
 * trajectory up to rounding. */
#include <math.h>

#include "hardy/nn.h"
#include "nn_math.h"

HARDY_NN_CLONES
static void adam_chunk(float *params, const float *grads, float *m, float *v, size_t n,
                       float step_size, float inv_bc2, float beta1, float beta2, float eps,
                       float weight_decay) {
  const float one_b1 = 1.0f - beta1, one_b2 = 1.0f - beta2;
#pragma omp simd
  for (size_t i = 0; i < n; i++) {
    float g = grads[i] + weight_decay * params[i];
    float mi = beta1 * m[i] + one_b1 * g;
    float vi = beta2 * v[i] + one_b2 * g * g;
    m[i] = mi;
    v[i] = vi;
    params[i] -= step_size * mi / (sqrtf(vi) * inv_bc2 + eps);
  }
}

void hardy_nn_adam_step(float *params, const float *grads, float *m, float *v, size_t n, float lr,
                        float beta1, float beta2, float eps, float weight_decay, int64_t step) {
  const float bc1 = 1.0f - powf(beta1, (float)step);
  const float bc2_sqrt = sqrtf(1.0f - powf(beta2, (float)step));
  const float step_size = lr / bc1, inv_bc2 = 1.0f / bc2_sqrt;
  const size_t chunk = 16384;
#pragma omp parallel for schedule(static)
  for (size_t c0 = 0; c0 < n; c0 += chunk) {
    size_t len = c0 + chunk < n ? chunk : n - c0;
    adam_chunk(params + c0, grads + c0, m + c0, v + c0, len, step_size, inv_bc2, beta1, beta2, eps,
               weight_decay);
  }
}

void hardy_nn_adam_step_ref(float *params, const float *grads, float *m, float *v, size_t n,
                            float lr, float beta1, float beta2, float eps, float weight_decay,
                            int64_t step) {
  double bc1 = 1.0 - pow(beta1, (double)step), bc2 = 1.0 - pow(beta2, (double)step);
  for (size_t i = 0; i < n; i++) {
    double g = (double)grads[i] + (double)weight_decay * params[i];
    m[i] = (float)(beta1 * (double)m[i] + (1.0 - beta1) * g);
    v[i] = (float)(beta2 * (double)v[i] + (1.0 - beta2) * g * g);
    double denom = sqrt((double)v[i]) / sqrt(bc2) + eps;
    params[i] = (float)(params[i] - lr / bc1 * (double)m[i] / denom);
  }
}
