/* `hardy-hpc hardness CONFIG [--set k=v ...] --out DIR`: the teacher (trained, or loaded from
 * teacher.checkpoint) and the multi-view hardness of every training utterance, written to
 * DIR/hardness-<run>.h5, for every configured condition and fold. The teachers it trains are
 * saved in DIR/teachers/ for later `train` jobs (--set teacher.checkpoint=DIR/teachers). */
#include <omp.h>
#include <stdio.h>
#include <string.h>

#include "hardy/blas.h"
#include "hardy/cli.h"
#include "hardy/common.h"
#include "hardy/log.h"
#include "hardy/train.h"

static const char *USAGE =
    "usage: hardy-hpc hardness CONFIG.ini [--set section.key=value ...] --out DIR [--quiet]\n"
    "Train the teacher (or load it: --set teacher.checkpoint=FILE|DIR), score the hardness of\n"
    "every training utterance (direct: reconstruction error of the missing modalities; indirect:\n"
    "cross-modal mutual information, hardness.estimator = entropy | gaussian), rank it globally,\n"
    "and write DIR/hardness-<condition>[-fold<k>].h5 (one row per training utterance) and\n"
    "DIR/teachers/<run>-teacher.h5.\n";

int hardy_cmd_hardness(int argc, char **argv) {
  for (int i = 1; i < argc; i++)
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      if (hardy_world_rank() == 0) fputs(USAGE, stdout);
      return HARDY_OK;
    }
  hardy_config_t cfg;
  const char *out_dir = NULL;
  bool quiet = false;
  int st = hardy_cli_parse_config(argc, argv, &cfg, &out_dir, &quiet);
  if (st == HARDY_OK && !out_dir)
    st = hardy_fail(HARDY_ERR_INPUT, "hardness: --out DIR is required (where hardness files go)");
  /* hardness needs the teacher, which the curriculum switch brings in */
  if (st == HARDY_OK) st = hardy_config_set(&cfg, "curriculum.enabled=true", "hardness");
  HARDY_CHECK(hardy_agree(st, MPI_COMM_WORLD));
  hardy_log_set_quiet(quiet);
  HARDY_CHECK(hardy_cli_apply_threads(&cfg));
  hardy_blas_report();
  hardy_train_opts_t opts = {out_dir, NULL, quiet, true};
  return hardy_train_run(&cfg, &opts, MPI_COMM_WORLD);
}
