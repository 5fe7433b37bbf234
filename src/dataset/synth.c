/* The synthetic data generator: dialogue tables and the latent-variable model of synth.h, and
 * the collective writer that streams it into a hardy-mer file chunk by chunk. Rows are pure
 * functions of (parameters, global row id), so any rank can make any row. */
#include "hardy/synth.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "h5/h5.h"
#include "hardy/common.h"
#include "hardy/log.h"
#include "hardy/rng.h"

void hardy_synth_defaults(hardy_synth_params_t *p) {
  memset(p, 0, sizeof *p);
  p->n_utt = 5000;
  p->dims[0] = 512;
  p->dims[1] = 1024;
  p->dims[2] = 1024;
  p->num_classes = 4;
  p->task = HARDY_TASK_CLASSIFICATION;
  p->folds = 5;
  p->seed = 1;
  p->shape = HARDY_SHAPE_IEMOCAP;
  p->latent_dim = 32;
  p->strength[0] = 0.7f;
  p->strength[1] = 1.0f;
  p->strength[2] = 0.45f;
  p->sigma = 0.3f;
  p->scale = 1.0f;
  p->offset = 0.0f;
  p->chunk_rows = 4096;
}

int hardy_synth_check(const hardy_synth_params_t *p) {
  if (!p->out[0]) return hardy_fail(HARDY_ERR_INPUT, "synth: --out FILE is required");
  if (p->n_utt < 1 || p->n_utt > (1ll << 40))
    return hardy_fail(HARDY_ERR_INPUT, "synth: --utterances %lld must be in [1, 2^40]",
                      (long long)p->n_utt);
  for (int m = 0; m < HARDY_N_MOD; m++)
    if (p->dims[m] < 1 || p->dims[m] > 65536)
      return hardy_fail(HARDY_ERR_INPUT, "synth: --dims %s width %d must be in [1, 65536]",
                        hardy_dataset_modality_name(m), p->dims[m]);
  if (p->num_classes < 2 || p->num_classes > HARDY_MAX_CLASSES)
    return hardy_fail(HARDY_ERR_INPUT, "synth: --classes %d must be in [2, %d]", p->num_classes,
                      HARDY_MAX_CLASSES);
  if (p->folds < 0 || p->folds > 1000)
    return hardy_fail(HARDY_ERR_INPUT, "synth: --folds %d must be in [0, 1000]", p->folds);
  if (p->latent_dim < 1 || p->latent_dim > HARDY_SYNTH_MAX_LATENT)
    return hardy_fail(HARDY_ERR_INPUT, "synth: --latent-dim %d must be in [1, %d]", p->latent_dim,
                      HARDY_SYNTH_MAX_LATENT);
  for (int m = 0; m < HARDY_N_MOD; m++)
    if (!(p->strength[m] >= 0.0f && p->strength[m] <= 10.0f))
      return hardy_fail(HARDY_ERR_INPUT, "synth: --strength for %s = %g must be in [0, 10]",
                        hardy_dataset_modality_name(m), (double)p->strength[m]);
  if (!(p->sigma >= 0.0f && p->sigma <= 10.0f))
    return hardy_fail(HARDY_ERR_INPUT, "synth: --sigma %g must be in [0, 10]", (double)p->sigma);
  if (!(fabsf(p->scale) <= 1e6f && fabsf(p->offset) <= 1e6f))
    return hardy_fail(HARDY_ERR_INPUT, "synth: --scale %g and --offset %g must be finite and at "
                      "most 1e6 in magnitude", (double)p->scale, (double)p->offset);
  if (p->chunk_rows < 1 || p->chunk_rows > (1 << 20))
    return hardy_fail(HARDY_ERR_INPUT, "synth: --chunk-rows %lld must be in [1, 1048576]",
                      (long long)p->chunk_rows);
  return HARDY_OK;
}

/* ---- dialogue tables -------------------------------------------------------------------- */

typedef struct {
  double log_median, log_sd;
  int64_t min_len, max_len;
} length_law_t;

/* IEMOCAP conversations: mean about 37 utterances, 8..110. MOSEI videos: mean about 7, 1..30. */
static length_law_t length_law(int shape) {
  if (shape == HARDY_SHAPE_MOSEI) return (length_law_t){log(5.5), 0.7, 1, 30};
  return (length_law_t){log(33.0), 0.5, 8, 110};
}

static int build_dialogues(hardy_synth_t *s) {
  const hardy_synth_params_t *p = &s->p;
  length_law_t law = length_law(p->shape);
  uint64_t key = hardy_rng_key(p->seed, HARDY_RNG_SYNTH_SHAPE);
  int64_t cap = p->n_utt / law.min_len + 2, n_dlg = 0, total = 0;
  s->offset = hardy_malloc((size_t)(cap + 1) * sizeof *s->offset, "synthetic dialogue offsets");
  if (!s->offset) return HARDY_ERR_RUNTIME;
  s->offset[0] = 0;
  while (total < p->n_utt) {
    float z[2];
    hardy_rng_normal2(key, (uint64_t)n_dlg, 0, z);
    int64_t len = llround(exp(law.log_median + law.log_sd * z[0]));
    len = HARDY_MAX(law.min_len, HARDY_MIN(law.max_len, len));
    if (len > p->n_utt - total) {
      len = p->n_utt - total;
      /* A short remainder joins the previous dialogue when that stays within the law. */
      if (len < law.min_len && n_dlg > 0 &&
          s->offset[n_dlg] - s->offset[n_dlg - 1] + len <= law.max_len) {
        s->offset[n_dlg] += len;
        break;
      }
    }
    total += len;
    s->offset[++n_dlg] = total;
  }
  s->n_dialogue = n_dlg;
  s->split = hardy_malloc((size_t)n_dlg * sizeof *s->split, "synthetic splits");
  s->fold = hardy_malloc((size_t)n_dlg * sizeof *s->fold, "synthetic folds");
  if (!s->split || !s->fold) return HARDY_ERR_RUNTIME;
  int64_t count[3] = {0, 0, 0};
  for (int64_t d = 0; d < n_dlg; d++) {
    double u = hardy_rng_uniform(key, (uint64_t)d, 1);
    s->split[d] = (int8_t)(u < 0.7 ? HARDY_SPLIT_TRAIN : u < 0.8 ? HARDY_SPLIT_VAL : HARDY_SPLIT_TEST);
    count[s->split[d]]++;
    /* Round-robin folds 1..F, like IEMOCAP sessions but interleaved through the file. */
    s->fold[d] = p->folds > 0 ? (int32_t)(1 + d % p->folds) : -1;
  }
  /* Small files: make sure every split that can exist does. */
  if (n_dlg >= 2 && (!count[0] || !count[2] || (n_dlg >= 3 && !count[1]))) {
    s->split[0] = HARDY_SPLIT_TRAIN;
    s->split[n_dlg - 1] = HARDY_SPLIT_TEST;
    if (n_dlg >= 3) s->split[(n_dlg - 1) / 2] = HARDY_SPLIT_VAL;
  }
  return HARDY_OK;
}

/* ---- the model -------------------------------------------------------------------------- */

int hardy_synth_init(hardy_synth_t *s, const hardy_synth_params_t *p) {
  memset(s, 0, sizeof *s);
  s->p = *p;
  HARDY_CHECK(hardy_synth_check(p));
  int rc = build_dialogues(s);
  int64_t k = p->latent_dim;
  uint64_t key_proj = hardy_rng_key(p->seed, HARDY_RNG_SYNTH_PROJ);
  s->key_label = hardy_rng_key(p->seed, HARDY_RNG_SYNTH_LABEL);
  s->key_latent = hardy_rng_key(p->seed, HARDY_RNG_SYNTH_LATENT);
  uint64_t key_feature = hardy_rng_key(p->seed, HARDY_RNG_SYNTH_FEATURE);
  s->class_mean = hardy_malloc((size_t)(p->num_classes * k) * sizeof(float), "class means");
  s->reg_w = hardy_malloc((size_t)k * sizeof(float), "regression weights");
  if (rc == HARDY_OK && (!s->class_mean || !s->reg_w)) rc = HARDY_ERR_RUNTIME;
  for (int m = 0; m < HARDY_N_MOD && rc == HARDY_OK; m++) {
    s->key_private[m] = hardy_rng_key(s->key_latent, (uint64_t)m + 1);
    s->key_noise[m] = hardy_rng_key(key_feature, (uint64_t)m + 1);
    int64_t n = k * p->dims[m];
    s->proj[m] = hardy_malloc((size_t)n * sizeof(float), "projection matrix");
    if (!s->proj[m]) {
      rc = HARDY_ERR_RUNTIME;
      break;
    }
    hardy_rng_normal_fill(key_proj, (uint64_t)m, s->proj[m], n);
    float scale = 1.0f / sqrtf((float)k); /* keeps P^T l at O(1) whatever K is */
    for (int64_t i = 0; i < n; i++) s->proj[m][i] *= scale;
  }
  if (rc == HARDY_OK) {
    /* Class means use stream ids above every utterance id, so they never share a counter. */
    for (int c = 0; c < p->num_classes; c++)
      hardy_rng_normal_fill(s->key_latent, (1ull << 62) + (uint64_t)c, s->class_mean + c * k, k);
    hardy_rng_normal_fill(key_proj, HARDY_N_MOD, s->reg_w, k);
    double norm = 0;
    for (int64_t j = 0; j < k; j++) norm += (double)s->reg_w[j] * s->reg_w[j];
    for (int64_t j = 0; j < k; j++) s->reg_w[j] = (float)(s->reg_w[j] / sqrt(norm));
  }
  if (rc < 0) hardy_synth_free(s);
  return rc;
}

void hardy_synth_free(hardy_synth_t *s) {
  if (!s) return;
  free(s->offset);
  free(s->split);
  free(s->fold);
  free(s->class_mean);
  free(s->reg_w);
  for (int m = 0; m < HARDY_N_MOD; m++) free(s->proj[m]);
  memset(s, 0, sizeof *s);
}

/* Class of utterance i given the previous utterance's class (-1 at a dialogue start). */
static int32_t next_label(const hardy_synth_t *s, int64_t i, int32_t prev) {
  if (prev >= 0 && hardy_rng_uniform(s->key_label, (uint64_t)i, 0) < 0.5) return prev;
  return (int32_t)hardy_rng_below(s->key_label, (uint64_t)i, 1, (uint64_t)s->p.num_classes);
}

/* Beta(2, 3): the second smallest of four uniforms (one Philox block). */
static float planted_hardness(const hardy_synth_t *s, int64_t i) {
  hardy_rng4_t r = hardy_philox(s->key_label, (uint64_t)i, 3);
  float u[4] = {hardy_u01(r.v[0]), hardy_u01(r.v[1]), hardy_u01(r.v[2]), hardy_u01(r.v[3])};
  for (int a = 1; a < 4; a++)
    for (int b = a; b > 0 && u[b] < u[b - 1]; b--) {
      float t = u[b];
      u[b] = u[b - 1];
      u[b - 1] = t;
    }
  return u[1];
}

/* Four standard normals for columns 4j..4j+3 of row i (float Box-Muller on one Philox block:
 * twice as many normals per block as hardy_rng_normal2, which matters at 10^10 values). */
static inline void noise4(uint64_t key, int64_t i, int64_t j, float out[4]) {
  hardy_rng4_t r = hardy_philox(key, (uint64_t)i, (uint64_t)j);
  for (int h = 0; h < 2; h++) {
    float u1 = 1.0f - hardy_u01(r.v[2 * h]), u2 = hardy_u01(r.v[2 * h + 1]);
    float rad = sqrtf(-2.0f * logf(u1)), ang = 6.283185307179586f * u2;
    out[2 * h] = rad * cosf(ang);
    out[2 * h + 1] = rad * sinf(ang);
  }
}

/* tanh as a [13/6] rational function on [-7.99881, 7.99881] (the minimax fit used by Eigen),
 * within a few float ulps of tanhf. Plain arithmetic, so the feature loop vectorises; libm's
 * tanhf was 40% of the generator's time. Tests compare it with tanhf. */
static inline float synth_tanh(float x) {
  const float clamp = 7.99881172180175781f;
  x = x < -clamp ? -clamp : x > clamp ? clamp : x;
  float x2 = x * x;
  float p = x2 * -2.76076847742355e-16f + 2.00018790482477e-13f;
  p = p * x2 + -8.60467152213735e-11f;
  p = p * x2 + 5.12229709037114e-08f;
  p = p * x2 + 1.48572235717979e-05f;
  p = p * x2 + 6.37261928875436e-04f;
  p = p * x2 + 4.89352455891786e-03f;
  p = p * x;
  float q = x2 * 1.19825839466702e-06f + 1.18534705686654e-04f;
  q = q * x2 + 2.26843463243900e-03f;
  q = q * x2 + 4.89352518554385e-03f;
  return p / q;
}

float hardy_synth_tanh(float x) { return synth_tanh(x); }

/* n standard normals for stream (key, i), four per Philox block. */
static inline void normal_fill4(uint64_t key, int64_t i, float *out, int64_t n) {
  for (int64_t j = 0; j < n; j += 4) {
    float z[4];
    noise4(key, i, j / 4, z);
    for (int64_t q = 0; q < 4 && j + q < n; q++) out[j + q] = z[q];
  }
}

/* One modality of one row: x = tanh(P^T l) + sigma * noise. */
static void modality_row(const hardy_synth_t *s, int m, int64_t i, const float *l, float *x) {
  int64_t k = s->p.latent_dim, dim = s->p.dims[m];
  const float *proj = s->proj[m];
  for (int64_t c = 0; c < dim; c++) x[c] = 0.0f;
  for (int64_t a = 0; a < k; a++) {
    const float *row = proj + a * dim;
    float la = l[a];
#pragma omp simd
    for (int64_t c = 0; c < dim; c++) x[c] += la * row[c];
  }
#pragma omp simd
  for (int64_t c = 0; c < dim; c++) x[c] = synth_tanh(x[c]);
  float sigma = s->p.sigma;
  for (int64_t c = 0; c < dim; c += 4) {
    float eps[4];
    noise4(s->key_noise[m], i, c / 4, eps);
    for (int64_t q = 0; q < 4 && c + q < dim; q++) x[c + q] += sigma * eps[q];
  }
  if (s->p.scale != 1.0f || s->p.offset != 0.0f) /* the default leaves the bytes untouched */
    for (int64_t c = 0; c < dim; c++) x[c] = x[c] * s->p.scale + s->p.offset;
}

int hardy_synth_rows(const hardy_synth_t *s, int64_t first, int64_t count,
                     float *const feat[HARDY_N_MOD], int32_t *label, float *target,
                     int32_t *speaker, float *planted, float *latent) {
  if (count <= 0) return HARDY_OK;
  const hardy_synth_params_t *p = &s->p;
  int64_t k = p->latent_dim;
  /* Labels depend on the previous utterance of the dialogue: one serial pass, replayed from
   * the start of the first row's dialogue so a chunk boundary changes nothing. */
  int32_t *cls = hardy_malloc((size_t)count * sizeof *cls, "synthetic labels");
  if (!cls) return HARDY_ERR_RUNTIME;
  int64_t d = hardy_dataset_dialogue_of(s->offset, s->n_dialogue, first);
  int32_t prev = -1;
  for (int64_t i = s->offset[d]; i < first; i++) prev = next_label(s, i, i == s->offset[d] ? -1 : prev);
  for (int64_t r = 0; r < count; r++) {
    int64_t i = first + r;
    while (s->offset[d + 1] <= i) d++;
    bool start = i == s->offset[d];
    cls[r] = prev = next_label(s, i, start ? -1 : prev);
    if (speaker) {
      int64_t pos = i - s->offset[d];
      int flip = hardy_rng_uniform(s->key_label, (uint64_t)i, 2) < 0.15;
      speaker[r] = (int32_t)((pos + flip) % 2);
    }
  }
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < count; r++) {
    int64_t i = first + r;
    float u[HARDY_SYNTH_MAX_LATENT], e[HARDY_SYNTH_MAX_LATENT], l[HARDY_SYNTH_MAX_LATENT];
    float h = planted_hardness(s, i);
    normal_fill4(s->key_latent, i, u, k);
    const float *mu = s->class_mean + cls[r] * k;
    for (int64_t a = 0; a < k; a++) u[a] = mu[a] + 0.5f * u[a];
    for (int m = 0; m < HARDY_N_MOD; m++) {
      if (!feat || !feat[m]) continue;
      normal_fill4(s->key_private[m], i, e, k);
      float sm = p->strength[m];
      for (int64_t a = 0; a < k; a++) l[a] = sm * ((1.0f - h) * u[a] + h * e[a]);
      modality_row(s, m, i, l, feat[m] + r * p->dims[m]);
    }
    if (label) label[r] = cls[r];
    if (planted) planted[r] = h;
    if (latent) memcpy(latent + r * k, u, (size_t)k * sizeof(float));
    if (target) {
      float dot = 0.0f, z[2];
      for (int64_t a = 0; a < k; a++) dot += s->reg_w[a] * u[a];
      hardy_rng_normal2(s->key_label, (uint64_t)i, 4, z);
      float score = 1.5f * dot + 0.3f * z[0];
      target[r] = score < -3.0f ? -3.0f : score > 3.0f ? 3.0f : score;
    }
  }
  free(cls);
  return HARDY_OK;
}

/* ---- the collective writer -------------------------------------------------------------- */

typedef struct {
  hid_t file, dxpl;
  hid_t feat[HARDY_N_MOD], label, speaker, planted;
} out_file_t;

static void out_close(out_file_t *f) {
  hid_t *ids[] = {&f->feat[0], &f->feat[1], &f->feat[2], &f->label, &f->speaker, &f->planted};
  for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++)
    if (*ids[i] >= 0) H5Dclose(*ids[i]);
  if (f->dxpl >= 0) H5Pclose(f->dxpl);
  if (f->file >= 0) H5Fclose(f->file);
}

/* A dataset of n rows (width 0: rank 1) chunked along rows. Storage is allocated at creation
 * and never filled: every row is written exactly once, and filling 100 GB first would double
 * the I/O. */
static hid_t create_rows(hid_t file, const char *h5path, hid_t type, int64_t n, int64_t width,
                         int64_t chunk_rows) {
  int rank = width > 0 ? 2 : 1;
  hsize_t dims[2] = {(hsize_t)n, (hsize_t)width};
  hsize_t chunk[2] = {(hsize_t)HARDY_MIN(chunk_rows, n), (hsize_t)width};
  hid_t space = H5Screate_simple(rank, dims, NULL), dcpl = H5Pcreate(H5P_DATASET_CREATE);
  hid_t dset = -1;
  if (space >= 0 && dcpl >= 0 && H5Pset_chunk(dcpl, rank, chunk) >= 0 &&
      H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER) >= 0 &&
      H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY) >= 0)
    dset = H5Dcreate2(file, h5path, type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  if (dcpl >= 0) H5Pclose(dcpl);
  if (space >= 0) H5Sclose(space);
  return dset;
}

/* Collective: create the file and its per-utterance datasets. */
static int out_create(const hardy_synth_t *s, const char *tmp, int64_t chunk_rows, MPI_Comm comm,
                      out_file_t *f) {
  f->file = f->dxpl = f->label = f->speaker = f->planted = -1;
  for (int m = 0; m < HARDY_N_MOD; m++) f->feat[m] = -1;
  hid_t fapl = hardy_h5_fapl_mpio(comm);
  f->file = fapl >= 0 ? H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl) : -1;
  if (fapl >= 0) H5Pclose(fapl);
  int rc = f->file < 0 ? hardy_h5_fail(HARDY_ERR_RUNTIME, tmp, "cannot create the output file")
                       : HARDY_OK;
  rc = hardy_agree(rc, comm);
  if (rc < 0) {
    if (f->file >= 0) H5Fclose(f->file);
    return rc;
  }
  const char *groups[] = {"/features", "/utterance", "/dialogue"};
  for (int g = 0; g < 3 && rc == HARDY_OK; g++) {
    hid_t gid = H5Gcreate2(f->file, groups[g], H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (gid < 0) rc = hardy_h5_fail(HARDY_ERR_RUNTIME, tmp, "cannot create a group");
    else H5Gclose(gid);
  }
  int64_t n = s->p.n_utt;
  for (int m = 0; m < HARDY_N_MOD && rc == HARDY_OK; m++)
    if ((f->feat[m] = create_rows(f->file, hardy_dataset_feature_path(m), H5T_IEEE_F32LE, n,
                                  s->p.dims[m], chunk_rows)) < 0)
      rc = hardy_h5_fail(HARDY_ERR_RUNTIME, tmp, "cannot create a feature dataset");
  bool cls = s->p.task == HARDY_TASK_CLASSIFICATION;
  if (rc == HARDY_OK &&
      ((f->label = create_rows(f->file, "/utterance/label", cls ? H5T_STD_I32LE : H5T_IEEE_F32LE,
                               n, 0, chunk_rows)) < 0 ||
       (f->speaker = create_rows(f->file, "/utterance/speaker", H5T_STD_I32LE, n, 0,
                                 chunk_rows)) < 0 ||
       (f->planted = create_rows(f->file, "/utterance/planted_hardness", H5T_IEEE_F32LE, n, 0,
                                 chunk_rows)) < 0))
    rc = hardy_h5_fail(HARDY_ERR_RUNTIME, tmp, "cannot create an utterance dataset");
  if (rc == HARDY_OK && (f->dxpl = hardy_h5_dxpl_collective()) < 0)
    rc = hardy_h5_fail(HARDY_ERR_RUNTIME, tmp, "MPI-IO transfer setup failed");
  rc = hardy_agree(rc, comm);
  if (rc < 0) out_close(f);
  return rc;
}

typedef struct {
  float *feat[HARDY_N_MOD]; /* [chunk_rows, dims[m]] */
  int32_t *label;           /* [chunk_rows] */
  float *target;            /* [chunk_rows] */
  int32_t *speaker;         /* [chunk_rows] */
  float *planted;           /* [chunk_rows] */
} chunk_buf_t;

static void chunk_free(chunk_buf_t *b) {
  for (int m = 0; m < HARDY_N_MOD; m++) free(b->feat[m]);
  free(b->label);
  free(b->target);
  free(b->speaker);
  free(b->planted);
}

static int chunk_alloc(const hardy_synth_t *s, int64_t rows, chunk_buf_t *b) {
  memset(b, 0, sizeof *b);
  bool ok = true;
  for (int m = 0; m < HARDY_N_MOD; m++)
    ok &= (b->feat[m] = hardy_malloc((size_t)(rows * s->p.dims[m]) * sizeof(float),
                                     "synthetic feature chunk")) != NULL;
  if (s->p.task == HARDY_TASK_CLASSIFICATION)
    ok &= (b->label = hardy_malloc((size_t)rows * sizeof(int32_t), "label chunk")) != NULL;
  else
    ok &= (b->target = hardy_malloc((size_t)rows * sizeof(float), "target chunk")) != NULL;
  ok &= (b->speaker = hardy_malloc((size_t)rows * sizeof(int32_t), "speaker chunk")) != NULL;
  ok &= (b->planted = hardy_malloc((size_t)rows * sizeof(float), "planted chunk")) != NULL;
  return ok ? HARDY_OK : HARDY_ERR_RUNTIME;
}

static int write_chunk(const hardy_synth_t *s, const out_file_t *f, const chunk_buf_t *b,
                       const hardy_row_range_t *range, int64_t n_ranges, const char *tmp) {
  int rc = HARDY_OK;
  for (int m = 0; m < HARDY_N_MOD && rc == HARDY_OK; m++)
    rc = hardy_h5_write_rows(f->feat[m], H5T_NATIVE_FLOAT, f->dxpl, range, n_ranges, b->feat[m],
                             tmp, hardy_dataset_feature_path(m));
  bool cls = s->p.task == HARDY_TASK_CLASSIFICATION;
  if (rc == HARDY_OK)
    rc = hardy_h5_write_rows(f->label, cls ? H5T_NATIVE_INT32 : H5T_NATIVE_FLOAT, f->dxpl, range,
                             n_ranges, cls ? (void *)b->label : (void *)b->target, tmp,
                             "/utterance/label");
  if (rc == HARDY_OK)
    rc = hardy_h5_write_rows(f->speaker, H5T_NATIVE_INT32, f->dxpl, range, n_ranges, b->speaker,
                             tmp, "/utterance/speaker");
  if (rc == HARDY_OK)
    rc = hardy_h5_write_rows(f->planted, H5T_NATIVE_FLOAT, f->dxpl, range, n_ranges, b->planted,
                             tmp, "/utterance/planted_hardness");
  return rc;
}

/* Collective: every rank generates and writes a contiguous run of whole chunks. */
static int write_rows_parallel(const hardy_synth_t *s, const char *tmp, int64_t chunk_rows,
                               MPI_Comm comm) {
  int rank = 0, size = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  int64_t n = s->p.n_utt, n_chunks = (n + chunk_rows - 1) / chunk_rows;
  int64_t c0 = n_chunks * rank / size, c1 = n_chunks * (rank + 1) / size, n_iter = c1 - c0;
  MPI_Allreduce(MPI_IN_PLACE, &n_iter, 1, MPI_INT64_T, MPI_MAX, comm);
  chunk_buf_t b;
  int rc = hardy_agree(chunk_alloc(s, chunk_rows, &b), comm);
  out_file_t f = {.file = -1, .dxpl = -1, .label = -1, .speaker = -1, .planted = -1,
                  .feat = {-1, -1, -1}};
  if (rc == HARDY_OK) rc = out_create(s, tmp, chunk_rows, comm, &f);
  if (rc < 0) {
    chunk_free(&b);
    return rc;
  }
  hardy_progress_t prog;
  hardy_progress_begin(&prog, "synth", n, "utt", 10.0);
  for (int64_t it = 0; it < n_iter && rc == HARDY_OK; it++) {
    int64_t c = c0 + it;
    hardy_row_range_t range = {c * chunk_rows, HARDY_MIN(chunk_rows, n - c * chunk_rows)};
    int64_t n_ranges = c < c1 ? 1 : 0;
    if (n_ranges)
      rc = hardy_synth_rows(s, range.first, range.count, b.feat, b.label, b.target, b.speaker,
                            b.planted, NULL);
    rc = write_chunk(s, &f, &b, &range, rc == HARDY_OK ? n_ranges : 0, tmp);
    rc = hardy_agree(rc, comm);
    hardy_progress_update(&prog, HARDY_MIN(n, (it + 1) * size * chunk_rows), -1, NULL);
  }
  out_close(&f);
  chunk_free(&b);
  rc = hardy_agree(rc, comm);
  if (rc == HARDY_OK) hardy_progress_end(&prog, -1, NULL);
  return rc;
}

/* ---- rank 0: attributes, dialogue tables, names ------------------------------------------ */

static int write_table(hid_t file, const char *h5path, hid_t ftype, hid_t mtype, int64_t n,
                       const void *buf, const char *tmp) {
  hsize_t dims[1] = {(hsize_t)n};
  hid_t space = H5Screate_simple(1, dims, NULL);
  hid_t dset = H5Dcreate2(file, h5path, ftype, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  herr_t err = dset >= 0 ? H5Dwrite(dset, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) : -1;
  if (dset >= 0) H5Dclose(dset);
  H5Sclose(space);
  return err < 0 ? hardy_h5_fail(HARDY_ERR_RUNTIME, tmp, h5path) : HARDY_OK;
}

/* Variable-length names "<prefix><id>" for ids 0..n-1, written in bounded pieces (parallel
 * HDF5 cannot write variable-length data, so this runs on one rank). */
static int write_names(hid_t file, const char *h5path, const char *prefix, int64_t n,
                       const char *tmp) {
  enum { PIECE = 65536, NAME_MAX_LEN = 32 };
  hsize_t dims[1] = {(hsize_t)n}, chunk[1] = {(hsize_t)HARDY_MIN(n, 4096)};
  hid_t type = H5Tcopy(H5T_C_S1);
  H5Tset_size(type, H5T_VARIABLE);
  H5Tset_cset(type, H5T_CSET_UTF8);
  hid_t space = H5Screate_simple(1, dims, NULL), dcpl = H5Pcreate(H5P_DATASET_CREATE);
  H5Pset_chunk(dcpl, 1, chunk);
  hid_t dset = H5Dcreate2(file, h5path, type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  char *text = hardy_malloc(PIECE * NAME_MAX_LEN, "names");
  char **ptrs = hardy_malloc(PIECE * sizeof *ptrs, "names");
  int rc = dset < 0 ? hardy_h5_fail(HARDY_ERR_RUNTIME, tmp, h5path)
           : (!text || !ptrs) ? HARDY_ERR_RUNTIME
                              : HARDY_OK;
  for (int64_t first = 0; first < n && rc == HARDY_OK; first += PIECE) {
    int64_t count = HARDY_MIN(PIECE, n - first);
    for (int64_t i = 0; i < count; i++) {
      ptrs[i] = text + i * NAME_MAX_LEN;
      snprintf(ptrs[i], NAME_MAX_LEN, "%s%lld", prefix, (long long)(first + i));
    }
    hardy_row_range_t range = {first, count};
    rc = hardy_h5_write_rows(dset, type, H5P_DEFAULT, &range, 1, ptrs, tmp, h5path);
  }
  free(text);
  free(ptrs);
  if (dset >= 0) H5Dclose(dset);
  H5Pclose(dcpl);
  H5Sclose(space);
  H5Tclose(type);
  return rc;
}

static const char *shape_name(int shape) { return shape == HARDY_SHAPE_MOSEI ? "mosei" : "iemocap"; }

static int write_attributes(const hardy_synth_t *s, hid_t file) {
  const hardy_synth_params_t *p = &s->p;
  bool cls = p->task == HARDY_TASK_CLASSIFICATION;
  char source[1024];
  snprintf(source, sizeof source,
           "synthetic seed=%llu shape=%s task=%s classes=%d utterances=%lld dims=%d,%d,%d "
           "latent=%d strength=%g,%g,%g sigma=%g folds=%d",
           (unsigned long long)p->seed, shape_name(p->shape), cls ? "classification" : "regression",
           p->num_classes, (long long)p->n_utt, p->dims[0], p->dims[1], p->dims[2], p->latent_dim,
           (double)p->strength[0], (double)p->strength[1], (double)p->strength[2],
           (double)p->sigma, p->folds);
  if (p->scale != 1.0f || p->offset != 0.0f) {
    size_t len = strlen(source);
    snprintf(source + len, sizeof source - len, " scale=%g offset=%g", (double)p->scale,
             (double)p->offset);
  }
  char *mods[HARDY_N_MOD];
  for (int m = 0; m < HARDY_N_MOD; m++) mods[m] = (char *)hardy_dataset_modality_name(m);
  HARDY_CHECK(hardy_h5_write_attr_string(file, "format", "hardy-mer"));
  HARDY_CHECK(hardy_h5_write_attr_long(file, "version", 1));
  HARDY_CHECK(hardy_h5_write_attr_string(file, "task", cls ? "classification" : "regression"));
  HARDY_CHECK(hardy_h5_write_attr_long(file, "num_classes", cls ? p->num_classes : 1));
  HARDY_CHECK(hardy_h5_write_attr_strings(file, "modalities", mods, HARDY_N_MOD));
  HARDY_CHECK(hardy_h5_write_attr_string(file, "source", source));
  if (!cls) return HARDY_OK;
  char (*names)[24] = hardy_malloc((size_t)p->num_classes * sizeof *names, "class names");
  char **ptrs = hardy_malloc((size_t)p->num_classes * sizeof *ptrs, "class names");
  int rc = names && ptrs ? HARDY_OK : HARDY_ERR_RUNTIME;
  for (int c = 0; rc == HARDY_OK && c < p->num_classes; c++) {
    snprintf(names[c], sizeof names[c], "class%d", c);
    ptrs[c] = names[c];
  }
  if (rc == HARDY_OK) rc = hardy_h5_write_attr_strings(file, "class_names", ptrs, p->num_classes);
  free(names);
  free(ptrs);
  return rc;
}

static int write_metadata(const hardy_synth_t *s, const char *tmp) {
  hid_t file = H5Fopen(tmp, H5F_ACC_RDWR, H5P_DEFAULT);
  if (file < 0) return hardy_h5_fail(HARDY_ERR_RUNTIME, tmp, "cannot reopen for the metadata");
  int64_t n_dlg = s->n_dialogue;
  int rc = write_attributes(s, file);
  if (rc == HARDY_OK)
    rc = write_table(file, "/dialogue/offset", H5T_STD_I64LE, H5T_NATIVE_INT64, n_dlg + 1,
                     s->offset, tmp);
  if (rc == HARDY_OK)
    rc = write_table(file, "/dialogue/split", H5T_STD_I8LE, H5T_NATIVE_INT8, n_dlg, s->split, tmp);
  if (rc == HARDY_OK)
    rc = write_table(file, "/dialogue/fold", H5T_STD_I32LE, H5T_NATIVE_INT32, n_dlg, s->fold, tmp);
  if (rc == HARDY_OK) rc = write_names(file, "/dialogue/name", "dlg_", n_dlg, tmp);
  if (rc == HARDY_OK) rc = write_names(file, "/utterance/name", "utt_", s->p.n_utt, tmp);
  if (H5Fclose(file) < 0 && rc == HARDY_OK)
    rc = hardy_h5_fail(HARDY_ERR_RUNTIME, tmp, "closing the file failed");
  return rc;
}

int hardy_synth_write(const hardy_synth_params_t *p, MPI_Comm comm) {
  hardy_h5_quiet();
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  hardy_synth_t s;
  int rc = hardy_agree(hardy_synth_init(&s, p), comm);
  if (rc < 0) return rc;
  char tmp[HARDY_PATH_MAX + 8];
  snprintf(tmp, sizeof tmp, "%s.tmp", p->out);
  /* HDF5 chunks of at most 64 MB, so that huge widths still give sane chunks. */
  int64_t widest = HARDY_MAX(p->dims[0], HARDY_MAX(p->dims[1], p->dims[2]));
  int64_t chunk_rows = HARDY_MIN(p->chunk_rows, p->n_utt);
  chunk_rows = HARDY_MAX(1, HARDY_MIN(chunk_rows, (16ll << 20) / widest));
  rc = write_rows_parallel(&s, tmp, chunk_rows, comm);
  if (rc == HARDY_OK && rank == 0) {
    rc = write_metadata(&s, tmp);
    if (rc == HARDY_OK && rename(tmp, p->out) != 0)
      rc = hardy_fail(HARDY_ERR_RUNTIME, "%s: cannot rename %s to it", p->out, tmp);
  }
  rc = hardy_agree(rc, comm);
  if (rc < 0 && rank == 0) remove(tmp);
  hardy_synth_free(&s);
  return rc;
}
