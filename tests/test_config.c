/* Config: defaults, file parsing, overrides, every kind of error, echo round trip. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "hardy/common.h"
#include "hardy/config.h"

static const char *write_tmp(const char *name, const char *text) {
  static char path[256];
  snprintf(path, sizeof path, "/tmp/hardy_test_config_%d_%s", (int)getpid(), name);
  FILE *f = fopen(path, "w");
  fputs(text, f);
  fclose(f);
  return path;
}

/* Expect an input error whose message contains `needle`. */
#define EXPECT_ERR(call, needle)                                                               \
  do {                                                                                         \
    hardy_error_clear();                                                                       \
    int rc_ = (call);                                                                          \
    TEST_EQ_INT(rc_, HARDY_ERR_INPUT);                                                         \
    TEST_ASSERT(strstr(hardy_error_message(), needle) != NULL, "message '%s' lacks '%s'",      \
                hardy_error_message(), needle);                                                \
  } while (0)

int main(void) {
  hardy_config_t cfg;
  hardy_config_defaults(&cfg);
  /* published defaults */
  TEST_EQ_INT(cfg.model.hidden, 256);
  TEST_EQ_INT(cfg.model.depth, 4);
  TEST_EQ_INT(cfg.model.heads, 2);
  TEST_NEAR(cfg.model.dropout, 0.5, 0, 0);
  TEST_EQ_INT(cfg.train.batch_dialogues, 16);
  TEST_NEAR(cfg.train.lr, 1e-4, 0, 0);
  TEST_NEAR(cfg.train.weight_decay, 1e-5, 0, 0);
  TEST_EQ_INT(cfg.train.stage1_epochs, 25);
  TEST_EQ_INT(cfg.retrieval.k, 3);
  TEST_NEAR(cfg.hardness.beta, 4.0, 0, 0);
  TEST_NEAR(cfg.hardness.alpha1, 0.6, 0, 0);
  TEST_EQ_INT(cfg.hardness.mi_sign, HARDY_MI_LOW_IS_HARD);
  TEST_EQ_INT(hardy_config_finalize(&cfg), HARDY_OK);
  TEST_EQ_INT(cfg.data.fold, HARDY_FOLD_NONE);
  TEST_EQ_INT(cfg.missing.n_conditions, 1);
  TEST_EQ_INT(cfg.missing.condition[0], HARDY_MOD_ALL);

  /* a file, with comments, then overrides on top */
  const char *ok = write_tmp("ok.ini", "; comment\n[data]\npath = /data/x.h5\nfold = 3\n"
                                       "[missing]\ncondition = a, tv ,atv\n"
                                       "[train]\nlr = 3e-4 ; inline comment\n"
                                       "[model]\nlayernorm = yes\n");
  TEST_EQ_INT(hardy_config_load_file(&cfg, ok), HARDY_OK);
  TEST_EQ_INT(hardy_config_set(&cfg, "train.lr=5e-4", "--set"), HARDY_OK);
  TEST_EQ_INT(hardy_config_set(&cfg, " model.hidden = 64 ", "--set"), HARDY_OK);
  TEST_EQ_INT(hardy_config_finalize(&cfg), HARDY_OK);
  TEST_ASSERT(!strcmp(cfg.data.path, "/data/x.h5"), "path %s", cfg.data.path);
  TEST_EQ_INT(cfg.data.fold, 3);
  TEST_NEAR(cfg.train.lr, 5e-4, 0, 0);
  TEST_EQ_INT(cfg.model.hidden, 64);
  TEST_ASSERT(cfg.model.layernorm, "layernorm");
  TEST_EQ_INT(cfg.missing.n_conditions, 3);
  TEST_EQ_INT(cfg.missing.condition[0], HARDY_MOD_A);
  TEST_EQ_INT(cfg.missing.condition[1], HARDY_MOD_T | HARDY_MOD_V);
  TEST_EQ_INT(cfg.missing.condition[2], HARDY_MOD_ALL);

  /* echo round trip: the effective config reloads to the same effective config */
  char *text = hardy_config_to_string(&cfg);
  hardy_config_t again;
  hardy_config_defaults(&again);
  TEST_EQ_INT(hardy_config_load_string(&again, text, "echo"), HARDY_OK);
  TEST_EQ_INT(hardy_config_finalize(&again), HARDY_OK);
  char *text2 = hardy_config_to_string(&again);
  TEST_ASSERT(!strcmp(text, text2), "echo differs:\n%s\n---\n%s", text, text2);
  TEST_NEAR(again.train.lr, cfg.train.lr, 0, 0);
  TEST_EQ_INT(hardy_config_shape_differs(&cfg, &again, NULL), 0);
  again.model.hidden = 128;
  const char *key = NULL;
  TEST_EQ_INT(hardy_config_shape_differs(&cfg, &again, &key), 1);
  TEST_ASSERT(key && !strcmp(key, "model.hidden"), "key %s", key ? key : "(null)");
  free(text);
  free(text2);

  /* every kind of error names the key, file and line or the allowed values */
  hardy_config_defaults(&cfg);
  EXPECT_ERR(hardy_config_set(&cfg, "train.lr=fast", "--set"), "train.lr = 'fast' is not a number");
  EXPECT_ERR(hardy_config_set(&cfg, "train.lr=20", "--set"), "out of range");
  EXPECT_ERR(hardy_config_set(&cfg, "model.depth=2.5", "--set"), "not an integer");
  EXPECT_ERR(hardy_config_set(&cfg, "model.layernorm=maybe", "--set"), "not a boolean");
  EXPECT_ERR(hardy_config_set(&cfg, "hardness.estimator=knn", "--set"), "entropy|gaussian");
  EXPECT_ERR(hardy_config_set(&cfg, "nosuch.key=1", "--set"), "unknown section [nosuch]");
  EXPECT_ERR(hardy_config_set(&cfg, "train.nosuch=1", "--set"), "unknown key 'nosuch' in [train]");
  EXPECT_ERR(hardy_config_set(&cfg, "trainlr=1", "--set"), "expected section.key=value");
  EXPECT_ERR(hardy_config_load_file(&cfg, "/nonexistent/x.ini"), "cannot open config file");
  const char *bad_line = write_tmp("bad.ini", "[train]\nlr = 1e-3\n\n[model]\nhidden = zero\n");
  char expect[300];
  snprintf(expect, sizeof expect, "%s:5: model.hidden = 'zero'", bad_line);
  EXPECT_ERR(hardy_config_load_file(&cfg, bad_line), expect);
  const char *syntax = write_tmp("syntax.ini", "[train]\nthis line has no equals\n");
  EXPECT_ERR(hardy_config_load_file(&cfg, syntax), ":2: syntax error");
  const char *nosec = write_tmp("nosec.ini", "lr = 1\n");
  EXPECT_ERR(hardy_config_load_file(&cfg, nosec), "before any [section]");
  char longline[400] = "[data]\npath = /";
  memset(longline + strlen(longline), 'x', 300);
  longline[sizeof longline - 2] = '\n';
  longline[sizeof longline - 1] = '\0';
  const char *longf = write_tmp("long.ini", longline);
  EXPECT_ERR(hardy_config_load_file(&cfg, longf), ":2: line longer than");

  hardy_config_defaults(&cfg);
  hardy_config_set(&cfg, "model.heads=3", "--set");
  EXPECT_ERR(hardy_config_finalize(&cfg), "does not divide");
  hardy_config_defaults(&cfg);
  hardy_config_set(&cfg, "missing.condition=ax", "--set");
  EXPECT_ERR(hardy_config_finalize(&cfg), "'ax' is not a condition");
  hardy_config_defaults(&cfg);
  hardy_config_set(&cfg, "missing.rate=0.2,1.5", "--set");
  EXPECT_ERR(hardy_config_finalize(&cfg), "'1.5' is not a missing rate");
  hardy_config_defaults(&cfg);
  hardy_config_set(&cfg, "missing.condition=", "--set");
  EXPECT_ERR(hardy_config_finalize(&cfg), "both empty");
  hardy_config_defaults(&cfg);
  hardy_config_set(&cfg, "data.fold=first", "--set");
  EXPECT_ERR(hardy_config_finalize(&cfg), "data.fold = 'first'");
  hardy_config_defaults(&cfg);
  hardy_config_set(&cfg, "curriculum.k_min=5", "--set");
  EXPECT_ERR(hardy_config_finalize(&cfg), "exceeds retrieval.k");

  /* a rates list replaces the default condition, and the echo records only the rates */
  hardy_config_defaults(&cfg);
  TEST_EQ_INT(hardy_config_set(&cfg, "missing.rate=0.0,0.3,0.7", "--set"), HARDY_OK);
  TEST_EQ_INT(hardy_config_finalize(&cfg), HARDY_OK);
  TEST_EQ_INT(cfg.missing.n_conditions, 3);
  TEST_NEAR(cfg.missing.rate[1], 0.3, 0, 0);
  TEST_EQ_INT(cfg.missing.condition[1], 0);
  text = hardy_config_to_string(&cfg);
  TEST_ASSERT(strstr(text, "[missing]\ncondition = \nrate = 0.0,0.3,0.7\n") != NULL,
              "echo of a rate run:\n%s", text);
  free(text);
  /* GCNet's range: at most 0.7 */
  hardy_config_defaults(&cfg);
  hardy_config_set(&cfg, "missing.rate=0.3,0.8", "--set");
  EXPECT_ERR(hardy_config_finalize(&cfg), "'0.8' is not a missing rate in [0, 0.7]");
  /* both keys in one file, or both with --set: an error naming both */
  const char *both = write_tmp("both.ini", "[missing]\ncondition = at\nrate = 0.3\n");
  hardy_config_defaults(&cfg);
  TEST_EQ_INT(hardy_config_load_file(&cfg, both), HARDY_OK);
  EXPECT_ERR(hardy_config_finalize(&cfg),
             "missing.condition = 'at' and missing.rate = '0.3' are both set");
  hardy_config_defaults(&cfg);
  hardy_config_set(&cfg, "missing.condition=tv", "--set");
  hardy_config_set(&cfg, "missing.rate=0.5", "--set");
  EXPECT_ERR(hardy_config_finalize(&cfg), "are both set with --set");
  /* a --set of one replaces the other from the file; the echo keeps only the one in use */
  const char *cond_file = write_tmp("cond.ini", "[missing]\ncondition = a, tv\n");
  hardy_config_defaults(&cfg);
  TEST_EQ_INT(hardy_config_load_file(&cfg, cond_file), HARDY_OK);
  TEST_EQ_INT(hardy_config_set(&cfg, "missing.rate=0.5", "--set"), HARDY_OK);
  TEST_EQ_INT(hardy_config_finalize(&cfg), HARDY_OK);
  TEST_EQ_INT(cfg.missing.n_conditions, 1);
  TEST_EQ_INT(cfg.missing.condition[0], 0);
  TEST_ASSERT(cfg.missing.condition_text[0] == '\0', "condition kept: %s", cfg.missing.condition_text);
  const char *rate_file = write_tmp("rate.ini", "[missing]\nrate = 0.5\n");
  hardy_config_defaults(&cfg);
  TEST_EQ_INT(hardy_config_load_file(&cfg, rate_file), HARDY_OK);
  TEST_EQ_INT(hardy_config_set(&cfg, "missing.condition=at", "--set"), HARDY_OK);
  TEST_EQ_INT(hardy_config_finalize(&cfg), HARDY_OK);
  TEST_EQ_INT(cfg.missing.condition[0], HARDY_MOD_A | HARDY_MOD_T);
  TEST_ASSERT(cfg.missing.rate_text[0] == '\0', "rate kept: %s", cfg.missing.rate_text);

  /* the selection metric: auto or any reported metric */
  hardy_config_defaults(&cfg);
  TEST_ASSERT(!strcmp(cfg.train.select_metric, "auto"), "default %s", cfg.train.select_metric);
  TEST_EQ_INT(hardy_config_set(&cfg, "train.select_metric=acc7", "--set"), HARDY_OK);
  TEST_EQ_INT(hardy_config_finalize(&cfg), HARDY_OK);
  hardy_config_set(&cfg, "train.select_metric=accuracy", "--set");
  EXPECT_ERR(hardy_config_finalize(&cfg), "train.select_metric = 'accuracy' is not a metric; use "
             "one of: auto, wa, ua, f1, mae, corr, acc2, acc2_has0, f1_has0, acc5, acc7");

  TEST_EQ_INT(hardy_condition_parse("va"), HARDY_MOD_A | HARDY_MOD_V);
  TEST_EQ_INT(hardy_condition_parse("aa"), -1);
  TEST_ASSERT(!strcmp(hardy_condition_name(HARDY_MOD_T | HARDY_MOD_V), "tv"), "name");
  return hardy_test_finish("test_config");
}
