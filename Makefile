# roost - see README.md. `make run` and `make test` are the two commands a newcomer needs.
MODE ?= release
B := build/$(MODE)
CC ?= cc
PKGS := libsodium jansson libcrypto libssl zlib sqlite3 libpq hiredis msgpack
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS))
PKG_LIBS = $(shell pkg-config --libs $(PKGS))

WARN := -Wall -Wextra -Wno-unused-parameter -Wshadow -Wstrict-prototypes -Wvla
CFLAGS_release := -O2 -g
CFLAGS_asan := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
LDFLAGS_asan := -fsanitize=address,undefined
CFLAGS_ALL = -std=gnu11 $(WARN) $(CFLAGS_$(MODE)) -Isrc -D_GNU_SOURCE -MMD -MP $(PKG_CFLAGS) $(EXTRA_CFLAGS)
LDLIBS_ALL = $(LDFLAGS_$(MODE)) $(PKG_LIBS) -lpthread -lm

LIB_SRC := $(filter-out src/main.c,$(wildcard src/*/*.c))
LIB_OBJ := $(LIB_SRC:%.c=$(B)/%.o)
TEST_SRC := $(wildcard tests/unit/*/test_*.c)
TEST_BIN := $(TEST_SRC:tests/unit/%.c=$(B)/tests/%)
FUZZ_SRC := $(wildcard fuzz/fuzz_*.c)
FUZZ_BIN := $(FUZZ_SRC:fuzz/%.c=build/fuzz/%)
FUZZ_SECONDS ?= 60

.PHONY: all build run test test-unit test-integration asan valgrind fuzz fuzz-build bench clean deps web format
all: build
build: deps-build
	@$(MAKE) --no-print-directory $(B)/roost $(TEST_BIN)

deps-build:
	@scripts/deps.sh build

$(B)/roost: $(B)/src/main.o $(B)/libroost.a
	$(CC) -o $@ $^ $(LDLIBS_ALL)

$(B)/libroost.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(B)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -c -o $@ $<

$(B)/tests/%: tests/unit/%.c $(B)/libroost.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -Itests/unit -o $@ $< $(B)/libroost.a $(LDLIBS_ALL)

asan:
	@$(MAKE) --no-print-directory MODE=asan build

# The long-running integration tests with every roost under Valgrind's memcheck (~3 min).
valgrind: deps-build
	@$(MAKE) --no-print-directory build
	@scripts/valgrind.sh

# The web client (web/), built into web/dist which roost serves.
web:
	@if [ -f web/package.json ]; then scripts/deps.sh web && cd web && npm run --silent build; fi

run: deps-build
	@$(MAKE) --no-print-directory -j2 build
	@$(MAKE) --no-print-directory web
	@mkdir -p data
	exec ./$(B)/roost $(ARGS)

# Everything: unit tests (release and ASan+UBSan), integration tests against the real binary
# (release and ASan+UBSan), and each fuzzer briefly. Prints a summary; non-zero on failure.
test:
	@scripts/deps.sh test
	@$(MAKE) --no-print-directory -j2 build
	@$(MAKE) --no-print-directory web
	@$(MAKE) --no-print-directory -j2 MODE=asan build
	@scripts/test.sh

test-unit: build
	@scripts/test.sh unit

fuzz-build: $(FUZZ_BIN)
# The library is compiled once with coverage instrumentation, then each driver links to it.
FUZZ_FLAGS = -std=gnu11 -g -O1 -Isrc -D_GNU_SOURCE -DROOST_FUZZ $(PKG_CFLAGS) \
	-fsanitize=address,undefined -fno-sanitize-recover=undefined -MMD -MP
FUZZ_LIB_OBJ := $(LIB_SRC:%.c=build/fuzz/obj/%.o)
build/fuzz/obj/%.o: %.c
	@mkdir -p $(@D)
	clang $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<
build/fuzz/libroost-fuzz.a: $(FUZZ_LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^
build/fuzz/%: fuzz/%.c build/fuzz/libroost-fuzz.a
	@mkdir -p $(@D)
	clang $(FUZZ_FLAGS) -fsanitize=fuzzer -o $@ $< build/fuzz/libroost-fuzz.a $(PKG_LIBS) -lpthread -lm

# `make fuzz FUZZ_SECONDS=600` runs every fuzzer for that long, corpus in fuzz/corpus/NAME.
fuzz: deps-build fuzz-build
	@scripts/fuzz.sh $(FUZZ_SECONDS)

bench: deps-build
	@$(MAKE) --no-print-directory -j2 build
	@scripts/deps.sh bench
	@bench/run.sh

format:
	clang-format -i $(wildcard src/*/*.c src/*/*.h src/*.c tests/unit/*/*.c fuzz/*.c bench/*.c)

clean:
	rm -rf build

-include $(LIB_OBJ:.o=.d) $(B)/src/main.d $(wildcard build/fuzz/obj/src/*/*.d)
