// device_flag.h: `--device cpu|cuda[:N]|auto` for every command that builds
// a model: parse it and install the backend (model/device.h) before any
// model is loaded, so `--device cuda` on a machine without a GPU fails at
// once with what was needed. Header-only: cli/ is one binary.
#pragma once
#include <stdio.h>

#include "common/log.h"
#include "model/device.h"

#define DEVICE_FLAG_HELP "cpu, cuda, cuda:N (one GPU per process) or auto: cuda when a usable GPU is here"

// 0, or -1 after printing "cmd: --device cuda:0: needs a CUDA GPU ...".
static inline int cli_device_use(const char *cmd, const char *dev) {
    ModelDevice d;
    Err e = {{0}};
    char desc[512];
    if (model_device_parse(dev, &d, &e) != 0 || model_device_use(&d, desc, sizeof desc, &e) != 0) {
        fprintf(stderr, "%s: %s\n", cmd, e.msg);
        return -1;
    }
    log_info("%s: device %s", cmd, desc);
    return 0;
}
