/* Metrics against hand-computed values (regression as MMSA's metricsTop.py defines them), the
 * per-class detail, metric selection by name, and the cross-rank reduction. */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "hardy/common.h"
#include "hardy/metrics.h"

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);

  /* 3 classes, class 2 never occurs in the labels (empty class). Hand values:
   * labels 0 0 0 1 1 1 1 1; preds 0 0 1 1 1 0 2 1 -> correct 2 + 3 = 5 of 8.
   * recall0 = 2/3, recall1 = 3/5; UA over present classes = (2/3 + 3/5) / 2 = 0.633333
   * F1_0 = 2*2/(3+3) = 0.666667, F1_1 = 2*3/(5+4) = 0.666667, F1_2 = 0 (support 0)
   * weighted F1 = (3 * 0.666667 + 5 * 0.666667) / 8 = 0.666667 */
  const int32_t labels[8] = {0, 0, 0, 1, 1, 1, 1, 1};
  const int32_t preds[8] = {0, 0, 1, 1, 1, 0, 2, 1};
  hardy_metrics_acc_t acc;
  TEST_EQ_INT(hardy_metrics_init(&acc, HARDY_TASK_CLASSIFICATION, 3), 0);
  /* each rank adds a round-robin share; the reduction gives the whole */
  for (int i = rank; i < 8; i += size) hardy_metrics_add_class(&acc, &preds[i], &labels[i], 1);
  TEST_EQ_INT(hardy_metrics_allreduce(&acc, MPI_COMM_WORLD), 0);
  hardy_metrics_t m;
  hardy_metrics_compute(&acc, &m);
  TEST_EQ_INT(m.n, 8);
  TEST_NEAR(m.wa, 5.0 / 8.0, 1e-12, 0);
  TEST_NEAR(m.ua, (2.0 / 3.0 + 3.0 / 5.0) / 2.0, 1e-12, 0);
  TEST_NEAR(m.f1, 2.0 / 3.0, 1e-12, 0);
  TEST_NEAR(hardy_metrics_selection_value(&m, "auto"), m.wa, 0, 0);
  TEST_NEAR(hardy_metrics_selection_value(&m, "ua"), m.ua, 0, 0);
  /* per-class recall (class 2 has no label: -1) and the confusion matrix, true x predicted */
  TEST_EQ_INT(m.n_classes, 3);
  TEST_NEAR(m.recall[0], 2.0 / 3.0, 1e-12, 0);
  TEST_NEAR(m.recall[1], 3.0 / 5.0, 1e-12, 0);
  TEST_NEAR(m.recall[2], -1.0, 0, 0);
  const int64_t conf[9] = {2, 1, 0, 1, 3, 1, 0, 0, 0};
  for (int k = 0; k < 9; k++) TEST_EQ_INT(m.confusion[k], conf[k]);
  hardy_metrics_free(&acc);

  /* empty evaluation set: zeros, no NaN */
  TEST_EQ_INT(hardy_metrics_init(&acc, HARDY_TASK_CLASSIFICATION, 4), 0);
  hardy_metrics_compute(&acc, &m);
  TEST_ASSERT(m.wa == 0 && m.ua == 0 && m.f1 == 0, "empty: %g %g %g", m.wa, m.ua, m.f1);
  hardy_metrics_free(&acc);

  /* regression, MMSA's definitions, on a fixture with zero labels, a prediction of exactly 0,
   * halves (numpy rounds half to even: 0.5 -> 0, 1.5 -> 2, 2.5 -> 2, -0.5 -> -0, -1.5 -> -2)
   * and values outside [-3, 3]:
   *   i        0      1    2     3      4   5      6      7      8    9
   *   label    0      0    2.5  -1.5    3  -3      0.5    1.5   -0.5  1
   *   pred     0.375 -0.25 3.5  -2.375  4  -2.625  0.125  0.625  0   -0.5
   * MAE = (0.375+0.25+1+0.875+1+0.375+0.375+0.875+0.5+1.5)/10 = 7.125/10 = 0.7125
   * ACC7 (clip [-3,3], round): rounded labels 0 0 2 -2 3 -3 0 2 -0 1, predictions
   *   0 -0 3 -2 3 -3 0 1 0 -0: equal at 0 1 3 4 5 6 8 -> 7/10 (rounding half away from zero
   *   would give 6/10: items 6 and 8 differ)
   * ACC5 (clip [-2,2], round): labels 0 0 2 -2 2 -2 0 2 -0 1, predictions 0 -0 2 -2 2 -2 0 1 0
   *   -0: equal but at 7 and 9 -> 8/10
   * Non0 (labels != 0, items 2..9; > 0 vs > 0): tp 2 4 6 7, tn 3 5 8 (pred 0 is negative),
   *   fn 9 -> ACC2 = 7/8; F1 pos = 8/9 (support 5), neg = 6/7 (support 3),
   *   weighted (5 * 8/9 + 3 * 6/7) / 8 = 442/504
   * Has0 (>= 0 vs >= 0, all ten): tp 0 2 4 6 7, fn 1 9, tn 3 5, fp 8 (pred 0 is non-negative)
   *   -> ACC2 = 7/10; F1 pos = 10/13 (support 7), neg = 4/7 (support 3),
   *   weighted (7 * 10/13 + 3 * 4/7) / 10 = 646/910
   * Corr: Sxy = 5069/160, Sxx = 26121/640, Syy = 1161/40 (exact sums of the dyadic values)
   *   -> 31.68125 / sqrt(40.8140625 * 29.025) = 0.920473482787 */
  const float t[10] = {0, 0, 2.5f, -1.5f, 3, -3, 0.5f, 1.5f, -0.5f, 1};
  const float p[10] = {0.375f, -0.25f, 3.5f, -2.375f, 4, -2.625f, 0.125f, 0.625f, 0, -0.5f};
  TEST_EQ_INT(hardy_metrics_init(&acc, HARDY_TASK_REGRESSION, 1), 0);
  for (int i = rank; i < 10; i += size) hardy_metrics_add_score(&acc, &p[i], &t[i], 1);
  hardy_metrics_allreduce(&acc, MPI_COMM_WORLD);
  hardy_metrics_compute(&acc, &m);
  TEST_EQ_INT(m.n, 10);
  TEST_NEAR(m.mae, 0.7125, 1e-12, 0);
  TEST_NEAR(m.acc7, 0.7, 1e-12, 0);
  TEST_NEAR(m.acc5, 0.8, 1e-12, 0);
  TEST_NEAR(m.acc2, 0.875, 1e-12, 0);
  TEST_NEAR(m.f1, 442.0 / 504.0, 1e-12, 0);
  TEST_NEAR(m.acc2_has0, 0.7, 1e-12, 0);
  TEST_NEAR(m.f1_has0, 646.0 / 910.0, 1e-12, 0);
  TEST_NEAR(m.corr, 31.68125 / sqrt(40.8140625 * 29.025), 1e-12, 0);
  TEST_NEAR(m.corr, 0.920473482787, 1e-11, 0);
  /* selection: mae minimised (auto for regression), the others maximised */
  TEST_NEAR(hardy_metrics_selection_value(&m, "auto"), -0.7125, 1e-12, 0);
  TEST_NEAR(hardy_metrics_selection_value(&m, "acc7"), 0.7, 1e-12, 0);
  TEST_NEAR(hardy_metrics_selection_value(&m, "f1_has0"), 646.0 / 910.0, 1e-12, 0);
  TEST_ASSERT(hardy_metrics_known("acc5", HARDY_TASK_REGRESSION), "acc5 known");
  TEST_ASSERT(!hardy_metrics_known("wa", HARDY_TASK_REGRESSION), "wa is not a regression metric");
  TEST_ASSERT(!hardy_metrics_known("acc7", HARDY_TASK_CLASSIFICATION), "acc7 not classification");
  hardy_error_clear();
  TEST_EQ_INT(hardy_metrics_check_select("wa", HARDY_TASK_REGRESSION, "train.select_metric"),
              HARDY_ERR_INPUT);
  TEST_ASSERT(strstr(hardy_error_message(), "train.select_metric = 'wa' is not a regression "
                                            "metric; use one of: auto, mae, corr, acc2, f1, "
                                            "acc2_has0, f1_has0, acc5, acc7"),
              "message: %s", hardy_error_message());
  hardy_error_clear();
  hardy_metrics_free(&acc);

  /* constant predictions: correlation defined as 0, not NaN */
  const float pc[4] = {0.3f, 0.3f, 0.3f, 0.3f}, tc[4] = {1, -1, 2, 0};
  hardy_metrics_init(&acc, HARDY_TASK_REGRESSION, 1);
  if (rank == 0) hardy_metrics_add_score(&acc, pc, tc, 4);
  hardy_metrics_allreduce(&acc, MPI_COMM_WORLD);
  hardy_metrics_compute(&acc, &m);
  TEST_ASSERT(m.corr == 0.0, "corr of constant predictions = %g", m.corr);
  TEST_NEAR(m.mae, (0.7 + 1.3 + 1.7 + 0.3) / 4.0, 1e-6, 0);
  hardy_metrics_free(&acc);

  int rc = hardy_test_finish("test_metrics");
  MPI_Finalize();
  return rc;
}
