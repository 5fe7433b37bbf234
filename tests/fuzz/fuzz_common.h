/* Shared by the fuzz targets: MPI initialised once per fuzzing process (the readers open files
 * through MPI-IO on MPI_COMM_SELF), and the input written to a private file so the real open
 * path runs, not a memory shortcut. */
#ifndef HARDY_FUZZ_COMMON_H
#define HARDY_FUZZ_COMMON_H

#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "hardy/common.h"

static char fuzz_path[64];

static int fuzz_init(void) {
  int init = 0;
  MPI_Initialized(&init);
  if (!init) MPI_Init(NULL, NULL);
  const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
  snprintf(fuzz_path, sizeof fuzz_path, "%s/hardy-fuzz-%d.h5", dir, (int)getpid());
  atexit((void (*)(void))MPI_Finalize);
  return 0;
}

/* Write the input to fuzz_path; 0 on success. */
static int fuzz_write(const uint8_t *data, size_t size) {
  FILE *f = fopen(fuzz_path, "wb");
  if (!f) return -1;
  int ok = fwrite(data, 1, size, f) == size;
  return fclose(f) == 0 && ok ? 0 : -1;
}

#endif
