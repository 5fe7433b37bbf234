/* Epochs and optimiser steps of every training phase (train module): the global epoch plan,
 * one step per batch (or per (batch, view) in the curriculum), gradient summation, Adam,
 * per-epoch statistics and validation, and checkpoints at step boundaries. */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "hardy/common.h"
#include "hardy/curriculum.h"
#include "hardy/fault.h"
#include "hardy/log.h"
#include "hardy/nn.h"
#include "train_internal.h"

#define ADAM_BETA1 0.9f
#define ADAM_BETA2 0.999f
#define ADAM_EPS 1e-8f

volatile sig_atomic_t hardy_stop_requested = 0;

/* Rank 0 wants to print a progress line after this step; the agreed value (every rank) says
 * the step's loss sums are reduced for it. One run per process at a time. */
static int g_progress_want, g_progress_agreed;

const char *phase_name(int phase) {
  static const char *names[] = {"teacher_warmup", "teacher", "stage1", "stage2", "done"};
  return phase >= 0 && phase <= PHASE_DONE ? names[phase] : "?";
}

/* Is a periodic checkpoint due after this step? Steps are counted alike on every rank; for
 * seconds, rank 0's clock decides (the answer travels with the step's agreement). */
static int checkpoint_due(const run_t *r) {
  const hardy_config_t *cfg = r->cfg;
  if (cfg->checkpoint.every_steps > 0 && (r->global_step + 1) % cfg->checkpoint.every_steps == 0)
    return 1;
  return cfg->checkpoint.every_seconds > 0 && r->rank == 0 &&
         hardy_now() - r->t_last_ckpt >= cfg->checkpoint.every_seconds;
}

int step_agree(run_t *r, int status, int *stop) {
  /* one allreduce: the lowest status, -1 where a rank was asked to stop, -1 where a
   * checkpoint is due, -1 where rank 0 wants a progress line, and the lowest rank with a
   * non-finite loss or gradient */
  int v[5] = {status, hardy_stop_requested ? -1 : 0, checkpoint_due(r) ? -1 : 0,
              g_progress_want ? -1 : 0,
              r->step_nonfinite ? 2 * r->rank + (r->step_nonfinite == 2) : INT_MAX};
  MPI_Allreduce(MPI_IN_PLACE, v, 5, MPI_INT, MPI_MIN, r->comm);
  *stop = v[1] < 0;
  r->ckpt_due = v[2] < 0;
  g_progress_agreed = v[3] < 0;
  g_progress_want = 0;
  r->nonfinite_from = v[4] == INT_MAX ? -1 : v[4];
  if (v[0] < 0) return hardy_agree(status, r->comm); /* spread the failing rank's message */
  return HARDY_OK;
}

/* Per-epoch sums, reduced once at the end of the epoch. */
typedef struct {
  double task, rec, total; /* each step's loss sum over ranks is that step's global mean */
  double utt;              /* real utterances processed on this rank */
  double t_compute, t_wait;
  int64_t steps;
} epoch_sums_t;

static void losses_add(hardy_losses_t *sum, const hardy_losses_t *part) {
  sum->task += part->task, sum->rec += part->rec, sum->total += part->total;
  sum->weight += part->weight, sum->pair += part->pair;
}

/* A skipped step's warning: which rank saw what, and the global utterance ids of the batch
 * (every rank knows the dialogue table, so rank 0 names rows it does not hold). */
static void warn_nonfinite(const run_t *r, const int64_t *order, int64_t lo, int64_t hi) {
  char ids[640] = "";
  size_t len = 0;
  for (int64_t p = lo; p < hi && len < sizeof ids - 40; p++) {
    int64_t d = r->train_sel->dialogue[order[p]];
    len += (size_t)snprintf(ids + len, sizeof ids - len, "%s%lld-%lld", p > lo ? ", " : "",
                            (long long)r->ds->offset[d], (long long)r->ds->offset[d + 1] - 1);
  }
  if (len >= sizeof ids - 40) snprintf(ids + len, sizeof ids - len, ", ...");
  char who[64];
  if (r->nonfinite_from >= 0)
    snprintf(who, sizeof who, "a non-finite %s on rank %d",
             r->nonfinite_from % 2 ? "gradient" : "loss", r->nonfinite_from / 2);
  else
    snprintf(who, sizeof who, "a non-finite summed gradient");
  hardy_log_warn("[%s %s] global step %lld: %s; step skipped (%d in a row, the run stops at %d); "
                 "batch utterances (global ids) %s", phase_name(r->phase), r->name,
                 (long long)r->global_step, who, r->nonfinite_run,
                 r->cfg->train.max_nonfinite_steps, ids);
}

/* Whether every value of x[n] is finite. */
static bool all_finite(const float *x, size_t n) {
  int bad = 0;
#pragma omp parallel for reduction(| : bad) schedule(static)
  for (size_t i = 0; i < n; i++) bad |= !isfinite(x[i]);
  return !bad;
}

/* Poison this rank's batch (HARDY_FAULT=rank:R:nan:STEP): every feature of every row, so the
 * loss is non-finite whatever the masks hide. */
static void inject_nan(batch_buf_t *bb, int64_t rows) {
  for (int m = 0; m < 3; m++)
    for (int64_t i = 0; i < rows * bb->dims[m]; i++) bb->x[m][i] = NAN;
}

/* One step over the dialogues order[lo, hi) of the plan (positions in the selection). */
static int train_step(run_t *r, trainee_t *t, const int64_t *order, int64_t lo, int64_t hi,
                      const avail_rule_t *rule, hardy_stage_t stage, const view_src_t *view,
                      epoch_sums_t *sums) {
  const hardy_config_t *cfg = r->cfg;
  int64_t global_utt = 0;
  int n_local = 0;
  for (int64_t p = lo; p < hi; p++) {
    global_utt += r->dlg_len[order[p]];
    if (r->owner_local[order[p]] >= 0) r->step_dlg[n_local++] = r->owner_local[order[p]];
  }
  size_t n = hardy_model_num_params(t->model);
  float *grads = hardy_model_grads(t->model);
  memset(grads, 0, n * sizeof(float));
  double t0 = hardy_now(), w0 = r->sync.t_wait;
  int st = HARDY_OK;
  hardy_losses_t losses;
  memset(&losses, 0, sizeof losses);
  uint64_t step_key = (uint64_t)r->global_step + 1;
  r->step_nonfinite = 0;
  if (n_local > 0) {
    /* passes of at most rank_batch dialogues accumulate into the gradients (losses are sums
     * over rows weighted by 1 / global_utt, so passes add up); only the last pass reports
     * buckets ready for the overlapped reduction */
    double rows = 0.0;
    for (int c0 = 0; c0 < n_local && st == HARDY_OK; c0 += r->rank_batch) {
      int nc = HARDY_MIN(r->rank_batch, n_local - c0);
      bool last = c0 + nc >= n_local;
      hardy_losses_t part;
      memset(&part, 0, sizeof part);
      rows += (double)batch_fill(&r->bb, r->train, r->step_dlg + c0, nc, rule,
                                 1.0f / (float)global_utt, view);
      if (hardy_fault_hit(HARDY_FAULT_NAN, (int64_t)step_key))
        inject_nan(&r->bb, (int64_t)r->bb.batch.n_dialogue * r->bb.batch.max_len);
      bool overlap = last && !t->sharded; /* sharded: one reduce-scatter after backward */
      st = hardy_model_train_step(t->model, &r->bb.batch, stage, (float)cfg->train.lambda_rec,
                                  step_key, &part, overlap ? hardy_grad_sync_ready : NULL,
                                  overlap ? &r->sync : NULL);
      losses_add(&losses, &part);
    }
    if (!isfinite(losses.total)) r->step_nonfinite = 1;
    else sums->utt += rows;
    /* the sharded path sends no buckets through the sync, so it checks its gradients here */
    if (t->sharded && !r->step_nonfinite && !all_finite(grads, n)) r->step_nonfinite = 2;
  } else if (!t->sharded) {
    hardy_grad_sync_ready(&r->sync, 0, n); /* no local dialogue: zero gradients, still take part */
  }
  if (!r->step_nonfinite && r->sync.local_nonfinite) r->step_nonfinite = 2;
  double t1 = hardy_now();
  int stop = 0;
  /* agree before the reduction so a failing rank never leaves the others waiting in it */
  HARDY_CHECK(step_agree(r, st, &stop));
  /* act only on the agreed value: the signal may reach this rank after the agreement, and a
   * rank that stopped on its own flag would leave the others waiting in the next step */
  r->stop_agreed = stop;
  if (!t->sharded) HARDY_CHECK(hardy_grad_sync_finish(&r->sync));
  r->global_step++;
  /* the summed gradient is the same on every rank, so its check needs no agreement (the
   * sharded path checks each rank's gradient before the agreement instead) */
  if (!t->sharded && r->nonfinite_from == -1 && r->sync.sum_nonfinite) r->nonfinite_from = -2;
  if (r->nonfinite_from != -1) { /* skip: parameters and Adam state stay the last good ones */
    r->nonfinite_run++;
    warn_nonfinite(r, order, lo, hi);
    sums->t_compute += hardy_now() - t0 - (r->sync.t_wait - w0);
    return HARDY_OK;
  }
  r->nonfinite_run = 0;
  if (t->sharded) {
    HARDY_CHECK(trainee_opt_step_sharded(t, (float)cfg->train.lr, ADAM_BETA1, ADAM_BETA2, ADAM_EPS,
                                         (float)cfg->train.weight_decay, &r->sync.t_wait));
  } else { /* the replicated reference: every rank updates every parameter */
    t->adam_step++;
    hardy_nn_adam_step(hardy_model_params(t->model), grads, t->adam_m, t->adam_v, n,
                       (float)cfg->train.lr, ADAM_BETA1, ADAM_BETA2, ADAM_EPS,
                       (float)cfg->train.weight_decay, t->adam_step);
  }
  double wait = r->sync.t_wait - w0;
  sums->task += losses.task;
  sums->rec += losses.rec;
  sums->total += losses.total;
  sums->t_wait += wait;
  sums->t_compute += hardy_now() - t0 - wait;
  sums->steps++;
  (void)t1;
  return HARDY_OK;
}

/* Peak resident memory of this process so far in MiB (Linux reports ru_maxrss in KiB). */
static double peak_rss_mib(void) {
  struct rusage u;
  return getrusage(RUSAGE_SELF, &u) == 0 ? (double)u.ru_maxrss / 1024.0 : 0.0;
}

/* End of an epoch: one reduction of the sums, validation in stage 2, the metrics line. */
static int epoch_end(run_t *r, trainee_t *t, int phase, int epoch, int epochs, epoch_sums_t *sums,
                     double t_epoch) {
  bool improved = false;
  double rss = peak_rss_mib(), rss_max = rss;
  double red[7] = {sums->task, sums->rec, sums->total, sums->utt, sums->t_compute, sums->t_wait,
                   rss};
  HARDY_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, red, 7, MPI_DOUBLE, MPI_SUM, r->comm));
  HARDY_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, &rss_max, 1, MPI_DOUBLE, MPI_MAX, r->comm));
  double secs = hardy_now() - t_epoch, per = sums->steps ? 1.0 / (double)sums->steps : 0.0;
  cJSON *line = cJSON_CreateObject();
  cJSON_AddStringToObject(line, "phase", phase_name(phase));
  cJSON_AddStringToObject(line, "run", r->name);
  cJSON_AddNumberToObject(line, "epoch", epoch + 1);
  cJSON_AddNumberToObject(line, "steps", (double)sums->steps);
  cJSON_AddNumberToObject(line, "global_step", (double)r->global_step);
  cJSON_AddNumberToObject(line, "loss", red[2] * per);
  cJSON_AddNumberToObject(line, "loss_task", red[0] * per);
  cJSON_AddNumberToObject(line, "loss_rec", red[1] * per);
  cJSON_AddNumberToObject(line, "utterances", red[3]);
  cJSON_AddNumberToObject(line, "utt_per_s", secs > 0 ? red[3] / secs : 0.0);
  cJSON_AddNumberToObject(line, "seconds", secs);
  cJSON_AddNumberToObject(line, "compute_s", red[4] / r->nranks);
  cJSON_AddNumberToObject(line, "allreduce_wait_s", red[5] / r->nranks);
  cJSON_AddNumberToObject(line, "rss_peak_max_mib", rss_max);
  cJSON_AddNumberToObject(line, "rss_peak_mean_mib", red[6] / r->nranks);
  if (phase == PHASE_STAGE2) {
    hardy_metrics_t val;
    HARDY_CHECK(run_evaluate(r, t->model, r->val, NULL, &val));
    cJSON_AddItemToObject(line, "validation", metrics_json(&val));
    double v = hardy_metrics_selection_value(&val, r->cfg->train.select_metric);
    if (v > r->best_value) { /* strict: the earliest of equal epochs wins */
      r->best_value = v;
      r->best_epoch = epoch + 1;
      r->best_val = val;
      memcpy(r->best_params, hardy_model_params(t->model),
             hardy_model_num_params(t->model) * sizeof(float));
      improved = true;
    }
    if (val.task == HARDY_TASK_CLASSIFICATION)
      hardy_log_info("[%s %s] epoch %d/%d: loss %.4f (task %.4f, rec %.4f) | validation WA %.4f "
                     "UA %.4f F1 %.4f%s", phase_name(phase), r->name, epoch + 1, epochs,
                     red[2] * per, red[0] * per, red[1] * per, val.wa, val.ua, val.f1,
                     improved ? " *" : "");
    else
      hardy_log_info("[%s %s] epoch %d/%d: loss %.4f | validation MAE %.4f corr %.4f ACC2 %.4f%s",
                     phase_name(phase), r->name, epoch + 1, epochs, red[2] * per, val.mae,
                     val.corr, val.acc2, improved ? " *" : "");
  } else {
    hardy_log_info("[%s %s] epoch %d/%d: loss %.4f (task %.4f, rec %.4f)", phase_name(phase),
                   r->name, epoch + 1, epochs, red[2] * per, red[0] * per, red[1] * per);
  }
  return hardy_agree(hardy_jsonl_write(r->metrics, line), r->comm);
}

static hardy_stage_t phase_stage(int phase) {
  return phase == PHASE_STAGE1 ? HARDY_STAGE_UNIMODAL : HARDY_STAGE_FUSED;
}

/* Availability in a phase: everything the source has while warming up, the training masks
 * of the epoch otherwise. */
static avail_rule_t phase_rule(const run_t *r, int phase, int epoch) {
  avail_rule_t rule = {AVAIL_TRAIN, r->miss, (uint64_t)r->cfg->run.seed, (uint64_t)epoch};
  if (phase == PHASE_TEACHER_WARMUP || phase == PHASE_STAGE1) rule.mode = AVAIL_NATURAL;
  return rule;
}

/* Optimiser steps of a whole phase of run r (0 when the run skips it). */
static int64_t phase_steps(const run_t *r, int phase) {
  const hardy_config_t *cfg = r->cfg;
  bool trains_teacher = r->have_teacher && !cfg->teacher.checkpoint[0];
  int epochs = phase == PHASE_TEACHER_WARMUP ? (trains_teacher ? cfg->teacher.warmup_epochs : 0)
               : phase == PHASE_TEACHER      ? (trains_teacher ? cfg->teacher.epochs : 0)
               : phase == PHASE_STAGE1       ? cfg->train.stage1_epochs
                                             : cfg->train.stage2_epochs;
  int views = phase == PHASE_STAGE2 && r->have_teacher ? cfg->retrieval.k + 1 : 1;
  int64_t batch = cfg->train.batch_dialogues;
  int64_t steps = (r->train_sel->n + batch - 1) / batch * views * epochs;
  return cfg->train.max_steps > 0 ? HARDY_MIN(steps, (int64_t)cfg->train.max_steps) : steps;
}

/* The progress line after a step that every rank agreed to report: the loss is the epoch's
 * running value over every rank (the epoch line's formula), from one reduction per line. */
static int progress_line(run_t *r, hardy_progress_t *prog, int64_t done, double utt, int epoch,
                         int epochs, int64_t step, int64_t n_steps, const epoch_sums_t *sums) {
  double total = sums->total;
  HARDY_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, &total, 1, MPI_DOUBLE, MPI_SUM, r->comm));
  char job[128], detail[256];
  hardy_job_describe(job, sizeof job);
  snprintf(detail, sizeof detail, "epoch %d/%d step %lld/%lld loss %.4f | %s", epoch + 1, epochs,
           (long long)step, (long long)n_steps, total / (double)HARDY_MAX(sums->steps, 1), job);
  hardy_progress_update(prog, done, utt, detail);
  return HARDY_OK;
}

int phase_train(run_t *r, trainee_t *t, int phase, int epochs) {
  const hardy_config_t *cfg = r->cfg;
  int batch = cfg->train.batch_dialogues;
  bool curriculum = phase == PHASE_STAGE2 && r->have_curriculum;
  int n_views = curriculum ? cfg->retrieval.k + 1 : 1;
  int64_t n_batches = (r->train_sel->n + batch - 1) / batch;
  int64_t steps_per_epoch = n_batches * n_views;
  int64_t limit = cfg->train.max_steps > 0 ? cfg->train.max_steps : INT64_MAX;
  int start_epoch = r->phase == phase ? r->epoch : 0;
  int64_t start_step = r->phase == phase ? r->step_in_epoch : 0;
  r->phase = phase;
  int64_t total = HARDY_MIN((int64_t)epochs * steps_per_epoch, limit);
  int64_t done = HARDY_MIN((int64_t)start_epoch * steps_per_epoch + start_step, total);
  char label[96];
  snprintf(label, sizeof label, "%s %s", phase_name(phase), r->name);
  hardy_progress_t prog;
  hardy_progress_begin(&prog, label, total, "steps", cfg->run.progress_seconds);
  size_t n_params = hardy_model_num_params(t->model);
  HARDY_CHECK(hardy_grad_sync_init(&r->sync, hardy_model_grads(t->model), n_params,
                                   cfg->train.bucket_mb * 1048576.0,
                                   cfg->train.allreduce == HARDY_ALLREDUCE_BLOCKING, r->comm));
  double utt_done = 0;
  int64_t run_before = 0, run_total = 0; /* the run's steps before this phase, and in all */
  for (int ph = PHASE_TEACHER_WARMUP; ph <= PHASE_STAGE2; ph++) {
    if (ph < phase) run_before += phase_steps(r, ph);
    run_total += phase_steps(r, ph);
  }
  int st = HARDY_OK;
  for (int epoch = start_epoch; st == HARDY_OK && epoch < epochs && done < total; epoch++) {
    r->epoch = epoch;
    if (curriculum) {
      bool refresh = cfg->curriculum.refresh_every > 0 && epoch > 0 &&
                     epoch % cfg->curriculum.refresh_every == 0 && start_step == 0;
      if (refresh) {
        hardy_model_t *scorer = cfg->hardness.scorer == HARDY_SCORER_STUDENT ? t->model
                                                                               : r->teacher.model;
        st = curriculum_refresh(r, scorer, epoch);
        if (st != HARDY_OK) break;
      }
      curriculum_pace(r, epoch);
    }
    hardy_curriculum_plan_t plan;
    st = hardy_agree(hardy_curriculum_plan_make(&plan, r->train_sel->n, batch, n_views,
                                                (uint64_t)cfg->run.seed + 1000003ull * (uint64_t)phase,
                                                epoch),
                     r->comm);
    if (st != HARDY_OK) break;
    epoch_sums_t sums;
    memset(&sums, 0, sizeof sums);
    double t_epoch = hardy_now();
    avail_rule_t rule = phase_rule(r, phase, epoch);
    for (int64_t s = start_step; s < plan.n_steps && done < total; s++) {
      int64_t lo = plan.batch_of[s] * batch, hi = HARDY_MIN(lo + batch, plan.n_dialogue);
      view_src_t view = {plan.view_of[s], cfg->retrieval.k, r->eff_budget, r->nbr_id, r->nbr};
      bool use_view = curriculum && cfg->curriculum.views == HARDY_VIEWS_RETRIEVAL;
      g_progress_want = hardy_progress_due(&prog);
      st = train_step(r, t, plan.order, lo, hi, &rule, phase_stage(phase), use_view ? &view : NULL,
                      &sums);
      if (st != HARDY_OK) break;
      done++;
      r->step_in_epoch = s + 1;
      hardy_job_update(r->run_index, run_before + done, run_total);
      if (g_progress_agreed)
        st = progress_line(r, &prog, done, utt_done + sums.utt * r->nranks, epoch, epochs, s + 1,
                           plan.n_steps, &sums);
      else
        prog.done = done;
      if (st != HARDY_OK) break;
      if (r->nonfinite_run >= cfg->train.max_nonfinite_steps) {
        hardy_log_info("[%s] %d steps in a row were non-finite: writing a checkpoint of the last "
                       "good parameters", label, r->nonfinite_run);
        st = run_checkpoint(r, t, false);
        char cause[48] = "the summed gradient";
        if (r->nonfinite_from >= 0)
          snprintf(cause, sizeof cause, "the %s on rank %d",
                   r->nonfinite_from % 2 ? "gradient" : "loss", r->nonfinite_from / 2);
        if (st == HARDY_OK)
          st = hardy_fail(HARDY_ERR_RUNTIME,
                          "[%s] %d consecutive steps had a non-finite loss or gradient (the last: "
                          "%s); the run stopped after checkpointing its last good parameters. "
                          "Lower train.lr, check the batches named in the warnings, or raise "
                          "train.max_nonfinite_steps", label, r->nonfinite_run, cause);
        break;
      }
      if (r->stop_agreed) {
        hardy_log_info("[%s] stop signal: writing a checkpoint at epoch %d step %lld", label,
                       epoch + 1, (long long)s + 1);
        st = run_checkpoint(r, t, false);
        if (st == HARDY_OK) st = HARDY_STATUS_PREEMPTED;
        break;
      }
      if (r->ckpt_due && s + 1 < plan.n_steps) st = run_checkpoint(r, t, false);
      if (st != HARDY_OK) break;
    }
    hardy_curriculum_plan_free(&plan);
    start_step = 0;
    if (st != HARDY_OK) break;
    st = epoch_end(r, t, phase, epoch, epochs, &sums, t_epoch);
    utt_done += sums.utt * r->nranks;
    r->epoch = epoch + 1;
    r->step_in_epoch = 0;
    if (st == HARDY_OK && r->ckpt_due && r->epoch < epochs) st = run_checkpoint(r, t, false);
  }
  hardy_grad_sync_free(&r->sync);
  if (st != HARDY_OK) return st;
  hardy_progress_end(&prog, utt_done, NULL);
  return HARDY_OK;
}
