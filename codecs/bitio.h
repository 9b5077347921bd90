/* bitio.h - LSB-first bit writer and a bounds-checked bit reader for host code. */
#ifndef UW_BITIO_H
#define UW_BITIO_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Writer into a growable buffer; bits are appended at the least significant free position. */
typedef struct uw_bitw {
    uint8_t *buf;
    size_t cap, bytes; /* whole bytes flushed */
    uint64_t acc;
    int nacc;          /* bits in acc (< 64 between calls) */
    int oom;
} uw_bitw;

static inline void uw_bitw_init(uw_bitw *w, size_t cap) {
    memset(w, 0, sizeof *w);
    w->buf = malloc(cap ? cap : 64);
    w->cap = cap ? cap : 64;
    w->oom = !w->buf;
}

static inline void uw_bitw_reserve(uw_bitw *w, size_t more) {
    if (w->oom || w->bytes + more <= w->cap) return;
    size_t nc = w->cap * 2;
    while (nc < w->bytes + more) nc *= 2;
    uint8_t *nb = realloc(w->buf, nc);
    if (!nb) { w->oom = 1; return; }
    w->buf = nb;
    w->cap = nc;
}

/* Append the low n bits of v (n <= 32). */
static inline void uw_bitw_put(uw_bitw *w, uint32_t v, int n) {
    w->acc |= (uint64_t)(v & (n == 32 ? 0xFFFFFFFFu : ((1u << n) - 1))) << w->nacc;
    w->nacc += n;
    if (w->nacc >= 32) {
        uw_bitw_reserve(w, 4);
        if (!w->oom) {
            for (int i = 0; i < 4; i++) w->buf[w->bytes + i] = (uint8_t)(w->acc >> (8 * i));
            w->bytes += 4;
        }
        w->acc >>= 32;
        w->nacc -= 32;
    }
}

static inline uint64_t uw_bitw_pos(const uw_bitw *w) { return (uint64_t)w->bytes * 8 + (uint64_t)w->nacc; }

/* Flush to a byte boundary (zero padding bits). */
static inline void uw_bitw_flush(uw_bitw *w) {
    uw_bitw_reserve(w, 8);
    while (w->nacc > 0 && !w->oom) {
        w->buf[w->bytes++] = (uint8_t)w->acc;
        w->acc >>= 8;
        w->nacc -= 8;
    }
    w->nacc = 0;
    w->acc = 0;
}

/* Reader over [base bit, end bit) of a byte buffer: every read checks the end. */
typedef struct uw_bitr {
    const uint8_t *buf;
    uint64_t pos, end; /* bit positions */
} uw_bitr;

/* Read one bit; returns -1 past the end. */
static inline int uw_bitr_bit(uw_bitr *r) {
    if (r->pos >= r->end) return -1;
    int b = (r->buf[r->pos >> 3] >> (r->pos & 7)) & 1;
    r->pos++;
    return b;
}

/* Read n <= 24 bits LSB-first; returns -1 past the end. */
static inline int32_t uw_bitr_bits(uw_bitr *r, int n) {
    if (r->end - r->pos < (uint64_t)n) return -1;
    int32_t v = 0;
    for (int i = 0; i < n; i++) v |= uw_bitr_bit(r) << i;
    return v;
}

#endif
