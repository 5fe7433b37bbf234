/* Fault injection (see hardy/fault.h): parses HARDY_FAULT once and answers, per event, whether
 * this rank should fail now. Kept out of every hot path: when the variable is unset the first
 * call records that and later calls return at once. */
#include "hardy/fault.h"

#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *KIND_NAMES[] = {"alloc", "io", "nan", "enospc"};
#define N_KINDS 4

static struct {
  int parsed;   /* 0 not yet, 1 parsed */
  int armed;    /* a valid fault for some rank */
  int rank;     /* -1: every rank */
  int kind;
  int64_t n, count;
  int64_t seen; /* events of `kind` counted so far on this rank */
  char label[64]; /* alloc@WHAT: only allocations whose label contains WHAT count */
  char text[96];
} g_fault;

static void parse(void) {
  g_fault.parsed = 1;
  const char *v = getenv("HARDY_FAULT");
  if (!v || !*v) return;
  char buf[96], kind[80] = "";
  snprintf(buf, sizeof buf, "%s", v);
  char rank_text[16] = "";
  long long n = 1, count = 1;
  int got = sscanf(buf, "rank:%15[^:]:%79[^:]:%lld:%lld", rank_text, kind, &n, &count);
  char *at = strchr(kind, '@');
  if (at) { /* alloc@WHAT */
    snprintf(g_fault.label, sizeof g_fault.label, "%s", at + 1);
    *at = '\0';
  }
  if (got < 2) {
    fprintf(stderr, "hardy: ignoring HARDY_FAULT='%s' (expected rank:R:KIND[:N[:COUNT]])\n", v);
    return;
  }
  g_fault.rank = strcmp(rank_text, "all") ? atoi(rank_text) : -1;
  g_fault.kind = -1;
  for (int k = 0; k < N_KINDS; k++)
    if (!strcmp(kind, KIND_NAMES[k])) g_fault.kind = k;
  if (g_fault.kind < 0 || n < 1 || count < 0) {
    fprintf(stderr, "hardy: ignoring HARDY_FAULT='%s' (KIND is alloc, io, nan or enospc; N >= 1)\n",
            v);
    return;
  }
  g_fault.n = n;
  g_fault.count = count;
  g_fault.armed = 1;
  snprintf(g_fault.text, sizeof g_fault.text, "%s", v);
}

bool hardy_fault_hit(hardy_fault_kind_t kind, int64_t at) {
  if (g_fault.parsed && !g_fault.armed) return false;
  int init = 0, fin = 0;
  MPI_Initialized(&init);
  MPI_Finalized(&fin);
  if (!init || fin) return false; /* before MPI_Init the rank is unknown: nothing is injected */
  if (!g_fault.parsed) parse();
  if (!g_fault.armed || (int)kind != g_fault.kind) return false;
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (g_fault.rank >= 0 && rank != g_fault.rank) return false;
  if (kind == HARDY_FAULT_NAN)
    return at >= g_fault.n && (g_fault.count == 0 || at < g_fault.n + g_fault.count);
  return ++g_fault.seen == g_fault.n;
}

bool hardy_fault_hit_alloc(const char *what) {
  if (g_fault.parsed && !g_fault.armed) return false;
  if (!g_fault.parsed) {
    int init = 0;
    MPI_Initialized(&init);
    if (!init) return false;
    parse();
  }
  if (g_fault.label[0] && (!what || !strstr(what, g_fault.label))) return false;
  return hardy_fault_hit(HARDY_FAULT_ALLOC, 0);
}

const char *hardy_fault_describe(void) {
  if (!g_fault.parsed) parse();
  return g_fault.armed ? g_fault.text : NULL;
}
