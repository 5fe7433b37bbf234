/* Counter-based availability masks; see mask.h and docs/TRAINING.md ("Missing rates"). */
#include "hardy/mask.h"

#include <stdio.h>

#include "hardy/config.h"
#include "hardy/rng.h"

/* Utterances whose ids share id / HARDY_MASK_BLOCK stratify their draws together. */
#define HARDY_MASK_BLOCK 16

double hardy_mask_extra_keep(double rate) {
  double q = 1.0 - 1.5 * rate; /* P(kept) = 1/3 + 2/3 q = 1 - rate */
  return q < 0.0 ? 0.0 : q > 1.0 ? 1.0 : q;
}

/* Stratified uniform of utterance utt_id: the block's HARDY_MASK_BLOCK ids take the strata
 * [j/B, (j+1)/B) in a random order (keyed by block and epoch), plus a jitter inside the
 * stratum. Over any whole block the draws are spread evenly, which keeps the realised missing
 * fraction of a set close to the rate; each draw alone is still uniform on [0, 1). */
static double stratified_u01(uint64_t key, uint64_t epoch, int64_t utt_id, uint32_t jitter) {
  int64_t strata[HARDY_MASK_BLOCK];
  for (int j = 0; j < HARDY_MASK_BLOCK; j++) strata[j] = j;
  uint64_t block = (uint64_t)utt_id / HARDY_MASK_BLOCK;
  hardy_rng_shuffle_i64(hardy_rng_key(key, epoch), block, strata, HARDY_MASK_BLOCK);
  int64_t s = strata[(uint64_t)utt_id % HARDY_MASK_BLOCK];
  return ((double)s + (double)hardy_u01(jitter)) / HARDY_MASK_BLOCK;
}

/* Random-rate mask: the number of kept modalities K = 1 + Binomial(2, q) (one kept modality
 * plus each of the other two with probability q, GCNet's construction), then a uniformly
 * chosen set of that size. */
static uint8_t draw_rate(uint64_t key, uint64_t epoch, int64_t utt_id, double rate,
                         uint8_t natural) {
  hardy_rng4_t r = hardy_philox(key, epoch, (uint64_t)utt_id);
  double q = hardy_mask_extra_keep(rate);
  double u = stratified_u01(key, epoch, utt_id, r.v[0]);
  double p1 = (1.0 - q) * (1.0 - q), p2 = p1 + 2.0 * q * (1.0 - q);
  int kept = u < p1 ? 1 : u < p2 ? 2 : 3;
  uint32_t pick = (uint32_t)(((uint64_t)r.v[1] * 3u) >> 32); /* 0..2, uniform */
  static const uint8_t singles[3] = {1, 2, 4}, pairs[3] = {6, 5, 3};
  uint8_t m = kept == 3 ? 7 : kept == 2 ? pairs[pick] : singles[pick];
  m &= natural;
  if (m) return m;
  /* the source lacks every drawn modality: keep one it has, uniformly */
  int n_nat = (natural & 1) + ((natural >> 1) & 1) + ((natural >> 2) & 1);
  int which = (int)(((uint64_t)r.v[2] * (uint64_t)n_nat) >> 32);
  for (int k = 0; k < 3; k++)
    if ((natural >> k) & 1 && which-- == 0) return (uint8_t)(1u << k);
  return natural;
}

static uint8_t draw(uint64_t key, uint64_t epoch, int64_t utt_id, hardy_missing_t miss,
                    uint8_t natural) {
  if (natural == 0) return 0;
  if (miss.condition > 0) {
    uint8_t m = (uint8_t)(miss.condition & natural);
    /* A condition asks for modalities the source lacks: keep what the source has. */
    return m ? m : natural;
  }
  return draw_rate(key, epoch, utt_id, miss.rate, natural);
}

uint8_t hardy_mask_train(uint64_t seed, hardy_missing_t miss, uint64_t epoch, int64_t utt_id,
                         uint8_t natural) {
  return draw(hardy_rng_key(seed, HARDY_RNG_MASK_TRAIN), epoch, utt_id, miss, natural);
}

uint8_t hardy_mask_eval(uint64_t seed, hardy_missing_t miss, int64_t utt_id, uint8_t natural) {
  return draw(hardy_rng_key(seed, HARDY_RNG_MASK_EVAL), 0, utt_id, miss, natural);
}

void hardy_missing_name(hardy_missing_t miss, char *out, int cap) {
  if (miss.condition > 0)
    snprintf(out, (size_t)cap, "%s", hardy_condition_name(miss.condition));
  else
    snprintf(out, (size_t)cap, "rate%.2f", miss.rate);
}
