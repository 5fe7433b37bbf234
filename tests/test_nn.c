/* nn layer tests: every optimised kernel against its _ref twin (forward outputs and gradients,
 * scale-free error <= 1e-5 unless stated), every backward against central finite differences
 * of the _ref forward (directional derivative along a random direction, float storage with
 * double accumulation: tolerance 2e-3 relative), dropout masks as a pure function of
 * (step, layer, utterance id, column), attention rows without a valid key, losses and Adam
 * against hand-computed values. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hardy/nn.h"
#include "harness.h"
#include "test_nn_util.h"

typedef double (*eval_fn)(void *ctx);

/* Directional derivative of f along a random direction over x[0..n), against grad . dir. */
static void check_fd(const char *what, eval_fn f, void *ctx, float *x, size_t n, const float *grad,
                     uint64_t seed) {
  float *dir = tu_rand(n, seed, 1.0f), *x0 = tu_copy(x, n);
  const double eps = 1e-2;
  for (size_t i = 0; i < n; i++)
    x[i] = x0[i] + (float)eps * dir[i];
  double fp = f(ctx);
  for (size_t i = 0; i < n; i++)
    x[i] = x0[i] - (float)eps * dir[i];
  double fm = f(ctx);
  memcpy(x, x0, n * sizeof(float));
  double fd = (fp - fm) / (2 * eps), an = tu_dot(grad, dir, n);
  TEST_ASSERT(fabs(fd - an) <= 2e-3 * fabs(an) + 1e-4,
              "%s: finite difference %.7g vs analytic %.7g", what, fd, an);
  free(dir);
  free(x0);
}

/* ---- linear ---- */
enum { LR = 7, LI = 13, LO = 9, LDI = 15, LDO = 11, LDW = 14 };
typedef struct {
  float *in, *w, *b, *out, *c;
} lin_ctx;

static double lin_eval(void *p) {
  lin_ctx *c = p;
  hardy_nn_linear_forward_ref(c->out, LDO, c->in, LDI, c->w, LDW, c->b, LR, LI, LO, 0);
  double s = 0;
  for (int r = 0; r < LR; r++)
    for (int o = 0; o < LO; o++)
      s += (double)c->c[r * LDO + o] * c->out[r * LDO + o];
  return s;
}

static void test_linear(void) {
  lin_ctx c = {tu_rand(LR * LDI, 1, 1), tu_rand(LO * LDW, 2, 1), tu_rand(LO, 3, 1),
               tu_zeros(LR * LDO), tu_rand(LR * LDO, 4, 1)};
  float *out = tu_rand(LR * LDO, 5, 1), *out_ref = tu_copy(out, LR * LDO);
  for (int acc = 0; acc < 2; acc++) {
    hardy_nn_linear_forward(out, LDO, c.in, LDI, c.w, LDW, acc ? NULL : c.b, LR, LI, LO, acc);
    hardy_nn_linear_forward_ref(out_ref, LDO, c.in, LDI, c.w, LDW, acc ? NULL : c.b, LR, LI, LO,
                                acc);
    TEST_ASSERT(tu_rel_err(out, out_ref, LR * LDO, 1e-6) < 1e-5, "linear forward (accumulate %d)",
                acc);
  }
  float *din = tu_rand(LR * LDI, 6, 1), *dw = tu_rand(LO * LDW, 7, 1), *db = tu_rand(LO, 8, 1);
  float *din_r = tu_copy(din, LR * LDI), *dw_r = tu_copy(dw, LO * LDW), *db_r = tu_copy(db, LO);
  hardy_nn_linear_backward(din, LDI, dw, LDW, db, c.c, LDO, c.in, LDI, c.w, LDW, LR, LI, LO);
  hardy_nn_linear_backward_ref(din_r, LDI, dw_r, LDW, db_r, c.c, LDO, c.in, LDI, c.w, LDW, LR, LI,
                               LO);
  TEST_ASSERT(tu_rel_err(din, din_r, LR * LDI, 1e-6) < 1e-5, "linear din");
  TEST_ASSERT(tu_rel_err(dw, dw_r, LO * LDW, 1e-6) < 1e-5, "linear dw");
  TEST_ASSERT(tu_rel_err(db, db_r, LO, 1e-6) < 1e-5, "linear db");
  /* gradients from zero, for the finite differences (padding columns get direction 0) */
  float *gin = tu_zeros(LR * LDI), *gw = tu_zeros(LO * LDW), *gb = tu_zeros(LO);
  hardy_nn_linear_backward(gin, LDI, gw, LDW, gb, c.c, LDO, c.in, LDI, c.w, LDW, LR, LI, LO);
  check_fd("linear d/din", lin_eval, &c, c.in, LR * LDI, gin, 11);
  check_fd("linear d/dw", lin_eval, &c, c.w, LO * LDW, gw, 12);
  check_fd("linear d/db", lin_eval, &c, c.b, LO, gb, 13);
  free(c.in), free(c.w), free(c.b), free(c.out), free(c.c), free(out), free(out_ref);
  free(din), free(dw), free(db), free(din_r), free(dw_r), free(db_r), free(gin), free(gw), free(gb);
}

/* ---- fused bias + activation + dropout ---- */
enum { AR = 6, AC = 23 };
typedef struct {
  float *pre0, *pre, *out, *b, *c;
  uint8_t *mask;
  hardy_nn_act_t act;
  hardy_nn_dropout_t drop;
} act_ctx;

static double act_eval(void *p) {
  act_ctx *c = p;
  memcpy(c->pre, c->pre0, AR * AC * sizeof(float));
  hardy_nn_bias_act_dropout_forward_ref(c->out, c->pre, c->mask, c->b, NULL, NULL, AR, AC, c->act,
                                        &c->drop);
  return tu_dot(c->out, c->c, AR * AC);
}

static void test_act_dropout(void) {
  int64_t utt[AR] = {3, 17, 4, 1000000007LL, 0, 42};
  for (int act = 0; act < 3; act++)
    for (int use_drop = 0; use_drop < 2; use_drop++) {
      act_ctx c = {tu_rand(AR * AC, 20 + act, 2),
                   tu_zeros(AR * AC),
                   tu_zeros(AR * AC),
                   tu_rand(AC, 30, 1),
                   tu_rand(AR * AC, 31, 1),
                   calloc(AR * AC, 1),
                   (hardy_nn_act_t)act,
                   {use_drop ? 0.3f : 0.0f, 0xabcdefULL, 5, 77, utt}};
      float *res1 = tu_rand(AR * AC, 32, 1), *res2 = tu_rand(AR * AC, 33, 1);
      float *pre = tu_copy(c.pre0, AR * AC), *pre_r = tu_copy(c.pre0, AR * AC);
      float *out = tu_zeros(AR * AC), *out_r = tu_zeros(AR * AC);
      uint8_t *mk = calloc(AR * AC, 1), *mk_r = calloc(AR * AC, 1);
      hardy_nn_bias_act_dropout_forward(out, pre, mk, c.b, res1, res2, AR, AC, c.act, &c.drop);
      hardy_nn_bias_act_dropout_forward_ref(out_r, pre_r, mk_r, c.b, res1, res2, AR, AC, c.act,
                                            &c.drop);
      TEST_ASSERT(tu_rel_err(out, out_r, AR * AC, 1e-6) < 1e-5, "act %d drop %d forward", act,
                  use_drop);
      TEST_ASSERT(!memcmp(mk, mk_r, use_drop ? AR * AC : 0),
                  "act %d: dropout masks differ from _ref", act);
      float *dpre = tu_zeros(AR * AC), *dpre_r = tu_zeros(AR * AC);
      hardy_nn_act_dropout_backward(dpre, c.c, pre, use_drop ? mk : NULL, c.drop.rate, AR, AC,
                                    c.act);
      hardy_nn_act_dropout_backward_ref(dpre_r, c.c, pre_r, use_drop ? mk : NULL, c.drop.rate, AR,
                                        AC, c.act);
      TEST_ASSERT(tu_rel_err(dpre, dpre_r, AR * AC, 1e-6) < 1e-5, "act %d drop %d backward", act,
                  use_drop);
      if (act != HARDY_ACT_RELU) /* ReLU's kink makes FD meaningless at random points near 0 */
        check_fd("act d/dpre", act_eval, &c, c.pre0, AR * AC, dpre_r, 40 + act);
      free(c.pre0), free(c.pre), free(c.out), free(c.b), free(c.c), free(c.mask), free(res1),
          free(res2);
      free(pre), free(pre_r), free(out), free(out_r), free(mk), free(mk_r), free(dpre),
          free(dpre_r);
    }
}

/* Masks are a function of (step, layer, utterance id, column): the same utterance gets the same
 * mask in any row position and any batch; another step or layer gives another mask. */
static void test_dropout_keys(void) {
  enum { C = 37 };
  int64_t utt_a[3] = {10, 20, 30}, utt_b[4] = {99, 30, 7, 10};
  hardy_nn_dropout_t da = {0.5f, 0x1234ULL, 9, 3, utt_a}, db = da;
  db.utt_id = utt_b;
  float *pa = tu_rand(3 * C, 50, 1), *pb = tu_rand(4 * C, 51, 1), *oa = tu_zeros(3 * C),
        *ob = tu_zeros(4 * C);
  uint8_t ma[3 * C], mb[4 * C];
  for (int c = 0; c < C; c++)
    pa[0 * C + c] = pb[3 * C + c] = pa[2 * C + c] = pb[1 * C + c] = 1.0f;
  hardy_nn_bias_act_dropout_forward(oa, pa, ma, NULL, NULL, NULL, 3, C, HARDY_ACT_NONE, &da);
  hardy_nn_bias_act_dropout_forward(ob, pb, mb, NULL, NULL, NULL, 4, C, HARDY_ACT_NONE, &db);
  TEST_ASSERT(!memcmp(ma + 0 * C, mb + 3 * C, C), "utterance 10: mask depends on row position");
  TEST_ASSERT(!memcmp(ma + 2 * C, mb + 1 * C, C), "utterance 30: mask depends on the batch");
  for (int c = 0; c < C; c++) {
    TEST_ASSERT(ma[c] == hardy_nn_dropout_keep(&da, 10, c), "keep flag of column %d", c);
    TEST_ASSERT(oa[c] == (ma[c] ? 2.0f : 0.0f), "kept elements scaled by 1/(1-p): %g", oa[c]);
  }
  hardy_nn_dropout_t other_step = da, other_layer = da;
  other_step.step = 10;
  other_layer.layer = 4;
  int same_step = 0, same_layer = 0;
  for (int c = 0; c < C; c++) {
    same_step += hardy_nn_dropout_keep(&other_step, 10, c) == ma[c];
    same_layer += hardy_nn_dropout_keep(&other_layer, 10, c) == ma[c];
  }
  TEST_ASSERT(same_step < C && same_layer < C,
              "masks must change with step and layer (%d, %d same)", same_step, same_layer);
  /* keep rate over many elements: 0.7 within 4 standard deviations */
  hardy_nn_dropout_t d3 = {0.3f, 0x55ULL, 1, 1, NULL};
  long kept = 0, n = 0;
  for (int64_t u = 0; u < 400; u++)
    for (int c = 0; c < 250; c++, n++)
      kept += hardy_nn_dropout_keep(&d3, u, c);
  double frac = (double)kept / n, sd = sqrt(0.21 / n);
  TEST_NEAR(frac, 0.7, 4 * sd, 0);
  free(pa), free(pb), free(oa), free(ob);
}

/* ---- LayerNorm ---- */
enum { NR = 5, NC = 12 };
typedef struct {
  float *in, *g, *b, *out, *stat, *c;
} ln_ctx;

static double ln_eval(void *p) {
  ln_ctx *c = p;
  hardy_nn_layernorm_forward_ref(c->out, c->stat, c->in, c->g, c->b, NR, NC);
  return tu_dot(c->out, c->c, NR * NC);
}

static void test_layernorm(void) {
  ln_ctx c = {tu_rand(NR * NC, 60, 2), tu_rand(NC, 61, 1), tu_rand(NC, 62, 1),
              tu_zeros(NR * NC),       tu_zeros(NR * 2),   tu_rand(NR * NC, 63, 1)};
  float *out = tu_zeros(NR * NC), *stat = tu_zeros(NR * 2);
  hardy_nn_layernorm_forward(out, stat, c.in, c.g, c.b, NR, NC);
  ln_eval(&c);
  TEST_ASSERT(tu_rel_err(out, c.out, NR * NC, 1e-6) < 1e-5, "layernorm forward");
  float *din = tu_zeros(NR * NC), *dg = tu_zeros(NC), *db = tu_zeros(NC);
  float *din_r = tu_zeros(NR * NC), *dg_r = tu_zeros(NC), *db_r = tu_zeros(NC);
  hardy_nn_layernorm_backward(din, dg, db, c.c, c.in, stat, c.g, NR, NC);
  hardy_nn_layernorm_backward_ref(din_r, dg_r, db_r, c.c, c.in, c.stat, c.g, NR, NC);
  TEST_ASSERT(tu_rel_err(din, din_r, NR * NC, 1e-6) < 1e-5, "layernorm din");
  TEST_ASSERT(tu_rel_err(dg, dg_r, NC, 1e-6) < 1e-5, "layernorm dgamma");
  TEST_ASSERT(tu_rel_err(db, db_r, NC, 1e-6) < 1e-5, "layernorm dbeta");
  check_fd("layernorm d/din", ln_eval, &c, c.in, NR * NC, din_r, 64);
  check_fd("layernorm d/dgamma", ln_eval, &c, c.g, NC, dg_r, 65);
  check_fd("layernorm d/dbeta", ln_eval, &c, c.b, NC, db_r, 66);
  free(c.in), free(c.g), free(c.b), free(c.out), free(c.stat), free(c.c), free(out), free(stat);
  free(din), free(dg), free(db), free(din_r), free(dg_r), free(db_r);
}

/* ---- attention: q, k, v interleaved in one [rows, 3H] buffer as the model stores them ---- */
enum { TR = 12, TH = 6, THEADS = 2 };
static const int T_SEG[] = {0, 4, 9, 10, 12};
/* row 9 (a segment of its own) has no valid key; segment [10, 12) has none either */
static const uint8_t T_VALID[TR] = {1, 0, 1, 1, 1, 1, 0, 1, 1, 0, 0, 0};
typedef struct {
  float *qkv, *out, *lse, *c;
  hardy_nn_attn_t a;
} att_ctx;

static double att_eval(void *p) {
  att_ctx *c = p;
  hardy_nn_attention_forward_ref(c->out, TH, c->lse, c->qkv, 3 * TH, c->qkv + TH, 3 * TH,
                                 c->qkv + 2 * TH, 3 * TH, &c->a);
  return tu_dot(c->out, c->c, TR * TH);
}

static void test_attention(void) {
  att_ctx c = {tu_rand(TR * 3 * TH, 70, 1.5f),
               tu_zeros(TR * TH),
               tu_zeros(TR * THEADS),
               tu_rand(TR * TH, 71, 1),
               {T_SEG, 4, T_VALID, THEADS, TH / THEADS}};
  float *out = tu_zeros(TR * TH), *lse = tu_zeros(TR * THEADS);
  hardy_nn_attention_forward(out, TH, lse, c.qkv, 3 * TH, c.qkv + TH, 3 * TH, c.qkv + 2 * TH,
                             3 * TH, &c.a);
  att_eval(&c);
  TEST_ASSERT(tu_rel_err(out, c.out, TR * TH, 1e-6) < 1e-5, "attention forward");
  for (int i = 9; i < TR; i++)
    for (int j = 0; j < TH; j++)
      TEST_ASSERT(out[i * TH + j] == 0.0f, "row %d without valid key: %g", i, out[i * TH + j]);
  float *g = tu_zeros(TR * 3 * TH), *g_r = tu_zeros(TR * 3 * TH);
  hardy_nn_attention_backward(g, g + TH, g + 2 * TH, c.c, TH, out, lse, c.qkv, 3 * TH, c.qkv + TH,
                              3 * TH, c.qkv + 2 * TH, 3 * TH, &c.a);
  hardy_nn_attention_backward_ref(g_r, g_r + TH, g_r + 2 * TH, c.c, TH, c.out, c.lse, c.qkv, 3 * TH,
                                  c.qkv + TH, 3 * TH, c.qkv + 2 * TH, 3 * TH, &c.a);
  TEST_ASSERT(tu_rel_err(g, g_r, TR * 3 * TH, 1e-6) < 1e-5, "attention backward");
  int finite = 1;
  for (int i = 0; i < TR * 3 * TH; i++)
    finite &= isfinite(g[i]) && isfinite(g_r[i]);
  TEST_ASSERT(finite, "attention gradients must be finite");
  for (int i = 9; i < TR; i++)
    for (int j = 0; j < 3 * TH; j++)
      TEST_ASSERT(g[i * 3 * TH + j] == 0.0f, "row %d gradient %g", i, g[i * 3 * TH + j]);
  /* invalid keys (rows 1, 6) get no key/value gradient */
  for (int j = TH; j < 3 * TH; j++)
    TEST_ASSERT(g[1 * 3 * TH + j] == 0.0f && g[6 * 3 * TH + j] == 0.0f, "masked key gradient");
  check_fd("attention d/dqkv", att_eval, &c, c.qkv, TR * 3 * TH, g_r, 72);
  /* no key mask: every row of a segment is a key */
  c.a.key_valid = NULL;
  hardy_nn_attention_forward(out, TH, lse, c.qkv, 3 * TH, c.qkv + TH, 3 * TH, c.qkv + 2 * TH,
                             3 * TH, &c.a);
  att_eval(&c);
  TEST_ASSERT(tu_rel_err(out, c.out, TR * TH, 1e-6) < 1e-5, "attention forward, no mask");
  free(c.qkv), free(c.out), free(c.lse), free(c.c), free(out), free(lse), free(g), free(g_r);
}

/* Dialogue-length segments (the optimised kernel runs its products as sgemm calls per segment
 * and head) and, in the second layout, a segment longer than the sgemm path takes (512 rows:
 * the loop kernels) beside short ones; with and without a key mask, scores spread wide enough
 * that some probabilities underflow the exp clamp: forward and backward vs _ref. */
static void attention_layout(const int *seg, int n_seg, int LH, float qscale) {
  enum { LHEADS = 2 };
  const int LR_ = seg[n_seg];
  uint8_t *valid = malloc((size_t)LR_);
  for (int i = 0; i < LR_; i++)
    valid[i] = (uint8_t)(i % 5 != 2);
  float *qkv = tu_rand((size_t)LR_ * 3 * LH, 90, qscale), *dout = tu_rand((size_t)LR_ * LH, 91, 1);
  for (int masked = 0; masked < 2; masked++) {
    hardy_nn_attn_t a = {seg, n_seg, masked ? valid : NULL, LHEADS, LH / LHEADS};
    float *out = tu_zeros(LR_ * LH), *out_r = tu_zeros(LR_ * LH);
    float *lse = tu_zeros(LR_ * LHEADS), *lse_r = tu_zeros(LR_ * LHEADS);
    hardy_nn_attention_forward(out, LH, lse, qkv, 3 * LH, qkv + LH, 3 * LH, qkv + 2 * LH, 3 * LH,
                               &a);
    hardy_nn_attention_forward_ref(out_r, LH, lse_r, qkv, 3 * LH, qkv + LH, 3 * LH, qkv + 2 * LH,
                                   3 * LH, &a);
    TEST_ASSERT(tu_rel_err(out, out_r, LR_ * LH, 1e-6) < 1e-5, "%d rows: attention forward, mask %d",
                LR_, masked);
    TEST_ASSERT(tu_rel_err(lse, lse_r, LR_ * LHEADS, 1e-6) < 1e-6, "%d rows: attention lse, mask %d",
                LR_, masked);
    float *g = tu_zeros(LR_ * 3 * LH), *g_r = tu_zeros(LR_ * 3 * LH);
    hardy_nn_attention_backward(g, g + LH, g + 2 * LH, dout, LH, out, lse, qkv, 3 * LH, qkv + LH,
                                3 * LH, qkv + 2 * LH, 3 * LH, &a);
    hardy_nn_attention_backward_ref(g_r, g_r + LH, g_r + 2 * LH, dout, LH, out_r, lse_r, qkv,
                                    3 * LH, qkv + LH, 3 * LH, qkv + 2 * LH, 3 * LH, &a);
    for (int part = 0; part < 3; part++) { /* dq, dk, dv each against its own scale */
      float *x = tu_zeros(LR_ * LH), *x_r = tu_zeros(LR_ * LH);
      for (int i = 0; i < LR_; i++)
        for (int c = 0; c < LH; c++) {
          x[i * LH + c] = g[i * 3 * LH + part * LH + c];
          x_r[i * LH + c] = g_r[i * 3 * LH + part * LH + c];
        }
      double e = tu_rel_err(x, x_r, LR_ * LH, 1e-6);
      TEST_ASSERT(e < 1e-5, "%d rows: attention backward part %d, mask %d: %g", LR_, part, masked,
                  e);
      free(x), free(x_r);
    }
    free(out), free(out_r), free(lse), free(lse_r), free(g), free(g_r);
  }
  free(qkv), free(dout), free(valid);
}

static void test_attention_long(void) {
  static const int dialogues[] = {0, 37, 81, 82, 111}, long_seg[] = {0, 30, 630, 660};
  attention_layout(dialogues, 4, 32, 4.0f);
  attention_layout(long_seg, 3, 8, 4.0f);
}

/* GELU forward and backward over a wide range (|x| up to 12: the erf tail and the exp clamp)
 * on rows long enough for the vector loops. */
static void test_gelu_range(void) {
  enum { GR = 3, GC = 333 };
  float *pre = tu_rand(GR * GC, 95, 12.0f), *pre_r = tu_copy(pre, GR * GC);
  float *out = tu_zeros(GR * GC), *out_r = tu_zeros(GR * GC), *d = tu_rand(GR * GC, 96, 1);
  hardy_nn_bias_act_dropout_forward(out, pre, NULL, NULL, NULL, NULL, GR, GC, HARDY_ACT_GELU, NULL);
  hardy_nn_bias_act_dropout_forward_ref(out_r, pre_r, NULL, NULL, NULL, NULL, GR, GC,
                                        HARDY_ACT_GELU, NULL);
  TEST_ASSERT(tu_rel_err(out, out_r, GR * GC, 1e-6) < 1e-6, "wide-range GELU forward");
  float *dp = tu_zeros(GR * GC), *dp_r = tu_zeros(GR * GC);
  hardy_nn_act_dropout_backward(dp, d, pre, NULL, 0.0f, GR, GC, HARDY_ACT_GELU);
  hardy_nn_act_dropout_backward_ref(dp_r, d, pre_r, NULL, 0.0f, GR, GC, HARDY_ACT_GELU);
  TEST_ASSERT(tu_rel_err(dp, dp_r, GR * GC, 1e-6) < 1e-5, "wide-range GELU backward");
  free(pre), free(pre_r), free(out), free(out_r), free(d), free(dp), free(dp_r);
}

/* ---- losses ---- */
static void test_losses(void) {
  float logits[6] = {1, 2, 3, 0.5f, -1, 0}, w[2] = {0.5f, 0.25f}, d[6] = {0};
  int32_t label[2] = {2, 0};
  double l = hardy_nn_cross_entropy(d, logits, label, w, 2, 3);
  double l0 = log(exp(1.0) + exp(2.0) + exp(3.0)) - 3.0, l1 = log(exp(0.5) + exp(-1.0) + 1.0) - 0.5;
  TEST_NEAR(l, 0.5 * l0 + 0.25 * l1, 1e-6, 1e-6);
  TEST_NEAR(d[2], 0.5 * (exp(3.0) / (exp(1.0) + exp(2.0) + exp(3.0)) - 1.0), 1e-6, 1e-5);
  TEST_NEAR(d[4], 0.25 * exp(-1.0) / (exp(0.5) + exp(-1.0) + 1.0), 1e-6, 1e-5);
  float pred[2] = {1.5f, -2}, tgt[2] = {1, 1}, dp[2] = {0};
  TEST_NEAR(hardy_nn_mse(dp, pred, tgt, w, 2), 0.5 * 0.25 + 0.25 * 9.0, 1e-6, 1e-6);
  TEST_NEAR(dp[1], 2 * 0.25 * -3.0, 1e-6, 1e-6);
  /* recon: dims (1, 2, 1); row 0 misses t, row 1 misses a and v; block v not requested */
  const int dims[3] = {1, 2, 1}, off[3] = {0, 1, 3};
  float xh[8] = {9, 1, 2, 9, 3, 9, 9, 4}, ta[2] = {0, 1}, tt[4] = {0, 0, 5, 5}, tv[2] = {0, 0};
  const float *tg[3] = {ta, tt, tv};
  uint8_t av[2] = {5, 2};
  float dx[8] = {0}, rw[2] = {1, 0.5f};
  double r = hardy_nn_recon_loss(dx, xh, 4, tg, NULL, av, NULL, rw, dims, off, 3u, 2);
  TEST_NEAR(r, (1 + 4) / 2.0 + 0.5 * (3 - 1) * (3 - 1), 1e-6, 1e-6);
  TEST_NEAR(dx[1], 2 * 1.0 * 1 / 2, 1e-6, 0);
  TEST_NEAR(dx[4], 2 * 0.5 * 2 / 1, 1e-6, 0);
  TEST_ASSERT(dx[0] == 0 && dx[3] == 0 && dx[7] == 0,
              "present or unrequested blocks get no gradient");
  /* the same rows when the file holds no text for row 0 and no audio for row 1: row 0's
   * missing text and row 1's missing audio have no ground truth (row 1's v is unrequested),
   * so the loss is 0 and no gradient flows */
  uint8_t truth[2] = {5, 6}; /* row 0: a, v in the file; row 1: t, v */
  float dy[8] = {0};
  double r0 = hardy_nn_recon_loss(dy, xh, 4, tg, NULL, av, truth, rw, dims, off, 3u, 2);
  TEST_NEAR(r0, 0.0, 0, 0);
  for (int i = 0; i < 8; i++)
    TEST_ASSERT(dy[i] == 0, "a modality absent from the file gets no gradient");
  /* with text in the file for row 0 the loss is row 0's term alone */
  truth[0] = 7;
  memset(dy, 0, sizeof dy);
  TEST_NEAR(hardy_nn_recon_loss(dy, xh, 4, tg, NULL, av, truth, rw, dims, off, 3u, 2),
            (1 + 4) / 2.0, 1e-6, 1e-6);
  TEST_NEAR(dy[1], dx[1], 1e-6, 0);
  TEST_ASSERT(dy[4] == 0, "row 1's audio, absent from the file, gets no gradient");
}

/* ---- Adam ---- */
static void test_adam(void) {
  float p = 1.0f, g = 0.5f, m = 0.0f, v = 0.0f;
  hardy_nn_adam_step(&p, &g, &m, &v, 1, 0.01f, 0.9f, 0.999f, 1e-8f, 0.1f, 1);
  /* g' = 0.6, m = 0.06, v = 3.6e-4, step = lr / 0.1 * 0.06 / (0.6 + 1e-8) = 0.01 */
  TEST_NEAR(p, 0.99, 1e-6, 0);
  TEST_NEAR(m, 0.06, 1e-8, 1e-6);
  TEST_NEAR(v, 3.6e-4, 1e-10, 1e-4); /* 1 - 0.999f is 0.00099999 in float */
  enum { N = 1001 };
  float *pa = tu_rand(N, 80, 1), *pb = tu_copy(pa, N), *ma = tu_zeros(N), *mb = tu_zeros(N);
  float *va = tu_zeros(N), *vb = tu_zeros(N);
  for (int step = 1; step <= 3; step++) {
    float *grad = tu_rand(N, 81 + step, 1);
    hardy_nn_adam_step(pa, grad, ma, va, N, 1e-3f, 0.9f, 0.999f, 1e-8f, 1e-5f, step);
    hardy_nn_adam_step_ref(pb, grad, mb, vb, N, 1e-3f, 0.9f, 0.999f, 1e-8f, 1e-5f, step);
    free(grad);
  }
  TEST_ASSERT(tu_rel_err(pa, pb, N, 1e-6) < 1e-6, "adam params vs _ref");
  TEST_ASSERT(tu_rel_err(va, vb, N, 1e-9) < 1e-5, "adam second moment vs _ref");
  free(pa), free(pb), free(ma), free(mb), free(va), free(vb);
}

static void test_arena(void) {
  hardy_nn_arena_t a = {0};
  size_t o1 = hardy_nn_arena_add(&a, "x.weight", 3, 5), o2 = hardy_nn_arena_add(&a, "x.bias", 3, 0);
  TEST_EQ_INT(o1, 0);
  TEST_EQ_INT(o2, 16); /* 15 floats rounded up to 64 bytes */
  TEST_EQ_INT(hardy_nn_arena_alloc(&a), 0);
  TEST_ASSERT(((uintptr_t)a.params & 63) == 0 && ((uintptr_t)a.grads & 63) == 0, "64-byte aligned");
  TEST_ASSERT(!strcmp(a.tensors[1].name, "x.bias") && a.tensors[1].rank == 1, "tensor record");
  TEST_ASSERT(hardy_nn_arena_add(&a, "late", 1, 1) == (size_t)-1, "adding after allocation fails");
  hardy_nn_arena_free(&a);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  test_arena();
  test_linear();
  test_act_dropout();
  test_dropout_keys();
  test_layernorm();
  test_attention();
  test_attention_long();
  test_gelu_range();
  test_losses();
  test_adam();
  int rc = hardy_test_finish("test_nn");
  MPI_Finalize();
  return rc;
}
