# hardy-hpc's dependencies, found wherever the machine has them: system packages, environment
# modules (Lmod), Spack, conda or a container. Defines the INTERFACE target hardy_deps (include
# directories, definitions and libraries of MPI, OpenMP, parallel HDF5, ScaLAPACK, LAPACK, BLAS,
# inih and cJSON) and these variables for the version report and install rules:
#   HARDY_MPI_FLAVOUR      openmpi | mpich (MPICH ABI: MPICH, Intel MPI, MVAPICH, Cray MPICH)
#   HARDY_BLAS_NAME        OpenBLAS | BLIS | MKL | the library's file name
#   HARDY_SCALAPACK_FROM   how ScaLAPACK was found, HARDY_SCALAPACK_VERSION its version
#
# Selection knobs (all optional):
#   -DMPI_C_COMPILER=mpicc.mpich        which MPI (FindMPI); MPIEXEC_EXECUTABLE the launcher
#   -DBLA_VENDOR=OpenBLAS|FLAME|Intel10_64lp|Generic|...   which BLAS (FindBLAS); default: the
#                                        first of OpenBLAS, FLAME (BLIS), Intel10_64lp, Generic
#   -DHARDY_BLAS_LIBRARIES_OVERRIDE=/path/libblas.so        a BLAS by hand (skips FindBLAS)
#   -DHDF5_ROOT=... or -DHDF5_C_COMPILER_EXECUTABLE=h5pcc   which HDF5 (FindHDF5)
#   -DSCALAPACK_LIBRARIES="/path/libscalapack.so"           ScaLAPACK by hand (wins)
#   CMAKE_PREFIX_PATH / PKG_CONFIG_PATH (set by `module load`, Spack, conda) as usual.
#
# Each missing piece stops the configure step with one message naming it and its package.

include(CheckSymbolExists)
include(CheckFunctionExists)

# hardy_deps_missing(WHAT DEBIAN RHEL SPACK CONDA [DETAIL]): one FATAL_ERROR with the packages.
function(hardy_deps_missing what deb rhel spack conda)
  set(_detail "")
  if(ARGC GREATER 5)
    set(_detail "${ARGV5}\n")
  endif()
  set(_conda "conda install -c conda-forge ${conda}")
  if(conda STREQUAL "-")
    set(_conda "not on conda-forge; build it into $CONDA_PREFIX (docs/INSTALL.md)")
  endif()
  message(FATAL_ERROR
    "hardy-hpc: ${what} not found.\n${_detail}"
    "Install it (or load its module) and configure again:\n"
    "  Debian/Ubuntu:     apt-get install ${deb}\n"
    "  RHEL/Rocky (EPEL): dnf install ${rhel}\n"
    "  Spack:             spack install ${spack}\n"
    "  conda-forge:       ${_conda}\n"
    "Or point CMake at an existing installation with CMAKE_PREFIX_PATH (see docs/INSTALL.md).")
endfunction()

# hardy_deps_mpi_flavour_of(OUT FILE): openmpi, mpich or "" from the MPI libraries FILE (a
# shared library) needs, read with readelf; "" when it cannot tell (static, no readelf).
function(hardy_deps_mpi_flavour_of out file)
  set(${out} "" PARENT_SCOPE)
  find_program(HARDY_READELF NAMES readelf ${CMAKE_READELF})
  mark_as_advanced(HARDY_READELF)
  if(NOT HARDY_READELF OR NOT EXISTS "${file}" OR NOT file MATCHES "\\.so")
    return()
  endif()
  execute_process(COMMAND ${HARDY_READELF} -d "${file}" OUTPUT_VARIABLE _dyn ERROR_QUIET)
  if(_dyn MATCHES "\\[(libmpi\\.so\\.4[0-9]|libmpi_mpifh|libopen-pal|libopen-rte)")
    set(${out} openmpi PARENT_SCOPE)
  elseif(_dyn MATCHES "\\[(libmpich|libmpi\\.so\\.12|libmpi_cray|libmpifort\\.so\\.12)")
    set(${out} mpich PARENT_SCOPE)
  endif()
endfunction()

# ---- MPI ----------------------------------------------------------------------
find_package(MPI COMPONENTS C)
if(NOT MPI_C_FOUND)
  hardy_deps_missing("MPI (a C compiler wrapper mpicc and its library)"
    "libopenmpi-dev openmpi-bin  (or libmpich-dev mpich)" "openmpi-devel  (then: module load mpi/openmpi-x86_64)"
    "openmpi  (or mpich)" "openmpi  (or mpich)"
    "Choose one with -DMPI_C_COMPILER=/path/to/mpicc.")
endif()
# The MPI family, from its mpi.h (no MPI program is run at configure time: login nodes may
# forbid it): Open MPI, or the MPICH ABI family (MPICH, Intel MPI, MVAPICH, Cray MPICH).
find_file(HARDY_MPI_H mpi.h HINTS ${MPI_C_INCLUDE_DIRS} ${MPI_C_HEADER_DIR} NO_DEFAULT_PATH NO_CACHE)
set(HARDY_MPI_FLAVOUR unknown)
set(HARDY_MPI_LIBRARY_VERSION "unknown MPI")
if(HARDY_MPI_H)
  file(STRINGS "${HARDY_MPI_H}" _mpi_defs REGEX "#define (OPEN_MPI|OMPI_(MAJOR|MINOR|RELEASE)_VERSION|MPICH_VERSION|I_MPI_VERSION|MVAPICH2?_VERSION) ")
  if(_mpi_defs MATCHES "OPEN_MPI")
    set(HARDY_MPI_FLAVOUR openmpi)
    string(REGEX REPLACE ".*OMPI_MAJOR_VERSION ([0-9]+).*OMPI_MINOR_VERSION ([0-9]+).*OMPI_RELEASE_VERSION ([0-9]+).*"
      "Open MPI \\1.\\2.\\3" HARDY_MPI_LIBRARY_VERSION "${_mpi_defs}")
  elseif(_mpi_defs MATCHES "MPICH_VERSION \"([^\"]*)\"")
    set(HARDY_MPI_FLAVOUR mpich)
    set(HARDY_MPI_LIBRARY_VERSION "MPICH ${CMAKE_MATCH_1}")
    if(_mpi_defs MATCHES "I_MPI_VERSION \"([^\"]*)\"")
      set(HARDY_MPI_LIBRARY_VERSION "Intel MPI ${CMAKE_MATCH_1} (MPICH ABI)")
    endif()
  endif()
endif()
# Debian/Ubuntu install several MPIs side by side behind update-alternatives, so `mpiexec` may
# be another MPI's launcher: then take this MPI's own (mpiexec.mpich, mpiexec.openmpi) from the
# compiler wrapper's directory.
if(MPIEXEC_EXECUTABLE)
  execute_process(COMMAND ${MPIEXEC_EXECUTABLE} --version OUTPUT_VARIABLE _mpiexec_v
    ERROR_VARIABLE _mpiexec_v TIMEOUT 20)
  set(_launcher_flavour "")
  if(_mpiexec_v MATCHES "Open MPI|OpenRTE")
    set(_launcher_flavour openmpi)
  elseif(_mpiexec_v MATCHES "HYDRA|MPICH|Intel\\(R\\) MPI")
    set(_launcher_flavour mpich)
  endif()
  if(_launcher_flavour AND NOT _launcher_flavour STREQUAL HARDY_MPI_FLAVOUR)
    get_filename_component(_mpicc_dir "${MPI_C_COMPILER}" REALPATH)
    get_filename_component(_mpicc_dir "${_mpicc_dir}" DIRECTORY)
    get_filename_component(_mpiexec_dir "${MPIEXEC_EXECUTABLE}" DIRECTORY)
    find_program(_own_mpiexec NAMES mpiexec.${HARDY_MPI_FLAVOUR} mpirun.${HARDY_MPI_FLAVOUR}
      mpiexec.hydra HINTS ${_mpicc_dir} ${_mpiexec_dir} NO_DEFAULT_PATH NO_CACHE)
    if(_own_mpiexec)
      message(STATUS "${MPIEXEC_EXECUTABLE} is ${_launcher_flavour}'s launcher; using ${_own_mpiexec}")
      set(MPIEXEC_EXECUTABLE "${_own_mpiexec}" CACHE FILEPATH "Executable for running MPI programs." FORCE)
    else()
      message(WARNING "${MPIEXEC_EXECUTABLE} is ${_launcher_flavour}'s launcher, not ${HARDY_MPI_FLAVOUR}'s; "
        "set -DMPIEXEC_EXECUTABLE=/path/to/this/MPI's/mpiexec for the tests.")
    endif()
  endif()
endif()
message(STATUS "MPI: ${HARDY_MPI_LIBRARY_VERSION} (${HARDY_MPI_FLAVOUR}), launcher ${MPIEXEC_EXECUTABLE}")

find_package(OpenMP COMPONENTS C)
if(NOT OpenMP_C_FOUND)
  hardy_deps_missing("OpenMP for the C compiler" "gcc (libgomp1)" "gcc (libgomp)" "gcc"
    "libgomp  (with gcc)")
endif()

# ---- parallel HDF5 --------------------------------------------------------------
# Debian names the wrapper of each MPI's HDF5 h5pcc.<mpi>: take the one matching this MPI when
# nothing else was chosen, so `h5pcc` pointing at another MPI's HDF5 does not matter.
if(NOT HDF5_C_COMPILER_EXECUTABLE AND NOT HDF5_ROOT AND NOT DEFINED ENV{HDF5_ROOT})
  find_program(HARDY_H5PCC_FLAVOUR NAMES h5pcc.${HARDY_MPI_FLAVOUR})
  mark_as_advanced(HARDY_H5PCC_FLAVOUR)
  if(HARDY_H5PCC_FLAVOUR)
    set(HDF5_C_COMPILER_EXECUTABLE "${HARDY_H5PCC_FLAVOUR}" CACHE FILEPATH "HDF5 C wrapper")
  endif()
endif()
set(HDF5_PREFER_PARALLEL ON)
find_package(HDF5 COMPONENTS C)
if(NOT HDF5_FOUND)
  hardy_deps_missing("parallel HDF5 (C library built with MPI-IO)"
    "libhdf5-${HARDY_MPI_FLAVOUR}-dev" "hdf5-${HARDY_MPI_FLAVOUR}-devel"
    "hdf5+mpi ^${HARDY_MPI_FLAVOUR}" "\"hdf5=*=mpi_${HARDY_MPI_FLAVOUR}_*\""
    "Choose one with -DHDF5_ROOT=... or -DHDF5_C_COMPILER_EXECUTABLE=/path/to/h5pcc.")
endif()
if(NOT HDF5_IS_PARALLEL)
  hardy_deps_missing("parallel HDF5: the HDF5 found (${HDF5_INCLUDE_DIRS}) is a serial build"
    "libhdf5-${HARDY_MPI_FLAVOUR}-dev" "hdf5-${HARDY_MPI_FLAVOUR}-devel"
    "hdf5+mpi ^${HARDY_MPI_FLAVOUR}" "\"hdf5=*=mpi_${HARDY_MPI_FLAVOUR}_*\""
    "hardy-hpc writes datasets and checkpoints collectively with MPI-IO.")
endif()
foreach(_lib ${HDF5_C_LIBRARIES})
  hardy_deps_mpi_flavour_of(_fl "${_lib}")
  if(_fl AND NOT _fl STREQUAL HARDY_MPI_FLAVOUR)
    hardy_deps_missing("parallel HDF5 for ${HARDY_MPI_FLAVOUR}: ${_lib} is built with ${_fl}"
      "libhdf5-${HARDY_MPI_FLAVOUR}-dev" "hdf5-${HARDY_MPI_FLAVOUR}-devel"
      "hdf5+mpi ^${HARDY_MPI_FLAVOUR}" "\"hdf5=*=mpi_${HARDY_MPI_FLAVOUR}_*\""
      "HDF5 and hardy-hpc must use the same MPI; select it with -DHDF5_C_COMPILER_EXECUTABLE=h5pcc.${HARDY_MPI_FLAVOUR} or -DHDF5_ROOT=...")
  endif()
endforeach()
message(STATUS "HDF5: ${HDF5_VERSION} (parallel) ${HDF5_C_LIBRARIES}")

# ---- BLAS and LAPACK ---------------------------------------------------------------
if(HARDY_BLAS_LIBRARIES_OVERRIDE)
  # A BLAS given by hand (RHEL's OpenMP OpenBLAS is libopenblaso.so, which FindBLAS does not
  # look for): -DHARDY_BLAS_LIBRARIES_OVERRIDE=/usr/lib64/libopenblaso.so
  set(BLAS_LIBRARIES ${HARDY_BLAS_LIBRARIES_OVERRIDE})
  set(BLAS_FOUND TRUE)
  set(BLA_VENDOR Generic) # for FindLAPACK
  set(_vendor "given by hand")
elseif(DEFINED BLA_VENDOR OR DEFINED ENV{BLA_VENDOR})
  find_package(BLAS)
  set(_vendor "${BLA_VENDOR}")
  if(NOT _vendor)
    set(_vendor "$ENV{BLA_VENDOR}")
  endif()
else()
  foreach(_vendor OpenBLAS FLAME Intel10_64lp Generic)
    set(BLA_VENDOR ${_vendor})
    find_package(BLAS QUIET)
    if(BLAS_FOUND)
      break()
    endif()
  endforeach()
endif()
if(NOT BLAS_FOUND)
  hardy_deps_missing("BLAS (BLA_VENDOR='${_vendor}')"
    "libopenblas-openmp-dev" "openblas-devel" "openblas threads=openmp" "openblas"
    "Or choose another with -DBLA_VENDOR=FLAME (BLIS), Intel10_64lp (MKL), Generic.")
endif()
# FindLAPACK runs FindBLAS again (possibly for another vendor): keep this BLAS's libraries.
set(HARDY_BLAS_LIBRARIES ${BLAS_LIBRARIES})
if(NOT "${HARDY_BLA_VENDOR}" STREQUAL "${BLA_VENDOR}${HARDY_BLAS_LIBRARIES_OVERRIDE}")
  unset(HARDY_CBLAS_INCLUDE_DIR CACHE)
  unset(HARDY_HAVE_OPENBLAS CACHE)
  unset(HARDY_HAVE_BLIS CACHE)
  unset(HARDY_HAVE_MKL CACHE)
endif()
set(HARDY_BLA_VENDOR "${BLA_VENDOR}${HARDY_BLAS_LIBRARIES_OVERRIDE}" CACHE INTERNAL "")
find_package(LAPACK QUIET)
if(NOT LAPACK_FOUND)
  # BLIS ships no LAPACK: any LAPACK library will do (it calls the BLAS linked first).
  set(_saved_vendor "${BLA_VENDOR}")
  set(BLA_VENDOR Generic)
  find_package(LAPACK QUIET)
  set(BLA_VENDOR "${_saved_vendor}")
endif()
if(NOT LAPACK_FOUND)
  hardy_deps_missing("LAPACK" "liblapack-dev" "lapack-devel" "netlib-lapack" "liblapack")
endif()
set(BLAS_LIBRARIES ${HARDY_BLAS_LIBRARIES})

# Which BLAS this is, by the functions it exports; its own calls are compiled only for it.
set(CMAKE_REQUIRED_LIBRARIES ${BLAS_LIBRARIES} ${OpenMP_C_LIBRARIES} m)
check_function_exists(openblas_get_corename HARDY_HAVE_OPENBLAS)
check_function_exists(bli_thread_set_num_threads HARDY_HAVE_BLIS)
check_function_exists(mkl_set_num_threads HARDY_HAVE_MKL)
unset(CMAKE_REQUIRED_LIBRARIES)
set(HARDY_BLAS_DEFINITIONS "")
list(GET BLAS_LIBRARIES 0 _blas_first)
if(HARDY_HAVE_OPENBLAS)
  set(HARDY_BLAS_NAME OpenBLAS)
  list(APPEND HARDY_BLAS_DEFINITIONS HARDY_BLAS_OPENBLAS=1)
elseif(HARDY_HAVE_BLIS)
  set(HARDY_BLAS_NAME BLIS)
  list(APPEND HARDY_BLAS_DEFINITIONS HARDY_BLAS_BLIS=1)
elseif(HARDY_HAVE_MKL)
  set(HARDY_BLAS_NAME MKL)
  list(APPEND HARDY_BLAS_DEFINITIONS HARDY_BLAS_MKL=1)
else()
  get_filename_component(HARDY_BLAS_NAME "${_blas_first}" NAME)
endif()
list(APPEND HARDY_BLAS_DEFINITIONS "HARDY_BLAS_NAME=\"${HARDY_BLAS_NAME}\"")

# The CBLAS header: OpenBLAS, BLIS and the reference CBLAS ship cblas.h; MKL ships
# mkl_cblas.h, reached through a generated cblas.h.
set(HARDY_CBLAS_INCLUDE_DIRS "")
if(HARDY_HAVE_MKL)
  find_path(HARDY_MKL_INCLUDE_DIR mkl_cblas.h HINTS ENV MKLROOT PATH_SUFFIXES include)
  if(NOT HARDY_MKL_INCLUDE_DIR)
    hardy_deps_missing("mkl_cblas.h (MKL headers)" "libmkl-dev" "intel-oneapi-mkl-devel"
      "intel-oneapi-mkl" "mkl-include")
  endif()
  file(WRITE ${CMAKE_BINARY_DIR}/cblas-shim/cblas.h "#include <mkl_cblas.h>\n")
  set(HARDY_CBLAS_INCLUDE_DIRS ${CMAKE_BINARY_DIR}/cblas-shim ${HARDY_MKL_INCLUDE_DIR})
else()
  # Next to the library first (Debian keeps each BLAS's header beside it under the library's
  # own directory name, e.g. include/<arch>/blis-openmp/cblas.h), then the usual places.
  get_filename_component(_blas_real "${_blas_first}" REALPATH)
  get_filename_component(_blas_dir "${_blas_real}" DIRECTORY)
  get_filename_component(_blas_sub "${_blas_dir}" NAME)
  find_path(HARDY_CBLAS_INCLUDE_DIR cblas.h
    HINTS "${_blas_dir}/../../../include/${CMAKE_LIBRARY_ARCHITECTURE}/${_blas_sub}"
          "${_blas_dir}/../include" "${_blas_dir}/../include/blis" "${_blas_dir}/../include/openblas"
    NO_DEFAULT_PATH)
  find_path(HARDY_CBLAS_INCLUDE_DIR cblas.h PATH_SUFFIXES openblas blis flexiblas)
  if(NOT HARDY_CBLAS_INCLUDE_DIR)
    hardy_deps_missing("cblas.h (the C interface of BLAS ${HARDY_BLAS_NAME})"
      "libopenblas-openmp-dev" "openblas-devel" "openblas" "openblas")
  endif()
  set(HARDY_CBLAS_INCLUDE_DIRS ${HARDY_CBLAS_INCLUDE_DIR})
endif()
message(STATUS "BLAS: ${HARDY_BLAS_NAME} (BLA_VENDOR ${BLA_VENDOR}) ${BLAS_LIBRARIES}; cblas.h in ${HARDY_CBLAS_INCLUDE_DIRS}")

# ---- ScaLAPACK ----------------------------------------------------------------------
# In order: -DSCALAPACK_LIBRARIES=..., the scalapack CMake package (Spack, conda, source
# builds), pkg-config (scalapack-<mpi> first, then scalapack). Only the ScaLAPACK library is
# taken from pkg-config: Debian's scalapack-mpich.pc requires `mpi`, which may be another MPI.
set(HARDY_SCALAPACK_NAMES "" CACHE STRING
  "Names of the ScaLAPACK CMake package and pkg-config modules (default: scalapack-<mpi>;scalapack)")
set(_sl_names_try ${HARDY_SCALAPACK_NAMES})
if(NOT _sl_names_try)
  set(_sl_names_try scalapack-${HARDY_MPI_FLAVOUR} scalapack)
endif()
find_package(PkgConfig QUIET)
set(HARDY_SCALAPACK_VERSION "")
if(SCALAPACK_LIBRARIES)
  set(HARDY_SCALAPACK_FROM "SCALAPACK_LIBRARIES")
  set(HARDY_SCALAPACK_LINK ${SCALAPACK_LIBRARIES})
else()
  # The package is loaded in a throw-away child configure first: a broken one (Debian's
  # scalapack-targets.cmake names /usr/lib/libscalapack-*.so files that do not exist) would
  # otherwise end this configure with its own error.
  set(_probe ${CMAKE_BINARY_DIR}/CMakeFiles/hardy-scalapack-probe)
  file(WRITE ${_probe}/CMakeLists.txt [=[
cmake_minimum_required(VERSION 3.20)
project(probe LANGUAGES NONE)
find_package(scalapack CONFIG REQUIRED NAMES ${NAMES})
get_target_property(_loc scalapack LOCATION)
message(STATUS "HARDY_PROBE ${scalapack_DIR}|${scalapack_VERSION}|${_loc}")
]=])
  execute_process(COMMAND ${CMAKE_COMMAND} -S ${_probe} -B ${_probe}/build
    "-DCMAKE_PREFIX_PATH=${CMAKE_PREFIX_PATH}" "-Dscalapack_DIR=${scalapack_DIR}" "-DNAMES=${_sl_names_try}"
    OUTPUT_VARIABLE _probe_out ERROR_VARIABLE _probe_err RESULT_VARIABLE _probe_rc)
  file(REMOVE_RECURSE ${_probe})
  if(_probe_rc EQUAL 0 AND _probe_out MATCHES "HARDY_PROBE ([^|]*)\\|([^|]*)\\|([^\n]*)")
    set(_sl_dir "${CMAKE_MATCH_1}")
    set(_sl_ver "${CMAKE_MATCH_2}")
    set(_sl_loc "${CMAKE_MATCH_3}")
    hardy_deps_mpi_flavour_of(_fl "${_sl_loc}")
    if(_fl AND NOT _fl STREQUAL HARDY_MPI_FLAVOUR)
      message(STATUS "ScaLAPACK package ${_sl_dir} is built with ${_fl}; skipped")
    else()
      set(scalapack_DIR "${_sl_dir}" CACHE PATH "" FORCE)
      find_package(scalapack CONFIG QUIET NAMES ${_sl_names_try})
      set(HARDY_SCALAPACK_FROM "CMake package ${scalapack_DIR}")
      set(HARDY_SCALAPACK_LINK scalapack)
      set(HARDY_SCALAPACK_VERSION "${_sl_ver}")
    endif()
  elseif(NOT _probe_err MATCHES "Could not find a package configuration")
    string(REGEX MATCH "at ([^ ]*scalapack[^ :]*)" _where "${_probe_err}")
    message(STATUS "ScaLAPACK CMake package unusable (${CMAKE_MATCH_1}); trying pkg-config")
  endif()
  if(NOT HARDY_SCALAPACK_LINK AND PKG_CONFIG_FOUND)
    foreach(_pc ${_sl_names_try})
      pkg_check_modules(_HSL QUIET ${_pc})
      if(_HSL_FOUND)
        set(_sl_names "")
        foreach(_l ${_HSL_LIBRARIES})
          if(_l MATCHES "scalapack")
            list(APPEND _sl_names ${_l})
          endif()
        endforeach()
        unset(HARDY_SCALAPACK_LIB CACHE)
        find_library(HARDY_SCALAPACK_LIB NAMES ${_sl_names} HINTS ${_HSL_LIBRARY_DIRS} NO_CACHE)
        if(HARDY_SCALAPACK_LIB)
          hardy_deps_mpi_flavour_of(_fl "${HARDY_SCALAPACK_LIB}")
          if(_fl AND NOT _fl STREQUAL HARDY_MPI_FLAVOUR)
            message(STATUS "ScaLAPACK ${HARDY_SCALAPACK_LIB} (pkg-config ${_pc}) is built with ${_fl}; skipped")
          else()
            set(HARDY_SCALAPACK_FROM "pkg-config ${_pc}")
            set(HARDY_SCALAPACK_LINK ${HARDY_SCALAPACK_LIB})
            set(HARDY_SCALAPACK_VERSION "${_HSL_VERSION}")
            break()
          endif()
        endif()
      endif()
    endforeach()
  endif()
endif()
if(NOT HARDY_SCALAPACK_LINK)
  string(REPLACE ";" ", " _sl_tried "${_sl_names_try}")
  hardy_deps_missing("ScaLAPACK for ${HARDY_MPI_FLAVOUR} (looked for -DSCALAPACK_LIBRARIES, then a CMake package and a pkg-config module named ${_sl_tried})"
    "libscalapack-${HARDY_MPI_FLAVOUR}-dev" "scalapack-${HARDY_MPI_FLAVOUR}-devel"
    "netlib-scalapack ^${HARDY_MPI_FLAVOUR}" "scalapack"
    "Or give the library: -DSCALAPACK_LIBRARIES=/path/to/libscalapack.so")
endif()
if(NOT HARDY_SCALAPACK_VERSION)
  set(HARDY_SCALAPACK_VERSION "unknown")
endif()
message(STATUS "ScaLAPACK: ${HARDY_SCALAPACK_LINK} (${HARDY_SCALAPACK_FROM}, version ${HARDY_SCALAPACK_VERSION})")

# ---- inih and cJSON -------------------------------------------------------------------
# hardy_deps_pkg(VAR PCNAME CMAKEPKG TARGET): a link item for the library in VAR, from pkg-config
# or the CMake package.
macro(hardy_deps_pkg var pcname cmakepkg cmaketarget)
  set(${var} "")
  if(PKG_CONFIG_FOUND)
    pkg_check_modules(_HP_${var} QUIET IMPORTED_TARGET ${pcname})
    if(_HP_${var}_FOUND)
      set(${var} PkgConfig::_HP_${var})
    endif()
  endif()
  if(NOT ${var})
    find_package(${cmakepkg} CONFIG QUIET)
    if(TARGET ${cmaketarget})
      set(${var} ${cmaketarget})
    endif()
  endif()
endmacro()
hardy_deps_pkg(HARDY_INIH inih inih inih::inih)
if(NOT HARDY_INIH)
  hardy_deps_missing("inih (INI parser library)" "libinih-dev" "inih-devel  (RHEL 9: CRB repository)" "libinih" "-")
endif()
hardy_deps_pkg(HARDY_CJSON libcjson cJSON cjson)
if(NOT HARDY_CJSON)
  hardy_deps_missing("cJSON" "libcjson-dev" "cjson-devel" "cjson" "cjson")
endif()
if(HARDY_CJSON STREQUAL "cjson")
  # cJSON's CMake package exports no include directory for <cjson/cJSON.h>.
  find_path(HARDY_CJSON_INCLUDE_DIR cjson/cJSON.h HINTS ${CJSON_INCLUDE_DIRS})
  target_include_directories(cjson INTERFACE ${HARDY_CJSON_INCLUDE_DIR})
endif()

# ---- the interface target -------------------------------------------------------------
add_library(hardy_deps INTERFACE)
target_include_directories(hardy_deps INTERFACE ${HDF5_INCLUDE_DIRS})
# SYSTEM: BLIS's cblas.h defines static functions it does not use (warnings under -Werror).
target_include_directories(hardy_deps SYSTEM INTERFACE ${HARDY_CBLAS_INCLUDE_DIRS})
target_compile_definitions(hardy_deps INTERFACE ${HDF5_DEFINITIONS} ${HARDY_BLAS_DEFINITIONS}
  "HARDY_SCALAPACK_VERSION=\"${HARDY_SCALAPACK_VERSION} (${HARDY_SCALAPACK_FROM})\"")
# The BLAS comes before LAPACK's own BLAS (FindLAPACK's list ends with one), so its symbols win.
target_link_libraries(hardy_deps INTERFACE MPI::MPI_C OpenMP::OpenMP_C ${HDF5_C_LIBRARIES}
  ${HARDY_SCALAPACK_LINK} ${BLAS_LIBRARIES} ${LAPACK_LIBRARIES} ${HARDY_INIH} ${HARDY_CJSON}
  ${CMAKE_DL_LIBS} m)
# MPICH defines MPI_STATUSES_IGNORE as the pointer constant 1, which gcc >= 11 takes for an
# array of size 0 in every MPI_Waitall/MPI_Testall call (a false stringop-overflow warning).
if(HARDY_MPI_FLAVOUR STREQUAL "mpich" AND CMAKE_C_COMPILER_ID STREQUAL "GNU"
   AND CMAKE_C_COMPILER_VERSION VERSION_GREATER_EQUAL 11)
  target_compile_options(hardy_deps INTERFACE -Wno-stringop-overflow)
endif()
