# libdsm — top-level commands. The real build is CMake; this wraps it.
#   make build   install the build tools if missing, build (tests too when
#                cmocka is installed; DSM_BUILD_TESTS=ON without it: off)
#   make run     build and run the Jacobi demo on one node per core
#                (NODES=n to change), printing its speedup over sequential
#   make test    install test dependencies if missing, build, run every test
#                (normal build, an ASan+UBSan build, a ThreadSanitizer build
#                and every fuzzer for a bounded time)
#   make fuzz    every libFuzzer target for FUZZ_SECONDS (300) each
#   make bench   microbenchmarks (ratios against the raw limits), then the
#                application suite vs sequential, pthreads and MPI
#   make bench-apps   only the application suite (bench/apps/run.sh --full)
#   make bench-quick  both, quick mode
#   make install PREFIX=/usr/local
BUILD      ?= build
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
FUZZ_BUILD ?= build-fuzz
# make fuzz: seconds per fuzzer; make test runs each for FUZZ_TEST_SECONDS
# (the ctest fuzz.* tests).
FUZZ_SECONDS ?= 300
FUZZ_TEST_SECONDS ?= 15
# make build: ON makes a missing cmocka a configure error (make test)
REQUIRE_TESTS ?= OFF
PREFIX     ?= /usr/local
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
CTEST_JOBS ?= 2
NODES      ?= $(shell nproc 2>/dev/null || echo 2)
# make run: grid size and sweeps (at 2048 200 the 2-node speedup moved
# between 0.9x and 1.5x with the sequential run's own noise; 4096 100:
# 1.8-1.9x on 2 cores, a few seconds)
RUN_ARGS   ?= 4096 100

.PHONY: all build run test test-fast test-asan test-tsan test-fuzz fuzz fuzz-build bench bench-apps bench-quick install stress clean

all: build

build:
	@tools/install-deps.sh build
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDSM_WERROR=ON \
		-DDSM_REQUIRE_TESTS=$(REQUIRE_TESTS) >/dev/null
	cmake --build $(BUILD) -j$(JOBS)

run: build
	$(BUILD)/dsmrun -n $(NODES) --stats $(BUILD)/jacobi-stats.json $(BUILD)/jacobi_demo $(RUN_ARGS)
	@echo "job statistics: $(BUILD)/jacobi-stats.json"

test-fast:
	@tools/install-deps.sh test
	$(MAKE) build REQUIRE_TESTS=ON
	cd $(BUILD) && ctest --output-on-failure -j$(CTEST_JOBS)

test-asan:
	@tools/install-deps.sh test
	# The sanitizer build also compiles the hint-less fault path (what
	# non-x86 CPUs use), so both ways of telling reads from writes are tested.
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DDSM_SANITIZE=ON \
		-DDSM_WERROR=ON -DDSM_BUILD_BENCH=OFF -DDSM_FAULT_HINT=OFF \
		-DDSM_REQUIRE_TESTS=ON -DDSM_TEST_TIMEOUT=300 >/dev/null
	cmake --build $(ASAN_BUILD) -j$(JOBS)
	@# 300 s per test: mn_bigswap.lrc.8 needs over 120 s under ASan on 2 cores
	cd $(ASAN_BUILD) && ctest --output-on-failure -j$(CTEST_JOBS)

# ThreadSanitizer: the unit and multi-node tests (TCP, 2 and 4 nodes) in a
# -fsanitize=thread build. That build moves the default DSM_BASE into
# TSan's application range (src/core/env.c); tsan.supp lists the explained
# false positives.
TSAN_NODES ?= 2;4
test-tsan:
	@tools/install-deps.sh test
	cmake -S . -B $(TSAN_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDSM_TSAN=ON \
		-DDSM_WERROR=ON -DDSM_BUILD_BENCH=OFF -DDSM_REQUIRE_TESTS=ON \
		"-DDSM_TEST_NODES=$(TSAN_NODES)" -DDSM_TEST_PEER_TIMEOUT=30 \
		-DDSM_TEST_TIMEOUT=300 >/dev/null
	cmake --build $(TSAN_BUILD) -j$(JOBS)
	cd $(TSAN_BUILD) && ctest --output-on-failure -j$(CTEST_JOBS) -R '^(unit|mn)\.'

# libFuzzer targets (fuzz/): clang's -fsanitize=fuzzer with ASan+UBSan.
# test-fuzz runs each as a ctest test for a bounded time; fuzz runs each
# for FUZZ_SECONDS, keeping what it finds in $(FUZZ_BUILD)/fuzz/corpus.
fuzz-build:
	@tools/install-deps.sh fuzz
	cmake -S . -B $(FUZZ_BUILD) -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DDSM_BUILD_FUZZ=ON -DDSM_BUILD_TESTS=OFF -DDSM_BUILD_BENCH=OFF \
		-DDSM_FUZZ_TEST_SECONDS=$(FUZZ_TEST_SECONDS) -DDSM_WERROR=ON >/dev/null
	cmake --build $(FUZZ_BUILD) -j$(JOBS) --target fuzz_targets

test-fuzz: fuzz-build
	cd $(FUZZ_BUILD) && ctest --output-on-failure -j$(CTEST_JOBS)

fuzz: fuzz-build
	@fail=0; for t in $(FUZZ_BUILD)/fuzz/fuzz_*; do \
		[ -x "$$t" ] || continue; n=$$(basename $$t); \
		echo "fuzz: $$n for $(FUZZ_SECONDS) s"; \
		mkdir -p $(FUZZ_BUILD)/fuzz/corpus/$$n; \
		$$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
			-artifact_prefix=$(FUZZ_BUILD)/fuzz/$$n- \
			$(FUZZ_BUILD)/fuzz/corpus/$$n fuzz/corpus/$$n || fail=1; \
	done; exit $$fail

test: test-fast test-asan test-tsan test-fuzz

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
# every protocol, checked against a sequential reference (mn_random), and
# under hlrc with DSM_TAPEWORM=auto (docs/tapes.md); then
# mn_threads_mixed (barriers, locks and dsm_malloc on different threads of
# each node) STRESS_COUNT times per protocol and node count, with the
# default DSM_GC_THRESHOLD and with 1M (tests/scripts/stress.sh).
STRESS_SEEDS ?= 2000
STRESS_COUNT ?= 200
stress: build
	@for p in sc lrc hlrc; do for n in 2 4 8; do \
		echo "stress: $$p, $$n nodes, $(STRESS_SEEDS) seeds"; \
		$(BUILD)/dsmrun -n $$n --protocol $$p $(BUILD)/tests/mn_random 0 $(STRESS_SEEDS) || exit 1; \
	done; done
	@for n in 2 4 8; do \
		echo "stress: hlrc with DSM_TAPEWORM=auto, $$n nodes, $(STRESS_SEEDS) seeds"; \
		DSM_TAPEWORM=auto $(BUILD)/dsmrun -n $$n --protocol hlrc $(BUILD)/tests/mn_random 0 $(STRESS_SEEDS) || exit 1; \
	done
	STRESS_COUNT=$(STRESS_COUNT) tests/scripts/stress.sh $(BUILD)

install:
	@tools/install-deps.sh build
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDSM_WERROR=ON \
		-DCMAKE_INSTALL_PREFIX=$(PREFIX) >/dev/null
	cmake --build $(BUILD) -j$(JOBS)
	cmake --install $(BUILD)
	@# let the dynamic loader find libdsm.so in a system prefix
	@if [ "$$(id -u)" = 0 ] && command -v ldconfig >/dev/null; then ldconfig; fi

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD) $(FUZZ_BUILD)
