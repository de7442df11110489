# kernels.mk — the CUDA kernels (kernels/*.cu) for Hopper, included by the top Makefile.
# Builds build/kernels/libkernels.a only where nvcc exists; elsewhere its targets say so and succeed.
#   make kernels        the library (part of `all` when nvcc exists)
#   make kernels-test   builds and runs kernels/test_kernels.cu (prints "skipped: no CUDA device"
#                       and exits 0 on a machine without a GPU)
#   make bench-gpu      builds and runs kernels/bench_kernels.cu (same skip)

NVCC ?= $(shell command -v nvcc || ls /usr/local/cuda/bin/nvcc 2>/dev/null)
KRN_B := build/kernels

.PHONY: kernels kernels-test bench-gpu

ifneq ($(strip $(NVCC)),)

# sm_90a (wgmma) only. The -gencode spelling: HOPPER.md saw `-arch=sm_90a` also run a plain sm_90
# pass in a newer nvcc, which rejects wgmma. Warnings are errors in nvcc, ptxas and the host compiler.
KRN_NVFLAGS := -std=c++17 -O3 -gencode=arch=compute_90a,code=sm_90a -I. -lineinfo \
	-Werror all-warnings -Xptxas -warn-spills,-warn-lmem-usage \
	-Xcompiler -Wall,-Wextra,-Werror,-Wno-unused-parameter
KRN_CU   := $(filter-out kernels/test_kernels.cu kernels/bench_kernels.cu,$(wildcard kernels/*.cu))
KRN_OBJ  := $(KRN_CU:kernels/%.cu=$(KRN_B)/%.o) $(KRN_B)/krn_plan.o
KRN_HDR  := $(wildcard kernels/*.h kernels/*.cuh)
# What a program linking libkernels.a with the C compiler needs besides it.
KRN_LDLIBS := -L$(dir $(NVCC))../lib64 -lcudart_static -ldl -lrt -lpthread -lstdc++ -lm

all: kernels
kernels: $(KRN_B)/libkernels.a

$(KRN_B)/%.o: kernels/%.cu $(KRN_HDR)
	@mkdir -p $(KRN_B)
	$(NVCC) $(KRN_NVFLAGS) -c $< -o $@

# The host plans live in engine/ (tested by the engine's unit tests); the library carries its own copy.
$(KRN_B)/krn_plan.o: engine/krn_plan.c $(KRN_HDR)
	@mkdir -p $(KRN_B)
	$(CC) -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -I. -c $< -o $@

$(KRN_B)/libkernels.a: $(KRN_OBJ)
	rm -f $@ && ar rcs $@ $^

$(KRN_B)/test_kernels: kernels/test_kernels.cu $(KRN_B)/libkernels.a
	$(NVCC) $(KRN_NVFLAGS) -o $@ $< $(KRN_B)/libkernels.a

$(KRN_B)/bench_kernels: kernels/bench_kernels.cu $(KRN_B)/libkernels.a
	$(NVCC) $(KRN_NVFLAGS) -o $@ $< $(KRN_B)/libkernels.a -lcublasLt

kernels-test: $(KRN_B)/test_kernels
	$(KRN_B)/test_kernels

bench-gpu: $(KRN_B)/bench_kernels
	$(KRN_B)/bench_kernels

else

kernels kernels-test bench-gpu:
	@echo "$@: skipped: no nvcc"

endif
