/* mr_scan.c -- see mr_scan.h. */
#include "proto/mr_scan.h"

#include <stdint.h>
#include <string.h>

#define ONES UINT64_C(0x0101010101010101)
#define HIGHS UINT64_C(0x8080808080808080)

/* Bit Twiddling Hacks: some byte of w is < n (n <= 128); some byte is > n (n <= 127). The
 * answers are exact for the word as a whole, which is all the fast path needs. */
static uint64_t has_less(uint64_t w, unsigned n)
{
    return (w - ONES * n) & ~w & HIGHS;
}

static uint64_t has_more(uint64_t w, unsigned n)
{
    return ((w + ONES * (127 - n)) | w) & HIGHS;
}

size_t mr_scan_printable(const char *p, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        if (has_less(w, 0x20) | has_more(w, 0x7E))
            break;
    }
    for (; i < n; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (ch < 0x20 || ch > 0x7E)
            return i;
    }
    return n;
}
