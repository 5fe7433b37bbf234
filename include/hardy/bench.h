/* Benchmarks run by `hardy-hpc bench <name>` (and `make bench`). Each prints a human summary
 * on rank 0 and writes a JSON result (path from --json FILE) with the baseline measured in the
 * same run, so speeds are reported as ratios, never as absolute pass/fail thresholds.
 * Collective over MPI_COMM_WORLD; argv[0] is the benchmark name. */
#ifndef HARDY_BENCH_H
#define HARDY_BENCH_H

/* sgemm throughput (GFLOP/s) of an m x k by k x n product on the current thread count: the
 * peak the other benchmarks report against. Local. */
double hardy_bench_sgemm_gflops(int m, int n, int k, double min_seconds);

int hardy_bench_knn(int argc, char **argv);
int hardy_bench_step(int argc, char **argv);
int hardy_bench_ckpt(int argc, char **argv);

#endif
