/* Budgets, pacing and the stage-2 (batch, view) plan; see curriculum.h. */
#include "hardy/curriculum.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hardy/common.h"
#include "hardy/config.h"
#include "hardy/rng.h"

int hardy_curriculum_budget(double s, int k_min, int k_max) {
  if (!(s >= 0.0)) s = 0.0; /* NaN or negative: easiest */
  int k = k_min + (int)floor(s * (double)(k_max - k_min + 1));
  return k < k_min ? k_min : k > k_max ? k_max : k;
}

double hardy_curriculum_admitted(int pacing, double start, int pacing_epochs, int epoch) {
  if (pacing == HARDY_PACING_NONE || pacing_epochs <= 0) return 1.0;
  double t = (double)epoch / (double)pacing_epochs;
  if (t >= 1.0) return 1.0;
  if (pacing == HARDY_PACING_LINEAR) return start + (1.0 - start) * t;
  return sqrt(start * start + (1.0 - start * start) * t);
}

int hardy_curriculum_plan_make(hardy_curriculum_plan_t *plan, int64_t n_dialogue, int batch,
                               int n_views, uint64_t seed, int epoch) {
  memset(plan, 0, sizeof *plan);
  plan->n_dialogue = n_dialogue;
  plan->batch = batch;
  plan->n_views = n_views;
  int64_t n_batches = (n_dialogue + batch - 1) / batch;
  plan->n_steps = n_batches * n_views;
  plan->order = hardy_malloc((size_t)HARDY_MAX(n_dialogue, 1) * sizeof(int64_t), "curriculum plan");
  plan->batch_of = hardy_malloc((size_t)HARDY_MAX(plan->n_steps, 1) * sizeof(int64_t), "curriculum plan");
  plan->view_of = hardy_malloc((size_t)HARDY_MAX(plan->n_steps, 1) * sizeof(int), "curriculum plan");
  int64_t *steps = hardy_malloc((size_t)HARDY_MAX(plan->n_steps, 1) * sizeof(int64_t), "curriculum plan");
  if (!plan->order || !plan->batch_of || !plan->view_of || !steps) {
    free(steps);
    hardy_curriculum_plan_free(plan);
    return HARDY_ERR_RUNTIME;
  }
  uint64_t key = hardy_rng_key(seed, HARDY_RNG_PLAN);
  for (int64_t i = 0; i < n_dialogue; i++) plan->order[i] = i;
  /* stream ids distinct from the uniform plan's ((phase << 32) | epoch with phase <= 2) */
  hardy_rng_shuffle_i64(key, (7ull << 40) | (uint32_t)epoch, plan->order, n_dialogue);
  for (int64_t s = 0; s < plan->n_steps; s++) steps[s] = s;
  hardy_rng_shuffle_i64(key, (8ull << 40) | (uint32_t)epoch, steps, plan->n_steps);
  for (int64_t s = 0; s < plan->n_steps; s++) {
    plan->batch_of[s] = steps[s] / n_views;
    plan->view_of[s] = (int)(steps[s] % n_views);
  }
  free(steps);
  return HARDY_OK;
}

void hardy_curriculum_plan_free(hardy_curriculum_plan_t *plan) {
  free(plan->order);
  free(plan->batch_of);
  free(plan->view_of);
  memset(plan, 0, sizeof *plan);
}
