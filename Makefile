# hardy-hpc: thin wrapper over CMake/ctest. `make demo` and `make test` work on a fresh
# Debian/Ubuntu machine: they install missing packages first (as root; otherwise they print
# the apt-get command to run), then configure, build and run.

BUILD      ?= build
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_ARGS ?=
RANKS      ?= 2
PYTHON     ?= /usr/bin/python3

# Debian packages the build, tests and benchmarks need.
DEB_BUILD  = cmake make gcc pkg-config openmpi-bin libopenmpi-dev libhdf5-openmpi-dev hdf5-tools \
             libopenblas-openmp-dev libscalapack-openmpi-dev libinih-dev libcjson-dev
DEB_TEST   = python3-numpy python3-h5py python3-matplotlib slurm-wlm munge
DEB_BENCH  = python3-torch python3-faiss

export OMPI_ALLOW_RUN_AS_ROOT = 1
export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM = 1
MPIRUN = mpirun --oversubscribe --bind-to none

.PHONY: all deps deps-bench configure build demo test test-asan test-fuzz bench clean help

all: build

help:
	@echo "make demo   - install missing packages, build, run the demo job"
	@echo "make test   - install missing packages, build, run every test (ctest)"
	@echo "make bench  - benchmarks (also installs python3-torch, python3-faiss)"
	@echo "make test-asan - unit and MPI tests under AddressSanitizer + UBSan"
	@echo "make test-fuzz - short libFuzzer runs of tests/fuzz (needs clang)"

deps:
	@sh tools/install-deps.sh $(DEB_BUILD) $(DEB_TEST)

deps-bench:
	@sh tools/install-deps.sh $(DEB_BUILD) $(DEB_TEST) $(DEB_BENCH)

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_ARGS)

configure: $(BUILD)/CMakeCache.txt

build: deps configure
	cmake --build $(BUILD) -j $(JOBS)

demo: build
	sh tools/demo.sh $(BUILD) $(RANKS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)
	@if command -v clang >/dev/null 2>&1; then $(MAKE) test-fuzz; \
	else echo "clang not installed: fuzz targets not run (docs/RELIABILITY.md)"; fi

# Short libFuzzer runs of tests/fuzz (a clang build with AddressSanitizer).
test-fuzz: deps
	cmake -S . -B $(BUILD)-fuzz -DCMAKE_C_COMPILER=clang -DHARDY_FUZZ=ON \
	  -DHARDY_SANITIZE=address $(CMAKE_ARGS)
	cmake --build $(BUILD)-fuzz -j $(JOBS) --target fuzz_config fuzz_dataset fuzz_ckpt
	cd $(BUILD)-fuzz && ctest --output-on-failure -L fuzz

test-asan: deps
	cmake -S . -B $(BUILD)-asan -DCMAKE_BUILD_TYPE=Debug -DHARDY_WERROR=ON \
	  "-DHARDY_SANITIZE=address;undefined" $(CMAKE_ARGS)
	cmake --build $(BUILD)-asan -j $(JOBS)
	cd $(BUILD)-asan && ctest --output-on-failure -j $(JOBS) -L "unit|mpi"

bench: deps-bench build
	sh bench/run.sh $(BUILD)

clean:
	rm -rf $(BUILD) $(BUILD)-asan $(BUILD)-fuzz
