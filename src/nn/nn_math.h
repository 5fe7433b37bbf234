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

/* Forced inline: a call left in an `omp simd` loop (GCC's size heuristics do leave erf's)
 * keeps the whole loop scalar. */
#if defined(__GNUC__)
#define HARDY_NN_INLINE static inline __attribute__((always_inline))
#else
#define HARDY_NN_INLINE static inline
#endif

/* Hot row kernels are compiled for AVX-512 and AVX2 besides the baseline and picked at load
 * time, so a portable build still runs the elementwise work at full vector width. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define HARDY_NN_CLONES                                                                            \
  __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define HARDY_NN_CLONES
#endif

HARDY_NN_INLINE float hardy_nn_expf(float x) {
  /* Comparisons, not fminf/fmaxf (libm calls stay scalar), and n = round(x log2 e) by the
   * 1.5 * 2^23 shifter with its integer read from the bits: with a float-to-int conversion
   * after the clamps GCC splits the paths and the `omp simd` loops stop vectorising. */
  x = x < -87.0f ? -87.0f : x;
  x = x > 88.0f ? 88.0f : x;
  union {
    float f;
    int32_t i;
  } k = {.f = x * 1.44269504088896341f + 12582912.0f};
  const float n = k.f - 12582912.0f;
  float r = x - n * 0.693359375f + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  float y = p * r * r + r + 1.0f;
  union {
    int32_t i;
    float f;
  } scale = {.i = (k.i - 0x4B400000 + 127) << 23}; /* 2^n */
  return y * scale.f;
}

/* erf(x) and, through *gauss, exp(-x^2) (GELU's backward needs both). */
HARDY_NN_INLINE float hardy_nn_erff(float x, float *gauss) {
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
