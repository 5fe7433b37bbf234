/* Dialogue selection and partition on hand-built dataset tables (no file): the file's split
 * column, fold test sets, the seeded validation hold-out (deterministic, disjoint, the right
 * size), the errors for unknown folds and empty splits, and the balanced partition (each
 * boundary is the dialogue edge nearest the ideal, each part within one dialogue). */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "hardy/common.h"
#include "hardy/dataset.h"
#include "hardy/rng.h"

#define N_DLG 40

static hardy_dataset_t make_tables(void) {
  hardy_dataset_t ds;
  memset(&ds, 0, sizeof ds);
  snprintf(ds.path, sizeof ds.path, "tables.h5");
  ds.n_dialogue = N_DLG;
  ds.offset = malloc((N_DLG + 1) * sizeof(int64_t));
  ds.split = malloc(N_DLG);
  ds.fold = malloc(N_DLG * sizeof(int32_t));
  ds.offset[0] = 0;
  for (int d = 0; d < N_DLG; d++) {
    ds.offset[d + 1] = ds.offset[d] + 1 + (d * 7) % 13; /* lengths 1..13 */
    ds.split[d] = (int8_t)(d % 10 < 7 ? 0 : d % 10 < 8 ? 1 : 2);
    ds.fold[d] = d < 36 ? 1 + d % 3 : -1; /* folds 1, 2, 3; the last 4 dialogues have none */
  }
  ds.n_utt = ds.offset[N_DLG];
  return ds;
}

static int64_t utt_of(const hardy_dataset_t *ds, const hardy_selection_t *s) {
  int64_t n = 0;
  for (int64_t i = 0; i < s->n; i++) n += ds->offset[s->dialogue[i] + 1] - ds->offset[s->dialogue[i]];
  return n;
}

static int sorted_unique(const hardy_selection_t *s) {
  for (int64_t i = 1; i < s->n; i++)
    if (s->dialogue[i] <= s->dialogue[i - 1]) return 0;
  return 1;
}

static int contains(const hardy_selection_t *s, int64_t d) {
  for (int64_t i = 0; i < s->n; i++)
    if (s->dialogue[i] == d) return 1;
  return 0;
}

static void test_split_column(hardy_dataset_t *ds) {
  hardy_splits_t sp;
  TEST_EQ_INT(hardy_dataset_select(ds, HARDY_FOLD_NONE, 0.2, 5, &sp), HARDY_OK);
  TEST_EQ_INT(sp.train.n, 28);
  TEST_EQ_INT(sp.val.n, 4);
  TEST_EQ_INT(sp.test.n, 8);
  for (int d = 0; d < N_DLG; d++) {
    const hardy_selection_t *want = ds->split[d] == 0 ? &sp.train : ds->split[d] == 1 ? &sp.val : &sp.test;
    TEST_ASSERT(contains(want, d), "dialogue %d not in its file split %d", d, ds->split[d]);
  }
  TEST_EQ_INT(sp.train.n_utt, utt_of(ds, &sp.train));
  TEST_EQ_INT(sp.train.n_utt + sp.val.n_utt + sp.test.n_utt, ds->n_utt);
  TEST_ASSERT(sorted_unique(&sp.train) && sorted_unique(&sp.val) && sorted_unique(&sp.test),
              "selections ascending");
  hardy_splits_free(&sp);
}

/* With no validation dialogues in the file, a seeded share of training becomes validation. */
static void test_hold_out(hardy_dataset_t *ds) {
  int8_t saved[N_DLG];
  memcpy(saved, ds->split, N_DLG);
  for (int d = 0; d < N_DLG; d++)
    if (ds->split[d] == 1) ds->split[d] = 0;
  hardy_splits_t a, b, c;
  TEST_EQ_INT(hardy_dataset_select(ds, HARDY_FOLD_NONE, 0.25, 11, &a), HARDY_OK);
  TEST_EQ_INT(hardy_dataset_select(ds, HARDY_FOLD_NONE, 0.25, 11, &b), HARDY_OK);
  TEST_EQ_INT(hardy_dataset_select(ds, HARDY_FOLD_NONE, 0.25, 12, &c), HARDY_OK);
  TEST_EQ_INT(a.val.n, 8); /* round(0.25 * 32) */
  TEST_EQ_INT(a.train.n, 24);
  TEST_ASSERT(a.val.n == b.val.n && !memcmp(a.val.dialogue, b.val.dialogue, 8 * sizeof(int64_t)),
              "same seed, same hold-out");
  TEST_ASSERT(memcmp(a.val.dialogue, c.val.dialogue, 8 * sizeof(int64_t)) != 0,
              "another seed gives another hold-out");
  for (int64_t i = 0; i < a.val.n; i++) {
    int64_t d = a.val.dialogue[i];
    TEST_ASSERT(ds->split[d] == 0 && !contains(&a.train, d), "held-out %lld was training only",
                (long long)d);
  }
  TEST_ASSERT(sorted_unique(&a.train) && sorted_unique(&a.val), "selections ascending");
  TEST_EQ_INT(a.train.n_utt + a.val.n_utt, utt_of(ds, &a.train) + utt_of(ds, &a.val));
  hardy_splits_t tiny;
  TEST_EQ_INT(hardy_dataset_select(ds, HARDY_FOLD_NONE, 0.001, 11, &tiny), HARDY_OK);
  TEST_EQ_INT(tiny.val.n, 1); /* at least one */
  hardy_splits_free(&tiny);
  hardy_splits_free(&a);
  hardy_splits_free(&b);
  hardy_splits_free(&c);
  memcpy(ds->split, saved, N_DLG);
}

static void test_folds(hardy_dataset_t *ds) {
  int folds[8];
  TEST_EQ_INT(hardy_dataset_folds(ds, folds, 8), 3);
  TEST_ASSERT(folds[0] == 1 && folds[1] == 2 && folds[2] == 3, "folds %d %d %d", folds[0],
              folds[1], folds[2]);
  TEST_EQ_INT(hardy_dataset_folds(ds, folds, 2), 2);
  TEST_ASSERT(folds[0] == 1 && folds[1] == 2, "capped folds keep the smallest ids");
  hardy_splits_t sp;
  TEST_EQ_INT(hardy_dataset_select(ds, 2, 0.2, 3, &sp), HARDY_OK);
  TEST_EQ_INT(sp.test.n, 12);
  for (int64_t i = 0; i < sp.test.n; i++) TEST_EQ_INT(ds->fold[sp.test.dialogue[i]], 2);
  TEST_EQ_INT(sp.train.n + sp.val.n, 24); /* the other folds; fold -1 dialogues take no part */
  TEST_ASSERT(sp.val.n == 5, "val %lld = round(0.2 * 24)", (long long)sp.val.n);
  for (int d = 36; d < N_DLG; d++)
    TEST_ASSERT(!contains(&sp.train, d) && !contains(&sp.val, d) && !contains(&sp.test, d),
                "dialogue %d without fold selected", d);
  hardy_splits_free(&sp);
}

static void test_errors(hardy_dataset_t *ds) {
  hardy_splits_t sp;
  hardy_error_clear();
  TEST_EQ_INT(hardy_dataset_select(ds, 9, 0.1, 1, &sp), HARDY_ERR_INPUT);
  TEST_ASSERT(strstr(hardy_error_message(), "data.fold = 9 is not a fold id") &&
                  strstr(hardy_error_message(), "fold ids present: 1, 2, 3"),
              "unknown fold message: %s", hardy_error_message());
  hardy_error_clear();
  TEST_EQ_INT(hardy_dataset_select(ds, HARDY_FOLD_ALL, 0.1, 1, &sp), HARDY_ERR_INPUT);
  int32_t saved_fold[N_DLG];
  memcpy(saved_fold, ds->fold, sizeof saved_fold);
  for (int d = 0; d < N_DLG; d++) ds->fold[d] = -1;
  hardy_error_clear();
  TEST_EQ_INT(hardy_dataset_select(ds, 1, 0.1, 1, &sp), HARDY_ERR_INPUT);
  TEST_ASSERT(strstr(hardy_error_message(), "has no fold ids"), "%s", hardy_error_message());
  memcpy(ds->fold, saved_fold, sizeof saved_fold);
  int8_t saved_split[N_DLG];
  memcpy(saved_split, ds->split, N_DLG);
  for (int d = 0; d < N_DLG; d++)
    if (ds->split[d] == 2) ds->split[d] = 0;
  hardy_error_clear();
  TEST_EQ_INT(hardy_dataset_select(ds, HARDY_FOLD_NONE, 0.1, 1, &sp), HARDY_ERR_INPUT);
  TEST_ASSERT(strstr(hardy_error_message(), "tables.h5: no test dialogues"), "%s",
              hardy_error_message());
  memcpy(ds->split, saved_split, N_DLG);
  hardy_error_clear();
}

/* Random dialogue lengths; every boundary must be the edge nearest its ideal prefix count. */
static void test_partition(void) {
  enum { N = 300 };
  hardy_dataset_t ds;
  memset(&ds, 0, sizeof ds);
  ds.n_dialogue = N;
  ds.offset = malloc((N + 1) * sizeof(int64_t));
  ds.offset[0] = 0;
  uint64_t key = hardy_rng_key(1, HARDY_RNG_TEST_DATA);
  for (int d = 0; d < N; d++)
    ds.offset[d + 1] = ds.offset[d] + 1 + (int64_t)hardy_rng_below(key, (uint64_t)d, 0, 110);
  hardy_selection_t sel = {0, malloc(N * sizeof(int64_t)), 0};
  for (int d = 0; d < N; d += 1 + d % 3) { /* a non-contiguous selection */
    sel.dialogue[sel.n++] = d;
    sel.n_utt += ds.offset[d + 1] - ds.offset[d];
  }
  int64_t prefix[N + 1], longest = 0;
  prefix[0] = 0;
  for (int64_t i = 0; i < sel.n; i++) {
    int64_t len = ds.offset[sel.dialogue[i] + 1] - ds.offset[sel.dialogue[i]];
    prefix[i + 1] = prefix[i] + len;
    longest = HARDY_MAX(longest, len);
  }
  int bad_nearest = 0, bad_balance = 0, bad_order = 0;
  for (int ranks = 1; ranks <= 64; ranks++) {
    int64_t bounds[65];
    hardy_dataset_partition(&ds, &sel, ranks, bounds);
    bad_order += bounds[0] != 0 || bounds[ranks] != sel.n;
    for (int r = 0; r < ranks; r++) {
      bad_order += bounds[r + 1] < bounds[r];
      double part = (double)(prefix[bounds[r + 1]] - prefix[bounds[r]]);
      bad_balance += fabs(part - (double)sel.n_utt / ranks) > (double)longest;
      if (r == 0) continue;
      double ideal = (double)sel.n_utt * r / ranks, got = fabs((double)prefix[bounds[r]] - ideal);
      for (int64_t j = 0; j <= sel.n; j++) bad_nearest += fabs((double)prefix[j] - ideal) < got - 1e-9;
    }
  }
  TEST_EQ_INT(bad_order, 0);
  TEST_EQ_INT(bad_balance, 0);
  TEST_EQ_INT(bad_nearest, 0);
  /* More ranks than dialogues: empty parts, still a cover. */
  hardy_selection_t two = {2, sel.dialogue, prefix[2]};
  int64_t bounds[5];
  hardy_dataset_partition(&ds, &two, 4, bounds);
  TEST_ASSERT(bounds[0] == 0 && bounds[4] == 2, "cover of 2 dialogues over 4 ranks");
  int nonempty = 0;
  for (int r = 0; r < 4; r++) nonempty += bounds[r + 1] > bounds[r];
  TEST_EQ_INT(nonempty, 2);
  free(sel.dialogue);
  free(ds.offset);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  hardy_dataset_t ds = make_tables();
  test_split_column(&ds);
  test_hold_out(&ds);
  test_folds(&ds);
  test_errors(&ds);
  test_partition();
  hardy_dataset_close(&ds);
  int status = hardy_test_finish("test_dataset_select");
  MPI_Finalize();
  return status;
}
