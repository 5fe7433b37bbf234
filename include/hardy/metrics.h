/* Evaluation metrics from sufficient statistics that reduce across ranks: a confusion matrix
 * for classification (WA = accuracy, UA = mean recall over classes present in the labels,
 * weighted F1), sums for regression (MAE, Pearson correlation, ACC2 and weighted F1 on non-zero
 * labels, ACC2 with zero labels counted as negative). Ranks add their predictions locally and
 * reduce once (hardy_metrics_allreduce), never gathering raw predictions. */
#ifndef HARDY_METRICS_H
#define HARDY_METRICS_H

#include <mpi.h>
#include <stdint.h>

#include "hardy/dataset.h"

typedef struct {
  int task;        /* hardy_task_t */
  int n_classes;   /* C (classification) */
  int64_t *confusion; /* [C, C] rows: true class, columns: predicted */
  /* regression sums (double): n, sum |p - t|, sum p, sum t, sum p^2, sum t^2, sum p t */
  double reg[7];
  int64_t bin_nz[4];  /* non-zero labels: [tn, fp, fn, tp] of (t > 0) vs (p > 0) */
  int64_t bin_has0[4]; /* all labels, zero counted negative: (t > 0) vs (p > 0) */
} hardy_metrics_acc_t;

typedef struct {
  int task;
  int64_t n;
  double wa, ua, f1;           /* classification, fractions in [0, 1] */
  double mae, corr, acc2, acc2_has0; /* regression; f1 = weighted F1 on non-zero labels */
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

/* The value model selection maximises: WA (classification) or -MAE (regression). */
double hardy_metrics_selection_value(const hardy_metrics_t *m);

#endif
