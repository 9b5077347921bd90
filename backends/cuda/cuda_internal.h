/* cuda_internal.h - state shared by the CUDA backend's host files: the device context, resident
 * weights, and what each file offers the others. Host code is split by job:
 *   cuda_device.cu     probe, device spec, context (stream, scratch pool, cuBLAS, TMA entry point)
 *   cuda_buffers.cu    device buffers, stream-ordered scratch, the error word
 *   cuda_weights.cu    upload: re-tiling, decode table, resident forms; kernel parameters
 *   cuda_decode.cu     decode kernels (Huffman -> BF16 / exponent plane, palette IR -> BF16)
 *   cuda_transcode.cu  Huffman -> palette IR on the device (pipeline 3)
 *   cuda_matmul.cu     the generic tensor-core matmul, split-k reduction, the pipelines
 *   cuda_blas.cu       cuBLAS, loaded on first use (dlopen)
 *   uw_hopper.cu       the sm_90a matmul (TMA ring, warp-specialised decode, wgmma)
 *   cuda_backend.cu    the uw_backend table
 * The HIP backend compiles the same files as HIP (backends/hip; all but cuda_blas.cu and
 * uw_hopper.cu), so everything here is written against uw_gpu.h and lives in UW_GPU_NS. */
#ifndef UW_CUDA_INTERNAL_H
#define UW_CUDA_INTERNAL_H

#include <pthread.h>

/* uw_gpu.h first: the shared decode steps need its __host__ __device__ (HIP has no implicit
 * runtime header) */
#include "uw_gpu.h"
extern "C" {
#include "../../codecs/decode_errors.h"
#include "../../codecs/decode_table.h"
#include "../../codecs/encode.h"
#include "../../core/backend.h"
}
#include "uw_kern_common.cuh"

UW_GPU_NS_BEGIN

/* Where a matmul's W tiles come from (one kernel template per family, this is its policy). */
enum uw_src { UW_SRC_BF16 = 0, UW_SRC_HUFF = 1, UW_SRC_PAL = 2, UW_SRC_EXP = 3, UW_SRC_COUNT = 4 };

/* Matmul kernel families. The family (and its batch tile and split) depends on the device, the
 * weight's shape, the batch size and x's alignment, never on the pipeline: that is contract C2. */
enum uw_family { UW_FAM_GENERIC = 1, UW_FAM_HOPPER = 2, UW_FAM_GEMV = 3 };

/* Tunables: from the device spec string or UW_CUDA_DEVICE (docs/backends.md). */
typedef struct cu_params {
    int device;                   /* CUDA device index */
    uint32_t tile_rows, tile_cols, lanes; /* resident geometry: R in {16,32,64}, C in {64,128,256} */
    int kernel;                   /* 0 auto, UW_FAM_GENERIC, UW_FAM_HOPPER (fails where unavailable), UW_FAM_GEMV (batch <= 16 where the weight allows it) */
    int splitk;                   /* 0 auto, else the number of k-splits */
} cu_params;

typedef struct cu_ctx {
    cu_params par;
    int device;
    uw_gpu_props props;
    int hopper;                   /* the sm_90a kernels can run here */
    size_t smem_optin;            /* dynamic shared memory per block after the opt-in */
    uw_gpu_stream stream;         /* the context's own stream (host-pointer API) */
    uw_gpu_mempool pool;          /* stream-ordered scratch */
    struct cu_blas *blas;         /* cuda_blas.cu, NULL until first used */
    uint32_t *err;                /* device error word (UW_DERR_* bits) */
    void *tmap_encode;            /* cuTensorMapEncodeTiled, through the runtime's entry point */
    pthread_mutex_t lock;         /* one operation per context at a time (cuBLAS handle, scratch) */
    int debug;                    /* UW_CUDA_DEBUG set: notes on stderr */
    /* the GEMV family's workspace (uw_gemv_parts.cuh), made at its first launch; launches on another
     * stream than the last wait for the last one (an event), so they never share it at once */
    uint8_t *gemv_ws;
    uw_gpu_event gemv_done;
    uw_gpu_stream gemv_stream;
    char name[256], driver[96];
} cu_ctx;

/* One weight resident on the device. */
typedef struct cu_weights {
    uint64_t rows, cols, n;
    uint32_t R, C, lanes;
    uint64_t tensor_hash;
    /* Huffman form: the blob (GPU geometry) + 64 zero bytes, and its decode table */
    uint8_t *huff;
    uw_blob hb;                   /* parsed header and offsets (hb.base not kept) */
    uint32_t *table;
    uint64_t nexc;                /* elements whose exponent is outside hb's palette (transcode) */
    /* palette IR form (GPU geometry) */
    uint8_t *pal;
    uw_blob pb;
    /* plain BF16 */
    uint16_t *w16;
    uw_gpu_tmap tmap_w;           /* over w16 for the Hopper plain twin (valid if has_tmap_w) */
    int has_tmap_w;
    /* the GEMV family (batch <= 16, uw_gemv.cu): usable for this weight (64x256 tiles of 64 lanes,
     * cols % 32 == 0, the Huffman form order 2 without verbatim chunks), the patch lists of the
     * Huffman and palette forms (index per step, then entries; one device buffer each) and the
     * Huffman lanes' bits where the device's grid units start (cuda_gemv_upload.cu) */
    int gemv, gemv_streams;       /* gemv_streams: the Huffman form is the family's and every tile's stream fits its buffer */
    int gemv_patch_huff, gemv_patch_pal; /* no step has more rare exponents than the kernel takes */
    uint32_t *patch_huff, *patch_pal;
    uint64_t patch_huff_idx_n, patch_pal_idx_n; /* entries of the index (the entries follow it) */
    uint32_t *gemv_starts, *gemv_tiles;
    char note[192];
} cu_weights;

/* ---- cuda_device.cu */
uw_status uw_cu_fail(uw_gpu_error e, const char *what);
#define CU_TRY(call, what)                                                                     \
    do {                                                                                       \
        uw_gpu_error cu_e_ = (call);                                                           \
        if (cu_e_ != UW_GPU_SUCCESS) return uw_cu_fail(cu_e_, (what));                         \
    } while (0)
uw_status uw_cu_probe(void);
uw_status uw_cu_parse_spec(const char *spec, cu_params *p);
uw_status uw_cu_open(const char *spec, cu_ctx **out);
void uw_cu_close(cu_ctx *c);
void uw_cu_note(const cu_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* 2-D BF16 tensor map (dim0 innermost), 128-byte swizzle, zero fill out of bounds; m must be
 * aligned as uw_gpu_tmap is (UW_ERR_BACKEND otherwise, before the encoder is called) */
uw_status uw_cu_tmap_2d(const cu_ctx *c, uw_gpu_tmap *m, const void *base, uint64_t dim0, uint64_t dim1, uint64_t stride1_bytes,
                        uint32_t box0, uint32_t box1);

/* ---- cuda_buffers.cu */
uw_status uw_cu_alloc(void **p, size_t bytes, const char *what);
void uw_cu_free(void *p);
/* stream-ordered scratch from the context's pool (freed with uw_cu_scratch_free on a stream) */
uw_status uw_cu_scratch(cu_ctx *c, uw_gpu_stream s, size_t bytes, void **p);
void uw_cu_scratch_free(uw_gpu_stream s, void *p);
/* clear the error word before an operation; after it (synchronised), turn set bits into an error */
uw_status uw_cu_err_reset(cu_ctx *c, uw_gpu_stream s);
uw_status uw_cu_err_check(cu_ctx *c, uw_gpu_stream s, const char *what);
/* the last launch's error, as a status */
uw_status uw_cu_launch_check(const char *what);

/* ---- cuda_weights.cu */
/* a zeroed cu_weights in storage aligned for its tensor map (calloc's 16 bytes are not enough:
 * cuTensorMapEncodeTiled needs the map 64-byte aligned, CUtensorMap is declared 128); free() */
cu_weights *uw_cu_weights_new(void);
uw_status uw_cu_upload(cu_ctx *c, const uw_blob *b, unsigned resident, cu_weights **out);
void uw_cu_weights_free(cu_weights *w);
/* kernel parameters of a resident form */
uw_kparams uw_cu_kp_base(const cu_ctx *c, const cu_weights *w);
void uw_cu_kp_huff(const cu_weights *w, uw_kparams *k);
/* the palette IR: resident (nib/excidx/exc inside w->pal) or transcoded scratch */
typedef struct cu_palette {
    const uint8_t *nib, *plane;
    const uint64_t *excidx;
    const uint32_t *exc;
    uint8_t palette[16];
    uint32_t nregular;
} cu_palette;
void uw_cu_kp_palette(const cu_weights *w, const cu_palette *pal, uw_kparams *k);
cu_palette uw_cu_resident_palette(const cu_weights *w);
/* ---- cuda_gemv_upload.cu: what uploads make for the GEMV family */
int uw_cu_gemv_geometry(const cu_weights *w);
int uw_cu_gemv_form(const uw_blob *b);
uw_status uw_cu_gemv_encode(const uw_blob *b, const uint16_t *host16, uint8_t **blob, size_t *size);
int uw_cu_gemv_streams_fit(const uw_blob *hb, const uint8_t *bytes);
uw_status uw_cu_gemv_patch(cu_ctx *c, const cu_weights *w, const char *form, const uint8_t *palette, uint32_t nregular,
                           const uint16_t *host16, uint32_t **dev, uint64_t *idx_n, int *fits);
uw_status uw_cu_gemv_starts(cu_ctx *c, cu_weights *w, const uint8_t *bytes, const uint32_t *dtab);
/* the GEMV family's patch list of a form (uw_gemv.cuh) into the kernel parameters */
void uw_cu_kp_patch(const uint32_t *patch, uint64_t idx_n, uw_kparams *k);

/* ---- cuda_decode.cu */
/* Huffman -> BF16 (out) or exponent bytes (exps), tile-parallel, on stream s */
uw_status uw_cu_decode_huff(cu_ctx *c, const cu_weights *w, uint16_t *out, uint8_t *exps, uw_gpu_stream s);
/* palette IR -> BF16 */
uw_status uw_cu_decode_palette(cu_ctx *c, const cu_weights *w, const cu_palette *pal, uint16_t *out, uw_gpu_stream s);
/* threads per block and shared memory of the Huffman decode kernel */
uint32_t uw_cu_decode_threads(void);
size_t uw_cu_decode_smem(uint32_t R, uint32_t C, uint32_t tab_bits);
/* decode to device memory from the smallest resident form */
uw_status uw_cu_decode_dev(cu_ctx *c, const cu_weights *w, uint16_t *out, uw_gpu_stream s);
/* decode to host memory, check the error word and the tensor checksum (blocks) */
uw_status uw_cu_decode_host(cu_ctx *c, const cu_weights *w, uint16_t *host);

/* ---- cuda_transcode.cu */
/* Huffman -> palette IR in scratch (the caller frees *scratch on s). */
uw_status uw_cu_transcode(cu_ctx *c, const cu_weights *w, uw_gpu_stream s, cu_palette *pal, void **scratch);

/* ---- cuda_blas.cu */
/* y = x W^T through cublasGemmEx (BF16 in, fp32 out and compute); UW_ERR_UNSUPPORTED without cuBLAS */
uw_status uw_cu_blas_gemm(cu_ctx *c, const uint16_t *wdev, uint64_t rows, uint64_t cols, const uint16_t *x, float *y,
                          uint64_t batch, uw_gpu_stream s);
void uw_cu_blas_close(cu_ctx *c);

/* ---- cuda_matmul.cu */
typedef struct uw_mmargs {
    const uint16_t *x;            /* [batch, cols] BF16 */
    float *y;                     /* [batch, rows] fp32 */
    float *partial;               /* [nsplit, batch, rows] when nsplit > 1 */
    uint32_t batch, ktiles, kt_per, nsplit;
    uint32_t x_aligned;           /* x rows start on 16 bytes (cols % 8 == 0, x aligned) */
} uw_mmargs;
typedef struct uw_plan {
    int family;                   /* uw_family */
    uint32_t bn;                  /* batch tile */
    uint32_t nsplit, kt_per, ktiles, bands, btiles;
} uw_plan;
uw_status uw_cu_plan(const cu_ctx *c, const cu_weights *w, uint64_t batch, const void *x, uw_plan *pl);
uw_status uw_cu_matmul_dev(cu_ctx *c, cu_weights *w, uw_pipeline p, const uint16_t *x, float *y, uint64_t batch,
                           uw_gpu_stream s);
uw_status uw_cu_matmul_host(cu_ctx *c, cu_weights *w, uw_pipeline p, const uint16_t *x, float *y, uint64_t batch);
/* shared memory of the generic kernel for a source and batch tile, and its threads per CTA */
size_t uw_cu_generic_smem(int src, uint32_t bn, uint32_t C, uint32_t tab_bits);
uint32_t uw_cu_generic_threads(void);

/* ---- uw_gemv.cu (the GEMV family) */
size_t uw_cu_gemv_smem(int src, uint32_t tab_bits);
uint32_t uw_cu_gemv_threads(void);
size_t uw_cu_gemv_workspace(uint32_t G);
uw_status uw_cu_gemv_matmul(cu_ctx *c, int src, const uw_kparams *k, const uint16_t *x, float *y, uint32_t batch, uw_gpu_stream s);

/* ---- uw_hopper.cu */
/* 1 if this build holds the sm_90a kernels and the device (cc 9.0) can run them */
int uw_cu_hopper_usable(const cu_ctx *c);
size_t uw_cu_hopper_smem(int src, uint32_t bn, uint32_t C, uint32_t tab_bits);
uint32_t uw_cu_hopper_threads(void);
uw_status uw_cu_hopper_matmul(const cu_ctx *c, int src, const uw_kparams *k, const uw_mmargs *a, const uw_plan *pl,
                              const uw_gpu_tmap *tmap_w, uw_gpu_stream s);

UW_GPU_NS_END
/* the host tests (tests/test_cuda_host_decode.cu) use these names unqualified */
using namespace UW_GPU_NS;

#endif
