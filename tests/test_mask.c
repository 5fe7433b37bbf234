/* Masks: fixed conditions; random rates as GCNet defines them (kept-set distribution, at
 * least one modality kept, realised missing share of a training set within +-0.01 of the rate
 * for 0.1, 0.3, 0.5 and 2/3 at 0.7, on synthetic dialogue layouts with held-out dialogues);
 * determinism by key, independence of epoch, natural availability respected. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "harness.h"
#include "hardy/common.h"
#include "hardy/config.h"
#include "hardy/dataset.h"
#include "hardy/mask.h"
#include "hardy/synth.h"

static int popcount3(uint8_t m) { return (m & 1) + ((m >> 1) & 1) + ((m >> 2) & 1); }

/* Realised missing share of the cells of the utterances of dialogues with split == want. */
static double realised(const hardy_synth_t *s, int want, double rate, uint64_t seed,
                       uint64_t epoch, int64_t *n_utt, int *empty) {
  hardy_missing_t miss = {0, rate};
  int64_t cells = 0, missing = 0;
  for (int64_t d = 0; d < s->n_dialogue; d++) {
    if (s->split[d] != want) continue;
    for (int64_t id = s->offset[d]; id < s->offset[d + 1]; id++) {
      uint8_t m = hardy_mask_train(seed, miss, epoch, id, 7);
      if (!m) (*empty)++;
      missing += 3 - popcount3(m);
      cells += 3;
    }
  }
  *n_utt = cells / 3;
  return cells ? (double)missing / (double)cells : 0.0;
}

int main(void) {
  hardy_missing_t at = {HARDY_MOD_A | HARDY_MOD_T, -1};
  for (int64_t id = 0; id < 100; id++) {
    TEST_EQ_INT(hardy_mask_train(1, at, 3, id, 7), 3);
    TEST_EQ_INT(hardy_mask_eval(1, at, id, 7), 3);
  }
  /* a condition asking for a modality the source lacks keeps what the source has */
  TEST_EQ_INT(hardy_mask_train(1, at, 0, 5, HARDY_MOD_T), HARDY_MOD_T);
  TEST_EQ_INT(hardy_mask_train(1, at, 0, 5, HARDY_MOD_V), HARDY_MOD_V);

  /* q = 1 - 1.5 r: P(kept) = 1/3 + 2/3 q = 1 - r */
  TEST_NEAR(hardy_mask_extra_keep(0.0), 1.0, 0, 0);
  TEST_NEAR(hardy_mask_extra_keep(0.3), 0.55, 1e-15, 0);
  TEST_NEAR(hardy_mask_extra_keep(0.5), 0.25, 1e-15, 0);
  TEST_NEAR(hardy_mask_extra_keep(0.7), 0.0, 0, 0);

  /* rate 0.5 (q = 0.25) over many ids: each modality kept with probability 1/2; the number kept
   * is 1 + Binomial(2, q): P(1) = 0.5625, P(2) = 0.375, P(3) = 0.0625; given the number, each
   * set equally likely. Stratified draws are closer to these than independent ones, so 5
   * binomial standard errors are a loose bound. */
  hardy_missing_t r = {0, 0.5};
  const int n = 200000;
  int kept[3] = {0, 0, 0}, by_k[4] = {0, 0, 0, 0}, by_set[8] = {0}, empty = 0, changed = 0;
  for (int64_t id = 0; id < n; id++) {
    uint8_t m = hardy_mask_train(7, r, 2, id, 7);
    if (!m) empty++;
    for (int k = 0; k < 3; k++) kept[k] += (m >> k) & 1;
    by_k[popcount3(m)]++;
    by_set[m]++;
    if (m != hardy_mask_train(7, r, 3, id, 7)) changed++;
    TEST_ASSERT(m == hardy_mask_train(7, r, 2, id, 7), "not deterministic at %lld", (long long)id);
  }
  TEST_EQ_INT(empty, 0);
  double se = sqrt(0.25 / n);
  for (int k = 0; k < 3; k++) TEST_NEAR((double)kept[k] / n, 0.5, 5 * se, 0);
  const double pk[4] = {0, 0.5625, 0.375, 0.0625};
  for (int k = 1; k <= 3; k++) TEST_NEAR((double)by_k[k] / n, pk[k], 5 * sqrt(pk[k] / n), 0);
  for (int s = 1; s < 7; s++) {
    double want = pk[popcount3((uint8_t)s)] / 3.0;
    TEST_NEAR((double)by_set[s] / n, want, 5 * sqrt(want / n), 0);
  }
  /* a new epoch redraws: masks differ for most utterances */
  TEST_ASSERT(changed > n / 2, "only %d of %d masks changed between epochs", changed, n);
  /* eval masks do not depend on the epoch (no epoch argument) and differ from training ones */
  int diff_train = 0;
  for (int64_t id = 0; id < 1000; id++)
    diff_train += hardy_mask_eval(7, r, id, 7) != hardy_mask_train(7, r, 0, id, 7);
  TEST_ASSERT(diff_train > 500, "eval masks equal training masks too often (%d/1000 differ)",
              diff_train);
  /* rate 0 keeps everything the source has; 0.7 keeps exactly one modality (GCNet) */
  hardy_missing_t r0 = {0, 0.0}, r7 = {0, 0.7};
  TEST_EQ_INT(hardy_mask_train(1, r0, 0, 9, 7), 7);
  TEST_EQ_INT(hardy_mask_train(1, r0, 0, 9, 5), 5);
  for (int64_t id = 0; id < 1000; id++)
    TEST_EQ_INT(popcount3(hardy_mask_eval(4, r7, id, 7)), 1);
  /* never more than the source has, never nothing when the source has something */
  for (int64_t id = 0; id < 3000; id++) {
    uint8_t nat = (uint8_t)(1 + id % 7), m = hardy_mask_train(3, r7, 0, id, nat);
    TEST_ASSERT((m & ~nat) == 0 && m != 0, "natural %u violated: mask %u", nat, m);
  }

  /* The realised missing share over a training set: dialogues laid out like IEMOCAP and MOSEI,
   * training dialogues only (validation and test dialogues interleaved), several epochs and
   * seeds. The specification: within +-0.01 of the rate, at 0.7 within +-0.01 of 2/3. */
  const double rates[4] = {0.1, 0.3, 0.5, 0.7};
  double worst = 0.0;
  for (int shape = 0; shape < 2; shape++) {
    hardy_synth_params_t p;
    hardy_synth_defaults(&p);
    p.n_utt = shape == 0 ? 2000 : 4000;
    p.shape = shape;
    snprintf(p.out, sizeof p.out, "/tmp/unused.h5"); /* tables only: nothing is written */
    hardy_synth_t s;
    TEST_EQ_INT(hardy_synth_init(&s, &p), HARDY_OK);
    for (int ri = 0; ri < 4; ri++)
      for (uint64_t seed = 1; seed <= 3; seed++)
        for (uint64_t epoch = 0; epoch < 5; epoch++) {
          int64_t n_utt = 0;
          int none = 0;
          double f = realised(&s, HARDY_SPLIT_TRAIN, rates[ri], seed, epoch, &n_utt, &none);
          double want = rates[ri] > 2.0 / 3.0 ? 2.0 / 3.0 : rates[ri];
          TEST_EQ_INT(none, 0);
          TEST_ASSERT(n_utt > 1000, "training set of %lld utterances", (long long)n_utt);
          TEST_NEAR(f, want, 0.01, 0);
          if (fabs(f - want) > worst) worst = fabs(f - want);
        }
    hardy_synth_free(&s);
  }
  printf("largest deviation of the realised missing share from the rate: %.4f\n", worst);
  return hardy_test_finish("test_mask");
}
