/* Shared basics: status codes, the error record, collective error agreement, checked
 * allocation and a wall clock. Every module reports failures through hardy_fail(), and
 * HARDY_CHECK() propagates them with file:line so the user sees what failed and where. */
#ifndef HARDY_COMMON_H
#define HARDY_COMMON_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

/* Status codes (0 ok, negative error). The magnitude is the process exit code. */
enum {
  HARDY_OK = 0,
  HARDY_ERR_INPUT = -2,   /* bad input: config, flags, data file. Exit 2. */
  HARDY_ERR_RUNTIME = -3, /* runtime failure: I/O, MPI, out of memory. Exit 3. */
};

/* What a dataset's labels are: classes or a real score (dataset, metrics and train share it). */
typedef enum { HARDY_TASK_CLASSIFICATION = 0, HARDY_TASK_REGRESSION = 1 } hardy_task_t;

/* Returned by train when it stopped on SIGTERM/SIGUSR1 after writing a checkpoint. */
#define HARDY_STATUS_PREEMPTED (-143)

/* Exit codes of the program. */
enum {
  HARDY_EXIT_OK = 0,
  HARDY_EXIT_INPUT = 2,
  HARDY_EXIT_RUNTIME = 3,
  HARDY_EXIT_PREEMPTED = 143, /* checkpoint written after SIGTERM/SIGUSR1; requeue me */
};

#define HARDY_ERRMSG_MAX 2048

/* Record an error message (printf-style) and return `code`. The first message since the last
 * hardy_error_clear() wins; later ones are appended as context. Local, not collective. */
int hardy_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append "  at file:line: what" to the current message (used by HARDY_CHECK). */
void hardy_error_trace(const char *file, int line, const char *what);
const char *hardy_error_message(void);
void hardy_error_clear(void);
/* Map a status code to the process exit code (0, 2 or 3). */
int hardy_exit_code(int status);

#define HARDY_CHECK(call)                                                                      \
  do {                                                                                         \
    int hardy_rc_ = (call);                                                                    \
    if (hardy_rc_ < 0) {                                                                       \
      hardy_error_trace(__FILE__, __LINE__, #call);                                            \
      return hardy_rc_;                                                                        \
    }                                                                                          \
  } while (0)

/* Check an MPI call; on failure record the MPI error string and return HARDY_ERR_RUNTIME. */
#define HARDY_MPI_CHECK(call)                                                                  \
  do {                                                                                         \
    int hardy_mrc_ = (call);                                                                   \
    if (hardy_mrc_ != MPI_SUCCESS) return hardy_mpi_fail(hardy_mrc_, __FILE__, __LINE__, #call); \
  } while (0)
int hardy_mpi_fail(int mpi_rc, const char *file, int line, const char *what);

/* Collective over comm: agree on a status. Returns the most severe (lowest) status of any rank.
 * If any rank failed, every rank's error record is replaced by the message of the lowest
 * failing rank, prefixed with "rank R: " when comm has more than one rank, so rank 0 can print
 * one clear message and every rank exits with the same code. Never hangs if all ranks call it. */
int hardy_agree(int status, MPI_Comm comm);

/* Checked allocation: on failure records "out of memory allocating N bytes for WHAT" and
 * returns NULL. hardy_calloc zero-fills. Free with free(). */
void *hardy_malloc(size_t bytes, const char *what);
void *hardy_calloc(size_t count, size_t size, const char *what);
/* 64-byte aligned, for BLAS operands. Free with free(). */
void *hardy_aligned_alloc(size_t bytes, const char *what);

/* mkdir -p DIR, then check it is a writable directory. `what` names it in errors ("output
 * directory", "checkpoint directory"). Local. */
int hardy_mkdirs(const char *dir, const char *what);

/* Wall clock in seconds (monotonic). */
double hardy_now(void);

/* Rank in MPI_COMM_WORLD (0 before MPI_Init or after finalize). */
int hardy_world_rank(void);

#define HARDY_MIN(a, b) ((a) < (b) ? (a) : (b))
#define HARDY_MAX(a, b) ((a) > (b) ? (a) : (b))

#endif
