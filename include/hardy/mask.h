/* Availability masks: which modalities an utterance has in a given epoch. A fixed condition
 * gives every utterance the same set; a random missing rate r follows GCNet's generator: every
 * utterance keeps one modality plus each other one with probability q = 1 - 1.5 r, so the
 * missing share of (utterance, modality) cells is r for r <= 2/3 and exactly one modality is
 * kept for r in [2/3, 0.7] (GCNet's largest rate). Draws are stratified over blocks of 16
 * consecutive ids, which keeps the realised share of a set within about +-0.01 of r (see
 * docs/TRAINING.md). Draws are keyed by (seed, purpose, epoch, global utterance id) only, so
 * they are the same for any rank count.
 * Modalities that are naturally missing in the source (/utterance/present) are never present.
 * Local, stateless. Bit 0 audio, bit 1 text, bit 2 visual. */
#ifndef HARDY_MASK_H
#define HARDY_MASK_H

#include <stdint.h>

typedef struct {
  int condition; /* present-modality bit set (1..7), or 0 for a random rate */
  double rate;   /* missing rate in [0, HARDY_MISSING_RATE_MAX] when condition == 0 */
} hardy_missing_t;

/* Training mask of utterance utt_id in epoch `epoch`. `natural` is the source's own
 * availability bit set (7 when all exist). Never returns 0 unless natural is 0. */
uint8_t hardy_mask_train(uint64_t seed, hardy_missing_t miss, uint64_t epoch, int64_t utt_id,
                         uint8_t natural);

/* Evaluation (validation/test) mask: drawn once per (seed, utterance), the same for every
 * epoch, method and run with that seed. */
uint8_t hardy_mask_eval(uint64_t seed, hardy_missing_t miss, int64_t utt_id, uint8_t natural);

/* Probability q that each modality besides the one always kept is kept at missing rate
 * `rate`: 1 - 1.5 rate, clamped to [0, 1]. Local. */
double hardy_mask_extra_keep(double rate);

/* Bit set from a [3] uint8 present row. */
static inline uint8_t hardy_mask_from_present(const uint8_t *present3) {
  return (uint8_t)((present3[0] ? 1 : 0) | (present3[1] ? 2 : 0) | (present3[2] ? 4 : 0));
}

/* Label for logs and results: "atv", "at", ... or "rate0.30". */
void hardy_missing_name(hardy_missing_t miss, char *out, int cap);

#endif
