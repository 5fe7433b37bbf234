#!/bin/bash
# Stop the private Slurm started by start_slurm.sh: cancel its jobs, wait for them to leave,
# stop slurmd, slurmctld and munged by the pids in their pid files, then remove
# HARDY_SLURM_DIR (kept with HARDY_SLURM_KEEP=1, e.g. to read the daemon logs).
# Safe to run when nothing is running. `--quiet` prints nothing when there was nothing to stop.
set -u
DIR=${HARDY_SLURM_DIR:-/tmp/hardy-slurm}
quiet=0
case "$DIR" in
/?*/*) ;;
*) echo "stop_slurm: refusing HARDY_SLURM_DIR='$DIR' (want an absolute path two levels deep)"; exit 1 ;;
esac
[ "${1:-}" = --quiet ] && quiet=1

pid_of() { [ -s "$DIR/$1.pid" ] && cat "$DIR/$1.pid"; }

# TERM each daemon, wait up to 10 s for all of them, then KILL what is left.
stop_daemons() {
  local d pid pids=()
  for d in "$@"; do
    pid=$(pid_of "$d") && kill -TERM "$pid" 2>/dev/null && pids+=("$pid")
  done
  [ ${#pids[@]} = 0 ] && return 1
  for _ in $(seq 1 50); do
    kill -0 "${pids[@]}" 2>/dev/null || return 0
    sleep 0.2
  done
  for pid in "${pids[@]}"; do
    kill -0 "$pid" 2>/dev/null && echo "stop_slurm: pid $pid ignored SIGTERM, killing" && kill -KILL "$pid"
  done
  return 0
}

if [ -s "$DIR/slurmctld.pid" ] && kill -0 "$(pid_of slurmctld)" 2>/dev/null; then
  export SLURM_CONF=$DIR/slurm.conf
  # Jobs first, so slurmd reaps its slurmstepd processes before it goes.
  if [ -n "$(squeue -h -o %i 2>/dev/null)" ]; then
    scancel --full --quiet $(squeue -h -o %i) 2>/dev/null
    for _ in $(seq 1 50); do
      [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break
      sleep 0.2
    done
  fi
fi
was_running=0
# slurmd and slurmctld together (they need munged to shut down cleanly), then munged.
stop_daemons slurmd slurmctld && was_running=1
stop_daemons munged && was_running=1
[ "$quiet" = 1 ] && [ "$was_running" = 0 ] || echo "stop_slurm: stopped ($DIR)"
if [ "${HARDY_SLURM_KEEP:-0}" != 1 ]; then
  rm -rf "$DIR"
fi
exit 0
