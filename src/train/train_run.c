/* One run of a training job (train module): a fold and a missing condition. Sets up the
 * models, runs teacher -> stage 1 -> hardness and retrieval -> stage 2 from wherever the run
 * stands, selects the epoch on validation, evaluates on test, and writes and restores the
 * run's checkpoints. */
#include <stdlib.h>
#include <string.h>

#include "hardy/checkpoint.h"
#include "hardy/common.h"
#include "train_internal.h"

void hardy_train_model_config(const hardy_config_t *cfg, const hardy_dataset_t *ds, bool teacher,
                              int64_t max_rows, hardy_model_cfg_t *mc) {
  memset(mc, 0, sizeof *mc);
  for (int m = 0; m < 3; m++) mc->dims[m] = ds->dims[m];
  mc->hidden = cfg->model.hidden;
  mc->depth = cfg->model.depth;
  mc->heads = cfg->model.heads;
  mc->mlp_ratio = (float)cfg->model.mlp_ratio;
  mc->dropout = (float)cfg->model.dropout;
  mc->layernorm = cfg->model.layernorm;
  mc->attn_out_proj = cfg->model.attn_out_proj;
  mc->decoder_hidden = cfg->model.decoder_hidden;
  mc->regression = ds->task == HARDY_TASK_REGRESSION;
  mc->n_out = mc->regression ? 1 : ds->num_classes;
  /* the pair modules serve only the entropy estimator */
  mc->cross_attention = teacher && cfg->hardness.estimator == HARDY_MI_ENTROPY;
  mc->max_rows = (int)max_rows;
  /* teacher and student start from different draws */
  mc->seed = (uint64_t)cfg->run.seed * 2 + (teacher ? 1 : 0);
}

int64_t hardy_train_max_rows(const hardy_dataset_t *ds, int batch_dialogues) {
  int64_t max_len = 1;
  for (int64_t d = 0; d < ds->n_dialogue; d++)
    max_len = HARDY_MAX(max_len, ds->offset[d + 1] - ds->offset[d]);
  return (int64_t)batch_dialogues * max_len;
}

static int trainee_create(run_t *r, trainee_t *t, bool teacher) {
  hardy_model_cfg_t mc;
  hardy_train_model_config(r->cfg, r->ds, teacher, r->max_rows, &mc);
  HARDY_CHECK(hardy_model_create(&mc, &t->model));
  hardy_model_init(t->model);
  return trainee_opt_alloc(t, r->cfg->train.optimizer_shard, r->comm);
}

static void trainee_free(trainee_t *t) {
  hardy_model_free(t->model);
  trainee_opt_free(t);
  memset(t, 0, sizeof *t);
}

int run_setup(run_t *r) {
  const hardy_config_t *cfg = r->cfg;
  int64_t n_sel = r->train_sel->n;
  r->owner_local = hardy_malloc((size_t)HARDY_MAX(n_sel, 1) * sizeof(int64_t), "dialogue owners");
  r->dlg_len = hardy_malloc((size_t)HARDY_MAX(n_sel, 1) * sizeof(int64_t), "dialogue lengths");
  r->step_dlg = hardy_malloc((size_t)cfg->train.batch_dialogues * sizeof(int64_t), "step plan");
  if (!r->owner_local || !r->dlg_len || !r->step_dlg) return HARDY_ERR_RUNTIME;
  for (int64_t i = 0; i < n_sel; i++) {
    int64_t d = r->train_sel->dialogue[i];
    r->dlg_len[i] = r->ds->offset[d + 1] - r->ds->offset[d];
    r->owner_local[i] = -1;
  }
  for (int64_t j = 0; j < r->train->n_dialogue; j++) r->owner_local[r->train->first_index + j] = j;
  /* buffers follow the rank's share of the batch, not the global batch */
  r->rank_batch = (cfg->train.batch_dialogues + r->nranks - 1) / r->nranks;
  r->max_rows = hardy_train_max_rows(r->ds, r->rank_batch);
  HARDY_CHECK(trainee_create(r, &r->student, false));
  size_t n = hardy_model_num_params(r->student.model);
  r->best_params = hardy_malloc(n * sizeof(float), "best-epoch parameters");
  if (!r->best_params) return HARDY_ERR_RUNTIME;
  if (cfg->curriculum.enabled) {
    HARDY_CHECK(trainee_create(r, &r->teacher, true));
    r->have_teacher = true;
    int64_t nu = HARDY_MAX(r->train->n_utt, 1), K = cfg->retrieval.k;
    r->budget = hardy_calloc((size_t)nu, 1, "neighbour budgets");
    r->eff_budget = hardy_calloc((size_t)nu, 1, "neighbour budgets");
    r->nbr_id = hardy_malloc((size_t)(nu * K) * sizeof(int64_t), "neighbour lists");
    r->nbr_dist = hardy_malloc((size_t)(nu * K) * sizeof(float), "neighbour lists");
    r->q_f32 = hardy_calloc((size_t)nu, sizeof(float), "hardness ranks");
    if (!r->budget || !r->eff_budget || !r->nbr_id || !r->nbr_dist || !r->q_f32)
      return HARDY_ERR_RUNTIME;
    for (int m = 0; m < 3; m++)
      if (!(r->nbr[m] = hardy_malloc((size_t)(nu * K) * r->ds->dims[m] * sizeof(float),
                                     "neighbour feature rows")))
        return HARDY_ERR_RUNTIME;
  }
  HARDY_CHECK(batch_buf_alloc(&r->bb, r->max_rows, r->ds->dims));
  r->best_value = -1e300;
  r->best_epoch = -1;
  r->t_last_ckpt = hardy_now();
  return HARDY_OK;
}

void run_free(run_t *r) {
  trainee_free(&r->student);
  trainee_free(&r->teacher);
  free(r->best_params), free(r->step_dlg), free(r->owner_local), free(r->dlg_len);
  free(r->budget), free(r->eff_budget), free(r->nbr_id), free(r->nbr_dist), free(r->test_tercile);
  free(r->q_f32);
  for (int m = 0; m < 3; m++) free(r->nbr[m]);
  hardy_hardness_free(&r->hard);
  batch_buf_free(&r->bb);
  cJSON_Delete(r->diagnostics);
}

/* Directory of the job's checkpoints. */
static void ckpt_dir(const run_t *r, char *out, size_t cap) {
  snprintf(out, cap, "%s/checkpoints", r->opts->out_dir);
}

/* Replace *text on every rank by rank 0's copy. Parallel HDF5 needs every rank to make the same
 * metadata (a string's length is part of its dataset's type), and texts such as the results
 * carry numbers that are only equal if they come from one rank. */
static int bcast_text(char **text, MPI_Comm comm) {
  int rank;
  MPI_Comm_rank(comm, &rank);
  long long len = rank == 0 && *text ? (long long)strlen(*text) + 1 : 0;
  MPI_Bcast(&len, 1, MPI_LONG_LONG, 0, comm);
  if (rank != 0) {
    free(*text);
    *text = len ? hardy_malloc((size_t)len, "checkpoint text") : NULL;
  }
  int ok = !len || *text;
  MPI_Allreduce(MPI_IN_PLACE, &ok, 1, MPI_INT, MPI_MIN, comm);
  if (!ok) return HARDY_ERR_RUNTIME;
  if (len) MPI_Bcast(*text, (int)len, MPI_CHAR, 0, comm);
  return HARDY_OK;
}

static int save_to(run_t *r, trainee_t *t, const char *dir, const char *name, bool is_best) {
  hardy_ckpt_state_t s;
  memset(&s, 0, sizeof s);
  hardy_tensor_info_t *tensors = NULL;
  size_t n_tensors = 0;
  /* agreed: a rank that ran out of memory here must not leave the others in bcast_text */
  HARDY_CHECK(hardy_agree(hardy_ckpt_model_index(t->model, &tensors, &n_tensors), r->comm));
  char *config_text = hardy_config_to_string(r->cfg);
  cJSON *bm = metrics_json(&r->best_val);
  char *best_json = cJSON_PrintUnformatted(bm);
  cJSON_Delete(bm);
  char *results = r->results_so_far ? cJSON_PrintUnformatted(r->results_so_far) : NULL;
  int bst = bcast_text(&results, r->comm);
  if (bst == HARDY_OK) bst = bcast_text(&best_json, r->comm);
  if (bst != HARDY_OK) {
    free(tensors), free(config_text), free(best_json), free(results);
    return hardy_agree(hardy_fail(HARDY_ERR_RUNTIME, "out of memory for checkpoint texts"), r->comm);
  }
  s.n_params = hardy_model_num_params(t->model);
  s.n_tensors = n_tensors;
  s.tensors = tensors;
  s.params = hardy_model_params(t->model);
  float *whole_m = NULL, *whole_v = NULL; /* sharded: gathered for the file */
  if (trainee_opt_whole(t, &whole_m, &whole_v) != HARDY_OK) {
    free(tensors), free(config_text), free(best_json), free(results);
    return HARDY_ERR_RUNTIME;
  }
  s.adam_m = whole_m;
  s.adam_v = whole_v;
  s.best_params = t == &r->student && r->best_epoch > 0 ? r->best_params : NULL;
  s.adam_step = t->adam_step;
  s.run_index = r->run_index;
  s.phase = r->phase;
  s.epoch = r->epoch;
  s.step_in_epoch = r->step_in_epoch;
  s.global_step = r->global_step;
  s.seed = (uint64_t)r->cfg->run.seed;
  s.best_value = r->best_value;
  s.best_epoch = r->best_epoch;
  s.best_metrics_json = best_json;
  s.results_json = results;
  s.config_text = config_text;
  s.data_path = r->ds->path;
  s.data_fingerprint = r->ds->fingerprint;
  s.standardize_json = r->featnorm_json;
  if (t == &r->student && r->have_curriculum) {
    /* per-utterance curriculum state, by global id */
    const int64_t *id = r->train->utt_id;
    int64_t n = r->train->n_utt;
    hardy_ckpt_table_t tabs[] = {
        {"curriculum/budget", HARDY_CKPT_U8, 1, n, id, r->budget},
        {"curriculum/q", HARDY_CKPT_F32, 1, n, id, r->q_f32},
        {"neighbors/id", HARDY_CKPT_I64, r->cfg->retrieval.k, n, id, r->nbr_id},
        {"neighbors/dist", HARDY_CKPT_F32, r->cfg->retrieval.k, n, id, r->nbr_dist},
    };
    s.n_tables = 4;
    memcpy(s.tables, tabs, sizeof tabs);
  }
  double mbps = 0;
  int st = hardy_ckpt_save(&s, dir, name, r->cfg->checkpoint.keep_recent, is_best, r->comm, &mbps);
  if (st == HARDY_OK) {
    cJSON *line = cJSON_CreateObject();
    cJSON_AddStringToObject(line, "phase", "checkpoint");
    cJSON_AddStringToObject(line, "run", r->name);
    cJSON_AddStringToObject(line, "name", name);
    cJSON_AddStringToObject(line, "at_phase", phase_name(r->phase));
    cJSON_AddNumberToObject(line, "global_step", (double)r->global_step);
    cJSON_AddNumberToObject(line, "write_mb_per_s", mbps);
    st = hardy_agree(hardy_jsonl_write(r->metrics, line), r->comm);
  }
  trainee_opt_release(t, whole_m, whole_v);
  free(tensors), free(config_text), free(best_json), free(results);
  r->t_last_ckpt = hardy_now();
  return st;
}

int run_checkpoint(run_t *r, trainee_t *t, bool is_best) {
  char dir[HARDY_PATH_MAX + 32], name[64];
  ckpt_dir(r, dir, sizeof dir);
  hardy_ckpt_name(name, sizeof name, (int64_t)r->run_index * 1000000000ll + r->global_step);
  return save_to(r, t, dir, name, is_best);
}


/* Read the model of a checkpoint into trainee t (params and Adam state). */
static int restore_trainee(run_t *r, trainee_t *t, const char *path, const hardy_ckpt_info_t *info,
                           float *best) {
  size_t n = hardy_model_num_params(t->model);
  if (info->n_params != n)
    return hardy_agree(hardy_fail(HARDY_ERR_INPUT, "%s holds %zu parameters, this model has %zu: "
                                  "it was written for another model configuration", path,
                                  info->n_params, n), r->comm);
  double t0 = hardy_now();
  bool with_best = best && info->has_best_params;
  float *read_m = NULL, *read_v = NULL; /* sharded: whole, then this rank's slice is kept */
  HARDY_CHECK(hardy_agree(trainee_opt_read_bufs(t, &read_m, &read_v), r->comm));
  int rst = hardy_ckpt_read_model(path, info, hardy_model_params(t->model), read_m, read_v,
                                  with_best ? best : NULL, r->comm);
  trainee_opt_adopt(t, read_m, read_v);
  HARDY_CHECK(rst);
  t->adam_step = info->adam_step;
  double secs = hardy_now() - t0, mb = (3.0 + (with_best ? 1.0 : 0.0)) * (double)n * 4.0 / 1e6;
  MPI_Bcast(&secs, 1, MPI_DOUBLE, 0, r->comm);
  cJSON *line = cJSON_CreateObject();
  cJSON_AddStringToObject(line, "phase", "checkpoint_read");
  cJSON_AddStringToObject(line, "run", r->name);
  cJSON_AddStringToObject(line, "path", path);
  cJSON_AddNumberToObject(line, "megabytes", mb);
  cJSON_AddNumberToObject(line, "read_mb_per_s", secs > 0 ? mb / secs : 0.0);
  return hardy_agree(hardy_jsonl_write(r->metrics, line), r->comm);
}

void train_teacher_path(const hardy_config_t *cfg, const char *out_dir, const char *tag, char *out,
                        size_t cap) {
  const char *tc = cfg->teacher.checkpoint;
  size_t len = strlen(tc);
  if (tc[0] && len > 3 && !strcmp(tc + len - 3, ".h5"))
    snprintf(out, cap, "%s", tc);
  else if (tc[0])
    snprintf(out, cap, "%s/%s-teacher.h5", tc, tag);
  else
    snprintf(out, cap, "%s/teachers/%s-teacher.h5", out_dir, tag);
}

static int load_teacher(run_t *r) {
  char path[2 * HARDY_PATH_MAX + 128];
  train_teacher_path(r->cfg, r->opts->out_dir, r->tag, path, sizeof path);
  hardy_ckpt_info_t info;
  int st = hardy_ckpt_open(path, &info, r->comm);
  if (st != HARDY_OK) return st;
  char *cfg_text = hardy_config_to_string(r->cfg);
  char changed[1024];
  st = hardy_ckpt_check_compatible(&info, cfg_text, r->ds->fingerprint, NULL,
                                   hardy_model_num_params(r->teacher.model), changed, sizeof changed);
  free(cfg_text);
  if (st == HARDY_OK && r->featnorm) st = train_check_teacher_featnorm(r->featnorm, &info, r->ds);
  st = hardy_agree(st, r->comm);
  if (st == HARDY_OK) st = restore_trainee(r, &r->teacher, path, &info, NULL);
  hardy_ckpt_info_free(&info);
  if (st == HARDY_OK) hardy_log_info("[%s] frozen teacher from %s", r->name, path);
  return st;
}

int run_restore(run_t *r, const char *path, const hardy_ckpt_info_t *info) {
  r->phase = info->phase;
  r->epoch = info->epoch;
  r->step_in_epoch = info->step_in_epoch;
  r->global_step = info->global_step;
  r->best_value = info->best_value;
  r->best_epoch = info->best_epoch;
  if (info->best_metrics_json[0]) {
    cJSON *bm = cJSON_Parse(info->best_metrics_json);
    metrics_from_json(bm, r->ds->task, &r->best_val);
    cJSON_Delete(bm);
  }
  bool teacher_phase = info->phase <= PHASE_TEACHER;
  if (teacher_phase) return restore_trainee(r, &r->teacher, path, info, NULL);
  HARDY_CHECK(restore_trainee(r, &r->student, path, info, r->best_params));
  if (r->have_teacher) HARDY_CHECK(load_teacher(r));
  bool has_tables = false;
  for (int i = 0; i < info->n_tables; i++)
    if (!strcmp(info->table_names[i], "neighbors/id")) has_tables = true;
  if (r->cfg->curriculum.enabled && has_tables) {
    const hardy_shard_t *sh = r->train;
    int K = r->cfg->retrieval.k;
    HARDY_CHECK(hardy_ckpt_read_table(path, "curriculum/budget", sh->utt_id, sh->n_utt,
                                      HARDY_CKPT_U8, 1, r->budget, r->comm));
    HARDY_CHECK(hardy_ckpt_read_table(path, "curriculum/q", sh->utt_id, sh->n_utt, HARDY_CKPT_F32,
                                      1, r->q_f32, r->comm));
    HARDY_CHECK(hardy_ckpt_read_table(path, "neighbors/id", sh->utt_id, sh->n_utt, HARDY_CKPT_I64,
                                      K, r->nbr_id, r->comm));
    HARDY_CHECK(hardy_ckpt_read_table(path, "neighbors/dist", sh->utt_id, sh->n_utt,
                                      HARDY_CKPT_F32, K, r->nbr_dist, r->comm));
    HARDY_CHECK(curriculum_fetch_rows(r));
    r->have_curriculum = true;
  }
  return HARDY_OK;
}

/* Teacher: warm-up with every modality, then the training masks; then frozen and saved. */
static int run_teacher(run_t *r) {
  const hardy_config_t *cfg = r->cfg;
  if (cfg->teacher.checkpoint[0]) {
    if (r->phase < PHASE_STAGE1) r->phase = PHASE_STAGE1;
    return load_teacher(r);
  }
  if (r->phase > PHASE_TEACHER) return load_teacher(r);
  if (r->phase <= PHASE_TEACHER_WARMUP) {
    HARDY_CHECK(phase_train(r, &r->teacher, PHASE_TEACHER_WARMUP, cfg->teacher.warmup_epochs));
    r->phase = PHASE_TEACHER;
    r->epoch = 0;
    r->step_in_epoch = 0;
    HARDY_CHECK(run_checkpoint(r, &r->teacher, false));
  }
  HARDY_CHECK(phase_train(r, &r->teacher, PHASE_TEACHER, cfg->teacher.epochs));
  char dir[HARDY_PATH_MAX + 32], name[96];
  snprintf(dir, sizeof dir, "%s/teachers", r->opts->out_dir);
  snprintf(name, sizeof name, "%s-teacher", r->tag);
  HARDY_CHECK(save_to(r, &r->teacher, dir, name, false));
  hardy_log_info("[%s] teacher frozen: %s/%s.h5", r->name, dir, name);
  r->phase = PHASE_STAGE1;
  r->epoch = 0;
  r->step_in_epoch = 0;
  return run_checkpoint(r, &r->student, false);
}

static cJSON *run_result(run_t *r, const hardy_metrics_t *test, double seconds) {
  char cname[32];
  hardy_missing_name(r->miss, cname, sizeof cname);
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "condition", cname);
  if (r->fold >= 0) cJSON_AddNumberToObject(o, "fold", r->fold);
  else cJSON_AddStringToObject(o, "fold", "none");
  cJSON_AddNumberToObject(o, "selected_epoch", r->best_epoch);
  cJSON_AddStringToObject(o, "selected_by",
                          hardy_metrics_select_name(r->cfg->train.select_metric, r->ds->task));
  cJSON_AddItemToObject(o, "validation", metrics_json(&r->best_val));
  cJSON_AddItemToObject(o, "test", metrics_json(&test[0]));
  if (r->test_tercile) {
    cJSON *tt = cJSON_AddObjectToObject(o, "test_by_hardness");
    cJSON_AddStringToObject(tt, "source", r->tercile_source);
    cJSON_AddItemToObject(tt, "easy", metrics_json(&test[1]));
    cJSON_AddItemToObject(tt, "medium", metrics_json(&test[2]));
    cJSON_AddItemToObject(tt, "hard", metrics_json(&test[3]));
  }
  cJSON_AddBoolToObject(o, "curriculum", r->cfg->curriculum.enabled);
  if (r->diagnostics) cJSON_AddItemToObject(o, "curriculum_refreshes", cJSON_Duplicate(r->diagnostics, 1));
  /* clocks differ between ranks: rank 0's is the run's */
  MPI_Bcast(&seconds, 1, MPI_DOUBLE, 0, r->comm);
  cJSON_AddNumberToObject(o, "seconds", seconds);
  return o;
}

int run_one(run_t *r, cJSON **result) {
  const hardy_config_t *cfg = r->cfg;
  double t0 = hardy_now();
  if (r->have_teacher) HARDY_CHECK(run_teacher(r));
  if (r->phase <= PHASE_STAGE1 && !r->opts->hardness_only) {
    HARDY_CHECK(phase_train(r, &r->student, PHASE_STAGE1, cfg->train.stage1_epochs));
    r->phase = PHASE_STAGE2;
    r->epoch = 0;
    r->step_in_epoch = 0;
    HARDY_CHECK(run_checkpoint(r, &r->student, false));
  }
  if (r->have_teacher && !r->have_curriculum)
    HARDY_CHECK(curriculum_refresh(r, r->teacher.model, r->epoch));
  if (r->opts->hardness_only) {
    *result = NULL;
    return HARDY_OK;
  }
  if (r->phase <= PHASE_STAGE2)
    HARDY_CHECK(phase_train(r, &r->student, PHASE_STAGE2, cfg->train.stage2_epochs));
  hardy_model_t *m = r->student.model;
  size_t n = hardy_model_num_params(m);
  if (r->best_epoch <= 0) { /* no stage-2 epoch: the final model is the selected one */
    HARDY_CHECK(run_evaluate(r, m, r->val, NULL, &r->best_val));
    r->best_epoch = 0;
    memcpy(r->best_params, hardy_model_params(m), n * sizeof(float));
  }
  /* the selected epoch's parameters; they are the run's final checkpoint */
  memcpy(hardy_model_params(m), r->best_params, n * sizeof(float));
  int st = test_terciles(r);
  hardy_metrics_t test[4];
  memset(test, 0, sizeof test);
  int width = r->ds->task == HARDY_TASK_CLASSIFICATION ? r->ds->num_classes : 1;
  float *values = NULL;
  if (st == HARDY_OK && cfg->run.save_predictions &&
      !(values = hardy_malloc((size_t)HARDY_MAX(r->test->n_utt, 1) * (size_t)width * sizeof(float),
                              "predictions")))
    st = HARDY_ERR_RUNTIME;
  st = hardy_agree(st, r->comm);
  if (st == HARDY_OK)
    st = hardy_train_evaluate_rows(m, r->test, r->miss, (uint64_t)cfg->run.seed,
                                   cfg->train.batch_dialogues, r->ds->task, r->ds->num_classes,
                                   r->test_tercile, r->comm, test, values);
  if (st == HARDY_OK && values) {
    char path[HARDY_PATH_MAX + 96];
    snprintf(path, sizeof path, "%s/predictions-%s.csv", r->opts->out_dir, r->tag);
    st = hardy_train_write_predictions(path, r->ds, r->test, values, r->test_tercile, r->comm);
  }
  free(values);
  r->phase = PHASE_DONE;
  if (st == HARDY_OK) {
    char dir[HARDY_PATH_MAX + 32], name[96];
    ckpt_dir(r, dir, sizeof dir);
    snprintf(name, sizeof name, "%s-final", r->tag);
    st = save_to(r, &r->student, dir, name, true);
  }
  HARDY_CHECK(st);
  *result = run_result(r, test, hardy_now() - t0);
  if (test[0].task == HARDY_TASK_CLASSIFICATION)
    hardy_log_info("[%s] selected epoch %d: validation WA %.4f | test WA %.4f UA %.4f F1 %.4f",
                   r->name, r->best_epoch, r->best_val.wa, test[0].wa, test[0].ua, test[0].f1);
  else
    hardy_log_info("[%s] selected epoch %d: validation MAE %.4f | test MAE %.4f corr %.4f ACC2 "
                   "%.4f F1 %.4f ACC2(has0) %.4f ACC7 %.4f", r->name, r->best_epoch,
                   r->best_val.mae, test[0].mae, test[0].corr, test[0].acc2, test[0].f1,
                   test[0].acc2_has0, test[0].acc7);
  return HARDY_OK;
}
