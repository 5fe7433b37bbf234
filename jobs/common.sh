# Shared by the hardy-hpc Slurm scripts (sourced, not run): node environment (threads,
# OpenBLAS core, Open MPI settings), choice of the MPI launcher, a launch that forwards
# checkpoint signals to the ranks, and the single-run flow every job uses: validate the config,
# skip finished runs, resume from a checkpoint, and requeue after a checkpointed stop.
# docs/SLURM.md describes the flow; every setting below can be overridden from the environment.

hardy_log() { printf '[hardy-job %s] %s\n' "$(date +%H:%M:%S)" "$*"; }

# Stop signals that arrive before the ranks run. SIGUSR1 this early means the time limit is
# shorter than the --signal lead time: forwarding it would checkpoint and requeue forever, so
# it is only reported. SIGTERM (scancel) ends the job at once.
hardy_early_traps() {
  trap 'hardy_log "warning: SIGUSR1 while no run is active (is --time shorter than the --signal lead time?); ignored"' USR1
  trap 'hardy_log "SIGTERM while no run is active; stopping"; exit 143' TERM
}
hardy_early_traps

# The program: $HARDY_BIN, else the installed one beside these scripts (PREFIX/bin for
# PREFIX/share/hardy-hpc/jobs), else hardy-hpc on PATH, else build/hardy-hpc of the submit dir.
hardy_find_bin() {
  if [ -z "${HARDY_BIN:-}" ] && [ -n "${HARDY_JOBS_DIR:-}" ] && [ -x "$HARDY_JOBS_DIR/../../../bin/hardy-hpc" ]; then
    HARDY_BIN=$(cd "$HARDY_JOBS_DIR/../../../bin" && pwd)/hardy-hpc
  fi
  if [ -z "${HARDY_BIN:-}" ]; then
    HARDY_BIN=$(command -v hardy-hpc 2>/dev/null) ||
      HARDY_BIN=${SLURM_SUBMIT_DIR:-$PWD}/build/hardy-hpc
  fi
  if [ ! -x "$HARDY_BIN" ]; then
    hardy_log "error: hardy-hpc not found (HARDY_BIN='$HARDY_BIN'); export HARDY_BIN=/path/to/hardy-hpc before sbatch"
    return 2
  fi
  export HARDY_BIN
}

# OpenBLAS cores that mean "runtime CPU detection failed": generic SSE kernels, 3-5x slower
# than AVX2/AVX-512 ones. Debian's OpenBLAS 0.3.21 reports new Xeons as Prescott.
HARDY_GENERIC_BLAS_CORES=" Prescott Core2 Katmai Coppermine Northwood Banias Atom Penryn Dunnington Nehalem unknown "

# The core OpenBLAS picks on this node, from its own start-up report.
hardy_blas_detected_core() {
  OPENBLAS_VERBOSE=2 "$HARDY_BIN" --version 2>&1 | sed -n 's/.*Core: \([A-Za-z0-9_]*\).*/\1/p' | head -n 1
}

# The core this CPU's instruction set supports, from /proc/cpuinfo flags.
hardy_blas_flags_core() {
  local flags f
  flags=" $(grep -m 1 '^flags' /proc/cpuinfo 2>/dev/null | cut -d: -f2) "
  for f in avx512f avx512dq avx512bw avx512vl; do
    [[ "$flags" == *" $f "* ]] || break
    [ "$f" = avx512vl ] && { echo SkylakeX; return 0; }
  done
  case "$flags" in
  *" avx2 "*) echo Haswell ;;
  *" avx "*) echo SandyBridge ;;
  esac
}

# Keep a user's OPENBLAS_CORETYPE; keep OpenBLAS's own choice when it is a real core; replace
# a generic choice by the core the CPU flags support. Sets HARDY_BLAS_REPORT for the log.
hardy_setup_blas() {
  if [ -n "${OPENBLAS_CORETYPE:-}" ]; then
    HARDY_BLAS_REPORT="OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE (set by the user)"
    return 0
  fi
  local detected flags_core
  detected=$(hardy_blas_detected_core)
  flags_core=$(hardy_blas_flags_core)
  if [ -n "$detected" ] && [ "${HARDY_GENERIC_BLAS_CORES#* "$detected" }" = "$HARDY_GENERIC_BLAS_CORES" ]; then
    HARDY_BLAS_REPORT="$detected (OpenBLAS detection, CPU flags allow ${flags_core:-generic})"
  elif [ -n "$flags_core" ]; then
    export OPENBLAS_CORETYPE=$flags_core
    HARDY_BLAS_REPORT="OPENBLAS_CORETYPE=$flags_core (from CPU flags; OpenBLAS detected '${detected:-nothing}')"
  else
    HARDY_BLAS_REPORT="${detected:-unknown} (no AVX2 on this CPU)"
  fi
}

# Threads per rank = CPUs per task; OpenBLAS (OpenMP build) follows OpenMP. No OMP_PROC_BIND:
# ranks are launched unbound (see hardy_launch), and binding threads inside an unbound rank
# would stack every rank's thread 0 on core 0.
hardy_setup_threads() {
  export OMP_NUM_THREADS=${SLURM_CPUS_PER_TASK:-${OMP_NUM_THREADS:-1}}
  export OPENBLAS_NUM_THREADS=$OMP_NUM_THREADS
}

# Open MPI settings that make a job start on nodes without CMA permissions (containers) and
# with PMIx 4 (its shared-memory data store fails in some setups; the hash store always works).
hardy_setup_mpi_env() {
  export OMPI_MCA_btl_vader_single_copy_mechanism=${OMPI_MCA_btl_vader_single_copy_mechanism:-none}
  export PMIX_MCA_gds=${PMIX_MCA_gds:-hash}
  if [ "$(id -u)" = 0 ]; then
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  fi
}

# Which launcher starts the ranks. HARDY_LAUNCHER=srun|mpirun|direct forces one; auto (the
# default) uses srun when Slurm has a PMI plugin that this Open MPI speaks (PMIx, or PMI-2 when
# Open MPI has its s2 component), else mpirun (which launches its daemons through Slurm), and
# runs the program directly outside Slurm without mpirun.
hardy_select_launcher() {
  HARDY_LAUNCHER=${HARDY_LAUNCHER:-auto}
  HARDY_SRUN_MPI=${HARDY_SRUN_MPI:-}
  [ "$HARDY_LAUNCHER" = srun ] && HARDY_SRUN_MPI=${HARDY_SRUN_MPI:-pmix}
  [ "$HARDY_LAUNCHER" != auto ] && return 0
  if [ -n "${SLURM_JOB_ID:-}" ] && command -v srun >/dev/null; then
    local plugins ompi
    plugins=$(srun --mpi=list 2>&1)
    ompi=$(ompi_info --parsable 2>/dev/null | grep '^mca:pmix:')
    if grep -qw pmix <<<"$plugins" && grep -Eq 'mca:pmix:(ext[0-9]+x|pmix[0-9]+x):' <<<"$ompi"; then
      HARDY_LAUNCHER=srun HARDY_SRUN_MPI=${HARDY_SRUN_MPI:-pmix}
      return 0
    fi
    if grep -qw pmi2 <<<"$plugins" && grep -q 'mca:pmix:s2:' <<<"$ompi"; then
      HARDY_LAUNCHER=srun HARDY_SRUN_MPI=${HARDY_SRUN_MPI:-pmi2}
      return 0
    fi
  fi
  if command -v mpirun >/dev/null; then HARDY_LAUNCHER=mpirun; else HARDY_LAUNCHER=direct; fi
}

# Everything a job sets up before it runs the program; logs what it chose.
# Environment modules the site needs (HARDY_MODULES="openmpi/4.1 hdf5/1.14-mpi openblas"),
# loaded before the program is looked up; a module that does not load stops the job.
hardy_load_modules() {
  [ -n "${HARDY_MODULES:-}" ] || return 0
  if ! type module >/dev/null 2>&1; then
    # shellcheck source=/dev/null
    for f in /etc/profile.d/modules.sh /usr/share/lmod/lmod/init/bash; do [ -f "$f" ] && source "$f"; done
  fi
  type module >/dev/null 2>&1 || { hardy_log "error: HARDY_MODULES is set but this node has no 'module' command"; return 2; }
  local m
  for m in $HARDY_MODULES; do
    module load "$m" || { hardy_log "error: module load $m failed (HARDY_MODULES='$HARDY_MODULES')"; return 2; }
  done
  hardy_log "modules: $HARDY_MODULES"
}

hardy_setup() {
  hardy_load_modules || return 2
  hardy_find_bin || return 2
  hardy_setup_threads
  hardy_setup_mpi_env
  hardy_setup_blas
  hardy_select_launcher
  local cpu
  cpu=$(grep -m 1 '^model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2 | sed 's/^ *//')
  hardy_log "job ${SLURM_JOB_ID:-none}${SLURM_ARRAY_TASK_ID:+ (array task $SLURM_ARRAY_TASK_ID)}" \
    "restart ${SLURM_RESTART_COUNT:-0} on $(hostname -s): nodes ${SLURM_JOB_NUM_NODES:-1}," \
    "tasks ${SLURM_NTASKS:-1}, cpus/task ${SLURM_CPUS_PER_TASK:-unset}"
  hardy_log "CPU: ${cpu:-unknown}; the batch shell may use $(nproc) of them"
  hardy_log "BLAS core: $HARDY_BLAS_REPORT; OMP_NUM_THREADS=$OMP_NUM_THREADS"
  hardy_log "launcher: $HARDY_LAUNCHER${HARDY_SRUN_MPI:+ --mpi=$HARDY_SRUN_MPI}; program: $HARDY_BIN"
}

# The launcher command line for "$@" (in the array HARDY_LAUNCH_CMD). Ranks are not bound:
# each rank runs OMP_NUM_THREADS threads that the kernel spreads over the task's CPUs; with
# HARDY_CPU_BIND=cores (srun) a rank is confined to its own cores instead.
hardy_launch_cmd() {
  local ntasks=${SLURM_NTASKS:-1}
  case "$HARDY_LAUNCHER" in
  srun)
    # Since Slurm 22.05 srun no longer inherits --cpus-per-task from the job: pass it.
    HARDY_LAUNCH_CMD=(srun --mpi="$HARDY_SRUN_MPI" --cpu-bind="${HARDY_CPU_BIND:-none}"
      --ntasks="$ntasks" ${SLURM_CPUS_PER_TASK:+--cpus-per-task="$SLURM_CPUS_PER_TASK"} "$@")
    ;;
  mpirun)
    HARDY_LAUNCH_CMD=(mpirun --bind-to none -n "$ntasks" -x OMP_NUM_THREADS
      -x OPENBLAS_NUM_THREADS ${OPENBLAS_CORETYPE:+-x OPENBLAS_CORETYPE} -x PMIX_MCA_gds "$@")
    ;;
  direct) HARDY_LAUNCH_CMD=("$@") ;;
  *)
    hardy_log "error: HARDY_LAUNCHER='$HARDY_LAUNCHER' (use auto, srun, mpirun or direct)"
    return 2
    ;;
  esac
}

# Run "$@" under the launcher in the background and wait for it, forwarding stop signals.
# SIGUSR1 (Slurm's warning before the time limit, from `#SBATCH --signal=B:USR1@T`, or a user's
# `scancel --batch --signal=USR1`) and SIGTERM (scancel, preemption, the time limit itself)
# reach only the batch shell; the ranks receive SIGUSR1 either way, which asks hardy-hpc to
# write a checkpoint at the next step boundary and exit 143. srun and mpirun both pass SIGUSR1
# on to every rank. Sets HARDY_RC and HARDY_GOT_TERM (1 when the stop came from SIGTERM,
# which means "stop", not "continue later").
hardy_launch() {
  hardy_launch_cmd "$@" || { HARDY_RC=2; return 0; }
  HARDY_GOT_TERM=0
  hardy_log "run: ${HARDY_LAUNCH_CMD[*]}"
  "${HARDY_LAUNCH_CMD[@]}" &
  local child=$!
  trap 'hardy_log "SIGUSR1: asking the ranks to checkpoint"; kill -USR1 '"$child"' 2>/dev/null' USR1
  trap 'HARDY_GOT_TERM=1; hardy_log "SIGTERM: asking the ranks to checkpoint and stop"; kill -USR1 '"$child"' 2>/dev/null' TERM
  # wait returns early (status > 128) whenever a trapped signal arrives; wait again until the
  # launcher itself has exited.
  while :; do
    wait "$child"
    HARDY_RC=$?
    kill -0 "$child" 2>/dev/null || break
  done
  hardy_early_traps
}

# Words of a config override list ("k=v", "--set k=v", "--set=k=v") as `--set k=v` pairs in
# the array HARDY_SET_ARGS.
hardy_parse_sets() {
  HARDY_SET_ARGS=()
  while [ $# -gt 0 ]; do
    case "$1" in
    --set)
      [ $# -ge 2 ] || { hardy_log "error: --set needs key=value"; return 2; }
      HARDY_SET_ARGS+=(--set "$2")
      shift 2
      ;;
    --set=*) HARDY_SET_ARGS+=(--set "${1#--set=}"); shift ;;
    *=*) HARDY_SET_ARGS+=(--set "$1"); shift ;;
    *) hardy_log "error: '$1' is not a key=value override"; return 2 ;;
    esac
  done
}

# Requeue this job so it continues from its checkpoint; returns non-zero when it cannot.
hardy_requeue() {
  local max=${HARDY_MAX_REQUEUE:-50} n=${SLURM_RESTART_COUNT:-0}
  if [ -z "${SLURM_JOB_ID:-}" ]; then
    hardy_log "checkpoint written; not under Slurm, run the same command again to resume"
    return 1
  fi
  if [ "$n" -ge "$max" ]; then
    hardy_log "checkpoint written; not requeueing: already restarted $n times (HARDY_MAX_REQUEUE=$max)"
    return 1
  fi
  hardy_log "checkpoint written; requeueing job $SLURM_JOB_ID (restart $((n + 1)))"
  # Slurm stops this shell as part of the requeue; nothing may follow that matters.
  scontrol requeue "$SLURM_JOB_ID" && return 0
  hardy_log "error: scontrol requeue $SLURM_JOB_ID failed (submitted with --no-requeue?); resubmit to resume"
  return 1
}

# The job's Slurm log, linked into the run directory as slurm-<job>.out (one link per job and
# requeue-safe), so a run's directory holds the logs of every job that worked on it.
hardy_link_log() {
  [ -n "${SLURM_JOB_ID:-}" ] || return 0
  local log
  log=$(scontrol show job "$SLURM_JOB_ID" 2>/dev/null | sed -n 's/^ *StdOut=//p' | head -n 1)
  [ -n "$log" ] && [ -f "$log" ] && ln -sfn "$log" "$1/slurm-${SLURM_JOB_ID}${SLURM_ARRAY_TASK_ID:+_$SLURM_ARRAY_TASK_ID}.out"
  return 0
}

# One run of a training command into OUT: hardy_run_job COMMAND CONFIG OUT [k=v | --set k=v ...]
# COMMAND is train, or hardness (teacher + hardness tables, for pipeline teacher jobs).
#   - OUT/job.done exists, or OUT/results.json without a checkpoint: finished, skip (exit 0);
#     HARDY_FORCE=1 runs anyway.
#   - validate CONFIG + overrides on this node first (`hardy-hpc config`), so a typo fails in
#     seconds with the program's message instead of after the ranks start.
#   - OUT/checkpoints/latest exists and COMMAND takes --resume: add --resume.
#   - exit 143 (checkpointed after a signal; or mpirun's own exit code with OUT/status.json
#     saying "preempted"): requeue unless the stop was a SIGTERM (scancel) or COMMAND cannot
#     resume, then exit 0 with the job back in the queue.
# Returns the exit code the job should end with.
hardy_run_job() {
  local cmd=$1 config=$2 out=$3
  shift 3
  hardy_parse_sets "$@" || return 2
  if [ "${HARDY_FORCE:-0}" != 1 ] && { [ -e "$out/job.done" ] ||
    { [ -e "$out/results.json" ] && [ ! -e "$out/checkpoints/latest" ]; }; }; then
    hardy_log "$out is finished (results.json present); skipping (HARDY_FORCE=1 reruns)"
    return 0
  fi
  hardy_log "config check: $HARDY_BIN config $config ${HARDY_SET_ARGS[*]}"
  local msg
  if ! msg=$("$HARDY_BIN" config "$config" "${HARDY_SET_ARGS[@]}" 2>&1 >/dev/null); then
    printf '%s\n' "$msg"
    hardy_log "error: the configuration is invalid (message above); the job did not start training"
    return 2
  fi
  mkdir -p "$out" || { hardy_log "error: cannot create $out"; return 2; }
  hardy_link_log "$out"
  local resume=() can_resume=0
  "$HARDY_BIN" "$cmd" --help 2>/dev/null | grep -q -- --resume && can_resume=1
  if [ -e "$out/checkpoints/latest" ]; then
    if [ "$can_resume" = 1 ]; then
      resume=(--resume)
      hardy_log "resuming from $out/checkpoints/latest"
    else
      hardy_log "'$cmd' cannot resume; starting $out from the beginning"
    fi
  fi
  # an earlier attempt that left no checkpoint (or HARDY_FORCE=1): this job owns OUT, so it
  # replaces that run (train refuses a directory holding a run without --resume/--overwrite)
  if [ ${#resume[@]} = 0 ] && { [ -e "$out/config.ini" ] || [ -e "$out/status.json" ]; } &&
    "$HARDY_BIN" "$cmd" --help 2>/dev/null | grep -q -- --overwrite; then
    resume=(--overwrite)
    hardy_log "$out holds an earlier attempt without a checkpoint; starting over (--overwrite)"
  fi
  hardy_launch "$HARDY_BIN" "$cmd" "$config" "${HARDY_SET_ARGS[@]}" --out "$out" "${resume[@]}"
  if [ "$HARDY_RC" != 0 ] && [ "$HARDY_RC" != 143 ] &&
    grep -q '"state": *"preempted"' "$out/status.json" 2>/dev/null; then
    hardy_log "the launcher exited $HARDY_RC but $out/status.json says preempted: treating as 143"
    HARDY_RC=143
  fi
  case "$HARDY_RC" in
  0)
    printf 'job %s finished %s\n' "${SLURM_JOB_ID:-none}" "$(date -Is)" >"$out/job.done"
    hardy_log "done: $out"
    return 0
    ;;
  143)
    if [ "$HARDY_GOT_TERM" = 1 ]; then
      hardy_log "stopped by SIGTERM after a checkpoint; not requeueing (resubmit to resume)"
    elif [ "$can_resume" = 0 ]; then
      hardy_log "stopped after a signal; '$cmd' cannot resume, so not requeueing (give the job more --time)"
    else
      hardy_requeue && return 0
    fi
    return 143
    ;;
  2) hardy_log "error: bad input (exit 2); see the message above" ;;
  3) hardy_log "error: runtime failure (exit 3); see the message above" ;;
  *) hardy_log "error: the run failed with exit code $HARDY_RC" ;;
  esac
  return "$HARDY_RC"
}
