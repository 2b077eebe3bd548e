/* smtp_command.c -- see smtp_command.h. Grammar: RFC 5321 4.1.2 unless noted. */
#include "proto/smtp_command.h"

#include <stddef.h>
#include <string.h>

#include "proto/base64.h"
#include "proto/mr_out.h"
#include "proto/mr_scan.h"
#include "proto/sasl.h"

#define NO_OFFSET ((size_t)-1)

static const char *const verb_names[SMTP_VERB__COUNT] = {
    [SMTP_EHLO] = "EHLO", [SMTP_HELO] = "HELO", [SMTP_MAIL] = "MAIL",
    [SMTP_RCPT] = "RCPT", [SMTP_DATA] = "DATA", [SMTP_BDAT] = "BDAT",
    [SMTP_RSET] = "RSET", [SMTP_NOOP] = "NOOP", [SMTP_QUIT] = "QUIT",
    [SMTP_VRFY] = "VRFY", [SMTP_EXPN] = "EXPN", [SMTP_HELP] = "HELP",
    [SMTP_STARTTLS] = "STARTTLS", [SMTP_AUTH] = "AUTH",
};

const char *smtp_verb_name(smtp_verb verb)
{
    if ((unsigned)verb >= SMTP_VERB__COUNT || !verb_names[verb])
        return "?";
    return verb_names[verb];
}

smtp_command_limits smtp_command_limits_default(void)
{
    smtp_command_limits lim = {
        .max_line = 510,
        .max_auth_line = 12286,
        .max_params = SMTP_PARAMS_MAX,
        .max_chunk = MR_LIMIT_MAX,
        .smtputf8 = 0,
    };
    return lim;
}

/* ---- character classes ---- */

static int is_alpha(int ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z');
}

static int is_digit(int ch)
{
    return ch >= '0' && ch <= '9';
}

static int is_let_dig(int ch)
{
    return is_alpha(ch) || is_digit(ch);
}

static int is_hex(int ch)
{
    return is_digit(ch) || (ch >= 'A' && ch <= 'F') || (ch >= 'a' && ch <= 'f');
}

/* RFC 5322 atext (RFC 5321 4.1.2 Atom) */
static int is_atext(int ch)
{
    return is_let_dig(ch) || (ch > 0 && ch < 128 && strchr("!#$%&'*+-/=?^_`{|}~", ch) != NULL);
}

static unsigned char ascii_upper(unsigned char ch)
{
    return ch >= 'a' && ch <= 'z' ? (unsigned char)(ch - 32) : ch;
}

/* qtextSMTP: %d32-33 / %d35-91 / %d93-126 */
static int is_qtext(int ch)
{
    return ch == 32 || ch == 33 || (ch >= 35 && ch <= 91) || (ch >= 93 && ch <= 126);
}

/* esmtp-value: any CHAR excluding "=", SP and controls (%d33-60 / %d62-126) */
static int is_value_char(int ch)
{
    return ch >= 33 && ch <= 126 && ch != '=';
}

/* dcontent: %d33-90 / %d94-126 (printable, no "[", "\", "]") */
static int is_dcontent(int ch)
{
    return (ch >= 33 && ch <= 90) || (ch >= 94 && ch <= 126);
}

/* ---- cursor over one command line ---- */

typedef struct cur {
    const char *s;          /* the line (== the caller's buf) */
    size_t n;               /* its length without the line end (lenient: trailing blanks cut) */
    size_t i;               /* position */
    mr_mode mode;
    size_t first_8bit;      /* offset of the first non-ASCII byte, or NO_OFFSET */
    size_t n8bit;           /* non-ASCII characters seen */
    const char *rule_8bit;  /* the rule it appeared in */
    mr_error *err;
} cur;

static int fail(cur *c, mr_errcode code, const char *rule, size_t at)
{
    return mr_fail(c->err, code, rule, at);
}

static int peek(const cur *c)
{
    return c->i < c->n ? (unsigned char)c->s[c->i] : -1;
}

static int strict(const cur *c)
{
    return c->mode == MR_STRICT;
}

static int is_blank(const cur *c, int ch)
{
    return ch == ' ' || (ch == '\t' && c->mode == MR_LENIENT);
}

static mr_slice slice(const cur *c, size_t from, size_t to)
{
    mr_slice s = {c->s + from, to - from};
    return s;
}

/* One UTF-8 character at the cursor (a byte >= 0x80): check it, note the first one (whether
 * 8-bit is allowed is decided once the whole command is known), advance. */
static int utf8_char(cur *c, const char *rule)
{
    size_t i = c->i;
    unsigned char b = (unsigned char)c->s[i];
    size_t k = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : 2;
    if (k > c->n - i || mr_utf8_check(c->s + i, k) != k)
        return fail(c, MR_E_UTF8, rule, i);
    if (c->first_8bit == NO_OFFSET) {
        c->first_8bit = i;
        c->rule_8bit = rule;
    }
    c->n8bit++;
    c->i += k;
    return 0;
}

/* The separator between items: exactly one SP (strict), or a run of SP/HTAB (lenient). */
static int sep(cur *c, const char *rule)
{
    if (!is_blank(c, peek(c)))
        return fail(c, MR_E_SYNTAX, rule, c->i);
    c->i++;
    if (!strict(c))
        while (is_blank(c, peek(c)))
            c->i++;
    return 0;
}

static int expect_end(cur *c, const char *rule)
{
    if (c->i != c->n)
        return fail(c, MR_E_TRAILING, rule, c->i);
    return 0;
}

/* Every byte of the line must be text: NUL, CR and other controls are refused in both modes
 * (HTAB only in strict, where no rule allows it). 8-bit bytes are left to the grammar. */
static int check_controls(const char *s, size_t n, mr_mode mode, mr_error *err)
{
    for (size_t i = 0;; i++) {
        i += mr_scan_printable(s + i, n - i);
        if (i >= n)
            return 0;
        unsigned char ch = (unsigned char)s[i];
        if (ch >= 0x80 || (ch == '\t' && mode == MR_LENIENT))
            continue;
        mr_errcode code = ch == 0 ? MR_E_NUL : ch == '\r' ? MR_E_BARE_CR : MR_E_CTL;
        return mr_fail(err, code, "command-line", i);
    }
}

/* ---- domains and address literals (RFC 5321 4.1.2, 4.1.3) ---- */

/* Domain = sub-domain *("." sub-domain); sub-domain = Let-dig [Ldh-str] (RFC 6531: or a
 * U-label, here any UTF-8 in a label). Lenient also takes "_", edge hyphens and a final dot. */
static int parse_domain(cur *c, const char *rule)
{
    size_t start = c->i;
    for (;;) {
        size_t label = c->i;
        int last = -1;
        for (;;) {
            int ch = peek(c);
            if (ch >= 0x80) {
                if (utf8_char(c, rule))
                    return MR_ERROR;
                last = ch;
                continue;
            }
            int ok = is_let_dig(ch) || ch == '-' || (ch == '_' && !strict(c));
            if (!ok)
                break;
            if (strict(c) && ch == '-' && c->i == label)
                return fail(c, MR_E_SYNTAX, rule, c->i);
            last = ch;
            c->i++;
        }
        if (c->i == label) {
            if (!strict(c) && label > start && c->s[label - 1] == '.')
                break; /* lenient: "example.com." */
            return fail(c, MR_E_SYNTAX, rule, c->i);
        }
        if (strict(c) && last == '-')
            return fail(c, MR_E_SYNTAX, rule, c->i - 1);
        if (peek(c) != '.')
            break;
        c->i++;
    }
    if (strict(c) && c->i - start > 255) /* RFC 5321 4.5.3.1.2 */
        return fail(c, MR_E_LIMIT_LITERAL, rule, start);
    return 0;
}

/* Snum 3("." Snum), Snum = 1*3DIGIT with a value of 0..255 */
static int ipv4_valid(const char *p, size_t n)
{
    size_t i = 0;
    for (int part = 0; part < 4; part++) {
        if (part) {
            if (i >= n || p[i] != '.')
                return 0;
            i++;
        }
        size_t d = 0;
        unsigned v = 0;
        while (i < n && is_digit(p[i]) && d < 4) {
            v = v * 10 + (unsigned)(p[i] - '0');
            i++;
            d++;
        }
        if (d == 0 || d > 3 || v > 255)
            return 0;
    }
    return i == n;
}

/* IPv6-addr (RFC 5321 4.1.3): full, compressed ("::" stands for at least two groups, so at
 * most 6 others, or 4 with an IPv4 tail), each with an optional IPv4 tail. */
static int ipv6_valid(const char *p, size_t n)
{
    size_t i = 0;
    int groups = 0, dbl = 0, v4 = 0;
    if (n >= 2 && p[0] == ':' && p[1] == ':') {
        dbl = 1;
        i = 2;
    } else if (n > 0 && p[0] == ':') {
        return 0;
    }
    while (i < n) {
        size_t j = i;
        while (j < n && is_hex(p[j]) && j - i < 5)
            j++;
        if (j < n && p[j] == '.') {
            if (!ipv4_valid(p + i, n - i))
                return 0;
            v4 = 1;
            break;
        }
        if (j == i || j - i > 4)
            return 0;
        groups++;
        i = j;
        if (i == n)
            break;
        if (p[i] != ':')
            return 0;
        i++;
        if (i < n && p[i] == ':') {
            if (dbl)
                return 0;
            dbl = 1;
            i++;
        } else if (i == n) {
            return 0;
        }
    }
    if (dbl)
        return groups <= (v4 ? 4 : 6);
    return groups == (v4 ? 6 : 8);
}

/* General-address-literal = Standardized-tag ":" 1*dcontent, Standardized-tag = Ldh-str */
static int general_valid(const char *p, size_t n)
{
    const char *colon = memchr(p, ':', n);
    if (!colon || colon == p || (size_t)(colon - p) + 1 == n)
        return 0;
    for (const char *q = p; q < colon; q++)
        if (!is_let_dig(*q) && *q != '-')
            return 0;
    return colon[-1] != '-';
}

/* address-literal = "[" ( IPv4 / "IPv6:" IPv6-addr / General ) "]" */
static int parse_literal(cur *c, smtp_host_kind *kind)
{
    size_t open = c->i++;
    while (is_dcontent(peek(c)))
        c->i++;
    if (peek(c) != ']')
        return fail(c, MR_E_SYNTAX, "address-literal", c->i);
    const char *in = c->s + open + 1;
    size_t n = c->i - open - 1;
    c->i++;
    if (ipv4_valid(in, n)) {
        *kind = SMTP_HOST_IPV4;
    } else if (n >= 5 && mr_slice_eq_ci((mr_slice){in, 5}, "IPv6:")) {
        *kind = SMTP_HOST_IPV6;
        if (strict(c) && !ipv6_valid(in + 5, n - 5))
            return fail(c, MR_E_SYNTAX, "IPv6-addr", open + 6);
    } else {
        *kind = SMTP_HOST_GENERAL;
        if (strict(c) && (is_digit(in[0]) || !general_valid(in, n)))
            return fail(c, MR_E_SYNTAX, is_digit(n ? in[0] : 0) ? "IPv4-address-literal"
                                                               : "General-address-literal",
                        open + 1);
    }
    return 0;
}

/* Domain / address-literal */
static int parse_host(cur *c, mr_slice *out, smtp_host_kind *kind, int literal_ok,
                      const char *rule)
{
    size_t start = c->i;
    if (peek(c) == '[') {
        if (!literal_ok)
            return fail(c, MR_E_SYNTAX, rule, c->i);
        if (parse_literal(c, kind))
            return MR_ERROR;
    } else {
        if (parse_domain(c, rule))
            return MR_ERROR;
        *kind = SMTP_HOST_DOMAIN;
    }
    *out = slice(c, start, c->i);
    return 0;
}

/* ---- paths (RFC 5321 4.1.2) ---- */

/* Quoted-string = DQUOTE *QcontentSMTP DQUOTE */
static int parse_quoted(cur *c, const char *rule)
{
    size_t open = c->i++;
    for (;;) {
        int ch = peek(c);
        if (ch < 0)
            return fail(c, MR_E_SYNTAX, rule, open);
        if (ch == '"') {
            c->i++;
            return 0;
        }
        if (ch == '\\') { /* quoted-pairSMTP = "\" %d32-126 */
            c->i++;
            ch = peek(c);
            if (ch < 32 || ch > 126)
                return fail(c, MR_E_SYNTAX, rule, c->i);
            c->i++;
        } else if (ch >= 0x80) {
            if (utf8_char(c, rule))
                return MR_ERROR;
        } else if (is_qtext(ch)) {
            c->i++;
        } else {
            return fail(c, MR_E_SYNTAX, rule, c->i);
        }
    }
}

/* Dot-string = Atom *("." Atom); lenient takes any run of atext and dots. */
static int parse_dot_string(cur *c, const char *rule)
{
    size_t start = c->i;
    int prev_dot = 1; /* strict: an atom must come first and after every dot */
    for (;;) {
        int ch = peek(c);
        if (ch >= 0x80) {
            if (utf8_char(c, rule))
                return MR_ERROR;
            prev_dot = 0;
        } else if (is_atext(ch)) {
            c->i++;
            prev_dot = 0;
        } else if (ch == '.') {
            if (strict(c) && prev_dot)
                return fail(c, MR_E_SYNTAX, rule, c->i);
            c->i++;
            prev_dot = 1;
        } else {
            break;
        }
    }
    if (c->i == start || (strict(c) && prev_dot))
        return fail(c, MR_E_SYNTAX, rule, c->i);
    return 0;
}

static int parse_local_part(cur *c, smtp_path *path)
{
    size_t start = c->i;
    int r = peek(c) == '"' ? parse_quoted(c, "Quoted-string") : parse_dot_string(c, "Dot-string");
    if (r)
        return r;
    path->local = slice(c, start, c->i);
    if (strict(c) && path->local.n > 64) /* RFC 5321 4.5.3.1.1 */
        return fail(c, MR_E_LIMIT_LITERAL, "Local-part", start);
    return 0;
}

/* A-d-l = At-domain *( "," At-domain ) ":" ; At-domain = "@" Domain. Lenient only. */
static int parse_route(cur *c, smtp_path *path)
{
    if (strict(c)) /* RFC 5321 4.1.1.3, C: source routes are deprecated */
        return fail(c, MR_E_SYNTAX, "A-d-l", c->i);
    size_t start = c->i;
    for (;;) {
        if (peek(c) != '@')
            return fail(c, MR_E_SYNTAX, "A-d-l", c->i);
        c->i++;
        mr_slice d;
        smtp_host_kind k;
        if (parse_host(c, &d, &k, 1, "At-domain"))
            return MR_ERROR;
        if (peek(c) == ':')
            break;
        if (peek(c) != ',')
            return fail(c, MR_E_SYNTAX, "A-d-l", c->i);
        c->i++;
    }
    path->route = slice(c, start, c->i);
    c->i++; /* ":" */
    return 0;
}

/* Mailbox = Local-part "@" ( Domain / address-literal ), or "Postmaster" alone in RCPT. */
static int parse_mailbox(cur *c, smtp_path *path, int postmaster_ok)
{
    if (parse_local_part(c, path))
        return MR_ERROR;
    if (peek(c) != '@') {
        /* RCPT TO:<Postmaster> (RFC 5321 4.1.1.3) */
        if (postmaster_ok && mr_slice_eq_ci(path->local, "postmaster") && !path->route.n)
            return 0;
        return fail(c, MR_E_SYNTAX, "Mailbox", c->i);
    }
    c->i++;
    return parse_host(c, &path->domain, &path->domain_kind, 1, "Domain");
}

/* Reverse-path = Path / "<>" ; Forward-path = Path ; Path = "<" [ A-d-l ":" ] Mailbox ">" */
static int parse_path_inner(cur *c, smtp_path *path, int reverse)
{
    const char *rule = reverse ? "Reverse-path" : "Forward-path";
    size_t start = c->i;
    if (peek(c) != '<') {
        if (strict(c))
            return fail(c, MR_E_SYNTAX, rule, c->i);
        return parse_mailbox(c, path, !reverse); /* lenient: "MAIL FROM:a@b" */
    }
    path->bracketed = 1;
    c->i++;
    if (peek(c) == '>') {
        if (!reverse)
            return fail(c, MR_E_EMPTY, rule, c->i);
        path->null_path = 1;
        c->i++;
        return 0;
    }
    if (peek(c) == '@' && parse_route(c, path))
        return MR_ERROR;
    if (parse_mailbox(c, path, !reverse))
        return MR_ERROR;
    if (peek(c) != '>')
        return fail(c, MR_E_SYNTAX, rule, c->i);
    c->i++;
    if (strict(c) && c->i - start > 256) /* RFC 5321 4.5.3.1.3, punctuation included */
        return fail(c, MR_E_LIMIT_LITERAL, "Path", start);
    return 0;
}

static int parse_path(cur *c, smtp_path *path, int reverse)
{
    size_t before = c->n8bit;
    int r = parse_path_inner(c, path, reverse);
    path->utf8 = c->n8bit != before;
    return r;
}

/* ---- ESMTP parameters (RFC 5321 4.1.2 Mail-parameters, Rcpt-parameters) ---- */

/* esmtp-param *(SP esmtp-param), each preceded by the separator. */
static int parse_params(cur *c, smtp_command *cmd, size_t max_params)
{
    while (c->i < c->n) {
        if (sep(c, "esmtp-param"))
            return MR_ERROR;
        size_t key = c->i;
        if (!is_let_dig(peek(c)))
            return fail(c, MR_E_SYNTAX, "esmtp-keyword", c->i);
        while (is_let_dig(peek(c)) || peek(c) == '-')
            c->i++;
        smtp_param p = {.keyword = slice(c, key, c->i)};
        if (peek(c) == '=') {
            size_t val = ++c->i;
            for (int ch; (ch = peek(c)) >= 0;) {
                if (ch >= 0x80) {
                    if (utf8_char(c, "esmtp-value"))
                        return MR_ERROR;
                } else if (is_value_char(ch)) {
                    c->i++;
                } else {
                    break;
                }
            }
            if (strict(c) && c->i == val)
                return fail(c, MR_E_EMPTY, "esmtp-value", c->i);
            p.value = slice(c, val, c->i);
            p.has_value = 1;
        }
        if (c->i < c->n && !is_blank(c, peek(c)))
            return fail(c, MR_E_SYNTAX, p.has_value ? "esmtp-value" : "esmtp-keyword", c->i);
        if (cmd->nparams >= max_params)
            return fail(c, MR_E_LIMIT_COUNT, "esmtp-param", key);
        cmd->params[cmd->nparams++] = p;
    }
    return 0;
}

/* xtext = *( xchar / hexchar ) (RFC 3461 4): xchar is "!".."~" except "+" and "=";
 * hexchar = "+" 2(%x30-39 / %x41-46). Returns the offset of the first bad byte or n. */
static size_t xtext_bad(mr_slice v)
{
    for (size_t i = 0; i < v.n; i++) {
        unsigned char ch = (unsigned char)v.p[i];
        if (ch == '+') {
            for (int k = 1; k <= 2; k++) {
                unsigned char h = i + k < v.n ? (unsigned char)v.p[i + k] : 0;
                if (!is_digit(h) && !(h >= 'A' && h <= 'F'))
                    return i;
            }
            i += 2;
        } else if (ch < 33 || ch > 126 || ch == '=') {
            if (ch < 0x80) /* UTF-8 was checked by the parser (RFC 6533 utf-8-addr-unitext) */
                return i;
        }
    }
    return v.n;
}

static int one_of(mr_slice v, const char *const *words)
{
    for (; *words; words++)
        if (mr_slice_eq_ci(v, *words))
            return 1;
    return 0;
}

/* NOTIFY = "NEVER" / 1#( "SUCCESS" / "FAILURE" / "DELAY" ) (RFC 3461 4.1) */
static int notify_valid(mr_slice v)
{
    if (mr_slice_eq_ci(v, "NEVER"))
        return 1;
    static const char *const words[] = {"SUCCESS", "FAILURE", "DELAY", NULL};
    size_t at = 0;
    for (;;) {
        const char *comma = memchr(v.p + at, ',', v.n - at);
        size_t end = comma ? (size_t)(comma - v.p) : v.n;
        if (!one_of((mr_slice){v.p + at, end - at}, words))
            return 0;
        if (!comma)
            return 1;
        at = end + 1;
    }
}

/* ORCPT = addr-type ";" xtext (RFC 3461 4.2), addr-type an atom ("rfc822", "utf-8"). */
static size_t orcpt_bad(mr_slice v)
{
    const char *semi = memchr(v.p, ';', v.n);
    if (!semi || semi == v.p)
        return 0;
    for (const char *q = v.p; q < semi; q++)
        if (!is_atext((unsigned char)*q))
            return (size_t)(q - v.p);
    size_t at = (size_t)(semi - v.p) + 1;
    if (at == v.n)
        return at;
    mr_slice x = {v.p + at, v.n - at};
    return at + xtext_bad(x);
}

/* Check one known parameter; unknown keywords are the server's business (reply 555). */
static int check_param(cur *c, smtp_verb verb, const smtp_param *p)
{
    size_t at = (size_t)(p->value.p ? p->value.p - c->s : p->keyword.p - c->s);
    size_t kat = (size_t)(p->keyword.p - c->s);
    if (verb == SMTP_MAIL) {
        static const char *const body[] = {"7BIT", "8BITMIME", "BINARYMIME", NULL};
        static const char *const ret[] = {"FULL", "HDRS", NULL};
        if (mr_slice_eq_ci(p->keyword, "SIZE")) { /* RFC 1870: size-value = 1*20DIGIT */
            uint64_t size;
            if (!p->has_value || mr_parse_u64(p->value, UINT64_MAX, &size))
                return fail(c, MR_E_NUMBER, "size-value", at);
        } else if (mr_slice_eq_ci(p->keyword, "BODY")) { /* RFC 6152, RFC 3030 */
            if (!p->has_value || !one_of(p->value, body))
                return fail(c, MR_E_SYNTAX, "body-value", at);
        } else if (mr_slice_eq_ci(p->keyword, "SMTPUTF8") ||
                   mr_slice_eq_ci(p->keyword, "REQUIRETLS")) { /* RFC 6531, RFC 8689 */
            if (p->has_value)
                return fail(c, MR_E_SYNTAX, "esmtp-param", at);
        } else if (mr_slice_eq_ci(p->keyword, "RET")) { /* RFC 3461 4.3 */
            if (!p->has_value || !one_of(p->value, ret))
                return fail(c, MR_E_SYNTAX, "ret-value", at);
        } else if (mr_slice_eq_ci(p->keyword, "ENVID")) { /* RFC 3461 4.4: at most 100 */
            if (!p->has_value || p->value.n > 100 || xtext_bad(p->value) != p->value.n)
                return fail(c, MR_E_SYNTAX, "envid-value", at);
        } else if (mr_slice_eq_ci(p->keyword, "AUTH")) { /* RFC 4954 5: xtext or "<>" */
            if (!p->has_value || xtext_bad(p->value) != p->value.n)
                return fail(c, MR_E_SYNTAX, "auth-param", at);
        }
    } else if (verb == SMTP_RCPT) {
        if (mr_slice_eq_ci(p->keyword, "NOTIFY")) {
            if (!p->has_value || !notify_valid(p->value))
                return fail(c, MR_E_SYNTAX, "notify-esmtp-value", at);
        } else if (mr_slice_eq_ci(p->keyword, "ORCPT")) {
            if (!p->has_value || orcpt_bad(p->value) != p->value.n)
                return fail(c, MR_E_SYNTAX, "orcpt-parameter", at);
        }
    } else if (!mr_slice_eq_ci(p->keyword, "SMTPUTF8") || p->has_value) {
        /* VRFY, EXPN: "SMTPUTF8" is the only parameter (RFC 6531 3.7.4.2) */
        return fail(c, MR_E_SYNTAX, "esmtp-param", kat);
    }
    return 0;
}

/* Strict: each known parameter well-formed, no keyword twice. */
static int check_params(cur *c, const smtp_command *cmd)
{
    for (size_t k = 0; k < cmd->nparams; k++) {
        const smtp_param *p = &cmd->params[k];
        for (size_t j = 0; j < k; j++)
            if (mr_slices_eq_ci(p->keyword, cmd->params[j].keyword))
                return fail(c, MR_E_SYNTAX, "esmtp-param", (size_t)(p->keyword.p - c->s));
        if (check_param(c, cmd->verb, p))
            return MR_ERROR;
    }
    return 0;
}

/* ---- the verbs ---- */

/* String = Atom / Quoted-string */
static int parse_string(cur *c, mr_slice *out, const char *rule)
{
    size_t start = c->i;
    if (peek(c) == '"') {
        if (parse_quoted(c, rule))
            return MR_ERROR;
    } else {
        while (peek(c) >= 0 && (is_atext(peek(c)) || peek(c) >= 0x80)) {
            if (peek(c) >= 0x80) {
                if (utf8_char(c, rule))
                    return MR_ERROR;
            } else {
                c->i++;
            }
        }
        if (c->i == start)
            return fail(c, MR_E_SYNTAX, rule, c->i);
    }
    *out = slice(c, start, c->i);
    return 0;
}

/* Lenient text argument: everything to the end (controls were refused already). */
static int rest_text(cur *c, mr_slice *out, const char *rule)
{
    size_t start = c->i;
    while (c->i < c->n) {
        if (peek(c) >= 0x80) {
            if (utf8_char(c, rule))
                return MR_ERROR;
        } else {
            c->i++;
        }
    }
    *out = slice(c, start, c->n);
    return 0;
}

/* ehlo = "EHLO" SP ( Domain / address-literal ); helo = "HELO" SP Domain */
static int parse_helo(cur *c, smtp_command *cmd)
{
    const char *rule = cmd->verb == SMTP_EHLO ? "ehlo" : "helo";
    if (sep(c, rule))
        return MR_ERROR;
    if (strict(c)) {
        if (parse_host(c, &cmd->domain, &cmd->domain_kind, cmd->verb == SMTP_EHLO, "Domain"))
            return MR_ERROR;
        return expect_end(c, rule);
    }
    /* Lenient: the first token, whatever it is ("EHLO my_pc", "HELO [10.0.0.1] extra"). */
    size_t start = c->i;
    while (c->i < c->n && !is_blank(c, peek(c))) {
        if (peek(c) >= 0x80) {
            if (utf8_char(c, "Domain"))
                return MR_ERROR;
        } else {
            c->i++;
        }
    }
    cmd->domain = slice(c, start, c->i);
    cmd->domain_kind = SMTP_HOST_DOMAIN;
    if (cmd->domain.n >= 2 && cmd->domain.p[0] == '[' && cmd->domain.p[cmd->domain.n - 1] == ']') {
        cur lit = *c;
        lit.i = start;
        lit.n = c->i;
        smtp_host_kind kind;
        if (parse_literal(&lit, &kind) == 0 && lit.i == c->i)
            cmd->domain_kind = kind;
    }
    c->i = c->n;
    return 0;
}

/* mail = "MAIL FROM:" Reverse-path [SP Mail-parameters]
 * rcpt = "RCPT TO:" ( "<Postmaster@" Domain ">" / "<Postmaster>" / Forward-path )
 *        [SP Rcpt-parameters] */
static int parse_mail_rcpt(cur *c, smtp_command *cmd, const smtp_command_limits *lim)
{
    int mail = cmd->verb == SMTP_MAIL;
    const char *rule = mail ? "mail" : "rcpt";
    const char *kw = mail ? "FROM:" : "TO:";
    size_t kwn = strlen(kw);
    if (sep(c, rule))
        return MR_ERROR;
    if (c->n - c->i < kwn || !mr_slice_eq_ci(slice(c, c->i, c->i + kwn), kw)) {
        /* lenient: "FROM :" */
        size_t at = c->i;
        if (strict(c) || c->n - c->i < kwn - 1 ||
            !mr_slice_eq_ci(slice(c, c->i, c->i + kwn - 1), mail ? "FROM" : "TO"))
            return fail(c, MR_E_SYNTAX, rule, at);
        c->i += kwn - 1;
        while (is_blank(c, peek(c)))
            c->i++;
        if (peek(c) != ':')
            return fail(c, MR_E_SYNTAX, rule, at);
        c->i++;
    } else {
        c->i += kwn;
    }
    if (!strict(c)) /* "MAIL FROM: <a@b>" */
        while (is_blank(c, peek(c)))
            c->i++;
    if (parse_path(c, &cmd->path, mail))
        return MR_ERROR;
    if (parse_params(c, cmd, lim->max_params))
        return MR_ERROR;
    return strict(c) ? check_params(c, cmd) : 0;
}

/* bdat-cmd = "BDAT" SP chunk-size [ SP end-marker ] (RFC 3030 2) */
static int parse_bdat(cur *c, smtp_command *cmd, const smtp_command_limits *lim)
{
    if (sep(c, "bdat-cmd"))
        return MR_ERROR;
    size_t start = c->i;
    while (is_digit(peek(c)))
        c->i++;
    if (c->i == start)
        return fail(c, MR_E_NUMBER, "chunk-size", start);
    uint64_t max = lim->max_chunk < MR_LIMIT_MAX ? lim->max_chunk : MR_LIMIT_MAX;
    if (c->i - start > 20 || mr_parse_u64(slice(c, start, c->i), max, &cmd->chunk_size))
        return fail(c, MR_E_LIMIT_LITERAL, "chunk-size", start);
    if (c->i < c->n) {
        if (sep(c, "bdat-cmd"))
            return MR_ERROR;
        if (c->n - c->i < 4 || !mr_slice_eq_ci(slice(c, c->i, c->i + 4), "LAST"))
            return fail(c, MR_E_SYNTAX, "end-marker", c->i);
        c->i += 4;
        cmd->last = 1;
    }
    return expect_end(c, "bdat-cmd");
}

/* auth-command = "AUTH" SP sasl-mech [SP initial-response] ; initial-response = base64 / "="
 * sasl-mech = 1*20(UPPER-ALPHA / DIGIT / "-" / "_") (RFC 4422 3.1) */
static int parse_auth(cur *c, smtp_command *cmd)
{
    if (sep(c, "auth-command"))
        return MR_ERROR;
    size_t start = c->i;
    for (int ch; (ch = peek(c)) >= 0; c->i++) {
        int ok = (ch >= 'A' && ch <= 'Z') || is_digit(ch) || ch == '-' || ch == '_' ||
                 (!strict(c) && ch >= 'a' && ch <= 'z');
        if (!ok)
            break;
    }
    size_t mlen = c->i - start;
    if (mlen == 0 || mlen > 20)
        return fail(c, MR_E_SYNTAX, "sasl-mech", start);
    if (c->i < c->n && !is_blank(c, peek(c)))
        return fail(c, MR_E_SYNTAX, "sasl-mech", c->i);
    cmd->mechanism = slice(c, start, c->i);
    if (c->i == c->n)
        return 0;
    if (sep(c, "auth-command"))
        return MR_ERROR;
    size_t ir = c->i;
    while (c->i < c->n && peek(c) > ' ' && peek(c) < 0x7F)
        c->i++;
    if (c->i == ir)
        return fail(c, MR_E_SYNTAX, "initial-response", ir);
    cmd->has_initial_response = 1;
    mr_slice v = slice(c, ir, c->i);
    if (!mr_slice_eq(v, "=")) {
        size_t bad;
        if (strict(c) && b64_syntax_check(v.p, v.n, &bad))
            return fail(c, MR_E_BASE64, "initial-response", ir + bad);
        cmd->initial_response = v;
    }
    return expect_end(c, "auth-command");
}

/* vrfy = "VRFY" SP String [SP "SMTPUTF8"]; expn likewise (RFC 6531 3.7.4.2).
 * help = "HELP" [ SP String ]; noop = "NOOP" [ SP String ] */
static int parse_string_verb(cur *c, smtp_command *cmd, const smtp_command_limits *lim)
{
    int required = cmd->verb == SMTP_VRFY || cmd->verb == SMTP_EXPN;
    const char *rule = cmd->verb == SMTP_VRFY   ? "vrfy"
                       : cmd->verb == SMTP_EXPN ? "expn"
                       : cmd->verb == SMTP_HELP ? "help"
                                                : "noop";
    if (c->i == c->n) {
        if (required)
            return fail(c, MR_E_EMPTY, rule, c->i);
        return 0;
    }
    if (sep(c, rule))
        return MR_ERROR;
    if (!strict(c))
        return rest_text(c, &cmd->string, "String");
    if (parse_string(c, &cmd->string, "String"))
        return MR_ERROR;
    if (!required)
        return expect_end(c, rule);
    if (parse_params(c, cmd, lim->max_params))
        return MR_ERROR;
    return check_params(c, cmd);
}

static smtp_verb lookup_verb(mr_slice token)
{
    char up[8];
    if (token.n != 4 && token.n != 8) /* every verb has 4 letters but STARTTLS */
        return SMTP_VERB_NONE;
    for (size_t i = 0; i < token.n; i++)
        up[i] = (char)ascii_upper((unsigned char)token.p[i]);
    for (int v = SMTP_EHLO; v < SMTP_VERB__COUNT; v++)
        if ((verb_names[v][4] ? 8u : 4u) == token.n && memcmp(up, verb_names[v], token.n) == 0)
            return (smtp_verb)v;
    return SMTP_VERB_NONE;
}

static int starts_auth(const char *buf, size_t len)
{
    static const char auth[] = "AUTH ";
    for (size_t i = 0; i < len && i < 5; i++) {
        char ch = buf[i];
        if (ch >= 'a' && ch <= 'z')
            ch = (char)(ch - 32);
        if (ch != auth[i])
            return 0;
    }
    return 1;
}

static int parse_line(cur *c, smtp_command *cmd, const smtp_command_limits *lim)
{
    size_t v = 0;
    while (v < c->n && !is_blank(c, (unsigned char)c->s[v]))
        v++;
    if (v == 0)
        return fail(c, MR_E_EMPTY, "command", 0);
    cmd->verb_text = slice(c, 0, v);
    cmd->verb = lookup_verb(cmd->verb_text);
    if (cmd->verb == SMTP_VERB_NONE)
        return fail(c, MR_E_UNKNOWN_COMMAND, "command", 0);
    c->i = v;
    size_t arg = v;
    while (arg < c->n && is_blank(c, (unsigned char)c->s[arg]) && (arg == v || !strict(c)))
        arg++;
    cmd->arg = slice(c, arg, c->n);
    switch (cmd->verb) {
    case SMTP_EHLO:
    case SMTP_HELO:
        return parse_helo(c, cmd);
    case SMTP_MAIL:
    case SMTP_RCPT:
        return parse_mail_rcpt(c, cmd, lim);
    case SMTP_BDAT:
        return parse_bdat(c, cmd, lim);
    case SMTP_AUTH:
        return parse_auth(c, cmd);
    case SMTP_VRFY:
    case SMTP_EXPN:
    case SMTP_HELP:
    case SMTP_NOOP:
        return parse_string_verb(c, cmd, lim);
    default: /* DATA, RSET, QUIT, STARTTLS take nothing */
        return expect_end(c, smtp_verb_name(cmd->verb));
    }
}

/* The line limit for a line starting with buf: AUTH lines may be longer (RFC 4954 4). */
static size_t line_limit(const char *buf, size_t len, const smtp_command_limits *lim)
{
    return starts_auth(buf, len) && lim->max_auth_line > lim->max_line ? lim->max_auth_line
                                                                       : lim->max_line;
}

int smtp_command_parse(const char *buf, size_t len, mr_mode mode,
                       const smtp_command_limits *lim, size_t *scanned, smtp_command *cmd,
                       mr_error *err)
{
    smtp_command_limits def;
    if (!lim) {
        def = smtp_command_limits_default();
        lim = &def;
    }
    mr_slice line;
    int r = mr_line_next(buf, len, line_limit(buf, len, lim), mode, scanned, &line, err);
    if (r <= 0) {
        if (r == MR_ERROR && err && err->code == MR_E_LIMIT_LINE)
            err->rule = "command-line";
        return r;
    }
    if (check_controls(line.p, line.n, mode, err))
        return MR_ERROR;
    memset(cmd, 0, offsetof(smtp_command, params)); /* params[] is filled as it is parsed */
    cur c = {.s = buf, .n = line.n, .mode = mode, .first_8bit = NO_OFFSET, .err = err};
    if (mode == MR_LENIENT)
        while (c.n > 0 && (buf[c.n - 1] == ' ' || buf[c.n - 1] == '\t'))
            c.n--;
    size_t max_params = lim->max_params < SMTP_PARAMS_MAX ? lim->max_params : SMTP_PARAMS_MAX;
    smtp_command_limits eff = *lim;
    eff.max_params = max_params;
    if (parse_line(&c, cmd, &eff))
        return MR_ERROR;
    /* 8-bit bytes: strict wants SMTPUTF8 in effect, or on this very command (RFC 6531 3.4). */
    if (mode == MR_STRICT && c.first_8bit != NO_OFFSET && !lim->smtputf8 &&
        !((cmd->verb == SMTP_MAIL || cmd->verb == SMTP_VRFY || cmd->verb == SMTP_EXPN) &&
          smtp_command_param(cmd, "SMTPUTF8")))
        return mr_fail(err, MR_E_8BIT, c.rule_8bit, c.first_8bit);
    return r;
}

int smtp_auth_response_parse(const char *buf, size_t len, mr_mode mode,
                             const smtp_command_limits *lim, mr_slice *response, int *cancel,
                             mr_error *err)
{
    size_t max = lim ? lim->max_auth_line : smtp_command_limits_default().max_auth_line;
    mr_slice line;
    int r = mr_line_next(buf, len, max, mode, NULL, &line, err);
    if (r <= 0)
        return r;
    if (check_controls(line.p, line.n, MR_STRICT, err) ||
        sasl_response_text_check(line, mode, SASL_TEXT_WORD, response, cancel, err))
        return MR_ERROR;
    return r;
}

const smtp_param *smtp_command_param(const smtp_command *cmd, const char *keyword)
{
    for (size_t k = 0; k < cmd->nparams && k < SMTP_PARAMS_MAX; k++)
        if (mr_slice_eq_ci(cmd->params[k].keyword, keyword))
            return &cmd->params[k];
    return NULL;
}

/* ---- writer ---- */

static int need(mr_slice s, const char *rule, mr_error *err)
{
    return s.n ? 0 : mr_fail(err, MR_E_EMPTY, rule, 0);
}

static int write_path(mr_out *o, const smtp_path *p, mr_error *err)
{
    mr_out_char(o, '<');
    if (!p->null_path) {
        if (need(p->local, "Local-part", err) ||
            mr_out_field_check(p->local, 1, "Local-part", err) ||
            mr_out_field_check(p->route, 0, "A-d-l", err) ||
            mr_out_field_check(p->domain, 0, "Domain", err))
            return MR_ERROR;
        if (p->route.n) {
            mr_out_slice(o, p->route);
            mr_out_char(o, ':');
        }
        mr_out_slice(o, p->local);
        if (p->domain.n) {
            mr_out_char(o, '@');
            mr_out_slice(o, p->domain);
        }
    }
    mr_out_char(o, '>');
    return 0;
}

static int write_params(mr_out *o, const smtp_command *cmd, mr_error *err)
{
    if (cmd->nparams > SMTP_PARAMS_MAX)
        return mr_fail(err, MR_E_LIMIT_COUNT, "esmtp-param", 0);
    for (size_t k = 0; k < cmd->nparams; k++) {
        const smtp_param *p = &cmd->params[k];
        if (need(p->keyword, "esmtp-keyword", err) ||
            mr_out_field_check(p->keyword, 0, "esmtp-keyword", err) ||
            mr_out_field_check(p->value, 0, "esmtp-value", err))
            return MR_ERROR;
        mr_out_char(o, ' ');
        mr_out_slice(o, p->keyword);
        if (p->has_value) {
            mr_out_char(o, '=');
            mr_out_slice(o, p->value);
        }
    }
    return 0;
}

static int write_args(mr_out *o, const smtp_command *cmd, mr_error *err)
{
    switch (cmd->verb) {
    case SMTP_EHLO:
    case SMTP_HELO:
        if (need(cmd->domain, "Domain", err) || mr_out_field_check(cmd->domain, 0, "Domain", err))
            return MR_ERROR;
        mr_out_char(o, ' ');
        mr_out_slice(o, cmd->domain);
        return 0;
    case SMTP_MAIL:
    case SMTP_RCPT:
        mr_out_str(o, cmd->verb == SMTP_MAIL ? " FROM:" : " TO:");
        if (write_path(o, &cmd->path, err))
            return MR_ERROR;
        return write_params(o, cmd, err);
    case SMTP_BDAT:
        mr_out_char(o, ' ');
        mr_out_u64(o, cmd->chunk_size);
        if (cmd->last)
            mr_out_str(o, " LAST");
        return 0;
    case SMTP_AUTH:
        if (need(cmd->mechanism, "sasl-mech", err) ||
            mr_out_field_check(cmd->mechanism, 0, "sasl-mech", err) ||
            mr_out_field_check(cmd->initial_response, 0, "initial-response", err))
            return MR_ERROR;
        mr_out_char(o, ' ');
        mr_out_slice(o, cmd->mechanism);
        if (cmd->has_initial_response) {
            mr_out_char(o, ' ');
            if (cmd->initial_response.n)
                mr_out_slice(o, cmd->initial_response);
            else
                mr_out_char(o, '='); /* RFC 4954 4: an empty initial response */
        }
        return 0;
    case SMTP_VRFY:
    case SMTP_EXPN:
    case SMTP_HELP:
    case SMTP_NOOP:
        if ((cmd->verb == SMTP_VRFY || cmd->verb == SMTP_EXPN) && need(cmd->string, "String", err))
            return MR_ERROR;
        if (mr_out_field_check(cmd->string, 1, "String", err))
            return MR_ERROR;
        if (cmd->string.n) {
            mr_out_char(o, ' ');
            mr_out_slice(o, cmd->string);
        }
        return cmd->verb == SMTP_VRFY || cmd->verb == SMTP_EXPN ? write_params(o, cmd, err) : 0;
    default:
        return 0;
    }
}

int smtp_command_write(char *dst, size_t cap, const smtp_command *cmd, mr_error *err)
{
    if ((unsigned)cmd->verb >= SMTP_VERB__COUNT || cmd->verb == SMTP_VERB_NONE)
        return mr_fail(err, MR_E_SYNTAX, "command", 0);
    mr_out o;
    mr_out_init(&o, dst, cap);
    mr_out_str(&o, verb_names[cmd->verb]);
    if (write_args(&o, cmd, err))
        return MR_ERROR;
    mr_out_str(&o, "\r\n");
    return mr_out_result(&o, "command", err);
}

int smtp_auth_response_write(char *dst, size_t cap, mr_slice response, int cancel,
                             mr_error *err)
{
    return sasl_response_text_write(response, cancel, dst, cap, err);
}
