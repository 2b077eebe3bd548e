/* run_match.c -- glob, exact and PCRE2 matching with literal substitution (run_match.h). */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "harness/run_match.h"

#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bounds on what one hostile line can cost the regex engine. */
enum { MATCH_LIMIT = 200000, DEPTH_LIMIT = 10000 };

int run_glob_match(const short *cells, size_t nc, const char *s, size_t n)
{
    /* Iterative glob with one backtrack point (the last star): O(nc * n) at worst. */
    size_t pi = 0, si = 0, star = (size_t)-1, mark = 0;
    while (si < n) {
        if (pi < nc && (cells[pi] == RUN_GLOB_ONE || cells[pi] == (unsigned char)s[si])) {
            pi++;
            si++;
        } else if (pi < nc && cells[pi] == RUN_GLOB_STAR) {
            star = pi++;
            mark = si;
        } else if (star != (size_t)-1) {
            pi = star + 1;
            si = ++mark;
        } else {
            return 0;
        }
    }
    while (pi < nc && cells[pi] == RUN_GLOB_STAR)
        pi++;
    return pi == nc;
}

static int add_cells(run_pat *rp, size_t *cap, const char *p, size_t n, int wild)
{
    if (rp->ncells + n > *cap) {
        size_t nc = *cap ? *cap : 64;
        while (nc < rp->ncells + n)
            nc *= 2;
        short *c = realloc(rp->cells, nc * sizeof *c);
        if (!c)
            return -1;
        rp->cells = c;
        *cap = nc;
    }
    for (size_t i = 0; i < n; i++) {
        short cell = (unsigned char)p[i];
        if (wild && p[i] == '*')
            cell = RUN_GLOB_STAR;
        else if (wild && p[i] == '?')
            cell = RUN_GLOB_ONE;
        rp->cells[rp->ncells++] = cell;
    }
    return 0;
}

static int compile_glob(run_vars *v, const sc_pattern *pat, run_pat *rp, char *err, size_t errlen)
{
    size_t cap = 0;
    int wild = pat->kind == SC_PAT_GLOB;
    run_buf val = {0};
    for (size_t i = 0; i < pat->text.nparts; i++) {
        const sc_part *part = &pat->text.parts[i];
        int r;
        if (part->kind == SC_PART_LIT) {
            r = add_cells(rp, &cap, part->p, part->n, wild);
        } else {
            run_buf_reset(&val);
            if (run_vars_ref(v, &part->ref, &val, NULL, err, errlen) != 0) {
                run_buf_free(&val);
                return -1;
            }
            r = add_cells(rp, &cap, val.p ? val.p : "", val.n, 0);   /* values are literal */
        }
        if (r != 0) {
            run_buf_free(&val);
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    }
    run_buf_free(&val);
    return 0;
}

/* Escape a value so that PCRE2 matches it literally: every byte outside [A-Za-z0-9_]
 * becomes \xHH (works for NUL and 8-bit bytes in non-UTF mode too). */
static void regex_escape(run_buf *out, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_') {
            run_buf_add(out, &p[i], 1);
        } else {
            char esc[8];
            snprintf(esc, sizeof esc, "\\x%02x", c);
            run_buf_adds(out, esc);
        }
    }
}

static int compile_regex(run_vars *v, const sc_pattern *pat, run_pat *rp, char *err, size_t errlen)
{
    run_buf src = {0}, val = {0};
    for (size_t i = 0; i < pat->text.nparts; i++) {
        const sc_part *part = &pat->text.parts[i];
        if (part->kind == SC_PART_LIT) {
            run_buf_add(&src, part->p, part->n);
            continue;
        }
        run_buf_reset(&val);
        if (run_vars_ref(v, &part->ref, &val, NULL, err, errlen) != 0)
            goto fail;
        regex_escape(&src, val.p ? val.p : "", val.n);
    }
    if (src.oom) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    int code;
    PCRE2_SIZE off;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)(src.p ? src.p : ""), src.n,
                                   (pat->caseless ? PCRE2_CASELESS : 0) | PCRE2_NEVER_UTF, &code,
                                   &off, NULL);
    if (!re) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(code, msg, sizeof msg);
        snprintf(err, errlen, "regex %s: %s", pat->text.src, (char *)msg);
        goto fail;
    }
    rp->re = re;
    rp->md = pcre2_match_data_create_from_pattern(re, NULL);
    if (!rp->md) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    run_buf_free(&src);
    run_buf_free(&val);
    return 0;
fail:
    run_buf_free(&src);
    run_buf_free(&val);
    return -1;
}

int run_pat_compile(run_vars *v, const sc_pattern *pat, run_pat *rp, char *err, size_t errlen)
{
    memset(rp, 0, sizeof *rp);
    rp->src = pat;
    rp->kind = pat->kind;
    rp->negate = pat->negate;
    /* What messages show: the pattern as written, with secrets taken out of the values. */
    run_buf shown = {0}, dummy = {0};
    if (pat->kind == SC_PAT_REGEX) {
        run_buf_adds(&shown, pat->text.src ? pat->text.src : "//");
    } else if (run_vars_expand(v, &pat->text, &dummy, &shown, err, errlen) != 0) {
        run_buf_free(&shown);
        run_buf_free(&dummy);
        return -1;
    }
    run_buf_free(&dummy);
    rp->shown = shown.p ? shown.p : strdup("");
    int r = pat->kind == SC_PAT_REGEX ? compile_regex(v, pat, rp, err, errlen)
                                      : compile_glob(v, pat, rp, err, errlen);
    if (r != 0)
        run_pat_free(rp);
    return r;
}

void run_pat_free(run_pat *rp)
{
    free(rp->cells);
    free(rp->shown);
    if (rp->md)
        pcre2_match_data_free(rp->md);
    if (rp->re)
        pcre2_code_free(rp->re);
    memset(rp, 0, sizeof *rp);
}

static void store_groups(run_pat *rp, run_vars *v, const char *line)
{
    const sc_pattern *pat = rp->src;
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(rp->md);
    uint32_t npairs = pcre2_get_ovector_count(rp->md);
    for (size_t g = 0; g < pat->ngroups; g++) {
        int num = pcre2_substring_number_from_name(rp->re, (PCRE2_SPTR)pat->groups[g].name);
        if (num < 0 || (uint32_t)num >= npairs || ov[2 * num] == PCRE2_UNSET)
            run_vars_set(v, pat->groups[g].slot, "", 0, 0);
        else
            run_vars_set(v, pat->groups[g].slot, line + ov[2 * num], ov[2 * num + 1] - ov[2 * num], 0);
    }
}

int run_pat_match(run_pat *rp, run_vars *v, const char *line, size_t n, char *err, size_t errlen)
{
    if (rp->kind != SC_PAT_REGEX)
        return run_glob_match(rp->cells, rp->ncells, line, n);
    pcre2_match_context *mc = pcre2_match_context_create(NULL);
    if (!mc) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    pcre2_set_match_limit(mc, MATCH_LIMIT);
    pcre2_set_depth_limit(mc, DEPTH_LIMIT);
    int r = pcre2_match(rp->re, (PCRE2_SPTR)line, n, 0, 0, rp->md, mc);
    pcre2_match_context_free(mc);
    if (r >= 0) {
        store_groups(rp, v, line);
        return 1;
    }
    if (r == PCRE2_ERROR_NOMATCH)
        return 0;
    PCRE2_UCHAR msg[160];
    pcre2_get_error_message(r, msg, sizeof msg);
    snprintf(err, errlen, "regex %s: %s", rp->shown, (char *)msg);
    return -1;
}
