#!/usr/bin/env bash
# test_cuda_emu.sh: the CUDA table's kernels run here, without a GPU or nvcc:
# model/cuda/ops_cuda.cu rewritten as plain C++ over a CPU emulation of
# blocks, warps, shuffles and cuBLASLt (tests/model/cuda_emu/), then every op
# test of tests/model/test_ops.c against it, with the CUDA tolerances. It
# checks the kernels' arithmetic, indexing, masks, tiling and that all lanes
# reach the same barriers; speed and true concurrency only a GPU checks
# (scripts/gpu-check.sh).
source tests/lib.sh
B=${BUILD:-build}
case "$B" in
  *san*) echo "skip: fibers switch stacks, which the sanitizers do not follow"; finish ;;
esac
run "the emulated CUDA table builds" 0 make --no-print-directory -s BUILD="$B" "$B/cuda_emu/test_ops_emu"
run "the op tests pass on it" 0 timeout 600 "$B/cuda_emu/test_ops_emu"
sed 's/^/    /' "$T/out" | grep -v "^    ok   cpu:"
check "every op test ran on the emulated CUDA table" '[ "$(grep -c "^ok   cuda:" "$T/out")" -ge 12 ]'
finish
