/* Curriculum views in a batch: a hand-built shard (2 dialogues, 5 utterances, K = 2) with known
 * budgets and neighbours gives exactly the expected rows per view: the anchor's own features
 * where the view does not reach its budget, neighbour j's features where it does, always the
 * anchor's label, mask and id; padding rows zero with weight 0. */
#include <stdlib.h>
#include <string.h>

#include "../src/train/train_internal.h"
#include "harness.h"

int main(void) {
  enum { N = 5, K = 2 };
  int64_t dlg_start[3] = {0, 3, 5}, utt_id[N] = {10, 11, 12, 13, 14}, dlg_id[2] = {0, 1};
  float fa[N], ft[N], fv[N];
  int32_t label[N] = {0, 1, 2, 3, 0};
  for (int i = 0; i < N; i++) fa[i] = 100.0f + i, ft[i] = 200.0f + i, fv[i] = 300.0f + i;
  hardy_shard_t sh;
  memset(&sh, 0, sizeof sh);
  sh.n_dialogue = 2;
  sh.dialogue_id = dlg_id;
  sh.dialogue_start = dlg_start;
  sh.n_utt = N;
  sh.utt_id = utt_id;
  sh.dims[0] = sh.dims[1] = sh.dims[2] = 1;
  sh.feat[0] = fa, sh.feat[1] = ft, sh.feat[2] = fv;
  sh.label = label;
  /* budgets 0, 1, 2, 2, 1; neighbour j of utterance i has features 1000*(j+1) + i */
  int8_t budget[N] = {0, 1, 2, 2, 1};
  int64_t nbr_id[N * K] = {11, 12, 10, 12, 10, 11, 14, -1, 13, 12};
  float na[N * K], nt[N * K], nv[N * K];
  for (int i = 0; i < N; i++)
    for (int j = 0; j < K; j++) {
      float base = 1000.0f * (j + 1) + i;
      na[i * K + j] = base + 0.1f, nt[i * K + j] = base + 0.2f, nv[i * K + j] = base + 0.3f;
    }
  float *nbr[3] = {na, nt, nv};
  batch_buf_t bb;
  int dims[3] = {1, 1, 1};
  TEST_EQ_INT(batch_buf_alloc(&bb, 16, dims), 0);
  int64_t dl[2] = {0, 1};
  avail_rule_t rule = {AVAIL_TRAIN, {HARDY_MOD_A | HARDY_MOD_T, -1}, 1, 0};
  /* expected source of each utterance per view (K = 2): view 0 itself; view 1 neighbour 1
   * (slot 0) when budget 2; view 2 slot 0 when budget 1, slot 1 when budget 2. Utterance 3's
   * second neighbour is missing (-1): it keeps its own row. */
  const int slot[3][N] = {{-1, -1, -1, -1, -1}, {-1, -1, 0, 0, -1}, {-1, 0, 1, -1, 0}};
  for (int v = 0; v <= K; v++) {
    view_src_t view = {v, K, budget, nbr_id, nbr};
    int64_t real = batch_fill(&bb, &sh, dl, 2, &rule, 0.25f, &view);
    TEST_EQ_INT(real, N);
    TEST_EQ_INT(bb.batch.max_len, 3);
    for (int b = 0; b < 2; b++)
      for (int t = 0; t < 3; t++) {
        int row = b * 3 + t;
        int i = (int)dlg_start[b] + t;
        if (i >= dlg_start[b + 1]) { /* padding */
          TEST_ASSERT(bb.weight[row] == 0 && bb.avail[row] == 0 && bb.utt_id[row] == -1 &&
                      bb.x[0][row] == 0 && bb.x[1][row] == 0, "padding row %d", row);
          continue;
        }
        int s = slot[v][i];
        float want_a = s < 0 ? fa[i] : na[i * K + s], want_v = s < 0 ? fv[i] : nv[i * K + s];
        TEST_ASSERT(bb.x[0][row] == want_a && bb.x[2][row] == want_v,
                    "view %d utterance %d: audio %g visual %g, want %g %g", v, i, bb.x[0][row],
                    bb.x[2][row], want_a, want_v);
        TEST_EQ_INT(bb.label[row], label[i]);
        TEST_EQ_INT(bb.utt_id[row], utt_id[i]);
        TEST_EQ_INT(bb.avail[row], HARDY_MOD_A | HARDY_MOD_T);
        TEST_NEAR(bb.weight[row], 0.25, 0, 0);
      }
  }
  batch_buf_free(&bb);
  return hardy_test_finish("test_train_views");
}
