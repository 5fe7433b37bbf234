/* The retrieval-based dynamic curriculum (docs/ALGORITHM.md, "Dynamic curriculum"): neighbour
 * budgets from hardness, which neighbour each view uses, pacing from easy to hard, and the
 * stage-2 epoch plan of (dialogue batch, view) steps. Pure functions of their arguments: every
 * rank derives the same plan from (seed, epoch) and the global tables. No I/O, no MPI. */
#ifndef HARDY_CURRICULUM_H
#define HARDY_CURRICULUM_H

#include <stdint.h>

/* Budget k_i = k_min + floor(s (K - k_min + 1)), clipped to [k_min, K]; s in [0, 1] is the
 * global hardness rank q_i (curriculum.score = rank) or the sigmoid score h_i (= sigmoid). */
int hardy_curriculum_budget(double s, int k_min, int k_max);

/* Fraction of utterances (easiest first, by global rank) whose extra views are admitted in
 * stage-2 epoch `epoch` (0-based): 1 for pacing none; linear: start + (1 - start) e / E;
 * root: sqrt(start^2 + (1 - start^2) e / E); reaching 1 at e = E = pacing_epochs. */
double hardy_curriculum_admitted(int pacing, double start, int pacing_epochs, int epoch);

/* The budget an utterance uses in an epoch: its budget when admitted (q <= admitted), else 0. */
static inline int hardy_curriculum_effective_budget(int budget, double q, double admitted) {
  return q <= admitted + 1e-12 ? budget : 0;
}

/* Which neighbour view v (0..K) shows for an utterance with budget k: -1 = the utterance
 * itself, else the 0-based index into its neighbour list. View 0 is always the utterance;
 * view v >= 1 shows neighbour number v - (K - k) (1-based) when v > K - k. */
static inline int hardy_curriculum_view_slot(int v, int k, int k_max) {
  return (v > 0 && v > k_max - k) ? v - (k_max - k) - 1 : -1;
}

/* The stage-2 epoch plan: dialogues (positions in the training selection) shuffled by
 * (seed, epoch) into batches of B; each batch is trained once per view 0..K, and the
 * (batch, view) steps are shuffled too. step s trains dialogues
 * order[batch_of[s] * B, ...) under view view_of[s]. */
typedef struct {
  int64_t n_dialogue;
  int batch;
  int n_views;        /* K + 1 */
  int64_t *order;     /* [n_dialogue] */
  int64_t n_steps;    /* n_batches * n_views */
  int64_t *batch_of;  /* [n_steps] */
  int *view_of;       /* [n_steps] */
} hardy_curriculum_plan_t;

int hardy_curriculum_plan_make(hardy_curriculum_plan_t *plan, int64_t n_dialogue, int batch,
                               int n_views, uint64_t seed, int epoch);
void hardy_curriculum_plan_free(hardy_curriculum_plan_t *plan);

#endif
