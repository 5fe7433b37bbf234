/* The kNN kernel's run-time knobs: which kernel a search runs and its tile sizes, chosen once
 * per process from the CPU and from HARDY_KNN_KERNEL / HARDY_KNN_TILE (docs/KNN.md).
 *
 * Tile sizes: per thread, a query sub-block of up to QB rows against index blocks of up to XB
 * rows. The sgemm path re-packs both operands on every call (cost ~ 1/QB + 1/XB of the flops)
 * while its tile costs only 8 bytes of traffic per 2d flops, so large tiles win even when they
 * spill from L2; the fused path packs a chunk of QB rows per thread once and each index block
 * once per chunk. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hardy/common.h"
#include "hardy/knn.h"
#include "hardy/log.h"
#include "knn_internal.h"

/* blas, fused-avx512, fused-avx2 */
static const int DEFAULT_QB[3] = {2048, 4096, 4096}, DEFAULT_XB[3] = {4096, 4096, 4096};
static const char *const KERNEL_NAME[3] = {"blas", "fused-avx512", "fused-avx2"};
typedef hardy_knn_tile_t tile_t;

/* Parses "QBxXB" within limits; 0 when invalid. */
static int parse_tile(const char *text, tile_t *t) {
  long qb = 0, xb = 0;
  char tail = 0;
  if (sscanf(text, "%ldx%ld%c", &qb, &xb, &tail) != 2 || qb < 16 || qb > HARDY_KNN_QB_MAX || xb < 64 ||
      xb > HARDY_KNN_XB_MAX)
    return 0;
  t->qb = (int)qb, t->xb = (int)xb;
  return 1;
}

/* Read once from the environment (a bad value is reported and ignored). Called from the
 * thread that runs the search, before any parallel region. */
static struct {
  int done;
  tile_t tile;
  hardy_knn_kernel_t kernel;
} knn_config;

static void config_once(void) {
  if (knn_config.done) return;
  hardy_knn_kernel_t best = hardy_knn_fused_best(), kernel = best;
  const char *kind = getenv("HARDY_KNN_KERNEL");
  if (kind && *kind && strcmp(kind, "auto") != 0 && strcmp(kind, "fused") != 0) {
    int found = 0;
    for (int i = 0; i < 3; i++)
      if (!strcmp(kind, KERNEL_NAME[i])) {
        found = 1;
        if (i == HARDY_KNN_KERNEL_BLAS || hardy_knn_fused_supported((hardy_knn_kernel_t)i))
          kernel = (hardy_knn_kernel_t)i;
        else
          hardy_log_warn("HARDY_KNN_KERNEL=%s: this CPU cannot run it; using %s", kind,
                         KERNEL_NAME[best]);
      }
    if (!found)
      hardy_log_warn("HARDY_KNN_KERNEL='%s' ignored: expected auto, fused, fused-avx512, "
                     "fused-avx2 or blas", kind);
  }
  tile_t t = {DEFAULT_QB[kernel], DEFAULT_XB[kernel]};
  const char *env = getenv("HARDY_KNN_TILE");
  if (env && *env && !parse_tile(env, &t))
    hardy_log_warn("HARDY_KNN_TILE='%s' ignored: expected QBxXB with 16 <= QB <= %d and "
                   "64 <= XB <= %d (e.g. 2048x4096)", env, HARDY_KNN_QB_MAX, HARDY_KNN_XB_MAX);
  knn_config.tile = t, knn_config.kernel = kernel, knn_config.done = 1;
}

hardy_knn_tile_t hardy_knn_tile_config(void) {
  config_once();
  return knn_config.tile;
}

hardy_knn_kernel_t hardy_knn_kernel_config(void) {
  config_once();
  return knn_config.kernel;
}

const char *hardy_knn_tile_string(void) {
  static char text[32];
  tile_t t = hardy_knn_tile_config();
  snprintf(text, sizeof text, "%dx%d", t.qb, t.xb);
  return text;
}

const char *hardy_knn_kernel_name(void) { return KERNEL_NAME[hardy_knn_kernel_config()]; }
