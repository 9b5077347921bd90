/* file_guess.h - a compressed file's outer header parsed while another thread guesses its
 * unweight metadata and original header (file_guess.c); file.c takes the guess only where it
 * is the very text the outer header holds. */
#ifndef UW_FILE_GUESS_H
#define UW_FILE_GUESS_H

#include "file.h"

typedef struct uw_file_guess {
    char *text;      /* the metadata string as guessed from the raw header, unescaped */
    uint64_t len;
    json_t *meta;    /* its tree (NULL: no guess) */
    st_header orig;  /* the original header inside it, parsed when orig_ok */
    int orig_ok, meta_taken;
} uw_file_guess;

/* uw_st_parse_file(map, size, outer), and beside it (large headers, 2+ cores) the guess. */
uw_status uw_file_parse_outer(const uint8_t *map, uint64_t size, st_header *outer, uw_file_guess *g);
/* The guessed metadata tree, when the guess parsed exactly text[0, len) (the outer header's
 * value); NULL otherwise. The caller owns it. */
json_t *uw_file_guess_take_meta(uw_file_guess *g, const char *text, size_t len);
/* The guessed original header (1), parsed from the string of the taken metadata tree; 0 when
 * there is none. The caller owns it. */
int uw_file_guess_take_orig(uw_file_guess *g, st_header *orig);
void uw_file_guess_free(uw_file_guess *g);

/* for tests: nonzero parses every header in order (no guess); guesses taken so far */
extern int uw_file_guess_off;
extern _Atomic unsigned long uw_file_guesses_taken;

#endif
