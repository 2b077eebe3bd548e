/* textline.c -- see textline.h. */
#include "servers/textline.h"

#include <string.h>

int textline_next(const char *text, size_t len, size_t *pos, const char **line, size_t *n)
{
    if (*pos >= len)
        return 0;
    const char *p = text + *pos;
    size_t rest = len - *pos;
    const char *nl = memchr(p, '\n', rest);
    size_t k = nl ? (size_t)(nl - p) : rest;
    int first = *pos == 0;
    *pos += k + (nl != NULL);
    if (first && k >= 3 && !memcmp(p, "\xEF\xBB\xBF", 3)) {
        p += 3;
        k -= 3;
    }
    *line = p;
    *n = k;
    return 1;
}
