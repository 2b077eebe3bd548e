/* log_python.c -- Python's imaplib (imaplib.Debug = 4) and smtplib (set_debuglevel(1))
 * debug output as conversations.
 *
 * imaplib: "  MM:SS.ss < b'...'" for each line received, "  MM:SS.ss > b'...'" for each
 * line sent, "  MM:SS.ss new IMAP4 connection, tag=b'ABCD'" when a connection starts, other
 * "  MM:SS.ss ..." notes. smtplib: "connect: ('HOST', PORT)", "send: b'...'" (several lines
 * in one payload: DATA bodies), "reply: b'...'" per reply line, "reply: retcode (N); Msg:
 * ..." summaries (skipped); with set_debuglevel(2) each line starts with a time stamp.
 * Neither logs TLS: IMAP4_SSL / SMTP_SSL look like plaintext in the log, STARTTLS is
 * inferred from the accepted command. Errors appear as a traceback whose last line names the
 * exception; only that line is read -- the traceback's source lines quote the script, which
 * may hold the password (m.login("user", "secret")), and are never kept.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "harness/log_read.h"

/* Decode a Python bytes/str repr (b'..', b"..", '..') into out; returns its length. Escapes
 * \\ \' \" \r \n \t \xHH; anything malformed is copied as is. */
static size_t py_repr(const char *s, size_t n, char *out, size_t cap)
{
    size_t i = 0, o = 0;
    if (i < n && s[i] == 'b')
        i++;
    if (i >= n || (s[i] != '\'' && s[i] != '"'))
        return 0;
    char q = s[i++];
    while (i < n && s[i] != q && o + 1 < cap) {
        char ch = s[i++];
        if (ch == '\\' && i < n) {
            char e = s[i++];
            switch (e) {
            case 'r': ch = '\r'; break;
            case 'n': ch = '\n'; break;
            case 't': ch = '\t'; break;
            case 'x':
                if (i + 1 < n && isxdigit((unsigned char)s[i]) && isxdigit((unsigned char)s[i + 1])) {
                    char hex[3] = {s[i], s[i + 1], 0};
                    ch = (char)strtol(hex, NULL, 16);
                    i += 2;
                } else
                    ch = 'x';
                break;
            default: ch = e; break;
            }
        }
        out[o++] = ch;
    }
    out[o] = 0;
    return o;
}

/* Add each CRLF/LF-separated line of a decoded payload. */
static void add_lines(log_conv *c, log_conn *k, log_dir dir, const char *p, size_t n, unsigned line)
{
    while (n) {
        const char *lf = memchr(p, '\n', n);
        size_t m = lf ? (size_t)(lf - p) + 1 : n;
        size_t len = m;
        while (len && (p[len - 1] == '\n' || p[len - 1] == '\r'))
            len--;
        log_conv_add(c, k, LOG_DATA, dir, p, len, line);
        if (dir == LOG_DIR_S)
            log_conv_starttls_reply(c, k, line);
        p += m;
        n -= m;
    }
}

/* The last line of a traceback: "module.Name: message" or "NameError: message" at column 0. */
static bool exception_line(const char *s, size_t n)
{
    if (!n || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
        return false;
    size_t i = 0;
    while (i < n && (isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == '.'))
        i++;
    if (i >= n || s[i] != ':' || i < 5)
        return false;
    return log_find(s, i, "Error") || log_find(s, i, "error") || log_find(s, i, "abort") ||
           log_find(s, i, "Exception") || log_find(s, i, "timeout") || log_find(s, i, "Disconnected");
}

/* "  MM:SS.ss " (imaplib) -> the rest. */
static bool imaplib_stamp(const char *s, size_t n, const char **rest, size_t *rn)
{
    size_t i = 0;
    while (i < n && s[i] == ' ')
        i++;
    if (i < 1 || i > 3)
        return false;
    size_t b = i;
    while (i < n && (isdigit((unsigned char)s[i]) || s[i] == ':' || s[i] == '.'))
        i++;
    if (i - b < 5 || i >= n || s[i] != ' ' || !memchr(s + b, ':', i - b))
        return false;
    *rest = s + i + 1;
    *rn = n - i - 1;
    return true;
}

size_t log_read_imaplib(const char *data, size_t n, log_conv *c)
{
    log_lines it;
    log_lines_init(&it, data, n, false);
    const char *s;
    size_t len, got = 0;
    static const size_t cap = LOG_MAX_LINE + 1;
    char *buf = malloc(cap);
    if (!buf)
        return 0;
    while (log_lines_next(&it, &s, &len)) {
        unsigned ln = it.lineno;
        const char *r;
        size_t rn;
        if (imaplib_stamp(s, len, &r, &rn)) {
            got++;
            if (log_starts(r, rn, "new IMAP4 connection")) {
                log_conn *k = log_conv_open(c, NULL, 0, ln);
                if (k) {
                    k->proto = DIAG_PROTO_IMAP;
                    k->tls_silent = true;
                }
            } else if (log_starts(r, rn, "< ") || log_starts(r, rn, "> ")) {
                log_conn *k = log_conv_cur(c, ln);
                if (k && !k->proto) {
                    k->proto = DIAG_PROTO_IMAP;
                    k->tls_silent = true;
                }
                size_t m = py_repr(r + 2, rn - 2, buf, cap);
                if (k)
                    add_lines(c, k, r[0] == '<' ? LOG_DIR_S : LOG_DIR_C, buf, m, ln);
            }
        } else if (exception_line(s, len) && c->n) {
            log_conv_exception(c, log_conv_cur(c, ln), s, len, ln);
            got++;
        }
    }
    free(buf);
    return got;
}

/* smtplib's optional time stamp ("12:34:56.789012 ") before the message. */
static void skip_stamp(const char **s, size_t *n)
{
    size_t i = 0;
    while (i < *n && (isdigit((unsigned char)(*s)[i]) || (*s)[i] == ':' || (*s)[i] == '.'))
        i++;
    if (i >= 8 && i < *n && (*s)[i] == ' ') {
        *s += i + 1;
        *n -= i + 1;
    }
}

/* "connect: ('HOST', PORT)" */
static void smtplib_connect(log_conv *c, const char *s, size_t n, unsigned line)
{
    char host[DIAG_HOST_MAX] = "";
    unsigned port = 0;
    const char *q = memchr(s, '\'', n);
    if (q) {
        const char *q2 = memchr(q + 1, '\'', (size_t)(s + n - q - 1));
        if (q2 && (size_t)(q2 - q - 1) < sizeof host) {
            memcpy(host, q + 1, (size_t)(q2 - q - 1));
            host[q2 - q - 1] = 0;
            const char *comma = memchr(q2, ',', (size_t)(s + n - q2));
            if (comma)
                port = (unsigned)(log_num(comma + 1, (size_t)(s + n - comma - 1), 10) % 65536);
        }
    }
    log_conn *k = log_conv_open(c, host, port, line);
    if (k) {
        k->proto = DIAG_PROTO_SMTP;
        k->tls_silent = true; /* SMTP_SSL looks the same as SMTP in the log */
    }
}

size_t log_read_smtplib(const char *data, size_t n, log_conv *c)
{
    log_lines it;
    log_lines_init(&it, data, n, false);
    const char *s;
    size_t len, got = 0;
    static const size_t cap = LOG_MAX_LINE + 1;
    char *buf = malloc(cap);
    if (!buf)
        return 0;
    while (log_lines_next(&it, &s, &len)) {
        unsigned ln = it.lineno;
        if (exception_line(s, len)) {
            if (c->n)
                log_conv_exception(c, log_conv_cur(c, ln), s, len, ln);
            got += c->n != 0;
            continue;
        }
        skip_stamp(&s, &len);
        if (log_starts(s, len, "connect: (") || log_starts(s, len, "connect: to (")) {
            /* "connect: b'...'" repeats the greeting: skipped below */
            smtplib_connect(c, s, len, ln);
            got++;
        } else if (log_starts(s, len, "send: ") || (log_starts(s, len, "reply: ") && !log_starts(s, len, "reply: retcode"))) {
            bool send = s[0] == 's';
            size_t skip = send ? 6 : 7;
            log_conn *k = log_conv_cur(c, ln);
            if (k && !k->proto) {
                k->proto = DIAG_PROTO_SMTP;
                k->tls_silent = true;
            }
            size_t m = py_repr(s + skip, len - skip, buf, cap);
            if (k)
                add_lines(c, k, send ? LOG_DIR_C : LOG_DIR_S, buf, m, ln);
            got++;
        } else if (log_starts(s, len, "reply: retcode") || log_starts(s, len, "data: ") ||
                   log_starts(s, len, "connect: ")) {
            got++;
        }
    }
    free(buf);
    return got;
}
