#!/bin/bash
# Threads per rank as users run the program: with OMP_NUM_THREADS unset, `train` picks the
# CPUs of each rank's mask over the ranks sharing them (mpirun --bind-to none: all of this
# machine's CPUs over the ranks), logs the placement, and warns naming the node when ranks x
# threads exceed its CPUs; run.threads and OMP_NUM_THREADS still win.
source "$SOURCE_DIR/tests/train/lib.sh"
unset OMP_NUM_THREADS
ncpu=$(nproc)
make_data d.h5
write_cfg t.ini d.h5
short="--set train.max_steps=1 --set train.stage2_epochs=1 --set curriculum.enabled=false"
expect_threads() { # log ranks threads source
  grep -q "placement: 1 node(s), $2 rank(s) per node, $ncpu CPU(s) per node, $3 thread(s) per rank ($4" "$1" ||
    { echo "  log has: $(grep placement "$1")"; return 1; }
}
for n in 1 2; do
  run_mpi $n train t.ini $short --out a$n >a$n.log 2>&1 || fail "train at $n ranks, no OMP_NUM_THREADS"
  t=$((ncpu / n)); [ $t -ge 1 ] || t=1
  check "$n rank(s), nothing set: $t thread(s) per rank" expect_threads a$n.log $n $t automatic
  check "$n rank(s): OpenMP and OpenBLAS use them" grep -qE ", $t threads( \(.*\))?; OpenMP $t threads" a$n.log
done
over=$((ncpu + 1))
run_mpi 2 train t.ini $short --set run.threads=$over --out b >b.log 2>&1 || fail "train with run.threads"
check "run.threads wins" expect_threads b.log 2 $over run.threads
check "oversubscription warning names the node" grep -q "warning: node $(hostname)[^ ]*: 2 rank(s) run $((2 * over)) threads in all on $ncpu CPU(s)" b.log
OMP_NUM_THREADS=1 run_mpi 2 train t.ini $short --out c >c.log 2>&1 || fail "train with OMP_NUM_THREADS=1"
check "OMP_NUM_THREADS wins" expect_threads c.log 2 1 OMP_NUM_THREADS
check "no warning when ranks x threads fit" bash -c "[ $ncpu -lt 2 ] || ! grep -q oversubscribed c.log"
finish
