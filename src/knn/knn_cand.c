/* Candidate lists of the kNN kernels (knn_internal.h): both kernel paths compute the expanded
 * distance |q|^2 + |x|^2 - 2 q.x and offer each value within a query's band to its list; the
 * survivors get their distance recomputed directly (fixed-order double sum of squared
 * differences), which is what the lists hold: the expansion's rounding never decides an order,
 * so both paths give identical results. */
#include <math.h>
#include <stdint.h>

#include "hardy/common.h"
#include "hardy/knn.h"
#include "knn_internal.h"

enum { LANES = 16 };
typedef hardy_knn_cand_t cand_t;
typedef hardy_knn_kargs_t kernel_args_t;

/* sum (a - b)^2 in double with 32 independent partial sums (four vector accumulators) in a
 * fixed order: exact to ~1e-16 whatever the caller's blocking, so rounding it to float32
 * decides the order as the double reference does. Compiled for AVX-512, AVX2 and baseline
 * x86-64, picked at load time. */
__attribute__((target_clones("avx512f", "avx2", "default")))
static double l2sq_direct(const float *a, const float *b, int d) {
  enum { P = 32 };
  double acc[P] = {0};
  int i = 0;
  for (; i + P <= d; i += P)
    for (int l = 0; l < P; l++) {
      double t = (double)a[i + l] - (double)b[i + l];
      acc[l] += t * t;
    }
  double s = 0.0;
  for (; i < d; i++) {
    double t = (double)a[i] - b[i];
    s += t * t;
  }
  for (int l = 0; l < P; l++) s += acc[l];
  return s;
}

float hardy_knn_sqnorm(const float *a, int d) {
  float acc[LANES] = {0};
  int i = 0;
  for (; i + LANES <= d; i += LANES)
    for (int l = 0; l < LANES; l++) acc[l] += a[i + l] * a[i + l];
  double s = 0.0;
  for (; i < d; i++) s += (double)a[i] * a[i];
  for (int l = 0; l < LANES; l++) s += acc[l];
  return (float)s;
}

/* Bound on |GEMM-expanded distance - exact distance| relative to |q|^2 + |x|^2, doubled (the
 * band argument below needs 2e): e <= gamma_{d+2} (|q|^2 + |x|^2 + 2|q||x|) <= 2 gamma
 * (|q|^2 + |x|^2); plus slack for the float32 rounding of the final order. */
float hardy_knn_filter_margin(int d) {
  double u = ldexp(1.0, -24), g = (d + 4) * u / (1.0 - (d + 4) * u);
  return (float)(4.0 * g * 1.01 + 4.0 * u);
}

static int by_approx(const cand_t *a, const cand_t *b) {
  return a->approx < b->approx || (a->approx == b->approx && a->id < b->id);
}
static int by_exact(const cand_t *a, const cand_t *b) {
  return a->exact < b->exact || (a->exact == b->exact && a->id < b->id);
}
static void sort_cands(cand_t *c, int n, int (*less)(const cand_t *, const cand_t *)) {
  for (int i = 1; i < n; i++) {
    cand_t t = c[i];
    int j = i;
    for (; j > 0 && less(&t, &c[j - 1]); j--) c[j] = c[j - 1];
    c[j] = t;
  }
}

/* Direct distances for the candidates that lack one, then order by (exact, id). */
static int64_t refine(const kernel_args_t *a, int64_t qi, cand_t *c, int n) {
  int64_t n_direct = 0;
  for (int i = 0; i < n; i++)
    if (c[i].exact < 0.0f) {
      c[i].exact = (float)l2sq_direct(a->q + qi * a->d, a->x + c[i].pos * a->d, a->d);
      n_direct++;
    }
  sort_cands(c, n, by_exact);
  return n_direct;
}

/* Why the band keeps the answer: a member y of the true top-K has exact(y) <= exact of some
 * item among the K smallest approx values, so approx(y) <= exact(y) + e <= approx_K + 2e. The
 * K-th smallest approx only decreases, so dropping items above approx_K + 2e is safe; when
 * many items crowd the band (duplicates), they are refined and only the K best kept. This
 * holds for any summation order of q.x, so both kernel paths use it. */
int64_t hardy_knn_cand_add(const kernel_args_t *a, int64_t qi, cand_t *c, int *n, float band,
                           cand_t item) {
  int k = a->k, at = *n;
  for (; at > 0 && by_approx(&item, &c[at - 1]); at--) c[at] = c[at - 1];
  c[at] = item;
  (*n)++;
  if (*n > k)
    while (*n > k && c[*n - 1].approx > c[k - 1].approx + band) (*n)--;
  if (*n < hardy_knn_cand_cap(k)) return 0;
  int64_t n_direct = refine(a, qi, c, *n);
  *n = k;
  sort_cands(c, *n, by_approx);
  return n_direct;
}

int64_t hardy_knn_cand_finish(const kernel_args_t *a, int64_t qi, cand_t *c, int n) {
  int64_t n_direct = refine(a, qi, c, n);
  hardy_topk_pair_t *list = a->lists + qi * a->k;
  int kept = HARDY_MIN(n, a->k);
  for (int j = 0; j < kept; j++) list[j].dist = c[j].exact, list[j].id = c[j].id;
  hardy_topk_clear(list + kept, a->k - kept);
  return n_direct;
}

