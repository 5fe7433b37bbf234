/* Curriculum: budgets span [k_min, K] under the rank score, the sigmoid score confines them to
 * the upper half (the research code's behaviour), hand-built views, pacing, plan coverage. */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "hardy/config.h"
#include "hardy/curriculum.h"

int main(void) {
  /* K = 3, k_min = 0: q in [0, 1] spreads over 0..3 in equal quarters */
  TEST_EQ_INT(hardy_curriculum_budget(0.0, 0, 3), 0);
  TEST_EQ_INT(hardy_curriculum_budget(0.24, 0, 3), 0);
  TEST_EQ_INT(hardy_curriculum_budget(0.25, 0, 3), 1);
  TEST_EQ_INT(hardy_curriculum_budget(0.5, 0, 3), 2);
  TEST_EQ_INT(hardy_curriculum_budget(0.74, 0, 3), 2);
  TEST_EQ_INT(hardy_curriculum_budget(0.75, 0, 3), 3);
  TEST_EQ_INT(hardy_curriculum_budget(1.0, 0, 3), 3); /* clipped */
  TEST_EQ_INT(hardy_curriculum_budget(0.0, 1, 3), 1);
  TEST_EQ_INT(hardy_curriculum_budget(-0.5, 1, 3), 1);
  /* ranks 0..N-1 as q = r / (N - 1): every budget in [k_min, K] occurs */
  int seen[4] = {0, 0, 0, 0};
  for (int r = 0; r < 101; r++) seen[hardy_curriculum_budget(r / 100.0, 0, 3)]++;
  for (int k = 0; k < 4; k++) TEST_ASSERT(seen[k] >= 24, "budget %d occurs %d times", k, seen[k]);
  /* sigmoid scores live in (0.5, 1) for non-negative inputs: budgets >= floor(K/2 + 1) = 2 */
  for (double x = 0; x < 5; x += 0.25) {
    double h = 1.0 / (1.0 + exp(-x));
    TEST_ASSERT(hardy_curriculum_budget(h, 0, 3) >= 2, "sigmoid %g -> %d", h,
                hardy_curriculum_budget(h, 0, 3));
  }

  /* views for K = 3: budget 0 -> always itself; budget 1 -> view 3 is neighbour 1;
   * budget 3 -> views 1, 2, 3 are neighbours 1, 2, 3 (slots 0, 1, 2) */
  const int expect[4][4] = {{-1, -1, -1, -1}, {-1, -1, -1, 0}, {-1, -1, 0, 1}, {-1, 0, 1, 2}};
  for (int k = 0; k <= 3; k++)
    for (int v = 0; v <= 3; v++)
      TEST_ASSERT(hardy_curriculum_view_slot(v, k, 3) == expect[k][v], "k=%d v=%d -> %d", k, v,
                  hardy_curriculum_view_slot(v, k, 3));

  /* pacing */
  TEST_NEAR(hardy_curriculum_admitted(HARDY_PACING_NONE, 0.3, 10, 0), 1.0, 0, 0);
  TEST_NEAR(hardy_curriculum_admitted(HARDY_PACING_LINEAR, 0.3, 10, 0), 0.3, 1e-12, 0);
  TEST_NEAR(hardy_curriculum_admitted(HARDY_PACING_LINEAR, 0.3, 10, 5), 0.65, 1e-12, 0);
  TEST_NEAR(hardy_curriculum_admitted(HARDY_PACING_LINEAR, 0.3, 10, 10), 1.0, 0, 0);
  TEST_NEAR(hardy_curriculum_admitted(HARDY_PACING_ROOT, 0.3, 10, 0), 0.3, 1e-12, 0);
  TEST_NEAR(hardy_curriculum_admitted(HARDY_PACING_ROOT, 0.3, 10, 5), sqrt(0.09 + 0.91 * 0.5), 1e-12, 0);
  TEST_EQ_INT(hardy_curriculum_effective_budget(3, 0.2, 0.3), 3);
  TEST_EQ_INT(hardy_curriculum_effective_budget(3, 0.5, 0.3), 0);

  /* plan: every (batch, view) pair exactly once, dialogues a permutation, deterministic */
  hardy_curriculum_plan_t p, q;
  TEST_EQ_INT(hardy_curriculum_plan_make(&p, 23, 4, 4, 9, 2), 0);
  TEST_EQ_INT(hardy_curriculum_plan_make(&q, 23, 4, 4, 9, 2), 0);
  TEST_EQ_INT(p.n_steps, 6 * 4);
  int count[6][4];
  memset(count, 0, sizeof count);
  for (int64_t s = 0; s < p.n_steps; s++) {
    count[p.batch_of[s]][p.view_of[s]]++;
    TEST_ASSERT(p.batch_of[s] == q.batch_of[s] && p.view_of[s] == q.view_of[s], "not deterministic");
  }
  for (int b = 0; b < 6; b++)
    for (int v = 0; v < 4; v++) TEST_EQ_INT(count[b][v], 1);
  int hit[23] = {0};
  for (int i = 0; i < 23; i++) hit[p.order[i]]++;
  for (int i = 0; i < 23; i++) TEST_EQ_INT(hit[i], 1);
  hardy_curriculum_plan_free(&q);
  TEST_EQ_INT(hardy_curriculum_plan_make(&q, 23, 4, 4, 9, 3), 0);
  int same = 0;
  for (int i = 0; i < 23; i++) same += p.order[i] == q.order[i];
  TEST_ASSERT(same < 23, "epochs 2 and 3 have the same dialogue order");
  hardy_curriculum_plan_free(&p);
  hardy_curriculum_plan_free(&q);
  return hardy_test_finish("test_curriculum");
}
