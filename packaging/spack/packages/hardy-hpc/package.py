# Spack recipe for hardy-hpc, built from a checkout of this repository (no download location
# is recorded; set `git` to your clone's URL to use `spack install` instead):
#   spack repo add packaging/spack
#   cd /path/to/hardy-hpc
#   spack dev-build hardy-hpc@main                      # Open MPI or the site MPI + OpenBLAS (OpenMP)
#   spack dev-build hardy-hpc@main blas=blis mpi=mpich  # MPICH + BLIS
#   spack dev-build hardy-hpc@main blas=mkl ^intel-oneapi-mpi
from spack.package import *


class HardyHpc(CMakePackage):
    """MPI-distributed trainer for multimodal emotion recognition robust to missing
    modalities (HARDY-MER): Open MPI or any MPICH-ABI MPI, OpenMP, BLAS, ScaLAPACK and
    parallel HDF5."""

    version("main")

    variant(
        "blas",
        default="openblas",
        values=("openblas", "blis", "mkl", "any"),
        multi=False,
        description="BLAS library: OpenBLAS (OpenMP build), BLIS (OpenMP), MKL, or whatever "
        "provides blas/lapack in the spec",
    )
    variant(
        "mpi",
        default="any",
        values=("any", "openmpi", "mpich"),
        multi=False,
        description="MPI implementation (any: the spec's mpi provider, e.g. a site external "
        "such as cray-mpich or intel-oneapi-mpi)",
    )

    depends_on("c", type="build")
    depends_on("cmake@3.20:", type="build")
    depends_on("pkgconfig", type="build")

    depends_on("mpi")
    depends_on("openmpi", when="mpi=openmpi")
    depends_on("mpich", when="mpi=mpich")

    depends_on("blas")
    depends_on("lapack")
    depends_on("openblas threads=openmp", when="blas=openblas")
    depends_on("amdblis threads=openmp", when="blas=blis")
    depends_on("intel-oneapi-mkl threads=openmp", when="blas=mkl")

    depends_on("scalapack")
    depends_on("hdf5+mpi~fortran")
    depends_on("libinih")
    depends_on("cjson")

    def cmake_args(self):
        spec = self.spec
        # FLAME is FindBLAS's name for BLIS; Intel10_64lp the OpenMP-threaded MKL
        vendor = {"openblas": "OpenBLAS", "blis": "FLAME", "mkl": "Intel10_64lp"}
        args = [
            self.define("MPI_C_COMPILER", spec["mpi"].mpicc),
            self.define("HDF5_ROOT", spec["hdf5"].prefix),
            self.define("SCALAPACK_LIBRARIES", spec["scalapack"].libs.joined(";")),
            self.define("BUILD_TESTING", self.run_tests),
        ]
        blas = spec.variants["blas"].value
        if blas in vendor:
            args.append(self.define("BLA_VENDOR", vendor[blas]))
        else:
            args.append(self.define("HARDY_BLAS_LIBRARIES_OVERRIDE", spec["blas"].libs.joined(";")))
        return args
