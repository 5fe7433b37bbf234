/* Counter-based random numbers (Philox4x32-10, Salmon et al., SC'11). Every random draw in
 * hardy-hpc is a pure function of (seed, purpose, counters), where the counters are global
 * identities (utterance id, epoch, step, layer) and never a rank's position in a loop, so
 * results do not depend on how many ranks share the work. Header-only: hot loops inline it. */
#ifndef HARDY_RNG_H
#define HARDY_RNG_H

#include <stdint.h>

/* Purposes: distinct streams for distinct uses, so e.g. a mask never correlates with dropout. */
enum {
  HARDY_RNG_SYNTH_LATENT = 1,
  HARDY_RNG_SYNTH_FEATURE = 2,
  HARDY_RNG_SYNTH_LABEL = 3,
  HARDY_RNG_SYNTH_SHAPE = 4,
  HARDY_RNG_SYNTH_PROJ = 5,
  HARDY_RNG_MASK_TRAIN = 10,
  HARDY_RNG_MASK_EVAL = 11,
  HARDY_RNG_DROPOUT = 20,
  HARDY_RNG_INIT = 21,
  HARDY_RNG_PLAN = 22,
  HARDY_RNG_VAL_SPLIT = 23,
  HARDY_RNG_TEST_DATA = 99,
};

typedef struct {
  uint32_t v[4];
} hardy_rng4_t;

static inline uint32_t hardy_mulhilo32(uint32_t a, uint32_t b, uint32_t *hi) {
  uint64_t p = (uint64_t)a * (uint64_t)b;
  *hi = (uint32_t)(p >> 32);
  return (uint32_t)p;
}

/* Philox4x32-10 of a 128-bit counter under a 64-bit key. */
static inline hardy_rng4_t hardy_philox(uint64_t key, uint64_t ctr_hi, uint64_t ctr_lo) {
  uint32_t c0 = (uint32_t)ctr_lo, c1 = (uint32_t)(ctr_lo >> 32);
  uint32_t c2 = (uint32_t)ctr_hi, c3 = (uint32_t)(ctr_hi >> 32);
  uint32_t k0 = (uint32_t)key, k1 = (uint32_t)(key >> 32);
  for (int round = 0; round < 10; round++) {
    uint32_t hi0, hi1;
    uint32_t lo0 = hardy_mulhilo32(0xD2511F53u, c0, &hi0);
    uint32_t lo1 = hardy_mulhilo32(0xCD9E8D57u, c2, &hi1);
    uint32_t n0 = hi1 ^ c1 ^ k0, n1 = lo1, n2 = hi0 ^ c3 ^ k1, n3 = lo0;
    c0 = n0;
    c1 = n1;
    c2 = n2;
    c3 = n3;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  hardy_rng4_t r = {{c0, c1, c2, c3}};
  return r;
}

/* Mix (seed, purpose) into a Philox key (splitmix64 finaliser). */
static inline uint64_t hardy_rng_key(uint64_t seed, uint64_t purpose) {
  uint64_t z = seed * 0x9E3779B97F4A7C15ull + purpose * 0xBF58476D1CE4E5B9ull + 0x94D049BB133111EBull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/* Uniform float in [0, 1) from 32 random bits (24-bit mantissa). */
static inline float hardy_u01(uint32_t bits) { return (float)(bits >> 8) * (1.0f / 16777216.0f); }

/* Uniform double in [0, 1) from 64 random bits. */
static inline double hardy_u01d(uint32_t hi, uint32_t lo) {
  uint64_t b = ((uint64_t)hi << 32 | lo) >> 11;
  return (double)b * (1.0 / 9007199254740992.0);
}

/* One uniform double in [0, 1) for (key, a, b). */
static inline double hardy_rng_uniform(uint64_t key, uint64_t a, uint64_t b) {
  hardy_rng4_t r = hardy_philox(key, a, b);
  return hardy_u01d(r.v[0], r.v[1]);
}

/* Two independent standard normals for (key, a, b) (Box-Muller). */
void hardy_rng_normal2(uint64_t key, uint64_t a, uint64_t b, float out[2]);

/* Fill out[0..n) with standard normals for stream (key, a), counters b = 0, 1, ... */
void hardy_rng_normal_fill(uint64_t key, uint64_t a, float *out, int64_t n);

/* Uniform integer in [0, n) for (key, a, b), n > 0 (unbiased by 64-bit multiply-shift). */
static inline uint64_t hardy_rng_below(uint64_t key, uint64_t a, uint64_t b, uint64_t n) {
  hardy_rng4_t r = hardy_philox(key, a, b);
  uint64_t x = ((uint64_t)r.v[0] << 32) | r.v[1];
  __extension__ typedef unsigned __int128 u128_t;
  return (uint64_t)(((u128_t)x * n) >> 64);
}

/* Deterministic Fisher-Yates shuffle of idx[0..n) keyed by (key, a). */
void hardy_rng_shuffle_i64(uint64_t key, uint64_t a, int64_t *idx, int64_t n);

#endif
