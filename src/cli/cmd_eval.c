/* `hardy-hpc eval --checkpoint FILE ...`: evaluate a saved model on a split of a dataset under
 * a missing condition or rate, on any rank count. The model's shape, the default dataset, fold
 * and missing condition, and the seed of the validation hold-out come from the configuration
 * stored in the checkpoint. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hardy/checkpoint.h"
#include "hardy/cli.h"
#include "hardy/common.h"
#include "hardy/log.h"
#include "hardy/placement.h"
#include "hardy/train.h"

static const char *USAGE =
    "usage: hardy-hpc eval --checkpoint FILE|DIR [--data FILE.h5] [--condition X | --missing-rate p]\n"
    "                      [--split test|validation|train] [--fold none|K] [--seed S] [--json]\n"
    "                      [--predictions FILE.csv]\n"
    "Evaluate a saved model (a training checkpoint, the final <run>-final.h5, or DIR/best) on a\n"
    "split of a dataset under a fixed missing condition (a, t, v, at, av, tv, atv) or a random\n"
    "missing rate. Masks are drawn once per (seed, utterance), as in training.\n"
    "  --checkpoint   checkpoint file, or a directory (its `latest`), or DIR/best\n"
    "  --data         dataset file (default: the one the model was trained on)\n"
    "  --condition    present modalities (default: the condition the model was trained under)\n"
    "  --missing-rate random missing rate in [0, 0.7] (GCNet's generator)\n"
    "  --split        which split to evaluate (default: test)\n"
    "  --fold         fold setting for the split (default: the training configuration's)\n"
    "  --seed         seed of the evaluation masks under a random missing rate (default: the\n"
    "                 checkpoint's run.seed); the validation hold-out always uses the\n"
    "                 checkpoint's seed\n"
    "  --json         print the metrics as one JSON object on stdout\n"
    "  --predictions  write one CSV row per evaluated utterance (rank 0; docs/TRAINING.md)\n";

typedef struct {
  const char *ckpt, *data, *condition, *rate, *split, *fold, *seed, *predictions;
  bool json;
} eval_args_t;

static int parse_args(int argc, char **argv, eval_args_t *a) {
  memset(a, 0, sizeof *a);
  a->split = "test";
  for (int i = 1; i < argc; i++) {
    const char *f = argv[i];
    const char **slot = !strcmp(f, "--checkpoint") ? &a->ckpt
                        : !strcmp(f, "--data")         ? &a->data
                        : !strcmp(f, "--condition")    ? &a->condition
                        : !strcmp(f, "--missing-rate") ? &a->rate
                        : !strcmp(f, "--split")        ? &a->split
                        : !strcmp(f, "--fold")         ? &a->fold
                        : !strcmp(f, "--seed")         ? &a->seed
                        : !strcmp(f, "--predictions")  ? &a->predictions
                                                       : NULL;
    if (slot) {
      if (!(*slot = hardy_cli_value(argc, argv, i++))) return HARDY_ERR_INPUT;
    } else if (!strcmp(f, "--json")) {
      a->json = true;
    } else {
      return hardy_fail(HARDY_ERR_INPUT, "eval: unknown option '%s' (see hardy-hpc eval --help)", f);
    }
  }
  if (!a->ckpt) return hardy_fail(HARDY_ERR_INPUT, "eval: --checkpoint FILE is required");
  if (a->condition && a->rate)
    return hardy_fail(HARDY_ERR_INPUT, "eval: give --condition or --missing-rate, not both");
  if (strcmp(a->split, "test") && strcmp(a->split, "validation") && strcmp(a->split, "train"))
    return hardy_fail(HARDY_ERR_INPUT, "eval: --split '%s': use test, validation or train", a->split);
  return HARDY_OK;
}

/* The missing condition or rate the checkpoint's model was trained under, as config text
 * (e.g. "missing.condition=at"): entry run_index % n of the stored list (a job runs its
 * (fold, condition) pairs fold-major). */
static int stored_missing(const hardy_ckpt_info_t *info, const hardy_config_t *stored, char *out,
                          size_t cap) {
  hardy_config_t *c = hardy_malloc(sizeof *c, "configuration");
  if (!c) return HARDY_ERR_RUNTIME;
  *c = *stored;
  /* checkpoints of older versions record both keys; the rate was the one in use */
  if (c->missing.rate_text[0]) c->missing.condition_text[0] = '\0';
  int st = hardy_config_finalize(c);
  if (st == HARDY_OK) {
    int k = info->run_index % c->missing.n_conditions;
    if (c->missing.condition[k] > 0)
      snprintf(out, cap, "missing.condition=%s", hardy_condition_name(c->missing.condition[k]));
    else
      snprintf(out, cap, "missing.rate=%.17g", c->missing.rate[k]);
  }
  free(c);
  return st;
}

/* The configuration stored in the checkpoint, with the command line's changes. The seed stays
 * the checkpoint's: it decides the validation hold-out. */
static int eval_config(const eval_args_t *a, const hardy_ckpt_info_t *info, hardy_config_t *cfg) {
  hardy_config_saved_defaults(cfg);
  HARDY_CHECK(hardy_config_load_string(cfg, info->config_text, info->path));
  char set[HARDY_PATH_MAX + 32];
  if (a->data) {
    snprintf(set, sizeof set, "data.path=%s", a->data);
    HARDY_CHECK(hardy_config_set(cfg, set, "--data"));
  }
  if (a->fold) {
    snprintf(set, sizeof set, "data.fold=%s", a->fold);
    HARDY_CHECK(hardy_config_set(cfg, set, "--fold"));
  }
  char own[64];
  HARDY_CHECK(stored_missing(info, cfg, own, sizeof own));
  snprintf(set, sizeof set, "missing.condition=%s", a->condition ? a->condition : "");
  HARDY_CHECK(hardy_config_set(cfg, set, "--condition"));
  snprintf(set, sizeof set, "missing.rate=%s", a->rate ? a->rate : "");
  HARDY_CHECK(hardy_config_set(cfg, set, "--missing-rate"));
  if (!a->condition && !a->rate) HARDY_CHECK(hardy_config_set(cfg, own, info->path));
  HARDY_CHECK(hardy_config_finalize(cfg));
  if (cfg->data.fold == HARDY_FOLD_ALL)
    return hardy_fail(HARDY_ERR_INPUT, "eval: the model was trained with data.fold = all; name the "
                      "fold whose split to evaluate with --fold K");
  return HARDY_OK;
}

/* The model's inputs as in training: the feature statistics stored in the checkpoint, never
 * recomputed (another split or rank count would give other inputs). */
static int eval_featnorm(const hardy_ckpt_info_t *info, const hardy_dataset_t *ds,
                         hardy_shard_t *sh) {
  hardy_featnorm_t fn;
  bool legacy;
  HARDY_CHECK(hardy_train_featnorm_load(info, ds, &fn, &legacy));
  if (legacy)
    hardy_log_info("%s predates feature standardisation: its model was trained on the features "
                   "as stored, so they are evaluated as stored", info->path);
  int st = hardy_dataset_featnorm_apply(&fn, sh);
  hardy_dataset_featnorm_free(&fn);
  return st;
}

/* Seed of the evaluation masks: --seed, else the checkpoint's run.seed. */
static int mask_seed(const eval_args_t *a, const hardy_config_t *cfg, uint64_t *seed) {
  *seed = (uint64_t)cfg->run.seed;
  if (!a->seed) return HARDY_OK;
  int64_t v = 0;
  HARDY_CHECK(hardy_cli_int64("--seed", a->seed, 0, 2147483647, &v));
  *seed = (uint64_t)v;
  if (cfg->missing.condition[0] > 0 && hardy_world_rank() == 0)
    hardy_log_warn("eval: --seed changes only the masks of a random missing rate; under the "
                   "fixed condition %s it has no effect", hardy_condition_name(cfg->missing.condition[0]));
  return HARDY_OK;
}

int hardy_cmd_eval(int argc, char **argv) {
  for (int i = 1; i < argc; i++)
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      if (hardy_world_rank() == 0) fputs(USAGE, stdout);
      return HARDY_OK;
    }
  MPI_Comm comm = MPI_COMM_WORLD;
  eval_args_t a;
  char path[HARDY_PATH_MAX];
  int st = parse_args(argc, argv, &a);
  if (st == HARDY_OK) st = hardy_ckpt_resolve(a.ckpt, path, sizeof path);
  HARDY_CHECK(hardy_agree(st, comm));
  hardy_ckpt_info_t info;
  HARDY_CHECK(hardy_ckpt_open(path, &info, comm));
  hardy_config_t cfg;
  uint64_t seed = 0;
  st = eval_config(&a, &info, &cfg);
  if (st == HARDY_OK) st = mask_seed(&a, &cfg, &seed);
  st = hardy_agree(st, comm);
  if (st == HARDY_OK) st = hardy_placement_apply(cfg.run.threads, comm, NULL);
  hardy_dataset_t ds;
  memset(&ds, 0, sizeof ds);
  if (st == HARDY_OK) st = hardy_dataset_open(&ds, cfg.data.path, comm);
  hardy_splits_t splits;
  memset(&splits, 0, sizeof splits);
  if (st == HARDY_OK)
    st = hardy_agree(hardy_dataset_select(&ds, cfg.data.fold, cfg.data.val_fraction,
                                          (uint64_t)cfg.run.seed, &splits), comm);
  const hardy_selection_t *sel = !strcmp(a.split, "test") ? &splits.test
                                 : !strcmp(a.split, "train") ? &splits.train : &splits.val;
  hardy_shard_t sh;
  memset(&sh, 0, sizeof sh);
  if (st == HARDY_OK) st = hardy_dataset_read_shard(&ds, sel, comm, cfg.data.allow_nonfinite, &sh);
  if (st == HARDY_OK) st = hardy_agree(eval_featnorm(&info, &ds, &sh), comm);
  hardy_model_t *model = NULL;
  if (st == HARDY_OK) {
    /* phases before stage 1 hold the teacher (with its cross-attention modules) */
    hardy_model_cfg_t mc;
    hardy_train_model_config(&cfg, &ds, info.phase <= 1, hardy_train_max_rows(&ds, cfg.train.batch_dialogues), &mc);
    st = hardy_model_create(&mc, &model);
    if (st == HARDY_OK && hardy_model_num_params(model) != info.n_params)
      st = hardy_fail(HARDY_ERR_INPUT, "%s holds %zu parameters but its configuration gives %zu on "
                      "%s: the dataset's feature dimensions differ from the training data",
                      path, info.n_params, hardy_model_num_params(model), ds.path);
    st = hardy_agree(st, comm);
  }
  if (st == HARDY_OK)
    st = hardy_ckpt_read_model(path, &info, hardy_model_params(model), NULL, NULL, NULL, comm);
  hardy_metrics_t m;
  hardy_missing_t miss = {cfg.missing.condition[0], cfg.missing.rate[0]};
  int width = ds.task == HARDY_TASK_CLASSIFICATION ? ds.num_classes : 1;
  float *values = NULL;
  if (st == HARDY_OK && a.predictions &&
      !(values = hardy_malloc((size_t)HARDY_MAX(sh.n_utt, 1) * (size_t)width * sizeof(float),
                              "predictions")))
    st = HARDY_ERR_RUNTIME;
  st = hardy_agree(st, comm);
  if (st == HARDY_OK)
    st = hardy_train_evaluate_rows(model, &sh, miss, seed, cfg.train.batch_dialogues, ds.task,
                                   ds.num_classes, NULL, comm, &m, values);
  /* eval has no hardness of its own: the tercile column stays empty */
  if (st == HARDY_OK && a.predictions)
    st = hardy_train_write_predictions(a.predictions, &ds, &sh, values, NULL, comm);
  free(values);
  if (st == HARDY_OK && hardy_world_rank() == 0) {
    char cname[32];
    hardy_missing_name(miss, cname, sizeof cname);
    if (a.json) {
      cJSON *o = cJSON_CreateObject();
      cJSON_AddStringToObject(o, "checkpoint", path);
      cJSON_AddStringToObject(o, "dataset", ds.path);
      cJSON_AddStringToObject(o, "split", a.split);
      cJSON_AddStringToObject(o, "condition", cname);
      cJSON_AddNumberToObject(o, "mask_seed", (double)seed);
      cJSON_AddItemToObject(o, "metrics", hardy_train_metrics_json(&m));
      char *text = cJSON_PrintUnformatted(o);
      printf("%s\n", text);
      free(text);
      cJSON_Delete(o);
    } else if (m.task == HARDY_TASK_CLASSIFICATION) {
      printf("%s %s under %s: n %lld, WA %.4f, UA %.4f, F1 %.4f\n", ds.path, a.split, cname,
             (long long)m.n, m.wa, m.ua, m.f1);
    } else {
      printf("%s %s under %s: n %lld, MAE %.4f, corr %.4f, ACC2 %.4f, F1 %.4f, ACC2(has0) %.4f, "
             "F1(has0) %.4f, ACC5 %.4f, ACC7 %.4f\n", ds.path, a.split, cname, (long long)m.n,
             m.mae, m.corr, m.acc2, m.f1, m.acc2_has0, m.f1_has0, m.acc5, m.acc7);
    }
    if (a.predictions) hardy_log_info("predictions of %lld utterances -> %s", (long long)m.n, a.predictions);
  }
  hardy_model_free(model);
  hardy_shard_free(&sh);
  hardy_splits_free(&splits);
  if (ds.offset) hardy_dataset_close(&ds);
  hardy_ckpt_info_free(&info);
  return st;
}
