/* Vectorisable float exp and erf shared by the nn kernels (private to src/). expf follows the
 * Cephes range reduction and polynomial (about 1 ulp on [-87, 88]); erf is Abramowitz-Stegun
 * 7.1.26 (absolute error < 1.5e-7). Both are plain arithmetic, so `omp simd` loops over them
 * vectorise without -ffast-math or libmvec. The _ref kernels use libm instead. */
#ifndef HARDY_NN_MATH_H
#define HARDY_NN_MATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#define HARDY_NN_MAXI(a, b) ((a) > (b) ? (a) : (b))

/* Hot row kernels are compiled for AVX-512 and AVX2 besides the baseline and picked at load
 * time, so a portable build still runs the elementwise work at full vector width. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define HARDY_NN_CLONES                                                                            \
  __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define HARDY_NN_CLONES
#endif

static inline float hardy_nn_expf(float x) {
  x = fminf(fmaxf(x, -87.0f), 88.0f);
  float n = floorf(x * 1.44269504088896341f + 0.5f);
  float r = x - n * 0.693359375f + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  float y = p * r * r + r + 1.0f;
  int32_t bits = ((int32_t)n + 127) << 23;
  float scale;
  memcpy(&scale, &bits, sizeof scale);
  return y * scale;
}

/* erf(x) and, through *gauss, exp(-x^2) (GELU's backward needs both). */
static inline float hardy_nn_erff(float x, float *gauss) {
  float ax = fabsf(x);
  float t = 1.0f / (1.0f + 0.3275911f * ax);
  float poly =
      t * (0.254829592f +
           t * (-0.284496736f + t * (1.421413741f + t * (-1.453152027f + t * 1.061405429f))));
  float g = hardy_nn_expf(-ax * ax);
  *gauss = g;
  float e = 1.0f - poly * g;
  return x < 0.0f ? -e : e;
}

#endif
