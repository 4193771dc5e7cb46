// test_device.c: the host side of backend selection, runnable on any
// machine: --device parsing, what `cuda` says without a GPU (before any
// model exists), `auto` falling back to the CPU, the op-table list, and the
// backend error channel (ModelOps.error -> model_check -> Err), driven by a
// CPU table that reports a failure as a broken GPU would.
#include <string.h>

#include "model/device.h"
#include "model/model.h"
#include "tests/test.h"

TEST(parse_accepts_the_documented_forms) {
    ModelDevice d;
    Err e = {{0}};
    CHECK(model_device_parse("cpu", &d, &e) == 0 && d.kind == MODEL_DEVICE_CPU);
    CHECK(model_device_parse("cuda", &d, &e) == 0 && d.kind == MODEL_DEVICE_CUDA && d.index == -1);
    CHECK(model_device_parse("cuda:3", &d, &e) == 0 && d.kind == MODEL_DEVICE_CUDA && d.index == 3);
    CHECK(model_device_parse("auto", &d, &e) == 0 && d.kind == MODEL_DEVICE_AUTO);
    CHECK(model_device_parse(NULL, &d, &e) == 0 && d.kind == MODEL_DEVICE_AUTO);
    CHECK(model_device_parse("", &d, &e) == 0 && d.kind == MODEL_DEVICE_AUTO);
    const char *bad[] = {"gpu", "cuda:", "cuda:-1", "cuda:1x", "cudax", "CPU", "cuda:99999"};
    for (int i = 0; i < 7; i++) {
        e.msg[0] = 0;
        CHECK_MSG(model_device_parse(bad[i], &d, &e) == -1, "%s accepted", bad[i]);
        CHECK_MSG(strstr(e.msg, bad[i]) && strstr(e.msg, "cuda:N"), "%s: %s", bad[i], e.msg);
    }
}

TEST(cpu_is_the_default_and_can_be_chosen) {
    CHECK(model_ops_default() == model_ops_cpu());
    ModelDevice d = {MODEL_DEVICE_CPU, -1};
    char desc[256];
    Err e = {{0}};
    CHECK(model_device_use(&d, desc, sizeof desc, &e) == 0);
    CHECK_STR_EQ(desc, "cpu");
    CHECK(model_ops_default() == model_ops_cpu());
}

// Without a usable GPU, `cuda` fails at selection, naming what was needed
// and what was found, and leaves the CPU in place; `auto` takes the CPU.
TEST(cuda_without_a_gpu_fails_early_and_auto_falls_back) {
    if (model_device_cuda_usable(0)) {
        SKIP("this machine has a usable GPU (the GPU path is scripts/gpu-check.sh's)");
        return;
    }
    ModelDevice d = {MODEL_DEVICE_CUDA, 0};
    char desc[512];
    Err e = {{0}};
    CHECK(model_device_use(&d, desc, sizeof desc, &e) == -1);
    CHECK_MSG(strstr(e.msg, "--device cuda:0: needs a CUDA GPU"), "%s", e.msg);
    CHECK_MSG(strstr(e.msg, "found: "), "%s", e.msg);
    if (!model_device_cuda_built()) CHECK_MSG(strstr(e.msg, "built without the CUDA backend"), "%s", e.msg);
    CHECK(model_ops_default() == model_ops_cpu());
    d.kind = MODEL_DEVICE_AUTO;
    CHECK(model_device_use(&d, desc, sizeof desc, &e) == 0);
    CHECK_MSG(strncmp(desc, "cpu (auto: ", 11) == 0, "%s", desc);
    CHECK(model_ops_default() == model_ops_cpu());
}

// The op tests iterate model_ops_tables: the CPU table first, the CUDA one
// exactly when a usable GPU is here.
TEST(op_tables_list_cuda_only_with_a_gpu) {
    const ModelOps *t[4];
    int n = model_ops_tables(t, 4);
    CHECK(n >= 1 && t[0] == model_ops_cpu());
    int want = 1 + (model_device_cuda_built() && model_device_cuda_usable(0));
    CHECK_EQ(n, want);
    if (n == 2) CHECK_STR_EQ(t[1]->name, "cuda");
    CHECK(model_ops_cpu()->error == NULL);  // the CPU cannot fail
}

// A backend failure (here simulated: the CPU table with an error that
// switches on) reaches the caller of model_forward and model_decode as an
// Err carrying the backend's message.
static const char *g_fail;
static const char *failing_error(OpCtx *cx) { return g_fail; }

TEST(backend_errors_are_returned_up) {
    ModelOps broken = *model_ops_cpu();
    broken.error = failing_error;
    ModelConfig c;
    Err e = {{0}};
    REQUIRE(model_config_preset("test", &c, &e) == 0);
    Model *m = model_new_on(&c, &broken, MODEL_GRADS, &e);
    REQUIRE(m);
    model_init_random(m, 1);
    int32_t ids[8] = {1, 2, 3, 4, 5, 6, 7, 8}, tg[8] = {2, 3, 4, 5, 6, 7, 8, 9};
    float logp[8];
    g_fail = NULL;
    CHECK(model_check(m, &e) == 0);
    CHECK(model_forward(m, ids, tg, 1, 8, logp, NULL, &e) == 0);
    g_fail = "CUDA op attn_forward_kernel on device 0 failed: an illegal memory access was encountered";
    e.msg[0] = 0;
    CHECK(model_forward(m, ids, tg, 1, 8, logp, NULL, &e) == -1);
    CHECK_MSG(strstr(e.msg, "attn_forward_kernel") && strstr(e.msg, "illegal memory access"), "%s", e.msg);
    CHECK(model_check(m, &e) == -1);
    KVCache *kv = model_kv_new(m, 1, 16, &e);
    REQUIRE(kv);
    float *logits = malloc((size_t)c.vocab_size * sizeof(float));
    int slot = 0, nt = 4;
    e.msg[0] = 0;
    CHECK(model_decode(m, kv, 1, &slot, &nt, ids, logits, 0, &e) == -1);
    CHECK_MSG(strstr(e.msg, "attn_forward_kernel"), "%s", e.msg);
    free(logits);
    model_kv_free(kv);
    model_free(m);
}
