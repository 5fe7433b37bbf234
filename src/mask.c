/* Counter-based availability masks; see mask.h. */
#include "hardy/mask.h"

#include <stdio.h>

#include "hardy/config.h"
#include "hardy/rng.h"

/* Random-rate mask: each of the naturally present modalities kept with probability 1 - p;
 * redrawn (next counter) until at least one is kept. */
static uint8_t draw(uint64_t key, uint64_t epoch, int64_t utt_id, hardy_missing_t miss,
                    uint8_t natural) {
  if (natural == 0) return 0;
  if (miss.condition > 0) {
    uint8_t m = (uint8_t)(miss.condition & natural);
    /* A condition asks for modalities the source lacks: keep what the source has. */
    return m ? m : natural;
  }
  for (uint64_t attempt = 0;; attempt++) {
    hardy_rng4_t r = hardy_philox(key, epoch, ((uint64_t)utt_id << 8) | (attempt & 0xff));
    uint8_t m = 0;
    for (int k = 0; k < 3; k++)
      if (hardy_u01(r.v[k]) >= (float)miss.rate) m |= (uint8_t)(1u << k);
    m &= natural;
    if (m) return m;
    if (attempt >= 255) return natural; /* p close to 1: keep the source's own set */
  }
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
