/* fuzz_replay.c - regression driver for the fuzz targets, built with any compiler: calls the
 * linked target's LLVMFuzzerTestOneInput on every file of each directory (or file) given. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_util.h"

static int run_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) { fprintf(stderr, "cannot open %s\n", path); return 1; }
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    for (size_t r; buf && (r = fread(buf + n, 1, cap - n, f)) > 0;) {
        n += r;
        if (n == cap) {
            uint8_t *nb = realloc(buf, cap *= 2);
            if (!nb) { free(buf); buf = NULL; }
            buf = nb;
        }
    }
    fclose(f);
    if (!buf) { fprintf(stderr, "out of memory reading %s\n", path); return 1; }
    /* an exact-size copy, so that ASan sees reads past the input's end */
    uint8_t *exact = malloc(n ? n : 1);
    if (!exact) { free(buf); return 1; }
    memcpy(exact, buf, n);
    free(buf);
    LLVMFuzzerTestOneInput(exact, n);
    free(exact);
    return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int main(int argc, char **argv) {
    size_t total = 0;
    int bad = 0;
    for (int a = 1; a < argc; a++) {
        struct stat st;
        if (stat(argv[a], &st)) { fprintf(stderr, "cannot stat %s\n", argv[a]); return 1; }
        if (!S_ISDIR(st.st_mode)) { bad |= run_file(argv[a]); total++; continue; }
        DIR *d = opendir(argv[a]);
        if (!d) { fprintf(stderr, "cannot open directory %s\n", argv[a]); return 1; }
        char **names = NULL;
        size_t nn = 0, cap = 0;
        for (struct dirent *e; (e = readdir(d));) {
            if (e->d_name[0] == '.' || !strcmp(e->d_name, "README.md")) continue;
            if (nn == cap) names = realloc(names, (cap = cap ? cap * 2 : 64) * sizeof *names);
            size_t l = strlen(argv[a]) + strlen(e->d_name) + 2;
            names[nn] = malloc(l);
            snprintf(names[nn++], l, "%s/%s", argv[a], e->d_name);
        }
        closedir(d);
        if (nn) qsort(names, nn, sizeof *names, cmp_str);
        for (size_t i = 0; i < nn; i++) {
            bad |= run_file(names[i]);
            total++;
            free(names[i]);
        }
        free(names);
    }
    printf("replayed %zu inputs\n", total);
    return bad;
}
