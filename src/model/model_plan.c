/* The row plan of a batch: validate it, pack the real rows, and build the row set of every
 * module (expert m: rows where m is present; pair (m, n): rows where m or n is present;
 * decoder: rows with a missing modality, or every real row when the full reconstruction is
 * asked for). On the reference path every set keeps every batch row and marks membership in
 * `valid` instead. Pure bookkeeping over ints, O(rows). */
#include "hardy/common.h"
#include "model_internal.h"

typedef enum { IN_ANY_OF = 0, IN_MISSING = 1, IN_REAL = 2 } member_t;

static bool is_member(uint8_t avail, member_t how, unsigned bits) {
  if (how == IN_ANY_OF)
    return (avail & bits) != 0;
  if (how == IN_MISSING)
    return avail != 0 && (avail & 7u) != 7u;
  return avail != 0;
}

static void build_set(hardy_model_t *m, rowset_t *rs, int *pos, member_t how, unsigned bits) {
  const rowset_t *pk = &m->packed;
  rs->n = 0;
  rs->n_seg = pk->n_seg;
  rs->masked = m->reference;
  for (int d = 0; d < pk->n_seg; d++) {
    rs->seg[d] = rs->n;
    for (int p = pk->seg[d]; p < pk->seg[d + 1]; p++) {
      bool in = is_member(pk->avail[p], how, bits);
      if (!in && !m->reference) {
        if (pos)
          pos[p] = -1;
        continue;
      }
      int i = rs->n++;
      rs->row[i] = p;
      rs->valid[i] = (uint8_t)in;
      rs->utt[i] = pk->utt[p];
      rs->w[i] = in || how == IN_MISSING ? pk->w[p] : 0.0f;
      rs->label[i] = pk->label[p];
      rs->score[i] = pk->score[p];
      rs->avail[i] = pk->avail[p];
      rs->orig[i] = pk->orig[p];
      if (pos)
        pos[p] = i;
    }
  }
  rs->seg[pk->n_seg] = rs->n;
}

static int validate(const hardy_model_t *m, const hardy_batch_t *b) {
  const hardy_model_cfg_t *c = &m->cfg;
  if (b->n_dialogue < 1 || b->max_len < 1)
    return hardy_fail(HARDY_ERR_INPUT, "model: empty batch (%d dialogues of length %d)",
                      b->n_dialogue, b->max_len);
  if ((int64_t)b->n_dialogue * b->max_len > c->max_rows)
    return hardy_fail(HARDY_ERR_INPUT,
                      "model: batch of %d dialogues padded to %d utterances has "
                      "%lld rows, more than model max_rows %d; create the model with a larger "
                      "max_rows",
                      b->n_dialogue, b->max_len, (long long)b->n_dialogue * b->max_len,
                      c->max_rows);
  if (!b->x[0] || !b->x[1] || !b->x[2] || !b->avail || !b->weight || !b->utt_id)
    return hardy_fail(HARDY_ERR_INPUT, "model: batch lacks features, avail, weight or utt_id");
  if (c->regression ? !b->score : !b->label)
    return hardy_fail(HARDY_ERR_INPUT, "model: batch lacks %s",
                      c->regression ? "scores" : "labels");
  int rows = b->n_dialogue * b->max_len;
  for (int r = 0; r < rows; r++) {
    if (b->avail[r] > 7)
      return hardy_fail(HARDY_ERR_INPUT,
                        "model: row %d (utterance %lld) has availability bits "
                        "0x%x; only bits 0-2 (a, t, v) exist",
                        r, (long long)b->utt_id[r], b->avail[r]);
    if (b->avail[r] == 0 && b->weight[r] != 0.0f)
      return hardy_fail(HARDY_ERR_INPUT,
                        "model: row %d is padding (no modality present) but has "
                        "loss weight %g; padding rows must have weight 0",
                        r, (double)b->weight[r]);
    if (b->avail[r] && !c->regression && b->weight[r] != 0.0f &&
        (b->label[r] < 0 || b->label[r] >= c->n_out))
      return hardy_fail(HARDY_ERR_INPUT,
                        "model: row %d (utterance %lld) has label %d outside "
                        "[0, %d)",
                        r, (long long)b->utt_id[r], b->label[r], c->n_out);
  }
  return HARDY_OK;
}

int hardy_model_plan(hardy_model_t *m, const hardy_batch_t *b, bool fused, bool pairs,
                     bool full_recon) {
  HARDY_CHECK(validate(m, b));
  rowset_t *pk = &m->packed;
  const int L = b->max_len;
  pk->n = 0;
  pk->n_seg = b->n_dialogue;
  pk->masked = false;
  for (int d = 0; d < b->n_dialogue; d++) {
    pk->seg[d] = pk->n;
    for (int t = 0; t < L; t++) {
      int r = d * L + t;
      bool real = b->avail[r] != 0;
      if (!real && !m->reference)
        continue;
      int p = pk->n++;
      pk->row[p] = p;
      pk->orig[p] = r;
      m->pk_orig[p] = r;
      pk->valid[p] = (uint8_t)real;
      pk->avail[p] = b->avail[r];
      pk->w[p] = real ? b->weight[r] : 0.0f;
      pk->label[p] = real && b->label && b->weight[r] != 0.0f ? b->label[r] : 0;
      pk->score[p] = real && b->score ? b->score[r] : 0.0f;
      pk->utt[p] = b->utt_id[r];
    }
  }
  pk->seg[b->n_dialogue] = pk->n;
  m->n_packed = pk->n;
  for (int mod = 0; mod < 3; mod++) {
    build_set(m, &m->rs_ex[mod], m->pk_pos[mod], IN_ANY_OF, 1u << mod);
    m->ex_active[mod] = m->reference || m->rs_ex[mod].n > 0;
  }
  for (int p = 0; p < 3; p++) {
    m->rs_pair[p].n = 0;
    if (pairs)
      build_set(m, &m->rs_pair[p], m->pk_ppos[p], IN_ANY_OF,
                (1u << HARDY_PAIR_M[p]) | (1u << HARDY_PAIR_N[p]));
  }
  m->rs_dec.n = 0;
  m->dec_blocks = 0;
  if (fused) {
    build_set(m, &m->rs_dec, m->pk_dpos, full_recon ? IN_REAL : IN_MISSING, 0);
    if (full_recon || m->reference)
      m->dec_blocks = 7u;
    else
      for (int p = 0; p < pk->n; p++)
        m->dec_blocks |= ~(unsigned)pk->avail[p] & 7u;
  }
  return HARDY_OK;
}
