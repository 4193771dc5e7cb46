// safetensors.h: read and write the safetensors format (Hugging Face):
// 8-byte little-endian header length N, N bytes of JSON
// {"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__":
// {str: str}}, then the raw little-endian tensor bytes.
//
//   StFile *f = st_open("ckpt/model.safetensors", &err);
//   st_read_f32(f, "model.norm.weight", buf, 1, (int64_t[]){512}, &err);
//   st_close(f);
//
// The header parser is strict (dtype known, shape * dtype size == byte range,
// ranges inside the file, no overlaps, no duplicates) and is fuzzed by
// fuzz/fuzz_safetensors.c. Errors name the file and the tensor.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

typedef struct cJSON cJSON;

// Every dtype of the format parses (a file may hold tensors we never read);
// only F32, F16, BF16 and F64 convert to float32.
typedef enum {
    ST_F32, ST_F16, ST_BF16, ST_F64, ST_I32, ST_I64, ST_U8,
    ST_BOOL, ST_I8, ST_I16, ST_U16, ST_U32, ST_U64, ST_F8_E4M3, ST_F8_E5M2,
} StDtype;

#define ST_MAX_DIMS 8

typedef struct StTensor {
    char *name;
    StDtype dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    uint64_t begin, end;   // byte range in the data section
    const uint8_t *data;   // into the file's data section
} StTensor;

typedef struct StFile {
    char *path;
    const uint8_t *buf;    // whole file image
    size_t size;
    int mapped;            // buf is an mmap owned by this StFile
    StTensor *tensors;
    int ntensors;
    cJSON *metadata;       // "__metadata__" object or NULL
} StFile;

// Parse a whole safetensors image buf (n bytes, borrowed: it must outlive f).
// ctx names the source in errors. Returns 0, or -1 with e filled; f is then
// empty. Release with st_clear (st_close for files from st_open).
int st_parse(StFile *f, const uint8_t *buf, size_t n, const char *ctx, Err *e);
void st_clear(StFile *f);
// Read and parse a file. NULL and e filled on failure.
StFile *st_open(const char *path, Err *e);
void st_close(StFile *f);  // NULL is fine
const StTensor *st_find(const StFile *f, const char *name);
// Metadata string value or NULL.
const char *st_meta(const StFile *f, const char *key);
// Copy tensor name into dst as float32, converting from F32/F16/BF16/F64,
// after checking it exists and its shape is exactly shape[0..ndim).
// Errors: "path: tensor 'name': missing" / "...: shape [a,b], expected [c,d]".
int st_read_f32(const StFile *f, const char *name, float *dst, int ndim, const int64_t *shape,
                Err *e);

// 1 when st_convert_f32 reads dtype d (F32, F16, BF16, F64).
int st_dtype_is_float(StDtype d);
// Convert elements [first, first + n) of t to float32 into dst. Returns 0,
// or -1 with e ("path: tensor 'x': dtype F8_E4M3 is not supported ...") when
// t is not a float type; ctx names the file.
int st_convert_f32(const StTensor *t, size_t first, size_t n, float *dst, const char *ctx, Err *e);
// Tell the kernel the mapped bytes of elements [first, first + n) of t are
// no longer needed (madvise DONTNEED on whole pages inside them), so a
// loader's resident memory does not grow by the file's size. A no-op for
// buffers st_parse borrowed.
void st_release(const StFile *f, const StTensor *t, size_t first, size_t n);

// A tensor to write: float32 data of the given shape.
typedef struct StWriteTensor {
    const char *name;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    const float *data;
} StWriteTensor;
// Write an F32 safetensors file atomically. metadata (may be NULL) is an
// object of string values.
int st_write_f32(const char *path, const StWriteTensor *t, int n, const cJSON *metadata, Err *e);
// The same storing dtype ST_F32 or ST_BF16 (rounded to nearest even, as
// torch's .to(torch.bfloat16)). Header keys in the order given.
int st_write(const char *path, const StWriteTensor *t, int n, StDtype dtype, const cJSON *metadata, Err *e);
// float32 -> bfloat16 bits, round to nearest even (NaN stays NaN).
uint16_t st_f32_to_bf16(float x);

const char *st_dtype_name(StDtype d);
size_t st_dtype_size(StDtype d);
