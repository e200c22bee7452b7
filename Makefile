# SPDX-License-Identifier: MIT
# Thin wrapper over CMake: the README's two commands live here.
#   make run    build, then start the Mercure hub on 127.0.0.1:8080 (dev mode)
#   make test   build and run every test (gcc), the concurrency tests under
#               ThreadSanitizer, each fuzz target briefly (FUZZ_TEST_SECONDS),
#               then every test under ASan+UBSan (clang)
#   make fuzz   build the libFuzzer targets (fuzz/) and run each for
#               FUZZ_SECONDS (default 60)
#   make install PREFIX=/usr/local

JOBS ?= $(shell nproc)
PREFIX ?= /usr/local
BUILD := build
BUILD_ASAN := build-asan
BUILD_TSAN := build-tsan
BUILD_FUZZ := build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_TEST_SECONDS ?= 10

.PHONY: all deps build build-asan build-tsan build-fuzz run test test-normal test-tsan test-fuzz test-asan fuzz install clean

all: build

deps:
	@scripts/deps

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=gcc >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

build-asan: deps
	@cmake -S . -B $(BUILD_ASAN) -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang -DHCS_SANITIZE=address >/dev/null
	@cmake --build $(BUILD_ASAN) -j $(JOBS)

build-tsan: deps
	@cmake -S . -B $(BUILD_TSAN) -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang -DHCS_SANITIZE=thread >/dev/null
	@cmake --build $(BUILD_TSAN) -j $(JOBS)

# libFuzzer targets (fuzz/CMakeLists.txt): clang, the whole project
# instrumented; only the fuzz executables are built.
build-fuzz: deps
	@cmake -S . -B $(BUILD_FUZZ) -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang -DHCS_FUZZ=ON -DHCS_BUILD_TESTS=OFF -DHCS_FUZZ_TEST_SECONDS=$(FUZZ_TEST_SECONDS) >/dev/null
	@cmake --build $(BUILD_FUZZ) -j $(JOBS) --target fuzz_all

# The Mercure hub in development mode (see its --help for the real thing).
run: build
	./$(BUILD)/tools/hcs-hub/hcs-hub --dev --listen 127.0.0.1:8080

test-normal: build
	@echo "== tests: gcc, RelWithDebInfo =="
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# ThreadSanitizer: the tests of code shared between threads.
test-tsan: build-tsan
	@echo "== tests: clang, ThreadSanitizer (concurrency tests) =="
	@cd $(BUILD_TSAN) && ctest --output-on-failure -j $(JOBS) -L concurrency

# Each fuzz target for FUZZ_TEST_SECONDS: its regressions, then its seeds.
test-fuzz: build-fuzz
	@echo "== fuzz targets: $(FUZZ_TEST_SECONDS) s each (libFuzzer, ASan+UBSan) =="
	@cd $(BUILD_FUZZ) && ctest --output-on-failure -j $(JOBS) -L fuzz

test-asan: build-asan
	@echo "== tests: clang, AddressSanitizer + UndefinedBehaviorSanitizer =="
	@cd $(BUILD_ASAN) && ctest --output-on-failure -j $(JOBS)

# The sanitizer run goes last so that ctest's summary closes the output.
test: test-normal
	@$(MAKE) --no-print-directory test-tsan
	@$(MAKE) --no-print-directory test-fuzz
	@$(MAKE) --no-print-directory test-asan

# Fuzz every target for FUZZ_SECONDS, one after the other. New inputs
# collect in $(BUILD_FUZZ)/fuzz/work/<target> (kept between runs; the seeds
# in fuzz/corpus are only read); findings in $(BUILD_FUZZ)/fuzz/artifacts.
fuzz: build-fuzz
	@fail=0; for f in $(BUILD_FUZZ)/fuzz/fuzz_*; do \
	  t=$${f##*/fuzz_}; \
	  bash fuzz/run.sh $$f $$t $(FUZZ_SECONDS) $(BUILD_FUZZ)/fuzz/artifacts \
	    $(BUILD_FUZZ)/fuzz/work/$$t || fail=1; \
	done; exit $$fail

install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_TSAN) $(BUILD_FUZZ)
