/* Private structures of the model module, shared by model.c (creation, parameters, row plans),
 * model_units.c (the layers of the backbone, forward and backward) and model_step.c (the
 * passes over a batch). Parameters are offsets into the flat arena; activations are pointers
 * into one buffer carved at create time from cfg.max_rows, so a step never allocates.
 *
 * Rows: a batch of B dialogues padded to L gives B*L "batch rows". The optimised path packs
 * the real rows (avail != 0) into P "packed rows", and every module works on a row set, a list
 * of packed rows grouped by dialogue: an expert only on the rows where its modality is
 * present, a pair module on the rows where either modality is present, the decoder on the rows
 * where some modality is missing. Keys of attention are then every row of the set, so no mask
 * is needed. The reference path (hardy_model_set_reference) keeps every batch row in every set
 * and masks attention keys, weights and fusion inputs instead, with the _ref kernels: the
 * tests check that both give the same losses and gradients. */
#ifndef HARDY_MODEL_INTERNAL_H
#define HARDY_MODEL_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "hardy/model.h"
#include "hardy/nn.h"

typedef struct {
  size_t w, b; /* offsets of weight [out, in] and bias [out] */
  int in, out;
} lin_p;

typedef struct {
  size_t g, b; /* LayerNorm gain and bias [H] */
} ln_p;

/* An attention unit: out = res + a + MLP(a), a = proj(MHA(q(xq), k(xkv), v(xkv))) (or
 * a = MHA(...) without the output projection, has_proj false), with optional pre-LayerNorm
 * (expert blocks: xq = xkv = z, res = z; cross-attention: res = 0). */
typedef struct {
  bool has_ln, has_proj;
  ln_p ln1, ln2;
  lin_p qkv, proj, fc1, fc2; /* qkv: [3H, H] packed q, k, v (PyTorch in_proj layout) */
  size_t first;              /* arena offset of the unit's first tensor */
  uint32_t drop_id;          /* dropout sites drop_id (MLP hidden), drop_id + 1 (MLP out) */
} unit_p;

typedef struct {
  float *ln1, *ln1s, *ln2, *ln2s; /* [R, H], [R, 2] when has_ln */
  float *qkv;                     /* [R, 3H] */
  float *att;                     /* [R, H] attention output before proj */
  float *lse;                     /* [R, heads] */
  float *a;                       /* [R, H] (= att without the output projection) */
  float *f1;                      /* [R, rH] pre-GELU */
  float *f1a;                     /* [R, rH] GELU + dropout */
  uint8_t *m1, *m2;               /* [R, rH], [R, H] dropout keep flags */
} unit_a;

/* A set of packed rows grouped by dialogue, with the per-row data its losses need. */
typedef struct {
  int n;          /* rows in the set */
  int n_seg;      /* dialogues */
  int *row;       /* [n] packed row index */
  int *seg;       /* [n_seg + 1] */
  bool masked;    /* reference path: attention keys restricted by `valid` */
  uint8_t *valid; /* [n] row has the set's modality (1 on every row when !masked) */
  int64_t *utt;   /* [n] dropout keys */
  float *w;       /* [n] loss weights (0 where the set's modality is absent) */
  int32_t *label; /* [n] */
  float *score;   /* [n] */
  uint8_t *avail; /* [n] */
  int *orig;      /* [n] batch row */
} rowset_t;

typedef struct {
  lin_p in;
  unit_p *layer; /* [depth] */
  size_t first;
} expert_p;

typedef struct {
  float *xin;  /* [R, d_m] gathered (zero-filled) input */
  float *pre;  /* [R, H] input projection before dropout (scratch) */
  uint8_t *mu; /* [R, H] input dropout keep flags */
  float **z;   /* [depth + 1] of [R, H]: z[0] = u, z[depth] = expert output */
  unit_a *layer;
  float *dz; /* [R, H] gradient of z[depth], then of the current layer input */
} expert_a;

typedef struct {
  unit_p dir[2]; /* CA(m -> n), CA(n -> m) */
  lin_p head;
  size_t first;
} pair_p;

typedef struct {
  float *xm, *xn;   /* [R, H] gathered z^m r^m, z^n r^n */
  float *dxm, *dxn; /* [R, H] */
  unit_a dir[2];
  float *out[2];           /* [R, H] per direction */
  float *j;                /* [R, H] */
  float *logits, *dlogits; /* [R, n_out] */
} pair_a;

struct hardy_model {
  hardy_model_cfg_t cfg;
  int H, rH, heads, D, col_off[3];
  bool reference;
  hardy_nn_arena_t arena;
  uint8_t *init_kind; /* [n_tensors] */

  /* parameters, in arena order */
  expert_p ex[3];
  pair_p pair[3];
  lin_p uni[3];
  size_t uni_first;
  lin_p fuse, head, dec1, dec2;
  size_t fuse_first, head_first, dec_first;

  /* activations */
  void *act_mem;
  expert_a exa[3];
  pair_a pra[3];
  float *ulogits[3], *dulogits[3]; /* [R, n_out] */
  float *h, *fpre, *g;             /* [R, 3H] */
  uint8_t *fmask;                  /* [R, 3H] */
  float *logits, *dlogits;         /* [R, n_out] */
  float *dg, *dh;                  /* [R, 3H] */
  float *gd, *dgd;                 /* [R, 3H] decoder rows of g and its gradient */
  float *d1pre, *d1, *dd1;         /* [R, decoder_hidden] */
  float *xhat, *dxhat;             /* [R, D] */
  /* shared backward scratch of the attention units */
  float *s_pre2, *s_dpre2, *s_da, *s_dln, *s_datt; /* [R, H] */
  float *s_df1;                                    /* [R, rH] */
  float *s_dqkv;                                   /* [R, 3H] */
  /* outputs in batch-row layout */
  float *o_logits, *o_recon, *o_z[3], *o_pair[3];

  /* row plan of the current batch */
  int n_packed;
  int *pk_orig;    /* [R] */
  int *pk_pos[3];  /* [R] index of a packed row in expert m's set, -1 if absent */
  int *pk_ppos[3]; /* [R] index in pair p's set, -1 if neither modality present */
  int *pk_dpos;    /* [R] index in the decoder set, -1 if none */
  rowset_t packed, rs_ex[3], rs_pair[3], rs_dec;
  bool ex_active[3];
  unsigned dec_blocks; /* decoder output blocks (bit m) computed this pass */

  /* gradient readiness */
  hardy_grad_ready_fn on_ready;
  void *on_ready_user;
  size_t ready_lo;
  /* dropout */
  uint64_t drop_key, drop_step;
  bool drop_on;
};

/* Pair p joins modalities PAIR_M[p] and PAIR_N[p]: (a,t), (a,v), (t,v). */
extern const int HARDY_PAIR_M[3], HARDY_PAIR_N[3];

/* model.c: row plan of a batch (validates it; hardy_fail names the row). */
int hardy_model_plan(hardy_model_t *m, const hardy_batch_t *b, bool fused, bool pairs,
                     bool full_recon);
/* model_units.c */
void hardy_model_unit_forward(hardy_model_t *m, const unit_p *p, unit_a *a, const rowset_t *rs,
                              const float *xq, const float *xkv, const float *res, float *out);
void hardy_model_unit_backward(hardy_model_t *m, const unit_p *p, unit_a *a, const rowset_t *rs,
                               const float *xq, const float *xkv, const float *dout, float *dxq,
                               float *dxkv);
void hardy_model_expert_forward(hardy_model_t *m, int mod, const hardy_batch_t *b);
void hardy_model_expert_backward(hardy_model_t *m, int mod);
void hardy_model_report_ready(hardy_model_t *m, size_t lo);
/* Kernel dispatch: the optimised kernel, or its _ref twin on the reference path. */
#define NN(m, fn) ((m)->reference ? fn##_ref : fn)
void hardy_model_lin_fwd(hardy_model_t *m, const lin_p *l, float *out, int ld_out, const float *in,
                         int ld_in, int rows, bool with_bias);
void hardy_model_lin_bwd(hardy_model_t *m, const lin_p *l, float *din, int ld_din,
                         const float *dout, int ld_dout, const float *in, int ld_in, int rows);
/* Fused bias + activation + dropout with the model's dropout state (site id, row set keys). */
void hardy_model_bad_fwd(hardy_model_t *m, float *out, float *pre, uint8_t *mask, const float *bias,
                         const float *res1, const float *res2, int rows, int cols,
                         hardy_nn_act_t act, uint32_t site, const rowset_t *rs);
void hardy_model_ad_bwd(hardy_model_t *m, float *dpre, const float *dout, const float *pre,
                        const uint8_t *mask, int rows, int cols, hardy_nn_act_t act);

static inline float *P(hardy_model_t *m, size_t off) {
  return m->arena.params + off;
}
static inline float *G(hardy_model_t *m, size_t off) {
  return m->arena.grads + off;
}

#endif
