/* Choosing dialogues: train/validation/test selections from the file's split column or a fold
 * id (with a seeded validation hold-out when the file has none), the list of fold ids, and
 * the balanced contiguous partition of a selection over ranks. All local and deterministic:
 * every rank computes the same answer from the same dataset tables. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hardy/common.h"
#include "hardy/dataset.h"
#include "hardy/rng.h"

int64_t hardy_dataset_dialogue_of(const int64_t *offset, int64_t n_dialogue, int64_t row) {
  int64_t lo = 0, hi = n_dialogue - 1;
  while (lo < hi) {
    int64_t mid = (lo + hi + 1) / 2;
    if (offset[mid] <= row) lo = mid; else hi = mid - 1;
  }
  return lo;
}

int hardy_dataset_folds(const hardy_dataset_t *ds, int *folds, int cap) {
  int n = 0;
  for (int64_t d = 0; d < ds->n_dialogue; d++) {
    int f = ds->fold[d];
    if (f < 0) continue;
    int pos = 0;
    while (pos < n && folds[pos] < f) pos++;
    if (pos < n && folds[pos] == f) continue;
    if (n == cap) {
      if (pos == n) continue; /* larger than every kept id: drop it */
      n--;                    /* keep the smallest `cap` ids */
    }
    memmove(folds + pos + 1, folds + pos, (size_t)(n - pos) * sizeof *folds);
    folds[pos] = f;
    n++;
  }
  return n;
}

static int selection_alloc(hardy_selection_t *s, int64_t cap) {
  s->dialogue = hardy_malloc((size_t)(cap ? cap : 1) * sizeof *s->dialogue, "dialogue selection");
  s->n = 0;
  s->n_utt = 0;
  return s->dialogue ? HARDY_OK : HARDY_ERR_RUNTIME;
}

static void selection_push(hardy_selection_t *s, const hardy_dataset_t *ds, int64_t d) {
  s->dialogue[s->n++] = d;
  s->n_utt += ds->offset[d + 1] - ds->offset[d];
}

typedef struct {
  double key;
  int64_t dialogue;
} keyed_t;

static int keyed_cmp(const void *a, const void *b) {
  const keyed_t *x = a, *y = b;
  if (x->key != y->key) return x->key < y->key ? -1 : 1;
  return (x->dialogue > y->dialogue) - (x->dialogue < y->dialogue);
}

static int i64_cmp(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

/* Move a seeded share of the training dialogues to validation. The draw is keyed by dialogue
 * id, so the hold-out does not depend on which other dialogues are in the training set. */
static int hold_out_validation(const hardy_dataset_t *ds, double val_fraction, uint64_t seed,
                               hardy_splits_t *out) {
  int64_t n_train = out->train.n;
  int64_t n_val = (int64_t)llround(val_fraction * (double)n_train);
  if (n_val < 1) n_val = 1;
  if (n_val >= n_train)
    return hardy_fail(HARDY_ERR_INPUT, "%s: only %lld training dialogue(s) and no validation "
                      "split; cannot hold out data.val_fraction = %g of them for validation",
                      ds->path, (long long)n_train, val_fraction);
  keyed_t *order = hardy_malloc((size_t)n_train * sizeof *order, "validation hold-out");
  if (!order) return HARDY_ERR_RUNTIME;
  uint64_t key = hardy_rng_key(seed, HARDY_RNG_VAL_SPLIT);
  for (int64_t i = 0; i < n_train; i++) {
    int64_t d = out->train.dialogue[i];
    order[i].key = hardy_rng_uniform(key, (uint64_t)d, 0);
    order[i].dialogue = d;
  }
  qsort(order, (size_t)n_train, sizeof *order, keyed_cmp);
  out->train.n = out->train.n_utt = 0;
  for (int64_t i = 0; i < n_train; i++)
    selection_push(i < n_val ? &out->val : &out->train, ds, order[i].dialogue);
  free(order);
  qsort(out->train.dialogue, (size_t)out->train.n, sizeof(int64_t), i64_cmp);
  qsort(out->val.dialogue, (size_t)out->val.n, sizeof(int64_t), i64_cmp);
  return HARDY_OK;
}

static int unknown_fold(const hardy_dataset_t *ds, int fold) {
  int folds[64];
  int n = hardy_dataset_folds(ds, folds, 64);
  if (n == 0)
    return hardy_fail(HARDY_ERR_INPUT, "%s: data.fold = %d but the file has no fold ids "
                      "(/dialogue/fold is -1 everywhere); use data.fold = none", ds->path, fold);
  char list[512] = "";
  size_t len = 0;
  for (int i = 0; i < n && len + 16 < sizeof list; i++)
    len += (size_t)snprintf(list + len, sizeof list - len, "%s%d", i ? ", " : "", folds[i]);
  return hardy_fail(HARDY_ERR_INPUT, "%s: data.fold = %d is not a fold id of this file; fold ids "
                    "present: %s", ds->path, fold, list);
}

int hardy_dataset_select(const hardy_dataset_t *ds, int fold, double val_fraction, uint64_t seed,
                         hardy_splits_t *out) {
  memset(out, 0, sizeof *out);
  if (fold < HARDY_FOLD_NONE)
    return hardy_fail(HARDY_ERR_INPUT, "dataset selection needs one fold id or 'none' (fold "
                      "'all' runs one selection per fold id)");
  if (fold >= 0) {
    int64_t hits = 0;
    for (int64_t d = 0; d < ds->n_dialogue; d++) hits += ds->fold[d] == fold;
    if (!hits) return unknown_fold(ds, fold);
  }
  int64_t cap = ds->n_dialogue;
  if (selection_alloc(&out->train, cap) < 0 || selection_alloc(&out->val, cap) < 0 ||
      selection_alloc(&out->test, cap) < 0) {
    hardy_splits_free(out);
    return HARDY_ERR_RUNTIME;
  }
  for (int64_t d = 0; d < ds->n_dialogue; d++) {
    int split;
    if (fold == HARDY_FOLD_NONE)
      split = ds->split[d];
    else if (ds->fold[d] < 0)
      continue; /* dialogues without a fold id take no part in cross-validation */
    else
      split = ds->fold[d] == fold ? HARDY_SPLIT_TEST : HARDY_SPLIT_TRAIN;
    selection_push(split == HARDY_SPLIT_TRAIN ? &out->train
                   : split == HARDY_SPLIT_VAL ? &out->val
                                              : &out->test,
                   ds, d);
  }
  int rc = HARDY_OK;
  const char *what = fold == HARDY_FOLD_NONE ? "in its split column" : "for this fold";
  if (out->train.n == 0)
    rc = hardy_fail(HARDY_ERR_INPUT, "%s: no training dialogues %s", ds->path, what);
  else if (out->test.n == 0)
    rc = hardy_fail(HARDY_ERR_INPUT, "%s: no test dialogues %s", ds->path, what);
  else if (out->val.n == 0)
    rc = hold_out_validation(ds, val_fraction, seed, out);
  if (rc < 0) hardy_splits_free(out);
  return rc;
}

void hardy_splits_free(hardy_splits_t *s) {
  if (!s) return;
  free(s->train.dialogue);
  free(s->val.dialogue);
  free(s->test.dialogue);
  memset(s, 0, sizeof *s);
}

void hardy_dataset_partition(const hardy_dataset_t *ds, const hardy_selection_t *sel, int nranks,
                             int64_t *bounds) {
  /* Boundary r is the dialogue edge whose prefix count is nearest the exact ideal
   * T * r / nranks (compared scaled by nranks to stay in integers), so each boundary is
   * within half a dialogue of ideal and each part within one dialogue. */
  int64_t total = sel->n_utt, cum = 0, j = 0;
  bounds[0] = 0;
  for (int r = 1; r < nranks; r++) {
    int64_t target = total * r; /* scaled by nranks */
    while (j < sel->n) {
      int64_t len = ds->offset[sel->dialogue[j] + 1] - ds->offset[sel->dialogue[j]];
      int64_t before = target - cum * nranks, after = (cum + len) * nranks - target;
      if (after > before) break; /* stopping here is at least as close */
      cum += len;
      j++;
    }
    bounds[r] = j;
  }
  bounds[nranks] = sel->n;
}
