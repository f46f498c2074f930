# libdsm — top-level commands. The real build is CMake; this wraps it.
#   make run     build and run the Jacobi demo on 4 nodes of this machine
#   make test    install test dependencies if missing, build, run every test
#                (normal build, then an ASan+UBSan build)
#   make bench   microbenchmarks (ratios against the raw limits), then the
#                application suite vs sequential, pthreads and MPI
#   make bench-apps   only the application suite (bench/apps/run.sh --full)
#   make bench-quick  both, quick mode
#   make install PREFIX=/usr/local
BUILD      ?= build
ASAN_BUILD ?= build-asan
PREFIX     ?= /usr/local
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
CTEST_JOBS ?= 2
NODES      ?= 4

.PHONY: all build run test test-fast test-asan bench bench-apps bench-quick install stress clean

all: build

build:
	@tools/install-deps.sh build
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDSM_WERROR=ON >/dev/null
	cmake --build $(BUILD) -j$(JOBS)

run: build
	$(BUILD)/dsmrun -n $(NODES) --stats $(BUILD)/jacobi-stats.json $(BUILD)/jacobi_demo
	@echo "job statistics: $(BUILD)/jacobi-stats.json"

test-fast:
	@tools/install-deps.sh test
	$(MAKE) build
	cd $(BUILD) && ctest --output-on-failure -j$(CTEST_JOBS)

test-asan:
	@tools/install-deps.sh test
	# The sanitizer build also compiles the hint-less fault path (what
	# non-x86 CPUs use), so both ways of telling reads from writes are tested.
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DDSM_SANITIZE=ON \
		-DDSM_WERROR=ON -DDSM_BUILD_BENCH=OFF -DDSM_FAULT_HINT=OFF >/dev/null
	cmake --build $(ASAN_BUILD) -j$(JOBS)
	cd $(ASAN_BUILD) && ctest --output-on-failure -j$(CTEST_JOBS)

test: test-fast test-asan

bench: build
	@tools/install-deps.sh bench
	bench/run.sh $(BUILD); s=$$?; bench/apps/run.sh $(BUILD) --full && exit $$s

bench-apps: build
	@tools/install-deps.sh bench
	bench/apps/run.sh $(BUILD) --full

bench-quick: build
	@tools/install-deps.sh bench
	bench/run.sh $(BUILD) --quick; s=$$?; bench/apps/run.sh $(BUILD) --quick && exit $$s

# Thousands of randomized race-free programs at 2, 4 and 8 nodes under
# every protocol, checked against a sequential reference (mn_random).
STRESS_SEEDS ?= 2000
stress: build
	@for p in sc lrc hlrc; do for n in 2 4 8; do \
		echo "stress: $$p, $$n nodes, $(STRESS_SEEDS) seeds"; \
		$(BUILD)/dsmrun -n $$n --protocol $$p $(BUILD)/tests/mn_random 0 $(STRESS_SEEDS) || exit 1; \
	done; done

install:
	@tools/install-deps.sh build
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDSM_WERROR=ON \
		-DCMAKE_INSTALL_PREFIX=$(PREFIX) >/dev/null
	cmake --build $(BUILD) -j$(JOBS)
	cmake --install $(BUILD)
	@# let the dynamic loader find libdsm.so in a system prefix
	@if [ "$$(id -u)" = 0 ] && command -v ldconfig >/dev/null; then ldconfig; fi

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
