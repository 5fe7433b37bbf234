/* `hardy-hpc train CONFIG [--set k=v ...] --out DIR`: parse the configuration, set threads,
 * report the BLAS core, and run the training job (train.h). */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "hardy/blas.h"
#include "hardy/cli.h"
#include "hardy/common.h"
#include "hardy/config.h"
#include "hardy/log.h"
#include "hardy/placement.h"
#include "hardy/run.h"
#include "hardy/train.h"

static const char *USAGE =
    "usage: hardy-hpc train CONFIG.ini [--set section.key=value ...] --out DIR [--resume [FILE]]\n"
    "                       [--overwrite] [--quiet]\n"
    "Train and evaluate HARDY-MER (or the uniform baseline) for every configured missing\n"
    "condition or rate and fold. Writes DIR/config.ini (effective configuration),\n"
    "DIR/metrics.jsonl (one line per epoch and phase) and DIR/results.json.\n"
    "  --set k=v    override a key (repeatable); `hardy-hpc config --schema` lists keys\n"
    "  --out DIR    results directory (created)\n"
    "  --resume     continue from DIR/checkpoints/latest (after a stop signal, a crash or a\n"
    "               time limit); --resume FILE.h5 or --resume=FILE from a given checkpoint.\n"
    "               With no checkpoint in DIR yet, the job starts from the beginning\n"
    "               Any rank count can resume; shape-changing settings must be unchanged\n"
    "               Settings that determine the results (method, data, seed, condition or\n"
    "               rate, K, model, schedule) must be unchanged; threads, progress and\n"
    "               checkpoint cadence may change\n"
    "  --overwrite  replace the run already in DIR (its files are removed; without --resume\n"
    "               or --overwrite a DIR holding a run is refused)\n"
    "  --quiet      no progress lines (warnings and errors still print)\n"
    "Run with mpirun -n RANKS. Threads per rank: run.threads, else OMP_NUM_THREADS, else the\n"
    "CPUs of the rank's affinity mask divided by the ranks on its node that share them.\n";

/* Two passes: the first finds the config file and the plain flags, the second applies the
 * --set overrides on top of the file, so an override wins wherever it stands on the line. */
int hardy_cli_parse_config(int argc, char **argv, hardy_config_t *cfg, const char **out_dir,
                           bool *quiet) {
  hardy_config_defaults(cfg);
  const char *config_path = NULL;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--set") || !strcmp(a, "--out")) {
      const char *v = hardy_cli_value(argc, argv, i++);
      if (!v) return HARDY_ERR_INPUT;
      if (a[2] == 'o') *out_dir = v;
    } else if (!strncmp(a, "--set=", 6)) {
      continue;
    } else if (!strcmp(a, "--quiet")) {
      *quiet = true;
    } else if (a[0] == '-') {
      return hardy_fail(HARDY_ERR_INPUT, "%s: unknown option '%s' (see --help)", argv[0], a);
    } else if (config_path) {
      return hardy_fail(HARDY_ERR_INPUT, "%s: two config files given ('%s' and '%s')", argv[0],
                        config_path, a);
    } else {
      config_path = a;
    }
  }
  if (config_path) HARDY_CHECK(hardy_config_load_file(cfg, config_path));
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--set")) HARDY_CHECK(hardy_config_set(cfg, argv[++i], "--set"));
    else if (!strncmp(argv[i], "--set=", 6)) HARDY_CHECK(hardy_config_set(cfg, argv[i] + 6, "--set"));
    else if (!strcmp(argv[i], "--out")) i++;
  }
  return hardy_config_finalize(cfg);
}

int hardy_cli_apply_threads(const hardy_config_t *cfg) {
  return hardy_placement_apply(cfg->run.threads, MPI_COMM_WORLD, NULL);
}

/* Does `arg` name a checkpoint (a .h5 file, a directory, or a latest/best pointer) rather than
 * the config file? */
static bool names_checkpoint(const char *arg) {
  size_t n = strlen(arg);
  struct stat sb;
  if (arg[0] == '-') return false;
  if (n > 3 && !strcmp(arg + n - 3, ".h5")) return true;
  if (n >= 6 && (!strcmp(arg + n - 6, "latest") || (n >= 4 && !strcmp(arg + n - 4, "best"))))
    return true;
  return stat(arg, &sb) == 0 && S_ISDIR(sb.st_mode);
}

int hardy_cmd_train(int argc, char **argv) {
  for (int i = 1; i < argc; i++)
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      if (hardy_world_rank() == 0) fputs(USAGE, stdout);
      return HARDY_OK;
    }
  /* take --resume [FILE] out of the argument list; the rest is the config's */
  const char *resume = NULL;
  bool overwrite = false;
  char **rest = malloc(sizeof(char *) * (size_t)(argc + 1));
  int n_rest = 0;
  for (int i = 0; rest && i < argc; i++) {
    if (!strcmp(argv[i], "--resume")) {
      resume = "latest";
      if (i + 1 < argc && names_checkpoint(argv[i + 1])) resume = argv[++i];
    } else if (!strncmp(argv[i], "--resume=", 9)) {
      resume = argv[i] + 9;
    } else if (!strcmp(argv[i], "--overwrite")) {
      overwrite = true;
    } else {
      rest[n_rest++] = argv[i];
    }
  }
  hardy_config_t cfg;
  const char *out_dir = NULL;
  bool quiet = false;
  int st = rest ? hardy_cli_parse_config(n_rest, rest, &cfg, &out_dir, &quiet)
                : hardy_fail(HARDY_ERR_RUNTIME, "out of memory");
  free(rest);
  if (st == HARDY_OK && !out_dir)
    st = hardy_fail(HARDY_ERR_INPUT, "train: --out DIR is required (where results are written)");
  if (st == HARDY_OK && resume && overwrite)
    st = hardy_fail(HARDY_ERR_INPUT, "train: --resume and --overwrite exclude each other (continue "
                    "the run in --out, or replace it)");
  st = hardy_agree(st, MPI_COMM_WORLD);
  /* an input error is the run's status, unless DIR holds another run that it must not touch */
  if (st != HARDY_OK && out_dir && hardy_world_rank() == 0 &&
      (resume ? !hardy_run_is_done(out_dir) : hardy_run_out_kind(out_dir, NULL, 0) == HARDY_OUT_EMPTY))
    hardy_run_write_status(out_dir, st);
  HARDY_CHECK(st);
  /* one directory, one run */
  st = hardy_world_rank() == 0 ? hardy_run_prepare_out(out_dir, resume != NULL, overwrite) : HARDY_OK;
  HARDY_CHECK(hardy_agree(st, MPI_COMM_WORLD));
  hardy_log_set_quiet(quiet);
  HARDY_CHECK(hardy_cli_apply_threads(&cfg));
  int nranks;
  MPI_Comm_size(MPI_COMM_WORLD, &nranks);
  hardy_log_info("hardy-hpc %s: train on %s with %d rank(s) x %d thread(s)", HARDY_VERSION,
                 cfg.data.path, nranks, omp_get_max_threads());
  hardy_blas_report();
  hardy_train_opts_t opts = {out_dir, resume, quiet, false};
  return hardy_train_run(&cfg, &opts, MPI_COMM_WORLD);
}
