/* safetensors.h - parsing and validation of untrusted safetensors headers (jansson), the
 * limits we enforce, and the dtype table. */
#ifndef UW_SAFETENSORS_H
#define UW_SAFETENSORS_H

#include <jansson.h>

#include "uw_internal.h"

#define UW_MAX_HEADER_BYTES ((uint64_t)100 << 20) /* same cap as the reference implementation */
#define UW_MAX_TENSORS (1u << 20)
#define UW_MAX_NDIM 8
#define UW_MAX_NAME 4096

typedef struct st_tensor {
    const char *name;  /* owned by the JSON root */
    char dtype[16];
    int ndim;
    uint64_t shape[UW_MAX_NDIM];
    uint64_t numel, begin, end; /* offsets relative to the data section */
    size_t key_order;           /* position in the header object */
} st_tensor;

typedef struct st_header {
    json_t *root;         /* owns names */
    json_t *metadata;     /* borrowed, may be NULL */
    st_tensor *t;
    size_t n;
    uint64_t header_len;  /* JSON bytes (N) */
    uint64_t data_size;
} st_header;

/* Element size in bytes of a safetensors dtype, or 0 if unknown. */
int uw_dtype_size(const char *dtype);

/* Parse a JSON header of `len` bytes describing a data section of data_size bytes (pass
 * UINT64_MAX to derive it from the largest end offset). Checks every rule in FORMAT.md 9.1. */
uw_status uw_st_parse_json(const char *json, uint64_t len, uint64_t data_size, st_header *h);

/* Reject JSON whose structure no header needs before a tree is built: containers nested more
 * than maxdepth deep, arrays of more than UW_MAX_NDIM values, objects of more than
 * UW_MAX_TENSORS + 1 members (bounds the parser's memory; see safetensors.c). */
uw_status uw_st_prescan(const char *json, uint64_t len, int maxdepth);

/* Parse a whole file image (8-byte length, header, data). */
uw_status uw_st_parse_file(const uint8_t *buf, uint64_t size, st_header *h);

void uw_st_free(st_header *h);

#endif
