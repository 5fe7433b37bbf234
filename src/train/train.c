/* The training job (train module): every fold and missing condition in turn, resume from a
 * checkpoint, stop signals, and the job's files (config.ini, metrics.jsonl, results.json).
 * See train.h. */
#include "hardy/train.h"

#include <errno.h>
#include <omp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hardy/checkpoint.h"
#include "hardy/common.h"
#include "hardy/log.h"
#include "hardy/run.h"
#include "train_internal.h"

static void on_stop_signal(int sig) {
  (void)sig;
  hardy_stop_requested = 1;
}

/* SIGTERM and SIGUSR1 (Slurm's --signal) only set a flag; the ranks agree on it at the next
 * step boundary, write a checkpoint and exit with HARDY_EXIT_PREEMPTED. */
void hardy_train_catch_stop_signals(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGUSR1, &sa, NULL);
}

static int write_config(const hardy_config_t *cfg, const char *dir) {
  char path[HARDY_PATH_MAX + 16];
  snprintf(path, sizeof path, "%s/config.ini", dir);
  FILE *f = fopen(path, "w");
  if (!f) return hardy_fail(HARDY_ERR_RUNTIME, "cannot write '%s': %s", path, strerror(errno));
  int st = hardy_config_write(cfg, f);
  if (fclose(f) != 0) st = hardy_fail(HARDY_ERR_RUNTIME, "cannot write '%s'", path);
  return st;
}

/* DIR/status.json: how the job ended, for job scripts (mpirun reports its own exit code 1
 * when it is itself sent SIGTERM, whatever the ranks returned). Rank 0, best effort. */
static void write_status(const hardy_train_opts_t *opts, int status, int rank) {
  /* a refused resume of a finished run leaves that run's status alone */
  bool keep = status < 0 && opts->resume && hardy_run_is_done(opts->out_dir);
  if (rank == 0 && !keep) hardy_run_write_status(opts->out_dir, status);
}

/* Metric fields averaged for summaries. */
static const char *METRIC_NAMES[] = {"wa",        "ua",      "f1",   "mae",  "corr",
                                     "acc2",      "acc2_has0", "f1_has0", "acc5", "acc7"};
#define N_METRIC_NAMES 10

/* Mean of the objects at `key` ("validation" / "test") over the runs matching `condition`
 * (NULL: every run). NULL when no run matches. */
static cJSON *mean_of(cJSON *runs, const char *condition, const char *key) {
  double sum[N_METRIC_NAMES] = {0};
  int has[N_METRIC_NAMES] = {0}, k = 0;
  double n_sum = 0;
  cJSON *run;
  cJSON_ArrayForEach(run, runs) {
    cJSON *c = cJSON_GetObjectItem(run, "condition");
    if (condition && (!cJSON_IsString(c) || strcmp(c->valuestring, condition))) continue;
    cJSON *m = cJSON_GetObjectItem(run, key);
    for (int i = 0; i < N_METRIC_NAMES; i++) {
      cJSON *v = cJSON_GetObjectItem(m, METRIC_NAMES[i]);
      if (cJSON_IsNumber(v)) sum[i] += v->valuedouble, has[i]++;
    }
    cJSON *n = cJSON_GetObjectItem(m, "n");
    if (cJSON_IsNumber(n)) n_sum += n->valuedouble;
    k++;
  }
  if (!k) return NULL;
  cJSON *o = cJSON_CreateObject();
  for (int i = 0; i < N_METRIC_NAMES; i++)
    if (has[i]) cJSON_AddNumberToObject(o, METRIC_NAMES[i], sum[i] / has[i]);
  cJSON_AddNumberToObject(o, "n", n_sum);
  cJSON_AddNumberToObject(o, "runs", k);
  return o;
}

/* results.json: every run, per condition the runs by fold and their mean, and the mean over
 * every run (the average over conditions and folds that papers report). */
static cJSON *results_summary(const hardy_config_t *cfg, const hardy_dataset_t *ds, cJSON *runs,
                              int nranks, double wall) {
  cJSON *res = cJSON_CreateObject();
  cJSON_AddStringToObject(res, "program", "hardy-hpc " HARDY_VERSION);
  cJSON_AddStringToObject(res, "dataset", ds->path);
  cJSON_AddStringToObject(res, "task", ds->task == HARDY_TASK_CLASSIFICATION ? "classification" : "regression");
  cJSON_AddStringToObject(res, "run_name", cfg->run.name);
  cJSON_AddNumberToObject(res, "seed", (double)cfg->run.seed);
  cJSON_AddBoolToObject(res, "curriculum", cfg->curriculum.enabled);
  cJSON_AddNumberToObject(res, "ranks", nranks);
  cJSON_AddNumberToObject(res, "threads", omp_get_max_threads());
  cJSON_AddNumberToObject(res, "wall_seconds", wall);
  cJSON *conds = cJSON_AddObjectToObject(res, "conditions");
  for (int c = 0; c < cfg->missing.n_conditions; c++) {
    hardy_missing_t miss = {cfg->missing.condition[c], cfg->missing.rate[c]};
    char cname[32];
    hardy_missing_name(miss, cname, sizeof cname);
    cJSON *co = cJSON_AddObjectToObject(conds, cname);
    cJSON *folds = cJSON_AddObjectToObject(co, "folds");
    cJSON *run;
    cJSON_ArrayForEach(run, runs) {
      if (strcmp(cJSON_GetObjectItem(run, "condition")->valuestring, cname)) continue;
      cJSON *f = cJSON_GetObjectItem(run, "fold");
      char key[32];
      if (cJSON_IsNumber(f)) snprintf(key, sizeof key, "%d", f->valueint);
      else snprintf(key, sizeof key, "none");
      cJSON_AddItemToObject(folds, key, cJSON_Duplicate(run, 1));
    }
    cJSON *v = mean_of(runs, cname, "validation"), *t = mean_of(runs, cname, "test");
    if (v) cJSON_AddItemToObject(co, "validation", v);
    if (t) cJSON_AddItemToObject(co, "test", t);
  }
  cJSON *v = mean_of(runs, NULL, "validation"), *t = mean_of(runs, NULL, "test");
  if (v) cJSON_AddItemToObject(res, "validation", v);
  if (t) cJSON_AddItemToObject(res, "test", t);
  cJSON_AddItemToObject(res, "runs", cJSON_Duplicate(runs, 1));
  return res;
}

/* Job-wide state shared by the runs. */
typedef struct {
  const hardy_config_t *cfg;
  const hardy_train_opts_t *opts;
  const hardy_dataset_t *ds;
  MPI_Comm comm;
  hardy_jsonl_t metrics;
  cJSON *runs;                /* finished runs */
  int run_index;              /* next run of the job */
  int resume_index;           /* -1, or the run the checkpoint stopped in */
  bool fresh_start;           /* --resume found no checkpoint: the job starts from the beginning */
  char resume_path[HARDY_PATH_MAX];
  hardy_ckpt_info_t resume_info;
} job_t;

void train_run_names(hardy_missing_t miss, int fold, char *name, char *tag, size_t cap) {
  char cname[32];
  hardy_missing_name(miss, cname, sizeof cname);
  if (fold >= 0) {
    snprintf(name, cap, "%s/fold%d", cname, fold);
    snprintf(tag, cap, "%s-fold%d", cname, fold);
  } else {
    snprintf(name, cap, "%s", cname);
    snprintf(tag, cap, "%s", cname);
  }
}

/* Where the fold's feature statistics come from besides its own training rows: the checkpoint
 * a run of this fold resumes from, else a stored teacher (teacher.checkpoint) of its first
 * run, opened into *info (*from = info) or NULL. Collective. */
static int fold_stats_source(job_t *job, int fold, bool resumes_here, hardy_ckpt_info_t *info,
                             const hardy_ckpt_info_t **from) {
  const hardy_config_t *cfg = job->cfg;
  *from = NULL;
  if (resumes_here) {
    *from = &job->resume_info;
    return HARDY_OK;
  }
  if (!cfg->curriculum.enabled || !cfg->teacher.checkpoint[0]) return HARDY_OK;
  hardy_missing_t miss = {cfg->missing.condition[0], cfg->missing.rate[0]};
  char name[64], tag[64], path[2 * HARDY_PATH_MAX + 128];
  train_run_names(miss, fold, name, tag, sizeof name);
  train_teacher_path(cfg, job->opts->out_dir, tag, path, sizeof path);
  HARDY_CHECK(hardy_ckpt_open(path, info, job->comm));
  *from = info;
  return HARDY_OK;
}

static int do_run(job_t *job, int fold, int c, const hardy_selection_t *train_sel,
                  const hardy_shard_t *train, const hardy_shard_t *val, const hardy_shard_t *test,
                  const hardy_featnorm_t *fn, const char *fn_json) {
  const hardy_config_t *cfg = job->cfg;
  run_t r;
  memset(&r, 0, sizeof r);
  r.cfg = cfg;
  r.opts = job->opts;
  r.ds = job->ds;
  r.comm = job->comm;
  MPI_Comm_rank(job->comm, &r.rank);
  MPI_Comm_size(job->comm, &r.nranks);
  r.run_index = job->run_index;
  r.miss.condition = cfg->missing.condition[c];
  r.miss.rate = cfg->missing.rate[c];
  r.fold = fold;
  train_run_names(r.miss, fold, r.name, r.tag, sizeof r.name);
  r.train_sel = train_sel;
  r.train = train;
  r.val = val;
  r.test = test;
  r.featnorm = fn;
  r.featnorm_json = fn_json;
  r.metrics = &job->metrics;
  r.results_so_far = job->runs;
  int st = hardy_agree(run_setup(&r), job->comm);
  if (st == HARDY_OK && job->run_index == job->resume_index) {
    hardy_log_info("[%s] resuming from %s (%s, epoch %d, step %lld)", r.name, job->resume_path,
                   phase_name(job->resume_info.phase), job->resume_info.epoch + 1,
                   (long long)job->resume_info.step_in_epoch);
    st = run_restore(&r, job->resume_path, &job->resume_info);
  }
  cJSON *result = NULL;
  if (st == HARDY_OK) st = run_one(&r, &result);
  if (st == HARDY_OK && result) cJSON_AddItemToArray(job->runs, result);
  run_free(&r);
  return st;
}

/* Everything for one fold: splits, shards, then every condition. */
static int do_fold(job_t *job, int fold) {
  const hardy_config_t *cfg = job->cfg;
  int n_cond = cfg->missing.n_conditions;
  if (job->resume_index >= job->run_index + n_cond) { /* finished before the checkpoint */
    job->run_index += n_cond;
    return HARDY_OK;
  }
  hardy_splits_t splits;
  int st = hardy_dataset_select(job->ds, fold, cfg->data.val_fraction, (uint64_t)cfg->run.seed, &splits);
  HARDY_CHECK(hardy_agree(st, job->comm));
  hardy_shard_t train, val, test;
  memset(&train, 0, sizeof train), memset(&val, 0, sizeof val), memset(&test, 0, sizeof test);
  int nf = cfg->data.allow_nonfinite;
  st = hardy_dataset_read_shard(job->ds, &splits.train, job->comm, nf, &train);
  if (st == HARDY_OK) st = hardy_dataset_read_shard(job->ds, &splits.val, job->comm, nf, &val);
  if (st == HARDY_OK) st = hardy_dataset_read_shard(job->ds, &splits.test, job->comm, nf, &test);
  if (st == HARDY_OK) {
    char fname[32];
    if (fold >= 0) snprintf(fname, sizeof fname, "fold %d", fold);
    else snprintf(fname, sizeof fname, "the file's split");
    hardy_log_info("%s: train %lld dialogues / %lld utterances, validation %lld / %lld, test "
                   "%lld / %lld", fname, (long long)splits.train.n, (long long)train.total_utt,
                   (long long)splits.val.n, (long long)val.total_utt, (long long)splits.test.n,
                   (long long)test.total_utt);
    if (train.n_nonfinite + val.n_nonfinite + test.n_nonfinite > 0)
      hardy_log_warn("%lld non-finite feature values were zeroed (data.allow_nonfinite = zero)",
                     (long long)(train.n_nonfinite + val.n_nonfinite + test.n_nonfinite));
  }
  /* a run of this fold resumes: its checkpoint's statistics, not recomputed ones */
  bool resumes_here =
      job->resume_index >= job->run_index && job->resume_index < job->run_index + n_cond;
  hardy_featnorm_t fn;
  memset(&fn, 0, sizeof fn);
  char *fn_json = NULL;
  hardy_ckpt_info_t teacher_info;
  const hardy_ckpt_info_t *from = NULL;
  if (st == HARDY_OK) st = fold_stats_source(job, fold, resumes_here, &teacher_info, &from);
  if (st == HARDY_OK)
    st = train_fold_featnorm(cfg, job->ds, from, &train, &val, &test, job->comm, &fn, &fn_json);
  if (from == &teacher_info) hardy_ckpt_info_free(&teacher_info);
  for (int c = 0; st == HARDY_OK && c < n_cond; c++, job->run_index++) {
    if (job->run_index < job->resume_index) continue;
    st = do_run(job, fold, c, &splits.train, &train, &val, &test, &fn, fn_json);
  }
  hardy_dataset_featnorm_free(&fn);
  free(fn_json);
  hardy_shard_free(&train), hardy_shard_free(&val), hardy_shard_free(&test);
  hardy_splits_free(&splits);
  return st;
}

/* Find the checkpoint to resume from and check it fits this job. Collective. */
static int open_resume(job_t *job) {
  job->resume_index = -1;
  if (!job->opts->resume) return HARDY_OK;
  char where[HARDY_PATH_MAX + 32];
  if (!strcmp(job->opts->resume, "latest"))
    snprintf(where, sizeof where, "%s/checkpoints", job->opts->out_dir);
  else
    snprintf(where, sizeof where, "%s", job->opts->resume);
  int st = HARDY_OK;
  char pointer[HARDY_PATH_MAX + 48];
  snprintf(pointer, sizeof pointer, "%s/checkpoints/latest", job->opts->out_dir);
  char done[HARDY_PATH_MAX + 48];
  snprintf(done, sizeof done, "%s/results.json", job->opts->out_dir);
  if (!strcmp(job->opts->resume, "latest") && access(pointer, F_OK) != 0) {
    if (access(done, F_OK) == 0)
      st = hardy_fail(HARDY_ERR_INPUT, "--resume: no checkpoint to resume from in %s/checkpoints "
                      "(no 'latest' pointer; the job has finished and checkpoint.keep = final "
                      "removed its step checkpoints): use --overwrite to run it again, or name a "
                      "checkpoint file with --resume FILE.h5", job->opts->out_dir);
    /* killed (or requeued) before its first checkpoint: nothing to continue, so the job starts
     * from the beginning; --resume stays safe to pass on every (re)start of a job script */
    st = hardy_agree(st, job->comm);
    if (st == HARDY_OK) {
      hardy_log_info("--resume: %s has no checkpoint yet; starting from the beginning",
                     job->opts->out_dir);
      job->fresh_start = true;
    }
    return st;
  }
  if (st == HARDY_OK) st = hardy_ckpt_resolve(where, job->resume_path, sizeof job->resume_path);
  st = hardy_agree(st, job->comm);
  if (st == HARDY_OK) st = hardy_ckpt_open(job->resume_path, &job->resume_info, job->comm);
  if (st != HARDY_OK) return st;
  /* a changed result-determining key would mix two runs in one directory */
  st = hardy_agree(hardy_run_check_resume(job->resume_info.config_text, job->cfg,
                                          job->resume_path), job->comm);
  if (st != HARDY_OK) {
    hardy_ckpt_info_free(&job->resume_info);
    return st;
  }
  char *text = hardy_config_to_string(job->cfg);
  char changed[2048] = "";
  st = hardy_ckpt_check_compatible(&job->resume_info, text, job->ds->fingerprint, HARDY_VERSION, 0,
                                   changed, sizeof changed);
  free(text);
  st = hardy_agree(st, job->comm);
  if (st == HARDY_OK && changed[0])
    hardy_log_warn("resuming with changed settings: %s", changed);
  if (st == HARDY_OK && job->resume_info.results_json[0]) {
    cJSON *done = cJSON_Parse(job->resume_info.results_json);
    if (cJSON_IsArray(done)) {
      cJSON_Delete(job->runs);
      job->runs = done;
    } else {
      cJSON_Delete(done);
    }
  }
  if (st == HARDY_OK) {
    job->resume_index = job->resume_info.run_index;
    int nranks;
    MPI_Comm_size(job->comm, &nranks);
    hardy_log_info("resume: %s was written by %d rank(s), continuing on %d", job->resume_path,
                   job->resume_info.nranks_written, nranks);
  } else {
    hardy_ckpt_info_free(&job->resume_info);
  }
  return st;
}

static int train_job(const hardy_config_t *cfg, const hardy_train_opts_t *opts, MPI_Comm comm) {
  int rank, nranks;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &nranks);
  double t_start = hardy_now();
  hardy_train_catch_stop_signals();
  int st = HARDY_OK;
  if (!cfg->data.path[0])
    st = hardy_fail(HARDY_ERR_INPUT, "data.path is not set: put it in the config's [data] section "
                                     "or pass --set data.path=FILE.h5");
  if (st == HARDY_OK && rank == 0) st = hardy_mkdirs(opts->out_dir, "output directory");
  if (st == HARDY_OK && rank == 0) st = write_config(cfg, opts->out_dir);
  HARDY_CHECK(hardy_agree(st, comm));
  if (cfg->train.batch_dialogues < nranks)
    hardy_log_warn("train.batch_dialogues = %d is smaller than the %d ranks: some ranks idle in "
                   "every step; raise the batch or use fewer ranks", cfg->train.batch_dialogues, nranks);
  hardy_dataset_t ds;
  hardy_dataset_set_structure_check(cfg->data.precheck);
  HARDY_CHECK(hardy_dataset_open(&ds, cfg->data.path, comm));
  /* the same verdict on every rank: the task comes from the file's attributes */
  st = hardy_metrics_check_select(cfg->train.select_metric, ds.task, "train.select_metric");
  int folds[256], nf = 1;
  folds[0] = cfg->data.fold;
  if (cfg->data.fold != HARDY_FOLD_NONE) {
    int present[256];
    int np = hardy_dataset_folds(&ds, present, 256);
    if (np == 0)
      st = hardy_fail(HARDY_ERR_INPUT, "%s: data.fold = %s needs fold ids in /dialogue/fold, but "
                      "every dialogue has fold -1; use data.fold = none", ds.path, cfg->data.fold_text);
    if (cfg->data.fold == HARDY_FOLD_ALL) {
      nf = np;
      memcpy(folds, present, sizeof(int) * (size_t)np);
    }
  }
  hardy_job_begin(nf * cfg->missing.n_conditions);
  job_t job;
  memset(&job, 0, sizeof job);
  job.cfg = cfg;
  job.opts = opts;
  job.ds = &ds;
  job.comm = comm;
  job.runs = cJSON_CreateArray();
  if (st == HARDY_OK) st = open_resume(&job);
  char mpath[HARDY_PATH_MAX + 16];
  snprintf(mpath, sizeof mpath, "%s/metrics.jsonl", opts->out_dir);
  if (st == HARDY_OK) st = hardy_agree(hardy_jsonl_open(&job.metrics, mpath, opts->resume && !job.fresh_start), comm);
  for (int i = 0; st == HARDY_OK && i < nf; i++) st = do_fold(&job, folds[i]);
  if (st == HARDY_OK && !opts->hardness_only) {
    cJSON *res = results_summary(cfg, &ds, job.runs, nranks, hardy_now() - t_start);
    cJSON_AddItemToObject(res, "provenance", hardy_run_provenance_json(cfg, ds.fingerprint));
    char rpath[HARDY_PATH_MAX + 16];
    snprintf(rpath, sizeof rpath, "%s/results.json", opts->out_dir);
    st = hardy_agree(rank == 0 ? hardy_json_write_file(rpath, res) : HARDY_OK, comm);
    if (st == HARDY_OK && rank == 0) {
      /* results are safe: apply checkpoint.keep, then record what the job leaves on disk */
      static const char *keep_names[] = {"final", "last", "all"};
      if (train_finish_checkpoints(opts->out_dir, cfg->checkpoint.keep) != HARDY_OK) {
        hardy_log_warn("checkpoint.keep: %s", hardy_error_message());
        hardy_error_clear();
      }
      cJSON *disk = train_disk_use(opts->out_dir);
      cJSON_AddStringToObject(disk, "keep", keep_names[cfg->checkpoint.keep]);
      cJSON_AddItemToObject(res, "disk_bytes", disk);
      st = hardy_json_write_file(rpath, res);
    }
    st = hardy_agree(st, comm);
    cJSON *t = cJSON_GetObjectItem(res, "test");
    if (st == HARDY_OK && t) {
      int n_runs = cJSON_GetArraySize(job.runs);
      if (ds.task == HARDY_TASK_CLASSIFICATION)
        hardy_log_info("mean over %d run(s): test WA %.4f UA %.4f F1 %.4f -> %s", n_runs,
                       cJSON_GetObjectItem(t, "wa")->valuedouble, cJSON_GetObjectItem(t, "ua")->valuedouble,
                       cJSON_GetObjectItem(t, "f1")->valuedouble, rpath);
      else
        hardy_log_info("mean over %d run(s): test MAE %.4f corr %.4f ACC2 %.4f F1 %.4f -> %s", n_runs,
                       cJSON_GetObjectItem(t, "mae")->valuedouble, cJSON_GetObjectItem(t, "corr")->valuedouble,
                       cJSON_GetObjectItem(t, "acc2")->valuedouble, cJSON_GetObjectItem(t, "f1")->valuedouble, rpath);
    }
    cJSON_Delete(res);
  }
  write_status(opts, st, rank);
  if (job.resume_index >= 0) hardy_ckpt_info_free(&job.resume_info);
  cJSON_Delete(job.runs);
  hardy_jsonl_close(&job.metrics);
  hardy_dataset_close(&ds);
  return st;
}

int hardy_train_run(const hardy_config_t *cfg, const hardy_train_opts_t *opts, MPI_Comm comm) {
  int rank;
  MPI_Comm_rank(comm, &rank);
  int st = hardy_run_provenance_begin(comm);
  if (st == HARDY_OK) st = train_job(cfg, opts, comm);
  /* the job writes its status when it gets to the end; this covers its earliest failures (a
   * refused resume of a finished run leaves that run's status alone) */
  if (st < 0 && st != HARDY_STATUS_PREEMPTED && !(opts->resume && hardy_run_is_done(opts->out_dir)))
    write_status(opts, st, rank);
  return st;
}
