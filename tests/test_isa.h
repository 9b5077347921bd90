/* test_isa.h - for tests run once per codec ISA level (CTest sets UW_CODEC_ISA): exit 77 (CTest:
 * skipped, not passed) when this CPU lacks the level, say which level runs otherwise. Public API
 * only: the library refuses a level the CPU lacks with UW_ERR_UNSUPPORTED on its first coding. */
#ifndef UW_TEST_ISA_H
#define UW_TEST_ISA_H

#include <stdio.h>
#include <stdlib.h>

#include "unweight.h"

static void t_isa_or_skip(void) {
    uint16_t w[64] = {0};
    uint8_t *blob = NULL;
    size_t size = 0;
    uw_status s = uw_tensor_encode(w, 8, 8, NULL, &blob, &size);
    uw_free(blob);
    const char *level = getenv("UW_CODEC_ISA");
    if (s == UW_ERR_UNSUPPORTED) {
        printf("%s: NOT run\n", uw_last_error());
        exit(77);
    }
    if (s != UW_OK) {
        fprintf(stderr, "FAIL: %s\n", uw_last_error());
        exit(1);
    }
    printf("codec ISA level: %s\n", level && *level ? level : "the best this CPU offers");
}

#endif
