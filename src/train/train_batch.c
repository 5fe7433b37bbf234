/* Padded batch assembly and evaluation (train module). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hardy/common.h"
#include "hardy/log.h"
#include "hardy/curriculum.h"
#include "train_internal.h"

int batch_buf_alloc(batch_buf_t *bb, int64_t max_rows, const int dims[3]) {
  memset(bb, 0, sizeof *bb);
  bb->max_rows = max_rows;
  for (int m = 0; m < 3; m++) {
    bb->dims[m] = dims[m];
    bb->x[m] = hardy_aligned_alloc((size_t)max_rows * dims[m] * sizeof(float), "batch features");
    if (!bb->x[m]) return HARDY_ERR_RUNTIME;
  }
  bb->avail = hardy_malloc((size_t)max_rows, "batch masks");
  bb->truth = hardy_malloc((size_t)max_rows, "batch masks");
  bb->label = hardy_malloc((size_t)max_rows * sizeof(int32_t), "batch labels");
  bb->score = hardy_malloc((size_t)max_rows * sizeof(float), "batch scores");
  bb->weight = hardy_malloc((size_t)max_rows * sizeof(float), "batch weights");
  bb->utt_id = hardy_malloc((size_t)max_rows * sizeof(int64_t), "batch ids");
  bb->local = hardy_malloc((size_t)max_rows * sizeof(int64_t), "batch rows");
  if (!bb->avail || !bb->truth || !bb->label || !bb->score || !bb->weight || !bb->utt_id || !bb->local)
    return HARDY_ERR_RUNTIME;
  return HARDY_OK;
}

void batch_buf_free(batch_buf_t *bb) {
  for (int m = 0; m < 3; m++) free(bb->x[m]);
  free(bb->avail), free(bb->truth), free(bb->label), free(bb->score), free(bb->weight), free(bb->utt_id);
  free(bb->local);
  memset(bb, 0, sizeof *bb);
}

int batch_dialogues_fitting(const hardy_shard_t *sh, int64_t max_rows, int cap) {
  int64_t max_len = 1;
  for (int64_t d = 0; d < sh->n_dialogue; d++)
    max_len = HARDY_MAX(max_len, sh->dialogue_start[d + 1] - sh->dialogue_start[d]);
  int64_t n = max_rows / max_len;
  return (int)HARDY_MAX(1, HARDY_MIN((int64_t)cap, n));
}

static uint8_t row_avail(const avail_rule_t *rule, int64_t utt_id, uint8_t natural) {
  switch (rule->mode) {
  case AVAIL_TRAIN: return hardy_mask_train(rule->seed, rule->miss, rule->epoch, utt_id, natural);
  case AVAIL_EVAL: return hardy_mask_eval(rule->seed, rule->miss, utt_id, natural);
  default: return natural;
  }
}

/* Features of local row i under a view: a neighbour's row when the view reaches its budget. */
static const float *row_source(const hardy_shard_t *sh, const view_src_t *view, int64_t i, int m) {
  if (view) {
    int slot = hardy_curriculum_view_slot(view->view, view->budget[i], view->k_max);
    if (slot >= 0 && view->nbr_id[i * view->k_max + slot] >= 0)
      return view->nbr[m] + (i * view->k_max + slot) * sh->dims[m];
  }
  return sh->feat[m] + i * sh->dims[m];
}

/* The modalities whose ground truth a row's reconstruction may use: those the file holds for
 * the utterance (/utterance/present). A view's neighbour-replaced row takes the neighbour's
 * features, whose presence bits the neighbour table does not carry: it counts as complete. */
static uint8_t row_truth(const hardy_shard_t *sh, const view_src_t *view, int64_t i) {
  if (view && hardy_curriculum_view_slot(view->view, view->budget[i], view->k_max) >= 0)
    return 7u;
  return shard_natural(sh, i);
}

int64_t batch_fill(batch_buf_t *bb, const hardy_shard_t *sh, const int64_t *local_dlg, int n,
                   const avail_rule_t *rule, float row_weight, const view_src_t *view) {
  int64_t max_len = 0, real = 0;
  for (int b = 0; b < n; b++) {
    int64_t d = local_dlg[b];
    max_len = HARDY_MAX(max_len, sh->dialogue_start[d + 1] - sh->dialogue_start[d]);
  }
  for (int b = 0; b < n; b++) {
    int64_t d = local_dlg[b], first = sh->dialogue_start[d];
    int64_t len = sh->dialogue_start[d + 1] - first;
    for (int64_t t = 0; t < max_len; t++) {
      int64_t row = (int64_t)b * max_len + t;
      if (t < len) {
        int64_t i = first + t;
        for (int m = 0; m < 3; m++)
          memcpy(bb->x[m] + row * bb->dims[m], row_source(sh, view, i, m),
                 (size_t)bb->dims[m] * sizeof(float));
        bb->avail[row] = row_avail(rule, sh->utt_id[i], shard_natural(sh, i));
        bb->truth[row] = row_truth(sh, view, i);
        bb->label[row] = sh->label ? sh->label[i] : 0;
        bb->score[row] = sh->target ? sh->target[i] : 0.0f;
        bb->weight[row] = row_weight;
        bb->utt_id[row] = sh->utt_id[i];
        bb->local[row] = i;
        real++;
      } else {
        for (int m = 0; m < 3; m++)
          memset(bb->x[m] + row * bb->dims[m], 0, (size_t)bb->dims[m] * sizeof(float));
        bb->avail[row] = 0;
        bb->truth[row] = 0;
        bb->label[row] = 0;
        bb->score[row] = 0.0f;
        bb->weight[row] = 0.0f;
        bb->utt_id[row] = -1;
        bb->local[row] = -1;
      }
    }
  }
  hardy_batch_t *bt = &bb->batch;
  memset(bt, 0, sizeof *bt);
  bt->n_dialogue = n;
  bt->max_len = (int)max_len;
  for (int m = 0; m < 3; m++) bt->x[m] = bb->x[m];
  bt->avail = bb->avail;
  bt->truth = bb->truth;
  bt->label = bb->label;
  bt->score = bb->score;
  bt->weight = bb->weight;
  bt->utt_id = bb->utt_id;
  return real;
}

/* Class prediction of a row: argmax of the logits (first on ties). */
static int32_t argmax(const float *logits, int n) {
  int32_t best = 0;
  for (int k = 1; k < n; k++)
    if (logits[k] > logits[best]) best = k;
  return best;
}

/* Softmax of a row's logits in double, stored as float. */
static void softmax_row(const float *logits, int n, float *prob) {
  double mx = logits[0], sum = 0.0;
  for (int k = 1; k < n; k++) mx = logits[k] > mx ? logits[k] : mx;
  for (int k = 0; k < n; k++) sum += exp((double)logits[k] - mx);
  for (int k = 0; k < n; k++) prob[k] = (float)(exp((double)logits[k] - mx) / sum);
}

int hardy_train_evaluate_rows(hardy_model_t *model, const hardy_shard_t *sh, hardy_missing_t miss,
                              uint64_t seed, int batch_dialogues, int task, int n_classes,
                              const int8_t *groups, MPI_Comm comm, hardy_metrics_t *out,
                              float *values) {
  const hardy_model_cfg_t *mc = hardy_model_config(model);
  int n_acc = groups ? 4 : 1;
  hardy_metrics_acc_t acc[4];
  memset(acc, 0, sizeof acc);
  int st = HARDY_OK;
  for (int g = 0; g < n_acc && st == HARDY_OK; g++) st = hardy_metrics_init(&acc[g], task, n_classes);
  int per = batch_dialogues_fitting(sh, mc->max_rows, batch_dialogues);
  batch_buf_t bb;
  memset(&bb, 0, sizeof bb);
  int64_t *dlg = NULL;
  if (st == HARDY_OK) st = batch_buf_alloc(&bb, mc->max_rows, sh->dims);
  if (st == HARDY_OK && !(dlg = hardy_malloc((size_t)per * sizeof(int64_t), "eval batch")))
    st = HARDY_ERR_RUNTIME;
  avail_rule_t rule = {AVAIL_EVAL, miss, seed, 0};
  hardy_progress_t prog; /* rank 0's dialogues; prints only on long evaluations */
  hardy_progress_begin(&prog, "evaluate", sh->n_dialogue, "dialogues", 10.0);
  for (int64_t d0 = 0; st == HARDY_OK && d0 < sh->n_dialogue; d0 += per) {
    hardy_progress_update(&prog, d0, -1, NULL);
    int n = (int)HARDY_MIN((int64_t)per, sh->n_dialogue - d0);
    for (int b = 0; b < n; b++) dlg[b] = d0 + b;
    batch_fill(&bb, sh, dlg, n, &rule, 1.0f, NULL);
    hardy_model_out_t mo;
    st = hardy_model_forward(model, &bb.batch, &mo);
    int64_t rows = (int64_t)n * bb.batch.max_len;
    for (int64_t r = 0; st == HARDY_OK && r < rows; r++) {
      if (bb.local[r] < 0) continue;
      if (values && task == HARDY_TASK_CLASSIFICATION)
        softmax_row(mo.logits + r * mc->n_out, mc->n_out, values + bb.local[r] * mc->n_out);
      else if (values)
        values[bb.local[r]] = mo.logits[r * mc->n_out];
      int g = groups ? groups[bb.local[r]] : -1;
      for (int a = 0; a < n_acc; a++) {
        if (a > 0 && g != a - 1) continue;
        if (task == HARDY_TASK_CLASSIFICATION) {
          int32_t p = argmax(mo.logits + r * mc->n_out, mc->n_out);
          hardy_metrics_add_class(&acc[a], &p, &bb.label[r], 1);
        } else {
          hardy_metrics_add_score(&acc[a], &mo.logits[r * mc->n_out], &bb.score[r], 1);
        }
      }
    }
  }
  st = hardy_agree(st, comm);
  for (int a = 0; st == HARDY_OK && a < n_acc; a++) {
    st = hardy_metrics_allreduce(&acc[a], comm);
    if (st == HARDY_OK) hardy_metrics_compute(&acc[a], &out[a]);
  }
  for (int a = 0; a < n_acc; a++) hardy_metrics_free(&acc[a]);
  batch_buf_free(&bb);
  free(dlg);
  return st;
}

int hardy_train_evaluate_groups(hardy_model_t *model, const hardy_shard_t *sh, hardy_missing_t miss,
                                uint64_t seed, int batch_dialogues, int task, int n_classes,
                                const int8_t *groups, MPI_Comm comm, hardy_metrics_t *out) {
  return hardy_train_evaluate_rows(model, sh, miss, seed, batch_dialogues, task, n_classes, groups,
                                   comm, out, NULL);
}

int hardy_train_evaluate(hardy_model_t *model, const hardy_shard_t *sh, hardy_missing_t miss,
                         uint64_t seed, int batch_dialogues, int task, int n_classes,
                         MPI_Comm comm, hardy_metrics_t *out) {
  return hardy_train_evaluate_groups(model, sh, miss, seed, batch_dialogues, task, n_classes, NULL,
                                     comm, out);
}

int run_evaluate(run_t *r, hardy_model_t *model, const hardy_shard_t *sh, const int8_t *groups,
                 hardy_metrics_t *out) {
  return hardy_train_evaluate_groups(model, sh, r->miss, (uint64_t)r->cfg->run.seed,
                                     r->cfg->train.batch_dialogues, r->ds->task,
                                     r->ds->num_classes, groups, r->comm, out);
}

void metrics_from_json(const cJSON *o, int task, hardy_metrics_t *m) {
  memset(m, 0, sizeof *m);
  m->task = task;
  const char *names[16];
  int n_names = hardy_metrics_names(task, names, 16);
  for (int i = 0; o && i < n_names; i++) {
    const cJSON *v = cJSON_GetObjectItem(o, names[i]);
    double *field = NULL;
    if (cJSON_IsNumber(v) && hardy_metrics_field(m, names[i], &field) == 0) *field = v->valuedouble;
  }
  const cJSON *n = o ? cJSON_GetObjectItem(o, "n") : NULL;
  if (cJSON_IsNumber(n)) m->n = (int64_t)n->valuedouble;
  const cJSON *recall = o ? cJSON_GetObjectItem(o, "recall") : NULL;
  const cJSON *conf = o ? cJSON_GetObjectItem(o, "confusion") : NULL;
  int c = cJSON_GetArraySize(recall);
  if (task != HARDY_TASK_CLASSIFICATION || c <= 0 || c > HARDY_METRICS_DETAIL_MAX ||
      cJSON_GetArraySize(conf) != c)
    return;
  m->n_classes = c;
  for (int k = 0; k < c; k++) {
    const cJSON *rk = cJSON_GetArrayItem(recall, k), *row = cJSON_GetArrayItem(conf, k);
    m->recall[k] = cJSON_IsNumber(rk) ? rk->valuedouble : -1.0;
    for (int j = 0; j < c; j++) {
      const cJSON *v = cJSON_GetArrayItem(row, j);
      m->confusion[k * c + j] = cJSON_IsNumber(v) ? (int64_t)v->valuedouble : 0;
    }
  }
}

cJSON *hardy_train_metrics_json(const hardy_metrics_t *m) { return metrics_json(m); }

cJSON *metrics_json(const hardy_metrics_t *m) {
  cJSON *o = cJSON_CreateObject();
  const char *names[16];
  int n_names = hardy_metrics_names(m->task, names, 16);
  for (int i = 0; i < n_names; i++) {
    double v = 0.0;
    hardy_metrics_get(m, names[i], &v);
    cJSON_AddNumberToObject(o, names[i], v);
  }
  cJSON_AddNumberToObject(o, "n", (double)m->n);
  if (m->task == HARDY_TASK_CLASSIFICATION && m->n_classes > 0) {
    int c = m->n_classes;
    cJSON *recall = cJSON_AddArrayToObject(o, "recall"), *conf = cJSON_AddArrayToObject(o, "confusion");
    for (int k = 0; k < c; k++) {
      /* a class without labels has no recall */
      cJSON_AddItemToArray(recall, m->recall[k] < 0 ? cJSON_CreateNull() : cJSON_CreateNumber(m->recall[k]));
      cJSON *row = cJSON_CreateArray();
      for (int j = 0; j < c; j++) cJSON_AddItemToArray(row, cJSON_CreateNumber((double)m->confusion[k * c + j]));
      cJSON_AddItemToArray(conf, row);
    }
  }
  return o;
}
