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

/* Lookup-table entry (huffman.h): symbol in bits 0..7, code length in bits 8..11. */
UW_FN uw_u32 uw_entry_sym(uw_u16 e) { return e & 0xFF; }
UW_FN uw_u32 uw_entry_len(uw_u16 e) { return (e >> 8) & 0xF; }

#endif
