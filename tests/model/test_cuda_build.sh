#!/usr/bin/env bash
# test_cuda_build.sh: the CUDA sources compile with nvcc and every warning an
# error (`make cuda-check`), and a build without nvcc leaves them out with one
# line. Without nvcc on this machine the first check is skipped, saying so.
source tests/lib.sh
B=${BUILD:-build}
if command -v nvcc >/dev/null 2>&1; then
  # Outside the calling make (which may have said NVCC=): nvcc from PATH.
  run "model/cuda/*.cu compile with nvcc -Werror" 0 env -u MAKELEVEL -u MAKEFLAGS -u MFLAGS \
    make --no-print-directory -s cuda-check BUILD="$B"
  check "the objects exist" 'ls "$B"/cuda-check/*.o >/dev/null'
else
  echo "skip nvcc -Werror compile: nvcc not found (no CUDA toolkit on this machine)"
fi
# What make prints about CUDA when nvcc is absent: one line, and no .cu in the build.
# (outside any make: the summary is printed at the top level only)
run "make NVCC= explains the skip in one line" 0 env -u MAKELEVEL -u MAKEFLAGS -u MFLAGS make --no-print-directory -n NVCC= BUILD="$T/nocuda" all
check "one 'cuda:' line saying it is skipped" '[ "$(grep -c "cuda: ✗ nvcc not found: CUDA backend skipped" "$T/out")" = 1 ]'
check "no nvcc command in the plan" '! grep -q "ops_cuda.cu" "$T/out"'
finish
