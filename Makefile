# reasoner: one plain Makefile that probes.
#   make              build build/reasoner (CPU; CUDA too when nvcc is found)
#   make test         install missing deps, build, run every test
#   make test SAN=1   the same tests under AddressSanitizer + UBSan
#   make demo         install missing deps, build, run the end-to-end demo
#   make demo-smoke   the demo's stages at tiny sizes, in about two minutes
#   make demo-seeds   the demo for seeds 1 2 3 and the mean accuracy per stage
#   make bench        build and run the benchmarks (they print figures)
#   make fuzz         build the libFuzzer targets (clang) and run each briefly
# Each folder builds into its own archive; a folder links only the layers
# below it (ARCHITECTURE.md, "Layers"), and a stage links the layers but no
# other stage, so a layering mistake fails to link.

LAYERS  := common tokenizer model data problems rollout verifier train reward
STAGES  := pretrain sft policy
CC      ?= cc
CXX     ?= c++
SAN     ?= 0
BUILD   ?= $(if $(filter 1,$(SAN)),build/san,build)
EMU     := $(BUILD)/cuda_emu

NVCC    := $(shell command -v nvcc 2>/dev/null)
CUDA    ?= $(if $(NVCC),1,0)
CUDA_ARCH ?= 90

# --- probes --------------------------------------------------------------
PKGS    := libcjson libzmq libseccomp libpcre2-8 zlib openblas gumbo libxxhash gmp
have_pkg = $(shell pkg-config --exists $(1) && echo 1)
PKG_OK  := $(foreach p,$(PKGS),$(if $(call have_pkg,$(p)),$(p)))
PKG_CFLAGS := $(if $(PKG_OK),$(shell pkg-config --cflags $(PKG_OK)))
PKG_LIBS   := $(if $(PKG_OK),$(shell pkg-config --libs $(PKG_OK)))
# CLD2 ships no .pc file: probe for its header.
HAVE_CLD2 := $(shell test -f /usr/include/cld2/public/compact_lang_det.h && echo 1)
OPENMP  := $(shell echo 'int main(void){return 0;}' | $(CC) -fopenmp -x c - -o /dev/null 2>/dev/null && echo -fopenmp)

WARN    := -Wall -Wextra -Werror -Wno-unused-parameter -Wno-format-truncation -Wno-missing-field-initializers
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined
OPT     := $(if $(filter 1,$(SAN)),-O1 -g -fno-omit-frame-pointer $(SANFLAGS),-O2 -g)
CFLAGS  += -std=c11 $(OPT) $(WARN) $(OPENMP) -I. $(PKG_CFLAGS) -D_GNU_SOURCE
CXXFLAGS += -std=c++17 $(OPT) -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers $(OPENMP) -I. -D_GNU_SOURCE
LDLIBS  += $(PKG_LIBS) $(if $(HAVE_CLD2),-lcld2) -lstdc++ -lm -lpthread
LDFLAGS += $(OPENMP) $(if $(filter 1,$(SAN)),$(SANFLAGS))
# CUDA is on when nvcc is found (`make NVCC=` forces a CPU-only build) and
# there are .cu sources (model/cuda/). The runtime links statically, so the
# binary starts on a machine without a driver and learns there is no GPU at
# --device time; cuBLASLt is loaded (dlopen) by the first CUDA context.
CU_SRCS := $(strip $(foreach l,$(LAYERS) $(STAGES),$(wildcard $(l)/*.cu $(l)/*/*.cu)))
ifeq ($(CU_SRCS),)
override CUDA := 0
endif
ifeq ($(NVCC),)
override CUDA := 0
endif
CUDA_HOME ?= $(patsubst %/bin/,%,$(dir $(NVCC)))
CUDA_LIB  := $(CUDA_HOME)/lib64
NVWARN  := -Werror all-warnings -Xcompiler -Wall,-Wextra,-Werror,-Wno-unused-parameter,-Wno-missing-field-initializers
NVFLAGS := -O3 -std=c++17 -gencode arch=compute_$(CUDA_ARCH),code=[sm_$(CUDA_ARCH),compute_$(CUDA_ARCH)] \
           -I. -DRS_CUDA=1 -DRS_CUDA_ARCH=$(CUDA_ARCH) -DRS_CUDA_LIB='"$(CUDA_LIB)"' $(NVWARN) -Xcompiler -fPIC
ifeq ($(CUDA),1)
CFLAGS  += -DRS_CUDA=1
LDLIBS  += -L$(CUDA_LIB) -Wl,-rpath,$(CUDA_LIB) -lcudart_static -ldl -lrt
endif

ifeq ($(MAKELEVEL),0)
ifeq ($(filter clean deps,$(MAKECMDGOALS)),)
$(info reasoner build: $(BUILD)  CC=$(CC)  SAN=$(SAN)  CUDA=$(CUDA)  OpenMP=$(if $(OPENMP),✓,✗))
$(info   libraries: $(foreach p,$(PKGS),$(p)$(if $(filter $(p),$(PKG_OK)),✓,✗)) cld2$(if $(HAVE_CLD2),✓,✗))
$(if $(filter 1,$(CUDA)),$(info   cuda: ✓ $(NVCC) (sm_$(CUDA_ARCH))),$(info   cuda: ✗ $(if $(NVCC),CUDA=0,nvcc not found): CUDA backend skipped, CPU only))
endif
endif

# --- sources -------------------------------------------------------------
srcs_of = $(wildcard $(1)/*.c $(1)/*/*.c) $(wildcard $(1)/*.cc $(1)/*/*.cc) $(if $(filter 1,$(CUDA)),$(wildcard $(1)/*.cu $(1)/*/*.cu))
objs_of = $(patsubst %,$(BUILD)/obj/%.o,$(call srcs_of,$(1)))
lib_of  = $(BUILD)/lib/lib$(1).a
# Libraries of a layer and every layer above it, lowest layer last (link order).
upto    = $(strip $(if $(filter $(1),$(firstword $(2))),$(firstword $(2)),$(firstword $(2)) $(call upto,$(1),$(wordlist 2,99,$(2)))))
rev     = $(if $(1),$(call rev,$(wordlist 2,99,$(1))) $(firstword $(1)))
libs_upto = $(foreach l,$(call rev,$(call upto,$(1),$(LAYERS))),$(call lib_of,$(l)))
# A stage: its own archive, then every layer.
libs_stage = $(call lib_of,$(1)) $(call libs_upto,$(lastword $(LAYERS)))
ALL_LIBS  := $(foreach s,$(STAGES),$(call lib_of,$(s))) $(call libs_upto,$(lastword $(LAYERS)))

CLI_OBJS  := $(patsubst %,$(BUILD)/obj/%.o,$(wildcard cli/*.c))
TEST_SRCS := $(wildcard tests/*/test_*.c)
TEST_BINS := $(patsubst tests/%.c,$(BUILD)/tests/%,$(TEST_SRCS))
BENCH_BINS:= $(patsubst bench/%.c,$(BUILD)/bench/%,$(wildcard bench/*.c))

.PHONY: all deps test test-run demo demo-smoke demo-seeds bench fuzz clean cuda-check gpu-check
.SECONDARY:
all: $(BUILD)/reasoner

$(BUILD)/obj/%.c.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC    $<"
	@$(CC) $(CFLAGS) -MMD -MP -c $< -o $@
$(BUILD)/obj/%.cc.o: %.cc
	@mkdir -p $(dir $@)
	@echo "  CXX   $<"
	@$(CXX) $(CXXFLAGS) -MMD -MP -c $< -o $@
$(BUILD)/obj/%.cu.o: %.cu
	@mkdir -p $(dir $@)
	@echo "  NVCC  $<"
	@$(NVCC) $(NVFLAGS) -c $< -o $@

define layer_rule
$(call lib_of,$(1)): $(call objs_of,$(1))
	@mkdir -p $$(dir $$@)
	@rm -f $$@
	@$(if $(call objs_of,$(1)),ar rcs $$@ $$^,ar rcs $$@)
endef
$(foreach l,$(LAYERS) $(STAGES),$(eval $(call layer_rule,$(l))))

$(BUILD)/reasoner: $(CLI_OBJS) $(ALL_LIBS)
	@echo "  LINK  $@"
	@$(CC) $(LDFLAGS) $(CLI_OBJS) $(ALL_LIBS) $(LDLIBS) -o $@

# tests/<layer>/test_x.c links that layer and the layers above it.
define test_rule
$(BUILD)/tests/$(1)/%: tests/$(1)/%.c tests/test.h $(call libs_upto,$(1))
	@mkdir -p $$(dir $$@)
	@echo "  TEST  $$@"
	@$(CC) $(CFLAGS) $$< $(call libs_upto,$(1)) $(LDFLAGS) $(LDLIBS) -o $$@
endef
$(foreach l,$(LAYERS),$(eval $(call test_rule,$(l))))
# tests/<stage>/test_x.c links that stage and every layer, no other stage.
define stage_test_rule
$(BUILD)/tests/$(1)/%: tests/$(1)/%.c tests/test.h $(call libs_stage,$(1))
	@mkdir -p $$(dir $$@)
	@echo "  TEST  $$@"
	@$(CC) $(CFLAGS) $$< $(call libs_stage,$(1)) $(LDFLAGS) $(LDLIBS) -o $$@
endef
$(foreach s,$(STAGES),$(eval $(call stage_test_rule,$(s))))
# tests/cli/ drive the binary; they may link everything.
$(BUILD)/tests/cli/%: tests/cli/%.c tests/test.h $(ALL_LIBS)
	@mkdir -p $(dir $@)
	@echo "  TEST  $@"
	@$(CC) $(CFLAGS) $< $(ALL_LIBS) $(LDFLAGS) $(LDLIBS) -o $@

$(BUILD)/bench/%: bench/%.c $(ALL_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $< $(ALL_LIBS) $(LDFLAGS) $(LDLIBS) -o $@

deps:
	@bash scripts/install-deps.sh

test: deps
	@$(MAKE) --no-print-directory test-run

test-run: $(BUILD)/reasoner $(TEST_BINS) $(if $(filter 1,$(SAN)),,$(EMU)/test_ops_emu)
	@BUILD=$(BUILD) bash scripts/run-tests.sh $(TEST_BINS) $(wildcard tests/*/test_*.sh)

demo: deps
	@$(MAKE) --no-print-directory $(BUILD)/reasoner
	@BUILD=$(BUILD) bash scripts/demo.sh

# The same stages as the demo at tiny sizes (about two minutes): CI runs it.
demo-smoke: deps
	@$(MAKE) --no-print-directory $(BUILD)/reasoner
	@BUILD=$(BUILD) DEMO_OUT=$${DEMO_OUT:-out/demo-smoke} DEMO_MODEL_CONFIG=tiny DEMO_PRETRAIN_SECS=20 \
	  DEMO_EVAL_N=20 DEMO_SFT_SECS=15 DEMO_RL_SECS=20 bash scripts/demo.sh

# The whole demo once per seed (DEMO_SEEDS, default "1 2 3"), and the mean:
# the figures the README quotes (DEMO_SEEDS_JOBS=3: about an hour on 2 cores).
demo-seeds: deps
	@$(MAKE) --no-print-directory $(BUILD)/reasoner
	@BUILD=$(BUILD) bash scripts/demo-seeds.sh

bench: $(BUILD)/reasoner $(BENCH_BINS)
	@for b in $(BENCH_BINS); do echo "== $$b"; $$b || exit 1; done

# --- fuzzing (clang, libFuzzer) ------------------------------------------
FUZZ_BUILD := build/fuzz
FUZZ_SECS  ?= 20
FUZZ_FLAGS := -std=c11 -O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -I. $(PKG_CFLAGS) -D_GNU_SOURCE $(OPENMP)
FUZZ_LIB_SRCS := $(foreach l,$(LAYERS) $(STAGES),$(wildcard $(l)/*.c $(l)/*/*.c))
FUZZ_OBJS  := $(patsubst %.c,$(FUZZ_BUILD)/obj/%.o,$(FUZZ_LIB_SRCS)) $(patsubst %.cc,$(BUILD)/obj/%.cc.o,$(foreach l,$(LAYERS) $(STAGES),$(wildcard $(l)/*.cc $(l)/*/*.cc)))
FUZZ_BINS  := $(patsubst fuzz/%.c,$(FUZZ_BUILD)/%,$(wildcard fuzz/fuzz_*.c))
$(FUZZ_BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_FLAGS) -c $< -o $@
$(FUZZ_BUILD)/%: fuzz/%.c $(FUZZ_OBJS)
	clang $(FUZZ_FLAGS) -fsanitize=fuzzer $< $(FUZZ_OBJS) $(PKG_LIBS) $(if $(HAVE_CLD2),-lcld2) -lstdc++ -lm -lpthread -o $@
fuzz: $(FUZZ_BINS)
	@for f in $(FUZZ_BINS); do n=$$(basename $$f); mkdir -p build/fuzz/corpus/$$n; \
	  echo "== $$n ($(FUZZ_SECS) s)"; \
	  $$f -max_total_time=$(FUZZ_SECS) -max_len=65536 -artifact_prefix=build/fuzz/$$n- build/fuzz/corpus/$$n $$(test -d fuzz/seeds/$$n && echo fuzz/seeds/$$n) \
	    >build/fuzz/$$n.log 2>&1; rc=$$?; tail -3 build/fuzz/$$n.log; \
	  [ $$rc -eq 0 ] || { echo "$$n failed: crash input and log in build/fuzz/"; exit 1; }; done

# The CUDA sources compile with every warning an error (tests/model/test_cuda_build.sh
# runs this in `make test`; without nvcc it says so and passes).
cuda-check:
	@if [ -z "$(NVCC)" ]; then echo "cuda-check: nvcc not found: skipped"; else \
	  mkdir -p $(BUILD)/cuda-check && for f in $(CU_SRCS); do echo "  NVCC  $$f (-Werror)"; \
	  $(NVCC) $(NVFLAGS) -c $$f -o $(BUILD)/cuda-check/$$(basename $$f).o || exit 1; done; fi

# The CUDA kernels on the CPU, without nvcc (tests/model/cuda_emu/emu.h):
# test_ops.c against an emulated CUDA table; tests/model/test_cuda_emu.sh runs it.
$(EMU)/ops_cuda_emu.cc: model/cuda/ops_cuda.cu tests/model/cuda_emu/gen.py
	@mkdir -p $(dir $@)
	@python3 tests/model/cuda_emu/gen.py $< $@
$(EMU)/ops_cuda_emu.o: $(EMU)/ops_cuda_emu.cc tests/model/cuda_emu/emu.h model/cuda/cuda.h model/ops.h
	@echo "  CXX   $< (CUDA emulated on the CPU)"
	@$(CXX) -std=c++20 -O2 -g -U_FORTIFY_SOURCE -I. -Wall -Wno-unknown-pragmas -Wno-unused-parameter -Wno-unused-variable -c $< -o $@
$(EMU)/test_ops_emu: tests/model/test_ops.c tests/test.h $(EMU)/ops_cuda_emu.o $(call libs_upto,model)
	@echo "  TEST  $@"
	@$(CC) $(CFLAGS) -Dmodel_ops_tables=emu_ops_tables $< $(EMU)/ops_cuda_emu.o $(call libs_upto,model) $(LDFLAGS) $(LDLIBS) -pthread -o $@

# Any test program on the emulated CUDA table (slow: minutes; not in make test):
#   make build/cuda_emu/pretrain/test_train && RS_TEST_DEVICE=cuda build/cuda_emu/pretrain/test_train
$(EMU)/%: tests/%.c tests/test.h $(EMU)/ops_cuda_emu.o $(ALL_LIBS)
	@mkdir -p $(dir $@)
	@echo "  TEST  $@ (CUDA emulated)"
	@$(CC) $(CFLAGS) $< $(EMU)/ops_cuda_emu.o $(ALL_LIBS) $(LDFLAGS) $(LDLIBS) -o $@

# On a lent GPU machine: the one script (ARCHITECTURE.md, "CUDA backend").
gpu-check:
	@bash scripts/gpu-check.sh

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
