/* streams.c -- see streams.h. */
#include "bench/streams.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct sbuf {
    char *p;
    size_t n, cap;
} sbuf;

static void sb_reserve(sbuf *b, size_t more)
{
    if (b->n + more <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 1 << 16;
    while (cap < b->n + more)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
        perror("bench: realloc");
        exit(3);
    }
    b->p = p;
    b->cap = cap;
}

static void sb_put(sbuf *b, const char *s, size_t n)
{
    sb_reserve(b, n);
    memcpy(b->p + b->n, s, n);
    b->n += n;
}

static void sb_puts(sbuf *b, const char *s)
{
    sb_put(b, s, strlen(s));
}

__attribute__((format(printf, 2, 3))) static void sb_printf(sbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int need = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    sb_reserve(b, (size_t)need + 1);
    va_start(ap, fmt);
    vsnprintf(b->p + b->n, (size_t)need + 1, fmt, ap);
    va_end(ap);
    b->n += (size_t)need;
}

static uint64_t rng_state = 0x6d61696c726967ull; /* "mailrig" */

static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static size_t rnd_between(size_t lo, size_t hi)
{
    return lo + (size_t)(rnd() % (hi - lo + 1));
}

static const char *const words[] = {
    "the", "meeting", "invoice", "attached", "please", "review", "quarterly", "report",
    "Gr\xc3\xbc\xc3\x9f" "e", "schedule", "tomorrow", "project", "mailrig", "server", "client",
    "configuration", "password", "iCloud", "Exchange", "thanks", "regards", "draft", "budget",
    "caf\xc3\xa9", "update", "deadline", "agenda", "notes", "follow-up", "question",
};
enum { NWORDS = sizeof words / sizeof words[0] };

static const char *const people[][2] = {
    {"Emily Parker", "emilyparker@icloud.com"},   {"John Appleseed", "johnappleseed@me.com"},
    {"Tony Stark", "tony@contoso.com"},           {"J\xc3\xbcrgen M\xc3\xbcller", "jm@example.de"},
    {"Support", "support@example.org"},           {"Ana Garc\xc3\xad" "a", "ana@example.es"},
};
enum { NPEOPLE = sizeof people / sizeof people[0] };

/* A body line of typical mail text, 40-76 chars, no CRLF. */
static void text_line(sbuf *b)
{
    size_t target = rnd_between(40, 76), len = 0;
    while (len < target) {
        const char *w = words[rnd() % NWORDS];
        size_t wl = strlen(w);
        if (len) {
            sb_put(b, " ", 1);
            len++;
        }
        sb_put(b, w, wl);
        len += wl;
    }
}

/* An RFC 5322 message of about `size` bytes; multipart with an attachment when `multipart`. */
static void message(sbuf *b, size_t size, int multipart, unsigned id)
{
    size_t start = b->n;
    const char *const *from = people[id % NPEOPLE], *const *to = people[(id + 1) % NPEOPLE];
    sb_printf(b, "Return-Path: <%s>\r\nReceived: from mx.example.net (mx.example.net [192.0.2.%u])"
                 "\r\n\tby imap.example.org with ESMTPS id %08x\r\n\tfor <%s>; Mon, 23 Nov 2026 "
                 "10:%02u:%02u +0000\r\n",
              from[1], id % 250, id * 2654435761u, to[1], id % 60, (id * 7) % 60);
    sb_printf(b, "From: %s <%s>\r\nTo: %s <%s>\r\nSubject: =?UTF-8?Q?Re:_%s_%u?=\r\n"
                 "Date: Mon, 23 Nov 2026 10:%02u:00 +0000\r\nMessage-ID: <%u.%08x@example.org>\r\n"
                 "MIME-Version: 1.0\r\n",
              from[0], from[1], to[0], to[1], words[id % NWORDS], id, id % 60, id,
              id * 40503u);
    if (multipart) {
        sb_printf(b, "Content-Type: multipart/mixed; boundary=\"b%u\"\r\n\r\n--b%u\r\n"
                     "Content-Type: text/plain; charset=utf-8\r\n"
                     "Content-Transfer-Encoding: 8bit\r\n\r\n",
                  id, id);
    } else {
        sb_puts(b, "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n");
    }
    size_t text_end = start + (multipart ? size / 3 : size);
    while (b->n < text_end) {
        text_line(b);
        sb_put(b, "\r\n", 2);
    }
    if (multipart) {
        sb_printf(b, "--b%u\r\nContent-Type: application/pdf; name=\"report-%u.pdf\"\r\n"
                     "Content-Disposition: attachment; filename=\"report-%u.pdf\"\r\n"
                     "Content-Transfer-Encoding: base64\r\n\r\n",
                  id, id, id);
        static const char b64[] =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        while (b->n < start + size) {
            char line[78];
            for (int i = 0; i < 76; i++)
                line[i] = b64[rnd() & 63];
            line[76] = '\r';
            line[77] = '\n';
            sb_put(b, line, 78);
        }
        sb_printf(b, "--b%u--\r\n", id);
    }
}

static void envelope(sbuf *b, unsigned id)
{
    const char *const *from = people[id % NPEOPLE], *const *to = people[(id + 1) % NPEOPLE];
    char fl[64], fd[64], tl[64], td[64];
    sscanf(from[1], "%63[^@]@%63s", fl, fd);
    sscanf(to[1], "%63[^@]@%63s", tl, td);
    sb_printf(b, "ENVELOPE (\"Mon, 23 Nov 2026 10:%02u:00 +0000\" \"=?UTF-8?Q?Re:_%s_%u?=\" "
                 "((\"%s\" NIL \"%s\" \"%s\")) ((\"%s\" NIL \"%s\" \"%s\")) "
                 "((\"%s\" NIL \"%s\" \"%s\")) ((\"%s\" NIL \"%s\" \"%s\")) NIL NIL NIL "
                 "\"<%u.%08x@example.org>\")",
              id % 60, words[id % NWORDS], id, from[0], fl, fd, from[0], fl, fd, from[0], fl, fd,
              to[0], tl, td, id, id * 40503u);
}

static void bodystructure(sbuf *b, size_t size, size_t lines, int multipart, unsigned id)
{
    if (!multipart) {
        sb_printf(b, "BODYSTRUCTURE (\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"8bit\" "
                     "%zu %zu NIL NIL NIL NIL)",
                  size, lines);
        return;
    }
    sb_printf(b, "BODYSTRUCTURE ((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"8bit\" %zu "
                 "%zu NIL NIL NIL NIL)(\"application\" \"pdf\" (\"name\" \"report-%u.pdf\") NIL "
                 "NIL \"base64\" %zu NIL (\"attachment\" (\"filename\" \"report-%u.pdf\")) NIL "
                 "NIL) \"mixed\" (\"boundary\" \"b%u\") NIL NIL NIL)",
              size / 3, lines / 3, id, size - size / 3, id, id);
}

/* A flags resync: `UID FETCH 1:* (UID FLAGS)`, what every client sends on each folder open. */
static void fetch_flags_batch(sbuf *b, unsigned *id, unsigned count)
{
    for (unsigned k = 0; k < count; k++, (*id)++)
        sb_printf(b, "* %u FETCH (UID %u FLAGS (%s))\r\n", *id, *id + 1000,
                  (*id % 4) ? "\\Seen" : (*id % 8) ? "" : "\\Seen \\Flagged $Forwarded");
}

/* The message-list fetch: envelope, structure and a few headers as a literal. */
static void fetch_headers_batch(sbuf *b, sbuf *msg, unsigned *id, unsigned count)
{
    for (unsigned k = 0; k < count; k++, (*id)++) {
        unsigned i = *id;
        int multipart = rnd() % 3 == 0;
        size_t size = rnd_between(1500, 40000), lines = size / 60;
        const char *const *from = people[i % NPEOPLE];
        msg->n = 0;
        sb_printf(msg, "From: %s <%s>\r\nSubject: =?UTF-8?Q?Re:_%s_%u?=\r\n"
                       "Date: Mon, 23 Nov 2026 10:%02u:00 +0000\r\nList-Id: <team.example.org>"
                       "\r\n\r\n",
                  from[0], from[1], words[i % NWORDS], i, i % 60);
        sb_printf(b, "* %u FETCH (UID %u RFC822.SIZE %zu FLAGS (\\Seen) INTERNALDATE "
                     "\"23-Nov-2026 10:%02u:00 +0000\" ",
                  i, i + 1000, size, i % 60);
        envelope(b, i);
        sb_puts(b, " ");
        bodystructure(b, size, lines, multipart, i);
        sb_printf(b, " BODY[HEADER.FIELDS (FROM SUBJECT DATE LIST-ID)] {%zu}\r\n", msg->n);
        sb_put(b, msg->p, msg->n);
        sb_puts(b, ")\r\n");
    }
}

/* Full bodies, as fetched for reading or offline sync. */
static void fetch_bodies_batch(sbuf *b, sbuf *msg, unsigned *id, unsigned count)
{
    for (unsigned k = 0; k < count; k++, (*id)++) {
        unsigned i = *id;
        msg->n = 0;
        int multipart = rnd() % 3 == 0;
        /* Mostly small mails, some large: 1-8 KB typical, up to 60 KB. */
        size_t size = rnd() % 8 ? rnd_between(1000, 8000) : rnd_between(8000, 60000);
        message(msg, size, multipart, i);
        sb_printf(b, "* %u FETCH (UID %u FLAGS (\\Seen) BODY[] {%zu}\r\n", i, i + 1000, msg->n);
        sb_put(b, msg->p, msg->n);
        sb_puts(b, ")\r\n");
    }
}

bench_stream bench_imap_fetch_session(size_t bytes)
{
    sbuf b = {0}, msg = {0};
    bench_stream s = {0};
    unsigned id = 1, tag = 1;
    while (b.n < bytes) {
        /* A sync mix: flag resyncs and message-list fetches are most of the responses,
         * full bodies most of the bytes. */
        switch (rnd() % 5) {
        case 0: case 1: fetch_flags_batch(&b, &id, (unsigned)rnd_between(200, 2000)); break;
        case 2: case 3: fetch_headers_batch(&b, &msg, &id, (unsigned)rnd_between(50, 200)); break;
        default: fetch_bodies_batch(&b, &msg, &id, (unsigned)rnd_between(5, 30)); break;
        }
        sb_printf(&b, "a%u OK [READ-WRITE] FETCH completed (took %u ms)\r\n", tag++,
                  (unsigned)(rnd() % 90));
        s.items++;
    }
    free(msg.p);
    s.p = b.p;
    s.n = b.n;
    return s;
}

bench_stream bench_smtp_data(size_t bytes)
{
    sbuf b = {0};
    while (b.n < bytes) {
        /* One line in 50 starts with a dot, which the client doubles (RFC 5321 4.5.2). */
        if (rnd() % 50 == 0)
            sb_put(&b, "..", 2);
        text_line(&b);
        sb_put(&b, "\r\n", 2);
    }
    sb_puts(&b, ".\r\n");
    bench_stream s = {b.p, b.n, 1};
    return s;
}

static const char *const exchange_ehlo[] = {
    "250-SC1PR80CA0174.outlook.office365.com Hello [203.0.113.7]", "250-SIZE 157286400",
    "250-PIPELINING", "250-DSN", "250-ENHANCEDSTATUSCODES", "250-AUTH LOGIN XOAUTH2",
    "250-8BITMIME", "250-BINARYMIME", "250-CHUNKING", "250 SMTPUTF8",
};
static const char *const postfix_ehlo[] = {
    "250-mail.example.org", "250-PIPELINING", "250-SIZE 52428800", "250-VRFY", "250-ETRN",
    "250-STARTTLS", "250-AUTH PLAIN LOGIN", "250-AUTH=PLAIN LOGIN", "250-ENHANCEDSTATUSCODES",
    "250-8BITMIME", "250-DSN", "250 CHUNKING",
};
static const char *const singles[] = {
    "220 SC1PR80CA0174.outlook.office365.com Microsoft ESMTP MAIL Service ready at Mon, 23 Nov "
    "2026 10:00:00 +0000 [08DDD30471EE4ED5]",
    "220 2.0.0 SMTP server ready",
    "250 2.1.0 Sender OK",
    "250 2.1.5 Recipient OK",
    "354 Start mail input; end with <CRLF>.<CRLF>",
    "250 2.0.0 OK <0123456789ABCDEF@SC1PR80MB0174.namprd80.prod.outlook.com> [Hostname=SC1PR80MB0174.namprd80.prod.outlook.com]",
    "334 VXNlcm5hbWU6",
    "334 UGFzc3dvcmQ6",
    "235 2.7.0 Authentication successful",
    "535 5.7.3 Authentication unsuccessful [SN2PR00CA0018.namprd00.prod.outlook.com 2026-11-23T10:00:00.000Z 08DDD30471EE4ED5]",
    "530 5.7.57 Client not authenticated to send mail. [SC1PR80CA0174.namprd80.prod.outlook.com 2026-11-23T10:00:00.000Z 08DDD30471EE4ED5]",
    "504 5.7.4 Unrecognized authentication type [SC1PR80CA0174.namprd80.prod.outlook.com 2026-11-23T10:00:00.000Z 08DDD30471EE4ED5]",
    "221 2.0.0 Service closing transmission channel",
};

bench_stream bench_smtp_replies(size_t bytes)
{
    sbuf b = {0};
    bench_stream s = {0};
    while (b.n < bytes) {
        switch (rnd() % 4) {
        case 0:
            for (size_t i = 0; i < sizeof exchange_ehlo / sizeof *exchange_ehlo; i++)
                sb_printf(&b, "%s\r\n", exchange_ehlo[i]);
            break;
        case 1:
            for (size_t i = 0; i < sizeof postfix_ehlo / sizeof *postfix_ehlo; i++)
                sb_printf(&b, "%s\r\n", postfix_ehlo[i]);
            break;
        case 2:
            sb_puts(&b, "535-5.7.139 Authentication unsuccessful, SmtpClientAuthentication is "
                        "disabled for the Tenant.\r\n535 5.7.139 Visit "
                        "https://aka.ms/smtp_auth_disabled for more information. "
                        "[SC1PR80CA0174.namprd80.prod.outlook.com 2026-11-23T10:00:00.000Z "
                        "08DDD30471EE4ED5]\r\n");
            break;
        default:
            sb_printf(&b, "%s\r\n", singles[rnd() % (sizeof singles / sizeof *singles)]);
            break;
        }
        s.items++;
    }
    s.p = b.p;
    s.n = b.n;
    return s;
}

size_t bench_memchr_lines(const char *p, size_t n)
{
    size_t lines = 0;
    const char *end = p + n;
    while (p < end) {
        const char *lf = memchr(p, '\n', (size_t)(end - p));
        if (!lf)
            break;
        lines++;
        p = lf + 1;
    }
    return lines;
}
