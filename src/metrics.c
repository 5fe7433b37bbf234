/* Metrics from reducible sufficient statistics; see metrics.h. */
#include "hardy/metrics.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hardy/common.h"

int hardy_metrics_init(hardy_metrics_acc_t *acc, int task, int n_classes) {
  memset(acc, 0, sizeof *acc);
  acc->task = task;
  acc->n_classes = task == HARDY_TASK_CLASSIFICATION ? n_classes : 0;
  if (acc->n_classes > 0) {
    acc->confusion = hardy_calloc((size_t)n_classes * n_classes, sizeof(int64_t), "confusion matrix");
    if (!acc->confusion) return HARDY_ERR_RUNTIME;
  }
  return HARDY_OK;
}

void hardy_metrics_reset(hardy_metrics_acc_t *acc) {
  if (acc->confusion) memset(acc->confusion, 0, sizeof(int64_t) * acc->n_classes * acc->n_classes);
  memset(acc->reg, 0, sizeof acc->reg);
  memset(acc->bin_nz, 0, sizeof acc->bin_nz);
  memset(acc->bin_has0, 0, sizeof acc->bin_has0);
  memset(acc->mult, 0, sizeof acc->mult);
}

void hardy_metrics_free(hardy_metrics_acc_t *acc) {
  free(acc->confusion);
  acc->confusion = NULL;
}

void hardy_metrics_add_class(hardy_metrics_acc_t *acc, const int32_t *pred, const int32_t *label,
                             int64_t n) {
  int c = acc->n_classes;
  for (int64_t i = 0; i < n; i++)
    if (label[i] >= 0 && label[i] < c && pred[i] >= 0 && pred[i] < c)
      acc->confusion[(int64_t)label[i] * c + pred[i]]++;
}

/* MMSA's multiclass accuracy: clip to [-c, c] in single precision (numpy float32), round half
 * to even (numpy's rounding; rintf under the default rounding mode), compare. */
static int clipped_round_equal(float p, float t, float c) {
  float pc = p < -c ? -c : p > c ? c : p, tc = t < -c ? -c : t > c ? c : t;
  return rintf(pc) == rintf(tc);
}

void hardy_metrics_add_score(hardy_metrics_acc_t *acc, const float *pred, const float *target,
                             int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    double p = pred[i], t = target[i];
    acc->reg[0] += 1;
    acc->reg[1] += fabs(p - t);
    acc->reg[2] += p;
    acc->reg[3] += t;
    acc->reg[4] += p * p;
    acc->reg[5] += t * t;
    acc->reg[6] += p * t;
    /* cells 0 tn, 1 fp, 2 fn, 3 tp */
    if (t != 0) acc->bin_nz[(t > 0) * 2 + (p > 0)]++;
    acc->bin_has0[(t >= 0) * 2 + (p >= 0)]++;
    acc->mult[0] += clipped_round_equal(pred[i], target[i], 2.0f);
    acc->mult[1] += clipped_round_equal(pred[i], target[i], 3.0f);
  }
}

int hardy_metrics_allreduce(hardy_metrics_acc_t *acc, MPI_Comm comm) {
  if (acc->confusion)
    HARDY_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, acc->confusion, acc->n_classes * acc->n_classes,
                                  MPI_INT64_T, MPI_SUM, comm));
  HARDY_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, acc->reg, 7, MPI_DOUBLE, MPI_SUM, comm));
  HARDY_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, acc->bin_nz, 4, MPI_INT64_T, MPI_SUM, comm));
  HARDY_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, acc->bin_has0, 4, MPI_INT64_T, MPI_SUM, comm));
  HARDY_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, acc->mult, 2, MPI_INT64_T, MPI_SUM, comm));
  return HARDY_OK;
}

/* Support-weighted F1 over the two classes of a binary confusion [tn, fp, fn, tp], as
 * sklearn's f1_score(average='weighted'): a class's F1 is 0 when it has no true positive, and
 * a class with no label has weight 0. */
static double binary_weighted_f1(const int64_t b[4]) {
  double tn = (double)b[0], fp = (double)b[1], fn = (double)b[2], tp = (double)b[3];
  double n = tn + fp + fn + tp;
  if (n == 0) return 0.0;
  double f1_pos = (2 * tp + fp + fn) > 0 ? 2 * tp / (2 * tp + fp + fn) : 0.0;
  double f1_neg = (2 * tn + fn + fp) > 0 ? 2 * tn / (2 * tn + fn + fp) : 0.0;
  return (f1_pos * (tp + fn) + f1_neg * (tn + fp)) / n;
}

static double binary_accuracy(const int64_t b[4]) {
  int64_t n = b[0] + b[1] + b[2] + b[3];
  return n ? (double)(b[0] + b[3]) / (double)n : 0.0;
}

void hardy_metrics_compute(const hardy_metrics_acc_t *acc, hardy_metrics_t *out) {
  memset(out, 0, sizeof *out);
  out->task = acc->task;
  if (acc->task == HARDY_TASK_CLASSIFICATION) {
    int c = acc->n_classes;
    int64_t total = 0, correct = 0;
    double recall_sum = 0.0, f1_weighted = 0.0;
    int present = 0;
    out->n_classes = c <= HARDY_METRICS_DETAIL_MAX ? c : 0;
    if (out->n_classes)
      memcpy(out->confusion, acc->confusion, sizeof(int64_t) * (size_t)c * (size_t)c);
    for (int k = 0; k < c; k++) {
      int64_t support = 0, predicted = 0, tp = acc->confusion[(int64_t)k * c + k];
      for (int j = 0; j < c; j++) {
        support += acc->confusion[(int64_t)k * c + j];
        predicted += acc->confusion[(int64_t)j * c + k];
      }
      total += support;
      correct += tp;
      double recall = support > 0 ? (double)tp / (double)support : -1.0;
      if (k < out->n_classes) out->recall[k] = recall;
      if (support > 0) {
        present++;
        recall_sum += recall;
      }
      double denom = (double)(support + predicted);
      if (denom > 0) f1_weighted += (double)support * (2.0 * (double)tp / denom);
    }
    out->n = total;
    out->wa = total ? (double)correct / (double)total : 0.0;
    out->ua = present ? recall_sum / present : 0.0;
    out->f1 = total ? f1_weighted / (double)total : 0.0;
    return;
  }
  const double *r = acc->reg;
  double n = r[0];
  out->n = (int64_t)n;
  if (n <= 0) return;
  out->mae = r[1] / n;
  double cov = r[6] - r[2] * r[3] / n;
  double vp = r[4] - r[2] * r[2] / n, vt = r[5] - r[3] * r[3] / n;
  /* constant predictions or labels: no linear relation to measure; report 0, not NaN */
  out->corr = (vp > 1e-12 * n && vt > 1e-12 * n) ? cov / sqrt(vp * vt) : 0.0;
  out->acc2 = binary_accuracy(acc->bin_nz);
  out->f1 = binary_weighted_f1(acc->bin_nz);
  out->acc2_has0 = binary_accuracy(acc->bin_has0);
  out->f1_has0 = binary_weighted_f1(acc->bin_has0);
  out->acc5 = (double)acc->mult[0] / n;
  out->acc7 = (double)acc->mult[1] / n;
}

typedef struct {
  const char *name;
  size_t offset; /* of the double in hardy_metrics_t */
} metric_def_t;

#define M(name) {#name, offsetof(hardy_metrics_t, name)}
static const metric_def_t CLASS_METRICS[] = {M(wa), M(ua), M(f1)};
static const metric_def_t REG_METRICS[] = {M(mae),       M(corr),    M(acc2), M(f1),
                                           M(acc2_has0), M(f1_has0), M(acc5), M(acc7)};
#undef M

static const metric_def_t *task_metrics(int task, int *n) {
  if (task == HARDY_TASK_CLASSIFICATION) {
    *n = (int)(sizeof CLASS_METRICS / sizeof CLASS_METRICS[0]);
    return CLASS_METRICS;
  }
  *n = (int)(sizeof REG_METRICS / sizeof REG_METRICS[0]);
  return REG_METRICS;
}

int hardy_metrics_names(int task, const char **names, int cap) {
  int n;
  const metric_def_t *defs = task_metrics(task, &n);
  for (int i = 0; names && i < n && i < cap; i++) names[i] = defs[i].name;
  return n;
}

int hardy_metrics_field(hardy_metrics_t *m, const char *name, double **field) {
  int n;
  const metric_def_t *defs = task_metrics(m->task, &n);
  for (int i = 0; i < n; i++)
    if (!strcmp(defs[i].name, name)) {
      *field = (double *)((char *)m + defs[i].offset);
      return 0;
    }
  return -1;
}

int hardy_metrics_get(const hardy_metrics_t *m, const char *name, double *value) {
  double *field = NULL;
  if (hardy_metrics_field((hardy_metrics_t *)m, name, &field) != 0) return -1;
  *value = *field;
  return 0;
}

bool hardy_metrics_lower_is_better(const char *name) { return !strcmp(name, "mae"); }

const char *hardy_metrics_select_name(const char *select, int task) {
  if (select && select[0] && strcmp(select, "auto")) return select;
  return task == HARDY_TASK_CLASSIFICATION ? "wa" : "mae";
}

bool hardy_metrics_known(const char *select, int task) {
  const char *name = hardy_metrics_select_name(select, task);
  int n;
  const metric_def_t *defs = task_metrics(task, &n);
  for (int i = 0; i < n; i++)
    if (!strcmp(defs[i].name, name)) return true;
  return false;
}

int hardy_metrics_check_select(const char *select, int task, const char *key) {
  if (hardy_metrics_known(select, task)) return HARDY_OK;
  int n;
  const metric_def_t *defs = task_metrics(task, &n);
  char valid[256] = "auto";
  for (int i = 0; i < n; i++) {
    strncat(valid, ", ", sizeof valid - strlen(valid) - 1);
    strncat(valid, defs[i].name, sizeof valid - strlen(valid) - 1);
  }
  return hardy_fail(HARDY_ERR_INPUT, "%s = '%s' is not a %s metric; use one of: %s", key, select,
                    task == HARDY_TASK_CLASSIFICATION ? "classification" : "regression", valid);
}

double hardy_metrics_selection_value(const hardy_metrics_t *m, const char *select) {
  const char *name = hardy_metrics_select_name(select, m->task);
  double v = 0.0;
  if (hardy_metrics_get(m, name, &v) != 0) return -HUGE_VAL;
  return hardy_metrics_lower_is_better(name) ? -v : v;
}
