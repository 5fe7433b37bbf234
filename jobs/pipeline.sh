#!/bin/bash
# Teacher -> student pipeline on Slurm: one teacher job per (condition, fold) running
# `hardy-hpc hardness` (trains the teacher, scores hardness, saves OUT/teachers/<run>-teacher.h5),
# then one student job per (condition, fold, seed) running `hardy-hpc train` that starts only
# after its teacher succeeded (--dependency=afterok) and reuses it (--set
# teacher.checkpoint=<teacher OUT>/teachers). Students of a failed teacher are cancelled by
# Slurm (--kill-on-invalid-dep=yes), never left pending.
#
#   jobs/pipeline.sh [options] CONFIG OUT [key=value ...] [-- sbatch options]
#     --conditions LIST   missing conditions, default a,t,v,at,av,tv,atv (none with --rates)
#     --rates LIST        random missing rates, e.g. 0.1,0.3,0.5: one teacher per rate (and fold)
#     --folds LIST        none (the file's split; default), all, or folds: 1,2,3 or 1-5
#     --seeds LIST        student seeds, default 1 (the teacher uses the first)
#     --teacher-sets S    overrides for the teacher jobs only, e.g. "train.lr=3e-4"
#     --dry-run           print the sbatch commands, submit nothing
#
# Layout: OUT/teacher/<cond>-f<fold>/ and OUT/student/<cond>-f<fold>-seed<s>/ (no -f<fold>
# with --folds none). Prints one line per job: role, name, job id, dependency.
# Both kinds of job run jobs/train.sbatch; students resume and requeue on their own.
set -u
JOBS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
conditions=a,t,v,at,av,tv,atv folds=none seeds=1 dry=0 rates="" conditions_given=0
teacher_sets=""

usage() { sed -n '2,/^set -u/p' "${BASH_SOURCE[0]}" | grep '^#' | sed 's/^# \{0,1\}//' >&2; exit 2; }
die() { echo "pipeline: error: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
  case "$1" in
  --conditions) conditions=${2:?} conditions_given=1; shift 2 ;;
  --rates) rates=${2:?}; shift 2 ;;
  --folds) folds=${2:?}; shift 2 ;;
  --seeds) seeds=${2:?}; shift 2 ;;
  --teacher-sets) teacher_sets=${2?}; shift 2 ;;
  --dry-run) dry=1; shift ;;
  -h | --help) usage ;;
  -*) die "unknown option '$1' (see --help)" ;;
  *) break ;;
  esac
done
[ $# -ge 2 ] || usage
config=$1 out=$2
shift 2
extra=() sbatch_opts=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do
  [[ "$1" == ?*=* ]] || die "'$1' is not a key=value override"
  [[ "$1" == missing.* ]] && die "'$1': give missing conditions with --conditions and rates with --rates (a job's name and directory come from them)"
  extra+=("$1")
  shift
done
[ "${1:-}" = -- ] && { shift; sbatch_opts=("$@"); }
[ -f "$config" ] || die "config file '$config' not found"

# Expand "1-3,5" to "1 2 3 5"; none/all stay words.
fold_list=()
for f in ${folds//,/ }; do
  case "$f" in
  none | all) fold_list+=("$f") ;;
  *-*) [[ "$f" =~ ^([0-9]+)-([0-9]+)$ ]] || die "bad fold range '$f'"
    fold_list+=($(seq "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}")) ;;
  *) [[ "$f" =~ ^[0-9]+$ ]] || die "bad fold '$f' (none, all or numbers)"; fold_list+=("$f") ;;
  esac
done
for c in ${conditions//,/ }; do
  [[ "$c" =~ ^(a|t|v|at|av|tv|atv)$ ]] || die "bad condition '$c' (a,t,v,at,av,tv,atv)"
done
# The missing settings: "tag overrides..." per teacher (conditions, then rates).
settings=()
[ -n "$rates" ] && [ "$conditions_given" = 0 ] && conditions=""
for c in ${conditions//,/ }; do settings+=("$c missing.condition=$c"); done
for r in ${rates//,/ }; do
  [[ "$r" =~ ^0?\.[0-9]+$|^0$ ]] || die "bad rate '$r' (a number in [0, 1))"
  settings+=("rate$r missing.condition= missing.rate=$r")
done
[ ${#settings[@]} -gt 0 ] || die "no conditions or rates"
seed_list=(${seeds//,/ })
[ ${#seed_list[@]} -gt 0 ] || die "no seeds"

export HARDY_JOBS_DIR=$JOBS_DIR
exec 3>&1 # dry-run commands go to stdout from inside $(submit ...)
# submit ROLE NAME DEPENDENCY ARGS...: sbatch (or print it), echo the job id.
submit() {
  local name=$2 dep=$3
  shift 3
  local cmd=(sbatch --parsable --job-name="hardy-$name" ${dep:+--dependency=afterok:$dep --kill-on-invalid-dep=yes}
    "${sbatch_opts[@]}" "$JOBS_DIR/train.sbatch" "$@")
  if [ "$dry" = 1 ]; then
    local word line=""
    for word in "${cmd[@]}"; do
      [[ "$word" =~ ^[A-Za-z0-9_./:=,+@%\<\>-]+$ ]] || word=$(printf '%q' "$word")
      line=${line:+$line }$word
    done
    echo "$line" >&3
    echo "<$name>"
  else
    local id
    id=$("${cmd[@]}") || die "sbatch failed for $name"
    echo "${id%%;*}"
  fi
}

echo "# role	name	job	after"
for setting in "${settings[@]}"; do
  c=${setting%% *}
  read -r -a miss_set <<<"${setting#* }"
  for f in "${fold_list[@]}"; do
    tag=$c fold_set=()
    [ "$f" != none ] && tag=$c-f$f fold_set=("data.fold=$f")
    tdir=$out/teacher/$tag
    # shellcheck disable=SC2086
    tid=$(submit teacher "teacher-$tag" "" --command hardness "$config" "$tdir" "${miss_set[@]}" \
      "${fold_set[@]}" "run.seed=${seed_list[0]}" "${extra[@]}" $teacher_sets) || exit 2
    printf 'teacher\t%s\t%s\t-\n' "$tag" "$tid"
    for s in "${seed_list[@]}"; do
      sid=$(submit student "student-$tag-seed$s" "$tid" "$config" "$out/student/$tag-seed$s" \
        "${miss_set[@]}" "${fold_set[@]}" "run.seed=$s" \
        "teacher.checkpoint=$tdir/teachers" "${extra[@]}") || exit 2
      printf 'student\t%s\t%s\tafterok:%s\n' "$tag-seed$s" "$sid" "$tid"
    done
  done
done
