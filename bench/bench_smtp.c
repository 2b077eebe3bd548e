/* bench_smtp.c -- throughput of the SMTP/POP3 parsers against a plain memchr scan for LF over
 * the same bytes (the practical upper bound; issue 3 "Bench").
 *
 *   DATA reader (dot_read) on a multi-megabyte DATA stream     target: within 3x of memchr
 *   reply + EHLO parsing on a reply-heavy session              target: within 5x of memchr
 *   command parsing on a pipelined client session              (no target; for reference)
 *   POP3 status + listing lines on a POP3 server stream        (no target; for reference)
 *
 * Each figure is the best of several runs. Prints MB/s and the ratio to memchr ("x memchr":
 * how many times slower than the scan). Build: make bench (ci/bench), or
 *   cc -O2 -I. bench/bench_smtp.c build/rel/libmrproto.a -o build/rel/bin/bench_smtp
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proto/dotstream.h"
#include "proto/pop3.h"
#include "proto/smtp_command.h"
#include "proto/smtp_reply.h"

enum { ROUNDS = 40 };

static volatile uint64_t sink; /* keeps the compiler from dropping the work */

/* CPU time of this thread, not wall time: on a shared machine a long run is preempted more
 * often than a short one, and wall time would charge the parser for other processes' work. */
static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct buf {
    char *p;
    size_t n, cap;
} buf;

static void put(buf *b, const char *s, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2;
        b->p = realloc(b->p, b->cap);
        if (!b->p) {
            perror("realloc");
            exit(1);
        }
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
}

static void puts_(buf *b, const char *s)
{
    put(b, s, strlen(s));
}

static uint32_t rng = 2463534242u;

static uint32_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

/* ---- inputs ---- */

/* A DATA stream of realistic messages: headers, wrapped text (some lines dot-stuffed), a
 * base64 attachment of 76-column lines; ends with CRLF.CRLF. */
static buf make_data(size_t target)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    static const char *const words[] = {"the", "mail", "server", "client", "message", "a",
                                        "delivery", "of", "Exchange", "iCloud", "report", "to"};
    buf b = {0};
    while (b.n < target) {
        puts_(&b, "Received: from client.example ([203.0.113.5]) by mx.example.org with ESMTPSA\r\n"
                  "From: Tony <tony@contoso.com>\r\nTo: Emily <emilyparker@icloud.com>\r\n"
                  "Subject: Quarterly figures\r\nMIME-Version: 1.0\r\n"
                  "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\n"
                  "Content-Type: text/plain; charset=utf-8\r\n\r\n");
        for (int l = 0; l < 40; l++) {
            char line[128];
            size_t n = 0, want = 20 + next() % 56;
            if (next() % 16 == 0)
                line[n++] = '.', line[n++] = '.'; /* a stuffed line */
            while (n < want) {
                const char *w = words[next() % 12];
                size_t wl = strlen(w);
                memcpy(line + n, w, wl);
                n += wl;
                line[n++] = ' ';
            }
            line[n++] = '\r';
            line[n++] = '\n';
            put(&b, line, n);
        }
        puts_(&b, "--b1\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n");
        for (int l = 0; l < 400; l++) {
            char line[80];
            for (int i = 0; i < 76; i++)
                line[i] = b64[next() & 63];
            line[76] = '\r';
            line[77] = '\n';
            put(&b, line, 78);
        }
        puts_(&b, "--b1--\r\n");
    }
    puts_(&b, ".\r\n");
    return b;
}

/* A server side of many submission sessions: banners, EHLO lists, auth prompts, errors. */
static buf make_replies(size_t target)
{
    buf b = {0};
    while (b.n < target) {
        puts_(&b, "220 SC1PR80CA0174.outlook.office365.com Microsoft ESMTP MAIL Service ready at "
                  "Mon, 14 Oct 2024 10:00:00 +0000 [08DDD30471EE4ED5]\r\n"
                  "250-SC1PR80CA0174.outlook.office365.com Hello [203.0.113.5]\r\n"
                  "250-SIZE 157286400\r\n250-PIPELINING\r\n250-DSN\r\n250-ENHANCEDSTATUSCODES\r\n"
                  "250-STARTTLS\r\n250-8BITMIME\r\n250-BINARYMIME\r\n250-CHUNKING\r\n250 SMTPUTF8\r\n"
                  "220 2.0.0 SMTP server ready\r\n"
                  "250-SC1PR80CA0174.outlook.office365.com Hello [203.0.113.5]\r\n"
                  "250-SIZE 157286400\r\n250-PIPELINING\r\n250-DSN\r\n250-ENHANCEDSTATUSCODES\r\n"
                  "250-AUTH LOGIN XOAUTH2\r\n250-8BITMIME\r\n250-BINARYMIME\r\n250-CHUNKING\r\n"
                  "250 SMTPUTF8\r\n334 VXNlcm5hbWU6\r\n334 UGFzc3dvcmQ6\r\n"
                  "235 2.7.0 Authentication successful\r\n250 2.1.0 Sender OK\r\n"
                  "250 2.1.5 Recipient OK\r\n354 Start mail input; end with <CRLF>.<CRLF>\r\n"
                  "250 2.0.0 OK <b1@contoso.com> [Hostname=BN6PR11MB1234.namprd11.prod.outlook.com]\r\n"
                  "221 2.0.0 Service closing transmission channel\r\n"
                  "530-5.7.0 Authentication Required. Learn more at\r\n"
                  "530 5.7.0  https://support.google.com/mail/?p=WantAuthError - gsmtp\r\n"
                  "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled "
                  "for the Tenant. Visit https://aka.ms/smtp_auth_disabled for more information. "
                  "[SN4PR0501CA0054.namprd05.prod.outlook.com 2024-10-14T10:00:00.000Z 08DCEC5A1B2C3D4E]\r\n");
    }
    return b;
}

static buf make_commands(size_t target)
{
    buf b = {0};
    while (b.n < target)
        puts_(&b, "EHLO client.example.org\r\nSTARTTLS\r\nEHLO client.example.org\r\n"
                  "AUTH PLAIN AHRvbnlAY29udG9zby5jb20AcGFzc3dvcmQ=\r\n"
                  "MAIL FROM:<tony@contoso.com> SIZE=12345 BODY=8BITMIME\r\n"
                  "RCPT TO:<emilyparker@icloud.com> NOTIFY=SUCCESS,FAILURE\r\n"
                  "RCPT TO:<\"john doe\"@example.org>\r\nDATA\r\nRSET\r\nNOOP\r\nQUIT\r\n");
    return b;
}

static buf make_pop3(size_t target)
{
    buf b = {0};
    while (b.n < target) {
        puts_(&b, "+OK The Microsoft Exchange POP3 service is ready. [TABPADQAUAAxADIAMwBDAEEAMAA2ADAAMgAu]\r\n"
                  "+OK\r\n+OK User successfully authenticated.\r\n+OK 3 5120\r\n"
                  "-ERR [IN-USE] Unable to lock maildrop\r\n"
                  "-ERR Logon failure: unknown user name or bad password.\r\n");
    }
    return b;
}

/* ---- the measured loops ---- */

static uint64_t scan_memchr(const buf *b)
{
    uint64_t lines = 0;
    const char *p = b->p, *end = b->p + b->n;
    while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        p++;
        lines++;
    }
    return lines;
}

static uint64_t run_data(const buf *b)
{
    dot_reader r;
    dot_reader_init(&r, MR_STRICT, NULL);
    size_t at = 0;
    uint64_t content = 0;
    while (!r.done) {
        mr_slice out;
        mr_error err;
        int k = dot_read(&r, b->p + at, b->n - at, &out, &err);
        if (k <= 0) {
            fprintf(stderr, "bench: dot_read failed at %zu\n", at);
            exit(1);
        }
        content += out.n;
        at += (size_t)k;
    }
    return content + r.violations;
}

static uint64_t run_replies(const buf *b)
{
    smtp_reply_line lines[32];
    smtp_reply rep;
    smtp_reply_init(&rep, lines, 32);
    uint64_t n = 0;
    for (size_t at = 0; at < b->n;) {
        mr_error err;
        int k = smtp_reply_parse(b->p + at, b->n - at, MR_STRICT, NULL, &rep, &err);
        if (k <= 0) {
            fprintf(stderr, "bench: reply parse failed at %zu (%s)\n", at, mr_errcode_str(err.code));
            exit(1);
        }
        if (rep.code == 250 && rep.nlines > 1) { /* an EHLO reply: walk its keywords */
            smtp_ehlo_iter it;
            smtp_ehlo_kw kw;
            smtp_ehlo_iter_init(&it, &rep, MR_STRICT);
            while (smtp_ehlo_next(&it, &kw, &err) == 1)
                n += kw.params.n;
        }
        n += rep.code;
        at += (size_t)k;
    }
    return n;
}

static uint64_t run_commands(const buf *b)
{
    uint64_t n = 0;
    for (size_t at = 0; at < b->n;) {
        smtp_command cmd;
        mr_error err;
        int k = smtp_command_parse(b->p + at, b->n - at, MR_STRICT, NULL, NULL, &cmd, &err);
        if (k <= 0) {
            fprintf(stderr, "bench: command parse failed at %zu\n", at);
            exit(1);
        }
        n += cmd.verb;
        at += (size_t)k;
    }
    return n;
}

static uint64_t run_pop3(const buf *b)
{
    uint64_t n = 0;
    for (size_t at = 0; at < b->n;) {
        pop3_response r;
        mr_error err;
        int k = pop3_response_parse(b->p + at, b->n - at, MR_STRICT, NULL, &r, &err);
        if (k <= 0) {
            fprintf(stderr, "bench: pop3 parse failed at %zu\n", at);
            exit(1);
        }
        n += r.status + r.text.n;
        at += (size_t)k;
    }
    return n;
}

static double timed(uint64_t (*fn)(const buf *), const buf *b)
{
    double t0 = now();
    sink += fn(b);
    return now() - t0;
}

/* The memchr scan and the parser take turns, and each keeps its best time: on a busy
 * machine a quiet moment is then shared fairly between the two. */
static int report(const char *name, uint64_t (*fn)(const buf *), const buf *b, double limit)
{
    double tm = 1e9, tp = 1e9;
    for (int i = 0; i < ROUNDS; i++) {
        double m = timed(scan_memchr, b), p = timed(fn, b);
        tm = m < tm ? m : tm;
        tp = p < tp ? p : tp;
    }
    double ratio = tp / tm;
    int ok = limit <= 0 || ratio <= limit;
    printf("%-28s %6.1f MB  %8.0f MB/s  memchr %8.0f MB/s  %5.2fx memchr", name, b->n / 1e6,
           b->n / tp / 1e6, b->n / tm / 1e6, ratio);
    if (limit > 0)
        printf("  (target <= %.0fx: %s)", limit, ok ? "met" : "MISSED");
    printf("\n");
    return ok;
}

/* With arguments, run only the benches whose names contain one of them ("data", "reply"). */
static int wanted(int argc, char **argv, const char *name)
{
    if (argc < 2)
        return 1;
    for (int i = 1; i < argc; i++)
        if (strstr(name, argv[i]))
            return 1;
    return 0;
}

int main(int argc, char **argv)
{
    buf data = make_data(16u << 20), replies = make_replies(4u << 20);
    buf commands = make_commands(4u << 20), pop3 = make_pop3(4u << 20);
    int ok = 1;
    if (wanted(argc, argv, "smtp DATA reader (dot_read)"))
        ok &= report("smtp DATA reader (dot_read)", run_data, &data, 3);
    if (wanted(argc, argv, "smtp reply + EHLO"))
        ok &= report("smtp reply + EHLO", run_replies, &replies, 5);
    if (wanted(argc, argv, "smtp commands"))
        report("smtp commands", run_commands, &commands, 0);
    if (wanted(argc, argv, "pop3 status lines"))
        report("pop3 status lines", run_pop3, &pop3, 0);
    free(data.p);
    free(replies.p);
    free(commands.p);
    free(pop3.p);
    return ok ? 0 : 1;
}
