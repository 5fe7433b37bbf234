/* Helpers shared by the nn and model tests: seeded random fills and error norms. */
#ifndef HARDY_TEST_NN_UTIL_H
#define HARDY_TEST_NN_UTIL_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hardy/rng.h"

static inline void tu_fill(float *x, size_t n, uint64_t seed, float scale) {
  uint64_t key = hardy_rng_key(seed, HARDY_RNG_TEST_DATA);
  for (size_t i = 0; i < n; i++)
    x[i] = (float)((2.0 * hardy_rng_uniform(key, 7, i) - 1.0) * scale);
}

static inline float *tu_rand(size_t n, uint64_t seed, float scale) {
  float *x = malloc((n ? n : 1) * sizeof(float));
  tu_fill(x, n, seed, scale);
  return x;
}

static inline float *tu_copy(const float *x, size_t n) {
  float *y = malloc((n ? n : 1) * sizeof(float));
  memcpy(y, x, n * sizeof(float));
  return y;
}

static inline float *tu_zeros(size_t n) {
  return calloc(n ? n : 1, sizeof(float));
}

/* max |a - b| / (max |b| + floor): a scale-free error of a whole buffer. */
static inline double tu_rel_err(const float *a, const float *b, size_t n, double floor) {
  double num = 0.0, den = 0.0;
  for (size_t i = 0; i < n; i++) {
    double d = fabs((double)a[i] - b[i]);
    if (d > num || isnan(d))
      num = isnan(d) ? INFINITY : d;
    if (fabs((double)b[i]) > den)
      den = fabs((double)b[i]);
  }
  return num / (den + floor);
}

static inline double tu_dot(const float *a, const float *b, size_t n) {
  double s = 0.0;
  for (size_t i = 0; i < n; i++)
    s += (double)a[i] * b[i];
  return s;
}

#endif
