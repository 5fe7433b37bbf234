#!/bin/bash
# Slurm: jobs/pipeline.sh. Asserts: --dry-run prints one teacher per (condition, fold) and one
# student per seed, each student after its own teacher (afterok) with that teacher's file,
# and submits nothing; bad options fail with exit 2; a real teacher -> student chain runs in
# order (the student waits PENDING on its dependency, starts after the teacher ended, and
# loads the teacher); the student of a failing teacher is cancelled, not left pending.
source "$(dirname "$0")/lib.sh"
slurm_up
PIPE=$JOBS/pipeline.sh
CFG=$SOURCE_DIR/tests/slurm/tiny.ini

# --- dry run: teachers run `hardness`, students reuse their teacher's teachers/ directory
dry=$(bash "$PIPE" --dry-run --conditions at,tv --folds 1-2 --seeds 3 "$CFG" "$WORK/dry" train.lr=0.002 2>&1)
[ $? = 0 ] || failed "dry run failed: $dry"
expect "dry run: not 4 teachers" test "$(grep -c '^teacher	' <<<"$dry")" = 4
expect "dry run: not 4 students" test "$(grep -c '^student	' <<<"$dry")" = 4
for tag in at-f1 at-f2 tv-f1 tv-f2; do
  c=${tag%-f*} f=${tag#*-f}
  grep -q -- "--job-name=hardy-teacher-$tag .*train.sbatch --command hardness $CFG $WORK/dry/teacher/$tag missing.condition=$c data.fold=$f run.seed=3 train.lr=0.002$" <<<"$dry" ||
    failed "dry run: teacher command for $tag"
  grep -q -- "--job-name=hardy-student-$tag-seed3 --dependency=afterok:<teacher-$tag> --kill-on-invalid-dep=yes .*train.sbatch $CFG $WORK/dry/student/$tag-seed3 missing.condition=$c data.fold=$f run.seed=3 teacher.checkpoint=$WORK/dry/teacher/$tag/teachers train.lr=0.002$" <<<"$dry" ||
    failed "dry run: student command for $tag"
  grep -q "^student	$tag-seed3	<student-$tag-seed3>	afterok:<teacher-$tag>$" <<<"$dry" ||
    failed "dry run: summary line for $tag"
done
[ -z "$(squeue -h -n hardy-teacher-tv-f2 -o %i)" ] || failed "dry run submitted jobs"
[ -e "$WORK/dry" ] && failed "dry run created $WORK/dry"
out=$(bash "$PIPE" --dry-run --conditions xy "$CFG" "$WORK/dry" 2>&1)
[ $? = 2 ] && [[ "$out" == *"bad condition 'xy'"* ]] || failed "bad condition accepted: $out"
out=$(bash "$PIPE" --dry-run --folds 3-x "$CFG" "$WORK/dry" 2>&1)
[ $? = 2 ] && [[ "$out" == *"bad fold range '3-x'"* ]] || failed "bad fold accepted: $out"
# --rates: one teacher per rate, named after it; a missing.* override is refused, not misnamed
dry=$(bash "$PIPE" --dry-run --rates 0.1,0.3 --seeds 1,2 "$CFG" "$WORK/dry" 2>&1)
expect "--rates: not 2 teachers and 4 students" test "$(grep -c '^teacher	' <<<"$dry") $(grep -c '^student	' <<<"$dry")" = "2 4"
grep -q -- "--job-name=hardy-teacher-rate0.3 .*train.sbatch --command hardness $CFG $WORK/dry/teacher/rate0.3 missing.condition= missing.rate=0.3 run.seed=1$" <<<"$dry" ||
  failed "--rates: teacher command for rate 0.3: $dry"
out=$(bash "$PIPE" --dry-run "$CFG" "$WORK/dry" missing.rate=0.3 2>&1)
[ $? = 2 ] && [[ "$out" == *"give missing conditions with --conditions and rates with --rates"* ]] ||
  failed "missing.rate override accepted: $out"
out=$(bash "$PIPE" --dry-run --rates 1.5 "$CFG" "$WORK/dry" 2>&1)
[ $? = 2 ] && [[ "$out" == *"bad rate '1.5'"* ]] || failed "bad rate accepted: $out"

# --- real chain: one teacher, one student. With the real program: `hardness` trains the
# teacher, the student loads it; else the stand-in (teacher takes >= 2 s).
OPTS=(-- --chdir="$WORK" --ntasks-per-node=2 --cpus-per-task=1 --time=30 --output="$WORK/%x-%j.out")
if real_train_ready; then
  note "real hardness -> train chain"
  export HARDY_BIN=$REAL_BIN
  table=$(bash "$PIPE" --conditions at --folds none "$CFG" "$WORK/p" "data.path=$WORK/tiny.h5" \
    curriculum.enabled=true "${OPTS[@]}")
  real=1
else
  export HARDY_BIN=$FAKE_BIN HARDY_REAL_BIN=$REAL_BIN
  table=$(FAKE_SLEEP=2 bash "$PIPE" --conditions at --folds none "$CFG" "$WORK/p" "${OPTS[@]}")
  real=0
fi
tid=$(awk -F'\t' '$1 == "teacher" {print $3}' <<<"$table")
sid=$(awk -F'\t' '$1 == "student" {print $3}' <<<"$table")
[[ "$tid" =~ ^[0-9]+$ && "$sid" =~ ^[0-9]+$ ]] || failed "no job ids in: $table"
expect "summary lacks the dependency" grep -q "^student	at-seed1	$sid	afterok:$tid$" <<<"$table"
expect "student not waiting on its teacher" test "$(job_field "$sid" Reason)" = Dependency
st=$(wait_state "$sid" 'COMPLETED|FAILED|CANCELLED|TIMEOUT' 90)
slog=$WORK/hardy-student-at-seed1-$sid.out
[ "$st" = COMPLETED ] || { failed "student $sid: $st"; cat "$WORK/hardy-teacher-at-$tid.out" "$slog"; }
expect "teacher $tid not COMPLETED" test "$(job_field "$tid" JobState)" = COMPLETED
expect "teacher file missing" test -s "$WORK/p/teacher/at/teachers/at-teacher.h5"
expect "student wrote no results" test -s "$WORK/p/student/at-seed1/results.json"
t_end=$(job_field "$tid" EndTime) s_start=$(job_field "$sid" StartTime)
[[ "$s_start" > "$t_end" || "$s_start" = "$t_end" ]] ||
  failed "student started at $s_start, before its teacher ended at $t_end"
if [ "$real" = 1 ]; then
  expect "student did not load its teacher" file_has "$slog" "frozen teacher from $WORK/p/teacher/at/teachers/at-teacher.h5"
else
  expect "student lacks the teacher" file_has "$WORK/p/student/at-seed1/results.json" "teacher.checkpoint=$WORK/p/teacher/at/teachers"
fi

# --- a failing teacher: its student is cancelled
export HARDY_BIN=$FAKE_BIN HARDY_REAL_BIN=$REAL_BIN
table=$(bash "$PIPE" --conditions tv --folds none --teacher-sets "train.lr=x" "$CFG" "$WORK/f" "${OPTS[@]}")
tid=$(awk -F'\t' '$1 == "teacher" {print $3}' <<<"$table")
sid=$(awk -F'\t' '$1 == "student" {print $3}' <<<"$table")
st=$(wait_state "$tid" 'COMPLETED|FAILED|CANCELLED' 30)
expect "bad teacher $tid ended $st, not FAILED" test "$st" = FAILED
st=$(wait_state "$sid" 'CANCELLED|COMPLETED|FAILED' 30)
expect "student $sid of a failed teacher ended $st, not CANCELLED" test "$st" = CANCELLED
expect "student of a failed teacher ran" test ! -e "$WORK/f/student"
finish
