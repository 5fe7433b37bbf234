/* Plain references for the kNN module (knn.h): the distance definition evaluated literally in
 * double, pair by pair, with no blocking, no GEMM expansion and no closed forms. Tests compare
 * the optimised, distributed search against these. Serial and O(n^2 d). */
#include <math.h>
#include <stdlib.h>

#include "hardy/common.h"
#include "hardy/knn.h"

/* d_m between row i of a and row j of b in double. */
static double group_dist(const float *a, const float *b, int d, int metric) {
  if (metric == HARDY_KNN_COSINE) {
    double aa = 0, bb = 0, ab = 0;
    for (int c = 0; c < d; c++) {
      aa += (double)a[c] * a[c];
      bb += (double)b[c] * b[c];
      ab += (double)a[c] * b[c];
    }
    double ia = aa > 0 ? 1.0 / sqrt(aa) : 0.0, ib = bb > 0 ? 1.0 / sqrt(bb) : 0.0;
    /* (|u|^2 + |v|^2) / 2 - u.v: 1 - cos for unit rows, defined for a zero row too. */
    return 0.5 * (aa * ia * ia + bb * ib * ib) - ab * ia * ib;
  }
  double s = 0;
  for (int c = 0; c < d; c++) {
    double t = (double)a[c] - b[c];
    s += t * t;
  }
  return s;
}

void hardy_knn_mu_ref(const hardy_knn_rows_t *rows, double mu[HARDY_KNN_GROUPS]) {
  for (int m = 0; m < HARDY_KNN_GROUPS; m++) {
    int d = rows->dims[m];
    double sum = 0;
    for (int64_t i = 0; i < rows->n; i++)
      for (int64_t j = i + 1; j < rows->n; j++)
        sum += group_dist(rows->feat[m] + i * d, rows->feat[m] + j * d, d, rows->metric[m]);
    double pairs = 0.5 * (double)rows->n * (double)(rows->n - 1);
    mu[m] = pairs > 0 && sum > 0 ? sum / pairs : 1.0;
  }
}

typedef struct {
  double dist;
  int64_t id;
} ref_pair_t;

/* Keep list[0..k) sorted by (float32 dist, id), the order the search defines (distances are
 * reported as float32; equal float32 distances go to the smaller id); empty slots: id -1. */
static void ref_insert(ref_pair_t *list, int k, double dist_exact, int64_t id) {
  double dist = (float)dist_exact;
  int at = k;
  while (at > 0 && (list[at - 1].id < 0 || dist < list[at - 1].dist ||
                    (dist == list[at - 1].dist && id < list[at - 1].id)))
    at--;
  if (at == k) return;
  for (int s = k - 1; s > at; s--) list[s] = list[s - 1];
  list[at].dist = dist;
  list[at].id = id;
}

static void ref_output(const ref_pair_t *list, int k, int64_t *id, float *dist) {
  for (int j = 0; j < k; j++) {
    id[j] = list[j].id;
    dist[j] = list[j].id < 0 ? INFINITY : (float)list[j].dist;
  }
}

int hardy_knn_search_ref(const hardy_knn_rows_t *index, const hardy_knn_rows_t *queries,
                         const uint8_t *mask, int k, int64_t *out_id, float *out_dist) {
  double mu[HARDY_KNN_GROUPS];
  hardy_knn_mu_ref(index, mu);
  ref_pair_t *list = hardy_malloc(sizeof *list * (size_t)k, "knn reference list");
  if (!list) return HARDY_ERR_RUNTIME;
  for (int64_t i = 0; i < queries->n; i++) {
    if (mask[i] < 1 || mask[i] > 7) {
      free(list);
      return hardy_fail(HARDY_ERR_INPUT, "knn reference: query %lld has mask %d", (long long)i, mask[i]);
    }
    for (int j = 0; j < k; j++) list[j].id = -1, list[j].dist = INFINITY;
    int n_present = 0;
    for (int m = 0; m < HARDY_KNN_GROUPS; m++) n_present += (mask[i] >> m) & 1;
    for (int64_t j = 0; j < index->n; j++) {
      if (index->id[j] == queries->id[i]) continue;
      double s = 0;
      for (int m = 0; m < HARDY_KNN_GROUPS; m++) {
        if (!((mask[i] >> m) & 1)) continue;
        int d = index->dims[m];
        s += group_dist(queries->feat[m] + i * d, index->feat[m] + j * d, d, index->metric[m]) / mu[m];
      }
      ref_insert(list, k, s / n_present, index->id[j]);
    }
    ref_output(list, k, out_id + i * k, out_dist + i * k);
  }
  free(list);
  return HARDY_OK;
}

void hardy_knn_topk_local_ref(const float *q, const int64_t *q_id, int64_t n_query, const float *x,
                              const int64_t *x_id, int64_t n_index, int d, int k,
                              hardy_topk_pair_t *lists) {
  ref_pair_t *list = malloc(sizeof *list * (size_t)k);
  for (int64_t i = 0; i < n_query; i++) {
    for (int j = 0; j < k; j++) list[j].id = -1, list[j].dist = INFINITY;
    for (int64_t j = 0; j < n_index; j++)
      if (x_id[j] != q_id[i])
        ref_insert(list, k, group_dist(q + i * d, x + j * d, d, HARDY_KNN_L2SQ), x_id[j]);
    for (int j = 0; j < k; j++) {
      lists[i * k + j].id = list[j].id;
      lists[i * k + j].dist = list[j].id < 0 ? INFINITY : (float)list[j].dist;
    }
  }
  free(list);
}
