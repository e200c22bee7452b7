# SPDX-License-Identifier: MIT
# Thin wrapper over CMake: the README's two commands live here.
#   make run    build, then start the Mercure hub on 127.0.0.1:8080 (dev mode)
#   make test   build and run every test (gcc), the concurrency tests under
#               ThreadSanitizer, then every test under ASan+UBSan (clang)
#   make install PREFIX=/usr/local

JOBS ?= $(shell nproc)
PREFIX ?= /usr/local
BUILD := build
BUILD_ASAN := build-asan
BUILD_TSAN := build-tsan

.PHONY: all deps build build-asan build-tsan run test test-normal test-tsan test-asan install clean

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

test-asan: build-asan
	@echo "== tests: clang, AddressSanitizer + UndefinedBehaviorSanitizer =="
	@cd $(BUILD_ASAN) && ctest --output-on-failure -j $(JOBS)

# The sanitizer run goes last so that ctest's summary closes the output.
test: test-normal
	@$(MAKE) --no-print-directory test-tsan
	@$(MAKE) --no-print-directory test-asan

install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_TSAN)
