/* Metrics against hand-computed values, and the cross-rank reduction. */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
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
  TEST_NEAR(hardy_metrics_selection_value(&m), m.wa, 0, 0);
  hardy_metrics_free(&acc);

  /* empty evaluation set: zeros, no NaN */
  TEST_EQ_INT(hardy_metrics_init(&acc, HARDY_TASK_CLASSIFICATION, 4), 0);
  hardy_metrics_compute(&acc, &m);
  TEST_ASSERT(m.wa == 0 && m.ua == 0 && m.f1 == 0, "empty: %g %g %g", m.wa, m.ua, m.f1);
  hardy_metrics_free(&acc);

  /* regression. targets 2, -1, 0, 1.5, -2.5; preds 1, -0.5, 0.5, -1, -2
   * MAE = (1 + 0.5 + 0.5 + 2.5 + 0.5) / 5 = 1.0
   * non-zero labels: (2,1) tp, (-1,-0.5) tn, (1.5,-1) fn, (-2.5,-2) tn -> acc2 = 3/4
   *   F1_pos = 2*1/(2+0+1) = 2/3 (support 2), F1_neg = 2*2/(4+1+0) = 4/5 (support 2)
   *   weighted F1 = (2/3 * 2 + 4/5 * 2) / 4 = 0.733333
   * has0: label 0 is negative, pred 0.5 positive -> fp; acc2_has0 = 3/5 */
  const float t[5] = {2, -1, 0, 1.5f, -2.5f}, p[5] = {1, -0.5f, 0.5f, -1, -2};
  TEST_EQ_INT(hardy_metrics_init(&acc, HARDY_TASK_REGRESSION, 1), 0);
  for (int i = rank; i < 5; i += size) hardy_metrics_add_score(&acc, &p[i], &t[i], 1);
  hardy_metrics_allreduce(&acc, MPI_COMM_WORLD);
  hardy_metrics_compute(&acc, &m);
  TEST_NEAR(m.mae, 1.0, 1e-12, 0);
  TEST_NEAR(m.acc2, 0.75, 1e-12, 0);
  TEST_NEAR(m.f1, (2.0 / 3.0 * 2 + 0.8 * 2) / 4.0, 1e-12, 0);
  TEST_NEAR(m.acc2_has0, 0.6, 1e-12, 0);
  /* Pearson by hand, double */
  double mp = 0, mt = 0, sxy = 0, sxx = 0, syy = 0;
  for (int i = 0; i < 5; i++) mp += p[i] / 5.0, mt += t[i] / 5.0;
  for (int i = 0; i < 5; i++)
    sxy += (p[i] - mp) * (t[i] - mt), sxx += (p[i] - mp) * (p[i] - mp), syy += (t[i] - mt) * (t[i] - mt);
  TEST_NEAR(m.corr, sxy / sqrt(sxx * syy), 1e-9, 0);
  TEST_NEAR(hardy_metrics_selection_value(&m), -1.0, 1e-12, 0);
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
