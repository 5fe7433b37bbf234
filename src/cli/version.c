/* `hardy-hpc --version`: what this binary is and what it runs on, for bug reports and run
 * records: version, the git commit it was built from (hardy_gitrev.h, written at build time by
 * cmake/HardyGitRev.cmake), the MPI library, the BLAS, HDF5 and ScaLAPACK. */
#include <hdf5.h>
#include <mpi.h>
#include <omp.h>
#include <stdio.h>
#include <string.h>

#include "hardy/blas.h"
#include "hardy/cli.h"
#include "hardy_gitrev.h"

#ifndef HARDY_SCALAPACK_VERSION
#define HARDY_SCALAPACK_VERSION "unknown"
#endif

void hardy_version_print(void) {
  char mpi_lib[MPI_MAX_LIBRARY_VERSION_STRING] = "";
  int len = 0, mpi_major = 0, mpi_minor = 0;
  MPI_Get_library_version(mpi_lib, &len);
  MPI_Get_version(&mpi_major, &mpi_minor);
  mpi_lib[strcspn(mpi_lib, "\r\n")] = '\0'; /* first line only (MPICH adds build details) */
  for (char *c = mpi_lib; *c; c++)
    if (*c == '\t') *c = ' ';
  unsigned h5_major = 0, h5_minor = 0, h5_release = 0;
  H5get_libversion(&h5_major, &h5_minor, &h5_release);
  char blas[512];
  hardy_blas_describe(blas, sizeof blas);
  printf("hardy-hpc %s\n", HARDY_VERSION);
  printf("commit:    %s\n", HARDY_GIT_COMMIT);
  printf("MPI:       %s (MPI %d.%d)\n", mpi_lib, mpi_major, mpi_minor);
  printf("BLAS:      %s\n", blas);
  printf("HDF5:      %u.%u.%u (parallel)\n", h5_major, h5_minor, h5_release);
  printf("ScaLAPACK: %s\n", HARDY_SCALAPACK_VERSION);
  printf("OpenMP:    %d threads (OMP_NUM_THREADS)\n", omp_get_max_threads());
}
