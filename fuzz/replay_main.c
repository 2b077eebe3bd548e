/* replay_main.c -- run a fuzz target over files without libFuzzer.
 *
 * Linked with each fuzz target (and ASan+UBSan) for `make replay`: every file given, or every
 * file under every directory given, is passed once to LLVMFuzzerTestOneInput. A crash aborts
 * the run with the sanitizer's report; the file being run is printed first so it can be found.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz/util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static int verbose;

static int run_file(const char *path, size_t *count)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t cap = 4096, len = 0, got;
    uint8_t *buf = malloc(cap);
    int bad = !buf;
    while (!bad && (got = fread(buf + len, 1, cap - len, f)) > 0) {
        len += got;
        if (len < cap)
            continue;
        uint8_t *grown = realloc(buf, cap * 2);
        if (!grown) {
            bad = 1;
            break;
        }
        buf = grown;
        cap *= 2;
    }
    bad = bad || ferror(f);
    fclose(f);
    if (bad) {
        fprintf(stderr, "replay: %s: read failed\n", path);
        free(buf);
        return -1;
    }
    if (verbose)
        fprintf(stderr, "replay: %s (%zu bytes)\n", path, len);
    /* Give the target an exactly-sized heap copy so ASan sees any over-read. */
    uint8_t *exact = malloc(len ? len : 1);
    if (len)
        memcpy(exact, buf, len);
    free(buf);
    LLVMFuzzerTestOneInput(exact, len);
    free(exact);
    (*count)++;
    return 0;
}

static int run_path(const char *path, size_t *count)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode))
        return run_file(path, count);
    DIR *d = opendir(path);
    if (!d) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char sub[4096];
        if (snprintf(sub, sizeof sub, "%s/%s", path, e->d_name) >= (int)sizeof sub) {
            fprintf(stderr, "replay: %s/%s: path too long\n", path, e->d_name);
            rc = -1;
            continue;
        }
        if (run_path(sub, count) != 0)
            rc = -1;
    }
    closedir(d);
    return rc;
}

int main(int argc, char **argv)
{
    if (LLVMFuzzerInitialize)
        LLVMFuzzerInitialize(&argc, &argv);
    int first = 1;
    if (argc > 1 && strcmp(argv[1], "-v") == 0) {
        verbose = 1;
        first = 2;
    }
    if (first >= argc) {
        fprintf(stderr, "usage: %s [-v] FILE|DIR...\n", argv[0]);
        return 2;
    }
    size_t count = 0;
    int rc = 0;
    for (int i = first; i < argc; i++)
        if (run_path(argv[i], &count) != 0)
            rc = 1;
    printf("%s: %zu inputs replayed%s\n", argv[0], count, rc ? " (with errors)" : "");
    if (count == 0) {
        fprintf(stderr, "replay: no inputs found: an empty corpus is an error\n");
        return 1;
    }
    return rc;
}
