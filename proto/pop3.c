/* pop3.c -- see pop3.h. */
#include "proto/pop3.h"

#include <string.h>

#include "proto/base64.h"
#include "proto/dotstream.h"
#include "proto/mr_out.h"
#include "proto/mr_scan.h"
#include "proto/sasl.h"

#define RFC_ARG_MAX 40       /* RFC 2449 3: an argument is at most 40 octets */
#define RFC_STATUS_LINE 510  /* RFC 2449 4: 512 octets with CRLF */

static const char *const verb_names[POP3_VERB__COUNT] = {
    [POP3_USER] = "USER", [POP3_PASS] = "PASS", [POP3_APOP] = "APOP", [POP3_STAT] = "STAT",
    [POP3_LIST] = "LIST", [POP3_RETR] = "RETR", [POP3_DELE] = "DELE", [POP3_NOOP] = "NOOP",
    [POP3_RSET] = "RSET", [POP3_QUIT] = "QUIT", [POP3_TOP] = "TOP",   [POP3_UIDL] = "UIDL",
    [POP3_CAPA] = "CAPA", [POP3_STLS] = "STLS", [POP3_AUTH] = "AUTH",
};

const char *pop3_verb_name(pop3_verb verb)
{
    if ((unsigned)verb >= POP3_VERB__COUNT || !verb_names[verb])
        return "?";
    return verb_names[verb];
}

pop3_limits pop3_limits_default(void)
{
    pop3_limits lim = {
        .max_line = 253,
        .max_auth_line = 12286,
        .max_resp_line = 12286,
        .max_number = UINT32_MAX,
    };
    return lim;
}

static const pop3_limits *limits_or_default(const pop3_limits *lim, pop3_limits *def)
{
    if (lim)
        return lim;
    *def = pop3_limits_default();
    return def;
}

static int is_digit(int ch)
{
    return ch >= '0' && ch <= '9';
}

static int is_blank(int ch, mr_mode mode)
{
    return ch == ' ' || (ch == '\t' && mode == MR_LENIENT);
}

/* Text bytes: NUL, CR and controls (HT too in strict) are refused; 8-bit only in lenient. */
static int check_text(const char *p, size_t n, mr_mode mode, const char *rule, size_t base,
                      mr_error *err)
{
    for (size_t i = 0;; i++) {
        i += mr_scan_printable(p + i, n - i);
        if (i >= n)
            return 0;
        unsigned char ch = (unsigned char)p[i];
        if (ch >= 0x80) {
            if (mode == MR_STRICT)
                return mr_fail(err, MR_E_8BIT, rule, base + i);
            continue;
        }
        if (ch == '\t' && mode == MR_LENIENT)
            continue;
        mr_errcode code = ch == 0 ? MR_E_NUL : ch == '\r' ? MR_E_BARE_CR : MR_E_CTL;
        return mr_fail(err, code, rule, base + i);
    }
}

/* ---- commands ---- */

typedef struct cur {
    const char *s;
    size_t n, i;
    mr_mode mode;
    const pop3_limits *lim;
    mr_error *err;
} cur;

static int fail(cur *c, mr_errcode code, const char *rule, size_t at)
{
    return mr_fail(c->err, code, rule, at);
}

static int strict(const cur *c)
{
    return c->mode == MR_STRICT;
}

/* The SP before an argument (lenient: a run of blanks). */
static int sep(cur *c, const char *rule)
{
    if (c->i >= c->n || !is_blank((unsigned char)c->s[c->i], c->mode))
        return fail(c, c->i >= c->n ? MR_E_EMPTY : MR_E_SYNTAX, rule, c->i);
    c->i++;
    if (!strict(c))
        while (c->i < c->n && is_blank((unsigned char)c->s[c->i], c->mode))
            c->i++;
    return 0;
}

/* One argument: printable non-blank bytes, at most 40 in strict (RFC 2449 3). */
static int word(cur *c, mr_slice *out, const char *rule)
{
    size_t start = c->i;
    while (c->i < c->n && !is_blank((unsigned char)c->s[c->i], c->mode) && c->s[c->i] != ' ')
        c->i++;
    if (c->i == start)
        return fail(c, MR_E_SYNTAX, rule, start);
    if (strict(c) && c->i - start > RFC_ARG_MAX)
        return fail(c, MR_E_LIMIT_LITERAL, rule, start);
    out->p = c->s + start;
    out->n = c->i - start;
    return 0;
}

static int number(cur *c, uint64_t *out, int zero_ok, const char *rule)
{
    size_t start = c->i;
    while (c->i < c->n && is_digit(c->s[c->i]))
        c->i++;
    if (c->i == start)
        return fail(c, MR_E_NUMBER, rule, start);
    mr_slice digits = {c->s + start, c->i - start};
    if (digits.n > 20 || mr_parse_u64(digits, c->lim->max_number, out))
        return fail(c, MR_E_LIMIT_LITERAL, rule, start);
    if (*out == 0 && !zero_ok && strict(c)) /* messages are numbered from 1 (RFC 1939 5) */
        return fail(c, MR_E_NUMBER, rule, start);
    return 0;
}

static int expect_end(cur *c, const char *rule)
{
    if (c->i != c->n)
        return fail(c, MR_E_TRAILING, rule, c->i);
    return 0;
}

static int optional_msg(cur *c, pop3_command *cmd)
{
    if (c->i == c->n)
        return 0;
    if (sep(c, "msg") || number(c, &cmd->msg, 0, "msg"))
        return MR_ERROR;
    cmd->has_msg = 1;
    return 0;
}

/* APOP name digest: digest is 32 hexadecimal digits, lower case (RFC 1939 7). */
static int check_digest(cur *c, mr_slice d)
{
    size_t at = (size_t)(d.p - c->s);
    if (d.n != 32)
        return fail(c, MR_E_SYNTAX, "digest", at);
    for (size_t i = 0; i < 32; i++) {
        char ch = d.p[i];
        int ok = is_digit(ch) || (ch >= 'a' && ch <= 'f') || (!strict(c) && ch >= 'A' && ch <= 'F');
        if (!ok)
            return fail(c, MR_E_SYNTAX, "digest", at + i);
    }
    return 0;
}

/* auth = "AUTH" SP sasl-mech [SP initial-response] (RFC 5034 4) */
static int parse_auth(cur *c, pop3_command *cmd)
{
    if (c->i == c->n && !strict(c))
        return 0; /* "AUTH": list the mechanisms (widely implemented, not in RFC 5034) */
    if (sep(c, "auth"))
        return MR_ERROR;
    size_t start = c->i;
    for (; c->i < c->n; c->i++) {
        char ch = c->s[c->i];
        int ok = (ch >= 'A' && ch <= 'Z') || is_digit(ch) || ch == '-' || ch == '_' ||
                 (!strict(c) && ch >= 'a' && ch <= 'z');
        if (!ok)
            break;
    }
    if (c->i == start || c->i - start > 20)
        return fail(c, MR_E_SYNTAX, "sasl-mech", start);
    if (c->i < c->n && !is_blank((unsigned char)c->s[c->i], c->mode))
        return fail(c, MR_E_SYNTAX, "sasl-mech", c->i);
    cmd->mechanism = (mr_slice){c->s + start, c->i - start};
    if (c->i == c->n)
        return 0;
    if (sep(c, "auth"))
        return MR_ERROR;
    size_t ir = c->i;
    while (c->i < c->n && c->s[c->i] != ' ' && c->s[c->i] != '\t')
        c->i++;
    mr_slice v = {c->s + ir, c->i - ir};
    if (v.n == 0)
        return fail(c, MR_E_SYNTAX, "initial-response", ir);
    cmd->has_initial_response = 1;
    if (!(v.n == 1 && v.p[0] == '=')) {
        size_t bad;
        if (strict(c) && b64_syntax_check(v.p, v.n, &bad))
            return fail(c, MR_E_BASE64, "initial-response", ir + bad);
        cmd->initial_response = v;
    }
    return expect_end(c, "auth");
}

static int parse_args(cur *c, pop3_command *cmd, size_t raw_n)
{
    switch (cmd->verb) {
    case POP3_USER:
        if (sep(c, "user"))
            return MR_ERROR;
        if (!strict(c)) { /* lenient: the rest of the line */
            cmd->name = (mr_slice){c->s + c->i, c->n - c->i};
            c->i = c->n;
            return 0;
        }
        return word(c, &cmd->name, "name") || expect_end(c, "user") ? MR_ERROR : 0;
    case POP3_PASS:
        /* RFC 1939 7: spaces may be part of the password, so it is the rest of the raw line
         * (not trimmed even in lenient mode). */
        if (c->i >= c->n || !is_blank((unsigned char)c->s[c->i], c->mode))
            return fail(c, c->i >= c->n ? MR_E_EMPTY : MR_E_SYNTAX, "pass", c->i);
        c->i++; /* one separator only: a password may start with a space */
        cmd->secret = (mr_slice){c->s + c->i, raw_n - c->i};
        if (cmd->secret.n == 0)
            return fail(c, MR_E_EMPTY, "pass", c->i);
        c->i = c->n;
        return 0;
    case POP3_APOP:
        if (sep(c, "apop") || word(c, &cmd->name, "name") || sep(c, "apop") ||
            word(c, &cmd->secret, "digest") || expect_end(c, "apop"))
            return MR_ERROR;
        return check_digest(c, cmd->secret);
    case POP3_LIST:
    case POP3_UIDL:
        return optional_msg(c, cmd) || expect_end(c, pop3_verb_name(cmd->verb)) ? MR_ERROR : 0;
    case POP3_RETR:
    case POP3_DELE:
        if (sep(c, "msg") || number(c, &cmd->msg, 0, "msg"))
            return MR_ERROR;
        cmd->has_msg = 1;
        return expect_end(c, pop3_verb_name(cmd->verb));
    case POP3_TOP:
        if (sep(c, "msg") || number(c, &cmd->msg, 0, "msg") || sep(c, "top") ||
            number(c, &cmd->lines, 1, "n"))
            return MR_ERROR;
        cmd->has_msg = 1;
        return expect_end(c, "top");
    case POP3_AUTH:
        return parse_auth(c, cmd);
    default: /* STAT NOOP RSET QUIT CAPA STLS */
        return expect_end(c, pop3_verb_name(cmd->verb));
    }
}

static pop3_verb lookup_verb(mr_slice token)
{
    for (int v = POP3_USER; v < POP3_VERB__COUNT; v++)
        if (mr_slice_eq_ci(token, verb_names[v]))
            return (pop3_verb)v;
    return POP3_VERB_NONE;
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

int pop3_command_parse(const char *buf, size_t len, mr_mode mode, const pop3_limits *lim,
                       size_t *scanned, pop3_command *cmd, mr_error *err)
{
    pop3_limits def;
    lim = limits_or_default(lim, &def);
    size_t max = starts_auth(buf, len) && lim->max_auth_line > lim->max_line ? lim->max_auth_line
                                                                             : lim->max_line;
    mr_slice line;
    int r = mr_line_next(buf, len, max, mode, scanned, &line, err);
    if (r <= 0) {
        if (r == MR_ERROR && err && err->code == MR_E_LIMIT_LINE)
            err->rule = "command-line";
        return r;
    }
    if (check_text(line.p, line.n, mode, "command-line", 0, err))
        return MR_ERROR;
    memset(cmd, 0, sizeof *cmd);
    cur c = {.s = buf, .n = line.n, .mode = mode, .lim = lim, .err = err};
    if (mode == MR_LENIENT)
        while (c.n > 0 && is_blank((unsigned char)buf[c.n - 1], mode))
            c.n--;
    size_t v = 0;
    while (v < c.n && !is_blank((unsigned char)buf[v], mode))
        v++;
    if (v == 0)
        return mr_fail(err, MR_E_EMPTY, "command", 0);
    cmd->verb_text = (mr_slice){buf, v};
    cmd->verb = lookup_verb(cmd->verb_text);
    if (cmd->verb == POP3_VERB_NONE)
        return mr_fail(err, MR_E_UNKNOWN_COMMAND, "command", 0);
    size_t arg = v;
    while (arg < c.n && is_blank((unsigned char)buf[arg], mode) && (arg == v || mode == MR_LENIENT))
        arg++;
    cmd->arg = (mr_slice){buf + arg, c.n - arg};
    c.i = v;
    if (parse_args(&c, cmd, line.n))
        return MR_ERROR;
    return r;
}

int pop3_auth_response_parse(const char *buf, size_t len, mr_mode mode, const pop3_limits *lim,
                             mr_slice *response, int *cancel, mr_error *err)
{
    pop3_limits def;
    lim = limits_or_default(lim, &def);
    mr_slice line;
    int r = mr_line_next(buf, len, lim->max_auth_line, mode, NULL, &line, err);
    if (r <= 0)
        return r;
    /* After the strict text check only printable ASCII is left, so the word check of
     * sasl_response_text_check() can only find spaces. */
    if (check_text(line.p, line.n, MR_STRICT, "base64", 0, err) ||
        sasl_response_text_check(line, mode, SASL_TEXT_WORD, response, cancel, err))
        return MR_ERROR;
    return r;
}

/* ---- command writer ---- */

static int put_word(mr_out *o, mr_slice s, int space_ok, const char *rule, mr_error *err)
{
    if (!s.n)
        return mr_fail(err, MR_E_EMPTY, rule, 0);
    if (mr_out_field_check(s, space_ok, rule, err))
        return MR_ERROR;
    mr_out_char(o, ' ');
    mr_out_slice(o, s);
    return 0;
}

static void put_number(mr_out *o, uint64_t v)
{
    mr_out_char(o, ' ');
    mr_out_u64(o, v);
}

static int write_args(mr_out *o, const pop3_command *cmd, mr_error *err)
{
    switch (cmd->verb) {
    case POP3_USER:
        return put_word(o, cmd->name, 0, "name", err);
    case POP3_PASS:
        return put_word(o, cmd->secret, 1, "pass", err);
    case POP3_APOP:
        return put_word(o, cmd->name, 0, "name", err) || put_word(o, cmd->secret, 0, "digest", err)
                   ? MR_ERROR
                   : 0;
    case POP3_LIST:
    case POP3_UIDL:
        if (cmd->has_msg)
            put_number(o, cmd->msg);
        return 0;
    case POP3_RETR:
    case POP3_DELE:
        put_number(o, cmd->msg);
        return 0;
    case POP3_TOP:
        put_number(o, cmd->msg);
        put_number(o, cmd->lines);
        return 0;
    case POP3_AUTH:
        if (!cmd->mechanism.n)
            return cmd->has_initial_response ? mr_fail(err, MR_E_EMPTY, "sasl-mech", 0) : 0;
        if (put_word(o, cmd->mechanism, 0, "sasl-mech", err) ||
            mr_out_field_check(cmd->initial_response, 0, "initial-response", err))
            return MR_ERROR;
        if (cmd->has_initial_response) {
            mr_out_char(o, ' ');
            if (cmd->initial_response.n)
                mr_out_slice(o, cmd->initial_response);
            else
                mr_out_char(o, '=');
        }
        return 0;
    default:
        return 0;
    }
}

int pop3_command_write(char *dst, size_t cap, const pop3_command *cmd, mr_error *err)
{
    if ((unsigned)cmd->verb >= POP3_VERB__COUNT || cmd->verb == POP3_VERB_NONE)
        return mr_fail(err, MR_E_SYNTAX, "command", 0);
    mr_out o;
    mr_out_init(&o, dst, cap);
    mr_out_str(&o, verb_names[cmd->verb]);
    if (write_args(&o, cmd, err))
        return MR_ERROR;
    mr_out_str(&o, "\r\n");
    return mr_out_result(&o, "command", err);
}

int pop3_auth_response_write(char *dst, size_t cap, mr_slice response, int cancel,
                             mr_error *err)
{
    return sasl_response_text_write(response, cancel, dst, cap, err);
}

/* ---- responses ---- */

/* resp-code = "[" resp-level *("/" resp-level) "]" ; resp-level = 1*rchar, rchar printable
 * ASCII but "/" and "]" (RFC 2449 8). At p[0] == "["; returns the length with brackets, or 0. */
static size_t resp_code_len(const char *p, size_t n)
{
    size_t i = 1, level = 0;
    for (; i < n && p[i] != ']'; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (ch == '/') {
            if (level == 0)
                return 0;
            level = 0;
        } else if (ch > 32 && ch < 127) {
            level++;
        } else {
            return 0;
        }
    }
    return i < n && level > 0 ? i + 1 : 0;
}

static int status_word(const char *p, size_t n, const char *word, mr_mode mode)
{
    size_t k = strlen(word);
    if (n < k)
        return 0;
    mr_slice s = {p, k};
    if (!(mode == MR_STRICT ? mr_slice_eq(s, word) : mr_slice_eq_ci(s, word)))
        return 0;
    /* strict: the status is followed by SP or the end; lenient takes "+OKfoo" too */
    return n == k || p[k] == ' ' || mode == MR_LENIENT;
}

int pop3_response_parse(const char *buf, size_t len, mr_mode mode, const pop3_limits *lim,
                        pop3_response *resp, mr_error *err)
{
    pop3_limits def;
    lim = limits_or_default(lim, &def);
    mr_slice line;
    int r = mr_line_next(buf, len, lim->max_resp_line, mode, NULL, &line, err);
    if (r <= 0) {
        if (r == MR_ERROR && err && err->code == MR_E_LIMIT_LINE)
            err->rule = "single-line";
        return r;
    }
    memset(resp, 0, sizeof *resp);
    size_t i;
    if (status_word(line.p, line.n, "+OK", mode)) {
        resp->status = POP3_OK;
        i = 3;
    } else if (status_word(line.p, line.n, "-ERR", mode)) {
        resp->status = POP3_ERR;
        i = 4;
    } else if (line.n >= 1 && line.p[0] == '+' &&
               (line.n == 1 ? mode == MR_LENIENT : line.p[1] == ' ')) {
        resp->status = POP3_CONT;
        i = 1;
    } else {
        return mr_fail(err, MR_E_SYNTAX, "status", 0);
    }
    if (check_text(line.p + i, line.n - i, mode, "text", i, err))
        return MR_ERROR;
    if (mode == MR_STRICT && resp->status != POP3_CONT && line.n > RFC_STATUS_LINE)
        return mr_fail(err, MR_E_LIMIT_LINE, "single-line", RFC_STATUS_LINE);
    if (i < line.n && line.p[i] == ' ')
        i++;
    if (resp->status == POP3_CONT) {
        resp->text = (mr_slice){line.p + i, line.n - i};
        size_t bad;
        if (mode == MR_STRICT && b64_syntax_check(resp->text.p, resp->text.n, &bad))
            return mr_fail(err, MR_E_BASE64, "base64", i + bad);
        return r;
    }
    if (i < line.n && line.p[i] == '[') {
        size_t cl = resp_code_len(line.p + i, line.n - i);
        if (cl == 0) {
            if (mode == MR_STRICT)
                return mr_fail(err, MR_E_SYNTAX, "resp-code", i);
        } else {
            resp->code = (mr_slice){line.p + i + 1, cl - 2};
            i += cl;
            if (i < line.n && line.p[i] == ' ')
                i++;
        }
    }
    resp->text = (mr_slice){line.p + i, line.n - i};
    return r;
}

int pop3_response_write(char *dst, size_t cap, const pop3_response *resp, mr_error *err)
{
    const char *status = resp->status == POP3_OK    ? "+OK"
                         : resp->status == POP3_ERR  ? "-ERR"
                         : resp->status == POP3_CONT ? "+"
                                                     : NULL;
    if (!status)
        return mr_fail(err, MR_E_SYNTAX, "status", 0);
    if (mr_out_field_check(resp->code, 0, "resp-code", err) ||
        mr_out_field_check(resp->text, 1, "text", err))
        return MR_ERROR;
    for (size_t i = 0; i < resp->code.n; i++)
        if (resp->code.p[i] == ']')
            return mr_fail(err, MR_E_SYNTAX, "resp-code", i);
    if (resp->status == POP3_CONT && resp->code.n)
        return mr_fail(err, MR_E_SYNTAX, "resp-code", 0);
    mr_out o;
    mr_out_init(&o, dst, cap);
    mr_out_str(&o, status);
    if (resp->status == POP3_CONT || resp->code.n || resp->text.n)
        mr_out_char(&o, ' ');
    if (resp->code.n) {
        mr_out_char(&o, '[');
        mr_out_slice(&o, resp->code);
        mr_out_char(&o, ']');
        if (resp->text.n)
            mr_out_char(&o, ' ');
    }
    mr_out_slice(&o, resp->text);
    mr_out_str(&o, "\r\n");
    return mr_out_result(&o, "single-line", err);
}

/* ---- multi-line bodies ---- */

int pop3_listing_line(const char *buf, size_t len, mr_mode mode, const pop3_limits *lim,
                      mr_slice *line, int *end, mr_error *err)
{
    pop3_limits def;
    lim = limits_or_default(lim, &def);
    int r = dot_line_next(buf, len, lim->max_resp_line, mode, NULL, line, end, err);
    if (r > 0 && check_text(line->p, line->n, mode, "text", (size_t)(line->p - buf), err))
        return MR_ERROR;
    return r;
}

/* "number SP number" at the start of line; *rest is what follows. */
static int two_numbers(mr_slice line, mr_mode mode, const pop3_limits *lim, uint64_t *a,
                       uint64_t *b, int zero_ok, size_t *rest, const char *rule, mr_error *err)
{
    pop3_limits def;
    lim = limits_or_default(lim, &def);
    cur c = {.s = line.p, .n = line.n, .mode = mode, .lim = lim, .err = err};
    if (number(&c, a, zero_ok, rule) || sep(&c, rule) || number(&c, b, 1, rule))
        return MR_ERROR;
    *rest = c.i;
    return 0;
}

int pop3_scan_listing(mr_slice line, mr_mode mode, const pop3_limits *lim, uint64_t *msg,
                      uint64_t *size, mr_error *err)
{
    size_t rest;
    if (two_numbers(line, mode, lim, msg, size, 0, &rest, "scan-listing", err))
        return MR_ERROR;
    if (rest < line.n && (mode == MR_STRICT || !is_blank((unsigned char)line.p[rest], mode)))
        return mr_fail(err, MR_E_TRAILING, "scan-listing", rest);
    return 0;
}

int pop3_stat_listing(mr_slice text, mr_mode mode, const pop3_limits *lim, uint64_t *count,
                      uint64_t *size, mr_error *err)
{
    size_t rest;
    if (two_numbers(text, mode, lim, count, size, 1, &rest, "drop-listing", err))
        return MR_ERROR;
    if (rest < text.n && !is_blank((unsigned char)text.p[rest], mode))
        return mr_fail(err, MR_E_TRAILING, "drop-listing", rest);
    return 0;
}

int pop3_uidl_listing(mr_slice line, mr_mode mode, const pop3_limits *lim, uint64_t *msg,
                      mr_slice *uid, mr_error *err)
{
    pop3_limits def;
    lim = limits_or_default(lim, &def);
    cur c = {.s = line.p, .n = line.n, .mode = mode, .lim = lim, .err = err};
    if (number(&c, msg, 0, "unique-id-listing") || sep(&c, "unique-id-listing"))
        return MR_ERROR;
    size_t start = c.i;
    while (c.i < c.n && (unsigned char)c.s[c.i] > 32 && (unsigned char)c.s[c.i] < 127)
        c.i++;
    if (c.i == start || c.i - start > 70)
        return mr_fail(err, MR_E_SYNTAX, "unique-id", start);
    if (c.i < c.n && (mode == MR_STRICT || !is_blank((unsigned char)c.s[c.i], mode)))
        return mr_fail(err, MR_E_SYNTAX, "unique-id", c.i);
    *uid = (mr_slice){c.s + start, c.i - start};
    return 0;
}

/* capa-tag = 1*cchar ; cchar = %x21-2D / %x2F-7F (printable, no ".") ; param = 1*pchar */
int pop3_capa_parse(mr_slice line, mr_mode mode, pop3_capa *cap, mr_error *err)
{
    size_t i = 0, n = line.n;
    if (mode == MR_LENIENT) {
        while (i < n && is_blank((unsigned char)line.p[i], mode))
            i++;
        while (n > i && is_blank((unsigned char)line.p[n - 1], mode))
            n--;
    }
    size_t start = i;
    while (i < n && !is_blank((unsigned char)line.p[i], mode) && line.p[i] != ' ') {
        unsigned char ch = (unsigned char)line.p[i];
        if (mode == MR_STRICT && (ch < 33 || ch > 126 || (ch == '.' && i == start)))
            return mr_fail(err, ch >= 0x80 ? MR_E_8BIT : MR_E_SYNTAX, "capa-tag", i);
        i++;
    }
    if (i == start)
        return mr_fail(err, MR_E_EMPTY, "capa-tag", i);
    cap->tag = (mr_slice){line.p + start, i - start};
    cap->params = (mr_slice){line.p + n, 0};
    if (i == n)
        return 0;
    i++;
    if (mode == MR_LENIENT)
        while (i < n && is_blank((unsigned char)line.p[i], mode))
            i++;
    size_t params = i;
    if (mode == MR_STRICT) {
        int need = 1;
        for (; i < n; i++) {
            unsigned char ch = (unsigned char)line.p[i];
            if (ch == ' ' && !need) {
                need = 1;
                continue;
            }
            if (ch < 33 || ch > 126)
                return mr_fail(err, ch >= 0x80 ? MR_E_8BIT : MR_E_SYNTAX, "param", i);
            need = 0;
        }
        if (need)
            return mr_fail(err, MR_E_SYNTAX, "param", i);
    }
    cap->params = (mr_slice){line.p + params, n - params};
    return 0;
}

void pop3_capa_iter_init(pop3_capa_iter *it, const char *buf, size_t len, mr_mode mode,
                         const pop3_limits *lim)
{
    it->buf = buf;
    it->len = len;
    it->pos = 0;
    it->mode = mode;
    it->lim = lim ? *lim : pop3_limits_default();
    it->done = 0;
}

int pop3_capa_next(pop3_capa_iter *it, pop3_capa *cap, mr_error *err)
{
    while (!it->done) {
        mr_slice line;
        int end;
        int r = pop3_listing_line(it->buf + it->pos, it->len - it->pos, it->mode, &it->lim,
                                  &line, &end, err);
        if (r <= 0) {
            if (r == MR_ERROR && err)
                err->offset += it->pos;
            return r;
        }
        it->pos += (size_t)r;
        if (end) {
            it->done = 1;
            break;
        }
        if (line.n == 0 && it->mode == MR_LENIENT)
            continue;
        if (pop3_capa_parse(line, it->mode, cap, err)) {
            if (err)
                err->offset += (size_t)(line.p - it->buf);
            return MR_ERROR;
        }
        return 1;
    }
    return 0;
}

int pop3_capa_has(const char *buf, size_t len, const char *tag, pop3_capa *cap_r)
{
    pop3_capa_iter it;
    pop3_capa cap;
    pop3_capa_iter_init(&it, buf, len, MR_LENIENT, NULL);
    while (pop3_capa_next(&it, &cap, NULL) == 1) {
        if (mr_slice_eq_ci(cap.tag, tag)) {
            if (cap_r)
                *cap_r = cap;
            return 1;
        }
    }
    return 0;
}

int pop3_capa_has_param(const pop3_capa *cap, const char *word)
{
    const char *p = cap->params.p, *end = p + cap->params.n;
    while (p < end) {
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        const char *w = p;
        while (p < end && *p != ' ' && *p != '\t')
            p++;
        if (p > w && mr_slice_eq_ci((mr_slice){w, (size_t)(p - w)}, word))
            return 1;
    }
    return 0;
}

int pop3_capa_write(char *dst, size_t cap, mr_slice text, const pop3_capa *caps, size_t n,
                    mr_error *err)
{
    if (mr_out_field_check(text, 1, "text", err))
        return MR_ERROR;
    mr_out o;
    mr_out_init(&o, dst, cap);
    mr_out_str(&o, "+OK");
    if (text.n) {
        mr_out_char(&o, ' ');
        mr_out_slice(&o, text);
    }
    mr_out_str(&o, "\r\n");
    for (size_t k = 0; k < n; k++) {
        if (!caps[k].tag.n)
            return mr_fail(err, MR_E_EMPTY, "capa-tag", 0);
        if (mr_out_field_check(caps[k].tag, 0, "capa-tag", err) ||
            mr_out_field_check(caps[k].params, 1, "param", err))
            return MR_ERROR;
        if (caps[k].tag.p[0] == '.')
            return mr_fail(err, MR_E_SYNTAX, "capa-tag", 0);
        mr_out_slice(&o, caps[k].tag);
        if (caps[k].params.n) {
            mr_out_char(&o, ' ');
            mr_out_slice(&o, caps[k].params);
        }
        mr_out_str(&o, "\r\n");
    }
    mr_out_str(&o, ".\r\n");
    return mr_out_result(&o, "capa", err);
}

int pop3_apop_timestamp(mr_slice text, mr_slice *stamp)
{
    const char *open = memchr(text.p, '<', text.n);
    if (!open)
        return 0;
    size_t rest = text.n - (size_t)(open - text.p);
    const char *close = memchr(open, '>', rest);
    if (!close || !memchr(open, '@', (size_t)(close - open)))
        return 0;
    stamp->p = open;
    stamp->n = (size_t)(close - open) + 1;
    return 1;
}
