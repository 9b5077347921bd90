/* unweight.h - public C API: lossless BF16 weight compression (docs/FORMAT.md), safetensors
 * containers, decode and the compressed matmul. Nothing here depends on which backends were built. */
#ifndef UNWEIGHT_H
#define UNWEIGHT_H

#include <stddef.h>
#include <stdint.h>

#include "uw_status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define UW_VERSION_MAJOR 0
#define UW_VERSION_MINOR 1
#define UW_VERSION_PATCH 0
#define UW_VERSION_STRING "0.1.0"
#define UW_FORMAT_VERSION 1 /* tensor blob version written by this library */

/* Library version string, e.g. "0.1.0". */
UW_API const char *uw_version(void);

/* ---------------------------------------------------------------- threads ----------------- *
 * What may be shared between threads (tests/test_threads.c checks the matmul part, under
 * ThreadSanitizer in CI):
 * - Functions on separate objects (blobs, files, devices, weights, tuners) may run on any
 *   threads at once; the library has no global mutable state.
 * - uw_last_error() is per thread: the detail of the last failure on the calling thread.
 * - One uw_device and the uw_weights on it may serve several threads at once for
 *   uw_weights_matmul, uw_weights_matmul_async, uw_weights_matmul_choice[_async],
 *   uw_weights_decode, uw_weights_choice, uw_device_name/_backend/_driver/_param_* and
 *   uw_weights_upload* (new weights). Per-call parameters travel with each call, never on the
 *   device; results are the same bits as on one thread. Backends that hold one queue or
 *   kernel-argument set per device (opencl; cuda/hip per context) run such calls one at a time.
 * - Not concurrently with any use of the same object: uw_device_close and uw_device_set_tuner
 *   (the device), uw_weights_free (that weight).
 * - One uw_tuner may be attached to several devices and used by several threads at once
 *   (AUTO look-ups, uw_tuner_choice, uw_tune, uw_tuner_save, uw_tuner_entries,
 *   uw_tuner_warning, which returns a per-thread copy): it has its own lock. Only
 *   uw_tuner_close needs every other use to have ended, and devices it is attached to to have
 *   detached it (uw_device_set_tuner(d, NULL)) or be closed.
 * - One uw_file may be read by several threads at once (info, find, data, decode, verify);
 *   uw_file_close not concurrently with them.
 * - Blobs and host buffers passed in are only read (outputs only written) during the call.
 * - uw_weights_matmul_async: the stream ordering rules of the backend's runtime apply. */

/* ---------------------------------------------------------------- tensor blobs ------------ */

typedef enum uw_codec {
    UW_CODEC_HUFFMAN = 1, /* entropy-coded exponents (smallest) */
    UW_CODEC_PALETTE = 2  /* fixed-rate palette IR: 4-bit index + sign/mantissa byte */
} uw_codec;

typedef enum uw_rare_mode {
    UW_RARE_AUTO = -1,    /* encoder parameter only: choose by size */
    UW_RARE_NONE = 0,     /* every exponent is in the palette */
    UW_RARE_ESCAPE = 1,   /* escape symbol followed by the raw exponent */
    UW_RARE_VERBATIM = 2  /* chunks holding a rare exponent store raw exponents */
} uw_rare_mode;

/* Encoder parameters. Zero in a field means "let the encoder choose". Always start from
 * uw_encode_params_default(). */
typedef struct uw_encode_params {
    uint32_t struct_size; /* sizeof(uw_encode_params), for ABI checks */
    int codec;            /* uw_codec; default UW_CODEC_HUFFMAN */
    int rare_mode;        /* uw_rare_mode; default UW_RARE_AUTO */
    int sym_order;        /* 0 auto, 1 single exponents, 2 pairs (Huffman only) */
    uint32_t chunk_len;   /* verbatim chunk length (power of two 8..4096), 0 auto */
    uint32_t tile_rows, tile_cols, lanes; /* 0 auto; see docs/FORMAT.md for ranges */
    int threads;          /* 0 = all cores */
} uw_encode_params;

/* Fill *p with defaults (struct_size set). */
UW_API void uw_encode_params_default(uw_encode_params *p);

/* Facts about one blob, read from its header without decoding. */
typedef struct uw_blob_info {
    uint64_t rows, cols;        /* the tensor as a 2-D matrix (leading dims flattened) */
    int codec, rare_mode, sym_order, nsym, max_code_len;
    uint32_t chunk_len, tile_rows, tile_cols, lanes;
    uint64_t tiles;
    uint64_t blob_bytes;        /* total, padding included */
    uint64_t tensor_hash;       /* XXH3-64 of the decoded little-endian BF16 bytes */
    uint8_t palette[16];
} uw_blob_info;

/* Encode a rows x cols BF16 matrix (row-major, host memory) into a newly malloc'd blob
 * (*blob, *blob_size; free with uw_free). The blob is padded to a multiple of 64 bytes. */
UW_API uw_status uw_tensor_encode(const uint16_t *bf16, uint64_t rows, uint64_t cols,
                           const uw_encode_params *p, uint8_t **blob, size_t *blob_size);

/* Validate a blob's header and layout against its length (no decode, no checksum). */
UW_API uw_status uw_blob_inspect(const void *blob, size_t blob_size, uw_blob_info *info);

/* Check the blob checksum (covers every byte of the blob). */
UW_API uw_status uw_blob_check(const void *blob, size_t blob_size);

/* Decode a blob into out (rows*cols BF16 values, host memory) with the fast CPU decoder,
 * then check the decoded tensor's checksum. threads 0 = all cores. */
UW_API uw_status uw_blob_decode(const void *blob, size_t blob_size, uint16_t *out, uint64_t out_elems,
                         int threads);

/* Same result through the reference decoder (slow, written to be read against FORMAT.md). */
UW_API uw_status uw_blob_decode_ref(const void *blob, size_t blob_size, uint16_t *out, uint64_t out_elems);

/* Transcode a Huffman blob into a palette-IR blob (newly malloc'd). */
UW_API uw_status uw_blob_to_palette(const void *blob, size_t blob_size, uint8_t **out, size_t *out_size);

/* Release memory returned by the library. */
UW_API void uw_free(void *p);

/* ---------------------------------------------------------------- matmul ------------------ */

/* y[b][o] = sum_k x[b][k] * W[o][k]; x BF16 [batch, in], W BF16 [out, in], y fp32 [batch, out].
 * The CPU kernel of the best ISA level this CPU has (or UW_CPU_ISA=amx|avx512bf16|avx2|scalar),
 * in the order of the AMX tile product: K padded with zeros to a multiple of 32; per block of 32 k
 * two half sums from +0 (k 0-15 and 16-31, pairs in increasing order, the odd element of each pair
 * first: x[1]W[1], x[0]W[0], x[3]W[3], ...), then s = s + (h1 + h2) into one fp32 accumulator per
 * output; amx and avx512bf16 add exact products with denormals flushed (tdpbf16ps, vdpbf16ps),
 * avx2 and scalar round the product, then the sum; NaN outputs are 0x7FC00000
 * (docs/CONFORMANCE.md section 4.1). The result does not depend on the batch size or the thread count.
 * The reference of contract C2. */
UW_API uw_status uw_matmul_bf16(const uint16_t *x, const uint16_t *w, float *y, uint64_t batch,
                         uint64_t out, uint64_t in, int threads);

/* The same kernel fed from a compressed blob (W = the blob's [rows=out, cols=in] matrix).
 * Bit-identical to uw_matmul_bf16 on the decoded weights. */
UW_API uw_status uw_matmul_blob(const void *blob, size_t blob_size, const uint16_t *x, float *y,
                         uint64_t batch, int threads);

/* ---------------------------------------------------------------- files ------------------- */

typedef struct uw_file uw_file;

/* One tensor of an opened file, as the original (uncompressed) file had it. */
typedef struct uw_tensor_info {
    const char *name;        /* valid while the file is open */
    const char *dtype;       /* original safetensors dtype, e.g. "BF16" */
    int ndim;
    uint64_t shape[8];
    uint64_t orig_bytes;     /* bytes in the original file */
    uint64_t stored_bytes;   /* bytes in this file */
    int compressed;          /* 1 if stored as an unweight blob */
    int codec;               /* uw_codec when compressed, else 0 */
    double exp_entropy;      /* Shannon entropy of the exponent byte, bits (compressed only) */
    double verbatim_frac;    /* fraction of elements in verbatim chunks or escaped */
} uw_tensor_info;

/* Open a safetensors file (plain or compressed) by mmap. The headers are validated, and so are
 * each blob's header and index (no payload is read); checksums are checked when decoded. */
UW_API uw_status uw_file_open(const char *path, uw_file **out);
UW_API void uw_file_close(uw_file *f);

/* 1 if the file was written by `uw_compress_file`. */
UW_API int uw_file_is_compressed(const uw_file *f);

UW_API size_t uw_file_tensor_count(const uw_file *f);
UW_API uw_status uw_file_tensor_info(const uw_file *f, size_t i, uw_tensor_info *info);
UW_API uw_status uw_file_find(const uw_file *f, const char *name, size_t *index);

/* Pointer to the stored bytes of tensor i inside the mapping (the blob if compressed). */
UW_API uw_status uw_file_tensor_data(const uw_file *f, size_t i, const void **data, size_t *size);

/* Decode tensor i to its original bytes in dst (dst_size must equal orig_bytes). Checks the
 * checksums. Works for passthrough tensors too (a copy). */
UW_API uw_status uw_file_decode(const uw_file *f, size_t i, void *dst, size_t dst_size, int threads);

/* Check tensor i as uw_file_decode does (structure and checksums; a passthrough tensor's checksum
 * when the file has one) without an output buffer: decodes in bands of about 32 MiB. */
UW_API uw_status uw_file_verify_tensor(const uw_file *f, size_t i, int threads);

typedef enum uw_select {
    UW_SELECT_ALL = 0, /* every BF16 tensor with 2+ dims and >= 4096 elements */
    UW_SELECT_MLP = 1  /* only names of MLP projections (gate/up/down_proj, fc1/fc2, w1/w2/w3, experts) */
} uw_select;

/* Progress callback: done/total units of work (bytes of input); return nonzero to cancel. */
typedef int (*uw_progress_fn)(void *user, uint64_t done, uint64_t total);

typedef struct uw_compress_options {
    uint32_t struct_size;
    int select;                 /* uw_select */
    uw_encode_params params;
    uw_progress_fn progress;    /* may be NULL */
    void *progress_user;
} uw_compress_options;

UW_API void uw_compress_options_default(uw_compress_options *o);

/* 1 if a tensor with this name/dtype/shape would be compressed under the selection. */
UW_API int uw_select_tensor(int select, const char *name, const char *dtype, int ndim,
                     const uint64_t *shape);

/* Compress a safetensors file. The output is written to a temporary file and renamed into
 * place; on any error no output file is left behind. in and out must differ. */
UW_API uw_status uw_compress_file(const char *in, const char *out, const uw_compress_options *o);

/* Reproduce the original file byte for byte from a compressed one (atomic write). */
UW_API uw_status uw_decompress_file(const char *in, const char *out, int threads,
                             uw_progress_fn progress, void *user);

/* Decode and check every compressed tensor, and every passthrough tensor's checksum; UW_OK
 * only if all pass (UW_ERR_INVALID_ARG for a file that is not unweight-compressed). *bad (may
 * be NULL) receives the number of failing tensors. */
UW_API uw_status uw_verify_file(const char *path, int threads, size_t *bad);

/* 1 if a and b name the same file: equal strings, or the same device and inode (a second path,
 * a hard link). 0 when either does not exist. What the file and model calls use to refuse an
 * output that would overwrite its input. */
UW_API int uw_same_file(const char *a, const char *b);

/* The rows x cols matrix a tensor of shape[ndim] is coded as (docs/FORMAT.md section 9.2,
 * "Matrix view"): trailing dimensions fold into the columns until there are 64 of them, so a
 * 1x1 convolution [out, in, 1, 1] is out x in; ndim 0 or 1 is one row. What uw_compress_file
 * encodes a tensor as; a decoder must not rely on it beyond rows * cols = elements. */
UW_API void uw_matrix_view(int ndim, const uint64_t *shape, uint64_t *rows, uint64_t *cols);

/* ---------------------------------------------------------------- models ------------------ */

/* A model is one .safetensors file or a sharded model's index, a path ending in
 * ".safetensors.index.json" whose "weight_map" object maps tensor names to shard files in the
 * index's own directory. The model calls take either: for an index they process every shard it
 * names (each once, in order of first mention) and copy the index byte for byte; OUT must then
 * end in ".index.json" and the shards are written under their own names in OUT's directory. */

/* 1 if path names a sharded model's index (by its name; nothing is read). */
UW_API int uw_model_is_index(const char *path);

/* Where a model call stands, passed to the progress callback after each unit of work. Bytes
 * are those of the original tensor data (what compress reads, decompress writes, verify decodes). */
typedef struct uw_model_progress {
    uint64_t done, total;            /* over the whole model */
    uint64_t file_done, file_total;  /* within the current file */
    size_t file, files;              /* the current file (0-based) and how many (1 for a single file) */
    const char *name;                /* its name: as the index lists it, else the path's last component */
} uw_model_progress;
/* Return nonzero to cancel: the call stops with UW_ERR_IO ("cancelled") and leaves no output. */
typedef int (*uw_model_progress_fn)(void *user, const uw_model_progress *p);

/* Called by uw_verify_model for each tensor that fails, with the file (shard) path, the tensor's
 * name, its status and uw_last_error()'s detail, which names the file and the tensor. */
typedef void (*uw_verify_fn)(void *user, const char *path, const char *tensor, uw_status s, const char *message);

typedef struct uw_model_options {
    uint32_t struct_size;            /* sizeof(uw_model_options), for ABI checks */
    int threads;                     /* 0 = all cores (compress: replaces params.threads) */
    int select;                      /* compress: uw_select, default UW_SELECT_ALL */
    uw_encode_params params;         /* compress: encoder parameters */
    uw_model_progress_fn progress;   /* may be NULL */
    uw_verify_fn on_failure;         /* verify: may be NULL */
    void *user;                      /* passed to progress and on_failure */
} uw_model_options;

/* Fill *o with defaults (struct_size set; as uw_compress_options_default for compress). */
UW_API void uw_model_options_default(uw_model_options *o);

/* Compress a model (o may be NULL: defaults). Every output file is written to a temporary and
 * all are renamed into place only once every shard succeeded, the index last: on any error,
 * cancel included, no output of this call is left, and files already at the output paths keep
 * their content (short of a failure while the finished shards are being renamed). Every shard
 * is opened and checked before the first is written. On failure uw_last_error() names the file
 * concerned (the index, or the shard). UW_ERR_INVALID_ARG if an output would overwrite its
 * input, for an index whose OUT does not end in ".index.json", or for an input already
 * compressed. */
UW_API uw_status uw_compress_model(const char *in, const char *out, const uw_model_options *o);

/* Reproduce the original model byte for byte (every shard and the index) from a compressed one,
 * with the same guarantees as uw_compress_model. UW_ERR_INVALID_ARG for an input that is not
 * unweight-compressed. */
UW_API uw_status uw_decompress_model(const char *in, const char *out, const uw_model_options *o);

/* What uw_verify_model checked. */
typedef struct uw_verify_result {
    size_t files;     /* files opened and checked */
    size_t tensors;   /* tensors checked (every tensor: blobs decoded, passthrough checksums) */
    size_t failed;    /* tensors that failed, each reported to on_failure */
    int complete;     /* 1: every file and tensor was checked, so a failure returned is a tensor's;
                       * 0: the call stopped at the returned error (a file that cannot be opened or
                       * is not compressed, memory, cancel) and uw_last_error() names the file */
} uw_verify_result;

/* Decode and check every tensor of every file of a compressed model, going on past failing
 * tensors. Returns UW_OK only if all pass; else the first failing tensor's status, or the error
 * that stopped the call (result->complete says which). result may be NULL. A file that is not
 * unweight-compressed stops the call with UW_ERR_INVALID_ARG. */
UW_API uw_status uw_verify_model(const char *path, const uw_model_options *o, uw_verify_result *result);

/* ---------------------------------------------------------------- devices ----------------- */

/* A backend instance on one device, and weights resident on it. The same compressed blob runs
 * on every backend; results of every pipeline are bit-identical to the plain BF16 pipeline of
 * the same backend (contract C2). */
typedef struct uw_device uw_device;
typedef struct uw_weights uw_weights;

/* What a weight keeps resident on the device (bit flags). */
enum {
    UW_RESIDENT_HUFFMAN = 1, /* the entropy-coded blob (smallest) */
    UW_RESIDENT_PALETTE = 2, /* the palette IR (12 bits/weight, transcoded on upload) */
    UW_RESIDENT_BF16 = 4     /* plain BF16 (decoded on upload): the baseline */
};

/* Execution pipelines (1-5; docs/TUNING.md) plus the plain BF16 baseline. */
typedef enum uw_pipeline {
    UW_PIPELINE_AUTO = 0,
    UW_PIPELINE_DECODE_GEMM = 1,       /* decode to a BF16 scratch buffer, then the GEMM */
    UW_PIPELINE_EXP_PREDECODE = 2,     /* exponent plane in scratch, matmul rebuilds tiles */
    UW_PIPELINE_PALETTE_TRANSCODE = 3, /* Huffman -> palette IR in scratch, then as 4 */
    UW_PIPELINE_PALETTE_DIRECT = 4,    /* resident palette IR, tiles rebuilt on-chip */
    UW_PIPELINE_FUSED_HUFFMAN = 5,     /* entropy-coded tiles decoded inside the matmul */
    UW_PIPELINE_PLAIN_BF16 = 6,        /* resident BF16, same tiling and accumulation order */
    UW_PIPELINE_BLAS_BF16 = 7          /* the vendor BLAS (cuBLAS, ...) on resident BF16: the baseline,
                                        * and decode+gemm's C2 reference where that runs the vendor BLAS */
} uw_pipeline;

UW_API const char *uw_pipeline_name(uw_pipeline p);

/* What pipeline p needs for a rows x cols weight: the resident form (a UW_RESIDENT_* flag) and
 * the scratch bytes one call allocates on the device. Every pipeline takes any batch size >= 1;
 * a backend that does not implement one returns UW_ERR_UNSUPPORTED from uw_weights_matmul.
 * UW_ERR_INVALID_ARG for UW_PIPELINE_AUTO or an unknown value. */
UW_API uw_status uw_pipeline_needs(uw_pipeline p, uint64_t rows, uint64_t cols, unsigned *resident, uint64_t *scratch_bytes);

/* Open `backend` ("cpu", "opencl", ...). `device` selects a device in a backend-specific way
 * (NULL = default; the OpenCL backend reads "P:D" platform/device indices or a name substring,
 * or the UW_OPENCL_DEVICE environment variable). UW_ERR_NOT_FOUND if not built,
 * UW_ERR_NO_DEVICE if no usable device. */
UW_API uw_status uw_device_open(const char *backend, const char *device, uw_device **out);
UW_API void uw_device_close(uw_device *d);
/* Backend and device description, e.g. "opencl: pthread-cpu (Portable Computing Language)". */
UW_API const char *uw_device_name(const uw_device *d);
/* The backend's name ("cpu", "opencl", ...) and its driver/runtime version ("-" if it has none):
 * with uw_device_name, the device part of a tuning-cache key (docs/TUNING.md). */
UW_API const char *uw_device_backend(const uw_device *d);
UW_API const char *uw_device_driver(const uw_device *d);

/* Per-call parameters: knobs of the backend's matmul that never change its output bits (the cpu
 * backend's `threads`, the opencl one's `wg` and `acc`; docs/TUNING.md), each with its candidate
 * values, the first being the default. A call gets them through a uw_choice
 * (uw_weights_matmul_choice), never by changing the device. */
#define UW_PARAM_MAX_VALUES 8
typedef struct uw_param_info {
    const char *name;              /* valid while the device is open */
    int nvalues;
    int values[UW_PARAM_MAX_VALUES]; /* values[0] is the default */
} uw_param_info;
/* Number of per-call parameters of this device (0 = none). */
UW_API int uw_device_param_count(const uw_device *d);
/* Parameter i (0 <= i < uw_device_param_count). */
UW_API uw_status uw_device_param_info(const uw_device *d, int i, uw_param_info *info);

/* Upload a blob (host memory) once; `resident` is a mask of UW_RESIDENT_* (0 = Huffman). */
UW_API uw_status uw_weights_upload(uw_device *d, const void *blob, size_t blob_size, unsigned resident,
                            uw_weights **out);
UW_API void uw_weights_free(uw_weights *w);
/* The device w lives on, and its matrix shape (rows = out, cols = in; either pointer may be NULL). */
UW_API uw_device *uw_weights_device(const uw_weights *w);
UW_API uw_status uw_weights_shape(const uw_weights *w, uint64_t *rows, uint64_t *cols);
/* Decode resident weights on the device and copy the BF16 tensor to host memory. */
UW_API uw_status uw_weights_decode(uw_weights *w, uint16_t *host_out, uint64_t elems);
/* y = x W^T on the device, x host BF16 [batch, in], y host fp32 [batch, out]. Blocks until done.
 * UW_ERR_UNSUPPORTED if the pipeline is not offered or its resident form is missing. */
UW_API uw_status uw_weights_matmul(uw_weights *w, uw_pipeline p, const uint16_t *x, float *y, uint64_t batch);
/* The same product with x and y in DEVICE memory of w's device (x BF16 [batch, in], y fp32
 * [batch, out]; for the cuda backend, pointers from cudaMalloc or any allocator of that device),
 * enqueued on the caller's `stream` (a cudaStream_t for cuda; NULL = the default stream). Returns
 * once enqueued, synchronising nothing: y is valid when the stream reaches this point, and x, y
 * and w must stay alive until then. Scratch comes from a stream-ordered pool. Errors found while
 * the kernels run are not reported here (uploads validate the blob fully beforehand).
 * UW_ERR_UNSUPPORTED on backends without device pointers (cpu, opencl). */
UW_API uw_status uw_weights_matmul_async(uw_weights *w, uw_pipeline p, const void *x_dev, void *y_dev, uint64_t batch,
                                  void *stream);

/* Make plain BF16 weights (host, row-major rows x cols) resident: the uncompressed baseline
 * for the plain-bf16 pipeline. Backends without a raw upload get them through a lossless blob
 * decoded on the device, which is bit for bit the same (contract C1). */
UW_API uw_status uw_weights_upload_bf16(uw_device *d, const uint16_t *w, uint64_t rows, uint64_t cols, uw_weights **out);

/* Upload choosing the resident forms under a memory budget (bytes of device memory for this
 * weight): always the Huffman blob; the palette IR as well when both fit. */
UW_API uw_status uw_weights_upload_budget(uw_device *d, const void *blob, size_t blob_size, uint64_t budget_bytes,
                                   uw_weights **out);

/* ---------------------------------------------------------------- autotuner --------------- */

/* The tuner measures, per (backend, device, driver, weight shape, batch bucket), every offered
 * pipeline and the backend's per-call parameters by coordinate descent, and keeps the fastest.
 * Its results live in a tuning cache file (docs/TUNING.md). With a tuner attached to a device,
 * UW_PIPELINE_AUTO runs the recorded choice; untuned shapes get the default: fused-huffman if the
 * Huffman form is resident, else palette-direct, else plain-bf16 (on the cpu backend, with the
 * Huffman and palette forms both resident: palette-direct, the faster there; docs/TUNING.md). */
typedef struct uw_tuner uw_tuner;

/* Open a tuner backed by the cache file `path` (NULL: memory only). An existing file is loaded;
 * a corrupt file or stale entries are ignored, never trusted, and reported by uw_tuner_warning. */
UW_API uw_status uw_tuner_open(const char *path, uw_tuner **out);
UW_API void uw_tuner_close(uw_tuner *t);
/* Warnings from loading ("" if none). */
UW_API const char *uw_tuner_warning(const uw_tuner *t);
/* Number of entries (all devices). */
UW_API size_t uw_tuner_entries(const uw_tuner *t);
/* Write the cache file atomically (temporary file + rename). */
UW_API uw_status uw_tuner_save(uw_tuner *t);
/* Let UW_PIPELINE_AUTO on this device use the tuner (NULL detaches). */
UW_API void uw_device_set_tuner(uw_device *d, uw_tuner *t);

/* Batch-size bucket of `batch` (1, 2-4, 5-16, 17-64, 65-256, 257+ are 0..5); *representative
 * (may be NULL) receives the batch size the tuner measures the bucket with. */
UW_API int uw_batch_bucket(uint64_t batch, uint64_t *representative);

/* A pipeline with values for the backend's per-call parameters: what AUTO runs for a weight and
 * batch (uw_weights_choice), or what a caller asks for (uw_weights_matmul_choice). */
#define UW_CHOICE_MAX_PARAMS 4
typedef struct uw_choice {
    uw_pipeline pipeline;
    int tuned;                 /* 1: from the cache; 0: the documented default */
    int nparams;               /* parameters named below (others: their default) */
    char param_names[UW_CHOICE_MAX_PARAMS][32];
    int param_values[UW_CHOICE_MAX_PARAMS];
    double time_us;            /* measured time of the choice (tuned only) */
} uw_choice;
/* What AUTO runs for this weight and batch on its device (with the device's tuner, if any). */
UW_API uw_status uw_weights_choice(uw_weights *w, uint64_t batch, uw_choice *c);
/* The same with tuner t (NULL: no tuner, i.e. the default), whatever the device has attached.
 * Entries whose pipeline or parameters the device cannot run now are ignored with a warning. */
UW_API uw_status uw_tuner_choice(uw_tuner *t, uw_weights *w, uint64_t batch, uw_choice *c);

/* y = x W^T running exactly c: c->pipeline (not AUTO) with c's parameters by name, those not
 * named at their default (nparams 0: all at their default); c->tuned and c->time_us are ignored.
 * A name or value the device does not offer (uw_device_param_info) is UW_ERR_INVALID_ARG; a
 * pipeline the backend does not offer or whose resident form is missing, UW_ERR_UNSUPPORTED.
 * E.g. {.pipeline = UW_PIPELINE_FUSED_HUFFMAN, .nparams = 1, .param_names = {"threads"},
 * .param_values = {1}} on cpu. The output bits never depend on the parameters. */
UW_API uw_status uw_weights_matmul_choice(uw_weights *w, const uw_choice *c, const uint16_t *x, float *y, uint64_t batch);
/* The same with x and y in device memory, as uw_weights_matmul_async. */
UW_API uw_status uw_weights_matmul_choice_async(uw_weights *w, const uw_choice *c, const void *x_dev, void *y_dev,
                                         uint64_t batch, void *stream);

/* Tune this weight's shape for the bucket of `batch` on its device and record the result in the
 * tuner (skipped if already recorded, unless force). Needs the resident forms the pipelines use. */
UW_API uw_status uw_tune(uw_tuner *t, uw_weights *w, uint64_t batch, int force);

/* ---------------------------------------------------------------- backends ---------------- */

/* Backends compiled into this build ("cpu" always first). */
UW_API size_t uw_backend_count(void);
UW_API const char *uw_backend_name(size_t i);
/* UW_OK if the backend is compiled in and finds a usable device now; else UW_ERR_NOT_FOUND
 * (not built) or UW_ERR_NO_DEVICE. */
UW_API uw_status uw_backend_probe(const char *name);

#ifdef __cplusplus
}
#endif
#endif
