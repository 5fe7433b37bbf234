/* Minimal MPI-aware test harness: checks count failures per rank; hardy_test_finish() sums
 * them over MPI_COMM_WORLD and returns the process exit status. Each failure prints
 * file:line, the rank and the values involved. */
#ifndef HARDY_TEST_HARNESS_H
#define HARDY_TEST_HARNESS_H

#include <math.h>
#include <mpi.h>
#include <stdio.h>

static int hardy_test_failures = 0;
static int hardy_test_checks = 0;

static inline int hardy_test_rank(void) {
  int init = 0, rank = 0;
  MPI_Initialized(&init);
  if (init) MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return rank;
}

#define TEST_ASSERT(cond, ...)                                                                  \
  do {                                                                                         \
    hardy_test_checks++;                                                                       \
    if (!(cond)) {                                                                             \
      hardy_test_failures++;                                                                   \
      fprintf(stderr, "FAIL %s:%d [rank %d] %s: ", __FILE__, __LINE__, hardy_test_rank(), #cond); \
      fprintf(stderr, __VA_ARGS__);                                                            \
      fprintf(stderr, "\n");                                                                   \
    }                                                                                          \
  } while (0)

/* |a - b| <= atol + rtol * |b| */
#define TEST_NEAR(a, b, atol, rtol)                                                            \
  do {                                                                                         \
    double _a = (double)(a), _b = (double)(b);                                                 \
    TEST_ASSERT(fabs(_a - _b) <= (atol) + (rtol) * fabs(_b) && !isnan(_a) && !isnan(_b),       \
                "%s = %.9g, %s = %.9g (|diff| %.3g, atol %.3g, rtol %.3g)", #a, _a, #b, _b,    \
                fabs(_a - _b), (double)(atol), (double)(rtol));                                \
  } while (0)

#define TEST_EQ_INT(a, b)                                                                      \
  do {                                                                                         \
    long long _a = (long long)(a), _b = (long long)(b);                                        \
    TEST_ASSERT(_a == _b, "%s = %lld, expected %s = %lld", #a, _a, #b, _b);                    \
  } while (0)

/* Collective over MPI_COMM_WORLD when MPI is initialised. Prints the closing line on rank 0. */
static inline int hardy_test_finish(const char *name) {
  int init = 0, fin = 0, total = hardy_test_failures, checks = hardy_test_checks;
  MPI_Initialized(&init);
  MPI_Finalized(&fin);
  if (init && !fin) {
    MPI_Allreduce(&hardy_test_failures, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    MPI_Allreduce(&hardy_test_checks, &checks, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  }
  if (hardy_test_rank() == 0)
    printf("%s: %d checks, %d failed\n", name, checks, total);
  return total == 0 ? 0 : 1;
}

#endif
