/* ocl_internal.h - state shared by the OpenCL backend's host files: the device context, the
 * tunable parameters, resident weights, and the helpers each file offers the others. */
#ifndef UW_OCL_INTERNAL_H
#define UW_OCL_INTERNAL_H

#include <pthread.h>

#include "ocl_api.h" /* CL/cl.h, and the cl* calls through the dlopen'ed library */

#include "../../core/backend.h"
#include "../../codecs/decode_errors.h"
#include "../../codecs/decode_table.h"
#include "../../codecs/encode.h"

/* Tunables from the device spec string (the defaults; the autotuner varies wg and nacc per call,
 * ocl_run); nothing in the kernels is sized by a constant except the accumulator count, which is
 * a program build option. */
typedef struct ocl_params {
    uint32_t tile_rows, tile_cols, lanes; /* geometry for weights whose own tile does not fit */
    uint32_t wg;       /* work-group size of the matmul and tile-parallel kernels */
    uint32_t nacc;     /* fp32 accumulators per work-item (private array, build option) */
    uint64_t lmem;     /* local-memory budget in bytes, 0 = what the device reports */
    int retile;        /* 1: give every weight the geometry above even when its own fits */
    int platform, device; /* indices, -1 = not given */
    char match[128];   /* device or platform name substring, "" = none */
} ocl_params;

enum {
    K_DECODE_HUFF, K_DECODE_PAL, K_DECODE_PAL_EXC, K_EXP_PLANE, K_TC_EXC, K_TC_NIB,
    K_MM_PLAIN, K_MM_HUFF, K_MM_PAL, K_MM_EXP, K_COUNT
};

/* One built program and its kernels; programs are cached per build-option string. */
typedef struct ocl_prog {
    char options[160];
    uint32_t nacc;
    cl_program program;
    cl_kernel k[K_COUNT];
    size_t kwg[K_COUNT]; /* CL_KERNEL_WORK_GROUP_SIZE of each kernel on this device */
} ocl_prog;

#define OCL_MAX_PROGS 4

typedef struct ocl_ctx {
    cl_platform_id platform;
    cl_device_id device;
    cl_context context;
    cl_command_queue queue;
    ocl_prog progs[OCL_MAX_PROGS];
    int nprogs;
    ocl_prog *prog;     /* the default parameters' program (decode, transcode; never evicted) */
    ocl_params par;     /* as requested at open */
    uint32_t wg;        /* default work-group size (par.wg reduced to what the kernels allow) */
    size_t wg_cap;      /* the largest work-group every matmul kernel of prog accepts here */
    uint64_t lmem;      /* local-memory budget in effect */
    uint64_t dev_lmem;  /* what the device reports */
    size_t max_wg;
    cl_mem err;         /* device-side error bits of the running operation */
    pthread_mutex_t lock; /* kernels' arguments are per cl_kernel, programs built on demand, one
                           * error buffer: one operation at a time */
    int debug;          /* UW_OPENCL_DEBUG set: notes (re-tiling, fallbacks) go to stderr */
    char name[256];
    char driver[160];
    uw_param_desc params[2]; /* per-call tunables offered to the autotuner: wg, acc */
} ocl_ctx;

/* Tile geometry of a resident form (the blob's, or the one the backend re-tiled it to). */
typedef struct ocl_geom {
    uint64_t rows, cols, n, tiles_r, tiles_c, ntiles;
    uint32_t tile_rows, tile_cols, lanes;
    uint32_t band, span; /* tile_rows and tile_cols clipped to the matrix: the largest tile */
} ocl_geom;

/* The palette IR on the device (docs/FORMAT.md section 8). Each section is a buffer and an
 * offset: an uploaded palette blob is one buffer with four offsets, a transcoded one four. */
typedef struct ocl_pal {
    cl_mem nib, plane, idx, exc;
    uint64_t o_nib, o_plane, o_idx, o_exc; /* byte offsets */
    uint64_t nexc;
    cl_mem own[4];      /* buffers this form owns (released with it) */
} ocl_pal;

typedef struct ocl_weights {
    ocl_geom g;
    /* Huffman form: the whole blob (padded so that 64-bit stream peeks stay inside) */
    cl_mem huff, table;
    uw_blob hb;         /* its parsed header and section offsets (hb.base is not kept) */
    uint32_t tab_bits;  /* log2 of the decode table's entries (max_code_len); narrow form */
    ocl_pal pal;
    int has_pal;
    cl_mem bf16;
    /* palette bytes 0..15, then 256 bytes mapping an exponent to its palette index or 0xFF */
    cl_mem meta;
    uint8_t palette[16];
    uint32_t nregular;
    uint64_t tensor_hash;
    char note[256];     /* how the upload went (re-tiled or not), for the debug log */
} ocl_weights;

/* ocl_device.c */
const char *uw_ocl_err_name(cl_int e);
/* UW_ERR_BACKEND (UW_ERR_NOMEM for host memory) with "what: CL_NAME" as the message */
uw_status uw_ocl_fail(cl_int e, const char *what);
#define OCL_TRY(call, what)                                                                    \
    do {                                                                                       \
        cl_int ocl_e_ = (call);                                                                \
        if (ocl_e_ != CL_SUCCESS) return uw_ocl_fail(ocl_e_, (what));                          \
    } while (0)
uw_status uw_ocl_probe(void);
uw_status uw_ocl_parse_spec(const char *spec, ocl_params *p);
uw_status uw_ocl_device_open(ocl_ctx *c);
void uw_ocl_device_close(ocl_ctx *c);
void uw_ocl_note(const ocl_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ocl_program.c */
uw_status uw_ocl_program_get(ocl_ctx *c, uint32_t nacc, ocl_prog **out);
void uw_ocl_programs_release(ocl_ctx *c);

/* ocl_buffers.c */
uw_status uw_ocl_buffer(ocl_ctx *c, cl_mem_flags fl, size_t size, const void *host, cl_mem *out);
void uw_ocl_release(cl_mem *m);
uw_status uw_ocl_read(ocl_ctx *c, cl_mem m, size_t off, size_t size, void *host);
uw_status uw_ocl_write(ocl_ctx *c, cl_mem m, size_t off, size_t size, const void *host);
/* Set kernel arguments first, first+1, ... from a format: m cl_mem*, u cl_uint, U cl_ulong,
 * L local bytes (size_t). */
uw_status uw_ocl_args(cl_kernel k, cl_uint first, const char *fmt, ...);
uw_status uw_ocl_run(ocl_ctx *c, cl_kernel k, cl_uint dims, const size_t *global, const size_t *local, const char *what);
/* Clear the error word before an operation; after it, turn set UW_DERR_* bits into a status
 * (uw_derr_status). */
uw_status uw_ocl_err_reset(ocl_ctx *c);
uw_status uw_ocl_err_check(ocl_ctx *c, const char *what);
size_t uw_ocl_round_up(size_t v, size_t m);

/* ocl_decode.c */
size_t uw_ocl_lane_group(const ocl_ctx *c, int kernel, uint32_t lanes);
uw_status uw_ocl_decode_huff(ocl_ctx *c, ocl_weights *w, cl_mem out);
uw_status uw_ocl_decode_pal(ocl_ctx *c, ocl_weights *w, const ocl_pal *p, cl_mem out);
/* Huffman -> exponent byte plane; counts (may be NULL) gets the per-lane exception counts */
uw_status uw_ocl_exp_plane(ocl_ctx *c, ocl_weights *w, cl_mem exps, cl_mem counts);
/* decode the resident weights to host BF16, from the smallest form, and check the checksum */
uw_status uw_ocl_decode_host(ocl_ctx *c, ocl_weights *w, uint16_t *host);

/* ocl_transcode.c */
uw_status uw_ocl_transcode(ocl_ctx *c, ocl_weights *w, ocl_pal *p);
void uw_ocl_pal_release(ocl_pal *p);

/* ocl_matmul.c */
/* one matmul's launch: its program (accumulator count) and work-group size (per call) */
typedef struct ocl_run {
    ocl_prog *prog;
    uint32_t wg;
    size_t wg_cap; /* the largest work-group prog's matmul kernels accept */
} ocl_run;
uw_status uw_ocl_matmul(ocl_ctx *c, ocl_weights *w, const ocl_run *r, uw_pipeline p, const uint16_t *x, float *y, uint64_t batch);
/* local memory a matmul needs for tiles of band x span elements (W tile + lookup table) */
uint64_t uw_ocl_mm_local_bytes(uint32_t band, uint32_t span, uint32_t tab_bits);

/* ocl_weights.c */
uw_status uw_ocl_upload(ocl_ctx *c, const uw_blob *b, unsigned resident, ocl_weights **out);
void uw_ocl_weights_free(ocl_weights *w);

#endif
