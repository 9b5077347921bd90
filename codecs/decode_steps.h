/* decode_steps.h - the decode steps of docs/FORMAT.md written once, as plain C that also
 * compiles as CUDA/HIP device code and OpenCL C (no libc, no host types beyond fixed ints). */
#ifndef UW_DECODE_STEPS_H
#define UW_DECODE_STEPS_H

#if defined(__OPENCL_VERSION__)
#define UW_FN static inline
typedef uchar uw_u8;
typedef ushort uw_u16;
typedef uint uw_u32;
typedef ulong uw_u64;
#else
#include <stdint.h>
#if defined(__CUDACC__) || defined(__HIPCC__)
#define UW_FN static __host__ __device__ inline
#else
#define UW_FN static inline
#endif
typedef uint8_t uw_u8;
typedef uint16_t uw_u16;
typedef uint32_t uw_u32;
typedef uint64_t uw_u64;
#endif

/* BF16 = s eeeeeeee mmmmmmm. The exponent byte is bits 14..7; the plane byte keeps the sign
 * in bit 7 and the 7 mantissa bits below it. */
UW_FN uw_u8 uw_bf16_exp(uw_u16 v) { return (uw_u8)((v >> 7) & 0xFF); }
UW_FN uw_u8 uw_bf16_plane(uw_u16 v) { return (uw_u8)(((v >> 8) & 0x80) | (v & 0x7F)); }
UW_FN uw_u16 uw_bf16_join(uw_u8 plane, uw_u8 exp) {
    return (uw_u16)((((uw_u16)plane & 0x80) << 8) | ((uw_u16)exp << 7) | ((uw_u16)plane & 0x7F));
}

/* Lane j of a tile with tr rows and `lanes` lanes covers tile rows [begin, end). */
UW_FN uw_u32 uw_lane_row_begin(uw_u32 tr, uw_u32 lanes, uw_u32 j) {
    return (uw_u32)(((uw_u64)j * tr) / lanes);
}

/* ---- the decode table (FORMAT.md section 5): one entry per max_code_len-bit window ---------
 * Every lane decoder reads entries built by uw_dtab_build (codecs/decode_table.c) through these
 * accessors: the C fast decoder (decode_fast.c derives its wider tables from them), the OpenCL
 * kernels (the opencl backend's kernels/common.cl) and the CUDA/HIP kernels (the cuda
 * backend's uw_kern_common.cuh). The layout is defined here and nowhere else:
 *   bits  0-3   code length in bits (0: the single-symbol code, no bits are read)
 *   bits  4-7   palette index a of the first exponent
 *   bits  8-11  palette index b of the second exponent (order 2; 0 for order 1)
 *   bit   12    a is the escape: its exponent is the 8 raw bits after the code
 *   bit   13    b is the escape: its 8 raw bits follow the code (and a's raw bits, if any)
 *   bits 16-23  exponent of a (palette[a]; 0 for the escape)
 *   bits 24-31  exponent of b (likewise)
 * The code half (bits 0-15) is complete on its own: a decoder short of on-chip memory keeps
 * only uw_dt_narrow(entry) (UW_DT_NARROW_BYTES each) and reads exponents from the palette. */
#define UW_DT_MAX_BITS 12 /* max_code_len <= 12: at most 4096 entries */
#define UW_DT_BYTES 4
#define UW_DT_NARROW_BYTES 2
UW_FN uw_u32 uw_dt_make(uw_u32 len, uw_u32 a, uw_u32 b, uw_u32 esc_a, uw_u32 esc_b, uw_u32 exp_a, uw_u32 exp_b) {
    return len | (a << 4) | (b << 8) | (esc_a << 12) | (esc_b << 13) | (exp_a << 16) | (exp_b << 24);
}
UW_FN uw_u32 uw_dt_len(uw_u32 e) { return e & 15u; }
UW_FN uw_u32 uw_dt_a(uw_u32 e) { return (e >> 4) & 15u; }
UW_FN uw_u32 uw_dt_b(uw_u32 e) { return (e >> 8) & 15u; }
UW_FN uw_u32 uw_dt_esc_a(uw_u32 e) { return (e >> 12) & 1u; }
UW_FN uw_u32 uw_dt_esc_b(uw_u32 e) { return (e >> 13) & 1u; }
UW_FN uw_u32 uw_dt_exp_a(uw_u32 e) { return (e >> 16) & 0xFFu; }
UW_FN uw_u32 uw_dt_exp_b(uw_u32 e) { return e >> 24; }
UW_FN uw_u16 uw_dt_narrow(uw_u32 e) { return (uw_u16)(e & 0xFFFFu); }

/* ---- decode error bits: how a decoder says which rule of FORMAT.md section 7 a stream broke ----
 * Device kernels OR them into an error word; every host (the CPU decoders, and each backend's
 * host code reading its error word) turns bits into a status and a message with uw_derr_status
 * (codecs/decode_table.c), so the vocabulary and its wording are these. */
#define UW_DERR_OVERRUN 1u     /* rule 8: a lane reads past its end */
#define UW_DERR_LANE_END 2u    /* rule 8: a lane other than the last does not end at the next lane */
#define UW_DERR_PAD_SYM 4u     /* rule 9: the padding symbol of an odd order-2 chunk is not index 0 */
#define UW_DERR_TILE_PAD 8u    /* rule 8: a tile's last lane leaves 8+ unread bits or nonzero padding */
#define UW_DERR_PAL_INDEX 16u  /* rule 10: a palette-IR nibble >= nregular */
#define UW_DERR_EXC_ORDER 32u  /* rule 10: exceptions out of order or outside their tile */
#define UW_DERR_EXC_NIBBLE 64u /* rule 10: an exception at a nonzero nibble */
#define UW_DERR_ARCH 128u      /* not the stream: a kernel ran on an architecture it was not built for */
#define UW_DERR_COUNT 8

#endif
