/* diag_judge.h -- internals of the diagnosis shared by its modules (not part of the diag.h
 * contract): the placeholder values of catalogue texts and their expansion. */
#ifndef MAILRIG_HARNESS_DIAG_JUDGE_H
#define MAILRIG_HARNESS_DIAG_JUDGE_H

#include <stddef.h>

/* The {placeholders} of diag_rule texts (diag.h), in this order. */
typedef enum diag_ph {
    DIAG_PH_HOST, DIAG_PH_PORT, DIAG_PH_PROTO, DIAG_PH_LABEL, DIAG_PH_WIRE, DIAG_PH_AUTH,
    DIAG_PH_USERNAME, DIAG_PH_EMAIL, DIAG_PH_REPLY, DIAG_PH_MECHS, DIAG_PH_LISTENER, DIAG_PH_OTHER,
    DIAG_PH_READINGS, DIAG_PH_FIX_HOST, DIAG_PH_FIX_PORT, DIAG_PH_FIX_LABEL, DIAG_PH_FIX_USERNAME,
    DIAG_PH_COUNT
} diag_ph;

/* Values of the placeholders; NULL = cannot be filled (the placeholder is left out). */
typedef struct diag_fill {
    const char *v[DIAG_PH_COUNT];
} diag_fill;

/* Expand src into out (cap bytes, always NUL-terminated, truncated when longer): each known
 * {name} becomes its value or nothing; any other text is copied. */
void diag_fill_expand(const char *src, const diag_fill *f, char *out, size_t cap);

#endif
