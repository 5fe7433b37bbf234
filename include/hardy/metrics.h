/* Evaluation metrics from sufficient statistics that reduce across ranks: a confusion matrix
 * for classification (WA = accuracy, UA = mean recall over classes present in the labels,
 * weighted F1, per-class recall and the confusion matrix), counts and sums for regression as
 * MMSA reports them (metricsTop.py, __eval_mosei_regression): MAE, Pearson correlation; ACC2
 * and weighted F1 on non-zero labels (label > 0 vs prediction > 0, "Non0"); ACC2 and weighted
 * F1 with zero counted as non-negative (>= 0 vs >= 0, "Has0"); ACC5 and ACC7 (labels and
 * predictions clipped to [-2, 2] and [-3, 3], rounded half to even, equal). Ranks add their
 * predictions locally and reduce once (hardy_metrics_allreduce), never gathering raw
 * predictions. docs/TRAINING.md ("Metrics") has the definitions. */
#ifndef HARDY_METRICS_H
#define HARDY_METRICS_H

#include <mpi.h>
#include <stdbool.h>
#include <stdint.h>

#include "hardy/common.h"

/* Classification results carry per-class recall and the confusion matrix up to this many
 * classes (more: the scalar metrics only). */
#define HARDY_METRICS_DETAIL_MAX 32

typedef struct {
  int task;        /* hardy_task_t */
  int n_classes;   /* C (classification) */
  int64_t *confusion; /* [C, C] rows: true class, columns: predicted */
  /* regression sums (double): n, sum |p - t|, sum p, sum t, sum p^2, sum t^2, sum p t */
  double reg[7];
  int64_t bin_nz[4];  /* non-zero labels: [tn, fp, fn, tp] of (t > 0) vs (p > 0) */
  int64_t bin_has0[4]; /* all labels: [tn, fp, fn, tp] of (t >= 0) vs (p >= 0) */
  int64_t mult[2];     /* rows whose clipped, rounded p and t agree: [ACC5, ACC7] */
} hardy_metrics_acc_t;

typedef struct {
  int task;
  int64_t n;
  double wa, ua, f1;           /* classification, fractions in [0, 1]; f1 also regression */
  double mae, corr, acc2, acc2_has0, f1_has0, acc5, acc7; /* regression; f1 = Non0 F1 */
  /* classification detail (n_classes == 0 when C > HARDY_METRICS_DETAIL_MAX) */
  int n_classes;
  double recall[HARDY_METRICS_DETAIL_MAX]; /* per class; -1 when the class has no label */
  int64_t confusion[HARDY_METRICS_DETAIL_MAX * HARDY_METRICS_DETAIL_MAX]; /* [C, C] true x pred */
} hardy_metrics_t;

int hardy_metrics_init(hardy_metrics_acc_t *acc, int task, int n_classes);
void hardy_metrics_reset(hardy_metrics_acc_t *acc);
void hardy_metrics_free(hardy_metrics_acc_t *acc);

/* Add predictions: class ids (classification) or scores (regression). Local. */
void hardy_metrics_add_class(hardy_metrics_acc_t *acc, const int32_t *pred, const int32_t *label,
                             int64_t n);
void hardy_metrics_add_score(hardy_metrics_acc_t *acc, const float *pred, const float *target,
                             int64_t n);

/* Sum the statistics over comm (in place). Collective. */
int hardy_metrics_allreduce(hardy_metrics_acc_t *acc, MPI_Comm comm);

/* Metrics from the (reduced) statistics. Defined for every input: an empty class is left out of
 * UA, constant predictions have correlation 0, an empty set gives zeros. Local. */
void hardy_metrics_compute(const hardy_metrics_acc_t *acc, hardy_metrics_t *out);

/* The scalar metrics of a task in report order, as named in results.json: classification
 * wa, ua, f1; regression mae, corr, acc2, f1, acc2_has0, f1_has0, acc5, acc7. Returns how
 * many; names[] (may be NULL) gets up to cap of them. Local. */
int hardy_metrics_names(int task, const char **names, int cap);

/* Value of metric `name` of m. Returns 0, or -1 when m's task has no such metric. Local. */
int hardy_metrics_get(const hardy_metrics_t *m, const char *name, double *value);

/* The field of m holding metric `name` (for filling m from a stored report). Returns 0, or -1
 * when m's task has no such metric. Local. */
int hardy_metrics_field(hardy_metrics_t *m, const char *name, double **field);

/* Whether smaller values of metric `name` are better (mae), else larger. Local. */
bool hardy_metrics_lower_is_better(const char *name);

/* The metric model selection uses: `select` ("auto": wa for classification, mae for
 * regression). */
const char *hardy_metrics_select_name(const char *select, int task);

/* Whether `select` ("auto" or a metric name) names a metric of task. Local. */
bool hardy_metrics_known(const char *select, int task);

/* Check that `select` ("auto" or a metric name) names a metric of task; an input error naming
 * `key` and listing the valid names otherwise. Local. */
int hardy_metrics_check_select(const char *select, int task, const char *key);

/* The value model selection maximises: the metric, negated when lower is better. */
double hardy_metrics_selection_value(const hardy_metrics_t *m, const char *select);

#endif
