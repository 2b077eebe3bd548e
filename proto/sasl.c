/* sasl.c -- SASL mechanism table, payload framing, PLAIN, LOGIN and CRAM-MD5; see sasl.h. */
#include "sasl.h"

#include <string.h>

#include "base64.h"
#include "mr_out.h"
#include "sasl_util.h"

sasl_limits sasl_limits_default(void)
{
    sasl_limits lim = SASL_LIMITS_DEFAULT;
    return lim;
}

/* ---- Mechanism names ------------------------------------------------------------------ */

#define CLEAR SASL_MECHF_CLEARTEXT
#define BEARER SASL_MECHF_BEARER
#define FIRST SASL_MECHF_CLIENT_FIRST
#define PARSED SASL_MECHF_PARSED
#define NOSECRET SASL_MECHF_NO_SECRET

static const struct {
    const char *name;
    unsigned flags;
} mech_table[SASL_MECH__COUNT] = {
    [SASL_MECH_UNKNOWN] = {"UNKNOWN", 0},
    [SASL_MECH_PLAIN] = {"PLAIN", CLEAR | FIRST | PARSED},
    /* LOGIN starts with a server prompt, though clients may send the username up front. */
    [SASL_MECH_LOGIN] = {"LOGIN", CLEAR | PARSED},
    [SASL_MECH_CRAM_MD5] = {"CRAM-MD5", PARSED},
    [SASL_MECH_DIGEST_MD5] = {"DIGEST-MD5", 0},
    [SASL_MECH_XOAUTH2] = {"XOAUTH2", BEARER | FIRST | PARSED},
    [SASL_MECH_OAUTHBEARER] = {"OAUTHBEARER", BEARER | FIRST | PARSED},
    [SASL_MECH_XOAUTH] = {"XOAUTH", BEARER | FIRST},
    [SASL_MECH_NTLM] = {"NTLM", FIRST},
    [SASL_MECH_GSSAPI] = {"GSSAPI", FIRST},
    [SASL_MECH_GSS_SPNEGO] = {"GSS-SPNEGO", FIRST},
    /* iCloud's ATOKEN is undocumented; treated as a client-first bearer token. */
    [SASL_MECH_ATOKEN] = {"ATOKEN", BEARER | FIRST},
    [SASL_MECH_SCRAM_SHA_1] = {"SCRAM-SHA-1", FIRST},
    [SASL_MECH_SCRAM_SHA_1_PLUS] = {"SCRAM-SHA-1-PLUS", FIRST},
    [SASL_MECH_SCRAM_SHA_256] = {"SCRAM-SHA-256", FIRST},
    [SASL_MECH_SCRAM_SHA_256_PLUS] = {"SCRAM-SHA-256-PLUS", FIRST},
    [SASL_MECH_EXTERNAL] = {"EXTERNAL", FIRST | NOSECRET},
    [SASL_MECH_ANONYMOUS] = {"ANONYMOUS", FIRST | NOSECRET},
    /* Gmail: a PLAIN message whose password is an OAuth token. */
    [SASL_MECH_PLAIN_CLIENTTOKEN] = {"PLAIN-CLIENTTOKEN", BEARER | FIRST | PARSED},
};

#undef CLEAR
#undef BEARER
#undef FIRST
#undef PARSED
#undef NOSECRET

sasl_mech sasl_mech_lookup(mr_slice name)
{
    for (int m = SASL_MECH_UNKNOWN + 1; m < SASL_MECH__COUNT; m++)
        if (mr_slice_eq_ci(name, mech_table[m].name))
            return (sasl_mech)m;
    return SASL_MECH_UNKNOWN;
}

const char *sasl_mech_name(sasl_mech m)
{
    if ((unsigned)m >= SASL_MECH__COUNT)
        m = SASL_MECH_UNKNOWN;
    return mech_table[m].name;
}

unsigned sasl_mech_flags(sasl_mech m)
{
    if ((unsigned)m >= SASL_MECH__COUNT)
        return 0;
    return mech_table[m].flags;
}

int sasl_mech_name_check(mr_slice name, mr_mode mode, mr_error *err)
{
    if (name.n == 0)
        return mr_fail(err, MR_E_EMPTY, "sasl-mech", 0);
    size_t n = sasl_min(name.n, 21);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name.p[i];
        if (i == 20)
            return mr_fail(err, MR_E_LIMIT_LITERAL, "sasl-mech", 20);
        int ok = (c >= 'A' && c <= 'Z') || sasl_is_digit(c) || c == '-' || c == '_' ||
                 (mode == MR_LENIENT && c >= 'a' && c <= 'z');
        if (!ok)
            return mr_fail(err, MR_E_SYNTAX, "sasl-mech", i);
    }
    return 0;
}

/* ---- Payload framing ------------------------------------------------------------------ */

static unsigned payload_b64_flags(mr_mode mode)
{
    return mode == MR_STRICT ? B64_STRICT : B64_LENIENT | B64_SKIP_SPACE;
}

/* Text that may stand as a SASL_PAYLOAD_TEXT challenge: it fits on a line and holds no NUL. */
static int payload_text_chars_ok(const char *p, size_t n)
{
    return !memchr(p, '\r', n) && !memchr(p, '\n', n) && !memchr(p, '\0', n);
}

int sasl_payload_decode(const char *p, size_t n, sasl_payload_role role, mr_mode mode,
                        void *dst, size_t cap, sasl_payload *out, mr_error *err)
{
    out->kind = SASL_PAYLOAD_EMPTY;
    out->raw.p = p;
    out->raw.n = n;
    out->len = 0;
    if (n == 0) {
        /* RFC 4954 section 4: an empty initial response is sent as "=", never as nothing. */
        if (role == SASL_INITIAL_RESPONSE && mode == MR_STRICT)
            return mr_fail(err, MR_E_EMPTY, "initial-response", 0);
        return 0;
    }
    if (n == 1 && p[0] == '=') {
        if (role != SASL_INITIAL_RESPONSE && mode == MR_STRICT)
            return mr_fail(err, MR_E_BASE64, "base64-pad", 0);
        return 0;
    }
    if (n == 1 && p[0] == '*' && role == SASL_CLIENT_RESPONSE) {
        out->kind = SASL_PAYLOAD_ABORT;
        return 0;
    }
    mr_error e;
    int r = b64_decode(p, n, dst, cap, payload_b64_flags(mode), &e);
    if (r < 0) {
        if (role == SASL_SERVER_CHALLENGE && mode == MR_LENIENT && e.code == MR_E_BASE64 &&
            payload_text_chars_ok(p, n)) {
            out->kind = SASL_PAYLOAD_TEXT;
            return 0;
        }
        return mr_fail(err, e.code, e.rule, e.offset);
    }
    out->kind = r > 0 ? SASL_PAYLOAD_DATA : SASL_PAYLOAD_EMPTY;
    out->len = (size_t)r;
    return 0;
}

/* Text a lenient reader would take for base64 cannot be written as SASL_PAYLOAD_TEXT. */
static int payload_text_ok(const char *p, size_t n)
{
    if (n == 0 || (n == 1 && p[0] == '=') || !payload_text_chars_ok(p, n))
        return 0;
    return b64_decode(p, n, NULL, MR_LIMIT_MAX, payload_b64_flags(MR_LENIENT), NULL) < 0;
}

int sasl_payload_write(sasl_payload_role role, sasl_payload_kind kind, const void *data,
                       size_t n, char *dst, size_t cap, mr_error *err)
{
    mr_out o;
    mr_out_init(&o, dst, cap);
    if (kind == SASL_PAYLOAD_DATA && n > 0)
        return b64_encode(data, n, dst, cap, err);
    switch (kind) {
    case SASL_PAYLOAD_DATA: /* an empty DATA message is written as EMPTY */
    case SASL_PAYLOAD_EMPTY:
        if (role == SASL_INITIAL_RESPONSE)
            mr_out_char(&o, '=');
        return sasl_write_done(&o, err);
    case SASL_PAYLOAD_ABORT:
        if (role != SASL_CLIENT_RESPONSE)
            return mr_fail(err, MR_E_SYNTAX, "payload", 0);
        mr_out_char(&o, '*');
        return sasl_write_done(&o, err);
    case SASL_PAYLOAD_TEXT:
        if (role != SASL_SERVER_CHALLENGE || !payload_text_ok(data, n))
            return mr_fail(err, MR_E_SYNTAX, "payload", 0);
        mr_out_put(&o, data, n);
        return sasl_write_done(&o, err);
    }
    return mr_fail(err, MR_E_SYNTAX, "payload", 0);
}

int sasl_response_line_parse(const char *buf, size_t len, mr_mode mode,
                             const sasl_limits *lim, size_t *scanned, void *dst, size_t cap,
                             sasl_payload *out, mr_error *err)
{
    sasl_limits tmp;
    lim = sasl_limits_or(lim, &tmp);
    mr_slice line;
    int r = mr_line_next(buf, len, lim->max_line, mode, scanned, &line, err);
    if (r <= 0)
        return r;
    cap = sasl_min(cap, lim->max_message);
    if (sasl_payload_decode(line.p, line.n, SASL_CLIENT_RESPONSE, mode, dst, cap, out, err))
        return MR_ERROR;
    return r;
}

int sasl_response_line_write(sasl_payload_kind kind, const void *data, size_t n, char *dst,
                             size_t cap, mr_error *err)
{
    int r = sasl_payload_write(SASL_CLIENT_RESPONSE, kind, data, n, dst, cap, err);
    if (r < 0)
        return r;
    size_t total = (size_t)r + 2;
    if (total > MR_LIMIT_MAX)
        return mr_fail(err, MR_E_LIMIT_LITERAL, "message", MR_LIMIT_MAX);
    if (dst && total <= cap)
        memcpy(dst + r, "\r\n", 2);
    return (int)total;
}

/* ---- Continuation lines passed on undecoded -------------------------------------------- */

int sasl_response_text_check(mr_slice line, mr_mode mode, unsigned flags, mr_slice *b64,
                             int *cancel, mr_error *err)
{
    *cancel = mr_slice_eq(line, "*");
    b64->p = line.p;
    b64->n = *cancel ? 0 : line.n;
    if (*cancel)
        return 0;
    if (flags & SASL_TEXT_WORD) {
        for (size_t i = 0; i < line.n; i++)
            if ((unsigned char)line.p[i] <= ' ' || (unsigned char)line.p[i] >= 0x7F)
                return mr_fail(err, MR_E_BASE64, "base64", i);
    }
    size_t bad;
    if (mode == MR_STRICT) {
        if (b64_syntax_check(line.p, line.n, &bad))
            return mr_fail(err, MR_E_BASE64, "base64", bad);
    } else if (!(flags & SASL_TEXT_WORD)) {
        if ((bad = b64_span(line.p, line.n, NULL)) != line.n)
            return mr_fail(err, MR_E_BASE64, "base64", bad);
    }
    return 0;
}

int sasl_response_text_write(mr_slice b64, int cancel, char *dst, size_t cap, mr_error *err)
{
    mr_out o;
    mr_out_init(&o, dst, cap);
    if (cancel) {
        mr_out_char(&o, '*');
    } else {
        for (size_t i = 0; i < b64.n; i++)
            if (!b64_is_char((unsigned char)b64.p[i]) && b64.p[i] != '=')
                return mr_fail(err, MR_E_BASE64, "base64", i);
        mr_out_slice(&o, b64);
    }
    mr_out_str(&o, "\r\n");
    return mr_out_result(&o, "base64", err);
}

/* ---- PLAIN ------------------------------------------------------------------------------ */

/* The field starting at msg[at] ends before a NUL that must come within max_field bytes:
 * set *nul to that NUL's offset, or fail. */
static int plain_field_end(const char *msg, size_t n, size_t at, size_t max_field,
                           const char *rule, size_t *nul, mr_error *err)
{
    size_t window = sasl_min(n - at, max_field + 1);
    const char *z = memchr(msg + at, '\0', window);
    if (z) {
        *nul = (size_t)(z - msg);
        return 0;
    }
    if (n - at > max_field)
        return mr_fail(err, MR_E_LIMIT_LITERAL, rule, at + max_field);
    return mr_fail(err, MR_E_SYNTAX, "message", n);
}

int sasl_plain_parse(const char *msg, size_t n, mr_mode mode, const sasl_limits *lim,
                     sasl_plain *out, mr_error *err)
{
    sasl_limits tmp;
    lim = sasl_limits_or(lim, &tmp);
    size_t maxf = sasl_min(lim->max_field, MR_LIMIT_MAX);
    if (n > lim->max_message)
        return mr_fail(err, MR_E_LIMIT_LITERAL, "message", lim->max_message);
    size_t z1 = 0, z2 = 0;
    if (plain_field_end(msg, n, 0, maxf, "authzid", &z1, err))
        return MR_ERROR;
    size_t c0 = z1 + 1;
    if (plain_field_end(msg, n, c0, maxf, "authcid", &z2, err))
        return MR_ERROR;
    size_t p0 = z2 + 1;
    if (z2 == c0)
        return mr_fail(err, MR_E_EMPTY, "authcid", c0);
    if (p0 == n)
        return mr_fail(err, MR_E_EMPTY, "passwd", n);
    const char *extra = memchr(msg + p0, '\0', sasl_min(n - p0, maxf));
    if (extra)
        return mr_fail(err, MR_E_NUL, "passwd", (size_t)(extra - msg));
    if (n - p0 > maxf)
        return mr_fail(err, MR_E_LIMIT_LITERAL, "passwd", p0 + maxf);
    out->authzid.p = msg;
    out->authzid.n = z1;
    out->authcid.p = msg + c0;
    out->authcid.n = z2 - c0;
    out->passwd.p = msg + p0;
    out->passwd.n = n - p0;
    if (mode == MR_STRICT) {
        /* RFC 4616 section 2: every field is 1*SAFE, UTF-8 encoded. */
        if (sasl_check_utf8(out->authzid, 0, "authzid", err) ||
            sasl_check_utf8(out->authcid, c0, "authcid", err) ||
            sasl_check_utf8(out->passwd, p0, "passwd", err))
            return MR_ERROR;
    }
    return 0;
}

static int plain_field_ok(mr_slice s, int required, const char *rule, mr_error *err)
{
    if (required && s.n == 0)
        return mr_fail(err, MR_E_EMPTY, rule, 0);
    const char *nul = s.n ? memchr(s.p, '\0', s.n) : NULL;
    if (nul)
        return mr_fail(err, MR_E_NUL, rule, (size_t)(nul - s.p));
    return 0;
}

int sasl_plain_write(const sasl_plain *m, char *dst, size_t cap, mr_error *err)
{
    if (plain_field_ok(m->authzid, 0, "authzid", err) ||
        plain_field_ok(m->authcid, 1, "authcid", err) ||
        plain_field_ok(m->passwd, 1, "passwd", err))
        return MR_ERROR;
    mr_out o;
    mr_out_init(&o, dst, cap);
    mr_out_slice(&o, m->authzid);
    mr_out_char(&o, '\0');
    mr_out_slice(&o, m->authcid);
    mr_out_char(&o, '\0');
    mr_out_slice(&o, m->passwd);
    return sasl_write_done(&o, err);
}

/* ---- LOGIN ------------------------------------------------------------------------------ */

static const struct {
    const char *text;
    size_t n;
    sasl_login_prompt prompt;
} login_prompts[] = {
    {"Username:", 9, SASL_LOGIN_PROMPT_USERNAME},  /* [MS-XLOGIN], most servers */
    {"User Name", 9, SASL_LOGIN_PROMPT_USERNAME},  /* the draft */
    {"User Name\0", 10, SASL_LOGIN_PROMPT_USERNAME}, /* Cyrus SASL */
    {"Password:", 9, SASL_LOGIN_PROMPT_PASSWORD},
    {"Password", 8, SASL_LOGIN_PROMPT_PASSWORD},
    {"Password\0", 9, SASL_LOGIN_PROMPT_PASSWORD},
};

/* MR_LENIENT: compare with the words ignoring case, spaces and a trailing ':' or NUL. */
static sasl_login_prompt login_prompt_loose(const char *msg, size_t n)
{
    while (n > 0 && (msg[n - 1] == ':' || msg[n - 1] == '\0' || msg[n - 1] == ' '))
        n--;
    char word[12];
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)msg[i];
        if (c == ' ')
            continue;
        if (!sasl_is_alpha(c) || w == sizeof word)
            return SASL_LOGIN_PROMPT_OTHER;
        word[w++] = (char)(c | 0x20);
    }
    mr_slice s = {word, w};
    if (mr_slice_eq(s, "username") || mr_slice_eq(s, "user"))
        return SASL_LOGIN_PROMPT_USERNAME;
    if (mr_slice_eq(s, "password"))
        return SASL_LOGIN_PROMPT_PASSWORD;
    return SASL_LOGIN_PROMPT_OTHER;
}

int sasl_login_challenge_parse(const char *msg, size_t n, mr_mode mode, const sasl_limits *lim,
                               sasl_login_challenge *out, mr_error *err)
{
    sasl_limits tmp;
    lim = sasl_limits_or(lim, &tmp);
    if (n > lim->max_field)
        return mr_fail(err, MR_E_LIMIT_LITERAL, "login-challenge", lim->max_field);
    if (mode == MR_STRICT) {
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)msg[i];
            if (c == 0 && i + 1 < n)
                return mr_fail(err, MR_E_NUL, "login-challenge", i);
            if (c != 0 && sasl_is_ctl(c))
                return mr_fail(err, MR_E_CTL, "login-challenge", i);
        }
        mr_slice s = {msg, n};
        if (sasl_check_utf8(s, 0, "login-challenge", err))
            return MR_ERROR;
    }
    out->text.p = msg;
    out->text.n = n;
    out->prompt = SASL_LOGIN_PROMPT_OTHER;
    for (size_t k = 0; k < sizeof login_prompts / sizeof login_prompts[0]; k++) {
        if (n == login_prompts[k].n && memcmp(msg, login_prompts[k].text, n) == 0) {
            out->prompt = login_prompts[k].prompt;
            return 0;
        }
    }
    if (mode == MR_LENIENT)
        out->prompt = login_prompt_loose(msg, n);
    return 0;
}

int sasl_login_challenge_write(const sasl_login_challenge *c, char *dst, size_t cap,
                               mr_error *err)
{
    mr_out o;
    mr_out_init(&o, dst, cap);
    if (c->text.p)
        mr_out_slice(&o, c->text);
    else if (c->prompt == SASL_LOGIN_PROMPT_USERNAME)
        mr_out_str(&o, "Username:");
    else if (c->prompt == SASL_LOGIN_PROMPT_PASSWORD)
        mr_out_str(&o, "Password:");
    else
        return mr_fail(err, MR_E_SYNTAX, "login-challenge", 0);
    return sasl_write_done(&o, err);
}

int sasl_login_response_parse(const char *msg, size_t n, mr_mode mode, const sasl_limits *lim,
                              mr_slice *value, mr_error *err)
{
    sasl_limits tmp;
    lim = sasl_limits_or(lim, &tmp);
    if (n > lim->max_field)
        return mr_fail(err, MR_E_LIMIT_LITERAL, "login-response", lim->max_field);
    mr_slice s = {msg, n};
    if (mode == MR_STRICT) {
        if (n == 0)
            return mr_fail(err, MR_E_EMPTY, "login-response", 0);
        const char *nul = memchr(msg, '\0', n);
        if (nul)
            return mr_fail(err, MR_E_NUL, "login-response", (size_t)(nul - msg));
        if (sasl_check_utf8(s, 0, "login-response", err))
            return MR_ERROR;
    }
    *value = s;
    return 0;
}

int sasl_login_response_write(mr_slice value, char *dst, size_t cap, mr_error *err)
{
    mr_out o;
    mr_out_init(&o, dst, cap);
    mr_out_slice(&o, value);
    return sasl_write_done(&o, err);
}

/* ---- CRAM-MD5 ----------------------------------------------------------------------------- */

/* host characters in MR_STRICT: a DNS name (letters, digits, '-', '.'), and '_' which
 * Windows host names carry. */
static int cram_strict_host_char(unsigned char c)
{
    return sasl_is_alpha(c) || sasl_is_digit(c) || c == '-' || c == '.' || c == '_';
}

/* Local part and host characters in MR_LENIENT: visible ASCII except the msg-id delimiters. */
static int cram_loose_char(unsigned char c)
{
    return c > 0x20 && c < 0x7F && c != '<' && c != '>' && c != '@';
}

/* Scan a run of characters of class ok starting at at, looking at no more than max + 1 of
 * them. Returns the end of the run. */
static size_t cram_span(const char *msg, size_t n, size_t at, size_t max, int (*ok)(unsigned char))
{
    size_t end = at + sasl_min(n - at, max + 1);
    size_t i = at;
    while (i < end && ok((unsigned char)msg[i]))
        i++;
    return i;
}

static int cram_is_digit(unsigned char c)
{
    return sasl_is_digit(c);
}

static int all_digits(mr_slice s)
{
    if (s.n == 0)
        return 0;
    for (size_t i = 0; i < s.n; i++)
        if (!sasl_is_digit((unsigned char)s.p[i]))
            return 0;
    return 1;
}

/* A run of class ok of 1..max characters starting at at, ending in the byte stop. */
static int cram_part(const char *msg, size_t n, size_t at, size_t max, int (*ok)(unsigned char),
                     char stop, const char *rule, mr_slice *part, mr_error *err)
{
    size_t end = cram_span(msg, n, at, max, ok);
    if (end - at > max)
        return mr_fail(err, MR_E_LIMIT_LITERAL, rule, at + max);
    if (end == n)
        return mr_fail(err, MR_E_SYNTAX, "msg-id", n);
    if (msg[end] != stop)
        return mr_fail(err, MR_E_SYNTAX, rule, end);
    if (end == at)
        return mr_fail(err, MR_E_EMPTY, rule, at);
    part->p = msg + at;
    part->n = end - at;
    return 0;
}

int sasl_cram_challenge_parse(const char *msg, size_t n, mr_mode mode, const sasl_limits *lim,
                              sasl_cram_challenge *out, mr_error *err)
{
    sasl_limits tmp;
    lim = sasl_limits_or(lim, &tmp);
    size_t maxf = sasl_min(lim->max_field, MR_LIMIT_MAX);
    if (n == 0 || msg[0] != '<')
        return mr_fail(err, MR_E_SYNTAX, "msg-id", 0);
    mr_slice random = {msg, 0}, timestamp = {msg, 0}, host = {msg, 0};
    size_t at = 1;
    if (mode == MR_STRICT) {
        if (cram_part(msg, n, at, maxf, cram_is_digit, '.', "random", &random, err))
            return MR_ERROR;
        at += random.n + 1;
        if (cram_part(msg, n, at, maxf, cram_is_digit, '@', "timestamp", &timestamp, err))
            return MR_ERROR;
        /* The limit is on the whole local part, as in MR_LENIENT. */
        if (random.n + 1 + timestamp.n > maxf)
            return mr_fail(err, MR_E_LIMIT_LITERAL, "timestamp", 1 + maxf);
        at += timestamp.n + 1;
        if (cram_part(msg, n, at, maxf, cram_strict_host_char, '>', "host", &host, err))
            return MR_ERROR;
    } else {
        mr_slice local = {msg, 0};
        if (cram_part(msg, n, at, maxf, cram_loose_char, '@', "random", &local, err))
            return MR_ERROR;
        at += local.n + 1;
        if (cram_part(msg, n, at, maxf, cram_loose_char, '>', "host", &host, err))
            return MR_ERROR;
        const char *dot = memchr(local.p, '.', local.n);
        mr_slice left = {local.p, dot ? (size_t)(dot - local.p) : 0};
        mr_slice right = {dot ? dot + 1 : local.p, dot ? local.n - left.n - 1 : 0};
        if (dot && all_digits(left) && all_digits(right)) {
            random = left;
            timestamp = right;
        } else {
            random = local;
            timestamp.p = local.p + local.n;
        }
    }
    size_t end = (size_t)(host.p - msg) + host.n + 1;
    if (end != n)
        return mr_fail(err, MR_E_TRAILING, "msg-id", end);
    out->text.p = msg;
    out->text.n = n;
    out->random = random;
    out->timestamp = timestamp;
    out->host = host;
    return 0;
}

static int cram_part_ok(mr_slice s, const char *rule, mr_error *err)
{
    if (s.n == 0)
        return mr_fail(err, MR_E_EMPTY, rule, 0);
    for (size_t i = 0; i < s.n; i++)
        if (!cram_loose_char((unsigned char)s.p[i]))
            return mr_fail(err, MR_E_SYNTAX, rule, i);
    return 0;
}

int sasl_cram_challenge_write(const sasl_cram_challenge *c, char *dst, size_t cap,
                              mr_error *err)
{
    if (cram_part_ok(c->random, "random", err) || cram_part_ok(c->host, "host", err))
        return MR_ERROR;
    if (c->timestamp.n) {
        if (!all_digits(c->random))
            return mr_fail(err, MR_E_SYNTAX, "random", 0);
        if (!all_digits(c->timestamp))
            return mr_fail(err, MR_E_SYNTAX, "timestamp", 0);
    } else {
        /* Without a timestamp, random must not read back as digits "." digits. */
        const char *dot = memchr(c->random.p, '.', c->random.n);
        if (dot) {
            mr_slice left = {c->random.p, (size_t)(dot - c->random.p)};
            mr_slice right = {dot + 1, c->random.n - left.n - 1};
            if (all_digits(left) && all_digits(right))
                return mr_fail(err, MR_E_SYNTAX, "random", left.n);
        }
    }
    mr_out o;
    mr_out_init(&o, dst, cap);
    mr_out_char(&o, '<');
    mr_out_slice(&o, c->random);
    if (c->timestamp.n) {
        mr_out_char(&o, '.');
        mr_out_slice(&o, c->timestamp);
    }
    mr_out_char(&o, '@');
    mr_out_slice(&o, c->host);
    mr_out_char(&o, '>');
    return sasl_write_done(&o, err);
}

static int hex_value(unsigned char c)
{
    if (sasl_is_digit(c))
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

enum { CRAM_DIGEST_HEX = 32 };

/* The user name: 1..max_field bytes, no control characters, UTF-8 in MR_STRICT. */
static int cram_user_check(mr_slice user, mr_mode mode, size_t max_field, mr_error *err)
{
    if (user.n == 0)
        return mr_fail(err, MR_E_EMPTY, "user", 0);
    if (user.n > max_field)
        return mr_fail(err, MR_E_LIMIT_LITERAL, "user", max_field);
    for (size_t i = 0; i < user.n; i++) {
        unsigned char c = (unsigned char)user.p[i];
        if (c == 0)
            return mr_fail(err, MR_E_NUL, "user", i);
        if (sasl_is_ctl(c))
            return mr_fail(err, MR_E_CTL, "user", i);
    }
    if (mode == MR_STRICT)
        return sasl_check_utf8(user, 0, "user", err);
    return 0;
}

int sasl_cram_response_parse(const char *msg, size_t n, mr_mode mode, const sasl_limits *lim,
                             sasl_cram_response *out, mr_error *err)
{
    sasl_limits tmp;
    lim = sasl_limits_or(lim, &tmp);
    size_t maxf = sasl_min(lim->max_field, MR_LIMIT_MAX);
    if (n > maxf + 1 + CRAM_DIGEST_HEX)
        return mr_fail(err, MR_E_LIMIT_LITERAL, "user", maxf);
    /* The digest is the text after the last SP, which must be 32 characters from the end. */
    size_t look = sasl_min(n, CRAM_DIGEST_HEX + 1);
    size_t sp = n;
    for (size_t k = 1; k <= look; k++) {
        if (msg[n - k] == ' ') {
            sp = n - k;
            break;
        }
    }
    if (sp == n) {
        if (n <= CRAM_DIGEST_HEX)
            return mr_fail(err, MR_E_SYNTAX, "cram-response", n);
        return mr_fail(err, MR_E_SYNTAX, "digest", n - CRAM_DIGEST_HEX - 1);
    }
    if (n - sp - 1 != CRAM_DIGEST_HEX)
        return mr_fail(err, MR_E_SYNTAX, "digest", sp + 1);
    mr_slice user = {msg, sp};
    if (cram_user_check(user, mode, maxf, err))
        return MR_ERROR;
    for (size_t i = sp + 1; i < n; i++) {
        unsigned char c = (unsigned char)msg[i];
        int upper = c >= 'A' && c <= 'F';
        if (hex_value(c) < 0 || (upper && mode == MR_STRICT))
            return mr_fail(err, MR_E_SYNTAX, "digest", i);
    }
    out->user = user;
    out->digest.p = msg + sp + 1;
    out->digest.n = CRAM_DIGEST_HEX;
    return 0;
}

int sasl_cram_response_write(const sasl_cram_response *r, char *dst, size_t cap,
                             mr_error *err)
{
    if (cram_user_check(r->user, MR_LENIENT, MR_LIMIT_MAX, err))
        return MR_ERROR;
    unsigned char md[16];
    if (sasl_cram_digest_decode(r->digest, md) != 0)
        return mr_fail(err, MR_E_SYNTAX, "digest", 0);
    mr_out o;
    mr_out_init(&o, dst, cap);
    mr_out_slice(&o, r->user);
    mr_out_char(&o, ' ');
    mr_out_slice(&o, r->digest);
    return sasl_write_done(&o, err);
}

int sasl_cram_digest_decode(mr_slice digest, unsigned char out[16])
{
    if (digest.n != CRAM_DIGEST_HEX)
        return -1;
    for (size_t i = 0; i < 16; i++) {
        int hi = hex_value((unsigned char)digest.p[2 * i]);
        int lo = hex_value((unsigned char)digest.p[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
}

void sasl_cram_digest_encode(const unsigned char md[16], char hex[32])
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < 16; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
}
