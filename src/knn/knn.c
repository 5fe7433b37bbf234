/* Multimodal retrieval on top of the squared-L2 search (knn.h): the normalisers mu_m from one
 * allreduce, the scaled embedding of a present-modality set, and the search grouped by
 * availability pattern (one distributed squared-L2 search per pattern present anywhere). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hardy/common.h"
#include "hardy/knn.h"

void hardy_knn_metrics_input(int metric[HARDY_KNN_GROUPS]) {
  metric[0] = HARDY_KNN_L2SQ;
  metric[1] = HARDY_KNN_COSINE;
  metric[2] = HARDY_KNN_L2SQ;
}

/* 1/|x| in double, 0 for the zero row (so a zero text row stays the zero vector). */
static double inv_norm(const float *x, int d) {
  double s = 0.0;
  for (int c = 0; c < d; c++) s += (double)x[c] * x[c];
  return s > 0.0 ? 1.0 / sqrt(s) : 0.0;
}

/* Mean pair distance from N, S1 = sum of rows and S2 = sum of squared norms:
 * sum_{i != j} |x_i - x_j|^2 = 2 N S2 - 2 |S1|^2 over N (N - 1) pairs. Cosine halves it.
 * 1 when undefined (N < 2) or zero (all rows equal: every distance is 0 whatever the scale). */
static double mu_closed_form(double n, const double *s1, int d, double s2, int metric) {
  if (n < 2) return 1.0;
  double s1sq = 0.0;
  for (int c = 0; c < d; c++) s1sq += s1[c] * s1[c];
  double mu = (2.0 * n * s2 - 2.0 * s1sq) / (n * (n - 1.0));
  if (metric == HARDY_KNN_COSINE) mu *= 0.5;
  return mu > 0.0 && isfinite(mu) ? mu : 1.0;
}

int hardy_knn_index_build(hardy_knn_index_t *ix, const hardy_knn_rows_t *rows, MPI_Comm comm) {
  memset(ix, 0, sizeof *ix);
  ix->rows = *rows;
  int status = HARDY_OK, d_all = 0;
  for (int m = 0; m < HARDY_KNN_GROUPS; m++) {
    if (rows->dims[m] < 1)
      status = hardy_fail(HARDY_ERR_INPUT, "knn index: feature group %d has dimension %d", m,
                          rows->dims[m]);
    d_all += rows->dims[m];
  }
  /* Layout: [S1 of group 0 | S1 of group 1 | S1 of group 2 | S2 x 3 | N | dims x 3 | metric x 3] */
  size_t n_sum = (size_t)d_all + 3 + 1 + 6;
  double *sum = hardy_calloc(n_sum, sizeof(double), "knn index sums");
  if (!sum) status = HARDY_ERR_RUNTIME;
  status = hardy_agree(status, comm);
  if (status < 0) {
    free(sum);
    return status;
  }
  double *s2 = sum + d_all, *count = s2 + 3, *shape = count + 1;
  for (int64_t i = 0; i < rows->n; i++) {
    double *s1 = sum;
    for (int m = 0; m < HARDY_KNN_GROUPS; m++) {
      int d = rows->dims[m];
      const float *x = rows->feat[m] + i * d;
      double scale = rows->metric[m] == HARDY_KNN_COSINE ? inv_norm(x, d) : 1.0, sq = 0.0;
      for (int c = 0; c < d; c++) {
        double v = x[c] * scale;
        s1[c] += v;
        sq += v * v;
      }
      s2[m] += sq;
      s1 += d;
    }
  }
  count[0] = (double)rows->n;
  /* Shape and metric sums too: a rank that disagrees shows up as a non-multiple of nranks. */
  for (int m = 0; m < HARDY_KNN_GROUPS; m++) shape[m] = rows->dims[m], shape[3 + m] = rows->metric[m];
  double mine[6];
  memcpy(mine, shape, sizeof mine);
  HARDY_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, sum, (int)n_sum, MPI_DOUBLE, MPI_SUM, comm));
  int nranks = 1;
  MPI_Comm_size(comm, &nranks);
  for (int c = 0; c < 6; c++)
    if (shape[c] != mine[c] * nranks)
      status = hardy_fail(HARDY_ERR_INPUT, "knn index: ranks disagree on the feature dimensions "
                          "or metrics (this rank: dims %d/%d/%d)", rows->dims[0], rows->dims[1],
                          rows->dims[2]);
  ix->n_global = (int64_t)count[0];
  const double *s1 = sum;
  for (int m = 0; m < HARDY_KNN_GROUPS; m++) {
    ix->mu[m] = mu_closed_form(count[0], s1, rows->dims[m], s2[m], rows->metric[m]);
    s1 += rows->dims[m];
  }
  free(sum);
  return hardy_agree(status, comm);
}

static int popcount3(uint8_t mask) { return (mask & 1) + ((mask >> 1) & 1) + ((mask >> 2) & 1); }

int hardy_knn_embed_dim(const hardy_knn_rows_t *rows, uint8_t mask) {
  int d = 0;
  for (int m = 0; m < HARDY_KNN_GROUPS; m++)
    if (mask & (1u << m)) d += rows->dims[m];
  return d;
}

void hardy_knn_embed(const hardy_knn_index_t *ix, const hardy_knn_rows_t *rows, uint8_t mask,
                     const int64_t *row_list, int64_t n_list, float *out) {
  int n_present = popcount3(mask), d_out = hardy_knn_embed_dim(rows, mask);
  /* Scales rounded to float once: summation-order noise in mu (rank count) stays invisible. */
  float scale[HARDY_KNN_GROUPS];
  for (int m = 0; m < HARDY_KNN_GROUPS; m++) {
    double half = rows->metric[m] == HARDY_KNN_COSINE ? 2.0 : 1.0;
    scale[m] = (float)sqrt(1.0 / (half * n_present * ix->mu[m]));
  }
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < n_list; r++) {
    int64_t i = row_list ? row_list[r] : r;
    float *dst = out + r * d_out;
    for (int m = 0; m < HARDY_KNN_GROUPS; m++) {
      if (!(mask & (1u << m))) continue;
      int d = rows->dims[m];
      const float *x = rows->feat[m] + i * d;
      float s = scale[m];
      if (rows->metric[m] == HARDY_KNN_COSINE) s = (float)(scale[m] * inv_norm(x, d));
      for (int c = 0; c < d; c++) dst[c] = x[c] * s;
      dst += d;
    }
  }
}

/* Buffers of one pattern's search, sized for the largest pattern. */
typedef struct {
  float *index_rows;        /* [n_index, d_all] */
  float *query_rows;        /* [n_query, d_all] */
  int64_t *query_row;       /* [n_query] local query rows of the pattern */
  int64_t *query_id;        /* [n_query] */
  hardy_topk_pair_t *lists; /* [n_query, k] */
} pattern_buf_t;

static void pattern_buf_free(pattern_buf_t *b) {
  free(b->index_rows), free(b->query_rows), free(b->query_row), free(b->query_id), free(b->lists);
}

static int check_queries(const hardy_knn_index_t *ix, const hardy_knn_rows_t *queries,
                         const uint8_t *mask, int *patterns) {
  for (int m = 0; m < HARDY_KNN_GROUPS; m++)
    if (queries->dims[m] != ix->rows.dims[m] || queries->metric[m] != ix->rows.metric[m])
      return hardy_fail(HARDY_ERR_INPUT, "knn search: query group %d has dimension %d, the index %d",
                        m, queries->dims[m], ix->rows.dims[m]);
  for (int64_t i = 0; i < queries->n; i++) {
    if (mask[i] < 1 || mask[i] > 7)
      return hardy_fail(HARDY_ERR_INPUT, "knn search: query %lld (global id %lld) has mask %d; "
                        "a query needs at least one present modality (bits 0-2)",
                        (long long)i, (long long)queries->id[i], mask[i]);
    *patterns |= 1 << mask[i];
  }
  return HARDY_OK;
}

int hardy_knn_search(const hardy_knn_index_t *ix, const hardy_knn_rows_t *queries,
                     const uint8_t *mask, const hardy_knn_opts_t *opt, int64_t *out_id,
                     float *out_dist, hardy_knn_stats_t *stats, MPI_Comm comm) {
  double t0 = hardy_now();
  int patterns = 0, k = opt->k;
  int status = check_queries(ix, queries, mask, &patterns);
  int d_all = hardy_knn_embed_dim(&ix->rows, 7);
  int64_t n_index = ix->rows.n, n_query = queries->n;
  pattern_buf_t b = {0};
  if (status == HARDY_OK) {
    b.index_rows = hardy_aligned_alloc(sizeof(float) * (size_t)(n_index * d_all + 1), "knn index rows");
    b.query_rows = hardy_aligned_alloc(sizeof(float) * (size_t)(n_query * d_all + 1), "knn query rows");
    b.query_row = hardy_malloc(sizeof(int64_t) * (size_t)(n_query + 1), "knn query list");
    b.query_id = hardy_malloc(sizeof(int64_t) * (size_t)(n_query + 1), "knn query ids");
    b.lists = hardy_malloc(sizeof(hardy_topk_pair_t) * (size_t)(n_query * k + 1), "knn lists");
    if (!b.index_rows || !b.query_rows || !b.query_row || !b.query_id || !b.lists)
      status = HARDY_ERR_RUNTIME;
  }
  status = hardy_agree(status, comm);
  if (status < 0) {
    pattern_buf_free(&b);
    return status;
  }
  HARDY_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, &patterns, 1, MPI_INT, MPI_BOR, comm));
  hardy_knn_stats_t st = {0};
  for (uint8_t p = 1; p <= 7 && status == HARDY_OK; p++) {
    if (!(patterns & (1 << p))) continue;
    double tp = hardy_now();
    int64_t n = 0;
    for (int64_t i = 0; i < n_query; i++)
      if (mask[i] == p) {
        b.query_row[n] = i;
        b.query_id[n++] = queries->id[i];
      }
    hardy_knn_embed(ix, &ix->rows, p, NULL, n_index, b.index_rows);
    hardy_knn_embed(ix, queries, p, b.query_row, n, b.query_rows);
    st.t_prepare += hardy_now() - tp;
    status = hardy_knn_search_l2(b.query_rows, b.query_id, n, b.index_rows, ix->rows.id, n_index,
                                 hardy_knn_embed_dim(&ix->rows, p), opt, b.lists, &st, comm);
    for (int64_t r = 0; status == HARDY_OK && r < n; r++)
      for (int j = 0; j < k; j++) {
        out_id[b.query_row[r] * k + j] = b.lists[r * k + j].id;
        out_dist[b.query_row[r] * k + j] = b.lists[r * k + j].dist;
      }
  }
  pattern_buf_free(&b);
  st.t_total = hardy_now() - t0;
  if (stats) *stats = st;
  return status;
}
