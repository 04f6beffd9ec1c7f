# duckpond -- plain Makefile.
#   make            build/libduckpond.a, build/libduckpond.so, build/duckpond
#   make run        start the server on ./duckpond.duckdb
#   make demo       a trading desk: the server, the tick generator writing into it, the
#                   dashboard's URL (scripts/demo.sh; DEMO_RATE, DEMO_DB, ports: see there)
#   make test       the format check, then every test: plain, under ASan+UBSan, and the
#                   fuzz drivers briefly; ends "N passed, N failed"
#   make test-asan  the sanitizer run alone
#   make fuzz       build-fuzz/fuzz/*: the libFuzzer drivers of tests/fuzz/
#   make fuzz-run   each driver for FUZZ_SECONDS (15) on its corpus
#   make format     restyle the C as .clang-format says; make format-check: only say which files differ
#   make bench      the benchmarks (bench/), baselines side by side
# Missing Debian packages and DuckDB are fetched by scripts/ on first use.

BUILD   ?= build
SAN     ?=
CC      ?= cc
DUCKDB  := deps/duckdb
DBFILE  ?= duckpond.duckdb

WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wno-unused-parameter
CFLAGS  ?= -O2 -g
CFLAGS  += -std=gnu11 $(WARN) -isystem $(DUCKDB)/include -pthread -fPIC -MMD -MP
LDLIBS  := -L$(DUCKDB)/lib -lduckdb -lmicrohttpd -ljansson -lpq -lssl -lcrypto -lz -lpthread -lm
ifneq ($(SAN),)
CFLAGS  += -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif

# The layers (README, "Layout"): common <- lib <- {auth, pg, ilp, http, sync} <- server,
# with http also above ilp (its line-protocol endpoints), and common <- tools
# (commands beside the server: the tick generator) <- server. ilp's parser
# (ilp_parse.c) needs common alone; its ingest sees the library through
# include/duckpond.h.
# Each folder compiles with its own include list, so a file that includes a
# header of a layer above it, or pg and http each other's, fails to build.
# Above lib, the library is seen through include/duckpond.h alone.
INC_common   := -Isrc/common
INC_lib      := -Iinclude -Isrc/common -Isrc/lib
INC_auth     := -Iinclude -Isrc/common -Isrc/auth
INC_pg       := -Iinclude -Isrc/common -Isrc/auth -Isrc/pg
INC_ilp      := -Iinclude -Isrc/common -Isrc/ilp
INC_http     := -Iinclude -Isrc/common -Isrc/auth -Isrc/ilp -Isrc/http
INC_sync     := -Iinclude -Isrc/common -Isrc/sync $(shell pkg-config --cflags libpq 2>/dev/null)
INC_tools    := -Iinclude -Isrc/common -Isrc/tools
INC_server   := -Iinclude -Isrc/common -Isrc/auth -Isrc/pg -Isrc/ilp -Isrc/http -Isrc/sync -Isrc/tools -Isrc/server
INC_examples := -Iinclude
INC_tests    := -Iinclude -Isrc/common -Isrc/lib -Isrc/lib/batcher -Isrc/auth -Isrc/pg -Isrc/ilp -Isrc/http -Isrc/sync -Isrc/tools -Isrc/server -Itests/unit $(shell pkg-config --cflags libpq 2>/dev/null)
# The include list of a source file: its top folder under src/ (src/lib/batcher is lib).
inc_of = $(INC_$(word 2,$(subst /, ,$(1))))

LIB_SRCS    := $(wildcard src/common/*.c src/lib/*.c src/lib/*/*.c)
SERVER_SRCS := $(filter-out src/server/main.c,$(wildcard src/auth/*.c src/pg/*.c src/ilp/*.c src/http/*.c src/sync/*.c src/tools/*.c src/server/*.c))
LIB_OBJS    := $(LIB_SRCS:src/%.c=$(BUILD)/obj/%.o)
SERVER_OBJS := $(SERVER_SRCS:src/%.c=$(BUILD)/obj/%.o) $(BUILD)/gen/pgcatalog_sql.o $(BUILD)/gen/desk_sql.o \
               $(BUILD)/gen/status_page_html.o
UNIT_TESTS  := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(wildcard tests/unit/test_*.c))
BENCHES     := $(patsubst bench/%.c,$(BUILD)/bench/%,$(wildcard bench/*.c))
EXAMPLES    := $(patsubst examples/%.c,$(BUILD)/examples/%,$(wildcard examples/*.c))
DEPS_OK     := deps/.ok

# The fuzz build (make fuzz): clang, every object instrumented for
# libFuzzer's coverage and built with ASan+UBSan (SAN=1), in its own folder.
# Each driver tests/fuzz/fuzz_NAME.c links against the two archives, so it
# takes the objects it needs; a driver includes from the folders the unit
# tests do.
FUZZ_BUILD   ?= build-fuzz
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 15
FUZZERS      := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))
INC_fuzz     := $(filter-out -Itests/unit,$(INC_tests))
ifneq ($(FUZZ),)
CFLAGS  += -fsanitize=fuzzer-no-link
endif

# The C that .clang-format governs: every .c and .h of ours but those git
# ignores (generated files, wherever they are written).
CLANG_FORMAT ?= clang-format-14
FORMAT_FILES  = $(filter-out $(FORMAT_IGNORED),$(shell find include src tests/unit tests/fuzz examples bench -name '*.[ch]' | sort))
FORMAT_IGNORED = $(shell git ls-files --others --ignored --exclude-standard -- include src tests examples bench 2>/dev/null)

all: $(BUILD)/libduckpond.a $(BUILD)/libduckpond.so $(BUILD)/duckpond $(EXAMPLES)

# Set-up: Debian packages that are missing, then DuckDB (checksummed).
$(DEPS_OK): scripts/install-debs.sh scripts/fetch-duckdb.sh
	@./scripts/install-debs.sh
	@./scripts/fetch-duckdb.sh
	@touch $@
deps: $(DEPS_OK)

$(BUILD)/obj/%.o: src/%.c $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(call inc_of,$<) -c -o $@ $<

# Data compiled in: the catalog overlay, the desk's macros and the status
# page stay plain files (read, run and opened on their own) and become the
# bytes of the arrays pgcatalog_sql, desk_sql and status_page_html,
# NUL-ended. od and sed, not xxd: both are in every Debian (coreutils and
# sed are Essential), and a C file works with any compiler and assembler.
define embed_file
	@mkdir -p $(dir $@)
	@{ echo '/* Generated from $< by the Makefile: edit that file instead. */'; \
	  echo 'const char $(1)[] = {'; \
	  od -An -v -tx1 $< | sed -e 's/ *\([0-9a-f][0-9a-f]\)/0x\1,/g'; \
	  echo '0x00};'; } >$@.tmp && mv $@.tmp $@
endef
$(BUILD)/gen/pgcatalog_sql.c: src/pg/pgcatalog.sql
	$(call embed_file,pgcatalog_sql)
$(BUILD)/gen/desk_sql.c: src/server/desk.sql
	$(call embed_file,desk_sql)
$(BUILD)/gen/status_page_html.c: src/http/status_page.html
	$(call embed_file,status_page_html)

$(BUILD)/gen/%.o: $(BUILD)/gen/%.c
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/libduckpond.a: $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libdpserver.a: $(SERVER_OBJS)
	@rm -f $@
	ar rcs $@ $^

# The shared library is libduckpond.so.X.Y.Z (the version of include/duckpond.h)
# with the soname libduckpond.so.X, found through the links libduckpond.so.X
# and libduckpond.so; it exports the duckpond_ API alone (src/lib/libduckpond.map).
SO_VERSION := $(shell sed -n 's/^\#define DUCKPOND_VERSION "\(.*\)"$$/\1/p' include/duckpond.h)
SO_MAJOR   := $(firstword $(subst ., ,$(SO_VERSION)))
$(BUILD)/libduckpond.so: $(LIB_OBJS) src/lib/libduckpond.map include/duckpond.h
	$(CC) -shared $(LDFLAGS) -o $@.$(SO_VERSION) $(LIB_OBJS) -L$(DUCKDB)/lib -lduckdb -lpthread -lm \
	    -Wl,-soname,libduckpond.so.$(SO_MAJOR) -Wl,--version-script=src/lib/libduckpond.map \
	    -Wl,-rpath,'$$ORIGIN/../$(DUCKDB)/lib'
	ln -sf libduckpond.so.$(SO_VERSION) $@.$(SO_MAJOR)
	ln -sf libduckpond.so.$(SO_MAJOR) $@

$(BUILD)/duckpond: $(BUILD)/obj/server/main.o $(BUILD)/libdpserver.a $(BUILD)/libduckpond.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -Wl,-rpath,'$$ORIGIN/../$(DUCKDB)/lib'

$(BUILD)/tests/%: tests/unit/%.c tests/unit/testlib.h $(BUILD)/libdpserver.a $(BUILD)/libduckpond.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(INC_tests) $(LDFLAGS) -o $@ $< $(BUILD)/libdpserver.a $(BUILD)/libduckpond.a \
	    $(LDLIBS) -Wl,-rpath,'$$ORIGIN/../../$(DUCKDB)/lib'

$(BUILD)/bench/%: bench/%.c $(BUILD)/libduckpond.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(INC_examples) $(LDFLAGS) -o $@ $< $(BUILD)/libduckpond.a $(LDLIBS) \
	    -Wl,-rpath,'$$ORIGIN/../../$(DUCKDB)/lib'

$(BUILD)/examples/%: examples/%.c $(BUILD)/libduckpond.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(INC_examples) $(LDFLAGS) -o $@ $< $(BUILD)/libduckpond.a $(LDLIBS) \
	    -Wl,-rpath,'$$ORIGIN/../../$(DUCKDB)/lib'

$(BUILD)/fuzz/%: tests/fuzz/%.c $(BUILD)/libdpserver.a $(BUILD)/libduckpond.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fsanitize=fuzzer $(INC_fuzz) $(LDFLAGS) -o $@ $< $(BUILD)/libdpserver.a \
	    $(BUILD)/libduckpond.a $(LDLIBS) -Wl,-rpath,'$$ORIGIN/../../$(DUCKDB)/lib'

tests-bin: all $(UNIT_TESTS)
fuzzers: $(FUZZERS)
benches: all $(BENCHES)

run: all
	./$(BUILD)/duckpond serve --db $(DBFILE)

demo: all
	@DUCKPOND_BIN=$(BUILD)/duckpond scripts/demo.sh

# One run of everything, after the format check: the plain build, the
# sanitizer build (unit and integration tests each) and the fuzz drivers,
# one total.
test: deps
	@$(MAKE) --no-print-directory format-check
	@$(MAKE) --no-print-directory tests-bin
	@$(MAKE) --no-print-directory BUILD=build-asan SAN=1 tests-bin
	@$(MAKE) --no-print-directory fuzz
	@FUZZ_SECONDS=$(FUZZ_SECONDS) tests/run.sh build build-asan $(FUZZ_BUILD)

test-asan: deps
	@$(MAKE) --no-print-directory BUILD=build-asan SAN=1 tests-bin
	@tests/run.sh build-asan

bench: deps benches
	@bench/run.sh $(BUILD)

fuzz: deps
	@$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) SAN=1 FUZZ=1 CC=$(FUZZ_CC) fuzzers

fuzz-run: fuzz
	@FUZZ_SECONDS=$(FUZZ_SECONDS) tests/run.sh $(FUZZ_BUILD)

format:
	$(CLANG_FORMAT) -i $(FORMAT_FILES)

# Fails, naming each file, when clang-format would change a file.
format-check:
	@command -v $(CLANG_FORMAT) >/dev/null || { echo "format-check: no $(CLANG_FORMAT) (make deps)"; exit 1; }
	@bad=0; \
	for f in $(FORMAT_FILES); do \
	    $(CLANG_FORMAT) "$$f" | cmp -s "$$f" - && continue; \
	    n=$$($(CLANG_FORMAT) "$$f" | diff "$$f" - | grep -c '^<'); \
	    echo "format-check: $$f: $$n lines are not as .clang-format says"; \
	    bad=1; \
	done; \
	[ $$bad -eq 0 ] || { echo "format-check: 'make format' restyles them"; exit 1; }

clean:
	rm -rf build build-asan $(FUZZ_BUILD)

.PHONY: all deps run demo test test-asan bench benches tests-bin fuzz fuzzers fuzz-run format format-check clean
.SECONDARY:
-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
