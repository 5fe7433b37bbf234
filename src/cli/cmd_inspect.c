/* `hardy-hpc inspect FILE...`: open a dataset, validate its metadata and every row (the rows are
 * streamed by all ranks), and print a summary on rank 0: sizes, task and classes, counts per
 * split, fold and class, dialogue lengths, optional datasets, and the scale of each modality's
 * features (mean, std, min, max over the rows where it is present, with a warning when it is
 * far from 1); `--json` prints the same as one JSON object on stdout. Exit 0 when valid, 2
 * when not. */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hardy/cli.h"
#include "hardy/common.h"
#include "hardy/dataset.h"

static const char *USAGE =
    "usage: mpirun -n RANKS hardy-hpc inspect FILE [FILE ...] [--json] [--allow-nonfinite=zero]\n"
    "Validate hardy-mer datasets (metadata and every row; docs/DATA_FORMAT.md) and summarise\n"
    "each: sizes, task, classes, counts per split, fold and class, dialogue lengths, and the\n"
    "scale of each modality's features (mean, std, min, max; a warning when |mean| > 10 or a\n"
    "std lies outside [0.01, 100]: train with data.standardize = zscore, the default).\n"
    "  --json                    print the summary as one JSON object on stdout (an array of\n"
    "                            them for several files; invalid ones carry \"error\")\n"
    "  --allow-nonfinite=zero    count NaN/Inf feature values instead of rejecting the file\n"
    "Exit status: 0 all valid, 2 any invalid (each message names the file, dataset and row).\n";

static const char *SPLIT_NAMES[3] = {"train", "validation", "test"};

typedef struct {
  int64_t dialogues[3], utterances[3];
  int64_t len_min, len_max;
  int n_folds;
  int *fold_id;            /* [n_folds] ascending */
  int64_t *fold_dialogues; /* [n_folds] */
  int64_t *fold_utterances;
} table_summary_t;

static int summarise_tables(const hardy_dataset_t *ds, table_summary_t *t) {
  memset(t, 0, sizeof *t);
  t->len_min = INT64_MAX;
  size_t cap = (size_t)ds->n_dialogue;
  t->fold_id = hardy_malloc(cap * sizeof *t->fold_id, "fold ids");
  t->fold_dialogues = hardy_calloc(cap, sizeof *t->fold_dialogues, "fold counts");
  t->fold_utterances = hardy_calloc(cap, sizeof *t->fold_utterances, "fold counts");
  if (!t->fold_id || !t->fold_dialogues || !t->fold_utterances) return HARDY_ERR_RUNTIME;
  t->n_folds = hardy_dataset_folds(ds, t->fold_id, (int)HARDY_MIN(cap, (size_t)INT32_MAX));
  for (int64_t d = 0; d < ds->n_dialogue; d++) {
    int64_t len = ds->offset[d + 1] - ds->offset[d];
    t->dialogues[ds->split[d]]++;
    t->utterances[ds->split[d]] += len;
    t->len_min = HARDY_MIN(t->len_min, len);
    t->len_max = HARDY_MAX(t->len_max, len);
    if (ds->fold[d] < 0) continue;
    int lo = 0, hi = t->n_folds - 1;
    while (lo < hi) {
      int mid = (lo + hi) / 2;
      if (t->fold_id[mid] < ds->fold[d]) lo = mid + 1; else hi = mid;
    }
    t->fold_dialogues[lo]++;
    t->fold_utterances[lo] += len;
  }
  return HARDY_OK;
}

static void tables_free(table_summary_t *t) {
  free(t->fold_id);
  free(t->fold_dialogues);
  free(t->fold_utterances);
}

static void class_name(const hardy_dataset_t *ds, int c, char *out, size_t cap) {
  if (ds->class_names) snprintf(out, cap, "%s", ds->class_names[c]);
  else snprintf(out, cap, "class%d", c);
}

static double pct(int64_t part, int64_t whole) {
  return whole > 0 ? 100.0 * (double)part / (double)whole : 0.0;
}

/* Minimum and maximum over every dimension of modality m. */
static void feature_range(const hardy_featnorm_t *fn, int m, double *lo, double *hi) {
  *lo = fn->dims[m] ? fn->min[m][0] : 0.0;
  *hi = fn->dims[m] ? fn->max[m][0] : 0.0;
  for (int j = 1; j < fn->dims[m]; j++) {
    if (fn->min[m][j] < *lo) *lo = fn->min[m][j];
    if (fn->max[m][j] > *hi) *hi = fn->max[m][j];
  }
}

static void print_scale(const hardy_featnorm_t *fn) {
  printf("\n  %-10s %10s %12s %12s %12s %12s  %s\n", "features", "rows", "mean", "std", "min",
         "max", "badly scaled dims");
  char why[HARDY_N_MOD][256];
  int bad[HARDY_N_MOD];
  for (int m = 0; m < HARDY_N_MOD; m++) {
    double mean, std, lo, hi;
    hardy_dataset_featnorm_pooled(fn, m, &mean, &std);
    feature_range(fn, m, &lo, &hi);
    bad[m] = hardy_dataset_featnorm_badly_scaled(fn, m, why[m], sizeof why[m]);
    printf("  %-10s %10" PRId64 " %12.4g %12.4g %12.4g %12.4g  %d of %d\n",
           hardy_dataset_modality_name(m), fn->count[m], mean, std, lo, hi, bad[m], fn->dims[m]);
  }
  for (int m = 0; m < HARDY_N_MOD; m++)
    if (bad[m])
      printf("  warning: %s features are badly scaled: %s; train with data.standardize = zscore "
             "(the default)\n", hardy_dataset_modality_name(m), why[m]);
}

static void print_text(const hardy_dataset_t *ds, const hardy_dataset_stats_t *st,
                       const table_summary_t *t, bool zero_policy) {
  bool cls = ds->task == HARDY_TASK_CLASSIFICATION;
  printf("%s: valid hardy-mer v1 dataset\n", ds->path);
  printf("  source       %s\n", ds->source[0] ? ds->source : "(not given)");
  printf("  task         %s", cls ? "classification" : "regression");
  if (cls) printf(", %d classes\n", ds->num_classes);
  else
    printf(", scores min %.3f / mean %.3f / max %.3f\n", st->target_min,
           st->target_sum / (double)ds->n_utt, st->target_max);
  printf("  utterances   %" PRId64 " in %" PRId64 " dialogues; dialogue length min %" PRId64
         " / mean %.1f / max %" PRId64 "\n",
         ds->n_utt, ds->n_dialogue, t->len_min, (double)ds->n_utt / (double)ds->n_dialogue,
         t->len_max);
  printf("  features     audio %d, text %d, visual %d\n", ds->dims[0], ds->dims[1], ds->dims[2]);
  if (ds->has_present)
    printf("  present      audio %.1f%%, text %.1f%%, visual %.1f%% of utterances\n",
           pct(st->present_count[0], ds->n_utt), pct(st->present_count[1], ds->n_utt),
           pct(st->present_count[2], ds->n_utt));
  else
    printf("  present      every modality (no /utterance/present)\n");
  if (ds->has_planted)
    printf("  planted      hardness min %.3f / mean %.3f / max %.3f\n", st->planted_min,
           st->planted_sum / (double)ds->n_utt, st->planted_max);
  if (zero_policy) printf("  non-finite   %" PRId64 " feature values (zeroed when read)\n", st->n_nonfinite);
  printf("  fingerprint  %016" PRIx64 "\n\n", ds->fingerprint);
  printf("  %-12s %10s %11s\n", "split", "dialogues", "utterances");
  for (int s = 0; s < 3; s++)
    printf("  %-12s %10" PRId64 " %11" PRId64 "\n", SPLIT_NAMES[s], t->dialogues[s],
           t->utterances[s]);
  if (t->n_folds) {
    printf("\n  %-12s %10s %11s\n", "fold", "dialogues", "utterances");
    for (int f = 0; f < t->n_folds; f++)
      printf("  %-12d %10" PRId64 " %11" PRId64 "\n", t->fold_id[f], t->fold_dialogues[f],
             t->fold_utterances[f]);
  } else {
    printf("\n  folds        none (/dialogue/fold is -1)\n");
  }
  print_scale(st->features);
  if (!cls) return;
  printf("\n  %-16s %10s %10s %10s %10s\n", "class", "train", "validation", "test", "total");
  for (int c = 0; c < ds->num_classes; c++) {
    char name[64];
    class_name(ds, c, name, sizeof name);
    int64_t total = st->class_count[0][c] + st->class_count[1][c] + st->class_count[2][c];
    printf("  %-16s %10" PRId64 " %10" PRId64 " %10" PRId64 " %10" PRId64 " (%.1f%%)\n", name,
           st->class_count[0][c], st->class_count[1][c], st->class_count[2][c], total,
           pct(total, ds->n_utt));
  }
}

static cJSON *build_json(const hardy_dataset_t *ds, const hardy_dataset_stats_t *st,
                         const table_summary_t *t) {
  bool cls = ds->task == HARDY_TASK_CLASSIFICATION;
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "file", ds->path);
  cJSON_AddTrueToObject(o, "valid");
  cJSON_AddStringToObject(o, "format", "hardy-mer");
  cJSON_AddNumberToObject(o, "version", 1);
  cJSON_AddStringToObject(o, "task", cls ? "classification" : "regression");
  cJSON_AddNumberToObject(o, "num_classes", ds->num_classes);
  cJSON_AddStringToObject(o, "source", ds->source);
  cJSON_AddNumberToObject(o, "n_utterances", (double)ds->n_utt);
  cJSON_AddNumberToObject(o, "n_dialogues", (double)ds->n_dialogue);
  cJSON *dims = cJSON_AddObjectToObject(o, "dims");
  for (int m = 0; m < HARDY_N_MOD; m++)
    cJSON_AddNumberToObject(dims, hardy_dataset_modality_name(m), ds->dims[m]);
  cJSON *len = cJSON_AddObjectToObject(o, "dialogue_length");
  cJSON_AddNumberToObject(len, "min", (double)t->len_min);
  cJSON_AddNumberToObject(len, "mean", (double)ds->n_utt / (double)ds->n_dialogue);
  cJSON_AddNumberToObject(len, "max", (double)t->len_max);
  cJSON *splits = cJSON_AddObjectToObject(o, "splits");
  for (int s = 0; s < 3; s++) {
    cJSON *sp = cJSON_AddObjectToObject(splits, SPLIT_NAMES[s]);
    cJSON_AddNumberToObject(sp, "dialogues", (double)t->dialogues[s]);
    cJSON_AddNumberToObject(sp, "utterances", (double)t->utterances[s]);
    if (cls) {
      cJSON *counts = cJSON_AddArrayToObject(sp, "class_counts");
      for (int c = 0; c < ds->num_classes; c++)
        cJSON_AddItemToArray(counts, cJSON_CreateNumber((double)st->class_count[s][c]));
    }
  }
  cJSON *folds = cJSON_AddArrayToObject(o, "folds");
  for (int f = 0; f < t->n_folds; f++) {
    cJSON *fo = cJSON_CreateObject();
    cJSON_AddNumberToObject(fo, "fold", t->fold_id[f]);
    cJSON_AddNumberToObject(fo, "dialogues", (double)t->fold_dialogues[f]);
    cJSON_AddNumberToObject(fo, "utterances", (double)t->fold_utterances[f]);
    cJSON_AddItemToArray(folds, fo);
  }
  if (cls) {
    cJSON *classes = cJSON_AddArrayToObject(o, "classes");
    for (int c = 0; c < ds->num_classes; c++) {
      char name[64];
      class_name(ds, c, name, sizeof name);
      cJSON *co = cJSON_CreateObject();
      cJSON_AddStringToObject(co, "name", name);
      cJSON_AddNumberToObject(co, "count", (double)(st->class_count[0][c] + st->class_count[1][c] +
                                                    st->class_count[2][c]));
      cJSON_AddItemToArray(classes, co);
    }
  } else {
    cJSON *sc = cJSON_AddObjectToObject(o, "scores");
    cJSON_AddNumberToObject(sc, "min", st->target_min);
    cJSON_AddNumberToObject(sc, "mean", st->target_sum / (double)ds->n_utt);
    cJSON_AddNumberToObject(sc, "max", st->target_max);
  }
  cJSON_AddBoolToObject(o, "has_present", ds->has_present);
  cJSON *pres = cJSON_AddObjectToObject(o, "present_counts");
  for (int m = 0; m < HARDY_N_MOD; m++)
    cJSON_AddNumberToObject(pres, hardy_dataset_modality_name(m), (double)st->present_count[m]);
  cJSON_AddBoolToObject(o, "has_planted", ds->has_planted);
  if (ds->has_planted) {
    cJSON *pl = cJSON_AddObjectToObject(o, "planted_hardness");
    cJSON_AddNumberToObject(pl, "min", st->planted_min);
    cJSON_AddNumberToObject(pl, "mean", st->planted_sum / (double)ds->n_utt);
    cJSON_AddNumberToObject(pl, "max", st->planted_max);
  }
  cJSON *feat = cJSON_AddObjectToObject(o, "feature_scale");
  for (int m = 0; m < HARDY_N_MOD; m++) {
    double mean, std, lo, hi;
    char why[256];
    hardy_dataset_featnorm_pooled(st->features, m, &mean, &std);
    feature_range(st->features, m, &lo, &hi);
    cJSON *fo = cJSON_AddObjectToObject(feat, hardy_dataset_modality_name(m));
    cJSON_AddNumberToObject(fo, "rows", (double)st->features->count[m]);
    cJSON_AddNumberToObject(fo, "mean", mean);
    cJSON_AddNumberToObject(fo, "std", std);
    cJSON_AddNumberToObject(fo, "min", lo);
    cJSON_AddNumberToObject(fo, "max", hi);
    cJSON_AddNumberToObject(fo, "badly_scaled_dims",
                            hardy_dataset_featnorm_badly_scaled(st->features, m, why, sizeof why));
  }
  cJSON_AddNumberToObject(o, "nonfinite_values", (double)st->n_nonfinite);
  char fp[32];
  snprintf(fp, sizeof fp, "%016" PRIx64, ds->fingerprint);
  cJSON_AddStringToObject(o, "fingerprint", fp);
  return o;
}

static void print_json(cJSON *o) {
  char *text = o ? cJSON_Print(o) : NULL;
  if (text) puts(text);
  free(text);
  cJSON_Delete(o);
}

typedef struct {
  const char **paths; /* [n_paths], pointers into argv */
  int n_paths;
  bool json, help;
  int policy;
} inspect_args_t;

static int parse_args(int argc, char **argv, inspect_args_t *a) {
  a->paths = hardy_calloc((size_t)argc, sizeof *a->paths, "file list");
  if (!a->paths) return HARDY_ERR_RUNTIME;
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
      a->help = true;
    } else if (!strcmp(arg, "--json")) {
      a->json = true;
    } else if (!strcmp(arg, "--allow-nonfinite=zero")) {
      a->policy = HARDY_NONFINITE_ZERO;
    } else if (!strcmp(arg, "--allow-nonfinite=error")) {
      a->policy = HARDY_NONFINITE_ERROR;
    } else if (!strncmp(arg, "--", 2)) {
      return hardy_fail(HARDY_ERR_INPUT, "inspect: unknown option '%s' (see --help)", arg);
    } else {
      a->paths[a->n_paths++] = arg;
    }
  }
  if (!a->n_paths && !a->help)
    return hardy_fail(HARDY_ERR_INPUT, "inspect: FILE is required (see --help)");
  return HARDY_OK;
}

/* Collective: validate one file; on rank 0 print its text summary, or return its JSON object
 * (valid or not) in *obj. */
static int inspect_one(const char *path, const inspect_args_t *a, cJSON **obj) {
  hardy_dataset_t ds;
  hardy_dataset_stats_t *st = hardy_calloc(1, sizeof *st, "inspect statistics");
  hardy_featnorm_t fn;
  memset(&fn, 0, sizeof fn);
  table_summary_t t;
  memset(&t, 0, sizeof t);
  int rc = hardy_agree(st ? HARDY_OK : HARDY_ERR_RUNTIME, MPI_COMM_WORLD);
  bool opened = false;
  if (rc == HARDY_OK) {
    rc = hardy_dataset_open(&ds, path, MPI_COMM_WORLD);
    opened = rc == HARDY_OK;
  }
  if (rc == HARDY_OK) {
    rc = hardy_agree(hardy_dataset_featnorm_init(&fn, ds.dims, HARDY_STANDARDIZE_NONE,
                                                 HARDY_L2_NONE), MPI_COMM_WORLD);
    st->features = &fn;
  }
  if (rc == HARDY_OK) rc = hardy_dataset_scan(&ds, MPI_COMM_WORLD, a->policy, st);
  if (rc == HARDY_OK) rc = hardy_agree(summarise_tables(&ds, &t), MPI_COMM_WORLD);
  *obj = NULL;
  if (hardy_world_rank() == 0) {
    if (rc == HARDY_OK && a->json) {
      *obj = build_json(&ds, st, &t);
    } else if (rc == HARDY_OK) {
      print_text(&ds, st, &t, a->policy == HARDY_NONFINITE_ZERO);
    } else if (a->json) {
      *obj = cJSON_CreateObject();
      cJSON_AddStringToObject(*obj, "file", path);
      cJSON_AddFalseToObject(*obj, "valid");
      cJSON_AddStringToObject(*obj, "error", hardy_error_message());
    }
  }
  tables_free(&t);
  hardy_dataset_featnorm_free(&fn);
  free(st);
  if (opened) hardy_dataset_close(&ds);
  return rc;
}

int hardy_cmd_inspect(int argc, char **argv) {
  hardy_dataset_set_structure_check(true); /* a corrupt file must be reported, not crash us */
  inspect_args_t a = {NULL, 0, false, false, HARDY_NONFINITE_ERROR};
  int rc = hardy_agree(parse_args(argc, argv, &a), MPI_COMM_WORLD);
  bool root = hardy_world_rank() == 0;
  if (rc < 0 || a.help) {
    if (a.help && root) fputs(USAGE, stdout);
    free(a.paths);
    return rc;
  }
  /* Several files: report each error as it comes and go on; --json prints an array. */
  cJSON *array = a.n_paths > 1 && a.json && root ? cJSON_CreateArray() : NULL;
  int n_bad = 0, worst = HARDY_OK;
  for (int f = 0; f < a.n_paths; f++) {
    cJSON *obj = NULL;
    rc = inspect_one(a.paths[f], &a, &obj);
    if (array) cJSON_AddItemToArray(array, obj);
    else if (obj) print_json(obj);
    if (rc < 0 && a.n_paths > 1) {
      n_bad++;
      worst = HARDY_MIN(worst, rc);
      if (root) fprintf(stderr, "hardy: error: %s\n", hardy_error_message());
      hardy_error_clear();
    }
    if (root) fflush(stdout);
  }
  if (array) print_json(array);
  if (a.n_paths > 1 && n_bad)
    rc = hardy_fail(worst, "inspect: %d of %d files are invalid (messages above)", n_bad,
                    a.n_paths);
  free(a.paths);
  return rc;
}
