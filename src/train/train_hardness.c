/* Hardness scoring, global ranking and retrieval inside a training run (train module): the
 * scorer (frozen teacher, or the student at refresh) is run over the local training rows under
 * their training masks (direct hardness) and on the complete input (embeddings for indirect
 * hardness); scores are combined and ranked over all ranks; every row gets its K nearest
 * training neighbours and their feature rows; budgets follow from the global rank. */
#include <stdlib.h>
#include <string.h>

#include "hardy/common.h"
#include "hardy/log.h"
#include "hardy/curriculum.h"
#include "hardy/knn.h"
#include "train_internal.h"

/* Embeddings and reconstruction errors of the local rows of a shard, in shard row order. */
typedef struct {
  int64_t n;
  int hidden;
  float *z[3];    /* [n, H] expert outputs on the complete input */
  float *pair[3]; /* [n, H] pair embeddings on the complete input (teacher) or NULL */
  double *direct; /* [n] reconstruction error under the mask */
  uint8_t *mask;  /* [n] */
} scored_t;

static void scored_free(scored_t *s) {
  for (int m = 0; m < 3; m++) free(s->z[m]), free(s->pair[m]);
  free(s->direct), free(s->mask);
  memset(s, 0, sizeof *s);
}

/* Run the scorer over every local dialogue of `sh`: once under `rule` (masks: direct hardness)
 * and once on the complete input (embeddings). Local except for the agreed status. */
static int score_rows(run_t *r, hardy_model_t *model, const hardy_shard_t *sh,
                      const avail_rule_t *rule, scored_t *out) {
  const hardy_model_cfg_t *mc = hardy_model_config(model);
  int H = mc->hidden, D = mc->dims[0] + mc->dims[1] + mc->dims[2];
  memset(out, 0, sizeof *out);
  out->n = sh->n_utt;
  out->hidden = H;
  size_t n = (size_t)HARDY_MAX(sh->n_utt, 1);
  int st = HARDY_OK;
  for (int m = 0; m < 3 && st == HARDY_OK; m++) {
    out->z[m] = hardy_calloc(n * H, sizeof(float), "hardness embeddings");
    if (mc->cross_attention) out->pair[m] = hardy_calloc(n * H, sizeof(float), "pair embeddings");
    if (!out->z[m] || (mc->cross_attention && !out->pair[m])) st = HARDY_ERR_RUNTIME;
  }
  out->direct = hardy_calloc(n, sizeof(double), "direct hardness");
  out->mask = hardy_calloc(n, 1, "hardness masks");
  float *xhat = hardy_malloc((size_t)r->max_rows * D * sizeof(float), "reconstructions");
  float *truth[3] = {NULL, NULL, NULL};
  for (int m = 0; m < 3; m++) truth[m] = hardy_malloc((size_t)r->max_rows * mc->dims[m] * sizeof(float), "truth rows");
  int64_t *dlg = hardy_malloc((size_t)r->cfg->train.batch_dialogues * sizeof(int64_t), "batch");
  uint8_t *av = hardy_malloc((size_t)r->max_rows, "masks");
  double *e = hardy_malloc((size_t)r->max_rows * sizeof(double), "errors");
  if (!out->direct || !out->mask || !xhat || !truth[0] || !truth[1] || !truth[2] || !dlg || !av || !e)
    st = HARDY_ERR_RUNTIME;
  int per = batch_dialogues_fitting(sh, r->max_rows, r->cfg->train.batch_dialogues);
  avail_rule_t complete = {AVAIL_NATURAL, r->miss, rule->seed, 0};
  char label[96];
  snprintf(label, sizeof label, "hardness %s", r->name);
  hardy_progress_t prog; /* rank 0's dialogues */
  hardy_progress_begin(&prog, label, sh->n_dialogue, "dialogues", r->cfg->run.progress_seconds);
  for (int64_t d0 = 0; st == HARDY_OK && d0 < sh->n_dialogue; d0 += per) {
    hardy_progress_update(&prog, d0, -1, NULL);
    int nd = (int)HARDY_MIN((int64_t)per, sh->n_dialogue - d0);
    for (int b = 0; b < nd; b++) dlg[b] = d0 + b;
    /* pass 1: masked input -> reconstruction of the missing modalities */
    batch_fill(&r->bb, sh, dlg, nd, rule, 1.0f, NULL);
    hardy_model_out_t mo;
    st = hardy_model_forward(model, &r->bb.batch, &mo);
    if (st != HARDY_OK) break;
    int64_t rows = (int64_t)nd * r->bb.batch.max_len, k = 0;
    for (int64_t row = 0; row < rows; row++) {
      if (r->bb.local[row] < 0) continue;
      memcpy(xhat + k * D, mo.recon + row * D, (size_t)D * sizeof(float));
      for (int m = 0; m < 3; m++)
        memcpy(truth[m] + k * mc->dims[m], r->bb.x[m] + row * mc->dims[m], (size_t)mc->dims[m] * sizeof(float));
      av[k] = r->bb.avail[row];
      k++;
    }
    st = hardy_hardness_direct(xhat, (const float *const *)truth, mc->dims, av, k, e);
    if (st != HARDY_OK) break;
    k = 0;
    for (int64_t row = 0; row < rows; row++) {
      int64_t i = r->bb.local[row];
      if (i < 0) continue;
      out->direct[i] = e[k];
      out->mask[i] = av[k];
      k++;
    }
    /* pass 2: complete input -> embeddings */
    batch_fill(&r->bb, sh, dlg, nd, &complete, 1.0f, NULL);
    st = hardy_model_forward(model, &r->bb.batch, &mo);
    if (st != HARDY_OK) break;
    for (int64_t row = 0; row < rows; row++) {
      int64_t i = r->bb.local[row];
      if (i < 0) continue;
      for (int m = 0; m < 3; m++) {
        memcpy(out->z[m] + i * H, mo.z[m] + row * H, (size_t)H * sizeof(float));
        if (out->pair[m] && mo.pair[m]) memcpy(out->pair[m] + i * H, mo.pair[m] + row * H, (size_t)H * sizeof(float));
      }
    }
  }
  free(xhat), free(dlg), free(av), free(e);
  for (int m = 0; m < 3; m++) free(truth[m]);
  return hardy_agree(st, r->comm);
}

/* Raw per-row MI under the configured estimator. Collective (gaussian fit). The Gaussian is
 * fitted on `fit` (the training rows) and evaluated on `rows`. */
static int mutual_information(run_t *r, const scored_t *fit, const scored_t *rows, double *mi) {
  double *pair_mi = hardy_malloc((size_t)HARDY_MAX(rows->n, 1) * 3 * sizeof(double), "pair MI");
  int st = pair_mi ? HARDY_OK : HARDY_ERR_RUNTIME;
  if (r->cfg->hardness.estimator == HARDY_MI_ENTROPY) {
    if (st == HARDY_OK && !rows->pair[0])
      st = hardy_fail(HARDY_ERR_INPUT, "hardness.estimator = entropy needs the teacher's "
                                       "cross-attention modules; use hardness.scorer = teacher "
                                       "or hardness.estimator = gaussian");
    if (st == HARDY_OK)
      st = hardy_hardness_entropy_pairs((const float *const *)rows->z,
                                        (const float *const *)rows->pair, rows->hidden, rows->n,
                                        pair_mi);
    st = hardy_agree(st, r->comm);
  } else {
    st = hardy_agree(st, r->comm);
    hardy_gauss_mi_t g;
    if (st == HARDY_OK)
      st = hardy_gauss_mi_fit(r->comm, (const float *const *)fit->z, fit->hidden, fit->n,
                              r->cfg->hardness.ridge, &g);
    if (st == HARDY_OK) {
      st = hardy_agree(hardy_gauss_mi_eval(&g, (const float *const *)rows->z, rows->n, pair_mi), r->comm);
      hardy_gauss_mi_free(&g);
    }
  }
  if (st == HARDY_OK) st = hardy_agree(hardy_hardness_pair_sum(pair_mi, rows->mask, rows->n, mi), r->comm);
  free(pair_mi);
  return st;
}

/* Score rows of a shard into h (allocated here): raw direct and MI, combined, ranked. */
static int hardness_of(run_t *r, hardy_model_t *scorer, const hardy_shard_t *sh,
                       const avail_rule_t *rule, const scored_t *fit_or_null, hardy_hardness_t *h,
                       scored_t *keep) {
  scored_t sc;
  HARDY_CHECK(score_rows(r, scorer, sh, rule, &sc));
  int st = hardy_agree(hardy_hardness_alloc(h, sh->n_utt), r->comm);
  if (st == HARDY_OK) {
    memcpy(h->id, sh->utt_id, (size_t)sh->n_utt * sizeof(int64_t));
    memcpy(h->mask, sc.mask, (size_t)sh->n_utt);
    memcpy(h->direct, sc.direct, (size_t)sh->n_utt * sizeof(double));
    st = mutual_information(r, fit_or_null ? fit_or_null : &sc, &sc, h->mi);
  }
  hardy_hardness_params_t hp = hardy_hardness_params_from_config(r->cfg);
  if (st == HARDY_OK) st = hardy_hardness_combine(r->comm, &hp, h);
  if (st == HARDY_OK) st = hardy_hardness_rank(r->comm, h);
  if (keep && st == HARDY_OK)
    *keep = sc;
  else
    scored_free(&sc);
  return st;
}

int curriculum_fetch_rows(run_t *r) {
  const hardy_shard_t *sh = r->train;
  int K = r->cfg->retrieval.k;
  hardy_rows_t rows;
  const float *fields[3] = {sh->feat[0], sh->feat[1], sh->feat[2]};
  HARDY_CHECK(hardy_rows_open(&rows, sh->utt_id, sh->n_utt, 3, fields, sh->dims, r->comm));
  int st = hardy_rows_fetch(&rows, r->nbr_id, sh->n_utt * K, r->nbr);
  hardy_rows_close(&rows);
  return st;
}

void curriculum_pace(run_t *r, int epoch) {
  const hardy_config_t *cfg = r->cfg;
  double admitted = hardy_curriculum_admitted(cfg->curriculum.pacing, cfg->curriculum.pacing_start,
                                              cfg->curriculum.pacing_epochs, epoch);
  for (int64_t i = 0; i < r->train->n_utt; i++)
    r->eff_budget[i] = (int8_t)hardy_curriculum_effective_budget(r->budget[i], r->q_f32[i], admitted);
}

/* Budgets from the global rank (or sigmoid score), and their distribution for the logs. */
static int assign_budgets(run_t *r, cJSON *diag) {
  const hardy_config_t *cfg = r->cfg;
  int K = cfg->retrieval.k;
  int64_t count[257];
  memset(count, 0, sizeof count);
  for (int64_t i = 0; i < r->train->n_utt; i++) {
    int k = K;
    if (cfg->curriculum.dynamic_k) {
      double s = cfg->curriculum.score == HARDY_CSCORE_RANK ? r->hard.q[i] : r->hard.score[i];
      k = hardy_curriculum_budget(s, cfg->curriculum.k_min, K);
    }
    r->budget[i] = (int8_t)k;
    count[k]++;
  }
  HARDY_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, count, K + 1, MPI_INT64_T, MPI_SUM, r->comm));
  cJSON *dist = cJSON_AddArrayToObject(diag, "k_distribution");
  char text[256] = "";
  for (int k = 0; k <= K; k++) {
    cJSON_AddItemToArray(dist, cJSON_CreateNumber((double)count[k]));
    size_t len = strlen(text);
    snprintf(text + len, sizeof text - len, "%sk=%d: %lld", k ? ", " : "", k, (long long)count[k]);
  }
  hardy_log_info("[%s] neighbour budgets: %s", r->name, text);
  return HARDY_OK;
}

/* How often the top-1 and top-3 neighbours share the anchor's class (classification). */
static int label_agreement(run_t *r, cJSON *diag) {
  if (r->ds->task != HARDY_TASK_CLASSIFICATION) return HARDY_OK;
  const hardy_shard_t *sh = r->train;
  int K = r->cfg->retrieval.k;
  float *lab = hardy_malloc((size_t)HARDY_MAX(sh->n_utt, 1) * sizeof(float), "labels");
  float *nlab = hardy_malloc((size_t)HARDY_MAX(sh->n_utt * K, 1) * sizeof(float), "neighbour labels");
  int st = lab && nlab ? HARDY_OK : HARDY_ERR_RUNTIME;
  hardy_rows_t rows;
  if (st == HARDY_OK) {
    for (int64_t i = 0; i < sh->n_utt; i++) lab[i] = (float)sh->label[i];
    const float *fields[1] = {lab};
    int width[1] = {1};
    st = hardy_rows_open(&rows, sh->utt_id, sh->n_utt, 1, fields, width, r->comm);
  } else {
    st = hardy_agree(st, r->comm);
  }
  if (st == HARDY_OK) {
    float *outs[1] = {nlab};
    st = hardy_rows_fetch(&rows, r->nbr_id, sh->n_utt * K, outs);
    hardy_rows_close(&rows);
  }
  if (st == HARDY_OK) {
    double agree[4] = {0, 0, 0, 0}; /* top-1 hits, top-1 count, top-3 hits, top-3 count */
    for (int64_t i = 0; i < sh->n_utt; i++)
      for (int j = 0; j < K && j < 3; j++) {
        if (r->nbr_id[i * K + j] < 0) continue;
        int hit = (int)nlab[i * K + j] == sh->label[i];
        if (j == 0) agree[0] += hit, agree[1] += 1;
        agree[2] += hit, agree[3] += 1;
      }
    MPI_Allreduce(MPI_IN_PLACE, agree, 4, MPI_DOUBLE, MPI_SUM, r->comm);
    double top1 = agree[1] > 0 ? agree[0] / agree[1] : 0, top3 = agree[3] > 0 ? agree[2] / agree[3] : 0;
    cJSON_AddNumberToObject(diag, "neighbor_label_agreement_top1", top1);
    cJSON_AddNumberToObject(diag, "neighbor_label_agreement_top3", top3);
    hardy_log_info("[%s] retrieved neighbours share the anchor's class: top-1 %.3f, top-3 %.3f",
                   r->name, top1, top3);
  }
  free(lab), free(nlab);
  return st;
}

int curriculum_refresh(run_t *r, hardy_model_t *scorer, int mask_epoch) {
  const hardy_config_t *cfg = r->cfg;
  const hardy_shard_t *sh = r->train;
  int K = cfg->retrieval.k;
  double t0 = hardy_now();
  avail_rule_t rule = {AVAIL_TRAIN, r->miss, (uint64_t)cfg->run.seed, (uint64_t)mask_epoch};
  hardy_hardness_free(&r->hard);
  scored_t sc;
  memset(&sc, 0, sizeof sc);
  HARDY_CHECK(hardness_of(r, scorer, sh, &rule, NULL, &r->hard,
                          cfg->retrieval.space == HARDY_SPACE_EMBEDDING ? &sc : NULL));
  double t_hard = hardy_now() - t0;
  /* retrieval over the training rows: queries under their training masks */
  hardy_knn_rows_t rows;
  memset(&rows, 0, sizeof rows);
  rows.n = sh->n_utt;
  rows.id = sh->utt_id;
  if (cfg->retrieval.space == HARDY_SPACE_EMBEDDING) {
    for (int m = 0; m < 3; m++) {
      rows.dims[m] = sc.hidden;
      rows.feat[m] = sc.z[m];
      rows.metric[m] = HARDY_KNN_L2SQ;
    }
  } else {
    hardy_knn_metrics_input(rows.metric);
    for (int m = 0; m < 3; m++) {
      rows.dims[m] = sh->dims[m];
      rows.feat[m] = sh->feat[m];
    }
  }
  hardy_knn_index_t ix;
  int st = hardy_knn_index_build(&ix, &rows, r->comm);
  hardy_knn_opts_t opt;
  hardy_knn_opts_default(&opt, K);
  opt.query_block = cfg->retrieval.query_block;
  hardy_knn_stats_t ks;
  memset(&ks, 0, sizeof ks);
  if (st == HARDY_OK)
    st = hardy_knn_search(&ix, &rows, r->hard.mask, &opt, r->nbr_id, r->nbr_dist, &ks, r->comm);
  scored_free(&sc);
  double t_knn = hardy_now() - t0 - t_hard;
  for (int64_t i = 0; i < sh->n_utt; i++) r->q_f32[i] = (float)r->hard.q[i];
  if (st == HARDY_OK) st = curriculum_fetch_rows(r);
  if (st == HARDY_OK) {
    /* timings as rank 0 saw them, so every rank records the same diagnostics */
    double times[3] = {t_hard, t_knn, ks.t_allreduce};
    MPI_Bcast(times, 3, MPI_DOUBLE, 0, r->comm);
    t_hard = times[0], t_knn = times[1], ks.t_allreduce = times[2];
    cJSON *diag = cJSON_CreateObject();
    cJSON_AddNumberToObject(diag, "epoch", mask_epoch);
    cJSON_AddStringToObject(diag, "scorer", scorer == r->teacher.model ? "teacher" : "student");
    st = assign_budgets(r, diag);
    if (st == HARDY_OK) st = label_agreement(r, diag);
    cJSON_AddNumberToObject(diag, "hardness_seconds", t_hard);
    cJSON_AddNumberToObject(diag, "knn_seconds", t_knn);
    cJSON_AddNumberToObject(diag, "knn_allreduce_seconds", ks.t_allreduce);
    cJSON *line = cJSON_Duplicate(diag, 1);
    cJSON_AddStringToObject(line, "phase", "hardness");
    cJSON_AddStringToObject(line, "run", r->name);
    if (st == HARDY_OK) st = hardy_agree(hardy_jsonl_write(r->metrics, line), r->comm);
    else cJSON_Delete(line);
    if (!r->diagnostics) r->diagnostics = cJSON_CreateArray();
    cJSON_AddItemToArray(r->diagnostics, diag);
    char path[HARDY_PATH_MAX + 96];
    snprintf(path, sizeof path, "%s/hardness-%s.h5", r->opts->out_dir, r->tag);
    hardy_hardness_meta_t meta = {hardy_hardness_params_from_config(cfg), r->miss};
    if (st == HARDY_OK) st = hardy_hardness_write(r->comm, path, &r->hard, &meta);
    hardy_log_info("[%s] hardness and retrieval of %lld training utterances in %.1fs (hardness "
                   "%.1fs, kNN %.1fs)", r->name, (long long)r->hard.n_total,
                   hardy_now() - t0, t_hard, t_knn);
  }
  r->have_curriculum = st == HARDY_OK;
  return st;
}

/* Terciles (0 easy, 1 medium, 2 hard) of the test rows by a hardness value, over all ranks:
 * thresholds from the exact global ranks. */
static int terciles_from(run_t *r, const double *value, int64_t n, int8_t *out) {
  hardy_hardness_t h;
  HARDY_CHECK(hardy_agree(hardy_hardness_alloc(&h, n), r->comm));
  for (int64_t i = 0; i < n; i++) {
    h.id[i] = r->test->utt_id[i];
    h.score[i] = value[i];
  }
  int st = hardy_hardness_rank(r->comm, &h);
  for (int64_t i = 0; st == HARDY_OK && i < n; i++)
    out[i] = (int8_t)HARDY_MIN(2, (int)(3.0 * (double)h.rank[i] / (double)HARDY_MAX(h.n_total, 1)));
  hardy_hardness_free(&h);
  return st;
}

int test_terciles(run_t *r) {
  const hardy_shard_t *sh = r->test;
  int64_t n = sh->n_utt;
  r->test_tercile = hardy_malloc((size_t)HARDY_MAX(n, 1), "test terciles");
  double *v = hardy_malloc((size_t)HARDY_MAX(n, 1) * sizeof(double), "test hardness");
  int st = hardy_agree(r->test_tercile && v ? HARDY_OK : HARDY_ERR_RUNTIME, r->comm);
  if (st == HARDY_OK && sh->planted) {
    for (int64_t i = 0; i < n; i++) v[i] = sh->planted[i];
    r->tercile_source = "planted";
    st = terciles_from(r, v, n, r->test_tercile);
  } else if (st == HARDY_OK && r->have_teacher) {
    /* the teacher's hardness of the test rows under their evaluation masks */
    avail_rule_t rule = {AVAIL_EVAL, r->miss, (uint64_t)r->cfg->run.seed, 0};
    hardy_hardness_t h;
    memset(&h, 0, sizeof h);
    st = hardness_of(r, r->teacher.model, sh, &rule, NULL, &h, NULL);
    for (int64_t i = 0; st == HARDY_OK && i < n; i++)
      r->test_tercile[i] = (int8_t)HARDY_MIN(2, (int)(3.0 * (double)h.rank[i] / (double)HARDY_MAX(h.n_total, 1)));
    hardy_hardness_free(&h);
    r->tercile_source = "teacher";
  } else if (st == HARDY_OK) {
    free(r->test_tercile);
    r->test_tercile = NULL;
  }
  free(v);
  return st;
}
