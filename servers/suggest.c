/* suggest.c -- see suggest.h. */
#include "servers/suggest.h"

#include <ctype.h>
#include <string.h>

enum { MAXW = 64 };

static int lower(char c)
{
    return tolower((unsigned char)c);
}

/* Optimal string alignment distance between a and b (both at most MAXW - 1 bytes). */
static size_t distance(const char *a, size_t na, const char *b, size_t nb)
{
    size_t d[MAXW][MAXW];
    for (size_t i = 0; i <= na; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= nb; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= na; i++) {
        for (size_t j = 1; j <= nb; j++) {
            size_t cost = lower(a[i - 1]) != lower(b[j - 1]);
            size_t best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best)
                best = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < best)
                best = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && lower(a[i - 1]) == lower(b[j - 2]) &&
                lower(a[i - 2]) == lower(b[j - 1]) && d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    }
    return d[na][nb];
}

/* Whether the shorter of a and b (at least 3 bytes) starts the longer one, ignoring case. */
static int prefix_of(const char *a, size_t na, const char *b, size_t nb)
{
    size_t m = na < nb ? na : nb;
    if (m < 3)
        return 0;
    for (size_t i = 0; i < m; i++)
        if (lower(a[i]) != lower(b[i]))
            return 0;
    return 1;
}

const char *suggest_closest(const char *word, size_t n, const char *const *cands, size_t ncands)
{
    if (n == 0 || n >= MAXW)
        return NULL;
    size_t allowed = n <= 4 ? 1 : n <= 8 ? 2 : 3;
    const char *best = NULL, *prefix = NULL;
    size_t best_d = allowed + 1, nprefix = 0;
    for (size_t i = 0; i < ncands; i++) {
        size_t nc = strlen(cands[i]);
        if (nc >= MAXW)
            continue;
        size_t dd = distance(word, n, cands[i], nc);
        if (dd < best_d) {
            best_d = dd;
            best = cands[i];
        }
        if (prefix_of(word, n, cands[i], nc)) {
            prefix = cands[i];
            nprefix++;
        }
    }
    /* a truncated or extended name ("implicit", "plaintext") when only one candidate fits */
    return best ? best : nprefix == 1 ? prefix : NULL;
}
