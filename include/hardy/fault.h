/* Fault injection for the reliability tests (docs/RELIABILITY.md). One fault per process,
 * read once from the environment:
 *
 *   HARDY_FAULT=rank:R:KIND[:N[:COUNT]]
 *
 * arms KIND on world rank R only (R = all: every rank). KINDs and what N counts:
 *   alloc   the N-th checked allocation (hardy_malloc/calloc/aligned_alloc) after MPI_Init
 *           returns NULL, as if memory ran out (N default 1); alloc@WHAT counts only the
 *           allocations whose label contains WHAT ("alloc@checkpoint tensor index"), so a
 *           test names a site that other allocations added later do not move
 *   io      the N-th shard read of a dataset reports an I/O error after the collective read
 *   nan     the batch of global step N (1-based, default 1) gets NaN features; COUNT steps in a
 *           row (default 1, 0 = every step from N on)
 *   enospc  the N-th checkpoint write fails with "No space left on device" after its data
 *           writes (the file is then as a full disk leaves it)
 * Without HARDY_FAULT every check is one predictable branch. Never set it in production. */
#ifndef HARDY_FAULT_H
#define HARDY_FAULT_H

#include <stdbool.h>
#include <stdint.h>

typedef enum {
  HARDY_FAULT_ALLOC = 0,
  HARDY_FAULT_IO = 1,
  HARDY_FAULT_NAN = 2,
  HARDY_FAULT_ENOSPC = 3,
} hardy_fault_kind_t;

/* Is the fault of `kind` due now on this rank? For alloc, io and enospc each call counts one
 * event (pass at = 0); for nan pass the 1-based global step. Local. */
bool hardy_fault_hit(hardy_fault_kind_t kind, int64_t at);
/* The same for an allocation labelled `what` (the checked allocators' label). Local. */
bool hardy_fault_hit_alloc(const char *what);

/* The parsed HARDY_FAULT value for messages ("rank 1: nan at step 3"), or NULL when unset. */
const char *hardy_fault_describe(void);

#endif
