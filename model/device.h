// device.h: which backend this process computes on. `--device cpu|cuda[:N]|auto`
// on every command that builds a model parses into a ModelDevice, and
// model_device_use installs its op table as the process default, which
// model_new and model_load then use (ARCHITECTURE.md, "CUDA backend").
// One device per process: a data-parallel launcher starts one process per
// GPU and gives each its index (or LOCAL_RANK).
//
//   ModelDevice d;  if (model_device_parse(flag, &d, &e) || model_device_use(&d, desc, sizeof desc, &e)) fail;
//   Model *m = model_load(dir, MODEL_GRADS, &e);   // on the chosen device
//
// Not thread-safe: choose the device once, at start, before loading models.
#pragma once
#include <stddef.h>

#include "common/err.h"
#include "model/ops.h"

typedef enum { MODEL_DEVICE_AUTO, MODEL_DEVICE_CPU, MODEL_DEVICE_CUDA } ModelDeviceKind;

typedef struct ModelDevice {
    ModelDeviceKind kind;
    int index;  // CUDA device; -1: LOCAL_RANK from the environment, else 0
} ModelDevice;

// "cpu", "cuda", "cuda:N" or "auto" (NULL or "" mean auto). -1 with e
// naming the bad value and the accepted forms.
int model_device_parse(const char *s, ModelDevice *out, Err *e);
// Install the backend for d: cpu always works; cuda[:N] needs a usable GPU
// and fails, before any model is loaded, with what was needed and what was
// found ("--device cuda:0: needs a CUDA GPU (sm_90 or newer); found: no
// usable CUDA device: CUDA driver version is insufficient ..."), or, in a
// build without nvcc, that the binary has no CUDA backend; auto takes the
// GPU when there is a usable one and the CPU otherwise. desc (may be NULL)
// gets a line naming the chosen device for the run's log. 0 or -1.
int model_device_use(const ModelDevice *d, char *desc, size_t n, Err *e);
// The op table model_new and model_load use: the CPU table until
// model_device_use installs another.
const ModelOps *model_ops_default(void);
// The MFU denominator on a GPU when --peak-gflops is not given: the H100
// SXM's dense bf16 tensor-core peak at its 1830 MHz boost clock (NVIDIA's
// data sheet; the PCIe card is lower: pass --peak-gflops there).
#define MODEL_CUDA_PEAK_FLOPS 989.4e12
// Before a model is allocated on ops: 0 when its device has `bytes` free
// (always for the CPU), else -1 with "cuda:0 (NVIDIA ...): the model needs
// 12.3 GiB (weights, gradients, AdamW moments), 8.0 GiB free".
int model_device_check_memory(const ModelOps *ops, size_t bytes, const char *what, Err *e);
// 1 when this binary was built with the CUDA backend (nvcc was found).
int model_device_cuda_built(void);
// 1 when the CUDA backend is built and device `index` is usable now.
int model_device_cuda_usable(int index);
