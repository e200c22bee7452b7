# SPDX-License-Identifier: MIT
# Thin wrapper over CMake: the README's two commands live here.
#   make run    build, then start the server on 127.0.0.1:8080
#   make test   build twice (gcc; clang with ASan+UBSan) and run every test
#   make install PREFIX=/usr/local

JOBS ?= $(shell nproc)
PREFIX ?= /usr/local
BUILD := build
BUILD_ASAN := build-asan

.PHONY: all deps build build-asan run test test-normal test-asan install clean

all: build

deps:
	@scripts/deps

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=gcc >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

build-asan: deps
	@cmake -S . -B $(BUILD_ASAN) -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang -DHCS_SANITIZE=address >/dev/null
	@cmake --build $(BUILD_ASAN) -j $(JOBS)

run: build
	./$(BUILD)/examples/hello --host 127.0.0.1 --port 8080

test-normal: build
	@echo "== tests: gcc, RelWithDebInfo =="
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

test-asan: build-asan
	@echo "== tests: clang, AddressSanitizer + UndefinedBehaviorSanitizer =="
	@cd $(BUILD_ASAN) && ctest --output-on-failure -j $(JOBS)

# The sanitizer run goes last so that ctest's summary closes the output.
test: test-normal
	@$(MAKE) --no-print-directory test-asan

install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

clean:
	rm -rf $(BUILD) $(BUILD_ASAN)
