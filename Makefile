# Calibrated SGD and gradient calibration layers on Darknet.
#
#   make            fetch Debian's darknet source, apply patches/, build ./darknet
#   make test       unit and command-line tests (installs dependencies first)
#   make demo       the main job: train a small CCNN and evaluate it
#   make bench      benchmarks, written to BENCHMARKS.md
#   make deps       install the Debian packages the build and tests need, and
#                   npm's onnxruntime-web into build/npm (where npm is installed)
#   make clean      remove objects and binaries (keeps the fetched source)
#   make distclean  remove everything the build made
#
# Options: OPENCV=0|1 (default 1), DARKNET_SRC=/path (a local upstream tree at
# commit 61c9d02e instead of Debian's source package), OPT=-O3, NATIVE=1
# (-march=native), SANITIZE=1 (AddressSanitizer and UBSan, objects kept apart),
# GPU=1 (CUDA; docs/gpu.md), MPI=1 (data-parallel training with Open MPI;
# docs/distributed.md; binaries in build/mpi), BIN=folder (where darknet,
# libdarknet.a and libdarknet.so go; default the repository root).

OPENCV ?= 1
OPT ?= -O3
NATIVE ?= 0
SANITIZE ?= 0
GPU ?= 0
MPI ?= 0
CUDNN ?= 0
DARKNET_SRC ?=
BUILD ?= build
UPSTREAM := $(BUILD)/upstream
DN := $(BUILD)/darknet
OBJ := $(BUILD)/obj$(if $(filter 1,$(SANITIZE)),-san)$(if $(filter 1,$(GPU)),-gpu)$(if $(filter 1,$(CUDNN)),-cudnn)$(if $(filter 1,$(MPI)),-mpi)

PATCHES := $(sort $(wildcard patches/*.patch))
# The list of patches, rewritten only when it changes, so that removing or
# renaming a patch (which no timestamp shows) also remakes the patched tree.
PATCH_LIST := $(BUILD)/patches.list

# Upstream's own object lists (from its Makefile), kept in the same order.
UP_SRC := gemm utils cuda deconvolutional_layer convolutional_layer list image \
  activations im2col col2im blas crop_layer dropout_layer maxpool_layer \
  softmax_layer data matrix network connected_layer cost_layer parser \
  option_list detection_layer route_layer upsample_layer box \
  normalization_layer avgpool_layer layer local_layer shortcut_layer \
  logistic_layer activation_layer rnn_layer gru_layer crnn_layer demo \
  batchnorm_layer region_layer reorg_layer tree lstm_layer l2norm_layer \
  yolo_layer iseg_layer
UP_EXAMPLES := captcha lsd super art tag cifar go rnn segmenter regressor \
  classifier coco yolo detector nightmare instance-segmenter darknet

OUR_SRC := $(sort $(wildcard src/*.c src/*/*.c))
OUR_CU := $(sort $(wildcard src/*.cu src/*/*.cu))

UP_OBJS := $(UP_SRC:%=$(OBJ)/up/%.o)
EX_OBJS := $(UP_EXAMPLES:%=$(OBJ)/ex/%.o)
OUR_OBJS := $(OUR_SRC:src/%.c=$(OBJ)/our/%.o)

CC ?= cc
CXX ?= g++
CFLAGS_BASE := $(OPT) -fPIC -pthread -MMD -MP -I$(DN)/include -I$(DN)/src -Isrc
ifeq ($(NATIVE),1)
CFLAGS_BASE += -march=native
endif
ifeq ($(SANITIZE),1)
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
CFLAGS_BASE += $(SAN_FLAGS) -g
endif
UP_WARN := -Wall -Wno-unused-result -Wno-unknown-pragmas -Wno-unused-variable \
  -Wno-unused-but-set-variable -Wno-maybe-uninitialized -Wno-stringop-overflow \
  -Wno-format-overflow -Wno-stringop-truncation -Wno-misleading-indentation \
  -Wno-array-bounds -Wno-format-truncation -Wno-use-after-free -Wno-unused-function \
  -Wno-restrict -Wno-parentheses -Wno-implicit-function-declaration
# -Wno-psabi: the eight-float vectors of src/cpu/fast_lanes.h live in inlined static
# helpers; no call that could meet another ABI passes one.
OUR_WARN := -std=gnu99 -Wall -Wextra -Wno-unused-parameter -Wno-sign-compare -Wno-psabi
# Our sources use OpenMP (the fast CPU kernels); upstream's compile as upstream
# ships them by default, single-threaded, and serve as the reference path.
OMP ?= -fopenmp
# The loops chosen at run time for AVX2 or AVX-512 (src/cpu/rowops.c) must
# give the plain x86-64 build's bits; GCC would otherwise fuse a*b+c into
# one rounding there (AVX-512 implies FMA).
OUR_CFLAGS := $(OMP) -ffp-contract=off
LDLIBS := $(SAN_FLAGS) -lm -pthread $(OMP)
ifeq ($(OPENCV),1)
CFLAGS_BASE += -DOPENCV $(shell pkg-config --cflags opencv4 2>/dev/null)
LDLIBS += $(shell pkg-config --libs opencv4 2>/dev/null) -lstdc++
UP_CXX_OBJS := $(OBJ)/up/image_opencv.o
endif
LDLIBS += -lstdc++

# ---- MPI (Open MPI from Debian) ------------------------------------------------
# Only src/dist/ calls MPI; without MPI=1 it compiles to single-process stubs.
ifeq ($(MPI),1)
MPI_CFLAGS := $(shell pkg-config --cflags ompi-c 2>/dev/null || mpicc --showme:compile 2>/dev/null)
MPI_LIBS := $(shell pkg-config --libs ompi-c 2>/dev/null || mpicc --showme:link 2>/dev/null)
ifeq ($(strip $(MPI_LIBS)),)
$(error MPI=1: Open MPI not found (pkg-config ompi-c, mpicc): run 'make deps' to install libopenmpi-dev and openmpi-bin)
endif
CFLAGS_BASE += -DDARKNET_MPI $(MPI_CFLAGS)
LDLIBS += $(MPI_LIBS)
endif

# ---- GPU (CUDA 12 and 13) ---------------------------------------------------
# Upstream's kernels, built for current architectures; ARCH= overrides.
CUDA_PATH ?= $(firstword $(foreach d,/usr/local/cuda /usr/lib/cuda /opt/cuda,$(if $(wildcard $(d)/bin/nvcc),$(d))))
NVCC ?= $(CUDA_PATH)/bin/nvcc
ARCH ?= -gencode arch=compute_75,code=sm_75 -gencode arch=compute_80,code=sm_80 \
  -gencode arch=compute_86,code=sm_86 -gencode arch=compute_89,code=sm_89 \
  -gencode arch=compute_90,code=[sm_90,compute_90]
UP_CU := convolutional_kernels deconvolutional_kernels activation_kernels \
  im2col_kernels col2im_kernels blas_kernels crop_layer_kernels \
  dropout_layer_kernels maxpool_layer_kernels avgpool_layer_kernels
ifeq ($(GPU),1)
ifeq ($(CUDA_PATH),)
$(error GPU=1: no CUDA toolkit found in /usr/local/cuda, /usr/lib/cuda or /opt/cuda; set CUDA_PATH=/path/to/cuda)
endif
# cudaThreadSynchronize was removed in CUDA 12; its replacement has the same meaning.
CFLAGS_BASE += -DGPU -I$(CUDA_PATH)/include -DcudaThreadSynchronize=cudaDeviceSynchronize
# Only the runtime API is used (no -lcuda), so the link needs no driver; the
# stubs folder stays on the path for anything that asks for libcuda.
LDLIBS += -L$(CUDA_PATH)/lib64 -L$(CUDA_PATH)/lib64/stubs -lcudart -lcublas -lcurand
UP_CU_OBJS := $(UP_CU:%=$(OBJ)/up/%.o)
OUR_CU_OBJS := $(OUR_CU:src/%.cu=$(OBJ)/our/%.cu.o)
endif
NVCC_FLAGS := $(ARCH) -O3 -DGPU -I$(DN)/include -I$(DN)/src -Isrc -DcudaThreadSynchronize=cudaDeviceSynchronize
# cuDNN 8 or 9 (docs/gpu.md): its headers and library beside CUDA's, or CUDNN_PATH=.
ifeq ($(CUDNN),1)
ifneq ($(GPU),1)
$(error CUDNN=1 needs GPU=1)
endif
CUDNN_PATH ?= $(CUDA_PATH)
ifeq ($(wildcard $(CUDNN_PATH)/include/cudnn.h),)
$(error CUDNN=1: no cudnn.h in $(CUDNN_PATH)/include; install cuDNN 9 or set CUDNN_PATH=)
endif
CFLAGS_BASE += -DCUDNN -I$(CUDNN_PATH)/include
NVCC_FLAGS += -DCUDNN -I$(CUDNN_PATH)/include
LDLIBS += -L$(CUDNN_PATH)/lib64 -lcudnn
endif

# ---- ONNX (./darknet export onnx, src/deploy/onnx_*.c) -------------------------
# The C bindings of ONNX's messages are generated here, at build time, from
# Debian's onnx.proto (libonnx-dev) by protoc-c (protobuf-c-compiler), into
# build/onnx; nothing generated is committed.  libprotobuf-c-dev reads and
# writes the messages.
ONNX_PROTO ?= /usr/include/onnx/onnx.proto
ONNX_GEN := $(BUILD)/onnx
ONNX_OBJ := $(OBJ)/gen/onnx.pb-c.o
CFLAGS_BASE += -I$(ONNX_GEN)
LDLIBS += -lprotobuf-c

LIB_OBJS := $(UP_OBJS) $(UP_CXX_OBJS) $(UP_CU_OBJS) $(OUR_OBJS) $(OUR_CU_OBJS) $(ONNX_OBJ)

# The binaries and libraries: at the root unless BIN= names another folder
# (a GPU compile check in CI goes to its own folder and leaves ./darknet be).
# An MPI=1 build goes to build/mpi unless BIN= says otherwise.
BIN ?= $(if $(filter 1,$(MPI)),$(BUILD)/mpi,.)
BIN_DIR := $(patsubst %/,%,$(BIN))
ifeq ($(BIN_DIR),.)
DARKNET := darknet
LIB_A := libdarknet.a
LIB_SO := libdarknet.so
else
DARKNET := $(BIN_DIR)/darknet
LIB_A := $(BIN_DIR)/libdarknet.a
LIB_SO := $(BIN_DIR)/libdarknet.so
endif

.PHONY: all deps test demo bench clean distclean check-deps
.DEFAULT_GOAL := all

all: $(DARKNET) $(LIB_A) $(LIB_SO) $(BUILD)/links.stamp

# Upstream's cfgs and data at their upstream paths (cfg/, data/), as links,
# so that Darknet's documented commands run from here.
$(BUILD)/links.stamp: $(BUILD)/tree.mk scripts/link-upstream.sh
	@scripts/link-upstream.sh $(DN)
	@touch $@

# ---- upstream source: fetched (or copied) once, then patched --------------
# The patched tree is made before anything else is read, so that the rules
# below can see its files.  Goals that need no source skip this.
NO_TREE_GOALS := clean distclean deps check-deps node-deps
ifeq ($(filter $(NO_TREE_GOALS),$(MAKECMDGOALS)),)
$(shell mkdir -p $(BUILD) && echo '$(PATCHES)' | cmp -s - $(PATCH_LIST) || echo '$(PATCHES)' > $(PATCH_LIST))
include $(BUILD)/tree.mk
endif

$(UPSTREAM)/.fetched:
	@mkdir -p $(BUILD)
ifneq ($(DARKNET_SRC),)
	@test -f "$(DARKNET_SRC)/src/parser.c" || { echo "make: DARKNET_SRC=$(DARKNET_SRC) is not a darknet source tree (no src/parser.c)" >&2; exit 1; }
	rm -rf $(UPSTREAM) && cp -a "$(DARKNET_SRC)" $(UPSTREAM) && rm -rf $(UPSTREAM)/.git
	@if [ -f $(UPSTREAM)/debian/patches/series ] && [ ! -d $(UPSTREAM)/.pc ]; then \
	  for p in $$(cat $(UPSTREAM)/debian/patches/series); do \
	    patch -d $(UPSTREAM) -p1 -s --batch < $(UPSTREAM)/debian/patches/$$p || exit 1; done; fi
else
	scripts/fetch-darknet.sh $(UPSTREAM) $(BUILD)/apt
endif
	@touch $@

# cp -a keeps the times of files no patch touches, so a changed patch
# recompiles only the files it patches.
$(BUILD)/tree.mk: $(UPSTREAM)/.fetched $(PATCHES) $(PATCH_LIST)
	@rm -rf $(DN).tmp && cp -a $(UPSTREAM) $(DN).tmp
	@for p in $(PATCHES); do \
	  echo "applying $$p"; \
	  patch -d $(DN).tmp -p1 -s --batch --no-backup-if-mismatch < $$p || { echo "make: $$p does not apply" >&2; exit 1; }; \
	done
	@if [ -d $(DN) ]; then \
	  (cd $(DN).tmp && find . -type f) | while read f; do \
	    if cmp -s "$(DN).tmp/$$f" "$(DN)/$$f"; then touch -r "$(DN)/$$f" "$(DN).tmp/$$f"; fi; done; fi
	@rm -rf $(DN) && mv $(DN).tmp $(DN)
	@echo "# patched tree ready: $(DN)" > $@

# ---- compiling ------------------------------------------------------------
# The fast kernels in src/ take the names of some upstream functions; those
# upstream definitions are compiled under an upstream_ prefix instead (no patch
# needed), stay callable, and are what the reference path runs.
RENAME_gemm := gemm gemm_cpu
RENAME_im2col := im2col_cpu
RENAME_col2im := col2im_cpu
RENAME_activations := activate_array gradient_array
RENAME_batchnorm_layer := forward_batchnorm_layer backward_batchnorm_layer
RENAME_convolutional_layer := make_convolutional_layer resize_convolutional_layer \
  forward_convolutional_layer backward_convolutional_layer
RENAME_maxpool_layer := make_maxpool_layer forward_maxpool_layer backward_maxpool_layer
RENAME_avgpool_layer := make_avgpool_layer forward_avgpool_layer backward_avgpool_layer
RENAME_shortcut_layer := make_shortcut_layer forward_shortcut_layer backward_shortcut_layer
RENAME_blas := fill_cpu
RENAME_convolutional_kernels := forward_convolutional_layer_gpu backward_convolutional_layer_gpu
rename_flags = $(foreach f,$(RENAME_$(1)),-D$(f)=upstream_$(f))


# Everything is rebuilt when the build options change.
CONFIG := OPENCV=$(OPENCV) OPT=$(OPT) NATIVE=$(NATIVE) SANITIZE=$(SANITIZE) GPU=$(GPU) CUDNN=$(CUDNN) $(if $(filter 1,$(MPI)),MPI=1 )CC=$(CC) OMP=$(OMP) \
  RENAMED=$(foreach m,$(UP_SRC),$(RENAME_$(m)))
# Objects keep a stamp per object folder; the binaries at the root, shared by
# every configuration, keep one of their own (and so does another BIN folder).
CONFIG_STAMP := $(OBJ)/config
ROOT_STAMP := $(if $(filter .,$(BIN_DIR)),$(BUILD)/config,$(BIN_DIR)/.config)
$(CONFIG_STAMP) $(ROOT_STAMP): FORCE
	@mkdir -p $(@D)
	@echo '$(CONFIG)' | cmp -s - $@ || echo '$(CONFIG)' > $@
.PHONY: FORCE
FORCE:

# image.c holds upstream's copy of stb_image_write, whose JPEG bit writer
# shifts signed ints past their sign bit by design; UBSan's shift check is
# turned off for that one file only.
UP_SAN_EXCEPTIONS_image := $(if $(SAN_FLAGS),-fno-sanitize=shift-base)

$(OBJ)/up/%.o: $(DN)/src/%.c $(CONFIG_STAMP)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_BASE) $(UP_WARN) $(call rename_flags,$*) $(UP_SAN_EXCEPTIONS_$*) -c $< -o $@

# On a machine without OpenCV's headers, say what installs them (the only
# C++ source is upstream's OpenCV glue).
.PHONY: check-opencv
check-opencv:
	@pkg-config --exists opencv4 || { echo "make: OpenCV 4 not found (pkg-config opencv4): run 'make deps'" \
	  "to install Debian's libopencv-dev, or build without it: make OPENCV=0" >&2; exit 1; }

# Without the packages, say which one is missing (make deps installs all).
.PHONY: check-onnx
check-onnx:
	@command -v protoc-c >/dev/null 2>&1 || { echo "make: protoc-c not found: run 'make deps'" \
	  "to install Debian's protobuf-c-compiler" >&2; exit 1; }
	@test -f $(ONNX_PROTO) || { echo "make: $(ONNX_PROTO) not found: run 'make deps'" \
	  "to install Debian's libonnx-dev" >&2; exit 1; }
	@test -f /usr/include/protobuf-c/protobuf-c.h || { echo "make: protobuf-c/protobuf-c.h not found:" \
	  "run 'make deps' to install Debian's libprotobuf-c-dev" >&2; exit 1; }

# protoc-c names its output after the .proto it reads, so a copy of it is
# compiled from build/onnx.
$(ONNX_GEN)/onnx.pb-c.c: $(wildcard $(ONNX_PROTO)) | check-onnx
	@mkdir -p $(@D)
	cp $(ONNX_PROTO) $(@D)/onnx.proto
	cd $(@D) && protoc-c --c_out=. onnx.proto
$(ONNX_GEN)/onnx.pb-c.h: $(ONNX_GEN)/onnx.pb-c.c

$(ONNX_OBJ): $(ONNX_GEN)/onnx.pb-c.c $(CONFIG_STAMP)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_BASE) -c $< -o $@

# Our sources that include the generated header wait for it.
$(patsubst src/%.c,$(OBJ)/our/%.o,$(wildcard src/deploy/onnx*.c)): | $(ONNX_GEN)/onnx.pb-c.h

$(OBJ)/up/%.o: $(DN)/src/%.cpp $(CONFIG_STAMP) | check-opencv
	@mkdir -p $(@D)
	$(CXX) -std=c++11 $(CFLAGS_BASE) -Wno-unused-result -c $< -o $@

$(OBJ)/up/%.o: $(DN)/src/%.cu $(CONFIG_STAMP)
	@mkdir -p $(@D)
	$(NVCC) $(NVCC_FLAGS) $(call rename_flags,$*) --compiler-options "-fPIC -w" -c $< -o $@

# Our kernels: warnings on, dependencies tracked like the C files.
$(OBJ)/our/%.cu.o: src/%.cu $(CONFIG_STAMP)
	@mkdir -p $(@D)
	$(NVCC) $(NVCC_FLAGS) -MMD -MP --compiler-options "-fPIC -Wall" -c $< -o $@

$(OBJ)/ex/%.o: $(DN)/examples/%.c $(CONFIG_STAMP)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_BASE) $(UP_WARN) -c $< -o $@

$(OBJ)/our/%.o: src/%.c $(CONFIG_STAMP)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_BASE) $(OUR_CFLAGS) $(OUR_WARN) -c $< -o $@

$(LIB_A): $(LIB_OBJS) $(ROOT_STAMP)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $(LIB_OBJS)

$(LIB_SO): $(LIB_OBJS) $(ROOT_STAMP)
	@mkdir -p $(@D)
	$(CC) -shared $(LIB_OBJS) -o $@ $(LDLIBS)

$(DARKNET): $(EX_OBJS) $(LIB_A) $(ROOT_STAMP)
	@mkdir -p $(@D)
	$(CC) $(EX_OBJS) $(LIB_A) -o $@ $(LDLIBS)

-include $(shell find $(OBJ) -name '*.d' 2>/dev/null)

# ---- dependencies -----------------------------------------------------------
DEB_PACKAGES := gcc g++ make patch dpkg-dev pkg-config libopencv-dev \
  libopenblas-dev libcmocka-dev python3 python3-numpy python3-torch python3-opencv \
  dataset-fashion-mnist clang-14 libclang-rt-14-dev valgrind \
  libopenmpi-dev openmpi-bin python3-pytest python3-pip python3-setuptools python3-venv \
  python3-torchvision libonnx-dev protobuf-c-compiler libprotobuf-c-dev python3-onnx
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

check-deps:
	@missing=$$(for p in $(DEB_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then echo "installing: $$missing"; \
	  $(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q $$missing; fi

deps:
	@$(MAKE) --no-print-directory check-deps
	@$(MAKE) --no-print-directory node-deps

# npm's onnxruntime-web, for the Node.js run of exported models
# (tests/cli/test_onnx_node.sh): the version tests/node/package-lock.json
# pins, into build/npm, without install scripts.  Node.js and npm are not
# installed here; without them the check is skipped.
NPM_DIR := $(BUILD)/npm
.PHONY: node-deps
node-deps:
	@if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then \
	  echo "make: node or npm not found: onnxruntime-web not installed, test_onnx_node is skipped"; \
	elif ! cmp -s tests/node/package-lock.json $(NPM_DIR)/package-lock.json || \
	  [ ! -f $(NPM_DIR)/node_modules/onnxruntime-web/package.json ]; then \
	  mkdir -p $(NPM_DIR) && cp tests/node/package.json tests/node/package-lock.json $(NPM_DIR)/ && \
	  npm ci --prefix $(NPM_DIR) --ignore-scripts --no-audit --no-fund; fi

# ---- tests, demo, benchmarks ----------------------------------------------------
include tests/tests.mk
