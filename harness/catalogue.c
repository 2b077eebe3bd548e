/* catalogue.c -- scenario files from command-line arguments, and tag filters. See
 * catalogue.h. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "harness/catalogue.h"
#include "servers/suggest.h"

enum {
    MAX_DIR_DEPTH = 16,
    MAX_TAG = 64,          /* as scenario.h's names */
    NAME_SCAN_BYTES = 8192 /* the `scenario` line is among a file's first lines */
};

/* ---- tag filters ---------------------------------------------------------------------------- */

static int tag_ok(const char *s, size_t n)
{
    if (n == 0 || n > MAX_TAG || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9')))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '.' ||
              s[i] == '_' || s[i] == '-'))
            return 0;
    return 1;
}

static int push(char ***v, size_t *n, const char *s, size_t len)
{
    char **nv = realloc(*v, (*n + 1) * sizeof *nv);
    if (!nv)
        return -1;
    *v = nv;
    if (!(nv[*n] = strndup(s, len)))
        return -1;
    (*n)++;
    return 0;
}

int cat_filter_add(cat_filter *f, const char *arg, char *err, size_t errlen)
{
    for (const char *p = arg;; p++) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        int neg = len && p[0] == '!';
        if (!tag_ok(p + neg, len - neg)) {
            snprintf(err, errlen, "bad tag '%.*s' in --tag %s: a tag is lower-case letters, "
                                  "digits, '.', '_' and '-'; '!TAG' excludes", (int)len, p, arg);
            return -1;
        }
        if (neg ? push(&f->exclude, &f->nexclude, p + 1, len - 1)
                : push(&f->include, &f->ninclude, p, len)) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        if (!end)
            return 0;
        p = end;
    }
}

static int has_tag(char *const *v, size_t n, const char *const *tags, size_t nt)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < nt; j++)
            if (strcmp(v[i], tags[j]) == 0)
                return 1;
    return 0;
}

int cat_filter_match(const cat_filter *f, const char *const *tags, size_t n)
{
    if (f->ninclude && !has_tag(f->include, f->ninclude, tags, n))
        return 0;
    return !has_tag(f->exclude, f->nexclude, tags, n);
}

void cat_filter_free(cat_filter *f)
{
    for (size_t i = 0; i < f->ninclude; i++)
        free(f->include[i]);
    for (size_t i = 0; i < f->nexclude; i++)
        free(f->exclude[i]);
    free(f->include);
    free(f->exclude);
    memset(f, 0, sizeof *f);
}

/* ---- files ---------------------------------------------------------------------------------- */

void cat_files_free(cat_files *f)
{
    for (size_t i = 0; i < f->n; i++)
        free(f->v[i]);
    free(f->v);
    memset(f, 0, sizeof *f);
}

/* Add path unless a file already taken is the same file. */
static int add_file(cat_files *f, const char *path)
{
    struct stat a, b;
    if (stat(path, &a) == 0)
        for (size_t i = 0; i < f->n; i++)
            if (stat(f->v[i], &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino)
                return 0;
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 32;
        char **nv = realloc(f->v, cap * sizeof *nv);
        if (!nv)
            return -1;
        f->v = nv;
        f->cap = cap;
    }
    return (f->v[f->n] = strdup(path)) ? (f->n++, 0) : -1;
}

static int has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n > k && strcmp(s + n - k, suffix) == 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The entries of dir (no dot-entries), as "dir/name", sorted. */
static char **list_dir(const char *dir, size_t *n)
{
    *n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return NULL;
    char **v = NULL;
    size_t cap = 0;
    int oom = 0;
    for (struct dirent *e; !oom && (e = readdir(d)) != NULL;) {
        if (e->d_name[0] == '.')
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 32;
            char **nv = realloc(v, cap * sizeof *nv);
            if (!nv) {
                oom = 1;
                break;
            }
            v = nv;
        }
        size_t len = strlen(dir) + strlen(e->d_name) + 2;
        if (!(v[*n] = malloc(len)))
            oom = 1;
        else
            snprintf(v[(*n)++], len, "%s/%s", dir, e->d_name);
    }
    closedir(d);
    if (*n)
        qsort(v, *n, sizeof *v, by_name);
    if (!v)
        v = calloc(1, sizeof *v);   /* an empty, readable directory is not an error */
    return v;
}

/* Every *.scn under dir, counted in *seen (also those taken already). Returns 0, or -1
 * (printed). */
static int walk(const char *cmd, const char *dir, int depth, cat_files *out, FILE *errs,
                size_t *seen)
{
    if (depth > MAX_DIR_DEPTH) {
        fprintf(errs, "mailrig %s: %s: directories nested too deep (more than %d levels)\n", cmd,
                dir, MAX_DIR_DEPTH);
        return -1;
    }
    size_t n;
    char **names = list_dir(dir, &n);
    if (!names) {
        fprintf(errs, "mailrig %s: %s: cannot read: %s\n", cmd, dir, strerror(errno));
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        if (stat(names[i], &st) == 0 && S_ISDIR(st.st_mode))
            rc |= walk(cmd, names[i], depth + 1, out, errs, seen);
        else if (has_suffix(names[i], ".scn") && (++*seen, add_file(out, names[i]) != 0))
            rc = -1;
        free(names[i]);
    }
    free(names);
    return rc;
}

int cat_scenario_name(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char text[NAME_SCAN_BYTES + 1];
    size_t n = fread(text, 1, NAME_SCAN_BYTES, f);
    fclose(f);
    text[n] = '\0';
    for (char *line = text, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        line += strspn(line, " \t\r");
        if (!*line || *line == '#')
            continue;
        if (strncmp(line, "scenario", 8) != 0 || (line[8] != ' ' && line[8] != '\t'))
            return -1;
        line += 8 + strspn(line + 8, " \t");
        size_t len = strcspn(line, " \t\r#");
        if (!len || len >= cap)
            return -1;
        memcpy(buf, line, len);
        buf[len] = '\0';
        return 0;
    }
    return -1;
}

/* Look NAME up in the catalogue; add its file or print why not (with a suggestion). */
static int by_scenario_name(const char *cmd, const char *name, const cat_files *catalogue,
                            const char *catdir, cat_files *out, FILE *errs)
{
    char **names = calloc(catalogue->n + 1, sizeof *names);
    if (!names)
        return -1;
    char nb[128];
    size_t nn = 0;
    int rc = -1;
    for (size_t i = 0; i < catalogue->n; i++) {
        if (cat_scenario_name(catalogue->v[i], nb, sizeof nb) != 0)
            continue;
        if (strcmp(nb, name) == 0) {
            rc = add_file(out, catalogue->v[i]);
            break;
        }
        names[nn++] = strdup(nb);
    }
    if (rc != 0) {
        const char *near = suggest_closest(name, strlen(name), (const char *const *)names, nn);
        fprintf(errs, "mailrig %s: no scenario named '%s' in %s%s%s%s; `mailrig list` shows "
                      "the names, and a path to a file or directory works too\n", cmd, name,
                catdir, near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "");
    }
    for (size_t i = 0; i < nn; i++)
        free(names[i]);
    free(names);
    return rc;
}

static int is_bare_name(const char *a)
{
    return !strchr(a, '/') && !has_suffix(a, ".scn") && *a;
}

int cat_collect(const char *cmd, const char *const *args, size_t n, const char *data_dir,
                cat_files *out, FILE *errs)
{
    char catdir[PATH_MAX];
    snprintf(catdir, sizeof catdir, "%s/scenarios", data_dir);
    cat_files catalogue = {0};
    int have_catalogue = 0, rc = 0;
    if (n == 0) {
        size_t seen = 0;
        rc = walk(cmd, catdir, 0, out, errs, &seen);
        if (rc == 0 && seen == 0) {
            fprintf(errs, "mailrig %s: %s: no *.scn files found\n", cmd, catdir);
            rc = -1;
        }
        return rc;
    }
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        errno = 0;
        int found = stat(args[i], &st) == 0;
        if (found && S_ISDIR(st.st_mode)) {
            size_t seen = 0;
            int r = walk(cmd, args[i], 0, out, errs, &seen);
            if (r == 0 && seen == 0) {
                fprintf(errs, "mailrig %s: %s: no *.scn files found\n", cmd, args[i]);
                r = -1;
            }
            rc |= r;
        } else if (found) {
            if (!S_ISREG(st.st_mode)) {
                fprintf(errs, "mailrig %s: %s: not a regular file\n", cmd, args[i]);
                rc = -1;
            } else if (add_file(out, args[i]) != 0)
                rc = -1;
        } else if (is_bare_name(args[i])) {
            if (!have_catalogue) {
                have_catalogue = 1;
                size_t seen = 0;
                if (walk(cmd, catdir, 0, &catalogue, errs, &seen) != 0)
                    rc = -1;
            }
            rc |= by_scenario_name(cmd, args[i], &catalogue, catdir, out, errs);
        } else {
            fprintf(errs, "mailrig %s: %s: cannot read: %s\n", cmd, args[i], strerror(errno));
            rc = -1;
        }
    }
    cat_files_free(&catalogue);
    return rc ? -1 : 0;
}

/* ---- parsing -------------------------------------------------------------------------------- */

size_t cat_parse(const cat_files *files, validate_ctx *v, sc_scenario ***out, FILE *errs)
{
    *out = calloc(files->n + 1, sizeof **out);
    if (!*out)
        return (size_t)-1;
    size_t bad = 0;
    for (size_t i = 0; i < files->n; i++) {
        sc_diags d = {0};
        (*out)[i] = validate_parse(v, files->v[i], &d);
        if (!(*out)[i]) {
            bad++;
            if (d.n)
                sc_diags_print(errs, &d);
            else
                fprintf(errs, "%s: out of memory while parsing\n", files->v[i]);
        }
        sc_diags_free(&d);
    }
    return bad;
}

void cat_scenarios_free(sc_scenario **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        sc_free(v[i]);
    free(v);
}

size_t cat_duplicate_names(const char *cmd, sc_scenario *const *v, size_t n, FILE *errs)
{
    size_t dups = 0;
    for (size_t i = 0; i < n; i++) {
        if (!v[i])
            continue;
        size_t first = i;
        for (size_t j = 0; j < i && first == i; j++)
            if (v[j] && strcmp(v[j]->h.name, v[i]->h.name) == 0)
                first = j;
        if (first != i) {
            fprintf(errs, "mailrig %s: scenario name '%s' is used by %s and %s: names must be "
                          "unique (reports and `mailrig run NAME` use them)\n", cmd,
                    v[i]->h.name, v[first]->file, v[i]->file);
            dups++;
        }
    }
    return dups;
}
