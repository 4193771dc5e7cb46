// device.c: --device parsing, the process's default op table, and the list
// of op tables this machine can run (model_ops_tables, model/ops.h). The
// CUDA side is reached only through model/cuda/cuda.h, and only in RS_CUDA
// builds: a build without nvcc has the same functions, answering "not built".
#include <stdlib.h>
#include <string.h>

#include "common/base.h"
#include "model/device.h"
#ifdef RS_CUDA
#include "model/cuda/cuda.h"
#endif

static const ModelOps *g_default;
#ifdef RS_CUDA
static int g_index = -1;  // the CUDA device model_device_use chose
#endif

const ModelOps *model_ops_default(void) { return g_default ? g_default : model_ops_cpu(); }

int model_device_cuda_built(void) {
#ifdef RS_CUDA
    return 1;
#else
    return 0;
#endif
}

int model_device_parse(const char *s, ModelDevice *out, Err *e) {
    *out = (ModelDevice){MODEL_DEVICE_AUTO, -1};
    if (!s || !*s || strcmp(s, "auto") == 0) return 0;
    if (strcmp(s, "cpu") == 0) return out->kind = MODEL_DEVICE_CPU, 0;
    if (strncmp(s, "cuda", 4) == 0 && (s[4] == 0 || s[4] == ':')) {
        out->kind = MODEL_DEVICE_CUDA;
        if (s[4] == 0) return 0;
        char *end = NULL;
        long i = strtol(s + 5, &end, 10);
        if (s[5] >= '0' && s[5] <= '9' && *end == 0 && i < 4096) return out->index = (int)i, 0;
    }
    return err_set(e, "--device '%s': expected cpu, cuda, cuda:N (N = 0, 1, ...) or auto", s);
}

// The index "cuda" means: LOCAL_RANK when a launcher set it, else 0.
static int resolve_index(int index) {
    if (index >= 0) return index;
    const char *lr = getenv("LOCAL_RANK");
    return lr && *lr ? atoi(lr) : 0;
}

// 0 when device `index` is usable; -1 with the reason in why.
static int cuda_probe(int index, char *why, size_t n) {
#ifdef RS_CUDA
    return model_cuda_probe(index, why, n);
#else
    snprintf(why, n, "this binary was built without the CUDA backend (nvcc was not found at build time; "
                     "install the CUDA toolkit and rebuild)");
    return -1;
#endif
}

int model_device_cuda_usable(int index) {
    char why[256];
    return cuda_probe(index, why, sizeof why) == 0;
}

int model_device_use(const ModelDevice *d, char *desc, size_t n, Err *e) {
    char buf[512] = "";
    if (d->kind == MODEL_DEVICE_CPU) {
        g_default = model_ops_cpu();
        if (desc) snprintf(desc, n, "cpu");
        return 0;
    }
    int index = resolve_index(d->index);
    int ok = cuda_probe(index, buf, sizeof buf) == 0;
    if (!ok && d->kind == MODEL_DEVICE_CUDA)
        return err_set(e, "--device cuda:%d: needs a CUDA GPU (compute capability 9.0 or newer, as this build's "
                          "kernels); found: %s",
                       index, buf);
    if (!ok) {  // auto without a usable GPU: the CPU, saying why
        g_default = model_ops_cpu();
        if (desc) snprintf(desc, n, "cpu (auto: %s)", buf);
        return 0;
    }
#ifdef RS_CUDA
    model_cuda_set_device(index);
    g_default = model_ops_cuda();
    g_index = index;
#endif
    if (desc) snprintf(desc, n, "%s", buf);
    return 0;
}

int model_device_check_memory(const ModelOps *ops, size_t bytes, const char *what, Err *e) {
#ifdef RS_CUDA
    size_t fr = 0, tot = 0;
    int index = g_index >= 0 ? g_index : resolve_index(-1);
    if (ops != model_ops_cuda() || model_cuda_mem_info(index, &fr, &tot) != 0 || bytes <= fr) return 0;
    return err_set(e, "cuda:%d: the model needs %.2f GiB (%s) and the device has %.2f GiB free of %.2f GiB", index,
                   bytes / 1073741824.0, what, fr / 1073741824.0, tot / 1073741824.0);
#else
    return 0;
#endif
}

int model_ops_tables(const ModelOps **out, int max) {
    int n = 0;
    if (n < max) out[n++] = model_ops_cpu();
#ifdef RS_CUDA
    // Only with a GPU here, so the op tests compare CPU and CUDA on a GPU
    // machine and run the CPU table alone everywhere else.
    int index = g_index >= 0 ? g_index : resolve_index(-1);
    if (n < max && model_device_cuda_usable(index)) {
        model_cuda_set_device(index);
        out[n++] = model_ops_cuda();
    }
#endif
    return n;
}
