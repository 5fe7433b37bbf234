# Shared helpers of the reliability tests (docs/RELIABILITY.md): the training test helpers,
# a tiny dataset and configuration (a whole pipeline in a few seconds), and a launcher that
# records every rank's own exit code. Sourced.
source "$(dirname "${BASH_SOURCE[0]}")/../train/lib.sh"

# make_tiny FILE: 400 utterances, small feature widths (about 45 dialogues).
make_tiny() {
  run_mpi 2 synth --out "$1" --utterances 400 --dims 8,12,6 --classes 4 --folds 0 --seed 3 \
    >/dev/null 2>&1 || { echo "synth failed"; exit 1; }
}

# write_tiny_cfg FILE DATA: the training test configuration, smaller (checkpoints at phase ends).
write_tiny_cfg() {
  write_cfg "$1" "$2"
  # these tests resume finished runs and compare their step checkpoints: keep the newest one
  # and `latest` after success ([checkpoint] is the file's last section)
  echo "keep = last" >>"$1"
  sed -i -e 's/^hidden = 32/hidden = 16/' -e 's/^decoder_hidden = 64/decoder_hidden = 32/' \
    -e 's/^stage2_epochs = 3/stage2_epochs = 2/' "$1"
}

# run_ranks N DIR LIMIT FAULT ARGS...: (FAULT: a HARDY_FAULT value or "") every rank writes its exit code to
# DIR.rc.R; mpirun runs under `timeout LIMIT` (a hang shows as 124). Sets RC (mpirun's code)
# and SECS (wall seconds).
run_ranks() {
  local n=$1 dir=$2 limit=$3 fault=$4; shift 4
  rm -f "$dir".rc.*
  local t0=$(date +%s.%N)
  HARDY_FAULT="$fault" timeout "$limit" "$MPIEXEC" -n "$n" $MPIEXEC_FLAGS -x HARDY_FAULT bash -c \
    '"$0" "$@"; rc=$?; echo $rc >"'"$dir"'.rc.$OMPI_COMM_WORLD_RANK"; exit $rc' "$HARDY_BIN" "$@" \
    >"$dir.log" 2>&1
  RC=$?
  SECS=$(echo "$(date +%s.%N) - $t0" | bc)
}

# same_rank_codes DIR N CODE: every one of the N ranks exited with CODE.
same_rank_codes() {
  local dir=$1 n=$2 want=$3 r
  for ((r = 0; r < n; r++)); do
    [ "$(cat "$dir.rc.$r" 2>/dev/null)" = "$want" ] || { echo "  rank $r exit code $(cat "$dir.rc.$r" 2>/dev/null || echo none)"; return 1; }
  done
}

# failed_alike DIR N CODE: mpirun exited with CODE and every rank that got to record its own
# exit code recorded CODE. (Once the first rank exits non-zero, mpirun ends the others, so a
# slower rank may be stopped before it records anything.)
failed_alike() {
  local dir=$1 n=$2 want=$3 r seen=0
  [ "$RC" = "$want" ] || { echo "  mpirun exit code $RC"; return 1; }
  for ((r = 0; r < n; r++)); do
    [ -f "$dir.rc.$r" ] || continue
    seen=$((seen + 1))
    [ "$(cat "$dir.rc.$r")" = "$want" ] || { echo "  rank $r exit code $(cat "$dir.rc.$r")"; return 1; }
  done
  echo "  $seen of $n ranks recorded exit code $want before mpirun ended the job"
  [ $seen -gt 0 ]
}
