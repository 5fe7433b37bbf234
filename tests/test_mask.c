/* Masks: fixed conditions, random rates (frequency and the never-empty rule), determinism by
 * key, independence of epoch, natural availability respected. */
#include "harness.h"
#include "hardy/config.h"
#include "hardy/mask.h"

int main(void) {
  hardy_missing_t at = {HARDY_MOD_A | HARDY_MOD_T, -1};
  for (int64_t id = 0; id < 100; id++) {
    TEST_EQ_INT(hardy_mask_train(1, at, 3, id, 7), 3);
    TEST_EQ_INT(hardy_mask_eval(1, at, id, 7), 3);
  }
  /* a condition asking for a modality the source lacks keeps what the source has */
  TEST_EQ_INT(hardy_mask_train(1, at, 0, 5, HARDY_MOD_T), HARDY_MOD_T);
  TEST_EQ_INT(hardy_mask_train(1, at, 0, 5, HARDY_MOD_V), HARDY_MOD_V);

  /* random rate p: each modality missing with probability ~ p(1 - ...) after redraws:
   * P(kept) for one modality = (1-p) / (1 - p^3). With p = 0.5: 0.5 / 0.875 = 0.5714. */
  hardy_missing_t r = {0, 0.5};
  const int n = 200000;
  int kept[3] = {0, 0, 0}, empty = 0, changed = 0;
  for (int64_t id = 0; id < n; id++) {
    uint8_t m = hardy_mask_train(7, r, 2, id, 7);
    if (!m) empty++;
    for (int k = 0; k < 3; k++) kept[k] += (m >> k) & 1;
    if (m != hardy_mask_train(7, r, 3, id, 7)) changed++;
    TEST_ASSERT(m == hardy_mask_train(7, r, 2, id, 7), "not deterministic at %lld", (long long)id);
  }
  TEST_EQ_INT(empty, 0);
  double expect = 0.5 / 0.875, se = sqrt(expect * (1 - expect) / n);
  for (int k = 0; k < 3; k++) TEST_NEAR((double)kept[k] / n, expect, 5 * se, 0);
  /* a new epoch redraws: masks differ for most utterances (P(same) = sum_s P(s)^2 ~ 0.14) */
  TEST_ASSERT(changed > n / 2, "only %d of %d masks changed between epochs", changed, n);
  /* eval masks do not depend on the epoch (no epoch argument) and differ from training ones */
  int diff_train = 0;
  for (int64_t id = 0; id < 1000; id++)
    diff_train += hardy_mask_eval(7, r, id, 7) != hardy_mask_train(7, r, 0, id, 7);
  TEST_ASSERT(diff_train > 500, "eval masks equal training masks too often (%d/1000 differ)",
              diff_train);
  /* rate 0 keeps everything the source has */
  hardy_missing_t r0 = {0, 0.0};
  TEST_EQ_INT(hardy_mask_train(1, r0, 0, 9, 7), 7);
  TEST_EQ_INT(hardy_mask_train(1, r0, 0, 9, 5), 5);
  /* never more than the source has */
  for (int64_t id = 0; id < 1000; id++)
    TEST_ASSERT((hardy_mask_train(3, r, 0, id, 6) & ~6) == 0, "natural violated");
  return hardy_test_finish("test_mask");
}
