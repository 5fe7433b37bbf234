/* Adam over the flat buffers, with torch.optim.Adam semantics: L2 weight decay added to the
 * gradient, bias corrections folded into the step size and the denominator exactly as PyTorch
 * 1.13 does (denom = sqrt(v) / sqrt(1 - b2^t) + eps), so a twin in PyTorch follows the same
 * trajectory up to rounding. The update is one streaming pass over params, grads, m and v. The
 * portable loop cannot vectorise (sqrtf keeps errno semantics without -fno-math-errno), so x86
 * builds also carry AVX-512 and AVX2 versions picked at run time; every path evaluates the
 * same expression in the same order, without FMA, so they agree bitwise. */
#include <math.h>

#include "hardy/nn.h"
#include "nn_math.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#include <immintrin.h>
#define ADAM_X86 1

/* One vector width W of the update; returns how many leading elements it did (a multiple of
 * W), the rest go through the scalar loop. */
#define ADAM_VEC(NAME, TARGET, W, VT, SET1, LOAD, STORE, ADD, SUB, MUL, DIV, SQRT)                 \
  __attribute__((target(TARGET))) static size_t NAME(                                               \
      float *params, const float *grads, float *m, float *v, size_t n, float step_size,           \
      float inv_bc2, float beta1, float beta2, float eps, float weight_decay) {                   \
    const VT b1 = SET1(beta1), b2 = SET1(beta2), ob1 = SET1(1.0f - beta1),                        \
             ob2 = SET1(1.0f - beta2), wd = SET1(weight_decay), ss = SET1(step_size),             \
             ib = SET1(inv_bc2), ep = SET1(eps);                                                  \
    size_t i = 0;                                                                                 \
    for (; i + W <= n; i += W) {                                                                  \
      VT p = LOAD(params + i);                                                                    \
      VT g = ADD(LOAD(grads + i), MUL(wd, p));                                                    \
      VT mi = ADD(MUL(b1, LOAD(m + i)), MUL(ob1, g));                                             \
      VT vi = ADD(MUL(b2, LOAD(v + i)), MUL(MUL(ob2, g), g));                                     \
      STORE(m + i, mi);                                                                           \
      STORE(v + i, vi);                                                                           \
      STORE(params + i, SUB(p, DIV(MUL(ss, mi), ADD(MUL(SQRT(vi), ib), ep))));                    \
    }                                                                                             \
    return i;                                                                                     \
  }
ADAM_VEC(adam_avx512, "avx512f", 16, __m512, _mm512_set1_ps, _mm512_loadu_ps, _mm512_storeu_ps,
         _mm512_add_ps, _mm512_sub_ps, _mm512_mul_ps, _mm512_div_ps, _mm512_sqrt_ps)
ADAM_VEC(adam_avx2, "avx2", 8, __m256, _mm256_set1_ps, _mm256_loadu_ps, _mm256_storeu_ps,
         _mm256_add_ps, _mm256_sub_ps, _mm256_mul_ps, _mm256_div_ps, _mm256_sqrt_ps)
#endif

static void adam_chunk(float *params, const float *grads, float *m, float *v, size_t n,
                       float step_size, float inv_bc2, float beta1, float beta2, float eps,
                       float weight_decay) {
  const float one_b1 = 1.0f - beta1, one_b2 = 1.0f - beta2;
  size_t i = 0;
#ifdef ADAM_X86
  if (__builtin_cpu_supports("avx512f"))
    i = adam_avx512(params, grads, m, v, n, step_size, inv_bc2, beta1, beta2, eps, weight_decay);
  else if (__builtin_cpu_supports("avx2"))
    i = adam_avx2(params, grads, m, v, n, step_size, inv_bc2, beta1, beta2, eps, weight_decay);
#endif
  for (; i < n; i++) {
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
