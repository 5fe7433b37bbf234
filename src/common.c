/* The error record, collective agreement on errors, checked allocation, clocks. The error
 * record is per process (the program is single-threaded outside OpenMP regions, and OpenMP
 * regions do not report errors through it). */
#include "hardy/common.h"
#include "hardy/fault.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char g_errmsg[HARDY_ERRMSG_MAX];
static int g_has_error = 0;

static void append(const char *fmt, va_list ap) {
  size_t len = strlen(g_errmsg);
  if (len + 1 < sizeof g_errmsg) vsnprintf(g_errmsg + len, sizeof g_errmsg - len, fmt, ap);
}

static void append_f(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  append(fmt, ap);
  va_end(ap);
}

int hardy_fail(int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  if (!g_has_error) {
    g_errmsg[0] = '\0';
    append(fmt, ap);
    g_has_error = 1;
  } else {
    append_f("\n  (then: ");
    append(fmt, ap);
    append_f(")");
  }
  va_end(ap);
  return code;
}

void hardy_error_trace(const char *file, int line, const char *what) {
  if (!g_has_error) return;
  const char *base = strrchr(file, '/');
  append_f("\n  at %s:%d: %.120s", base ? base + 1 : file, line, what);
}

const char *hardy_error_message(void) { return g_has_error ? g_errmsg : "no error"; }

void hardy_error_clear(void) {
  g_has_error = 0;
  g_errmsg[0] = '\0';
}

int hardy_exit_code(int status) {
  if (status == HARDY_OK) return HARDY_EXIT_OK;
  if (status == HARDY_ERR_INPUT) return HARDY_EXIT_INPUT;
  return HARDY_EXIT_RUNTIME;
}

int hardy_mpi_fail(int mpi_rc, const char *file, int line, const char *what) {
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(mpi_rc, text, &len) != MPI_SUCCESS) snprintf(text, sizeof text, "code %d", mpi_rc);
  hardy_fail(HARDY_ERR_RUNTIME, "MPI call failed: %s", text);
  hardy_error_trace(file, line, what);
  return HARDY_ERR_RUNTIME;
}

/* Does msg start with "rank N: "? */
static bool names_rank(const char *msg) {
  if (strncmp(msg, "rank ", 5) != 0) return false;
  const char *p = msg + 5;
  if (*p < '0' || *p > '9') return false;
  while (*p >= '0' && *p <= '9') p++;
  return p[0] == ':' && p[1] == ' ';
}

int hardy_agree(int status, MPI_Comm comm) {
  int rank = 0, size = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  /* (status, rank) pairs: the lowest status wins, ties to the lowest rank. */
  struct {
    int status;
    int rank;
  } mine = {status, rank}, worst;
  MPI_Allreduce(&mine, &worst, 1, MPI_2INT, MPI_MINLOC, comm);
  if (worst.status >= 0) return worst.status;
  char buf[HARDY_ERRMSG_MAX];
  if (rank == worst.rank) {
    /* a message agreed earlier already names its rank (every rank then holds it, and the
     * lowest one wins the tie): do not name rank 0 in front of it */
    int n = size > 1 && !names_rank(hardy_error_message()) ? snprintf(buf, sizeof buf, "rank %d: ", rank) : 0;
    snprintf(buf + n, sizeof buf - (size_t)n, "%.*s", (int)(sizeof buf) - n - 1,
             hardy_error_message());
  }
  MPI_Bcast(buf, (int)sizeof buf, MPI_CHAR, worst.rank, comm);
  buf[sizeof buf - 1] = '\0';
  hardy_error_clear();
  hardy_fail(worst.status, "%s", buf);
  return worst.status;
}

void *hardy_malloc(size_t bytes, const char *what) {
  void *p = hardy_fault_hit_alloc(what) ? NULL : malloc(bytes ? bytes : 1);
  if (!p) hardy_fail(HARDY_ERR_RUNTIME, "out of memory allocating %zu bytes for %s", bytes, what);
  return p;
}

void *hardy_calloc(size_t count, size_t size, const char *what) {
  void *p = hardy_fault_hit_alloc(what) ? NULL : calloc(count ? count : 1, size ? size : 1);
  if (!p)
    hardy_fail(HARDY_ERR_RUNTIME, "out of memory allocating %zu x %zu bytes for %s", count, size,
               what);
  return p;
}

void *hardy_aligned_alloc(size_t bytes, const char *what) {
  void *p = NULL;
  size_t rounded = (bytes + 63) / 64 * 64;
  if (hardy_fault_hit_alloc(what) || posix_memalign(&p, 64, rounded ? rounded : 64) != 0) {
    hardy_fail(HARDY_ERR_RUNTIME, "out of memory allocating %zu bytes for %s", bytes, what);
    return NULL;
  }
  return p;
}

int hardy_mkdirs(const char *dir, const char *what) {
  char buf[4096];
  if (snprintf(buf, sizeof buf, "%s", dir) >= (int)sizeof buf)
    return hardy_fail(HARDY_ERR_INPUT, "%s path too long: %.64s...", what, dir);
  for (char *p = buf + 1;; p++) {
    bool end = *p == '\0';
    if (*p == '/' || end) {
      *p = '\0';
      if (mkdir(buf, 0777) != 0 && errno != EEXIST)
        return hardy_fail(HARDY_ERR_INPUT, "cannot create %s %s: %s", what, buf, strerror(errno));
      if (end) break;
      *p = '/';
    }
  }
  struct stat st;
  if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
    return hardy_fail(HARDY_ERR_INPUT, "%s %s is not a directory", what, dir);
  if (access(dir, W_OK | X_OK) != 0)
    return hardy_fail(HARDY_ERR_INPUT, "%s %s is not writable: %s", what, dir, strerror(errno));
  return HARDY_OK;
}

double hardy_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int hardy_world_rank(void) {
  int init = 0, fin = 0, rank = 0;
  MPI_Initialized(&init);
  MPI_Finalized(&fin);
  if (init && !fin) MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return rank;
}
