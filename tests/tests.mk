# Test, demo and benchmark targets (included by the Makefile).

UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
TEST_HELPERS := $(sort $(wildcard tests/unit/helpers/*.c))

$(BUILD)/tests/%: tests/unit/%.c $(TEST_HELPERS) libdarknet.a $(ROOT_STAMP)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_BASE) $(OUR_WARN) -Itests/unit $< $(TEST_HELPERS) libdarknet.a -o $@ -lcmocka $(LDLIBS)

.PHONY: test-build
test-build: all $(UNIT_BINS)

test:
	@$(MAKE) --no-print-directory check-deps
	@$(MAKE) --no-print-directory test-build
	@tests/run

demo:
	@$(MAKE) --no-print-directory check-deps
	@$(MAKE) --no-print-directory all
	@scripts/demo.sh

bench:
	@$(MAKE) --no-print-directory all
	@bench/run

clean:
	rm -rf $(OBJ) $(BUILD)/tests darknet libdarknet.a libdarknet.so

distclean: clean
	rm -rf $(BUILD)

# ---- the unpatched upstream build, for the compatibility test -----------------
# Built from build/upstream (Debian's tree, none of our patches) with the same
# compiler flags as ours, so that equal inputs must give equal bits.
PLAIN := $(BUILD)/plain
PLAIN_CFLAGS := $(OPT) -pthread -I$(UPSTREAM)/include -I$(UPSTREAM)/src $(UP_WARN)
PLAIN_UP := $(UP_SRC:%=$(PLAIN)/up/%.o)
PLAIN_EX := $(UP_EXAMPLES:%=$(PLAIN)/ex/%.o)

$(PLAIN)/up/%.o: $(UPSTREAM)/src/%.c
	@mkdir -p $(@D)
	$(CC) $(PLAIN_CFLAGS) -c $< -o $@

$(PLAIN)/ex/%.o: $(UPSTREAM)/examples/%.c
	@mkdir -p $(@D)
	$(CC) $(PLAIN_CFLAGS) -c $< -o $@

$(PLAIN)/darknet: $(PLAIN_EX) $(PLAIN_UP)
	$(CC) $^ -o $@ -lm -pthread

$(PLAIN)/dump_output: tests/tools/dump_output.c $(PLAIN_UP)
	$(CC) $(PLAIN_CFLAGS) $^ -o $@ -lm -pthread

$(BUILD)/tests/dump_output: tests/tools/dump_output.c libdarknet.a $(ROOT_STAMP)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_BASE) $< libdarknet.a -o $@ $(LDLIBS)

TOOLS := $(PLAIN)/darknet $(PLAIN)/dump_output $(BUILD)/tests/dump_output
test-build: $(TOOLS)

$(BUILD)/tests/parse_cfg: tests/tools/parse_cfg.c libdarknet.a $(ROOT_STAMP)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_BASE) $< libdarknet.a -o $@ $(LDLIBS)

test-build: $(BUILD)/tests/parse_cfg

include tests/fuzz/fuzz.mk

$(BUILD)/tests/save_loop $(BUILD)/tests/check_weights: $(BUILD)/tests/%: tests/tools/%.c libdarknet.a $(ROOT_STAMP)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_BASE) $< libdarknet.a -o $@ $(LDLIBS)

test-build: $(BUILD)/tests/save_loop $(BUILD)/tests/check_weights

# A short training run under valgrind (tests/memcheck.sh).
.PHONY: memcheck
memcheck:
	@$(MAKE) --no-print-directory all
	@tests/memcheck.sh
