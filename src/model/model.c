/* HARDY backbone: creation (parameter arena in forward order, activation buffer carved once
 * from cfg.max_rows), named tensors, deterministic initialisation, and the row plan of a
 * batch (which packed rows each module works on). The passes live in model_step.c, the layers
 * in model_units.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hardy/common.h"
#include "hardy/rng.h"
#include "model_internal.h"

const int HARDY_PAIR_M[3] = {0, 0, 1}, HARDY_PAIR_N[3] = {1, 2, 2};
static const char MOD_NAME[3] = {'a', 't', 'v'};

enum { INIT_LINEAR = 0, INIT_XAVIER = 1, INIT_ZERO = 2, INIT_ONE = 3 };

/* ---- parameters ---------------------------------------------------------------------------- */

static int add_tensor(hardy_model_t *m, size_t *off, int kind, int64_t rows, int64_t cols,
                      const char *fmt, const char *a, const char *b) {
  char name[80];
  snprintf(name, sizeof name, fmt, a, b);
  *off = hardy_nn_arena_add(&m->arena, name, rows, cols);
  if (*off == (size_t)-1)
    return HARDY_ERR_RUNTIME;
  uint8_t *k = realloc(m->init_kind, m->arena.n_tensors);
  if (!k)
    return hardy_fail(HARDY_ERR_RUNTIME, "out of memory registering tensor '%s'", name);
  m->init_kind = k;
  k[m->arena.n_tensors - 1] = (uint8_t)kind;
  return HARDY_OK;
}

static int add_linear(hardy_model_t *m, lin_p *l, int in, int out, const char *prefix,
                      const char *what, int wkind, int bkind) {
  l->in = in;
  l->out = out;
  HARDY_CHECK(add_tensor(m, &l->w, wkind, out, in, "%s%s.weight", prefix, what));
  HARDY_CHECK(add_tensor(m, &l->b, bkind, out, 0, "%s%s.bias", prefix, what));
  return HARDY_OK;
}

static int add_ln(hardy_model_t *m, ln_p *l, int H, const char *prefix, const char *what) {
  HARDY_CHECK(add_tensor(m, &l->g, INIT_ONE, H, 0, "%s%s.weight", prefix, what));
  HARDY_CHECK(add_tensor(m, &l->b, INIT_ZERO, H, 0, "%s%s.bias", prefix, what));
  return HARDY_OK;
}

static int add_unit(hardy_model_t *m, unit_p *u, bool ln, bool proj, const char *prefix,
                    uint32_t drop_id) {
  int H = m->H;
  u->has_ln = ln;
  u->has_proj = proj;
  u->drop_id = drop_id;
  u->first = m->arena.n_params;
  if (ln)
    HARDY_CHECK(add_ln(m, &u->ln1, H, prefix, "ln1"));
  HARDY_CHECK(add_linear(m, &u->qkv, H, 3 * H, prefix, "attn.in_proj", INIT_XAVIER, INIT_ZERO));
  if (proj)
    HARDY_CHECK(add_linear(m, &u->proj, H, H, prefix, "attn.out_proj", INIT_LINEAR, INIT_ZERO));
  if (ln)
    HARDY_CHECK(add_ln(m, &u->ln2, H, prefix, "ln2"));
  HARDY_CHECK(add_linear(m, &u->fc1, H, m->rH, prefix, "mlp.fc1", INIT_LINEAR, INIT_LINEAR));
  HARDY_CHECK(add_linear(m, &u->fc2, m->rH, H, prefix, "mlp.fc2", INIT_LINEAR, INIT_LINEAR));
  return HARDY_OK;
}

/* Arena order = forward order, so backward finishes tensors from the end of the arena towards
 * the start: decoder, task head, fusion, (unimodal heads), pair modules, experts v, t, a. */
static int layout_params(hardy_model_t *m) {
  const hardy_model_cfg_t *c = &m->cfg;
  char prefix[64];
  for (int mod = 0; mod < 3; mod++) {
    expert_p *e = &m->ex[mod];
    e->first = m->arena.n_params;
    snprintf(prefix, sizeof prefix, "expert.%c.", MOD_NAME[mod]);
    HARDY_CHECK(add_linear(m, &e->in, c->dims[mod], m->H, prefix, "in", INIT_LINEAR, INIT_LINEAR));
    e->layer = calloc((size_t)c->depth, sizeof *e->layer);
    if (!e->layer)
      return hardy_fail(HARDY_ERR_RUNTIME, "out of memory creating the model");
    for (int l = 0; l < c->depth; l++) {
      snprintf(prefix, sizeof prefix, "expert.%c.layer%d.", MOD_NAME[mod], l);
      HARDY_CHECK(
          add_unit(m, &e->layer[l], c->layernorm, c->attn_out_proj, prefix,
                   16u + (uint32_t)(mod * 256 + l) * 2u));
    }
  }
  if (c->cross_attention)
    for (int p = 0; p < 3; p++) {
      char mn = MOD_NAME[HARDY_PAIR_M[p]], nn = MOD_NAME[HARDY_PAIR_N[p]];
      m->pair[p].first = m->arena.n_params;
      for (int d = 0; d < 2; d++) {
        snprintf(prefix, sizeof prefix, "pair.%c%c.ca_%c_to_%c.", mn, nn, d ? nn : mn, d ? mn : nn);
        HARDY_CHECK(
            add_unit(m, &m->pair[p].dir[d], false, true, prefix, 2048u + (uint32_t)(p * 2 + d) * 2u));
      }
      snprintf(prefix, sizeof prefix, "pair.%c%c.", mn, nn);
      HARDY_CHECK(add_linear(m, &m->pair[p].head, m->H, c->n_out, prefix, "head", INIT_LINEAR,
                             INIT_LINEAR));
    }
  m->uni_first = m->arena.n_params;
  for (int mod = 0; mod < 3; mod++) {
    snprintf(prefix, sizeof prefix, "uni.%c", MOD_NAME[mod]);
    HARDY_CHECK(add_linear(m, &m->uni[mod], m->H, c->n_out, prefix, "", INIT_LINEAR, INIT_LINEAR));
  }
  m->fuse_first = m->arena.n_params;
  HARDY_CHECK(add_linear(m, &m->fuse, 3 * m->H, 3 * m->H, "", "fusion", INIT_LINEAR, INIT_LINEAR));
  m->head_first = m->arena.n_params;
  HARDY_CHECK(add_linear(m, &m->head, 3 * m->H, c->n_out, "", "head", INIT_LINEAR, INIT_LINEAR));
  m->dec_first = m->arena.n_params;
  HARDY_CHECK(add_linear(m, &m->dec1, 3 * m->H, c->decoder_hidden, "decoder.", "fc1", INIT_LINEAR,
                         INIT_LINEAR));
  HARDY_CHECK(add_linear(m, &m->dec2, c->decoder_hidden, m->D, "decoder.", "fc2", INIT_LINEAR,
                         INIT_LINEAR));
  return hardy_nn_arena_alloc(&m->arena);
}

/* ---- activations --------------------------------------------------------------------------- */

typedef struct {
  char *base;
  size_t off;
} carve_t;

static void *take(carve_t *c, size_t bytes) {
  void *p = c->base ? c->base + c->off : NULL;
  c->off += (bytes + 63) / 64 * 64;
  return p;
}
#define TAKE_F(c, n) ((float *)take((c), (size_t)(n) * sizeof(float)))
#define TAKE_B(c, n) ((uint8_t *)take((c), (size_t)(n)))
#define TAKE_I(c, n) ((int *)take((c), (size_t)(n) * sizeof(int)))

static void carve_unit(hardy_model_t *m, carve_t *c, unit_a *u, bool ln, bool proj) {
  size_t R = (size_t)m->cfg.max_rows, H = (size_t)m->H;
  if (ln) {
    u->ln1 = TAKE_F(c, R * H);
    u->ln1s = TAKE_F(c, R * 2);
    u->ln2 = TAKE_F(c, R * H);
    u->ln2s = TAKE_F(c, R * 2);
  }
  u->qkv = TAKE_F(c, R * 3 * H);
  u->att = TAKE_F(c, R * H);
  u->lse = TAKE_F(c, R * m->heads);
  u->a = proj ? TAKE_F(c, R * H) : u->att;
  u->f1 = TAKE_F(c, R * m->rH);
  u->f1a = TAKE_F(c, R * m->rH);
  u->m1 = TAKE_B(c, R * m->rH);
  u->m2 = TAKE_B(c, R * H);
}

static void carve_rowset(carve_t *c, rowset_t *rs, size_t R) {
  rs->row = TAKE_I(c, R);
  rs->seg = TAKE_I(c, R + 1);
  rs->valid = TAKE_B(c, R);
  rs->utt = (int64_t *)take(c, R * sizeof(int64_t));
  rs->w = TAKE_F(c, R);
  rs->label = (int32_t *)take(c, R * sizeof(int32_t));
  rs->score = TAKE_F(c, R);
  rs->avail = TAKE_B(c, R);
  rs->orig = TAKE_I(c, R);
}

static void carve_all(hardy_model_t *m, carve_t *c) {
  const hardy_model_cfg_t *cfg = &m->cfg;
  size_t R = (size_t)cfg->max_rows, H = (size_t)m->H, H3 = 3 * H, C = (size_t)cfg->n_out;
  for (int mod = 0; mod < 3; mod++) {
    expert_a *e = &m->exa[mod];
    e->xin = TAKE_F(c, R * cfg->dims[mod]);
    e->pre = TAKE_F(c, R * H);
    e->mu = TAKE_B(c, R * H);
    for (int l = 0; l <= cfg->depth; l++)
      e->z[l] = TAKE_F(c, R * H);
    for (int l = 0; l < cfg->depth; l++)
      carve_unit(m, c, &e->layer[l], cfg->layernorm, cfg->attn_out_proj);
    e->dz = TAKE_F(c, R * H);
    m->ulogits[mod] = TAKE_F(c, R * C);
    m->dulogits[mod] = TAKE_F(c, R * C);
    m->o_z[mod] = TAKE_F(c, R * H);
    m->pk_pos[mod] = TAKE_I(c, R);
    m->pk_ppos[mod] = TAKE_I(c, R);
    carve_rowset(c, &m->rs_ex[mod], R);
    carve_rowset(c, &m->rs_pair[mod], R);
    if (cfg->cross_attention) {
      pair_a *p = &m->pra[mod];
      p->xm = TAKE_F(c, R * H);
      p->xn = TAKE_F(c, R * H);
      p->dxm = TAKE_F(c, R * H);
      p->dxn = TAKE_F(c, R * H);
      for (int d = 0; d < 2; d++) {
        carve_unit(m, c, &p->dir[d], false, true);
        p->out[d] = TAKE_F(c, R * H);
      }
      p->j = TAKE_F(c, R * H);
      p->logits = TAKE_F(c, R * C);
      p->dlogits = TAKE_F(c, R * C);
      m->o_pair[mod] = TAKE_F(c, R * H);
    }
  }
  m->h = TAKE_F(c, R * H3);
  m->fpre = TAKE_F(c, R * H3);
  m->g = TAKE_F(c, R * H3);
  m->fmask = TAKE_B(c, R * H3);
  m->logits = TAKE_F(c, R * C);
  m->dlogits = TAKE_F(c, R * C);
  m->dg = TAKE_F(c, R * H3);
  m->dh = TAKE_F(c, R * H3);
  m->gd = TAKE_F(c, R * H3);
  m->dgd = TAKE_F(c, R * H3);
  m->d1pre = TAKE_F(c, R * cfg->decoder_hidden);
  m->d1 = TAKE_F(c, R * cfg->decoder_hidden);
  m->dd1 = TAKE_F(c, R * cfg->decoder_hidden);
  m->xhat = TAKE_F(c, R * m->D);
  m->dxhat = TAKE_F(c, R * m->D);
  m->s_pre2 = TAKE_F(c, R * H);
  m->s_dpre2 = TAKE_F(c, R * H);
  m->s_da = TAKE_F(c, R * H);
  m->s_dln = TAKE_F(c, R * H);
  m->s_datt = TAKE_F(c, R * H);
  m->s_df1 = TAKE_F(c, R * m->rH);
  m->s_dqkv = TAKE_F(c, R * H3);
  m->o_logits = TAKE_F(c, R * C);
  m->o_recon = TAKE_F(c, R * m->D);
  m->pk_orig = TAKE_I(c, R);
  m->pk_dpos = TAKE_I(c, R);
  carve_rowset(c, &m->packed, R);
  carve_rowset(c, &m->rs_dec, R);
}

static int check_cfg(const hardy_model_cfg_t *c) {
  for (int mod = 0; mod < 3; mod++)
    if (c->dims[mod] < 1)
      return hardy_fail(HARDY_ERR_INPUT,
                        "model: feature dimension of modality %c is %d; must be >= 1",
                        MOD_NAME[mod], c->dims[mod]);
  if (c->hidden < 1 || c->heads < 1 || c->hidden % c->heads)
    return hardy_fail(HARDY_ERR_INPUT,
                      "model: hidden %d must be a positive multiple of heads %d "
                      "(set model.hidden / model.heads)",
                      c->hidden, c->heads);
  if (c->depth < 1 || c->depth > 255)
    return hardy_fail(HARDY_ERR_INPUT, "model: depth %d must be in [1, 255]", c->depth);
  if (!(c->dropout >= 0.0f && c->dropout < 1.0f))
    return hardy_fail(HARDY_ERR_INPUT, "model: dropout %g must be in [0, 1)", (double)c->dropout);
  if (!(c->mlp_ratio > 0.0f) || c->decoder_hidden < 1 || c->max_rows < 1)
    return hardy_fail(HARDY_ERR_INPUT,
                      "model: mlp_ratio, decoder_hidden and max_rows must be positive");
  if (c->n_out < 1 || (c->regression && c->n_out != 1) || (!c->regression && c->n_out < 2))
    return hardy_fail(HARDY_ERR_INPUT,
                      "model: n_out %d invalid (classification needs >= 2 "
                      "classes, regression exactly 1)",
                      c->n_out);
  return HARDY_OK;
}

int hardy_model_create(const hardy_model_cfg_t *cfg, hardy_model_t **out) {
  *out = NULL;
  HARDY_CHECK(check_cfg(cfg));
  hardy_model_t *m = hardy_calloc(1, sizeof *m, "model");
  if (!m)
    return HARDY_ERR_RUNTIME;
  m->cfg = *cfg;
  m->H = cfg->hidden;
  m->rH = (int)lroundf(cfg->mlp_ratio * (float)cfg->hidden);
  if (m->rH < 1)
    m->rH = 1;
  m->heads = cfg->heads;
  m->D = cfg->dims[0] + cfg->dims[1] + cfg->dims[2];
  m->col_off[0] = 0;
  m->col_off[1] = cfg->dims[0];
  m->col_off[2] = cfg->dims[0] + cfg->dims[1];
  m->drop_key = hardy_rng_key(cfg->seed, HARDY_RNG_DROPOUT);
  int rc = layout_params(m);
  for (int mod = 0; rc == HARDY_OK && mod < 3; mod++) {
    m->exa[mod].z = calloc((size_t)cfg->depth + 1, sizeof(float *));
    m->exa[mod].layer = calloc((size_t)cfg->depth, sizeof(unit_a));
    if (!m->exa[mod].z || !m->exa[mod].layer)
      rc = hardy_fail(HARDY_ERR_RUNTIME, "out of memory creating the model");
  }
  if (rc == HARDY_OK) {
    carve_t c = {NULL, 0};
    carve_all(m, &c);
    m->act_mem = hardy_aligned_alloc(c.off, "model activations (lower model.max_rows?)");
    if (!m->act_mem)
      rc = HARDY_ERR_RUNTIME;
    else {
      memset(m->act_mem, 0, c.off);
      carve_t c2 = {m->act_mem, 0};
      carve_all(m, &c2);
    }
  }
  if (rc != HARDY_OK) {
    hardy_model_free(m);
    return rc;
  }
  hardy_model_init(m);
  *out = m;
  return HARDY_OK;
}

void hardy_model_free(hardy_model_t *m) {
  if (!m)
    return;
  for (int mod = 0; mod < 3; mod++) {
    free(m->ex[mod].layer);
    free(m->exa[mod].z);
    free(m->exa[mod].layer);
  }
  free(m->act_mem);
  free(m->init_kind);
  hardy_nn_arena_free(&m->arena);
  free(m);
}

size_t hardy_model_num_params(const hardy_model_t *m) {
  return m->arena.n_params;
}
float *hardy_model_params(hardy_model_t *m) {
  return m->arena.params;
}
float *hardy_model_grads(hardy_model_t *m) {
  return m->arena.grads;
}
const hardy_model_cfg_t *hardy_model_config(const hardy_model_t *m) {
  return &m->cfg;
}
size_t hardy_model_num_tensors(const hardy_model_t *m) {
  return m->arena.n_tensors;
}
void hardy_model_set_reference(hardy_model_t *m, bool reference) {
  m->reference = reference;
}

size_t hardy_model_count_weights(const hardy_model_t *m) {
  size_t n = 0;
  for (size_t i = 0; i < m->arena.n_tensors; i++) {
    const hardy_nn_tensor_t *t = &m->arena.tensors[i];
    n += (size_t)t->shape[0] * (size_t)(t->rank == 2 ? t->shape[1] : 1);
  }
  return n;
}

hardy_tensor_info_t hardy_model_tensor(const hardy_model_t *m, size_t index) {
  hardy_tensor_info_t info = {0};
  if (index >= m->arena.n_tensors)
    return info;
  const hardy_nn_tensor_t *t = &m->arena.tensors[index];
  info.name = t->name;
  info.offset = t->offset;
  info.rank = t->rank;
  info.shape[0] = t->shape[0];
  info.shape[1] = t->shape[1];
  return info;
}

/* PyTorch's defaults: Linear U(+-1/sqrt(in)) for weight and bias, MultiheadAttention Xavier
 * in_proj and zero biases, LayerNorm (1, 0). Element e of tensor i draws from Philox counter
 * (i, e), so the values do not depend on the arena's padding or on thread count. */
void hardy_model_init(hardy_model_t *m) {
  uint64_t key = hardy_rng_key(m->cfg.seed, HARDY_RNG_INIT);
  memset(m->arena.params, 0, m->arena.n_params * sizeof(float));
  for (size_t i = 0; i < m->arena.n_tensors; i++) {
    const hardy_nn_tensor_t *t = &m->arena.tensors[i];
    size_t n = (size_t)t->shape[0] * (size_t)(t->rank == 2 ? t->shape[1] : 1);
    float *p = m->arena.params + t->offset;
    double bound = 0.0;
    if (m->init_kind[i] == INIT_ONE) {
      for (size_t e = 0; e < n; e++)
        p[e] = 1.0f;
      continue;
    }
    if (m->init_kind[i] == INIT_ZERO)
      continue;
    if (m->init_kind[i] == INIT_XAVIER)
      bound = sqrt(6.0 / (double)(t->shape[0] + t->shape[1]));
    else {
      /* a bias takes the fan-in of the weight registered just before it */
      int64_t fan_in = t->rank == 2 ? t->shape[1] : m->arena.tensors[i - 1].shape[1];
      bound = 1.0 / sqrt((double)fan_in);
    }
    for (size_t e = 0; e < n; e++)
      p[e] = (float)((2.0 * hardy_rng_uniform(key, i, e) - 1.0) * bound);
  }
}
