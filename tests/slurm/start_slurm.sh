#!/bin/bash
# Start a private single-node Slurm (munged, slurmctld, slurmd) for the job-script tests, or
# reuse the one already running. Everything lives under HARDY_SLURM_DIR (default
# /tmp/hardy-slurm): config, munge key and socket, state, spool, logs, pid files. Daemons run
# as root, directly (no systemd), on ports in 16817-18816 (never a site Slurm's 6817/6818).
# Clients find it through SLURM_CONF: `source "$HARDY_SLURM_DIR/env.sh"`.
#
# Installs slurm-wlm and munge with apt-get when they are missing and we are root.
# Exit codes: 0 running, 77 impossible here (not root, or packages missing and not
# installable), 1 the daemons did not come up (their logs are printed).
set -u
DIR=${HARDY_SLURM_DIR:-/tmp/hardy-slurm}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# Ports follow from the directory, so clusters of different build trees (their own
# HARDY_SLURM_DIR) can run side by side.
port_base=$((16817 + 2 * ($(printf '%s' "$DIR" | cksum | cut -d' ' -f1) % 1000)))
CTLD_PORT=${HARDY_SLURM_CTLD_PORT:-$port_base}
SLURMD_PORT=${HARDY_SLURM_SLURMD_PORT:-$((port_base + 1))}

say() { echo "start_slurm: $*"; }

alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

if [ "$(id -u)" != 0 ]; then
  say "needs root (daemons run as root with SlurmUser=root); skipping"
  exit 77
fi

if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null ||
  ! command -v sbatch >/dev/null || ! command -v munged >/dev/null; then
  say "installing slurm-wlm munge"
  export DEBIAN_FRONTEND=noninteractive
  apt_install() { apt-get install -y -qq --no-install-recommends slurm-wlm munge >>/tmp/hardy-slurm-apt.log 2>&1; }
  # Missing or stale package lists: update once and try again.
  if ! apt_install && ! { apt-get update -qq >>/tmp/hardy-slurm-apt.log 2>&1 && apt_install; }; then
    tail -n 20 /tmp/hardy-slurm-apt.log
    say "cannot install slurm-wlm munge; skipping"
    exit 77
  fi
fi

# The node line comes from slurmd -C, so CPUs/sockets/memory match what slurmd reports and the
# node is not drained for a mismatch.
conf=$(sed -e "s|@DIR@|$DIR|g" -e "s|@HOST@|$(hostname -s)|g" -e "s|@CTLD_PORT@|$CTLD_PORT|g" \
  -e "s|@SLURMD_PORT@|$SLURMD_PORT|g" -e "s|@NODE_LINE@|$(slurmd -C | head -n 1)|" \
  "$HERE/slurm.conf.in")

# A running instance with the same configuration that answers is reused: several test
# scripts can share one cluster.
if alive "$DIR/slurmctld.pid" && alive "$DIR/slurmd.pid" && alive "$DIR/munged.pid" &&
  [ "$conf" = "$(cat "$DIR/slurm.conf" 2>/dev/null)" ] &&
  SLURM_CONF=$DIR/slurm.conf sinfo -h -o %T 2>/dev/null | grep -Eq '^(idle|mixed|allocated)'; then
  say "already running in $DIR"
  exit 0
fi

# Leftovers of an earlier run (half started, or another configuration) hold the ports.
HARDY_SLURM_DIR=$DIR bash "$HERE/stop_slurm.sh" --quiet
mkdir -p "$DIR/state" "$DIR/spool"
chmod 700 "$DIR"

# munge: our own key and socket, so the host's munged (if any) is irrelevant.
if [ ! -s "$DIR/munge.key" ]; then
  if command -v mungekey >/dev/null; then
    mungekey --create --keyfile="$DIR/munge.key" --force
  else
    dd if=/dev/urandom of="$DIR/munge.key" bs=1024 count=1 status=none
  fi
fi
chmod 600 "$DIR/munge.key"
munged --socket="$DIR/munge.socket" --key-file="$DIR/munge.key" --pid-file="$DIR/munged.pid" \
  --log-file="$DIR/munged.log" --seed-file="$DIR/munged.seed" --force ||
  { say "munged failed"; cat "$DIR/munged.log" 2>/dev/null; exit 1; }

printf '%s\n' "$conf" >"$DIR/slurm.conf"
printf 'export SLURM_CONF=%s\n' "$DIR/slurm.conf" >"$DIR/env.sh"

export SLURM_CONF=$DIR/slurm.conf
slurmctld -c -f "$SLURM_CONF" || { say "slurmctld failed"; tail -n 30 "$DIR/slurmctld.log"; exit 1; }
slurmd -f "$SLURM_CONF" || { say "slurmd failed"; tail -n 30 "$DIR/slurmd.log"; exit 1; }

for _ in $(seq 1 150); do
  state=$(sinfo -h -o %T 2>/dev/null | head -n 1)
  case "$state" in
  idle | mixed | allocated)
    say "node $(hostname -s) $state, SLURM_CONF=$SLURM_CONF"
    exit 0
    ;;
  esac
  sleep 0.2
done
say "node did not become idle within 30 s (state '${state:-none}')"
sinfo -N -l 2>&1
tail -n 30 "$DIR/slurmctld.log" "$DIR/slurmd.log" 2>/dev/null
exit 1
