# Test, demo and benchmark targets (included by the Makefile).

UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
TEST_HELPERS := $(sort $(wildcard tests/unit/helpers/*.c))

$(BUILD)/tests/%: tests/unit/%.c $(TEST_HELPERS) libdarknet.a
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
