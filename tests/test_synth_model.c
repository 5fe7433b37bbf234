/* The synthetic generator's model, in memory: rows do not depend on how they are chunked or on
 * the thread count; dialogue lengths, splits and folds follow the documented shapes; labels
 * persist within dialogues; planted hardness is Beta(2, 3); and the class signal is ordered as
 * documented (text > audio > visual) and much weaker for planted-hard utterances; the
 * generator's rational tanh matches tanhf. */
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "hardy/common.h"
#include "hardy/synth.h"

enum { N_UTT = 4000 };

static hardy_synth_params_t small_params(void) {
  hardy_synth_params_t p;
  hardy_synth_defaults(&p);
  snprintf(p.out, sizeof p.out, "unused.h5");
  p.n_utt = N_UTT;
  p.dims[0] = 16;
  p.dims[1] = 32;
  p.dims[2] = 24;
  return p;
}

typedef struct {
  float *feat[HARDY_N_MOD];
  int32_t *label, *speaker;
  float *planted;
} rows_t;

static void rows_alloc(const hardy_synth_params_t *p, rows_t *r) {
  for (int m = 0; m < HARDY_N_MOD; m++) r->feat[m] = calloc((size_t)(N_UTT * p->dims[m]), 4);
  r->label = calloc(N_UTT, 4);
  r->speaker = calloc(N_UTT, 4);
  r->planted = calloc(N_UTT, 4);
}

static void rows_free(rows_t *r) {
  for (int m = 0; m < HARDY_N_MOD; m++) free(r->feat[m]);
  free(r->label);
  free(r->speaker);
  free(r->planted);
}

/* Generate rows [0, N_UTT) in pieces of `piece` rows. */
static void generate(const hardy_synth_t *s, int64_t piece, rows_t *r) {
  for (int64_t first = 0; first < N_UTT; first += piece) {
    int64_t count = HARDY_MIN(piece, N_UTT - first);
    float *feat[HARDY_N_MOD];
    for (int m = 0; m < HARDY_N_MOD; m++) feat[m] = r->feat[m] + first * s->p.dims[m];
    TEST_EQ_INT(hardy_synth_rows(s, first, count, feat, r->label + first, NULL,
                                 r->speaker + first, r->planted + first, NULL), HARDY_OK);
  }
}

static int rows_equal(const hardy_synth_params_t *p, const rows_t *a, const rows_t *b) {
  int eq = !memcmp(a->label, b->label, N_UTT * 4) && !memcmp(a->speaker, b->speaker, N_UTT * 4) &&
           !memcmp(a->planted, b->planted, N_UTT * 4);
  for (int m = 0; m < HARDY_N_MOD; m++)
    eq &= !memcmp(a->feat[m], b->feat[m], (size_t)(N_UTT * p->dims[m]) * 4);
  return eq;
}

/* Nearest-class-mean accuracy of modality m, means from even rows, tested on odd rows, over
 * rows whose planted hardness is in [h_lo, h_hi). */
static double ncm_accuracy(const hardy_synth_t *s, const rows_t *r, int m, double h_lo,
                           double h_hi) {
  int dim = s->p.dims[m], n_cls = s->p.num_classes;
  double *mean = calloc((size_t)(n_cls * dim), sizeof(double));
  int64_t *count = calloc((size_t)n_cls, sizeof(int64_t)), right = 0, total = 0;
  for (int64_t i = 0; i < N_UTT; i += 2) {
    count[r->label[i]]++;
    for (int j = 0; j < dim; j++) mean[r->label[i] * dim + j] += r->feat[m][i * dim + j];
  }
  for (int c = 0; c < n_cls; c++)
    for (int j = 0; j < dim; j++) mean[c * dim + j] /= (double)HARDY_MAX(1, count[c]);
  for (int64_t i = 1; i < N_UTT; i += 2) {
    if (r->planted[i] < h_lo || r->planted[i] >= h_hi) continue;
    int best = 0;
    double best_d = INFINITY;
    for (int c = 0; c < n_cls; c++) {
      double d = 0;
      for (int j = 0; j < dim; j++) {
        double diff = r->feat[m][i * dim + j] - mean[c * dim + j];
        d += diff * diff;
      }
      if (d < best_d) best_d = d, best = c;
    }
    right += best == r->label[i];
    total++;
  }
  free(mean);
  free(count);
  return total ? (double)right / (double)total : 0.0;
}

static void test_rows(void) {
  hardy_synth_params_t p = small_params();
  hardy_synth_t s;
  TEST_EQ_INT(hardy_synth_init(&s, &p), HARDY_OK);
  rows_t whole, pieces;
  rows_alloc(&p, &whole);
  rows_alloc(&p, &pieces);
  omp_set_num_threads(1);
  generate(&s, N_UTT, &whole);
  omp_set_num_threads(3);
  generate(&s, 37, &pieces); /* pieces cut through dialogues */
  TEST_ASSERT(rows_equal(&p, &whole, &pieces), "rows depend on chunking or threads");

  /* Labels persist within a dialogue: P(same as previous) = 1/2 + 1/(2C). */
  int64_t same = 0, pairs = 0, class_count[4] = {0};
  double h_sum = 0, x_sq = 0;
  for (int64_t d = 0; d < s.n_dialogue; d++)
    for (int64_t i = s.offset[d] + 1; i < s.offset[d + 1]; i++) {
      same += whole.label[i] == whole.label[i - 1];
      pairs++;
    }
  for (int64_t i = 0; i < N_UTT; i++) {
    class_count[whole.label[i]]++;
    h_sum += whole.planted[i];
    TEST_ASSERT(whole.planted[i] >= 0 && whole.planted[i] <= 1, "planted %g", whole.planted[i]);
    TEST_ASSERT(whole.speaker[i] == 0 || whole.speaker[i] == 1, "speaker %d", whole.speaker[i]);
  }
  for (int64_t j = 0; j < N_UTT * p.dims[1]; j++) x_sq += (double)whole.feat[1][j] * whole.feat[1][j];
  TEST_NEAR((double)same / pairs, 0.625, 0.03, 0);
  for (int c = 0; c < 4; c++) TEST_NEAR(class_count[c] / (double)N_UTT, 0.25, 0.05, 0);
  TEST_NEAR(h_sum / N_UTT, 0.4, 0.02, 0); /* Beta(2, 3) mean */
  double rms = sqrt(x_sq / (N_UTT * p.dims[1]));
  TEST_ASSERT(rms > 0.4 && rms < 1.2, "text feature rms %g should be O(1)", rms);

  /* Class signal: text > audio > visual, and easy utterances far clearer than hard ones. */
  double acc[HARDY_N_MOD];
  for (int m = 0; m < HARDY_N_MOD; m++) acc[m] = ncm_accuracy(&s, &whole, m, 0, 1.01);
  TEST_ASSERT(acc[1] > acc[0] && acc[0] > acc[2], "accuracy a %.3f t %.3f v %.3f", acc[0],
              acc[1], acc[2]);
  TEST_ASSERT(acc[1] > 0.6 && acc[2] > 0.3, "text %.3f, visual %.3f above chance 0.25", acc[1],
              acc[2]);
  double easy = ncm_accuracy(&s, &whole, 1, 0, 0.25), hard = ncm_accuracy(&s, &whole, 1, 0.6, 1.01);
  TEST_ASSERT(easy > hard + 0.2, "text accuracy easy %.3f vs hard %.3f", easy, hard);
  rows_free(&whole);
  rows_free(&pieces);
  hardy_synth_free(&s);
}

static void check_shape(int shape, int64_t n_utt, double mean_lo, double mean_hi, int64_t min_len,
                        int64_t max_len) {
  hardy_synth_params_t p = small_params();
  p.n_utt = n_utt;
  p.shape = shape;
  p.folds = 5;
  hardy_synth_t s;
  TEST_EQ_INT(hardy_synth_init(&s, &p), HARDY_OK);
  int64_t lo = INT64_MAX, hi = 0, split[3] = {0, 0, 0}, bad_fold = 0;
  for (int64_t d = 0; d < s.n_dialogue; d++) {
    int64_t len = s.offset[d + 1] - s.offset[d];
    if (d + 1 < s.n_dialogue) lo = HARDY_MIN(lo, len); /* the last one may be a remainder */
    hi = HARDY_MAX(hi, len);
    split[s.split[d]]++;
    bad_fold += s.fold[d] != 1 + d % 5;
  }
  double mean = (double)n_utt / (double)s.n_dialogue;
  TEST_EQ_INT(s.offset[s.n_dialogue], n_utt);
  TEST_ASSERT(mean >= mean_lo && mean <= mean_hi, "shape %d mean length %.2f", shape, mean);
  TEST_ASSERT(lo >= min_len && hi <= max_len, "shape %d lengths %lld..%lld", shape,
              (long long)lo, (long long)hi);
  TEST_NEAR(split[0] / (double)s.n_dialogue, 0.7, 0.04, 0);
  TEST_NEAR(split[1] / (double)s.n_dialogue, 0.1, 0.03, 0);
  TEST_NEAR(split[2] / (double)s.n_dialogue, 0.2, 0.04, 0);
  TEST_EQ_INT(bad_fold, 0);
  hardy_synth_free(&s);
}

static void test_regression(void) {
  hardy_synth_params_t p = small_params();
  p.task = HARDY_TASK_REGRESSION;
  hardy_synth_t s;
  TEST_EQ_INT(hardy_synth_init(&s, &p), HARDY_OK);
  float *target = malloc(N_UTT * sizeof(float));
  TEST_EQ_INT(hardy_synth_rows(&s, 0, N_UTT, NULL, NULL, target, NULL, NULL, NULL), HARDY_OK);
  double sum = 0, sq = 0;
  int out_of_range = 0;
  for (int i = 0; i < N_UTT; i++) {
    sum += target[i];
    sq += (double)target[i] * target[i];
    out_of_range += !(target[i] >= -3 && target[i] <= 3);
  }
  double sd = sqrt(sq / N_UTT - (sum / N_UTT) * (sum / N_UTT));
  TEST_EQ_INT(out_of_range, 0);
  TEST_ASSERT(sd > 0.8 && sd < 2.2, "score sd %g should spread over [-3, 3]", sd);
  free(target);
  hardy_synth_free(&s);
}

/* The generator's rational tanh against libm's tanhf (its _ref). */
static void test_tanh(void) {
  double worst = 0, worst_x = 0;
  for (int i = -400000; i <= 400000; i++) {
    float x = (float)i * 5e-5f;
    double err = fabs((double)hardy_synth_tanh(x) - (double)tanhf(x));
    if (err > worst) worst = err, worst_x = x;
  }
  TEST_ASSERT(worst < 1e-6, "synth tanh differs from tanhf by %g at x = %g", worst, worst_x);
  TEST_NEAR(hardy_synth_tanh(50.0f), 1.0, 1e-6, 0);
  TEST_NEAR(hardy_synth_tanh(-50.0f), -1.0, 1e-6, 0);
  TEST_EQ_INT(hardy_synth_tanh(0.0f) == 0.0f, 1);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  test_tanh();
  test_rows();
  check_shape(HARDY_SHAPE_IEMOCAP, 200000, 34.0, 40.0, 8, 110);
  check_shape(HARDY_SHAPE_MOSEI, 100000, 6.3, 7.7, 1, 30);
  test_regression();
  hardy_synth_params_t bad = small_params();
  bad.dims[2] = 0;
  hardy_error_clear();
  TEST_EQ_INT(hardy_synth_check(&bad), HARDY_ERR_INPUT);
  TEST_ASSERT(strstr(hardy_error_message(), "visual width 0"), "%s", hardy_error_message());
  int status = hardy_test_finish("test_synth_model");
  MPI_Finalize();
  return status;
}
