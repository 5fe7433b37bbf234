/* `hardy-hpc eval --checkpoint FILE ...`: evaluate a saved model on a split of a dataset under
 * a missing condition or rate, on any rank count. The model's shape and the default dataset,
 * fold and seed come from the configuration stored in the checkpoint. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hardy/checkpoint.h"
#include "hardy/cli.h"
#include "hardy/common.h"
#include "hardy/log.h"
#include "hardy/train.h"

static const char *USAGE =
    "usage: hardy-hpc eval --checkpoint FILE|DIR [--data FILE.h5] [--condition X | --missing-rate p]\n"
    "                      [--split test|validation|train] [--fold none|K] [--seed S] [--json]\n"
    "Evaluate a saved model (a training checkpoint, the final <run>-final.h5, or DIR/best) on a\n"
    "split of a dataset under a fixed missing condition (a, t, v, at, av, tv, atv) or a random\n"
    "missing rate. Masks are drawn once per (seed, utterance), as in training.\n"
    "  --checkpoint   checkpoint file, or a directory (its `latest`), or DIR/best\n"
    "  --data         dataset file (default: the one the model was trained on)\n"
    "  --condition    present modalities (default: atv)\n"
    "  --missing-rate random missing rate in [0, 1)\n"
    "  --split        which split to evaluate (default: test)\n"
    "  --fold         fold setting for the split (default: the training configuration's)\n"
    "  --seed         seed of the evaluation masks (default: the training run.seed)\n"
    "  --json         print the metrics as one JSON object on stdout\n";

typedef struct {
  const char *ckpt, *data, *condition, *rate, *split, *fold, *seed;
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

/* The configuration stored in the checkpoint, with the command line's changes. */
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
  if (a->seed) {
    snprintf(set, sizeof set, "run.seed=%s", a->seed);
    HARDY_CHECK(hardy_config_set(cfg, set, "--seed"));
  }
  snprintf(set, sizeof set, "missing.condition=%s", a->condition ? a->condition : "atv");
  HARDY_CHECK(hardy_config_set(cfg, set, "--condition"));
  snprintf(set, sizeof set, "missing.rate=%s", a->rate ? a->rate : "");
  HARDY_CHECK(hardy_config_set(cfg, set, "--missing-rate"));
  HARDY_CHECK(hardy_config_finalize(cfg));
  if (cfg->data.fold == HARDY_FOLD_ALL)
    return hardy_fail(HARDY_ERR_INPUT, "eval: the model was trained with data.fold = all; name the "
                      "fold whose split to evaluate with --fold K");
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
  st = hardy_agree(eval_config(&a, &info, &cfg), comm);
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
  if (st == HARDY_OK)
    st = hardy_train_evaluate(model, &sh, miss, (uint64_t)cfg.run.seed, cfg.train.batch_dialogues,
                              ds.task, ds.num_classes, comm, &m);
  if (st == HARDY_OK && hardy_world_rank() == 0) {
    char cname[32];
    hardy_missing_name(miss, cname, sizeof cname);
    if (a.json) {
      cJSON *o = cJSON_CreateObject();
      cJSON_AddStringToObject(o, "checkpoint", path);
      cJSON_AddStringToObject(o, "dataset", ds.path);
      cJSON_AddStringToObject(o, "split", a.split);
      cJSON_AddStringToObject(o, "condition", cname);
      cJSON *mo = cJSON_AddObjectToObject(o, "metrics");
      if (m.task == HARDY_TASK_CLASSIFICATION) {
        cJSON_AddNumberToObject(mo, "wa", m.wa);
        cJSON_AddNumberToObject(mo, "ua", m.ua);
        cJSON_AddNumberToObject(mo, "f1", m.f1);
      } else {
        cJSON_AddNumberToObject(mo, "mae", m.mae);
        cJSON_AddNumberToObject(mo, "corr", m.corr);
        cJSON_AddNumberToObject(mo, "acc2", m.acc2);
        cJSON_AddNumberToObject(mo, "acc2_has0", m.acc2_has0);
        cJSON_AddNumberToObject(mo, "f1", m.f1);
      }
      cJSON_AddNumberToObject(mo, "n", (double)m.n);
      char *text = cJSON_PrintUnformatted(o);
      printf("%s\n", text);
      free(text);
      cJSON_Delete(o);
    } else if (m.task == HARDY_TASK_CLASSIFICATION) {
      printf("%s %s under %s: n %lld, WA %.4f, UA %.4f, F1 %.4f\n", ds.path, a.split, cname,
             (long long)m.n, m.wa, m.ua, m.f1);
    } else {
      printf("%s %s under %s: n %lld, MAE %.4f, corr %.4f, ACC2 %.4f, F1 %.4f\n", ds.path, a.split,
             cname, (long long)m.n, m.mae, m.corr, m.acc2, m.f1);
    }
  }
  hardy_model_free(model);
  hardy_shard_free(&sh);
  hardy_splits_free(&splits);
  if (ds.offset) hardy_dataset_close(&ds);
  hardy_ckpt_info_free(&info);
  return st;
}
