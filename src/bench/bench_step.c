/* `hardy-hpc bench step`: utterances/s of a full stage-2 training step (zero gradients,
 * forward + backward, Adam) of the backbone at the published sizes (H 256, depth 4, heads 2,
 * MLP ratio 1, dims 512/1024/1024, 4 classes, 16 dialogues of 30-44 utterances), per missing
 * condition and thread count, beside the sgemm peak measured in the same run. FLOP counts are
 * the GEMM and attention work actually executed (after skipping absent experts, padding and
 * unneeded decoder blocks) and the dense-equivalent work of the unskipped model, which is what
 * a padded PyTorch implementation computes. bench/step.sh runs it beside bench/torch_twin.py.
 * Every rank runs its own model (no communication): the per-rank step speed. */
#include <cblas.h>
#include <cjson/cJSON.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "hardy/bench.h"
#include "hardy/blas.h"
#include "hardy/cli.h"
#include "hardy/common.h"
#include "hardy/log.h"
#include "hardy/model.h"
#include "hardy/nn.h"
#include "hardy/rng.h"

typedef struct {
  int B, L, real;
  float *x[3];
  uint8_t *avail;
  int32_t *label;
  float *w;
  int64_t *utt;
  int len[64];
} step_batch_t;

static int batch_make(step_batch_t *sb, const hardy_model_cfg_t *c, int B, unsigned pattern) {
  memset(sb, 0, sizeof *sb);
  sb->B = B;
  for (int d = 0; d < B; d++) {
    sb->len[d] = 30 + (d * 7) % 15; /* 30..44, mean ~37 as IEMOCAP */
    sb->L = HARDY_MAX(sb->L, sb->len[d]);
    sb->real += sb->len[d];
  }
  size_t N = (size_t)B * sb->L;
  uint64_t key = hardy_rng_key(7, HARDY_RNG_TEST_DATA);
  for (int m = 0; m < 3; m++) {
    sb->x[m] = hardy_aligned_alloc(N * c->dims[m] * sizeof(float), "bench features");
    if (!sb->x[m])
      return HARDY_ERR_RUNTIME;
    hardy_rng_normal_fill(key, (uint64_t)m, sb->x[m], (int64_t)(N * c->dims[m]));
  }
  sb->avail = hardy_calloc(N, 1, "bench avail");
  sb->label = hardy_calloc(N, sizeof(int32_t), "bench labels");
  sb->w = hardy_calloc(N, sizeof(float), "bench weights");
  sb->utt = hardy_calloc(N, sizeof(int64_t), "bench ids");
  if (!sb->avail || !sb->label || !sb->w || !sb->utt)
    return HARDY_ERR_RUNTIME;
  for (int d = 0; d < B; d++)
    for (int t = 0; t < sb->L; t++) {
      size_t r = (size_t)d * sb->L + t;
      sb->utt[r] = t < sb->len[d] ? (int64_t)d * 1000 + t : -1;
      if (t >= sb->len[d])
        continue;
      sb->avail[r] = (uint8_t)pattern;
      sb->label[r] = (int32_t)(r % (size_t)c->n_out);
      sb->w[r] = 1.0f / (float)sb->real;
    }
  return HARDY_OK;
}

static void batch_free(step_batch_t *sb) {
  for (int m = 0; m < 3; m++)
    free(sb->x[m]);
  free(sb->avail), free(sb->label), free(sb->w), free(sb->utt);
}

/* FLOPs of one training step: every linear layer costs 2 rows in out for the forward, the
 * same again for dW and for din (not for the input projections, whose input needs no
 * gradient); attention 2 products of 2 len H per row forward, 5 backward (recomputed scores,
 * dP, dQ, dK, dV). `dense` counts the unskipped model: all experts and decoder blocks on
 * every row. */
static double step_flops(const hardy_model_cfg_t *c, const step_batch_t *sb, unsigned pattern,
                         bool dense) {
  const double H = c->hidden, rH = c->mlp_ratio * c->hidden, dh = c->decoder_hidden;
  double sum_len2 = 0.0, total = 0.0;
  for (int d = 0; d < sb->B; d++)
    sum_len2 += (double)sb->len[d] * sb->len[d];
  const double rows = sb->real;
  int n_mod = 0, dec_cols = 0;
  for (int m = 0; m < 3; m++) {
    bool on = dense || (pattern >> m & 1u);
    n_mod += on;
    if (dense || !(pattern >> m & 1u))
      dec_cols += c->dims[m];
    if (!on)
      continue;
    total += 2 * 2.0 * rows * c->dims[m] * H;                              /* fwd + dW */
    total += c->depth * 3 * 2.0 * rows *
             (3 * H * H + (c->attn_out_proj ? H * H : 0) + 2 * H * rH);    /* blocks */
    total += c->depth * 7 * 2.0 * sum_len2 * H;                            /* attention */
  }
  total += 3 * 2.0 * rows * (n_mod * H) * 3 * H + 3 * 2.0 * rows * 3 * H * c->n_out;
  if (dec_cols > 0)
    total += 3 * 2.0 * rows * (3 * H * dh + dh * dec_cols);
  return total;
}

typedef struct {
  double seconds_per_step, utt_per_s, cpu_seconds_per_step, loss;
} step_result_t;

/* CPU time of the process (all threads): on a shared machine, wall time counts the time other
 * jobs hold the cores; CPU time per step / threads does not. */
static double cpu_seconds(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + 1e-6 * ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_sec +
         1e-6 * ru.ru_stime.tv_usec;
}

static int run_condition(const hardy_model_cfg_t *cfg, unsigned pattern, int steps,
                         step_result_t *res) {
  hardy_model_t *m = NULL;
  HARDY_CHECK(hardy_model_create(cfg, &m));
  size_t n = hardy_model_num_params(m);
  float *adam_m = hardy_aligned_alloc(n * sizeof(float), "Adam m");
  float *adam_v = hardy_aligned_alloc(n * sizeof(float), "Adam v");
  step_batch_t sb;
  int rc = adam_m && adam_v ? batch_make(&sb, cfg, 16, pattern) : HARDY_ERR_RUNTIME;
  if (rc == HARDY_OK) {
    memset(adam_m, 0, n * sizeof(float));
    memset(adam_v, 0, n * sizeof(float));
    hardy_batch_t b = {
        sb.B, sb.L,  {sb.x[0], sb.x[1], sb.x[2]}, {NULL, NULL, NULL}, sb.avail, sb.label, NULL,
        sb.w, sb.utt, NULL};
    const int warmup = 2;
    double t0 = 0.0, c0 = 0.0;
    for (int s = 0; s < warmup + steps && rc == HARDY_OK; s++) {
      if (s == warmup)
        t0 = hardy_now(), c0 = cpu_seconds();
      hardy_losses_t l;
      memset(hardy_model_grads(m), 0, n * sizeof(float));
      rc = hardy_model_train_step(m, &b, HARDY_STAGE_FUSED, 1.0f, (uint64_t)s, &l, NULL, NULL);
      hardy_nn_adam_step(hardy_model_params(m), hardy_model_grads(m), adam_m, adam_v, n, 1e-4f,
                         0.9f, 0.999f, 1e-8f, 1e-5f, s + 1);
      res->loss = l.total;
    }
    double dt = hardy_now() - t0;
    res->cpu_seconds_per_step = (cpu_seconds() - c0) / steps;
    res->seconds_per_step = dt / steps;
    res->utt_per_s = (double)sb.real * steps / dt;
  }
  if (adam_m && adam_v)
    batch_free(&sb);
  free(adam_m), free(adam_v);
  hardy_model_free(m);
  return rc;
}

/* "at" -> bits a|t; letters a, t, v, each at most once. */
static int parse_condition(const char *text, uint8_t *bits) {
  *bits = 0;
  for (const char *p = text; *p; p++) {
    const char *pos = strchr("atv", *p);
    if (!pos || (*bits >> (pos - "atv") & 1))
      return hardy_fail(HARDY_ERR_INPUT,
                        "--conditions: '%s' is not a condition (a t v at av tv atv)", text);
    *bits |= (uint8_t)(1u << (pos - "atv"));
  }
  return *bits ? HARDY_OK : hardy_fail(HARDY_ERR_INPUT, "--conditions: empty condition");
}

static void usage(void) {
  printf(
      "usage: hardy-hpc bench step [--threads 1,2] [--conditions at,atv] [--steps N] [--json "
      "FILE]\n"
      "  Training-step throughput (utterances/s) of the backbone at the published sizes, stage 2\n"
      "  under each fixed missing condition, with achieved GFLOP/s against the sgemm peak.\n");
}

static int parse_list(const char *flag, const char *text, char out[][8], int cap) {
  int n = 0;
  const char *p = text;
  while (*p && n < cap) {
    size_t len = strcspn(p, ",");
    if (len == 0 || len >= 8)
      return hardy_fail(HARDY_ERR_INPUT, "%s: bad list '%s'", flag, text);
    memcpy(out[n], p, len);
    out[n++][len] = '\0';
    p += len + (p[len] == ',');
  }
  return n;
}

int hardy_bench_step(int argc, char **argv) {
  char thr_txt[8][8] = {"1", "2"}, cond[8][8] = {"at", "atv"};
  int n_thr = 2, n_cond = 2, status = HARDY_OK;
  int64_t steps = 8;
  const char *json_path = NULL;
  for (int i = 1; i < argc && status >= 0; i++) {
    const char *v = NULL;
    if (!strcmp(argv[i], "--help")) {
      if (hardy_world_rank() == 0)
        usage();
      return HARDY_OK;
    } else if (!strcmp(argv[i], "--threads") && (v = hardy_cli_value(argc, argv, i++))) {
      status = n_thr = parse_list("--threads", v, thr_txt, 8);
    } else if (!strcmp(argv[i], "--conditions") && (v = hardy_cli_value(argc, argv, i++))) {
      status = n_cond = parse_list("--conditions", v, cond, 8);
    } else if (!strcmp(argv[i], "--steps") && (v = hardy_cli_value(argc, argv, i++))) {
      status = hardy_cli_int64("--steps", v, 1, 100000, &steps);
    } else if (!strcmp(argv[i], "--json") && (v = hardy_cli_value(argc, argv, i++))) {
      json_path = v;
    } else if (!v) {
      status = hardy_fail(HARDY_ERR_INPUT, "bench step: unknown option '%s' (see --help)", argv[i]);
    }
  }
  unsigned patterns[8] = {0};
  int threads[8] = {0};
  for (int c = 0; status >= 0 && c < n_cond; c++) {
    uint8_t bits = 0;
    status = parse_condition(cond[c], &bits);
    patterns[c] = bits;
  }
  for (int t = 0; status >= 0 && t < n_thr; t++) {
    int64_t x = 0;
    status = hardy_cli_int64("--threads", thr_txt[t], 1, 1024, &x);
    threads[t] = (int)x;
  }
  status = hardy_agree(status < 0 ? status : HARDY_OK, MPI_COMM_WORLD);
  if (status < 0)
    return status;
  hardy_blas_report();
  /* with the attention output projection: the architecture of bench/torch_twin.py */
  hardy_model_cfg_t cfg = {{512, 1024, 1024}, 256, 4,   2, 1.0f, 0.5f, false, 1024, 4, false, false,
                           16 * 44,           1,   true};
  const char *coretype = getenv("OPENBLAS_CORETYPE");
  cJSON *root = cJSON_CreateObject(), *runs = cJSON_AddArrayToObject(root, "runs");
  cJSON_AddStringToObject(root, "benchmark", "step");
  cJSON_AddStringToObject(root, "blas_core", hardy_blas_core());
  cJSON_AddStringToObject(root, "openblas_coretype", coretype ? coretype : "");
  cJSON_AddNumberToObject(root, "dialogues", 16);
  for (int t = 0; t < n_thr && status == HARDY_OK; t++) {
    omp_set_num_threads(threads[t]);
    hardy_blas_set_threads(threads[t]);
    double peak = hardy_bench_sgemm_gflops(1024, 1024, 1024, 1.0);
    for (int c = 0; c < n_cond && status == HARDY_OK; c++) {
      step_result_t r = {0};
      status = run_condition(&cfg, patterns[c], (int)steps, &r);
      if (status != HARDY_OK)
        break;
      step_batch_t sizes;
      memset(&sizes, 0, sizeof sizes);
      for (int d = 0; d < 16; d++)
        sizes.len[d] = 30 + (d * 7) % 15, sizes.real += sizes.len[d];
      sizes.B = 16;
      double done = step_flops(&cfg, &sizes, patterns[c], false) / r.seconds_per_step * 1e-9;
      double dense = step_flops(&cfg, &sizes, patterns[c], true) / r.seconds_per_step * 1e-9;
      cJSON *o = cJSON_CreateObject();
      cJSON_AddStringToObject(o, "condition", cond[c]);
      cJSON_AddNumberToObject(o, "threads", threads[t]);
      cJSON_AddNumberToObject(o, "utterances", sizes.real);
      cJSON_AddNumberToObject(o, "step_ms", r.seconds_per_step * 1e3);
      cJSON_AddNumberToObject(o, "utt_per_s", r.utt_per_s);
      cJSON_AddNumberToObject(o, "cpu_ms_per_step", r.cpu_seconds_per_step * 1e3);
      cJSON_AddNumberToObject(o, "utt_per_cpu_s", sizes.real / r.cpu_seconds_per_step);
      cJSON_AddNumberToObject(o, "executed_gflops", done);
      cJSON_AddNumberToObject(o, "dense_equivalent_gflops", dense);
      cJSON_AddNumberToObject(o, "sgemm_peak_gflops", peak);
      cJSON_AddNumberToObject(o, "executed_share_of_peak", done / peak);
      cJSON_AddNumberToObject(o, "loss", r.loss);
      cJSON_AddItemToArray(runs, o);
      if (hardy_world_rank() == 0)
        printf("step condition=%s threads=%d: %.1f ms/step (%.1f CPU ms), %.0f utterances/s, "
               "%.1f GFLOP/s executed (%.0f%% of sgemm peak %.1f), %.1f GFLOP/s dense-equivalent\n",
               cond[c], threads[t], r.seconds_per_step * 1e3, r.cpu_seconds_per_step * 1e3,
               r.utt_per_s, done, 100.0 * done / peak, peak, dense);
    }
  }
  if (status == HARDY_OK && hardy_world_rank() == 0) {
    char *text = cJSON_PrintUnformatted(root);
    if (text)
      printf("%s\n", text);
    free(text);
    if (json_path)
      status = hardy_json_write_file(json_path, root);
  }
  cJSON_Delete(root);
  return hardy_agree(status, MPI_COMM_WORLD);
}
