/* `hardy-hpc synth`: write a synthetic MER-like dataset (synth.h) collectively from every
 * rank. Flags are parsed identically on every rank; errors are agreed before any file I/O. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "hardy/cli.h"
#include "hardy/common.h"
#include "hardy/log.h"
#include "hardy/synth.h"

static const char *USAGE =
    "usage: mpirun -n RANKS hardy-hpc synth --out FILE [options]\n"
    "Write a synthetic multimodal emotion dataset (hardy-mer HDF5, docs/DATA_FORMAT.md). Every\n"
    "rank generates and writes its share of rows; the data is the same for any rank count.\n"
    "  --out FILE            output file (written as FILE.tmp, renamed when complete)\n"
    "  --utterances N        number of utterances (default 5000)\n"
    "  --dims A,T,V          audio,text,visual feature widths (default 512,1024,1024)\n"
    "  --classes C           classes (regression: latent clusters) (default 4)\n"
    "  --task T              classification | regression (default classification)\n"
    "  --folds F             fold ids 1..F by dialogue, 0 for none (default 5; mosei 0)\n"
    "  --seed S              seed of every random draw (default 1)\n"
    "  --shape S             iemocap (dialogues of 8..110, mean ~37) | mosei (1..30, mean ~7)\n"
    "  --latent-dim K        shared latent size (default 32)\n"
    "  --strength a,t,v      per-modality class signal (default 0.7,1.0,0.45)\n"
    "  --sigma S             feature noise (default 0.3)\n"
    "  --scale S, --offset O features written as x * S + O, like raw measurements (default 1, 0)\n"
    "  --chunk-rows R        rows per HDF5 chunk and per write (default 4096)\n"
    "The file stores /utterance/planted_hardness: each utterance's planted difficulty in\n"
    "[0, 1] (how weakly its modalities carry the shared class signal).\n";

static int parse_list(const char *flag, const char *text, double *out, int n, double lo,
                      double hi) {
  char buf[256], *save = NULL;
  snprintf(buf, sizeof buf, "%s", text);
  int k = 0;
  for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    if (k == n) break;
    HARDY_CHECK(hardy_cli_double(flag, tok, lo, hi, &out[k++]));
  }
  if (k != n || strtok_r(NULL, ",", &save))
    return hardy_fail(HARDY_ERR_INPUT, "%s '%s': expected %d comma-separated values (audio,text,"
                      "visual)", flag, text, n);
  return HARDY_OK;
}

/* value must be one of names[0..n); *out gets its index. */
static int parse_choice(const char *flag, const char *value, const char *const *names, int n,
                        int *out) {
  for (int i = 0; i < n; i++)
    if (!strcmp(value, names[i])) {
      *out = i;
      return HARDY_OK;
    }
  return hardy_fail(HARDY_ERR_INPUT, "%s '%s': expected %s or %s", flag, value, names[0],
                    names[n - 1]);
}

static const char *const TASKS[] = {"classification", "regression"}; /* hardy_task_t order */
static const char *const SHAPES[] = {"iemocap", "mosei"};            /* hardy_synth_shape_t */

/* Apply one `--flag value` pair to p. */
static int apply_flag(hardy_synth_params_t *p, const char *flag, const char *value,
                      bool *folds_set) {
  int64_t v = 0;
  double list[HARDY_N_MOD], x = 0;
  if (!strcmp(flag, "--out")) {
    if (strlen(value) + 8 >= sizeof p->out)
      return hardy_fail(HARDY_ERR_INPUT, "--out: path too long");
    snprintf(p->out, sizeof p->out, "%s", value);
  } else if (!strcmp(flag, "--utterances")) {
    HARDY_CHECK(hardy_cli_int64(flag, value, 1, 1ll << 40, &v));
    p->n_utt = v;
  } else if (!strcmp(flag, "--dims")) {
    HARDY_CHECK(parse_list(flag, value, list, HARDY_N_MOD, 1, 65536));
    for (int m = 0; m < HARDY_N_MOD; m++) {
      p->dims[m] = (int)list[m];
      if (list[m] != p->dims[m])
        return hardy_fail(HARDY_ERR_INPUT, "--dims '%s': widths must be integers", value);
    }
  } else if (!strcmp(flag, "--classes")) {
    HARDY_CHECK(hardy_cli_int64(flag, value, 2, HARDY_MAX_CLASSES, &v));
    p->num_classes = (int)v;
  } else if (!strcmp(flag, "--task")) {
    HARDY_CHECK(parse_choice(flag, value, TASKS, 2, &p->task));
  } else if (!strcmp(flag, "--folds")) {
    HARDY_CHECK(hardy_cli_int64(flag, value, 0, 1000, &v));
    p->folds = (int)v;
    *folds_set = true;
  } else if (!strcmp(flag, "--seed")) {
    HARDY_CHECK(hardy_cli_int64(flag, value, 0, INT64_MAX, &v));
    p->seed = (uint64_t)v;
  } else if (!strcmp(flag, "--shape")) {
    HARDY_CHECK(parse_choice(flag, value, SHAPES, 2, &p->shape));
  } else if (!strcmp(flag, "--latent-dim")) {
    HARDY_CHECK(hardy_cli_int64(flag, value, 1, HARDY_SYNTH_MAX_LATENT, &v));
    p->latent_dim = (int)v;
  } else if (!strcmp(flag, "--strength")) {
    HARDY_CHECK(parse_list(flag, value, list, HARDY_N_MOD, 0, 10));
    for (int m = 0; m < HARDY_N_MOD; m++) p->strength[m] = (float)list[m];
  } else if (!strcmp(flag, "--sigma")) {
    HARDY_CHECK(hardy_cli_double(flag, value, 0, 10, &x));
    p->sigma = (float)x;
  } else if (!strcmp(flag, "--scale")) {
    HARDY_CHECK(hardy_cli_double(flag, value, -1e6, 1e6, &x));
    p->scale = (float)x;
  } else if (!strcmp(flag, "--offset")) {
    HARDY_CHECK(hardy_cli_double(flag, value, -1e6, 1e6, &x));
    p->offset = (float)x;
  } else if (!strcmp(flag, "--chunk-rows")) {
    HARDY_CHECK(hardy_cli_int64(flag, value, 1, 1 << 20, &v));
    p->chunk_rows = v;
  } else {
    return hardy_fail(HARDY_ERR_INPUT, "synth: unknown option '%s' (see --help)", flag);
  }
  return HARDY_OK;
}

static int parse_args(int argc, char **argv, hardy_synth_params_t *p, bool *help) {
  bool folds_set = false;
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
      *help = true;
      return HARDY_OK;
    }
    if (strncmp(arg, "--", 2) != 0)
      return hardy_fail(HARDY_ERR_INPUT, "synth: unexpected argument '%s' (see --help)", arg);
    char flag[64];
    const char *eq = strchr(arg, '='), *value;
    if (eq) {
      snprintf(flag, sizeof flag, "%.*s", (int)(eq - arg), arg);
      value = eq + 1;
    } else {
      snprintf(flag, sizeof flag, "%s", arg);
      if (!(value = hardy_cli_value(argc, argv, i++))) return HARDY_ERR_INPUT;
    }
    HARDY_CHECK(apply_flag(p, flag, value, &folds_set));
  }
  if (!folds_set && p->shape == HARDY_SHAPE_MOSEI) p->folds = 0;
  return hardy_synth_check(p);
}

int hardy_cmd_synth(int argc, char **argv) {
  hardy_synth_params_t p;
  hardy_synth_defaults(&p);
  bool help = false;
  int rc = hardy_agree(parse_args(argc, argv, &p, &help), MPI_COMM_WORLD);
  if (rc < 0) return rc;
  if (help) {
    if (hardy_world_rank() == 0) fputs(USAGE, stdout);
    return HARDY_OK;
  }
  double t0 = hardy_now();
  HARDY_CHECK(hardy_synth_write(&p, MPI_COMM_WORLD));
  double seconds = hardy_now() - t0;
  struct stat st;
  double gib = stat(p.out, &st) == 0 ? (double)st.st_size / (1024.0 * 1024.0 * 1024.0) : 0.0;
  int ranks = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &ranks);
  hardy_log_info("wrote %s: %lld utterances, dims %d/%d/%d, %.2f GiB in %.1f s on %d ranks "
                 "(%.0f utt/s, %.0f MiB/s)",
                 p.out, (long long)p.n_utt, p.dims[0], p.dims[1], p.dims[2], gib, seconds, ranks,
                 (double)p.n_utt / seconds, gib * 1024.0 / seconds);
  return HARDY_OK;
}
