/* base64.c -- RFC 4648 base64; see base64.h. */
#include "base64.h"

#include <stdint.h>

static const char b64_alphabet[64] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Decode table: 0..63 for the alphabet; the special values all have bit 6 or 7 set, so one
 * OR over a quantum tells the hot loop whether all four characters are plain data. */
enum { B64_PAD = 0x40, B64_SPACE = 0x41, B64_BAD = 0xFF };

#define B64_ROW_BAD                                                                         \
    B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD,        \
        B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD

static const unsigned char b64_table[256] = {
    /* 0x00 */ B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD,
    B64_BAD, B64_SPACE /* HT */, B64_SPACE /* LF */, B64_BAD, B64_BAD, B64_SPACE /* CR */,
    B64_BAD, B64_BAD,
    /* 0x10 */ B64_ROW_BAD,
    /* 0x20 */ B64_SPACE /* SP */, B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD, B64_BAD,
    B64_BAD, B64_BAD, B64_BAD, B64_BAD, 62 /* + */, B64_BAD, B64_BAD, B64_BAD, 63 /* / */,
    /* 0x30 */ 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, B64_BAD, B64_BAD, B64_BAD,
    B64_PAD /* = */, B64_BAD, B64_BAD,
    /* 0x40 */ B64_BAD, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
    /* 0x50 */ 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, B64_BAD, B64_BAD, B64_BAD, B64_BAD,
    B64_BAD,
    /* 0x60 */ B64_BAD, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
    /* 0x70 */ 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, B64_BAD, B64_BAD, B64_BAD, B64_BAD,
    B64_BAD,
    /* 0x80 - 0xFF */ B64_ROW_BAD, B64_ROW_BAD, B64_ROW_BAD, B64_ROW_BAD,
    B64_ROW_BAD, B64_ROW_BAD, B64_ROW_BAD, B64_ROW_BAD,
};

size_t b64_encoded_len(size_t n)
{
    size_t quanta = n / 3 + (n % 3 != 0);
    if (quanta > SIZE_MAX / 4)
        return SIZE_MAX;
    return quanta * 4;
}

size_t b64_decoded_max(size_t n)
{
    return n / 4 * 3 + n % 4 * 3 / 4;
}

int b64_encode(const void *src, size_t n, char *dst, size_t cap, mr_error *err)
{
    size_t need = b64_encoded_len(n);
    if (need > MR_LIMIT_MAX)
        return mr_fail(err, MR_E_LIMIT_LITERAL, "base64", 0);
    if (dst == NULL || need > cap)
        return (int)need;
    const unsigned char *s = src;
    size_t i = 0, o = 0;
    for (; n - i >= 3; i += 3, o += 4) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
        dst[o] = b64_alphabet[v >> 18];
        dst[o + 1] = b64_alphabet[(v >> 12) & 63];
        dst[o + 2] = b64_alphabet[(v >> 6) & 63];
        dst[o + 3] = b64_alphabet[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)s[i] << 16 | (n - i == 2 ? (uint32_t)s[i + 1] << 8 : 0);
        dst[o] = b64_alphabet[v >> 18];
        dst[o + 1] = b64_alphabet[(v >> 12) & 63];
        dst[o + 2] = n - i == 2 ? b64_alphabet[(v >> 6) & 63] : '=';
        dst[o + 3] = '=';
    }
    return (int)need;
}

/* The decoder's progress through a partial quantum. */
typedef struct b64_state {
    unsigned char *out; /* NULL: count only */
    size_t cap, o;      /* output limit and bytes produced so far */
    unsigned q[4];      /* values of the pending characters of the current quantum */
    size_t qpos[4];     /* and their offsets, for error reports */
    unsigned nq;        /* pending characters (0..3) */
    unsigned npad;      /* '=' seen so far (0..2) */
} b64_state;

/* Emit the bytes of a quantum of nq (2..4) characters. */
static int b64_flush(b64_state *st, mr_error *err)
{
    size_t nbytes = st->nq - 1;
    if (nbytes > st->cap - st->o)
        return mr_fail(err, MR_E_LIMIT_LITERAL, "base64", st->qpos[0]);
    uint32_t v = st->q[0] << 18 | st->q[1] << 12 | (st->nq > 2 ? st->q[2] << 6 : 0) |
                 (st->nq > 3 ? st->q[3] : 0);
    if (st->out) {
        st->out[st->o] = (unsigned char)(v >> 16);
        if (nbytes > 1)
            st->out[st->o + 1] = (unsigned char)(v >> 8);
        if (nbytes > 2)
            st->out[st->o + 2] = (unsigned char)v;
    }
    st->o += nbytes;
    st->nq = 0;
    return 0;
}

/* RFC 4648 section 3.5: the bits of the last data character that fall into the padding
 * must be zero, or two encodings would decode to the same bytes. */
static int b64_padbits_ok(const b64_state *st)
{
    unsigned last = st->q[st->nq - 1];
    return st->nq == 2 ? (last & 0x0F) == 0 : (last & 0x03) == 0;
}

/* One '=' at offset i. Padding may start after 2 or 3 data characters; a second '=' is
 * allowed only after 2. */
static int b64_pad(b64_state *st, size_t i, unsigned flags, mr_error *err)
{
    if (st->npad == 0) {
        if (st->nq < 2)
            return mr_fail(err, MR_E_BASE64, "base64-pad", i);
        if (!(flags & B64_PADBITS_ANY) && !b64_padbits_ok(st))
            return mr_fail(err, MR_E_BASE64, "base64-padbits", st->qpos[st->nq - 1]);
        st->npad = 1;
        return 0;
    }
    if (st->npad == 1 && st->nq == 2) {
        st->npad = 2;
        return 0;
    }
    return mr_fail(err, MR_E_BASE64, "base64-pad", i);
}

/* The end of input: complete the last quantum, checking its padding. */
static int b64_finish(b64_state *st, size_t n, unsigned flags, mr_error *err)
{
    if (st->nq == 0)
        return 0;
    if (st->nq == 1)
        return mr_fail(err, MR_E_BASE64, "base64-length", st->qpos[0]);
    if (st->npad < 4 - st->nq) {
        if (!(flags & B64_PAD_OPTIONAL))
            return mr_fail(err, MR_E_BASE64, "base64-pad", n);
        if (st->npad == 0 && !(flags & B64_PADBITS_ANY) && !b64_padbits_ok(st))
            return mr_fail(err, MR_E_BASE64, "base64-padbits", st->qpos[st->nq - 1]);
    }
    return b64_flush(st, err);
}

int b64_decode(const char *src, size_t n, void *dst, size_t cap, unsigned flags, mr_error *err)
{
    const unsigned char *s = (const unsigned char *)src;
    b64_state st = {.out = dst, .cap = cap > MR_LIMIT_MAX ? MR_LIMIT_MAX : cap};
    size_t i = 0;
    for (;;) {
        /* Hot loop: whole quanta of four data characters, at a quantum boundary. */
        if (st.nq == 0 && st.npad == 0) {
            while (n - i >= 4) {
                unsigned a = b64_table[s[i]], b = b64_table[s[i + 1]];
                unsigned c = b64_table[s[i + 2]], d = b64_table[s[i + 3]];
                if ((a | b | c | d) & 0xC0)
                    break;
                if (st.cap - st.o < 3)
                    return mr_fail(err, MR_E_LIMIT_LITERAL, "base64", i);
                if (st.out) {
                    st.out[st.o] = (unsigned char)(a << 2 | b >> 4);
                    st.out[st.o + 1] = (unsigned char)(b << 4 | c >> 2);
                    st.out[st.o + 2] = (unsigned char)(c << 6 | d);
                }
                st.o += 3;
                i += 4;
            }
        }
        if (i >= n)
            break;
        /* One character at a time: whitespace, padding, the tail, errors. */
        unsigned v = b64_table[s[i]];
        if (v < 64) {
            if (st.npad)
                return mr_fail(err, MR_E_BASE64, "base64-pad", i);
            st.q[st.nq] = v;
            st.qpos[st.nq++] = i;
            if (st.nq == 4 && b64_flush(&st, err) != 0)
                return MR_ERROR;
        } else if (v == B64_PAD) {
            if (b64_pad(&st, i, flags, err) != 0)
                return MR_ERROR;
        } else if (v != B64_SPACE || !(flags & B64_SKIP_SPACE)) {
            return mr_fail(err, MR_E_BASE64, "base64-char", i);
        }
        i++;
    }
    if (b64_finish(&st, n, flags, err) != 0)
        return MR_ERROR;
    return (int)st.o;
}

int b64_is_char(unsigned char c)
{
    return b64_table[c] < 64;
}

size_t b64_span(const char *p, size_t n, size_t *data)
{
    size_t i = 0, pad = 0;
    while (i < n && b64_is_char((unsigned char)p[i]))
        i++;
    if (data)
        *data = i;
    while (i < n && p[i] == '=' && pad < 2) {
        i++;
        pad++;
    }
    return i;
}

int b64_syntax_check(const char *p, size_t n, size_t *bad)
{
    size_t k = b64_span(p, n, NULL);
    if (k < n) {
        *bad = k;
        return -1;
    }
    if (n % 4 != 0) {
        *bad = n;
        return -1;
    }
    return 0;
}
