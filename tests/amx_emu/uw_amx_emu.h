/* uw_amx_emu.h - test-only software model of the AMX tile instructions the CPU backend's AMX
 * kernel uses, behind the intrinsics' own names: force-included (-include) when the very same
 * backends/cpu/kern_amx.c is compiled for the emulated test library (tests/CMakeLists.txt), never
 * in the product. Semantics per the Intel SDM (TDPBF16PS: per output two partial sums from +0 over
 * the even and the odd BF16 of each pair, FMA with DAZ, FTZ and RNE, then dst + (even + odd));
 * uw_amx_emu.c has the model and the deliberately different arithmetics the tests inject. */
#ifndef UW_AMX_EMU_H
#define UW_AMX_EMU_H

#include <immintrin.h>

void uw_amxemu_loadconfig(const void *cfg);
void uw_amxemu_release(void);
void uw_amxemu_loadd(int t, const void *base, long stride);
void uw_amxemu_stored(int t, void *base, long stride);
void uw_amxemu_zero(int t);
void uw_amxemu_dpbf16ps(int c, int a, int b);
/* the arithmetic TDPBF16PS follows: "sdm" (the default, or UW_AMX_EMU_MODEL), or one of the
 * variants a real CPU might implement instead (uw_amx_emu.c); 0 = known name */
int uw_amxemu_set_model(const char *name);
const char *uw_amxemu_model(void);

#undef _tile_loadconfig
#undef _tile_release
#undef _tile_loadd
#undef _tile_stream_loadd
#undef _tile_stored
#undef _tile_zero
#undef _tile_dpbf16ps
#define _tile_loadconfig(cfg) uw_amxemu_loadconfig(cfg)
#define _tile_release() uw_amxemu_release()
#define _tile_loadd(t, base, stride) uw_amxemu_loadd(t, base, (long)(stride))
#define _tile_stream_loadd(t, base, stride) uw_amxemu_loadd(t, base, (long)(stride))
#define _tile_stored(t, base, stride) uw_amxemu_stored(t, base, (long)(stride))
#define _tile_zero(t) uw_amxemu_zero(t)
#define _tile_dpbf16ps(c, a, b) uw_amxemu_dpbf16ps(c, a, b)
/* the kernel asks the machine for AMX (cpuid, XCR0, Linux permission): here it is always there */
#define UW_AMX_EMULATED 1

#endif
