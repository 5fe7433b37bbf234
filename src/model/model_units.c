/* The layers of the backbone as the model uses them: kernel dispatch (optimised or _ref),
 * the attention unit shared by expert blocks and cross-attention modules, the per-modality
 * expert (input projection + residual blocks), and gradient-readiness reporting. */
#include <string.h>

#include "hardy/common.h"
#include "model_internal.h"

void hardy_model_lin_fwd(hardy_model_t *m, const lin_p *l, float *out, int ld_out, const float *in,
                         int ld_in, int rows, bool with_bias) {
  NN(m, hardy_nn_linear_forward)
  (out, ld_out, in, ld_in, P(m, l->w), l->in, with_bias ? P(m, l->b) : NULL, rows, l->in, l->out,
   0);
}

void hardy_model_lin_bwd(hardy_model_t *m, const lin_p *l, float *din, int ld_din,
                         const float *dout, int ld_dout, const float *in, int ld_in, int rows) {
  NN(m, hardy_nn_linear_backward)
  (din, ld_din, G(m, l->w), l->in, G(m, l->b), dout, ld_dout, in, ld_in, P(m, l->w), l->in, rows,
   l->in, l->out);
}

void hardy_model_bad_fwd(hardy_model_t *m, float *out, float *pre, uint8_t *mask, const float *bias,
                         const float *res1, const float *res2, int rows, int cols,
                         hardy_nn_act_t act, uint32_t site, const rowset_t *rs) {
  hardy_nn_dropout_t d = {m->drop_on ? m->cfg.dropout : 0.0f, m->drop_key, m->drop_step, site,
                          rs->utt};
  NN(m, hardy_nn_bias_act_dropout_forward)(out, pre, mask, bias, res1, res2, rows, cols, act, &d);
}

void hardy_model_ad_bwd(hardy_model_t *m, float *dpre, const float *dout, const float *pre,
                        const uint8_t *mask, int rows, int cols, hardy_nn_act_t act) {
  float rate = m->drop_on ? m->cfg.dropout : 0.0f;
  NN(m, hardy_nn_act_dropout_backward)(dpre, dout, pre, mask, rate, rows, cols, act);
}

void hardy_model_report_ready(hardy_model_t *m, size_t lo) {
  if (lo >= m->ready_lo)
    return;
  if (m->on_ready)
    m->on_ready(m->on_ready_user, lo, m->ready_lo);
  m->ready_lo = lo;
}

static hardy_nn_attn_t attn_of(const hardy_model_t *m, const rowset_t *rs) {
  hardy_nn_attn_t a = {rs->seg, rs->n_seg, rs->masked ? rs->valid : NULL, m->heads,
                       m->H / m->heads};
  return a;
}

void hardy_model_unit_forward(hardy_model_t *m, const unit_p *p, unit_a *a, const rowset_t *rs,
                              const float *xq, const float *xkv, const float *res, float *out) {
  const int R = rs->n, H = m->H, rH = m->rH;
  if (R == 0)
    return;
  if (xq == xkv) {
    const float *in = xq;
    if (p->has_ln) {
      NN(m, hardy_nn_layernorm_forward)(a->ln1, a->ln1s, xq, P(m, p->ln1.g), P(m, p->ln1.b), R, H);
      in = a->ln1;
    }
    hardy_model_lin_fwd(m, &p->qkv, a->qkv, 3 * H, in, H, R, true);
  } else {
    /* queries from xq, keys and values from xkv: rows [0, H) and [H, 3H) of in_proj */
    NN(m, hardy_nn_linear_forward)
    (a->qkv, 3 * H, xq, H, P(m, p->qkv.w), H, P(m, p->qkv.b), R, H, H, 0);
    NN(m, hardy_nn_linear_forward)
    (a->qkv + H, 3 * H, xkv, H, P(m, p->qkv.w) + (size_t)H * H, H, P(m, p->qkv.b) + H, R, H, 2 * H,
     0);
  }
  hardy_nn_attn_t at = attn_of(m, rs);
  NN(m, hardy_nn_attention_forward)
  (a->att, H, a->lse, a->qkv, 3 * H, a->qkv + H, 3 * H, a->qkv + 2 * H, 3 * H, &at);
  if (p->has_proj)
    hardy_model_lin_fwd(m, &p->proj, a->a, H, a->att, H, R, true); /* else a->a is a->att */
  const float *in2 = a->a;
  if (p->has_ln) {
    NN(m, hardy_nn_layernorm_forward)(a->ln2, a->ln2s, a->a, P(m, p->ln2.g), P(m, p->ln2.b), R, H);
    in2 = a->ln2;
  }
  hardy_model_lin_fwd(m, &p->fc1, a->f1, rH, in2, H, R, false);
  hardy_model_bad_fwd(m, a->f1a, a->f1, a->m1, P(m, p->fc1.b), NULL, NULL, R, rH, HARDY_ACT_GELU,
                      p->drop_id, rs);
  hardy_model_lin_fwd(m, &p->fc2, m->s_pre2, H, a->f1a, rH, R, false);
  hardy_model_bad_fwd(m, out, m->s_pre2, a->m2, P(m, p->fc2.b), res, a->a, R, H, HARDY_ACT_NONE,
                      p->drop_id + 1, rs);
}

/* dout may be the same buffer as dxq (expert blocks keep one running gradient): it is read
 * completely before dxq is written. */
void hardy_model_unit_backward(hardy_model_t *m, const unit_p *p, unit_a *a, const rowset_t *rs,
                               const float *xq, const float *xkv, const float *dout, float *dxq,
                               float *dxkv) {
  const int R = rs->n, H = m->H, rH = m->rH;
  if (R == 0)
    return;
  const size_t RH = (size_t)R * H * sizeof(float);
  hardy_model_ad_bwd(m, m->s_dpre2, dout, NULL, a->m2, R, H, HARDY_ACT_NONE);
  memset(m->s_df1, 0, (size_t)R * rH * sizeof(float));
  hardy_model_lin_bwd(m, &p->fc2, m->s_df1, rH, m->s_dpre2, H, a->f1a, rH, R);
  hardy_model_ad_bwd(m, m->s_df1, m->s_df1, a->f1, a->m1, R, rH, HARDY_ACT_GELU);
  memcpy(m->s_da, dout, RH); /* a feeds the output directly (residual) and the MLP */
  if (p->has_ln) {
    memset(m->s_dln, 0, RH);
    hardy_model_lin_bwd(m, &p->fc1, m->s_dln, H, m->s_df1, rH, a->ln2, H, R);
    NN(m, hardy_nn_layernorm_backward)
    (m->s_da, G(m, p->ln2.g), G(m, p->ln2.b), m->s_dln, a->a, a->ln2s, P(m, p->ln2.g), R, H);
  } else {
    hardy_model_lin_bwd(m, &p->fc1, m->s_da, H, m->s_df1, rH, a->a, H, R);
  }
  const float *datt = m->s_da; /* d loss / d att: a itself without the output projection */
  if (p->has_proj) {
    memset(m->s_datt, 0, RH);
    hardy_model_lin_bwd(m, &p->proj, m->s_datt, H, m->s_da, H, a->att, H, R);
    datt = m->s_datt;
  }
  hardy_nn_attn_t at = attn_of(m, rs);
  float *dq = m->s_dqkv;
  NN(m, hardy_nn_attention_backward)
  (dq, dq + H, dq + 2 * H, datt, H, a->att, a->lse, a->qkv, 3 * H, a->qkv + H, 3 * H,
   a->qkv + 2 * H, 3 * H, &at);
  if (xq == xkv) {
    if (p->has_ln) {
      memset(m->s_dln, 0, RH);
      hardy_model_lin_bwd(m, &p->qkv, m->s_dln, H, dq, 3 * H, a->ln1, H, R);
      NN(m, hardy_nn_layernorm_backward)
      (dxq, G(m, p->ln1.g), G(m, p->ln1.b), m->s_dln, xq, a->ln1s, P(m, p->ln1.g), R, H);
    } else {
      hardy_model_lin_bwd(m, &p->qkv, dxq, H, dq, 3 * H, xq, H, R);
    }
  } else {
    NN(m, hardy_nn_linear_backward)
    (dxq, H, G(m, p->qkv.w), H, G(m, p->qkv.b), dq, 3 * H, xq, H, P(m, p->qkv.w), H, R, H, H);
    NN(m, hardy_nn_linear_backward)
    (dxkv, H, G(m, p->qkv.w) + (size_t)H * H, H, G(m, p->qkv.b) + H, dq + H, 3 * H, xkv, H,
     P(m, p->qkv.w) + (size_t)H * H, H, R, H, 2 * H);
  }
}

void hardy_model_expert_forward(hardy_model_t *m, int mod, const hardy_batch_t *b) {
  const rowset_t *rs = &m->rs_ex[mod];
  expert_a *e = &m->exa[mod];
  const expert_p *p = &m->ex[mod];
  const int R = rs->n, d = m->cfg.dims[mod];
  if (R == 0)
    return;
    /* gather the set's rows; absent rows (reference path only) are zero-filled */
#pragma omp parallel for schedule(static)
  for (int i = 0; i < R; i++) {
    float *dst = e->xin + (size_t)i * d;
    if (rs->valid[i])
      memcpy(dst, b->x[mod] + (size_t)rs->orig[i] * d, (size_t)d * sizeof(float));
    else
      memset(dst, 0, (size_t)d * sizeof(float));
  }
  hardy_model_lin_fwd(m, &p->in, e->pre, m->H, e->xin, d, R, false);
  hardy_model_bad_fwd(m, e->z[0], e->pre, e->mu, P(m, p->in.b), NULL, NULL, R, m->H, HARDY_ACT_NONE,
                      1u + (uint32_t)mod, rs);
  for (int l = 0; l < m->cfg.depth; l++)
    hardy_model_unit_forward(m, &p->layer[l], &e->layer[l], rs, e->z[l], e->z[l], e->z[l],
                             e->z[l + 1]);
}

/* e->dz holds d loss / d z[depth] on entry. */
void hardy_model_expert_backward(hardy_model_t *m, int mod) {
  const rowset_t *rs = &m->rs_ex[mod];
  expert_a *e = &m->exa[mod];
  const expert_p *p = &m->ex[mod];
  const int R = rs->n;
  if (m->ex_active[mod] && R > 0) {
    for (int l = m->cfg.depth - 1; l >= 0; l--) {
      hardy_model_unit_backward(m, &p->layer[l], &e->layer[l], rs, e->z[l], e->z[l], e->dz, e->dz,
                                e->dz);
      hardy_model_report_ready(m, p->layer[l].first);
    }
    hardy_model_ad_bwd(m, e->pre, e->dz, NULL, e->mu, R, m->H, HARDY_ACT_NONE);
    hardy_model_lin_bwd(m, &p->in, NULL, 0, e->pre, m->H, e->xin, m->cfg.dims[mod], R);
  }
  hardy_model_report_ready(m, p->first);
}
