/* Availability masks: which modalities an utterance has in a given epoch. A fixed condition
 * gives every utterance the same set; a random missing rate drops each modality with
 * probability p, redrawing until one remains (GCNet protocol). Draws are keyed by
 * (seed, purpose, epoch, global utterance id) only, so they are the same for any rank count.
 * Modalities that are naturally missing in the source (/utterance/present) are never present.
 * Local, stateless. Bit 0 audio, bit 1 text, bit 2 visual. */
#ifndef HARDY_MASK_H
#define HARDY_MASK_H

#include <stdint.h>

typedef struct {
  int condition; /* present-modality bit set (1..7), or 0 for a random rate */
  double rate;   /* missing rate in [0, 1) when condition == 0 */
} hardy_missing_t;

/* Training mask of utterance utt_id in epoch `epoch`. `natural` is the source's own
 * availability bit set (7 when all exist). Never returns 0 unless natural is 0. */
uint8_t hardy_mask_train(uint64_t seed, hardy_missing_t miss, uint64_t epoch, int64_t utt_id,
                         uint8_t natural);

/* Evaluation (validation/test) mask: drawn once per (seed, utterance), the same for every
 * epoch, method and run with that seed. */
uint8_t hardy_mask_eval(uint64_t seed, hardy_missing_t miss, int64_t utt_id, uint8_t natural);

/* Bit set from a [3] uint8 present row. */
static inline uint8_t hardy_mask_from_present(const uint8_t *present3) {
  return (uint8_t)((present3[0] ? 1 : 0) | (present3[1] ? 2 : 0) | (present3[2] ? 4 : 0));
}

/* Label for logs and results: "atv", "at", ... or "rate0.30". */
void hardy_missing_name(hardy_missing_t miss, char *out, int cap);

#endif
