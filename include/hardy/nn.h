/* Neural-network core: the flat parameter/gradient arena with named tensors, Adam over flat
 * buffers, and layers as forward/backward function pairs (llm.c style). All buffers are
 * row-major float; `rows` is the number of rows (utterances) a call works on. Backward
 * functions ACCUMULATE (+=) into weight, bias and input gradients unless stated otherwise, so
 * residual branches and shared inputs just call them in turn. Every optimised kernel has a
 * plain `_ref` twin (simple loops, no BLAS, double accumulation) that the tests compare
 * against. Local: no MPI anywhere in this module. */
#ifndef HARDY_NN_H
#define HARDY_NN_H

#include <stddef.h>
#include <stdint.h>

/* ---- parameter arena ----------------------------------------------------------------------
 * Tensors are registered first (hardy_nn_arena_add), then the arena is allocated once; every
 * tensor starts on a 64-byte boundary (offsets are multiples of 16 floats). */
typedef struct {
  char name[80];
  size_t offset; /* in floats */
  int rank;      /* 1 or 2 */
  int64_t shape[2];
} hardy_nn_tensor_t;

typedef struct {
  hardy_nn_tensor_t *tensors; /* [n_tensors], arena order */
  size_t n_tensors, cap_tensors;
  size_t n_params; /* floats, including alignment padding (which stays 0) */
  float *params;   /* [n_params] 64-byte aligned */
  float *grads;    /* [n_params] 64-byte aligned */
} hardy_nn_arena_t;

/* Register a tensor of shape [rows, cols] (cols = 0: a vector of `rows`); returns its offset
 * in floats or (size_t)-1 after hardy_fail on out of memory / arena already allocated. */
size_t hardy_nn_arena_add(hardy_nn_arena_t *a, const char *name, int64_t rows, int64_t cols);
/* Allocate params and grads (zeroed). */
int hardy_nn_arena_alloc(hardy_nn_arena_t *a);
void hardy_nn_arena_free(hardy_nn_arena_t *a);

/* ---- Adam ----------------------------------------------------------------------------------
 * torch.optim.Adam semantics: weight decay is L2 added to the gradient (g += wd * p), not
 * decoupled (AdamW). `step` counts from 1. m, v: [n] moments, updated in place. */
void hardy_nn_adam_step(float *params, const float *grads, float *m, float *v, size_t n, float lr,
                        float beta1, float beta2, float eps, float weight_decay, int64_t step);
void hardy_nn_adam_step_ref(float *params, const float *grads, float *m, float *v, size_t n,
                            float lr, float beta1, float beta2, float eps, float weight_decay,
                            int64_t step);

/* ---- linear: out[r, :] = in[r, :] W^T (+ bias), W [out_dim, in_dim] (PyTorch layout) --------
 * Leading dimensions allow sub-blocks (a column block of W, a column block of out).
 * accumulate = 0: out = in W^T + bias; 1: out += in W^T + bias. bias may be NULL. */
void hardy_nn_linear_forward(float *out, int ld_out, const float *in, int ld_in, const float *w,
                             int ld_w, const float *bias, int rows, int in_dim, int out_dim,
                             int accumulate);
void hardy_nn_linear_forward_ref(float *out, int ld_out, const float *in, int ld_in, const float *w,
                                 int ld_w, const float *bias, int rows, int in_dim, int out_dim,
                                 int accumulate);
/* din += dout W, dw += dout^T in, db += sum_r dout. Any of din, dw, db may be NULL. */
void hardy_nn_linear_backward(float *din, int ld_din, float *dw, int ld_dw, float *db,
                              const float *dout, int ld_dout, const float *in, int ld_in,
                              const float *w, int ld_w, int rows, int in_dim, int out_dim);
void hardy_nn_linear_backward_ref(float *din, int ld_din, float *dw, int ld_dw, float *db,
                                  const float *dout, int ld_dout, const float *in, int ld_in,
                                  const float *w, int ld_w, int rows, int in_dim, int out_dim);

/* ---- fused bias + activation + dropout (+ residuals) ---------------------------------------
 * Dropout keeps an element with probability 1 - rate and scales it by 1 / (1 - rate). The
 * keep decision of element (row r, column c) is a pure function of (key, step, layer,
 * utt_id[r], c): one Philox4x32 call gives the bits of columns 4k..4k+3, so masks do not depend
 * on row order, batch composition or rank count. */
typedef enum { HARDY_ACT_NONE = 0, HARDY_ACT_RELU = 1, HARDY_ACT_GELU = 2 } hardy_nn_act_t;

typedef struct {
  float rate;            /* 0: no dropout (mask may be NULL) */
  uint64_t key;          /* hardy_rng_key(seed, HARDY_RNG_DROPOUT) */
  uint64_t step;         /* optimiser step */
  uint32_t layer;        /* dropout site id, unique within the model */
  const int64_t *utt_id; /* [rows] global utterance ids */
} hardy_nn_dropout_t;

/* Keep flag of one element (the reference definition the fused kernels must reproduce). */
int hardy_nn_dropout_keep(const hardy_nn_dropout_t *d, int64_t utt_id, int col);

/* pre [rows, cols] += bias (in place; bias may be NULL), then
 * out = res1 + res2 + dropout(act(pre)), res1/res2 [rows, cols] or NULL, mask [rows, cols] keep
 * flags written when drop && drop->rate > 0. GELU is the exact erf form (PyTorch default).
 * out must not alias res1 or res2, nor pre unless act is NONE. */
void hardy_nn_bias_act_dropout_forward(float *out, float *pre, uint8_t *mask, const float *bias,
                                       const float *res1, const float *res2, int rows, int cols,
                                       hardy_nn_act_t act, const hardy_nn_dropout_t *drop);
void hardy_nn_bias_act_dropout_forward_ref(float *out, float *pre, uint8_t *mask, const float *bias,
                                           const float *res1, const float *res2, int rows, int cols,
                                           hardy_nn_act_t act, const hardy_nn_dropout_t *drop);
/* dpre = dout * keep / (1 - rate) * act'(pre)   (OVERWRITES dpre; may alias dout, not pre). mask
 * NULL or rate 0: no dropout. The residual paths' gradient is dout itself. */
void hardy_nn_act_dropout_backward(float *dpre, const float *dout, const float *pre,
                                   const uint8_t *mask, float rate, int rows, int cols,
                                   hardy_nn_act_t act);
void hardy_nn_act_dropout_backward_ref(float *dpre, const float *dout, const float *pre,
                                       const uint8_t *mask, float rate, int rows, int cols,
                                       hardy_nn_act_t act);

/* ---- LayerNorm over the last dimension (eps 1e-5) ------------------------------------------
 * stat [rows, 2] saves (mean, 1/std) for backward. */
void hardy_nn_layernorm_forward(float *out, float *stat, const float *in, const float *gamma,
                                const float *beta, int rows, int cols);
void hardy_nn_layernorm_forward_ref(float *out, float *stat, const float *in, const float *gamma,
                                    const float *beta, int rows, int cols);
/* din += ..., dgamma += ..., dbeta += ... */
void hardy_nn_layernorm_backward(float *din, float *dgamma, float *dbeta, const float *dout,
                                 const float *in, const float *stat, const float *gamma, int rows,
                                 int cols);
void hardy_nn_layernorm_backward_ref(float *din, float *dgamma, float *dbeta, const float *dout,
                                     const float *in, const float *stat, const float *gamma,
                                     int rows, int cols);

/* ---- masked multi-head attention within segments ----------------------------------------
 * Rows are grouped in segments (dialogues): segment s holds rows [seg_off[s], seg_off[s+1]).
 * Query row i attends to the rows j of its own segment with key_valid[j] != 0 (key_valid NULL:
 * all rows valid). Head h uses columns [h*dh, (h+1)*dh) of q, k, v and out (dh = head_dim),
 * scaled dot product 1/sqrt(dh). A query with no valid key outputs exactly 0 (and gets zero
 * gradients). lse [rows, heads] saves the log-sum-exp for backward, which recomputes the
 * probabilities instead of storing [len x len] matrices. */
typedef struct {
  const int *seg_off; /* [n_seg + 1] */
  int n_seg;
  const uint8_t *key_valid; /* [rows] or NULL */
  int heads, head_dim;
} hardy_nn_attn_t;

void hardy_nn_attention_forward(float *out, int ld_out, float *lse, const float *q, int ld_q,
                                const float *k, int ld_k, const float *v, int ld_v,
                                const hardy_nn_attn_t *a);
void hardy_nn_attention_forward_ref(float *out, int ld_out, float *lse, const float *q, int ld_q,
                                    const float *k, int ld_k, const float *v, int ld_v,
                                    const hardy_nn_attn_t *a);
/* OVERWRITES dq, dk, dv (same leading dimensions as q, k, v). out and lse from forward. */
void hardy_nn_attention_backward(float *dq, float *dk, float *dv, const float *dout, int ld_out,
                                 const float *out, const float *lse, const float *q, int ld_q,
                                 const float *k, int ld_k, const float *v, int ld_v,
                                 const hardy_nn_attn_t *a);
void hardy_nn_attention_backward_ref(float *dq, float *dk, float *dv, const float *dout, int ld_out,
                                     const float *out, const float *lse, const float *q, int ld_q,
                                     const float *k, int ld_k, const float *v, int ld_v,
                                     const hardy_nn_attn_t *a);

/* ---- losses: sum_r w[r] * loss_r; gradients w[r] * dloss_r ADDED to dlogits (may be NULL) -- */
/* Softmax cross-entropy: logits [rows, n_class], label [rows]. */
double hardy_nn_cross_entropy(float *dlogits, const float *logits, const int32_t *label,
                              const float *w, int rows, int n_class);
/* Squared error (pred - target)^2 of a single score: pred [rows]. */
double hardy_nn_mse(float *dpred, const float *pred, const float *target, const float *w, int rows);
/* Masked reconstruction: sum_r w[r] sum over blocks m with (avail[r] >> m & 1) == 0, bit m
 * of `blocks` set and a ground truth (truth NULL, or truth[tgt_row[r]] >> m & 1), of
 * ||pred_m - target_m||^2 / d_m. pred [rows, ld_pred] holds the blocks at col_off[m] (width
 * dims[m]); target_m [rows, dims[m]] rows are tgt_row[r] (tgt_row NULL: r). dpred gets
 * 2 w (pred - target) / d_m on those blocks only. */
double hardy_nn_recon_loss(float *dpred, const float *pred, int ld_pred, const float *const *target,
                           const int *tgt_row, const uint8_t *avail, const uint8_t *truth,
                           const float *w, const int dims[3], const int col_off[3],
                           unsigned blocks, int rows);

#endif
