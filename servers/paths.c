/* paths.c -- see paths.h. */
#include "servers/paths.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int put(char *buf, size_t cap, const char *s, size_t n)
{
    if (n >= cap) {
        if (cap)
            buf[0] = '\0';
        return -1;
    }
    memcpy(buf, s, n);
    buf[n] = '\0';
    return (int)n;
}

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Length of the directory part of path[0..n) (without the final slash), or 0. */
static size_t dirname_len(const char *path, size_t n)
{
    while (n > 0 && path[n - 1] != '/')
        n--;
    while (n > 1 && path[n - 1] == '/')
        n--;
    return n > 0 && path[0] == '/' && n == 1 ? 1 : n;
}

int paths_data_dir_for_exe(const char *exe, char *buf, size_t cap)
{
    /* exe = ROOT/build/VARIANT/bin/NAME: strip NAME, check "bin", strip VARIANT, check "build" */
    size_t n = dirname_len(exe, strlen(exe));            /* ROOT/build/VARIANT/bin */
    size_t variant = dirname_len(exe, n);                 /* ROOT/build/VARIANT */
    size_t build = dirname_len(exe, variant);             /* ROOT/build */
    size_t root = dirname_len(exe, build);                /* ROOT */
    int shaped = root > 0 && n - variant == 4 && !memcmp(exe + variant, "/bin", 4) &&
                 variant - build > 1 && build - root == 6 && !memcmp(exe + root, "/build", 6);
    if (shaped) {
        char probe[PATH_MAX];
        if (root + sizeof "/profiles" <= sizeof probe) {
            memcpy(probe, exe, root);
            memcpy(probe + root, "/profiles", sizeof "/profiles");
            if (is_dir(probe))
                return put(buf, cap, exe, root);
        }
    }
    return put(buf, cap, PATHS_SYSTEM_DATA_DIR, strlen(PATHS_SYSTEM_DATA_DIR));
}

int paths_data_dir(char *buf, size_t cap)
{
    const char *env = getenv("MAILRIG_DATA");
    if (env && *env) {
        size_t n = strlen(env);
        while (n > 1 && env[n - 1] == '/')
            n--;
        return put(buf, cap, env, n);
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return put(buf, cap, PATHS_SYSTEM_DATA_DIR, strlen(PATHS_SYSTEM_DATA_DIR));
    exe[n] = '\0';
    return paths_data_dir_for_exe(exe, buf, cap);
}

int paths_join(char *buf, size_t cap, const char *dir, const char *sub, const char *file)
{
    int n = snprintf(buf, cap, "%s/%s/%s", dir, sub, file);
    if (n < 0 || (size_t)n >= cap) {
        if (cap)
            buf[0] = '\0';
        return -1;
    }
    return n;
}
