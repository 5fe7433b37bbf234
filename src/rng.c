/* Out-of-line counter-based RNG helpers (normals, shuffles). See rng.h. */
#include "hardy/rng.h"

#include <math.h>

void hardy_rng_normal2(uint64_t key, uint64_t a, uint64_t b, float out[2]) {
  hardy_rng4_t r = hardy_philox(key, a, b);
  double u1 = hardy_u01d(r.v[0], r.v[1]), u2 = hardy_u01d(r.v[2], r.v[3]);
  double rad = sqrt(-2.0 * log(1.0 - u1)); /* 1 - u1 in (0, 1]: no log(0) */
  out[0] = (float)(rad * cos(2.0 * M_PI * u2));
  out[1] = (float)(rad * sin(2.0 * M_PI * u2));
}

void hardy_rng_normal_fill(uint64_t key, uint64_t a, float *out, int64_t n) {
  for (int64_t i = 0; i < n; i += 2) {
    float pair[2];
    hardy_rng_normal2(key, a, (uint64_t)(i / 2), pair);
    out[i] = pair[0];
    if (i + 1 < n) out[i + 1] = pair[1];
  }
}

void hardy_rng_shuffle_i64(uint64_t key, uint64_t a, int64_t *idx, int64_t n) {
  for (int64_t i = n - 1; i > 0; i--) {
    int64_t j = (int64_t)hardy_rng_below(key, a, (uint64_t)i, (uint64_t)i + 1);
    int64_t t = idx[i];
    idx[i] = idx[j];
    idx[j] = t;
  }
}
