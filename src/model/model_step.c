/* Passes over a batch: the fusion, task head, unimodal heads, decoder and pair modules
 * (forward and backward), and the public entry points that run them: a training step
 * (forward + backward, gradients added to the arena, gradient buckets reported as they become
 * final), an evaluation forward pass with outputs in batch-row layout, and evaluation losses.
 *
 * Work that cannot change the result is skipped exactly: experts of modalities absent from the
 * whole batch are not run (their fusion block is zero, so the fusion GEMM skips its columns),
 * padding rows are not computed, each expert only sees rows where its modality is present, the
 * decoder only rows with a missing modality and only the output blocks of modalities missing
 * somewhere (the loss ignores the rest). */
#include <string.h>

#include "hardy/common.h"
#include "model_internal.h"

static const uint32_t FUSION_DROP_SITE = 8;

static bool block_active(const hardy_model_t *m, int mod) {
  return m->ex_active[mod];
}

/* ---- fusion and task head ---- */

static void fusion_forward(hardy_model_t *m) {
  const int NP = m->n_packed, H = m->H, H3 = 3 * H;
  const rowset_t *pk = &m->packed;
#pragma omp parallel for schedule(static)
  for (int p = 0; p < NP; p++)
    for (int mod = 0; mod < 3; mod++) {
      float *dst = m->h + (size_t)p * H3 + mod * H;
      int i = m->pk_pos[mod][p];
      if (block_active(m, mod) && i >= 0 && (pk->avail[p] >> mod & 1))
        memcpy(dst, m->exa[mod].z[m->cfg.depth] + (size_t)i * H, (size_t)H * sizeof(float));
      else
        memset(dst, 0, (size_t)H * sizeof(float));
    }
  int first = 1;
  for (int mod = 0; mod < 3; mod++) {
    if (!block_active(m, mod))
      continue; /* its h block is zero: skip its K-columns */
    NN(m, hardy_nn_linear_forward)
    (m->fpre, H3, m->h + mod * H, H3, P(m, m->fuse.w) + mod * H, H3, NULL, NP, H, H3, !first);
    first = 0;
  }
  hardy_model_bad_fwd(m, m->g, m->fpre, m->fmask, P(m, m->fuse.b), m->h, NULL, NP, H3,
                      HARDY_ACT_RELU, FUSION_DROP_SITE, pk);
  hardy_model_lin_fwd(m, &m->head, m->logits, m->cfg.n_out, m->g, H3, NP, true);
}

static double task_loss(hardy_model_t *m, float *dlogits, const float *logits, const rowset_t *rs) {
  const int C = m->cfg.n_out, R = rs->n;
  if (dlogits)
    memset(dlogits, 0, (size_t)R * C * sizeof(float));
  if (m->cfg.regression)
    return hardy_nn_mse(dlogits, logits, rs->score, rs->w, R);
  return hardy_nn_cross_entropy(dlogits, logits, rs->label, rs->w, R, C);
}

/* dg holds d loss / d g (head and decoder); leaves d loss / d z^m in exa[m].dz (set, not
 * added) for every active expert. */
static void fusion_backward(hardy_model_t *m) {
  const int NP = m->n_packed, H = m->H, H3 = 3 * H;
  float *dfpre = m->gd; /* the decoder's gather buffer is free once its backward is done */
  hardy_model_ad_bwd(m, dfpre, m->dg, m->fpre, m->fmask, NP, H3, HARDY_ACT_RELU);
  memcpy(m->dh, m->dg, (size_t)NP * H3 * sizeof(float)); /* residual g = h + ... */
  for (int mod = 0; mod < 3; mod++) {
    if (!block_active(m, mod))
      continue;
    NN(m, hardy_nn_linear_backward)
    (m->dh + mod * H, H3, G(m, m->fuse.w) + mod * H, H3, NULL, dfpre, H3, m->h + mod * H, H3,
     P(m, m->fuse.w) + mod * H, H3, NP, H, H3);
  }
  NN(m, hardy_nn_linear_backward)
  (NULL, 0, NULL, 0, G(m, m->fuse.b), dfpre, H3, NULL, 0, NULL, 0, NP, H3, H3);
  for (int mod = 0; mod < 3; mod++) {
    if (!block_active(m, mod))
      continue;
    const rowset_t *rs = &m->rs_ex[mod];
    float *dz = m->exa[mod].dz;
#pragma omp parallel for schedule(static)
    for (int i = 0; i < rs->n; i++) {
      if (rs->valid[i])
        memcpy(dz + (size_t)i * H, m->dh + (size_t)rs->row[i] * H3 + mod * H,
               (size_t)H * sizeof(float));
      else
        memset(dz + (size_t)i * H, 0, (size_t)H * sizeof(float));
    }
  }
}

/* ---- decoder ---- */

static const float *decoder_input(hardy_model_t *m) {
  const rowset_t *rs = &m->rs_dec;
  const int H3 = 3 * m->H;
  if (rs->n == m->n_packed)
    return m->g; /* every packed row, in order */
#pragma omp parallel for schedule(static)
  for (int i = 0; i < rs->n; i++)
    memcpy(m->gd + (size_t)i * H3, m->g + (size_t)rs->row[i] * H3, (size_t)H3 * sizeof(float));
  return m->gd;
}

static double decoder_forward(hardy_model_t *m, const hardy_batch_t *b, bool grads) {
  const rowset_t *rs = &m->rs_dec;
  const int R = rs->n, dh = m->cfg.decoder_hidden, D = m->D, H3 = 3 * m->H;
  if (R == 0 || !m->dec_blocks)
    return 0.0;
  const float *gin = decoder_input(m);
  hardy_model_lin_fwd(m, &m->dec1, m->d1pre, dh, gin, H3, R, false);
  NN(m, hardy_nn_bias_act_dropout_forward)
  (m->d1, m->d1pre, NULL, P(m, m->dec1.b), NULL, NULL, R, dh, HARDY_ACT_RELU, NULL);
  for (int mod = 0; mod < 3; mod++) {
    if (!(m->dec_blocks >> mod & 1u))
      continue;
    size_t off = (size_t)m->col_off[mod];
    NN(m, hardy_nn_linear_forward)
    (m->xhat + off, D, m->d1, dh, P(m, m->dec2.w) + off * dh, dh, P(m, m->dec2.b) + off, R, dh,
     m->cfg.dims[mod], 0);
  }
  if (grads)
#pragma omp parallel for schedule(static)
    for (int i = 0; i < R; i++)
      for (int mod = 0; mod < 3; mod++)
        if (m->dec_blocks >> mod & 1u)
          memset(m->dxhat + (size_t)i * D + m->col_off[mod], 0,
                 (size_t)m->cfg.dims[mod] * sizeof(float));
  const float *target[3];
  for (int mod = 0; mod < 3; mod++)
    target[mod] = b->target[mod] ? b->target[mod] : b->x[mod];
  return hardy_nn_recon_loss(grads ? m->dxhat : NULL, m->xhat, D, target, rs->orig, rs->avail,
                             b->truth, rs->w, m->cfg.dims, m->col_off, m->dec_blocks, R);
}

/* Adds lambda * d L_rec / d g into dg. */
static void decoder_backward(hardy_model_t *m, float lambda) {
  const rowset_t *rs = &m->rs_dec;
  const int R = rs->n, dh = m->cfg.decoder_hidden, D = m->D, H3 = 3 * m->H;
  if (R == 0 || !m->dec_blocks || lambda == 0.0f)
    return;
  if (lambda != 1.0f)
#pragma omp parallel for schedule(static)
    for (int i = 0; i < R; i++)
      for (int mod = 0; mod < 3; mod++)
        if (m->dec_blocks >> mod & 1u)
          for (int c = 0; c < m->cfg.dims[mod]; c++)
            m->dxhat[(size_t)i * D + m->col_off[mod] + c] *= lambda;
  memset(m->dd1, 0, (size_t)R * dh * sizeof(float));
  for (int mod = 0; mod < 3; mod++) {
    if (!(m->dec_blocks >> mod & 1u))
      continue;
    size_t off = (size_t)m->col_off[mod];
    NN(m, hardy_nn_linear_backward)
    (m->dd1, dh, G(m, m->dec2.w) + off * dh, dh, G(m, m->dec2.b) + off, m->dxhat + off, D, m->d1,
     dh, P(m, m->dec2.w) + off * dh, dh, R, dh, m->cfg.dims[mod]);
  }
  NN(m, hardy_nn_act_dropout_backward)(m->dd1, m->dd1, m->d1pre, NULL, 0.0f, R, dh, HARDY_ACT_RELU);
  const float *gin = rs->n == m->n_packed ? m->g : m->gd;
  if (gin == m->g) {
    hardy_model_lin_bwd(m, &m->dec1, m->dg, H3, m->dd1, dh, gin, H3, R);
    return;
  }
  memset(m->dgd, 0, (size_t)R * H3 * sizeof(float));
  hardy_model_lin_bwd(m, &m->dec1, m->dgd, H3, m->dd1, dh, gin, H3, R);
#pragma omp parallel for schedule(static)
  for (int i = 0; i < R; i++) {
    float *dst = m->dg + (size_t)rs->row[i] * H3;
    const float *src = m->dgd + (size_t)i * H3;
    for (int c = 0; c < H3; c++)
      dst[c] += src[c];
  }
}

/* ---- pair modules (teacher) ---- */

static void pair_gather(hardy_model_t *m, int p) {
  const rowset_t *rs = &m->rs_pair[p];
  pair_a *a = &m->pra[p];
  const int H = m->H, mods[2] = {HARDY_PAIR_M[p], HARDY_PAIR_N[p]};
  float *dst[2] = {a->xm, a->xn};
#pragma omp parallel for schedule(static)
  for (int i = 0; i < rs->n; i++)
    for (int s = 0; s < 2; s++) {
      int mod = mods[s], k = m->pk_pos[mod][rs->row[i]];
      float *d = dst[s] + (size_t)i * H;
      if (block_active(m, mod) && k >= 0 && (rs->avail[i] >> mod & 1))
        memcpy(d, m->exa[mod].z[m->cfg.depth] + (size_t)k * H, (size_t)H * sizeof(float));
      else
        memset(d, 0, (size_t)H * sizeof(float));
    }
}

static double pair_forward(hardy_model_t *m, int p, bool grads) {
  const rowset_t *rs = &m->rs_pair[p];
  pair_a *a = &m->pra[p];
  const int R = rs->n, H = m->H;
  if (R == 0)
    return 0.0;
  pair_gather(m, p);
  hardy_model_unit_forward(m, &m->pair[p].dir[0], &a->dir[0], rs, a->xm, a->xn, NULL, a->out[0]);
  hardy_model_unit_forward(m, &m->pair[p].dir[1], &a->dir[1], rs, a->xn, a->xm, NULL, a->out[1]);
  const size_t n = (size_t)R * H;
#pragma omp parallel for simd schedule(static)
  for (size_t e = 0; e < n; e++)
    a->j[e] = a->out[0][e] + a->out[1][e];
  hardy_model_lin_fwd(m, &m->pair[p].head, a->logits, m->cfg.n_out, a->j, H, R, true);
  return task_loss(m, grads ? a->dlogits : NULL, a->logits, rs);
}

static void pair_backward(hardy_model_t *m, int p) {
  const rowset_t *rs = &m->rs_pair[p];
  pair_a *a = &m->pra[p];
  const int R = rs->n, H = m->H, mods[2] = {HARDY_PAIR_M[p], HARDY_PAIR_N[p]};
  if (R > 0) {
    const size_t RH = (size_t)R * H * sizeof(float);
    float *dj = a->out[0]; /* the direction outputs are not needed by backward */
    memset(dj, 0, RH);
    hardy_model_lin_bwd(m, &m->pair[p].head, dj, H, a->dlogits, m->cfg.n_out, a->j, H, R);
    memset(a->dxm, 0, RH);
    memset(a->dxn, 0, RH);
    hardy_model_unit_backward(m, &m->pair[p].dir[0], &a->dir[0], rs, a->xm, a->xn, dj, a->dxm,
                              a->dxn);
    hardy_model_unit_backward(m, &m->pair[p].dir[1], &a->dir[1], rs, a->xn, a->xm, dj, a->dxn,
                              a->dxm);
    const float *src[2] = {a->dxm, a->dxn};
    for (int s = 0; s < 2; s++) {
      int mod = mods[s];
      if (!block_active(m, mod))
        continue;
      float *dz = m->exa[mod].dz;
#pragma omp parallel for schedule(static)
      for (int i = 0; i < R; i++) {
        int k = m->pk_pos[mod][rs->row[i]];
        if (k < 0 || !(rs->avail[i] >> mod & 1))
          continue;
        for (int c = 0; c < H; c++)
          dz[(size_t)k * H + c] += src[s][(size_t)i * H + c];
      }
    }
  }
  hardy_model_report_ready(m, m->pair[p].first);
}

/* ---- unimodal heads (stage 1) ---- */

static double uni_forward(hardy_model_t *m, int mod, bool grads) {
  const rowset_t *rs = &m->rs_ex[mod];
  if (!block_active(m, mod) || rs->n == 0)
    return 0.0;
  hardy_model_lin_fwd(m, &m->uni[mod], m->ulogits[mod], m->cfg.n_out, m->exa[mod].z[m->cfg.depth],
                      m->H, rs->n, true);
  return task_loss(m, grads ? m->dulogits[mod] : NULL, m->ulogits[mod], rs);
}

static void uni_backward(hardy_model_t *m, int mod) {
  const rowset_t *rs = &m->rs_ex[mod];
  if (!block_active(m, mod) || rs->n == 0)
    return;
  memset(m->exa[mod].dz, 0, (size_t)rs->n * m->H * sizeof(float));
  hardy_model_lin_bwd(m, &m->uni[mod], m->exa[mod].dz, m->H, m->dulogits[mod], m->cfg.n_out,
                      m->exa[mod].z[m->cfg.depth], m->H, rs->n);
}

/* ---- passes ---- */

typedef struct {
  bool grads;      /* backward too */
  bool dropout;    /* training-mode dropout */
  bool full_recon; /* decoder on every real row, every block (outputs) */
  bool pairs;      /* run the pair modules */
} pass_t;

static int run(hardy_model_t *m, const hardy_batch_t *b, hardy_stage_t stage, float lambda_rec,
               uint64_t step, const pass_t *ps, hardy_losses_t *losses) {
  const bool fused = stage != HARDY_STAGE_UNIMODAL;
  if (stage != HARDY_STAGE_UNIMODAL && stage != HARDY_STAGE_FUSED)
    return hardy_fail(HARDY_ERR_INPUT, "model: unknown stage %d", (int)stage);
  HARDY_CHECK(hardy_model_plan(m, b, fused, ps->pairs && m->cfg.cross_attention, ps->full_recon));
  m->drop_on = ps->dropout && m->cfg.dropout > 0.0f;
  m->drop_step = step;
  m->ready_lo = m->arena.n_params;
  hardy_losses_t l = {0};
  for (int p = 0; p < m->n_packed; p++)
    l.weight += m->packed.w[p];
  if (m->n_packed > 0) {
    for (int mod = 0; mod < 3; mod++)
      if (block_active(m, mod))
        hardy_model_expert_forward(m, mod, b);
    if (!fused) {
      for (int mod = 0; mod < 3; mod++)
        l.task += uni_forward(m, mod, ps->grads);
    } else {
      fusion_forward(m);
      l.task = task_loss(m, ps->grads ? m->dlogits : NULL, m->logits, &m->packed);
      l.rec = decoder_forward(m, b, ps->grads);
      for (int p = 0; p < 3; p++)
        l.pair += pair_forward(m, p, ps->grads);
    }
  }
  l.total = l.task + (double)lambda_rec * l.rec + l.pair;
  if (losses)
    *losses = l;
  if (!ps->grads || m->n_packed == 0) {
    hardy_model_report_ready(m, 0);
    return HARDY_OK;
  }
  const int H3 = 3 * m->H;
  if (fused) {
    memset(m->dg, 0, (size_t)m->n_packed * H3 * sizeof(float));
    decoder_backward(m, lambda_rec);
    hardy_model_report_ready(m, m->dec_first);
    hardy_model_lin_bwd(m, &m->head, m->dg, H3, m->dlogits, m->cfg.n_out, m->g, H3, m->n_packed);
    hardy_model_report_ready(m, m->head_first);
    fusion_backward(m);
    hardy_model_report_ready(m, m->uni_first);
    if (m->cfg.cross_attention)
      for (int p = 2; p >= 0; p--)
        pair_backward(m, p);
  } else {
    for (int mod = 0; mod < 3; mod++)
      uni_backward(m, mod);
    hardy_model_report_ready(m, m->uni_first);
  }
  for (int mod = 2; mod >= 0; mod--)
    hardy_model_expert_backward(m, mod);
  hardy_model_report_ready(m, 0);
  return HARDY_OK;
}

int hardy_model_train_step(hardy_model_t *m, const hardy_batch_t *b, hardy_stage_t stage,
                           float lambda_rec, uint64_t step, hardy_losses_t *losses,
                           hardy_grad_ready_fn on_ready, void *user) {
  pass_t ps = {true, true, false, true};
  m->on_ready = on_ready;
  m->on_ready_user = user;
  int rc = run(m, b, stage, lambda_rec, step, &ps, losses);
  m->on_ready = NULL;
  return rc;
}

int hardy_model_eval_loss(hardy_model_t *m, const hardy_batch_t *b, hardy_stage_t stage,
                          float lambda_rec, hardy_losses_t *losses) {
  pass_t ps = {false, false, false, true};
  return run(m, b, stage, lambda_rec, 0, &ps, losses);
}

/* Copy packed-row results to batch-row layout; padding rows and absent modalities are 0. */
static void scatter_outputs(hardy_model_t *m, const hardy_batch_t *b, hardy_model_out_t *out) {
  const int N = b->n_dialogue * b->max_len, H = m->H, C = m->cfg.n_out, D = m->D, H3 = 3 * H;
  const bool pairs = m->cfg.cross_attention;
  memset(m->o_logits, 0, (size_t)N * C * sizeof(float));
  memset(m->o_recon, 0, (size_t)N * D * sizeof(float));
  for (int s = 0; s < 3; s++) {
    memset(m->o_z[s], 0, (size_t)N * H * sizeof(float));
    if (pairs)
      memset(m->o_pair[s], 0, (size_t)N * H * sizeof(float));
  }
  const rowset_t *pk = &m->packed;
#pragma omp parallel for schedule(static)
  for (int p = 0; p < m->n_packed; p++) {
    if (!pk->avail[p])
      continue;
    size_t r = (size_t)pk->orig[p];
    memcpy(m->o_logits + r * C, m->logits + (size_t)p * C, (size_t)C * sizeof(float));
    int k = m->pk_dpos[p];
    if (k >= 0)
      memcpy(m->o_recon + r * D, m->xhat + (size_t)k * D, (size_t)D * sizeof(float));
    for (int mod = 0; mod < 3; mod++)
      memcpy(m->o_z[mod] + r * H, m->h + (size_t)p * H3 + mod * H, (size_t)H * sizeof(float));
    for (int q = 0; pairs && q < 3; q++) {
      int i = m->pk_ppos[q][p];
      if (i >= 0 && m->rs_pair[q].valid[i])
        memcpy(m->o_pair[q] + r * H, m->pra[q].j + (size_t)i * H, (size_t)H * sizeof(float));
    }
  }
  out->logits = m->o_logits;
  out->recon = m->o_recon;
  for (int s = 0; s < 3; s++) {
    out->z[s] = m->o_z[s];
    out->pair[s] = pairs ? m->o_pair[s] : NULL;
  }
}

static int forward_outputs(hardy_model_t *m, const hardy_batch_t *b, bool dropout, uint64_t step,
                           hardy_model_out_t *out) {
  pass_t ps = {false, dropout, true, true};
  HARDY_CHECK(run(m, b, HARDY_STAGE_FUSED, 1.0f, step, &ps, NULL));
  scatter_outputs(m, b, out);
  return HARDY_OK;
}

int hardy_model_forward(hardy_model_t *m, const hardy_batch_t *b, hardy_model_out_t *out) {
  return forward_outputs(m, b, false, 0, out);
}

int hardy_model_forward_dropout(hardy_model_t *m, const hardy_batch_t *b, uint64_t step,
                                hardy_model_out_t *out) {
  return forward_outputs(m, b, true, step, out);
}
