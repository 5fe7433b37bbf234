/* Feature standardisation (dataset module): per modality and dimension mean, std, min and max
 * of the features over the rows where a modality is present, the preprocessing they define
 * (optional L2 normalisation of text rows, then z-scoring), their merge across ranks, and
 * their JSON form stored in checkpoints. Training computes them on its training shard and
 * stores them; eval, hardness and resume read them back, so a model sees the same inputs on
 * any rank count. Welford's update accumulates a rank's rows in double; Chan's pairwise update
 * merges ranks in rank order inside a non-commutative MPI_Reduce (rank 0 then broadcasts), so
 * every rank applies bit-identical statistics. See docs/DATA_FORMAT.md, "Standardisation". */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hardy/common.h"
#include "hardy/dataset.h"

enum { TEXT = 1 };
#define N_ARRAYS 5 /* mean, m2, std, min, max */

int hardy_dataset_featnorm_init(hardy_featnorm_t *fn, const int dims[HARDY_N_MOD], int standardize,
                                int l2_normalize) {
  memset(fn, 0, sizeof *fn);
  fn->standardize = standardize;
  fn->l2_normalize = l2_normalize;
  for (int m = 0; m < HARDY_N_MOD; m++) {
    int d = dims[m];
    fn->dims[m] = d;
    double *base = hardy_calloc((size_t)N_ARRAYS * (size_t)HARDY_MAX(d, 1), sizeof(double),
                                "feature statistics");
    if (!base) {
      hardy_dataset_featnorm_free(fn);
      return HARDY_ERR_RUNTIME;
    }
    fn->mean[m] = base;
    fn->m2[m] = base + d;
    fn->std[m] = base + 2 * d;
    fn->min[m] = base + 3 * d;
    fn->max[m] = base + 4 * d;
    for (int j = 0; j < d; j++)
      fn->min[m][j] = INFINITY, fn->max[m][j] = -INFINITY;
  }
  return HARDY_OK;
}

void hardy_dataset_featnorm_free(hardy_featnorm_t *fn) {
  for (int m = 0; m < HARDY_N_MOD; m++)
    free(fn->mean[m]);
  memset(fn, 0, sizeof *fn);
}

/* Scale a row to unit L2 norm (norm in double); a zero row stays zero. */
static void l2_row(float *x, int d) {
  double ss = 0.0;
  for (int j = 0; j < d; j++)
    ss += (double)x[j] * x[j];
  if (ss <= 0.0)
    return;
  double norm = sqrt(ss);
  for (int j = 0; j < d; j++)
    x[j] = (float)(x[j] / norm);
}

int hardy_dataset_featnorm_add(hardy_featnorm_t *fn, float *const feat[HARDY_N_MOD],
                               const uint8_t *present, int64_t n) {
  int dt = fn->dims[TEXT];
  float *tmp = NULL;
  if (fn->l2_normalize == HARDY_L2_TEXT &&
      !(tmp = hardy_malloc((size_t)HARDY_MAX(dt, 1) * sizeof(float), "text row")))
    return HARDY_ERR_RUNTIME;
  for (int m = 0; m < HARDY_N_MOD; m++) {
    int d = fn->dims[m];
    bool l2 = m == TEXT && fn->l2_normalize == HARDY_L2_TEXT;
    double *mean = fn->mean[m], *m2 = fn->m2[m], *lo = fn->min[m], *hi = fn->max[m];
    for (int64_t i = 0; i < n; i++) {
      if (present && !present[i * HARDY_N_MOD + m])
        continue;
      const float *x = feat[m] + i * d;
      if (l2) {
        memcpy(tmp, x, (size_t)d * sizeof(float));
        l2_row(tmp, d);
        x = tmp;
      }
      double c = (double)++fn->count[m];
      for (int j = 0; j < d; j++) {
        double v = x[j], delta = v - mean[j];
        mean[j] += delta / c;
        m2[j] += delta * (v - mean[j]);
        lo[j] = fmin(lo[j], v);
        hi[j] = fmax(hi[j], v);
      }
    }
  }
  free(tmp);
  return HARDY_OK;
}

/* ---- the merge -------------------------------------------------------------------------- */

/* Packed form: [d_a, d_t, d_v], then per modality [count, mean[d], m2[d], min[d], max[d]]. The
 * layout travels with the data so the reduction op needs no global state. */
static size_t packed_len(const int dims[HARDY_N_MOD]) {
  size_t len = HARDY_N_MOD;
  for (int m = 0; m < HARDY_N_MOD; m++)
    len += 1 + 4 * (size_t)dims[m];
  return len;
}

static void pack(const hardy_featnorm_t *fn, double *buf) {
  double *p = buf;
  for (int m = 0; m < HARDY_N_MOD; m++)
    *p++ = fn->dims[m];
  for (int m = 0; m < HARDY_N_MOD; m++) {
    size_t d = (size_t)fn->dims[m];
    *p++ = (double)fn->count[m];
    memcpy(p, fn->mean[m], d * sizeof(double)), p += d;
    memcpy(p, fn->m2[m], d * sizeof(double)), p += d;
    memcpy(p, fn->min[m], d * sizeof(double)), p += d;
    memcpy(p, fn->max[m], d * sizeof(double)), p += d;
  }
}

static void unpack(hardy_featnorm_t *fn, const double *buf) {
  const double *p = buf + HARDY_N_MOD;
  for (int m = 0; m < HARDY_N_MOD; m++) {
    size_t d = (size_t)fn->dims[m];
    fn->count[m] = (int64_t)*p++;
    memcpy(fn->mean[m], p, d * sizeof(double)), p += d;
    memcpy(fn->m2[m], p, d * sizeof(double)), p += d;
    memcpy(fn->min[m], p, d * sizeof(double)), p += d;
    memcpy(fn->max[m], p, d * sizeof(double)), p += d;
  }
}

/* Chan's pairwise update of (count, mean, m2) and min/max: b = a (+) b, a from lower ranks. */
static void chan_merge(const double *a, double *b) {
  int dims[HARDY_N_MOD];
  for (int m = 0; m < HARDY_N_MOD; m++)
    dims[m] = (int)a[m];
  const double *pa = a + HARDY_N_MOD;
  double *pb = b + HARDY_N_MOD;
  for (int m = 0; m < HARDY_N_MOD; m++) {
    size_t d = (size_t)dims[m];
    double na = pa[0], nb = pb[0], n = na + nb;
    const double *ma = pa + 1, *sa = ma + d, *la = sa + d, *ha = la + d;
    double *mb = pb + 1, *sb = mb + d, *lb = sb + d, *hb = lb + d;
    for (size_t j = 0; j < d && n > 0; j++) {
      double delta = mb[j] - ma[j];
      double mean = na == 0 ? mb[j] : nb == 0 ? ma[j] : ma[j] + delta * (nb / n);
      sb[j] = sa[j] + sb[j] + (na == 0 || nb == 0 ? 0.0 : delta * delta * (na * nb / n));
      mb[j] = mean;
      lb[j] = fmin(la[j], lb[j]);
      hb[j] = fmax(ha[j], hb[j]);
    }
    pb[0] = n;
    pa += 1 + 4 * d;
    pb += 1 + 4 * d;
  }
}

static void chan_op(void *in, void *inout, int *len, MPI_Datatype *type) {
  (void)type;
  /* one element of the contiguous type is one packed record */
  for (int i = 0; i < *len; i++) {
    const double *a = in;
    int dims[HARDY_N_MOD] = {(int)a[0], (int)a[1], (int)a[2]};
    size_t rec = packed_len(dims);
    chan_merge((const double *)in + (size_t)i * rec, (double *)inout + (size_t)i * rec);
  }
}

int hardy_dataset_featnorm_reduce(hardy_featnorm_t *fn, MPI_Comm comm) {
  size_t len = packed_len(fn->dims);
  double *send = hardy_malloc(2 * len * sizeof(double), "feature statistics merge");
  int ok = send != NULL;
  MPI_Allreduce(MPI_IN_PLACE, &ok, 1, MPI_INT, MPI_MIN, comm);
  if (!ok) {
    free(send);
    return hardy_fail(HARDY_ERR_RUNTIME, "out of memory merging feature statistics");
  }
  double *recv = send + len;
  pack(fn, send);
  memcpy(recv, send, len * sizeof(double));
  MPI_Datatype rec;
  MPI_Op op;
  MPI_Type_contiguous((int)len, MPI_DOUBLE, &rec);
  MPI_Type_commit(&rec);
  MPI_Op_create(chan_op, 0 /* not commutative: merge in rank order */, &op);
  int rc = MPI_Reduce(send, recv, 1, rec, op, 0, comm);
  if (rc == MPI_SUCCESS)
    rc = MPI_Bcast(recv, 1, rec, 0, comm);
  MPI_Op_free(&op);
  MPI_Type_free(&rec);
  if (rc == MPI_SUCCESS)
    unpack(fn, recv);
  free(send);
  if (rc != MPI_SUCCESS)
    return hardy_mpi_fail(rc, __FILE__, __LINE__, "MPI_Reduce of statistics");
  for (int m = 0; m < HARDY_N_MOD; m++)
    for (int j = 0; j < fn->dims[m]; j++) {
      if (fn->count[m] == 0) { /* nothing seen: identity, and printable numbers */
        fn->mean[m][j] = fn->m2[m][j] = fn->min[m][j] = fn->max[m][j] = 0.0;
      }
      fn->std[m][j] = fn->count[m] ? sqrt(fn->m2[m][j] / (double)fn->count[m]) : 0.0;
    }
  return HARDY_OK;
}

int hardy_dataset_featnorm_compute(hardy_featnorm_t *fn, const hardy_shard_t *train,
                                   int standardize, int l2_normalize, MPI_Comm comm) {
  HARDY_CHECK(
      hardy_agree(hardy_dataset_featnorm_init(fn, train->dims, standardize, l2_normalize), comm));
  int rc =
      hardy_agree(hardy_dataset_featnorm_add(fn, train->feat, train->present, train->n_utt), comm);
  if (rc == HARDY_OK)
    rc = hardy_dataset_featnorm_reduce(fn, comm);
  if (rc < 0)
    hardy_dataset_featnorm_free(fn);
  return rc;
}

/* ---- using them ------------------------------------------------------------------------- */

double hardy_dataset_featnorm_scale(const hardy_featnorm_t *fn, int m, int j) {
  if (fn->count[m] == 0 || !(fn->max[m][j] > fn->min[m][j]) || !(fn->std[m][j] > 0.0))
    return 1.0;
  return fn->std[m][j];
}

int hardy_dataset_featnorm_apply(const hardy_featnorm_t *fn, hardy_shard_t *sh) {
  for (int m = 0; m < HARDY_N_MOD; m++)
    if (fn->dims[m] != sh->dims[m])
      return hardy_fail(HARDY_ERR_INPUT,
                        "feature statistics are for %s dimension %d, the data has "
                        "%d: they belong to another dataset",
                        hardy_dataset_modality_name(m), fn->dims[m], sh->dims[m]);
  bool zscore = fn->standardize == HARDY_STANDARDIZE_ZSCORE;
  for (int m = 0; m < HARDY_N_MOD; m++) {
    int d = sh->dims[m];
    bool l2 = m == TEXT && fn->l2_normalize == HARDY_L2_TEXT;
    if (!l2 && !zscore)
      continue;
    double *inv = hardy_malloc((size_t)HARDY_MAX(d, 1) * sizeof(double), "feature scales");
    if (!inv)
      return HARDY_ERR_RUNTIME;
    for (int j = 0; j < d; j++)
      inv[j] = hardy_dataset_featnorm_scale(fn, m, j);
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < sh->n_utt; i++) {
      if (sh->present && !sh->present[i * HARDY_N_MOD + m])
        continue;
      float *x = sh->feat[m] + i * d;
      if (l2)
        l2_row(x, d);
      if (zscore)
        for (int j = 0; j < d; j++)
          x[j] = (float)(((double)x[j] - fn->mean[m][j]) / inv[j]);
    }
    free(inv);
  }
  return HARDY_OK;
}

int hardy_dataset_featnorm_badly_scaled(const hardy_featnorm_t *fn, int m, char *why, size_t cap) {
  int bad = 0;
  double worst_mean = 0.0, std_lo = INFINITY, std_hi = 0.0;
  for (int j = 0; j < fn->dims[m]; j++) {
    double mu = fn->mean[m][j], sd = fn->std[m][j];
    bool constant = !(fn->max[m][j] > fn->min[m][j]);
    if (!constant)
      std_lo = fmin(std_lo, sd), std_hi = fmax(std_hi, sd);
    worst_mean = fmax(worst_mean, fabs(mu));
    if (fabs(mu) > 10.0 || (!constant && (sd < 0.01 || sd > 100.0)))
      bad++;
  }
  if (cap) {
    if (std_hi > 0)
      snprintf(why, cap,
               "%d of %d dimensions have |mean| > 10 or std outside [0.01, 100] "
               "(largest |mean| %.3g, std %.3g to %.3g)",
               bad, fn->dims[m], worst_mean, std_lo, std_hi);
    else
      snprintf(why, cap,
               "%d of %d dimensions have |mean| > 10 (largest %.3g; every dimension "
               "is constant)",
               bad, fn->dims[m], worst_mean);
  }
  return fn->count[m] ? bad : 0;
}

void hardy_dataset_featnorm_pooled(const hardy_featnorm_t *fn, int m, double *mean, double *std) {
  int d = fn->dims[m];
  double mu = 0.0, var = 0.0;
  for (int j = 0; j < d; j++)
    mu += fn->mean[m][j];
  mu = d ? mu / d : 0.0;
  /* every dimension has the same row count: the pooled variance is the mean of the
   * per-dimension variances plus the variance of the means */
  for (int j = 0; j < d; j++) {
    double dm = fn->mean[m][j] - mu;
    var += fn->std[m][j] * fn->std[m][j] + dm * dm;
  }
  *mean = mu;
  *std = d ? sqrt(var / d) : 0.0;
}

/* ---- JSON form -------------------------------------------------------------------------- */

/* cJSON prints a double with 15 digits when that reads back within an epsilon, which is not
 * exact: the numbers go in as raw text with 17 significant digits, which strtod reads back
 * bit for bit. */
static cJSON *array_json(const double *v, int n) {
  cJSON *a = cJSON_CreateArray();
  for (int j = 0; a && j < n; j++) {
    char text[32];
    snprintf(text, sizeof text, "%.17g", v[j]);
    cJSON_AddItemToArray(a, cJSON_CreateRaw(text));
  }
  return a;
}

char *hardy_dataset_featnorm_to_json(const hardy_featnorm_t *fn) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "standardize",
                          fn->standardize == HARDY_STANDARDIZE_ZSCORE ? "zscore" : "none");
  cJSON_AddStringToObject(o, "l2_normalize", fn->l2_normalize == HARDY_L2_TEXT ? "text" : "none");
  cJSON *mods = cJSON_AddObjectToObject(o, "modalities");
  for (int m = 0; m < HARDY_N_MOD; m++) {
    cJSON *mo = cJSON_AddObjectToObject(mods, hardy_dataset_modality_name(m));
    cJSON_AddNumberToObject(mo, "dim", fn->dims[m]);
    cJSON_AddNumberToObject(mo, "count", (double)fn->count[m]);
    cJSON_AddItemToObject(mo, "mean", array_json(fn->mean[m], fn->dims[m]));
    cJSON_AddItemToObject(mo, "std", array_json(fn->std[m], fn->dims[m]));
    cJSON_AddItemToObject(mo, "min", array_json(fn->min[m], fn->dims[m]));
    cJSON_AddItemToObject(mo, "max", array_json(fn->max[m], fn->dims[m]));
  }
  char *text = cJSON_PrintUnformatted(o);
  cJSON_Delete(o);
  if (!text)
    hardy_fail(HARDY_ERR_RUNTIME, "out of memory writing feature statistics");
  return text;
}

static int array_from_json(const cJSON *mo, const char *key, double *out, int n, const char *origin,
                           const char *mod) {
  const cJSON *a = cJSON_GetObjectItemCaseSensitive(mo, key);
  if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != n)
    return hardy_fail(HARDY_ERR_INPUT,
                      "%s: feature statistics of %s: '%s' must be an array of %d "
                      "numbers",
                      origin, mod, key, n);
  int j = 0;
  const cJSON *v;
  cJSON_ArrayForEach(v, a) {
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
      return hardy_fail(HARDY_ERR_INPUT,
                        "%s: feature statistics of %s: %s[%d] is not a finite "
                        "number",
                        origin, mod, key, j);
    out[j++] = v->valuedouble;
  }
  return HARDY_OK;
}

static int from_json(hardy_featnorm_t *fn, const cJSON *o, const int dims[HARDY_N_MOD],
                     const char *origin) {
  const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, "standardize");
  const cJSON *l = cJSON_GetObjectItemCaseSensitive(o, "l2_normalize");
  const cJSON *mods = cJSON_GetObjectItemCaseSensitive(o, "modalities");
  if (!cJSON_IsString(s) || !cJSON_IsString(l) || !cJSON_IsObject(mods) ||
      (strcmp(s->valuestring, "zscore") && strcmp(s->valuestring, "none")) ||
      (strcmp(l->valuestring, "text") && strcmp(l->valuestring, "none")))
    return hardy_fail(HARDY_ERR_INPUT,
                      "%s: feature statistics lack 'standardize' (zscore|none), "
                      "'l2_normalize' (none|text) or 'modalities'",
                      origin);
  HARDY_CHECK(hardy_dataset_featnorm_init(
      fn, dims,
      strcmp(s->valuestring, "zscore") ? HARDY_STANDARDIZE_NONE : HARDY_STANDARDIZE_ZSCORE,
      strcmp(l->valuestring, "text") ? HARDY_L2_NONE : HARDY_L2_TEXT));
  for (int m = 0; m < HARDY_N_MOD; m++) {
    const char *name = hardy_dataset_modality_name(m);
    const cJSON *mo = cJSON_GetObjectItemCaseSensitive(mods, name);
    const cJSON *dim = cJSON_GetObjectItemCaseSensitive(mo, "dim");
    const cJSON *count = cJSON_GetObjectItemCaseSensitive(mo, "count");
    if (!cJSON_IsNumber(dim) || !cJSON_IsNumber(count) || count->valuedouble < 0)
      return hardy_fail(HARDY_ERR_INPUT, "%s: feature statistics of %s lack 'dim' or 'count'",
                        origin, name);
    if (dim->valueint != dims[m])
      return hardy_fail(HARDY_ERR_INPUT,
                        "%s: feature statistics are for %s dimension %d, the "
                        "data has %d: evaluate with the dataset the model was trained on",
                        origin, name, dim->valueint, dims[m]);
    fn->count[m] = (int64_t)count->valuedouble;
    HARDY_CHECK(array_from_json(mo, "mean", fn->mean[m], dims[m], origin, name));
    HARDY_CHECK(array_from_json(mo, "std", fn->std[m], dims[m], origin, name));
    HARDY_CHECK(array_from_json(mo, "min", fn->min[m], dims[m], origin, name));
    HARDY_CHECK(array_from_json(mo, "max", fn->max[m], dims[m], origin, name));
    for (int j = 0; j < dims[m]; j++) {
      if (fn->std[m][j] < 0)
        return hardy_fail(HARDY_ERR_INPUT,
                          "%s: feature statistics of %s: std[%d] = %g is "
                          "negative",
                          origin, name, j, fn->std[m][j]);
      fn->m2[m][j] = fn->std[m][j] * fn->std[m][j] * (double)fn->count[m];
    }
  }
  return HARDY_OK;
}

int hardy_dataset_featnorm_from_json(hardy_featnorm_t *fn, const char *text,
                                     const int dims[HARDY_N_MOD], const char *origin) {
  memset(fn, 0, sizeof *fn);
  cJSON *o = cJSON_Parse(text ? text : "");
  if (!cJSON_IsObject(o)) {
    cJSON_Delete(o);
    return hardy_fail(HARDY_ERR_INPUT, "%s: feature statistics are not a JSON object", origin);
  }
  int rc = from_json(fn, o, dims, origin);
  cJSON_Delete(o);
  if (rc < 0)
    hardy_dataset_featnorm_free(fn);
  return rc;
}

/* |a - b| relative to the larger magnitude, or to `floor` when that is larger (a mean near 0
 * is compared on the scale of its dimension's std). */
static double rel_diff(double a, double b, double floor) {
  double scale = fmax(fmax(fabs(a), fabs(b)), floor);
  return scale > 0 ? fabs(a - b) / scale : 0.0;
}

double hardy_dataset_featnorm_diff(const hardy_featnorm_t *a, const hardy_featnorm_t *b) {
  if (a->standardize != b->standardize || a->l2_normalize != b->l2_normalize)
    return INFINITY;
  double worst = 0.0;
  for (int m = 0; m < HARDY_N_MOD; m++) {
    if (a->dims[m] != b->dims[m] || a->count[m] != b->count[m])
      return INFINITY;
    for (int j = 0; j < a->dims[m]; j++) {
      worst = fmax(worst, rel_diff(a->mean[m][j], b->mean[m][j], a->std[m][j]));
      worst = fmax(worst, rel_diff(a->std[m][j], b->std[m][j], 0.0));
    }
  }
  return worst;
}
