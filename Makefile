# The front door: `make` builds, `make check` installs what is missing and runs every
# test twice (plain, then under ASan + UBSan; the threaded client tests also under TSan),
# `make demo` shows the main job end to end.
BUILD  ?= build
ASAN   ?= build-asan
TSAN   ?= build-tsan
PREFIX ?= /usr/local
JOBS   ?= $(shell nproc)
# Warnings are errors under `make check` (what CI runs); a plain `make` only shows them.
WERROR ?= OFF
CTEST_FLAGS ?= --output-on-failure -j$(JOBS)

.PHONY: all build deps check test test-asan test-tsan demo install uninstall bench fuzz fuzz-build clean

all: build

deps:
	@scripts/install-deps

build:
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=$(PREFIX) -DVODUP_WERROR=$(WERROR) >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

test: build
	cd $(BUILD) && ctest $(CTEST_FLAGS)

test-asan:
	@cmake -S . -B $(ASAN) -DCMAKE_BUILD_TYPE=Debug -DVODUP_SANITIZE=ON -DVODUP_WERROR=$(WERROR) >/dev/null
	@cmake --build $(ASAN) -j$(JOBS)
	cd $(ASAN) && ctest $(CTEST_FLAGS)

# The threaded client tests once more under ThreadSanitizer (TSan and ASan cannot share a build).
test-tsan:
	@cmake -S . -B $(TSAN) -DCMAKE_BUILD_TYPE=Debug -DVODUP_TSAN=ON -DVODUP_WERROR=$(WERROR) >/dev/null
	@cmake --build $(TSAN) -j$(JOBS) --target vodup_client_tests
	cd $(TSAN) && TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" ctest $(CTEST_FLAGS) -R '^unit\.client' -E '^unit\.client_load$$'

# check also installs the scale-out peers (PostgreSQL, Ceph, HAProxy: tests/scale); when they
# cannot be installed, those tests say SKIP and the rest runs.
check:
	@scripts/install-deps --scale
	@$(MAKE) --no-print-directory WERROR=ON test
	@$(MAKE) --no-print-directory WERROR=ON test-tsan
	@$(MAKE) --no-print-directory WERROR=ON test-asan

# The demo installs only what building needs (scripts/install-deps --demo): no node, no npm.
demo:
	@scripts/install-deps --demo
	@$(MAKE) --no-print-directory build
	@scripts/demo $(BUILD)

# DESTDIR=... stages the install (cmake --install reads it from the environment).
install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

uninstall:
	cmake --build $(BUILD) --target uninstall

bench: build
	bench/run $(BUILD)

# `make fuzz` builds the libFuzzer targets and runs each for FUZZ_SECONDS over a scratch copy
# of its committed corpus (new inputs stay in build-fuzz/corpus; add the useful ones by hand).
# `make check` replays the committed corpora through every target (ctest -R fuzz-replay).
FUZZ_SECONDS ?= 60
fuzz-build:
	@cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug -DVODUP_FUZZ=ON -DVODUP_SANITIZE=ON >/dev/null
	@cmake --build build-fuzz -j$(JOBS)

fuzz: fuzz-build
	@set -e; for f in build-fuzz/fuzz_*; do \
	    name=$${f#build-fuzz/fuzz_}; mkdir -p build-fuzz/corpus/$$name; \
	    cp -n tests/fuzz/corpus/$$name/* build-fuzz/corpus/$$name/ 2>/dev/null || true; \
	    echo "fuzz: $$name for $(FUZZ_SECONDS) s"; \
	    $$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 -artifact_prefix=build-fuzz/ \
	        build-fuzz/corpus/$$name 2>&1 | tail -n 3; \
	done

clean:
	rm -rf $(BUILD) $(ASAN) $(TSAN) build-fuzz
