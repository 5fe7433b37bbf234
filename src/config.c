/* The configuration schema and its parser. One table below declares every key: its type,
 * where it lives in hardy_config_t, its default, its range or allowed words, and a line of
 * help. Parsing, range checks, the effective-config echo and --help-config all read it. */
#include "hardy/config.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "hardy/common.h"
#include "hardy/metrics.h"

typedef enum { T_INT, T_FLOAT, T_BOOL, T_STR, T_PATH, T_ENUM } key_type_t;

typedef struct {
  const char *section, *key;
  key_type_t type;
  size_t offset;
  const char *def;
  double lo, hi;        /* inclusive range for T_INT / T_FLOAT */
  const char *words;    /* T_ENUM: '|'-separated words, value = position */
  bool shapes;          /* changes model/optimizer shapes: checkpoints must match */
  const char *help;
} key_t_;

#define OFF(field) offsetof(hardy_config_t, field)
#define BIG 1e18

static const key_t_ SCHEMA[] = {
    {"data", "path", T_PATH, OFF(data.path), "", 0, 0, NULL, false,
     "HDF5 dataset file (see docs/DATA_FORMAT.md)"},
    {"data", "fold", T_STR, OFF(data.fold_text), "none", 0, 0, NULL, false,
     "none = the file's own train/validation/test split; k = fold k is test; all = every fold"},
    {"data", "val_fraction", T_FLOAT, OFF(data.val_fraction), "0.1", 0.0, 0.5, NULL, false,
     "share of training dialogues held out for validation when the file has no validation split"},
    {"data", "precheck", T_BOOL, OFF(data.precheck), "false", 0, 0, NULL, false,
     "walk the file's HDF5 structure in a separate process before the collective open, so a "
     "corrupt file on which HDF5 itself crashes is reported instead (inspect always does)"},
    {"data", "allow_nonfinite", T_ENUM, OFF(data.allow_nonfinite), "error", 0, 0, "error|zero",
     false, "NaN/Inf in features: error, or zero them and report the count"},
    {"data", "standardize", T_ENUM, OFF(data.standardize), "zscore", 0, 0, "zscore|none", false,
     "zscore: (x - mean) / std per modality and dimension, statistics of the training split "
     "(stored in checkpoints); none: features as stored"},
    {"data", "l2_normalize", T_ENUM, OFF(data.l2_normalize), "none", 0, 0, "none|text", false,
     "text: scale each text feature row to unit L2 norm (before standardize)"},
    {"missing", "condition", T_STR, OFF(missing.condition_text), "atv", 0, 0, NULL, false,
     "comma list of fixed conditions (present modalities): a,t,v,at,av,tv,atv; set this or rate"},
    {"missing", "rate", T_STR, OFF(missing.rate_text), "", 0, 0, NULL, false,
     "comma list of random missing rates in [0, 0.7] (GCNet's generator, docs/TRAINING.md); set "
     "this or condition"},
    {"run", "seed", T_INT, OFF(run.seed), "1", 0, 2147483647.0, NULL, false, "master seed"},
    {"run", "threads", T_INT, OFF(run.threads), "0", 0, 1024, NULL, false,
     "OpenMP threads per rank (0: OMP_NUM_THREADS, else the CPUs of the rank's affinity mask / ranks sharing them)"},
    {"run", "name", T_STR, OFF(run.name), "run", 0, 0, NULL, false, "free-text run name"},
    {"run", "save_predictions", T_BOOL, OFF(run.save_predictions), "false", 0, 0, NULL, false,
     "write DIR/predictions-<run>.csv: one row per test utterance (docs/TRAINING.md)"},
    {"run", "progress_seconds", T_FLOAT, OFF(run.progress_seconds), "10", 0, 3600, NULL, false,
     "minimum seconds between rank-0 progress lines"},
    {"model", "hidden", T_INT, OFF(model.hidden), "256", 1, 65536, NULL, true, "hidden size H"},
    {"model", "depth", T_INT, OFF(model.depth), "4", 1, 64, NULL, true,
     "residual attention layers per modality expert"},
    {"model", "heads", T_INT, OFF(model.heads), "2", 1, 256, NULL, true,
     "attention heads (must divide hidden)"},
    {"model", "mlp_ratio", T_FLOAT, OFF(model.mlp_ratio), "1", 0.125, 16, NULL, true,
     "MLP width as a multiple of hidden"},
    {"model", "dropout", T_FLOAT, OFF(model.dropout), "0.5", 0, 0.95, NULL, false, "dropout rate"},
    {"model", "layernorm", T_BOOL, OFF(model.layernorm), "false", 0, 0, NULL, true,
     "pre-LayerNorm in expert blocks"},
    {"model", "attn_out_proj", T_BOOL, OFF(model.attn_out_proj), "false", 0, 0, NULL, true,
     "output projection (H x H) after the self-attention of each expert block; false = the "
     "research code's block (docs/ALGORITHM.md, \"Fidelity points, measured\")"},
    {"model", "decoder_hidden", T_INT, OFF(model.decoder_hidden), "1024", 1, 65536, NULL, true,
     "hidden width of the reconstruction decoder"},
    {"train", "batch_dialogues", T_INT, OFF(train.batch_dialogues), "16", 1, 1000000, NULL, false,
     "dialogues per optimiser step, over all ranks"},
    {"train", "lr", T_FLOAT, OFF(train.lr), "1e-4", 0, 10, NULL, false, "Adam learning rate"},
    {"train", "weight_decay", T_FLOAT, OFF(train.weight_decay), "1e-5", 0, 10, NULL, false,
     "Adam weight decay (L2, added to the gradient)"},
    {"train", "lambda_rec", T_FLOAT, OFF(train.lambda_rec), "1", 0, 1000, NULL, false,
     "weight of the reconstruction loss in stage 2"},
    {"train", "stage1_epochs", T_INT, OFF(train.stage1_epochs), "25", 0, 100000, NULL, false,
     "student warm-up epochs, all modalities, unimodal heads"},
    {"train", "stage2_epochs", T_INT, OFF(train.stage2_epochs), "25", 0, 100000, NULL, false,
     "student epochs under missing modalities"},
    {"train", "allreduce", T_ENUM, OFF(train.allreduce), "bucketed", 0, 0, "bucketed|blocking",
     false, "gradient averaging: bucketed non-blocking (overlaps backward) or one blocking call"},
    {"train", "bucket_mb", T_FLOAT, OFF(train.bucket_mb), "4", 0.0625, 4096, NULL, false,
     "gradient bucket size for the non-blocking allreduce"},
    {"train", "select_metric", T_STR, OFF(train.select_metric), "auto", 0, 0, NULL, false,
     "validation metric that selects the stage-2 epoch: auto (wa for classification, mae for "
     "regression) or any reported metric (docs/TRAINING.md); mae is minimised, the rest "
     "maximised"},
    {"train", "optimizer_shard", T_BOOL, OFF(train.optimizer_shard), "false", 0, 0, NULL, false,
     "shard Adam's moments over the ranks (ZeRO stage 1: gradient reduce-scatter, Adam on 1/R "
     "of the parameters, parameter allgather); same results within rounding, 1/R the optimiser "
     "memory and work"},
    {"train", "max_steps", T_INT, OFF(train.max_steps), "0", 0, 1e9, NULL, false,
     "stop every phase after this many steps (0: no limit; for smoke tests)"},
    {"train", "max_nonfinite_steps", T_INT, OFF(train.max_nonfinite_steps), "5", 1, 1e9, NULL,
     false, "consecutive steps with a NaN/Inf loss or gradient that are skipped before the run "
     "stops (exit 3, checkpoint of the last good state)"},
    {"teacher", "warmup_epochs", T_INT, OFF(teacher.warmup_epochs), "100", 0, 100000, NULL, false,
     "teacher epochs with all modalities"},
    {"teacher", "epochs", T_INT, OFF(teacher.epochs), "100", 0, 100000, NULL, false,
     "teacher epochs under the training masks"},
    {"teacher", "checkpoint", T_PATH, OFF(teacher.checkpoint), "", 0, 0, NULL, false,
     "reuse a teacher trained earlier (checkpoint file)"},
    {"hardness", "estimator", T_ENUM, OFF(hardness.estimator), "gaussian", 0, 0, "entropy|gaussian",
     false, "mutual-information estimator for indirect hardness (docs/HARDNESS.md: the entropy "
     "proxy rises with difficulty, so pair it with mi_sign = high_is_hard)"},
    {"hardness", "mi_sign", T_ENUM, OFF(hardness.mi_sign), "low_is_hard", 0, 0,
     "low_is_hard|high_is_hard", false, "low shared information = hard (default) or the reverse"},
    {"hardness", "beta", T_FLOAT, OFF(hardness.beta), "4", 0, 1000, NULL, false,
     "sigmoid temperature of the combined score"},
    {"hardness", "alpha1", T_FLOAT, OFF(hardness.alpha1), "0.6", 0, 1000, NULL, false,
     "weight of direct hardness"},
    {"hardness", "alpha2", T_FLOAT, OFF(hardness.alpha2), "0.4", 0, 1000, NULL, false,
     "weight of indirect hardness"},
    {"hardness", "ridge", T_FLOAT, OFF(hardness.ridge), "1e-4", 0, 1e6, NULL, false,
     "ridge added to covariance diagonals (gaussian estimator)"},
    {"hardness", "use_direct", T_BOOL, OFF(hardness.use_direct), "true", 0, 0, NULL, false,
     "include direct (reconstruction) hardness"},
    {"hardness", "use_indirect", T_BOOL, OFF(hardness.use_indirect), "true", 0, 0, NULL, false,
     "include indirect (mutual-information) hardness"},
    {"hardness", "scorer", T_ENUM, OFF(hardness.scorer), "teacher", 0, 0, "teacher|student", false,
     "model that scores hardness at refresh"},
    {"retrieval", "k", T_INT, OFF(retrieval.k), "3", 1, 1024, NULL, false,
     "K: most retrieved neighbours (views) per utterance"},
    {"retrieval", "space", T_ENUM, OFF(retrieval.space), "input", 0, 0, "input|embedding", false,
     "retrieve in input-feature space or frozen-teacher embedding space"},
    {"retrieval", "query_block", T_INT, OFF(retrieval.query_block), "1024", 1, 1 << 20, NULL, false,
     "queries per distributed search block"},
    {"curriculum", "enabled", T_BOOL, OFF(curriculum.enabled), "true", 0, 0, NULL, false,
     "HARDY-MER: teacher, hardness, retrieval-based curriculum in stage 2 (false: uniform "
     "training, no teacher)"},
    {"curriculum", "score", T_ENUM, OFF(curriculum.score), "rank", 0, 0, "rank|sigmoid", false,
     "neighbour budget from global hardness rank or from the sigmoid score"},
    {"curriculum", "k_min", T_INT, OFF(curriculum.k_min), "0", 0, 1024, NULL, false,
     "fewest neighbour views per utterance"},
    {"curriculum", "pacing", T_ENUM, OFF(curriculum.pacing), "none", 0, 0, "none|linear|root",
     false, "admit extra views from easy to hard over pacing_epochs"},
    {"curriculum", "pacing_start", T_FLOAT, OFF(curriculum.pacing_start), "0.3", 0, 1, NULL, false,
     "admitted fraction at the first stage-2 epoch"},
    {"curriculum", "pacing_epochs", T_INT, OFF(curriculum.pacing_epochs), "10", 1, 100000, NULL,
     false, "epochs until every utterance is admitted"},
    {"curriculum", "refresh_every", T_INT, OFF(curriculum.refresh_every), "0", 0, 100000, NULL,
     false, "recompute hardness and neighbours every N stage-2 epochs (0: once)"},
    {"curriculum", "views", T_ENUM, OFF(curriculum.views), "retrieval", 0, 0, "retrieval|self",
     false, "retrieved neighbour views, or the utterance itself (equal-compute control)"},
    {"curriculum", "dynamic_k", T_BOOL, OFF(curriculum.dynamic_k), "true", 0, 0, NULL, false,
     "budget from hardness (false: every utterance gets K)"},
    {"checkpoint", "every_steps", T_INT, OFF(checkpoint.every_steps), "0", 0, 1e9, NULL, false,
     "write a checkpoint every N optimiser steps (0: off)"},
    {"checkpoint", "every_seconds", T_FLOAT, OFF(checkpoint.every_seconds), "1800", 0, 1e9, NULL,
     false, "write a checkpoint at the first step boundary after N seconds (0: off)"},
    {"checkpoint", "keep_recent", T_INT, OFF(checkpoint.keep_recent), "1", 0, 1000, NULL, false,
     "newest step checkpoints kept while the job runs, besides the best (0: every one)"},
    {"checkpoint", "keep", T_ENUM, OFF(checkpoint.keep), "final", 0, 0, "final|last|all", false,
     "after success keep the final models and teachers (final), also the latest checkpoint "
     "(last), or every checkpoint left (all)"},
};
#define N_KEYS (sizeof SCHEMA / sizeof SCHEMA[0])

static const char *type_name(key_type_t t) {
  switch (t) {
  case T_INT: return "integer";
  case T_FLOAT: return "number";
  case T_BOOL: return "boolean (true|false)";
  case T_STR: return "string";
  case T_PATH: return "path";
  case T_ENUM: return "one of";
  }
  return "?";
}

static const key_t_ *find_key(const char *section, const char *key) {
  for (size_t i = 0; i < N_KEYS; i++)
    if (strcmp(SCHEMA[i].section, section) == 0 && strcmp(SCHEMA[i].key, key) == 0) return &SCHEMA[i];
  return NULL;
}

static bool section_known(const char *section) {
  for (size_t i = 0; i < N_KEYS; i++)
    if (strcmp(SCHEMA[i].section, section) == 0) return true;
  return false;
}

static void trim(char *s) {
  size_t n = strlen(s);
  while (n > 0 && isspace((unsigned char)s[n - 1])) s[--n] = '\0';
  size_t i = 0;
  while (isspace((unsigned char)s[i])) i++;
  if (i) memmove(s, s + i, n - i + 1);
}

/* Index of `word` in a '|'-separated list, or -1. */
static int enum_index(const char *words, const char *word) {
  int idx = 0;
  const char *p = words;
  size_t wl = strlen(word);
  while (*p) {
    const char *bar = strchr(p, '|');
    size_t len = bar ? (size_t)(bar - p) : strlen(p);
    if (len == wl && strncmp(p, word, len) == 0) return idx;
    idx++;
    if (!bar) break;
    p = bar + 1;
  }
  return -1;
}

static void enum_word(const char *words, int index, char *out, size_t cap) {
  const char *p = words;
  for (int i = 0; i < index && p; i++) {
    p = strchr(p, '|');
    if (p) p++;
  }
  if (!p) {
    snprintf(out, cap, "?");
    return;
  }
  const char *bar = strchr(p, '|');
  size_t len = bar ? (size_t)(bar - p) : strlen(p);
  snprintf(out, cap, "%.*s", (int)HARDY_MIN(len, cap - 1), p);
}

static int set_value(hardy_config_t *cfg, const key_t_ *k, const char *raw, const char *where) {
  char value[HARDY_PATH_MAX];
  snprintf(value, sizeof value, "%s", raw);
  trim(value);
  char *base = (char *)cfg + k->offset;
  switch (k->type) {
  case T_INT: {
    errno = 0;
    char *end = NULL;
    long long v = strtoll(value, &end, 10);
    if (errno || end == value || *end != '\0')
      return hardy_fail(HARDY_ERR_INPUT, "%s: %s.%s = '%s' is not an integer", where, k->section,
                        k->key, value);
    if ((double)v < k->lo || (double)v > k->hi)
      return hardy_fail(HARDY_ERR_INPUT, "%s: %s.%s = %lld is out of range [%.0f, %.0f]", where,
                        k->section, k->key, v, k->lo, k->hi);
    if (k->offset == OFF(run.seed))
      *(long *)base = (long)v;
    else
      *(int *)base = (int)v;
    return HARDY_OK;
  }
  case T_FLOAT: {
    errno = 0;
    char *end = NULL;
    double v = strtod(value, &end);
    if (errno || end == value || *end != '\0' || !isfinite(v))
      return hardy_fail(HARDY_ERR_INPUT, "%s: %s.%s = '%s' is not a number", where, k->section,
                        k->key, value);
    if (v < k->lo || v > k->hi)
      return hardy_fail(HARDY_ERR_INPUT, "%s: %s.%s = %g is out of range [%g, %g]", where,
                        k->section, k->key, v, k->lo, k->hi);
    *(double *)base = v;
    return HARDY_OK;
  }
  case T_BOOL: {
    bool v;
    if (!strcmp(value, "true") || !strcmp(value, "yes") || !strcmp(value, "on") || !strcmp(value, "1"))
      v = true;
    else if (!strcmp(value, "false") || !strcmp(value, "no") || !strcmp(value, "off") ||
             !strcmp(value, "0"))
      v = false;
    else
      return hardy_fail(HARDY_ERR_INPUT, "%s: %s.%s = '%s' is not a boolean (use true or false)",
                        where, k->section, k->key, value);
    *(bool *)base = v;
    return HARDY_OK;
  }
  case T_STR:
  case T_PATH: {
    size_t cap = k->type == T_PATH ? HARDY_PATH_MAX : HARDY_CFG_STR;
    if (strlen(value) >= cap)
      return hardy_fail(HARDY_ERR_INPUT, "%s: %s.%s is longer than %zu characters", where,
                        k->section, k->key, cap - 1);
    memcpy(base, value, strlen(value) + 1);
    return HARDY_OK;
  }
  case T_ENUM: {
    int idx = enum_index(k->words, value);
    if (idx < 0 && !strcmp(k->key, "keep") && value[0] >= '0' && value[0] <= '9')
      return hardy_fail(HARDY_ERR_INPUT, "%s: checkpoint.keep = '%s': keep is now one of %s (what "
                        "stays after the job succeeds); the number of step checkpoints kept while "
                        "it runs is checkpoint.keep_recent", where, value, k->words);
    if (idx < 0)
      return hardy_fail(HARDY_ERR_INPUT, "%s: %s.%s = '%s' is not allowed; use one of: %s", where,
                        k->section, k->key, value, k->words);
    *(int *)base = idx;
    return HARDY_OK;
  }
  }
  return HARDY_ERR_INPUT;
}

static int set_key(hardy_config_t *cfg, const char *section, const char *key, const char *value,
                   const char *where) {
  if (!section_known(section))
    return hardy_fail(HARDY_ERR_INPUT,
                      "%s: unknown section [%s]; sections are data, missing, run, model, train, "
                      "teacher, hardness, retrieval, curriculum, checkpoint "
                      "(`hardy-hpc config --schema` lists every key)",
                      where, section);
  const key_t_ *k = find_key(section, key);
  if (!k) {
    char known[1024] = "";
    for (size_t i = 0; i < N_KEYS; i++)
      if (!strcmp(SCHEMA[i].section, section)) {
        strncat(known, known[0] ? ", " : "", sizeof known - strlen(known) - 1);
        strncat(known, SCHEMA[i].key, sizeof known - strlen(known) - 1);
      }
    return hardy_fail(HARDY_ERR_INPUT, "%s: unknown key '%s' in [%s]; known keys: %s", where, key,
                      section, known);
  }
  return set_value(cfg, k, value, where);
}

void hardy_config_defaults(hardy_config_t *cfg) {
  memset(cfg, 0, sizeof *cfg);
  for (size_t i = 0; i < N_KEYS; i++) {
    int rc = set_value(cfg, &SCHEMA[i], SCHEMA[i].def, "defaults");
    (void)rc; /* defaults are valid by construction; test_config checks it */
  }
}

/* Where missing.condition and missing.rate were last set (1 a file or stored text, 2 --set),
 * so that finalize can tell a clash in one place from a command line overriding a file. */
static void mark_source(hardy_config_t *cfg, const char *section, const char *key, int level) {
  if (strcmp(section, "missing")) return;
  if (!strcmp(key, "condition")) cfg->missing.condition_src = level;
  if (!strcmp(key, "rate")) cfg->missing.rate_src = level;
}

void hardy_config_saved_defaults(hardy_config_t *cfg) {
  hardy_config_defaults(cfg);
  cfg->model.attn_out_proj = true;
}

/* libinih as Debian builds it reports no line numbers to the handler and reads lines into a
 * fixed buffer, so lines are fed through our own reader, which counts them and rejects lines
 * that would be cut. */
typedef struct {
  hardy_config_t *cfg;
  const char *origin;
  int status;
  int lineno;
  /* source: a FILE, or a string cursor */
  FILE *file;
  const char *cursor;
} ini_ctx_t;

static char *ini_reader_fn(char *str, int num, void *stream) {
  ini_ctx_t *ctx = stream;
  if (ctx->status < 0) return NULL;
  size_t len = 0;
  if (ctx->file) {
    if (!fgets(str, num, ctx->file)) return NULL;
    len = strlen(str);
    if (len == (size_t)num - 1 && str[len - 1] != '\n' && !feof(ctx->file)) goto too_long;
  } else {
    if (!ctx->cursor || !*ctx->cursor) return NULL;
    const char *nl = strchr(ctx->cursor, '\n');
    len = nl ? (size_t)(nl - ctx->cursor) + 1 : strlen(ctx->cursor);
    if (len > (size_t)num - 1) goto too_long;
    memcpy(str, ctx->cursor, len);
    str[len] = '\0';
    ctx->cursor += len;
  }
  ctx->lineno++;
  return str;
too_long:
  ctx->status = hardy_fail(HARDY_ERR_INPUT, "%s:%d: line longer than %d characters; shorten it "
                           "(e.g. a shorter path, or pass the value with --set)",
                           ctx->origin, ctx->lineno + 1, num - 2);
  return NULL;
}

static int ini_on_key(void *user, const char *section, const char *name, const char *value) {
  ini_ctx_t *ctx = user;
  if (ctx->status < 0) return 0;
  char where[HARDY_PATH_MAX + 32];
  snprintf(where, sizeof where, "%s:%d", ctx->origin, ctx->lineno);
  if (!section[0]) {
    ctx->status = hardy_fail(HARDY_ERR_INPUT,
                             "%s: key '%s' appears before any [section]", where, name);
    return 0;
  }
  ctx->status = set_key(ctx->cfg, section, name, value, where);
  if (ctx->status == HARDY_OK) mark_source(ctx->cfg, section, name, 1);
  return ctx->status < 0 ? 0 : 1;
}

static int ini_run(ini_ctx_t *ctx) {
  int rc = ini_parse_stream(ini_reader_fn, ctx, ini_on_key, ctx);
  if (ctx->status < 0) return ctx->status;
  if (rc > 0)
    return hardy_fail(HARDY_ERR_INPUT,
                      "%s:%d: syntax error (expected [section], key = value, or a ; comment)",
                      ctx->origin, rc);
  if (rc < 0) return hardy_fail(HARDY_ERR_INPUT, "cannot read configuration %s", ctx->origin);
  return HARDY_OK;
}

int hardy_config_load_file(hardy_config_t *cfg, const char *path) {
  FILE *f = fopen(path, "r");
  if (!f)
    return hardy_fail(HARDY_ERR_INPUT, "cannot open config file '%s': %s", path, strerror(errno));
  ini_ctx_t ctx = {cfg, path, HARDY_OK, 0, f, NULL};
  int rc = ini_run(&ctx);
  fclose(f);
  return rc;
}

int hardy_config_load_string(hardy_config_t *cfg, const char *text, const char *origin) {
  ini_ctx_t ctx = {cfg, origin, HARDY_OK, 0, NULL, text};
  return ini_run(&ctx);
}

int hardy_config_set(hardy_config_t *cfg, const char *assignment, const char *origin) {
  const char *eq = strchr(assignment, '=');
  const char *dot = strchr(assignment, '.');
  if (!eq || !dot || dot > eq)
    return hardy_fail(HARDY_ERR_INPUT,
                      "%s '%s': expected section.key=value (e.g. --set train.lr=3e-4)", origin,
                      assignment);
  char section[HARDY_CFG_STR], key[HARDY_CFG_STR];
  snprintf(section, sizeof section, "%.*s", (int)HARDY_MIN((size_t)(dot - assignment), sizeof section - 1), assignment);
  snprintf(key, sizeof key, "%.*s", (int)HARDY_MIN((size_t)(eq - dot - 1), sizeof key - 1), dot + 1);
  trim(section);
  trim(key);
  char where[HARDY_CFG_STR + 512];
  snprintf(where, sizeof where, "%s %.400s", origin, assignment);
  HARDY_CHECK(set_key(cfg, section, key, eq + 1, where));
  mark_source(cfg, section, key, 2);
  return HARDY_OK;
}

int hardy_condition_parse(const char *text) {
  int bits = 0;
  if (!text[0]) return -1;
  for (const char *p = text; *p; p++) {
    int b = *p == 'a' ? HARDY_MOD_A : *p == 't' ? HARDY_MOD_T : *p == 'v' ? HARDY_MOD_V : 0;
    if (!b || (bits & b)) return -1;
    bits |= b;
  }
  return bits;
}

const char *hardy_condition_name(int bits) {
  static const char *names[8] = {"none", "a", "t", "at", "v", "av", "tv", "atv"};
  return names[bits & 7];
}

/* Split a comma list, calling fn on each trimmed item. */
static int parse_list(hardy_config_t *cfg, const char *text, const char *key,
                      int (*fn)(hardy_config_t *, const char *, const char *)) {
  char buf[HARDY_CFG_STR];
  snprintf(buf, sizeof buf, "%s", text);
  char *save = NULL;
  for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    trim(tok);
    if (!tok[0]) continue;
    if (cfg->missing.n_conditions >= HARDY_MAX_CONDITIONS)
      return hardy_fail(HARDY_ERR_INPUT, "%s: at most %d conditions or rates per run", key,
                        HARDY_MAX_CONDITIONS);
    HARDY_CHECK(fn(cfg, tok, key));
  }
  return HARDY_OK;
}

static int add_condition(hardy_config_t *cfg, const char *tok, const char *key) {
  int bits = hardy_condition_parse(tok);
  if (bits <= 0)
    return hardy_fail(HARDY_ERR_INPUT,
                      "%s: '%s' is not a condition; use the present modalities: a, t, v, at, "
                      "av, tv or atv", key, tok);
  int n = cfg->missing.n_conditions++;
  cfg->missing.condition[n] = bits;
  cfg->missing.rate[n] = -1.0;
  return HARDY_OK;
}

static int add_rate(hardy_config_t *cfg, const char *tok, const char *key) {
  char *end = NULL;
  double r = strtod(tok, &end);
  if (end == tok || *end || !(r >= 0.0 && r <= HARDY_MISSING_RATE_MAX))
    return hardy_fail(HARDY_ERR_INPUT,
                      "%s: '%s' is not a missing rate in [0, %g] (from 2/3 on every utterance "
                      "keeps exactly one of the three modalities; GCNet's largest rate is %g)",
                      key, tok, HARDY_MISSING_RATE_MAX, HARDY_MISSING_RATE_MAX);
  int n = cfg->missing.n_conditions++;
  cfg->missing.condition[n] = 0;
  cfg->missing.rate[n] = r;
  return HARDY_OK;
}

/* missing.condition and missing.rate exclude each other. Both set in the same place (one file,
 * or both with --set) is an error; a --set of one replaces the other from a file, and the
 * default condition gives way to any rate. Afterwards only the key in use holds a value, so
 * the echo (config.ini, checkpoints) records only what is used. */
static int resolve_missing(hardy_config_t *cfg) {
  char *cond = cfg->missing.condition_text, *rate = cfg->missing.rate_text;
  int cs = cfg->missing.condition_src, rs = cfg->missing.rate_src;
  if (cond[0] && rate[0]) {
    if (cs == rs)
      return hardy_fail(HARDY_ERR_INPUT,
                        "missing.condition = '%s' and missing.rate = '%s' are both set%s; keep "
                        "one: missing.condition for fixed conditions or missing.rate for random "
                        "missing rates", cond, rate, cs == 2 ? " with --set" : "");
    if (cs > rs) rate[0] = '\0';
    else cond[0] = '\0';
  }
  return HARDY_OK;
}

int hardy_config_finalize(hardy_config_t *cfg) {
  /* fold */
  const char *f = cfg->data.fold_text;
  if (!strcmp(f, "none") || !f[0]) {
    cfg->data.fold = HARDY_FOLD_NONE;
  } else if (!strcmp(f, "all")) {
    cfg->data.fold = HARDY_FOLD_ALL;
  } else {
    char *end = NULL;
    long v = strtol(f, &end, 10);
    if (end == f || *end || v < 0 || v > 1000000)
      return hardy_fail(HARDY_ERR_INPUT,
                        "data.fold = '%s': use none (the file's split), all, or a fold id >= 0", f);
    cfg->data.fold = (int)v;
  }
  /* conditions and rates: exactly one of the two lists */
  HARDY_CHECK(resolve_missing(cfg));
  cfg->missing.n_conditions = 0;
  bool has_rate = cfg->missing.rate_text[0] != '\0';
  if (has_rate) {
    HARDY_CHECK(parse_list(cfg, cfg->missing.rate_text, "missing.rate", add_rate));
  } else {
    HARDY_CHECK(parse_list(cfg, cfg->missing.condition_text, "missing.condition", add_condition));
  }
  if (cfg->missing.n_conditions == 0)
    return hardy_fail(HARDY_ERR_INPUT,
                      "missing.condition and missing.rate are both empty; set one (e.g. "
                      "--set missing.condition=at or --set missing.rate=0.3)");
  const char *sel = cfg->train.select_metric;
  if (!hardy_metrics_known(sel, HARDY_TASK_CLASSIFICATION) &&
      !hardy_metrics_known(sel, HARDY_TASK_REGRESSION)) {
    const char *names[16];
    char valid[256] = "auto";
    for (int task = HARDY_TASK_CLASSIFICATION; task <= HARDY_TASK_REGRESSION; task++)
      for (int i = 0, n = hardy_metrics_names(task, names, 16); i < n; i++)
        if (!strstr(valid, names[i]) || task == HARDY_TASK_CLASSIFICATION) {
          strncat(valid, ", ", sizeof valid - strlen(valid) - 1);
          strncat(valid, names[i], sizeof valid - strlen(valid) - 1);
        }
    return hardy_fail(HARDY_ERR_INPUT, "train.select_metric = '%s' is not a metric; use one of: %s",
                      sel, valid);
  }
  if (cfg->model.hidden % cfg->model.heads != 0)
    return hardy_fail(HARDY_ERR_INPUT, "model.heads = %d does not divide model.hidden = %d",
                      cfg->model.heads, cfg->model.hidden);
  if (cfg->curriculum.k_min > cfg->retrieval.k)
    return hardy_fail(HARDY_ERR_INPUT, "curriculum.k_min = %d exceeds retrieval.k = %d",
                      cfg->curriculum.k_min, cfg->retrieval.k);
  if (cfg->hardness.use_direct == false && cfg->hardness.use_indirect == false &&
      cfg->curriculum.enabled && cfg->curriculum.dynamic_k)
    return hardy_fail(HARDY_ERR_INPUT,
                      "hardness.use_direct and hardness.use_indirect are both false, so there is "
                      "no hardness to drive curriculum.dynamic_k; enable one or set "
                      "curriculum.dynamic_k=false");
  return HARDY_OK;
}

static void format_value(const hardy_config_t *cfg, const key_t_ *k, char *out, size_t cap) {
  const char *base = (const char *)cfg + k->offset;
  switch (k->type) {
  case T_INT:
    if (k->offset == OFF(run.seed))
      snprintf(out, cap, "%ld", *(const long *)base);
    else
      snprintf(out, cap, "%d", *(const int *)base);
    break;
  case T_FLOAT: {
    double v = *(const double *)base; /* shortest text that reads back exactly */
    for (int prec = 6; prec <= 17; prec++) {
      snprintf(out, cap, "%.*g", prec, v);
      if (strtod(out, NULL) == v) break;
    }
    break;
  }
  case T_BOOL: snprintf(out, cap, "%s", *(const bool *)base ? "true" : "false"); break;
  case T_STR:
  case T_PATH: snprintf(out, cap, "%s", base); break;
  case T_ENUM: enum_word(k->words, *(const int *)base, out, cap); break;
  }
}

int hardy_config_write(const hardy_config_t *cfg, FILE *out) {
  const char *section = "";
  char value[HARDY_PATH_MAX];
  for (size_t i = 0; i < N_KEYS; i++) {
    if (strcmp(section, SCHEMA[i].section)) {
      section = SCHEMA[i].section;
      fprintf(out, "%s[%s]\n", i ? "\n" : "", section);
    }
    format_value(cfg, &SCHEMA[i], value, sizeof value);
    fprintf(out, "%s = %s\n", SCHEMA[i].key, value);
  }
  return ferror(out) ? hardy_fail(HARDY_ERR_RUNTIME, "cannot write configuration") : HARDY_OK;
}

char *hardy_config_to_string(const hardy_config_t *cfg) {
  char *buf = NULL;
  size_t len = 0;
  FILE *mem = open_memstream(&buf, &len);
  if (!mem) {
    hardy_fail(HARDY_ERR_RUNTIME, "open_memstream failed");
    return NULL;
  }
  hardy_config_write(cfg, mem);
  fclose(mem);
  return buf;
}

void hardy_config_print_schema(FILE *out) {
  const char *section = "";
  for (size_t i = 0; i < N_KEYS; i++) {
    const key_t_ *k = &SCHEMA[i];
    if (strcmp(section, k->section)) {
      section = k->section;
      fprintf(out, "\n[%s]\n", section);
    }
    char range[160] = "";
    if (k->type == T_ENUM)
      snprintf(range, sizeof range, " %s", k->words);
    else if (k->type == T_INT || k->type == T_FLOAT)
      snprintf(range, sizeof range, " in [%g, %g]", k->lo, k->hi);
    fprintf(out, "  %-16s %s%s, default '%s'%s\n      %s\n", k->key, type_name(k->type), range,
            k->def, k->shapes ? " (fixed by a checkpoint)" : "", k->help);
  }
}

int hardy_config_shape_differs(const hardy_config_t *a, const hardy_config_t *b, const char **key) {
  static char name[2 * HARDY_CFG_STR];
  char va[HARDY_PATH_MAX], vb[HARDY_PATH_MAX];
  for (size_t i = 0; i < N_KEYS; i++) {
    if (!SCHEMA[i].shapes) continue;
    format_value(a, &SCHEMA[i], va, sizeof va);
    format_value(b, &SCHEMA[i], vb, sizeof vb);
    if (strcmp(va, vb)) {
      snprintf(name, sizeof name, "%s.%s", SCHEMA[i].section, SCHEMA[i].key);
      if (key) *key = name;
      return 1;
    }
  }
  return 0;
}
