/* The HARDY backbone (docs/ALGORITHM.md, "Backbone"): per-modality input projections, per-modality
 * residual attention experts over the utterances of a dialogue, fusion with residual, task
 * head, unimodal heads (stage 1), reconstruction decoder, and for the teacher the pairwise
 * cross-attention modules. Forward and backward over a batch of padded dialogues. Parameters,
 * gradients live in one flat arena each (nn.h). Local: no MPI; the caller averages gradients. */
#ifndef HARDY_MODEL_H
#define HARDY_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
  int dims[3];        /* d_a, d_t, d_v */
  int hidden;         /* H */
  int depth;          /* L: blocks per expert */
  int heads;          /* h, divides H */
  float mlp_ratio;    /* MLP width = round(mlp_ratio * H) */
  float dropout;      /* rate in [0, 1) */
  bool layernorm;     /* pre-LayerNorm in blocks */
  int decoder_hidden; /* 1024 */
  int n_out;          /* classes C, or 1 for regression */
  bool regression;    /* MSE on a score instead of cross-entropy */
  bool cross_attention; /* teacher: pairwise cross-attention modules (at, av, tv) + pair heads */
  int max_rows;       /* largest B*L the model must handle (sizes the activation arena) */
  uint64_t seed;      /* initialisation and dropout key */
  bool attn_out_proj; /* expert blocks: output projection after self-attention (H x H + H per
                         block); false = the research code's block, attention output used as is.
                         The cross-attention modules always have theirs. */
} hardy_model_cfg_t;

typedef struct hardy_model hardy_model_t;

/* A batch of B dialogues padded to length L (rows = B*L, row b*L + t is utterance t of
 * dialogue b). The model zero-fills missing modalities and padding itself: callers may pass
 * the raw features. */
typedef struct {
  int n_dialogue;            /* B */
  int max_len;               /* L */
  const float *x[3];         /* [B*L, d_m] input features */
  const float *target[3];    /* [B*L, d_m] reconstruction ground truth (NULL: same as x) */
  const uint8_t *avail;      /* [B*L] present-modality bit set r (bit0 a, bit1 t, bit2 v);
                                0 on padding rows */
  const int32_t *label;      /* [B*L] class ids (classification) */
  const float *score;        /* [B*L] targets (regression) */
  const float *weight;       /* [B*L] loss weight per row: 0 on padding; the caller sets
                                1 / (real utterances in the global step) so that summing
                                gradients over ranks gives the global mean */
  const int64_t *utt_id;     /* [B*L] global utterance ids, dropout keys (-1 on padding) */
  const uint8_t *truth;      /* [B*L] modalities whose ground truth exists (the file's
                                /utterance/present); the reconstruction loss skips the others.
                                NULL: every modality */
} hardy_batch_t;

typedef enum {
  HARDY_STAGE_UNIMODAL = 1, /* stage 1: sum over m of task loss of unimodal head m */
  HARDY_STAGE_FUSED = 2,    /* stage 2 / teacher: task(fused) + lambda_rec * L_rec
                               (+ pair-head task losses when cross_attention) */
} hardy_stage_t;

typedef struct {
  double task;   /* sum_i w_i * task loss_i (fused head, or sum of unimodal heads) */
  double rec;    /* sum_i w_i * sum_m (1 - r_i^m) ||x_hat - x||^2 / d_m */
  double total;  /* what the gradients are of: task + lambda_rec * rec + pair */
  double weight; /* sum_i w_i */
  double pair;   /* cross_attention, stage 2: sum over pairs of sum_i w_i * task loss of the
                    pair head (rows where either modality is present); 0 otherwise */
} hardy_losses_t;

/* Outputs of an evaluation forward pass; model-owned, valid until the next call. */
typedef struct {
  const float *logits; /* [B*L, n_out] (class logits, or the score when n_out = 1) */
  const float *recon;  /* [B*L, d_a + d_t + d_v] decoder output */
  const float *z[3];   /* [B*L, H] expert outputs z^m (zero rows where m is absent) */
  const float *pair[3]; /* [B*L, H] cross-attention j^{mn} for (a,t), (a,v), (t,v), or NULL */
} hardy_model_out_t;

int hardy_model_create(const hardy_model_cfg_t *cfg, hardy_model_t **out);
void hardy_model_free(hardy_model_t *m);

/* The flat arenas: parameters and gradients, n_params floats each (64-byte aligned). */
size_t hardy_model_num_params(const hardy_model_t *m);
float *hardy_model_params(hardy_model_t *m);
float *hardy_model_grads(hardy_model_t *m);
const hardy_model_cfg_t *hardy_model_config(const hardy_model_t *m);

/* Named tensors in the arena (for checkpoints and h5py readers), in arena order. Gradient
 * buckets follow this order too: tensors used last in the forward pass come last. */
size_t hardy_model_num_tensors(const hardy_model_t *m);
typedef struct {
  const char *name; /* e.g. "expert.a.layer0.attn.q.weight" */
  size_t offset;    /* in floats */
  int rank;
  int64_t shape[2];
} hardy_tensor_info_t;
hardy_tensor_info_t hardy_model_tensor(const hardy_model_t *m, size_t index);

/* Deterministic initialisation from cfg->seed. */
void hardy_model_init(hardy_model_t *m);

/* Forward and backward for one training step; ADDS gradients into the gradient arena (the
 * caller zeroes it per optimiser step). Dropout masks are keyed by (seed, step, layer,
 * utt_id), so they do not depend on how dialogues are split over ranks. Optional `on_bucket`
 * is called during backward each time gradients of tensors [first, last) are final, so the
 * caller can start their allreduce while backward continues. */
typedef void (*hardy_grad_ready_fn)(void *user, size_t first_float, size_t end_float);
int hardy_model_train_step(hardy_model_t *m, const hardy_batch_t *b, hardy_stage_t stage,
                           float lambda_rec, uint64_t step, hardy_losses_t *losses,
                           hardy_grad_ready_fn on_ready, void *user);

/* Evaluation forward pass (no dropout). Returns model-owned outputs. */
int hardy_model_forward(hardy_model_t *m, const hardy_batch_t *b, hardy_model_out_t *out);

/* Loss of an evaluation forward pass without gradients (same definitions as train_step). */
int hardy_model_eval_loss(hardy_model_t *m, const hardy_batch_t *b, hardy_stage_t stage,
                          float lambda_rec, hardy_losses_t *losses);

/* Forward pass with training-mode dropout of optimiser step `step` (the masks train_step uses);
 * outputs as hardy_model_forward. For tests of mask invariance and MC-dropout. */
int hardy_model_forward_dropout(hardy_model_t *m, const hardy_batch_t *b, uint64_t step,
                                hardy_model_out_t *out);

/* Reference path (tests): no row packing or skipping, every batch row through every module
 * with masked attention keys, and the plain _ref kernels. Same results within rounding. */
void hardy_model_set_reference(hardy_model_t *m, bool reference);

/* Number of weights (the arena without alignment padding). */
size_t hardy_model_count_weights(const hardy_model_t *m);

#endif
