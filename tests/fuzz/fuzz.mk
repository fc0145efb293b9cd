# Fuzzing with libFuzzer (included by tests/tests.mk).
#
#   make fuzz                    every target for FUZZ_SECONDS each (default 60)
#   make fuzz-deep               every target for FUZZ_RUNS executions each
#                                (default 10^6; at most FUZZ_DEEP_SECONDS each)
#   make fuzz FUZZ_TARGETS=cfg   one target
#   make fuzz-build              only build the fuzzers
#
# Fuzzers are built with clang (FUZZ_CC) under ASan and UBSan from their own
# objects in build/obj-fuzz (upstream without OpenCV, and our src/).  Each
# run starts from the seed corpus tests/fuzz/corpus/TARGET plus what earlier
# runs found (build/fuzz/corpus/TARGET).  A crash stops make and leaves its
# input in build/fuzz/crashes/TARGET/; once fixed, copy it into
# tests/fuzz/regressions/TARGET/, which make test replays.

FUZZ_TARGETS ?= cfg data weights boxes labels
FUZZ_SECONDS ?= 60
FUZZ_CC ?= clang-14
FUZZ_OBJ := $(BUILD)/obj-fuzz
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_CFLAGS := -O1 -g -MMD -MP $(FUZZ_SAN) -fsanitize=fuzzer-no-link -pthread \
  -I$(DN)/include -I$(DN)/src -Isrc -Itests/fuzz
# harness.c: exit() inside a target returns to it; allocations and FILEs
# an input leaves behind are released after it.
FUZZ_WRAP := $(foreach f,exit malloc calloc realloc free fopen fdopen fclose \
  fprintf vfprintf fputs fputc fwrite,-Wl,--wrap=$(f))
FUZZ_UP_OBJS := $(UP_SRC:%=$(FUZZ_OBJ)/up/%.o)
FUZZ_OUR_OBJS := $(OUR_SRC:src/%.c=$(FUZZ_OBJ)/our/%.o)
FUZZ_BINS := $(FUZZ_TARGETS:%=$(BUILD)/fuzz/fuzz_%)
FUZZ_HARNESS := tests/fuzz/harness.c tests/fuzz/fuzz.h

$(FUZZ_OBJ)/up/%.o: $(DN)/src/%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -w $(call rename_flags,$*) -c $< -o $@

$(FUZZ_OBJ)/our/%.o: src/%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -std=gnu99 -Wall -Wno-unused-parameter -Wno-typedef-redefinition -c $< -o $@

# The ONNX bindings generated from onnx.proto (see the Makefile), compiled
# like the rest.
FUZZ_CFLAGS += -I$(ONNX_GEN)
FUZZ_ONNX_OBJ := $(FUZZ_OBJ)/gen/onnx.pb-c.o
$(FUZZ_ONNX_OBJ): $(ONNX_GEN)/onnx.pb-c.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -w -c $< -o $@
$(patsubst src/%.c,$(FUZZ_OBJ)/our/%.o,$(wildcard src/deploy/onnx*.c)): | $(ONNX_GEN)/onnx.pb-c.h

$(FUZZ_OBJ)/libdarknet.a: $(FUZZ_UP_OBJS) $(FUZZ_OUR_OBJS) $(FUZZ_ONNX_OBJ)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_HARNESS) $(FUZZ_OBJ)/libdarknet.a
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $< tests/fuzz/harness.c \
	  $(FUZZ_OBJ)/libdarknet.a -o $@ $(FUZZ_WRAP) -lm -pthread -lprotobuf-c

-include $(shell find $(FUZZ_OBJ) -name "*.d" 2>/dev/null)

.PHONY: fuzz fuzz-build fuzz-deep
fuzz-build: $(FUZZ_BINS)

FUZZ_RUNS ?= 1000000
FUZZ_DEEP_SECONDS ?= 3600
# One input may take this long before it counts as a hang: the deep runs
# reach large networks, and share the machine.
FUZZ_TIMEOUT ?= 10
FUZZ_LIMIT ?= -max_total_time=$(FUZZ_SECONDS)
FUZZ_WHAT ?= for $(FUZZ_SECONDS) s
fuzz-deep:
	@$(MAKE) --no-print-directory fuzz FUZZ_LIMIT="-runs=$(FUZZ_RUNS) -max_total_time=$(FUZZ_DEEP_SECONDS)" \
	  FUZZ_WHAT="for $(FUZZ_RUNS) executions" FUZZ_TIMEOUT=60

fuzz: fuzz-build
	@for t in $(FUZZ_TARGETS); do \
	  mkdir -p $(BUILD)/fuzz/corpus/$$t $(BUILD)/fuzz/crashes/$$t; \
	  dict=; [ -f tests/fuzz/$$t.dict ] && dict=-dict=tests/fuzz/$$t.dict; \
	  echo "fuzz: $$t $(FUZZ_WHAT)"; \
	  $(BUILD)/fuzz/fuzz_$$t $(FUZZ_LIMIT) -timeout=$(FUZZ_TIMEOUT) -rss_limit_mb=2048 \
	    -close_fd_mask=3 -print_final_stats=1 $$dict \
	    -artifact_prefix=$(BUILD)/fuzz/crashes/$$t/ \
	    $(BUILD)/fuzz/corpus/$$t tests/fuzz/corpus/$$t > $(BUILD)/fuzz/$$t.log 2>&1 \
	  || { tail -60 $(BUILD)/fuzz/$$t.log; echo "fuzz: $$t: a crash, input in $(BUILD)/fuzz/crashes/$$t/"; exit 1; }; \
	  grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb' $(BUILD)/fuzz/$$t.log | tr '\n' ' '; echo; \
	done

# Replay binaries for make test: the same targets, run once per input by
# tests/fuzz/replay.c, built like the tests (sanitized under SANITIZE=1).
REPLAY_BINS := $(FUZZ_TARGETS:%=$(BUILD)/tests/replay_%)
$(BUILD)/tests/replay_%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c $(FUZZ_HARNESS) libdarknet.a $(ROOT_STAMP)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_BASE) -Itests/fuzz $< tests/fuzz/harness.c tests/fuzz/replay.c libdarknet.a \
	  -o $@ $(FUZZ_WRAP) $(LDLIBS)

test-build: $(REPLAY_BINS)
