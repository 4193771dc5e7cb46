// cuda.h: the CUDA backend's entry points outside the op table: the device
// probe (does this process have a usable GPU?) and the table itself. Only
// model/device.c calls these, and only in RS_CUDA builds; the rest of the
// program reaches the backend through ModelOps (ARCHITECTURE.md, "CUDA
// backend"). Plain C linkage so that C files can call the nvcc-built object.
#pragma once
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "model/ops.h"

// Describe device `index` into desc (name, compute capability, memory). It
// creates no CUDA context (the process stays small until a model is made).
// Returns 0 when it exists and can run this build's kernels (sm_90 code);
// -1 otherwise, with the reason in desc (no driver, no device, index out of
// range, too old). Never aborts: a binary built with CUDA runs on machines
// without a GPU and learns it here. Safe to call more than once.
int model_cuda_probe(int index, char *desc, size_t n);
// Number of CUDA devices the driver reports (0 when there is no driver).
int model_cuda_device_count(void);
// Free and total device memory of `index` in bytes; -1 when it cannot be read.
int model_cuda_mem_info(int index, size_t *free_b, size_t *total_b);
// The device every later ctx_new of the CUDA table binds to (one device per
// process; a data-parallel launcher gives each process its local rank).
void model_cuda_set_device(int index);
// The CUDA op table. Its contexts run on the device set above.
const ModelOps *model_ops_cuda(void);

#ifdef __cplusplus
}
#endif
