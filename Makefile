# evalh — one entry point: deps, all, test, demo, bench.
# Sources are found by wildcard so that a new module file needs no Makefile edit:
# every .c under harness/ tasks/ scorers/ engine/ goes into libevalh.a except harness/main.c;
# every tests/unit/test_*.c becomes its own test program linked against that library.

CC       ?= cc
PKGS     := libcurl libcjson libarchive libpcre2-8 libutf8proc libseccomp
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
# Messages are cut to fixed buffers on purpose (curl's CURL_ERROR_SIZE), so truncation is no warning.
WARN     := -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter -Wvla -Wno-format-truncation
CFLAGS_BASE := -std=c11 -D_GNU_SOURCE -g -pthread $(WARN) -I. $(PKG_CFLAGS)
LDLIBS   := $(PKG_LIBS) -lm -pthread

# Two builds: release (demo, bench, install) and sanitized (tests).
B        ?= build/release
ifeq ($(SAN),1)
B        := build/asan
OPT      := -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
else
OPT      := -O2
endif
CFLAGS   ?=
ALLCFLAGS := $(CFLAGS_BASE) $(OPT) $(CFLAGS)

# One archive per module so a module's tests build without the others (dependency directions of
# DESIGN.md): util <- tasks, scorers; engine stands alone; harness links everything.
MODS     := util tasks scorers engine harness
SRC_util    := $(wildcard harness/util/*.c)
SRC_tasks   := $(wildcard tasks/*.c)
SRC_scorers := $(wildcard scorers/*.c)
SRC_engine  := $(wildcard engine/*.c)
SRC_harness := $(filter-out harness/main.c,$(wildcard harness/*.c))
LIBS_util    := util
LIBS_tasks   := tasks util
LIBS_scorers := scorers util
LIBS_engine  := engine
LIBS_harness := harness tasks scorers engine util
libs_of   = $(foreach l,$(LIBS_$(1)),$(B)/lib$(l).a)
ALL_SRC  := $(foreach m,$(MODS),$(SRC_$(m)))

# tests/unit/<module>/test_*.c -> $(B)/tests/<module>/test_*, linked with that module's archives.
TEST_SRC := $(foreach m,$(MODS),$(wildcard tests/unit/$(m)/test_*.c))
TEST_BIN := $(TEST_SRC:tests/unit/%.c=$(B)/tests/%)
TEST_HELPERS := $(wildcard tests/unit/*.c)

DEPS_STAMP := build/.deps-ok
DEB_PKGS := build-essential pkg-config libcurl4-openssl-dev libcjson-dev libarchive-dev libpcre2-dev \
	libutf8proc-dev libseccomp-dev libcmocka-dev libzstd-dev gnuplot-nox zstd zip unzip curl python3 \
	util-linux ca-certificates

.PHONY: all deps test unit e2e demo bench clean format
all: $(B)/evalh

# Installs only what is missing, so a second `make deps` costs one dpkg-query.
deps:
	@missing=""; for p in $(DEB_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "deps: installing$$missing"; \
	  SUDO=""; [ "$$(id -u)" -ne 0 ] && SUDO=sudo; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  $$SUDO apt-get install -y --no-install-recommends $$missing || \
	  { $$SUDO apt-get update && $$SUDO apt-get install -y --no-install-recommends $$missing; }; \
	fi

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALLCFLAGS) -MMD -MP -c $< -o $@

define lib_rule
$(B)/lib$(1).a: $(SRC_$(1):%.c=$(B)/obj/%.o)
	@mkdir -p $$(dir $$@)
	rm -f $$@ && ar rcs $$@ $$^
endef
$(foreach m,$(MODS),$(eval $(call lib_rule,$(m))))

$(B)/evalh: $(B)/obj/harness/main.o $(call libs_of,harness)
	$(CC) $(ALLCFLAGS) -o $@ $^ $(LDLIBS)

define test_rule
$(B)/tests/$(1)/%: tests/unit/$(1)/%.c $(TEST_HELPERS) $(call libs_of,$(1))
	@mkdir -p $$(dir $$@)
	$(CC) $(ALLCFLAGS) -o $$@ $$< $(TEST_HELPERS) $(call libs_of,$(1)) $(LDLIBS) -lcmocka
endef
$(foreach m,$(MODS),$(eval $(call test_rule,$(m))))

-include $(ALL_SRC:%.c=$(B)/obj/%.d) $(B)/obj/harness/main.d

# Unit tests and end-to-end tests, all under AddressSanitizer/UBSan.
test: deps
	$(MAKE) SAN=1 unit e2e

unit: $(TEST_BIN)
	@fail=0; for t in $(TEST_BIN); do \
	  echo "== $$t"; ASAN_OPTIONS=detect_leaks=1 $$t || { echo "FAILED: $$t"; fail=1; }; \
	done; exit $$fail

e2e: $(B)/evalh
	@fail=0; for t in tests/e2e/*.sh; do \
	  [ -f "$$t" ] || continue; echo "== $$t"; \
	  EVALH=$(abspath $(B)/evalh) sh $$t || { echo "FAILED: $$t"; fail=1; }; \
	done; exit $$fail

demo: deps
	$(MAKE) all
	$(B)/evalh run --model tiny-arith --tasks arith --limit 50 --out results/demo
	$(B)/evalh report results/demo -o results/demo/report
	@echo "demo: report in results/demo/report/report.md"

bench: deps
	$(MAKE) all
	sh tests/bench/run.sh $(abspath $(B)/evalh)

format:
	clang-format -i $(wildcard harness/*.[ch] harness/util/*.[ch] tasks/*.[ch] scorers/*.[ch] engine/*.[ch] tests/unit/*.[ch])

clean:
	rm -rf build
