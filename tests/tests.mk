# Test, demo and benchmark targets (included by the Makefile).

UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
# With BIN= elsewhere (e.g. a GPU build beside the CPU one) the unit test
# binaries go there too; tests/run runs those of build/tests.
TEST_DIR := $(if $(filter .,$(BIN_DIR)),$(BUILD)/tests,$(BIN_DIR)/tests)
UNIT_BINS := $(UNIT_SRC:tests/unit/%.c=$(TEST_DIR)/%)
TEST_HELPERS := $(sort $(wildcard tests/unit/helpers/*.c))

.PHONY: unit-build
unit-build: $(UNIT_BINS)

# One compile of several sources leaves the dependencies of the last one
# only, so a test also depends on every header of ours: a header-only
# change (src/gpu/batched_layout.h) rebuilds the tests that include it.
TEST_HEADERS := $(wildcard src/*.h src/*/*.h tests/unit/helpers/*.h)
$(TEST_DIR)/test_%: tests/unit/test_%.c $(TEST_HELPERS) $(TEST_HEADERS) $(LIB_A) $(ROOT_STAMP)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_BASE) $(OUR_WARN) -ffp-contract=off -Itests/unit $< $(TEST_HELPERS) $(LIB_A) -o $@ -lcmocka $(LDLIBS)

.PHONY: test-build
test-build: all $(UNIT_BINS)

test:
	@$(MAKE) --no-print-directory deps
	@$(MAKE) --no-print-directory test-build
	@LAYOUT_OBJ=$(OBJ)/our tests/run

demo:
	@$(MAKE) --no-print-directory check-deps
	@$(MAKE) --no-print-directory all
	@scripts/demo.sh

bench:
	@$(MAKE) --no-print-directory all $(BUILD)/bench/train_bench $(BUILD)/bench/gcconv_overhead
	@bench/run

clean:
	rm -rf $(OBJ) $(BUILD)/tests $(DARKNET) $(LIB_A) $(LIB_SO)

distclean: clean
	scripts/link-upstream.sh --remove
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

$(BUILD)/tests/dump_output: tests/tools/dump_output.c $(LIB_A) $(ROOT_STAMP)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_BASE) $< $(LIB_A) -o $@ $(LDLIBS)

$(PLAIN)/dump_images: tests/tools/dump_images.c $(PLAIN_UP)
	$(CC) $(PLAIN_CFLAGS) $^ -o $@ -lm -pthread

$(BUILD)/tests/dump_images: tests/tools/dump_images.c $(LIB_A) $(ROOT_STAMP)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_BASE) $< $(LIB_A) -o $@ $(LDLIBS)

# The tools that compare layers take their bounds from the unit tests'
# rounding helper (tests/unit/helpers/rounding.c).
$(BUILD)/tests/compare_paths $(BUILD)/tests/compare_layers: $(BUILD)/tests/%: tests/tools/%.c \
  tests/unit/helpers/rounding.c $(LIB_A) $(ROOT_STAMP)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_BASE) $(OUR_WARN) -Itests/unit $< tests/unit/helpers/rounding.c $(LIB_A) -o $@ $(LDLIBS)

# The RoI pooling kernels on the cases of tests/ref/roi_align_ref.py.
$(BUILD)/tests/roi_pool_run: tests/tools/roi_pool_run.c $(LIB_A) $(ROOT_STAMP)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_BASE) $(OUR_WARN) $< $(LIB_A) -o $@ $(LDLIBS)

TOOLS := $(BUILD)/tests/roi_pool_run $(PLAIN)/darknet $(PLAIN)/dump_output $(BUILD)/tests/dump_output $(BUILD)/tests/compare_paths \
  $(BUILD)/tests/compare_layers \
  $(PLAIN)/dump_images $(BUILD)/tests/dump_images
test-build: $(TOOLS)

# ---- the GPU checks (tests/gpu/run) -------------------------------------------
# A standalone program with its own assertions (no cmocka), GPU=1 builds only.
GPU_CHECK := $(BUILD)/tests-gpu$(if $(filter 1,$(CUDNN)),-cudnn)/gpu_check
.PHONY: gpu-check
ifeq ($(GPU),1)
gpu-check: $(GPU_CHECK)
GPU_CHECK_HELPERS := tests/unit/helpers/rounding.c tests/unit/helpers/conv_shadow.c
$(GPU_CHECK): tests/gpu/gpu_check.c $(GPU_CHECK_HELPERS) $(LIB_A) $(ROOT_STAMP)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_BASE) $(OUR_WARN) -Itests/unit/helpers $< $(GPU_CHECK_HELPERS) $(LIB_A) -o $@ $(LDLIBS)
else
gpu-check:
	@echo "make: gpu-check needs GPU=1" >&2; exit 1
endif

# ---- benchmark harness (make bench) --------------------------------------------
$(BUILD)/bench/train_bench: bench/train_bench.c $(LIB_A) $(ROOT_STAMP)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_BASE) $(OUR_WARN) $< $(LIB_A) -o $@ $(LDLIBS)

$(BUILD)/bench/gcconv_overhead: bench/gcconv_overhead.c $(LIB_A) $(ROOT_STAMP)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_BASE) $(OUR_WARN) $< $(LIB_A) -o $@ $(LDLIBS)

$(BUILD)/tests/parse_cfg: tests/tools/parse_cfg.c $(LIB_A) $(ROOT_STAMP)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_BASE) $< $(LIB_A) -o $@ $(LDLIBS)

test-build: $(BUILD)/tests/parse_cfg

include tests/fuzz/fuzz.mk

$(BUILD)/tests/save_loop $(BUILD)/tests/check_weights $(BUILD)/tests/init_weights $(BUILD)/tests/bn_estimate: $(BUILD)/tests/%: tests/tools/%.c $(LIB_A) $(ROOT_STAMP)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_BASE) $< $(LIB_A) -o $@ $(LDLIBS)

test-build: $(BUILD)/tests/save_loop $(BUILD)/tests/check_weights $(BUILD)/tests/init_weights $(BUILD)/tests/bn_estimate

# A short training run under valgrind (tests/memcheck.sh).
.PHONY: memcheck
memcheck:
	@$(MAKE) --no-print-directory all
	@tests/memcheck.sh
