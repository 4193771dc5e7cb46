// safetensors.c: strict reader (mmap) and atomic F32 writer for the
// safetensors format. The header is untrusted input: every offset, shape and
// size is checked before any tensor byte is touched.
#include "model/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/base.h"
#include "common/buf.h"
#include "common/fsutil.h"
#include "common/json.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "safetensors I/O assumes little endian");

#define ST_MAX_HEADER (100u << 20)  // the reference implementation's limit

static const struct {
    const char *name;
    StDtype dtype;
    size_t size;
} DTYPES[] = {
    {"F32", ST_F32, 4}, {"F16", ST_F16, 2}, {"BF16", ST_BF16, 2}, {"F64", ST_F64, 8},
    {"I32", ST_I32, 4}, {"I64", ST_I64, 8}, {"U8", ST_U8, 1},
    {"BOOL", ST_BOOL, 1}, {"I8", ST_I8, 1}, {"I16", ST_I16, 2}, {"U16", ST_U16, 2},
    {"U32", ST_U32, 4}, {"U64", ST_U64, 8}, {"F8_E4M3", ST_F8_E4M3, 1}, {"F8_E5M2", ST_F8_E5M2, 1},
};

int st_dtype_is_float(StDtype d) { return d == ST_F32 || d == ST_F16 || d == ST_BF16 || d == ST_F64; }

const char *st_dtype_name(StDtype d) {
    for (size_t i = 0; i < RS_ARRAY_LEN(DTYPES); i++)
        if (DTYPES[i].dtype == d) return DTYPES[i].name;
    return "?";
}

size_t st_dtype_size(StDtype d) {
    for (size_t i = 0; i < RS_ARRAY_LEN(DTYPES); i++)
        if (DTYPES[i].dtype == d) return DTYPES[i].size;
    return 0;
}

// ---------------------------------------------------------------------------
// Reading

static int parse_u64(const cJSON *v, uint64_t *out) {
    if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 9007199254740992.0 ||
        v->valuedouble != floor(v->valuedouble))
        return -1;
    *out = (uint64_t)v->valuedouble;
    return 0;
}

static int parse_entry(const cJSON *item, StTensor *t, uint64_t data_size, const char *ctx,
                       Err *e) {
    if (!cJSON_IsObject(item)) return err_set(e, "%s: tensor '%s': expected an object", ctx, item->string);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(item, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(item, "shape");
    const cJSON *offs = cJSON_GetObjectItemCaseSensitive(item, "data_offsets");
    if (!cJSON_IsString(dt)) return err_set(e, "%s: tensor '%s': field 'dtype': missing", ctx, t->name);
    size_t i, dsize = 0;
    for (i = 0; i < RS_ARRAY_LEN(DTYPES); i++)
        if (strcmp(DTYPES[i].name, dt->valuestring) == 0) break;
    if (i == RS_ARRAY_LEN(DTYPES))
        return err_set(e, "%s: tensor '%s': field 'dtype': unsupported '%.32s'", ctx, t->name,
                       dt->valuestring);
    t->dtype = DTYPES[i].dtype, dsize = DTYPES[i].size;
    if (!cJSON_IsArray(shape) || cJSON_GetArraySize(shape) > ST_MAX_DIMS)
        return err_set(e, "%s: tensor '%s': field 'shape': expected a list of at most %d sizes",
                       ctx, t->name, ST_MAX_DIMS);
    uint64_t numel = 1;
    const cJSON *d;
    t->ndim = 0;
    cJSON_ArrayForEach(d, shape) {
        uint64_t n;
        if (parse_u64(d, &n) != 0)
            return err_set(e, "%s: tensor '%s': field 'shape': bad size", ctx, t->name);
        t->shape[t->ndim++] = (int64_t)n;
        if (n != 0 && numel > UINT64_MAX / n / 8)
            return err_set(e, "%s: tensor '%s': field 'shape': too large", ctx, t->name);
        numel *= n;
    }
    if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2 ||
        parse_u64(cJSON_GetArrayItem(offs, 0), &t->begin) != 0 ||
        parse_u64(cJSON_GetArrayItem(offs, 1), &t->end) != 0)
        return err_set(e, "%s: tensor '%s': field 'data_offsets': expected [begin, end]", ctx,
                       t->name);
    if (t->begin > t->end || t->end > data_size)
        return err_set(e, "%s: tensor '%s': field 'data_offsets': [%llu, %llu] outside the %llu data bytes (truncated file?)",
                       ctx, t->name, (unsigned long long)t->begin, (unsigned long long)t->end,
                       (unsigned long long)data_size);
    if (t->end - t->begin != numel * dsize)
        return err_set(e, "%s: tensor '%s': data_offsets span %llu bytes, shape and dtype need %llu",
                       ctx, t->name, (unsigned long long)(t->end - t->begin),
                       (unsigned long long)(numel * dsize));
    return 0;
}

static int cmp_begin(const void *a, const void *b) {
    const StTensor *x = a, *y = b;
    return x->begin < y->begin ? -1 : x->begin > y->begin ? 1 : (x->end > y->end) - (x->end < y->end);
}

static int check_overlaps(StFile *f, const char *ctx, Err *e) {
    if (f->ntensors < 2) return 0;
    StTensor *sorted = xmalloc((size_t)f->ntensors * sizeof *sorted);
    memcpy(sorted, f->tensors, (size_t)f->ntensors * sizeof *sorted);
    qsort(sorted, (size_t)f->ntensors, sizeof *sorted, cmp_begin);
    int rc = 0;
    for (int i = 1; i < f->ntensors && rc == 0; i++)
        if (sorted[i].begin < sorted[i - 1].end && sorted[i].end > sorted[i].begin)
            rc = err_set(e, "%s: tensors '%s' and '%s' overlap", ctx, sorted[i - 1].name,
                         sorted[i].name);
    free(sorted);
    return rc;
}

static int parse_metadata(StFile *f, const cJSON *item, const char *ctx, Err *e) {
    if (!cJSON_IsObject(item) || f->metadata)
        return err_set(e, "%s: field '__metadata__': expected one object", ctx);
    const cJSON *v;
    cJSON_ArrayForEach(v, item) {
        if (!cJSON_IsString(v))
            return err_set(e, "%s: field '__metadata__.%s': expected a string", ctx, v->string);
    }
    f->metadata = cJSON_Duplicate(item, 1);
    return 0;
}

static int parse_header(StFile *f, const cJSON *h, uint64_t data_size, const uint8_t *data,
                        const char *ctx, Err *e) {
    if (!cJSON_IsObject(h)) return err_set(e, "%s: header is not a JSON object", ctx);
    int n = cJSON_GetArraySize(h);
    f->tensors = xcalloc((size_t)n + 1, sizeof *f->tensors);
    const cJSON *item;
    cJSON_ArrayForEach(item, h) {
        if (strcmp(item->string, "__metadata__") == 0) {
            if (parse_metadata(f, item, ctx, e) != 0) return -1;
            continue;
        }
        if (st_find(f, item->string))
            return err_set(e, "%s: tensor '%s': duplicate name", ctx, item->string);
        StTensor *t = &f->tensors[f->ntensors++];
        t->name = xstrdup(item->string);
        if (parse_entry(item, t, data_size, ctx, e) != 0) return -1;
        t->data = data + t->begin;
    }
    return check_overlaps(f, ctx, e);
}

static int parse_image(StFile *f, const uint8_t *buf, size_t n, const char *ctx, Err *e) {
    if (n < 8) return err_set(e, "%s: truncated: %zu bytes, no safetensors header", ctx, n);
    uint64_t hlen;
    memcpy(&hlen, buf, 8);
    if (hlen > ST_MAX_HEADER || hlen > n - 8)
        return err_set(e, "%s: header length %llu exceeds the file (%zu bytes): truncated or not safetensors",
                       ctx, (unsigned long long)hlen, n);
    Buf hctx = {0};
    buf_printf(&hctx, "%s: header", ctx);
    cJSON *h = json_parse((const char *)buf + 8, (size_t)hlen, hctx.data, 1, e);
    buf_free(&hctx);
    if (!h) return -1;
    int rc = parse_header(f, h, n - 8 - hlen, buf + 8 + hlen, ctx, e);
    cJSON_Delete(h);
    return rc;
}

int st_parse(StFile *f, const uint8_t *buf, size_t n, const char *ctx, Err *e) {
    memset(f, 0, sizeof *f);
    f->buf = buf, f->size = n;
    f->path = xstrdup(ctx);
    int rc = parse_image(f, buf, n, ctx, e);
    if (rc != 0) st_clear(f);
    return rc;
}

void st_clear(StFile *f) {
    if (!f) return;
    for (int i = 0; i < f->ntensors; i++) free(f->tensors[i].name);
    free(f->tensors);
    cJSON_Delete(f->metadata);
    if (f->mapped && f->size) munmap((void *)f->buf, f->size);
    free(f->path);
    memset(f, 0, sizeof *f);
}

StFile *st_open(const char *path, Err *e) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return err_errno(e, "%s", path), NULL;
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return err_set(e, "%s: not a regular file", path), NULL;
    }
    size_t n = (size_t)sb.st_size;
    const uint8_t *buf = NULL;
    if (n > 0) {
        void *p = mmap(NULL, n, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            close(fd);
            return err_errno(e, "%s: mmap", path), NULL;
        }
        buf = p;
    }
    close(fd);
    StFile *f = xcalloc(1, sizeof *f);
    if (st_parse(f, buf, n, path, e) != 0) {
        if (n) munmap((void *)buf, n);
        free(f);
        return NULL;
    }
    f->mapped = n > 0;
    return f;
}

void st_close(StFile *f) {
    if (!f) return;
    st_clear(f);
    free(f);
}

const StTensor *st_find(const StFile *f, const char *name) {
    for (int i = 0; i < f->ntensors; i++)
        if (strcmp(f->tensors[i].name, name) == 0) return &f->tensors[i];
    return NULL;
}

const char *st_meta(const StFile *f, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(f->metadata, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static float f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
    float v;
    if (exp == 0) v = ldexpf((float)mant, -24);                       // zero, subnormal
    else if (exp == 31) v = mant ? NAN : INFINITY;
    else v = ldexpf((float)(mant | 0x400), (int)exp - 25);
    uint32_t bits;
    memcpy(&bits, &v, 4);
    bits |= sign;
    memcpy(&v, &bits, 4);
    return v;
}

static void shape_str(char *out, size_t n, int ndim, const int64_t *shape) {
    size_t k = (size_t)snprintf(out, n, "[");
    for (int i = 0; i < ndim && k < n; i++)
        k += (size_t)snprintf(out + k, n - k, "%s%lld", i ? "," : "", (long long)shape[i]);
    if (k < n) snprintf(out + k, n - k, "]");
}

int st_convert_f32(const StTensor *t, size_t first, size_t n, float *dst, const char *ctx, Err *e) {
    if (!st_dtype_is_float(t->dtype))
        return err_set(e, "%s: tensor '%s': dtype %s is not supported (F32, F16, BF16, F64 load; %s)", ctx, t->name,
                       st_dtype_name(t->dtype),
                       t->dtype == ST_F8_E4M3 || t->dtype == ST_F8_E5M2
                           ? "an FP8-quantised checkpoint: dequantise it to bf16 first"
                           : "not a float type");
    const uint8_t *p = t->data + first * st_dtype_size(t->dtype);
    switch (t->dtype) {
    case ST_F32: memcpy(dst, p, n * 4); break;
    case ST_F64:
        for (size_t i = 0; i < n; i++) {
            double d;
            memcpy(&d, p + 8 * i, 8);
            dst[i] = (float)d;
        }
        break;
    case ST_BF16:
#pragma omp parallel for schedule(static) if (n > (1u << 16))
        for (size_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, p + 2 * i, 2);
            uint32_t bits = (uint32_t)h << 16;
            memcpy(&dst[i], &bits, 4);
        }
        break;
    default:  // ST_F16
#pragma omp parallel for schedule(static) if (n > (1u << 16))
        for (size_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, p + 2 * i, 2);
            dst[i] = f16_to_f32(h);
        }
        break;
    }
    return 0;
}

void st_release(const StFile *f, const StTensor *t, size_t first, size_t n) {
    if (!f->mapped || n == 0) return;
    size_t page = (size_t)sysconf(_SC_PAGESIZE), es = st_dtype_size(t->dtype);
    uintptr_t lo = (uintptr_t)(t->data + first * es), hi = lo + n * es;
    uintptr_t a = (lo + page - 1) / page * page, b = hi / page * page;
    if (b > a) madvise((void *)a, b - a, MADV_DONTNEED);
}

int st_read_f32(const StFile *f, const char *name, float *dst, int ndim, const int64_t *shape,
                Err *e) {
    const char *ctx = f->path;
    const StTensor *t = st_find(f, name);
    if (!t) return err_set(e, "%s: tensor '%s': missing", ctx, name);
    int same = t->ndim == ndim;
    for (int i = 0; same && i < ndim; i++) same = t->shape[i] == shape[i];
    if (!same) {
        char got[128], want[128];
        shape_str(got, sizeof got, t->ndim, t->shape);
        shape_str(want, sizeof want, ndim, shape);
        return err_set(e, "%s: tensor '%s': shape %s, expected %s", ctx, name, got, want);
    }
    size_t n = (size_t)((t->end - t->begin) / st_dtype_size(t->dtype));
    return st_convert_f32(t, 0, n, dst, ctx, e);
}

// ---------------------------------------------------------------------------
// Writing

uint16_t st_f32_to_bf16(float x) {
    uint32_t u;
    memcpy(&u, &x, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);  // quiet NaN
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

int st_write(const char *path, const StWriteTensor *t, int n, StDtype dtype, const cJSON *metadata, Err *e) {
    if (dtype != ST_F32 && dtype != ST_BF16) return err_set(e, "%s: can only write F32 or BF16", path);
    size_t es = st_dtype_size(dtype);
    cJSON *h = cJSON_CreateObject();
    if (metadata) cJSON_AddItemToObject(h, "__metadata__", cJSON_Duplicate(metadata, 1));
    uint64_t off = 0;
    for (int i = 0; i < n; i++) {
        uint64_t numel = 1;
        cJSON *item = cJSON_AddObjectToObject(h, t[i].name);
        cJSON_AddStringToObject(item, "dtype", st_dtype_name(dtype));
        cJSON *shape = cJSON_AddArrayToObject(item, "shape");
        for (int d = 0; d < t[i].ndim; d++) {
            cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)t[i].shape[d]));
            numel *= (uint64_t)t[i].shape[d];
        }
        cJSON *offs = cJSON_AddArrayToObject(item, "data_offsets");
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)off));
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)(off + es * numel)));
        off += es * numel;
    }
    char *json = cJSON_PrintUnformatted(h);
    cJSON_Delete(h);
    size_t jlen = strlen(json), padded = (jlen + 7) / 8 * 8;  // data section 8-byte aligned
    AtomicFile *af = afile_open(path, e);
    if (!af) return free(json), -1;
    FILE *fp = afile_fp(af);
    uint64_t hlen = padded;
    fwrite(&hlen, 8, 1, fp);
    fwrite(json, 1, jlen, fp);
    for (size_t i = jlen; i < padded; i++) fputc(' ', fp);
    free(json);
    uint16_t *buf = dtype == ST_BF16 ? xmalloc(65536 * sizeof(uint16_t)) : NULL;
    for (int i = 0; i < n; i++) {
        size_t numel = 1;
        for (int d = 0; d < t[i].ndim; d++) numel *= (size_t)t[i].shape[d];
        if (dtype == ST_F32) {
            fwrite(t[i].data, 4, numel, fp);
            continue;
        }
        for (size_t k = 0; k < numel; k += 65536) {  // convert in pieces: no second copy of the model
            size_t m = RS_MIN(numel - k, (size_t)65536);
            for (size_t j = 0; j < m; j++) buf[j] = st_f32_to_bf16(t[i].data[k + j]);
            fwrite(buf, 2, m, fp);
        }
    }
    free(buf);
    return afile_commit(af, e);
}

int st_write_f32(const char *path, const StWriteTensor *t, int n, const cJSON *metadata, Err *e) {
    return st_write(path, t, n, ST_F32, metadata, e);
}
