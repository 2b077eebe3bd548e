# mailrig -- build, test, fuzz and bench. See README.md.
#
# Sources are discovered, not listed: proto/*.c form libmrproto.a, servers/*.c form
# libmrservers.a, harness/*.c the `mailrig` program, tests/unit/test_*.c are cmocka programs, fuzz/fuzz_*.c are fuzz targets (one per parser and direction), each with a
# seed corpus in corpora/<name>/ and a dictionary corpora/<protocol>.dict.
#
# Build variants, each in its own directory so they never mix objects:
#   build/rel   optimised (-O2), the default `make`
#   build/asan  ASan + UBSan, for tests and corpus replay
#   build/fuzz  clang libFuzzer + ASan + UBSan
#   build/afl   AFL++ (afl-clang-fast) instrumented targets

CC      ?= cc
CLANG   ?= clang
AFL_CC  ?= afl-clang-fast
PYTHON  ?= /usr/bin/python3
FUZZ_SECONDS ?= 60
SMOKE_SECONDS ?= 3

WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wpointer-arith -Wvla -Wformat=2 -Wimplicit-fallthrough
BASEFLAGS := -std=c11 -g $(WARN) -D_DEFAULT_SOURCE -I.
SANFLAGS  := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

# Why each library is here: OpenSSL 3 (TLS, test PKI, CRAM-MD5), libevent 2 with its OpenSSL
# bufferevents (one event loop; STARTTLS as an in-place filter), inih (profile and settings
# files), jansson (ports file, JSON reports), PCRE2 (scenario /regex/ patterns: named groups
# for captures, compile errors with an offset, match limits against hostile input).
LIBS := -lssl -lcrypto -levent_openssl -levent -linih -ljansson -lpcre2-8

PROTO_SRC := $(sort $(wildcard proto/*.c))
SERVERS_SRC := $(sort $(wildcard servers/*.c))
HARNESS_SRC := $(sort $(wildcard harness/*.c))
# harness/ minus main.c, as a library too, so unit tests and fuzz targets can link harness modules.
HARNESS_LIB_SRC := $(filter-out harness/main.c,$(HARNESS_SRC))
UNIT_SRC  := $(sort $(wildcard tests/unit/test_*.c))
UNIT_LIB  := $(sort $(filter-out $(UNIT_SRC),$(wildcard tests/unit/*.c)))
FUZZ_SRC  := $(sort $(wildcard fuzz/fuzz_*.c))
FUZZ_LIB  := $(sort $(filter-out $(FUZZ_SRC) fuzz/replay_main.c,$(wildcard fuzz/*.c)))
FUZZ_NAMES := $(patsubst fuzz/fuzz_%.c,%,$(FUZZ_SRC))
UNIT_NAMES := $(patsubst tests/unit/test_%.c,%,$(UNIT_SRC))
FAKERUN_SRC := $(sort $(wildcard tests/fakerun/*.c))

.PHONY: all deps test asan check replay pytest fuzz fuzz-build fuzz-smoke afl bench clean help demo
.DEFAULT_GOAL := all
# Objects are intermediate files to make; keep them so rebuilds stay incremental.
.SECONDARY:

help:
	@echo "make            build mailrig (build/rel/bin/mailrig)"
	@echo "make demo       build mailrig and run the scenario catalogue against the built-in"
	@echo "                mocks with the installed clients; prints the report"
	@echo "make test       install missing packages, then unit tests + corpus replay under"
	@echo "                ASan+UBSan, a short fuzz smoke, and the pytest suite"
	@echo "make asan       the whole test suite under ASan+UBSan"
	@echo "make fuzz       run every fuzz target for FUZZ_SECONDS (default 60) with its dictionary"
	@echo "make afl        build the fuzz targets for AFL++ (build/afl)"
	@echo "make bench      parser throughput against libetpan and a memchr scan, SMTP throughput"
	@echo "                against Postfix smtp-sink, memory with 10,000 idle connections"

# ---------------------------------------------------------------------------------------------
# Variant template: $(1) = variant name, $(2) = compiler, $(3) = extra compile/link flags.
define variant
$(1)_OBJ := $$(PROTO_SRC:%.c=build/$(1)/%.o)
build/$(1)/%.o: %.c
	@mkdir -p $$(@D)
	$(2) $$(BASEFLAGS) $(3) -MMD -MP -c $$< -o $$@
build/$(1)/libmrproto.a: $$($(1)_OBJ)
	@rm -f $$@
	ar rcs $$@ $$^
build/$(1)/libmrservers.a: $$(SERVERS_SRC:%.c=build/$(1)/%.o)
	@rm -f $$@
	ar rcs $$@ $$^
build/$(1)/libmrharness.a: $$(HARNESS_LIB_SRC:%.c=build/$(1)/%.o)
	@rm -f $$@
	ar rcs $$@ $$^
$(1)_LIBS := build/$(1)/libmrharness.a build/$(1)/libmrservers.a build/$(1)/libmrproto.a
build/$(1)/bin/mailrig: build/$(1)/harness/main.o $$($(1)_LIBS)
	@mkdir -p $$(@D)
	$(2) $(3) $$^ $$(LIBS) -o $$@
# The runner's commands with a fake interpreter, for tests/py/test_run.py (never installed).
build/$(1)/bin/mailrig-fakerun: $$(FAKERUN_SRC:%.c=build/$(1)/%.o) $$($(1)_LIBS)
	@mkdir -p $$(@D)
	$(2) $(3) $$^ $$(LIBS) -o $$@
build/$(1)/bin/test_%: build/$(1)/tests/unit/test_%.o $$(UNIT_LIB:%.c=build/$(1)/%.o) $$($(1)_LIBS)
	@mkdir -p $$(@D)
	$(2) $(3) $$^ -lcmocka $$(LIBS) -o $$@
build/$(1)/bin/replay_%: build/$(1)/fuzz/fuzz_%.o build/$(1)/fuzz/replay_main.o $$(FUZZ_LIB:%.c=build/$(1)/%.o) $$($(1)_LIBS)
	@mkdir -p $$(@D)
	$(2) $(3) $$^ $$(LIBS) -o $$@
-include $$(shell find build/$(1) -name '*.d' 2>/dev/null)
endef

$(eval $(call variant,rel,$(CC),-O2))
$(eval $(call variant,asan,$(CC),-O1 $(SANFLAGS)))
$(eval $(call variant,fuzz,$(CLANG),-O1 $(SANFLAGS) -fsanitize=fuzzer-no-link -DMR_FUZZING))
$(eval $(call variant,afl,$(AFL_CC),-O2 -DMR_FUZZING))

UNIT_ASAN   := $(UNIT_NAMES:%=build/asan/bin/test_%)
REPLAY_ASAN := $(FUZZ_NAMES:%=build/asan/bin/replay_%)
FUZZERS     := $(FUZZ_NAMES:%=build/fuzz/bin/fuzz_%)
AFL_BINS    := $(FUZZ_NAMES:%=build/afl/bin/fuzz_%)

build/fuzz/bin/fuzz_%: build/fuzz/fuzz/fuzz_%.o $(FUZZ_LIB:%.c=build/fuzz/%.o) $(fuzz_LIBS)
	@mkdir -p $(@D)
	$(CLANG) $(SANFLAGS) -fsanitize=fuzzer $^ $(LIBS) -o $@

build/afl/bin/fuzz_%: build/afl/fuzz/fuzz_%.o $(FUZZ_LIB:%.c=build/afl/%.o) $(afl_LIBS)
	@mkdir -p $(@D)
	$(AFL_CC) -fsanitize=fuzzer $^ $(LIBS) -o $@

# ---------------------------------------------------------------------------------------------
all: build/rel/bin/mailrig

deps:
	@ci/deps build test

# Unit tests: every cmocka program, under ASan+UBSan.
check: deps $(UNIT_ASAN)
	@set -e; for t in $(UNIT_ASAN); do echo "== $$t"; $$t; done

# Corpus replay: every file in corpora/<target>/ through its target, under ASan+UBSan.
replay: deps $(REPLAY_ASAN)
	@set -e; for n in $(FUZZ_NAMES); do \
	    test -d corpora/$$n || { echo "no seed corpus corpora/$$n for fuzz/fuzz_$$n.c" >&2; exit 1; }; \
	    build/asan/bin/replay_$$n corpora/$$n; done

# tests/tools/run_scn: one scenario through the interpreter, for pytest (the user command is
# `mailrig run`).
build/asan/bin/run_scn: tests/tools/run_scn.c $(asan_LIBS)
	@mkdir -p $(@D)
	$(CC) $(BASEFLAGS) -O1 $(SANFLAGS) $< $(asan_LIBS) $(LIBS) -o $@

# Process-level tests (tests/py/*.py) against the ASan+UBSan build of mailrig.
pytest: deps build/asan/bin/mailrig build/asan/bin/mailrig-fakerun build/asan/bin/run_scn
	@ci/deps clients
	MAILRIG=$(CURDIR)/build/asan/bin/mailrig MAILRIG_FAKERUN=$(CURDIR)/build/asan/bin/mailrig-fakerun \
	    MAILRIG_RUN_SCN=$(CURDIR)/build/asan/bin/run_scn \
	    $(PYTHON) -m pytest -q tests/py

fuzz-build: $(FUZZERS)
	@ci/deps fuzz

# A few seconds of real fuzzing per target, so a regression in a target itself shows up in CI.
fuzz-smoke: fuzz-build
	@ci/fuzz-run $(SMOKE_SECONDS) $(FUZZ_NAMES)

fuzz: fuzz-build
	@ci/fuzz-run $(FUZZ_SECONDS) $(FUZZ_NAMES)

afl:
	@ci/deps fuzz
	$(MAKE) $(AFL_BINS)
	@echo "AFL++ targets in build/afl/bin; e.g. afl-fuzz -i corpora/imap_response -o out -x corpora/imap.dict -- build/afl/bin/fuzz_imap_response"

asan: check replay

test: asan fuzz-smoke pytest

# The README's main-job command: the whole catalogue (scenarios/). Reports also go to build/demo/.
DEMO_SCENARIOS ?= scenarios
DEMO_FLAGS ?= -j 0
demo:
	@ci/deps build clients
	$(MAKE) build/rel/bin/mailrig
	@mkdir -p build/demo
	@echo "== the catalogue: what each scenario reproduces (mailrig list) =="
	@build/rel/bin/mailrig list $(DEMO_SCENARIOS)
	@echo
	@echo "== running it against the built-in mocks and the installed clients (mailrig run) =="
	build/rel/bin/mailrig run $(DEMO_FLAGS) --junit build/demo/junit.xml --json build/demo/report.json $(DEMO_SCENARIOS)

BENCH_SRC := $(sort $(wildcard bench/*.c))
build/rel/bin/bench: $(BENCH_SRC:%.c=build/rel/%.o) build/rel/libmrproto.a
	@mkdir -p $(@D)
	$(CC) $^ -letpan -o $@

# BENCH_MB sets the size of each generated stream; the best of BENCH_RUNS runs is kept.
BENCH_MB ?= 64
BENCH_RUNS ?= 5
bench:
	@ci/deps build bench
	$(MAKE) build/rel/bin/bench build/rel/bin/mailrig
	build/rel/bin/bench -s $(BENCH_MB) -r $(BENCH_RUNS)
	ci/bench-smtp build/rel/bin/mailrig
	ci/bench-memory build/rel/bin/mailrig

clean:
	rm -rf build
