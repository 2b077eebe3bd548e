/* cmd_parse.c -- `mailrig parse`: run one of the proto/ parsers over a captured byte stream.
 *
 * A conformance aid: feed it what a server or client sent (a capture, a file made with
 * `printf`) and it prints one line per item, or where and why an item breaks the RFC grammar
 * (strict by default). After an error it skips to the next line and goes on, so one run shows
 * every problem in a capture.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/cli.h"
#include "harness/commands.h"
#include "proto/imap_parse.h"
#include "proto/pop3.h"
#include "proto/smtp_command.h"
#include "proto/smtp_reply.h"
#include "servers/transcript.h"

enum { MAX_INPUT = 64 << 20, MAX_ERRORS = 100, SHOW = 72 };

typedef enum parse_kind {
    P_IMAP_COMMAND,
    P_IMAP_RESPONSE,
    P_SMTP_COMMAND,
    P_SMTP_REPLY,
    P_POP3_COMMAND,
} parse_kind;

static const char *const kind_names[] = {
    [P_IMAP_COMMAND] = "imap-command", [P_IMAP_RESPONSE] = "imap-response",
    [P_SMTP_COMMAND] = "smtp-command", [P_SMTP_REPLY] = "smtp-reply",
    [P_POP3_COMMAND] = "pop3-command",
};
enum { NKINDS = sizeof kind_names / sizeof kind_names[0] };

static void usage(FILE *out)
{
    fprintf(out, "usage: mailrig parse --proto KIND [--lenient] [FILE|-]\n\n"
                 "Parse a captured byte stream with mailrig's own parsers and print one line per\n"
                 "item (offset, length, what it is), or FILE:OFFSET: the error, the ABNF rule and\n"
                 "the offending bytes. Strict (every RFC violation is an error) unless --lenient.\n\n"
                 "KIND: imap-command, imap-response, smtp-command, smtp-reply, pop3-command\n\n"
                 "exit status: 0 every item parsed, 1 some did not, 2 usage, 3 unreadable input\n");
}

/* Print up to SHOW bytes of p as a transcript would (escaped, one line). */
static void show(const char *p, size_t n)
{
    char esc[SHOW * 4 + 4];
    size_t cut = n > SHOW ? SHOW : n;
    size_t k = transcript_escape(p, cut, esc, sizeof esc);
    printf("%.*s%s", (int)k, esc, cut < n ? "..." : "");
}

/* One item at buf[0..len): returns the bytes it took (> 0), MR_NEED_MORE or MR_ERROR. */
static int parse_one(parse_kind kind, const char *buf, size_t len, mr_mode mode, mr_error *err)
{
    static imap_token tok[16384];
    switch (kind) {
    case P_IMAP_COMMAND: {
        imap_limits lim = imap_limits_default();
        lim.mode = mode;
        imap_command c;
        return imap_command_next(buf, len, &lim, &c, tok, 16384, err);
    }
    case P_IMAP_RESPONSE: {
        imap_limits lim = imap_limits_default();
        lim.mode = mode;
        imap_response r;
        return imap_response_next(buf, len, &lim, &r, tok, 16384, err);
    }
    case P_SMTP_COMMAND: {
        smtp_command c;
        return smtp_command_parse(buf, len, mode, NULL, NULL, &c, err);
    }
    case P_SMTP_REPLY: {
        smtp_reply_line lines[256];
        smtp_reply r;
        smtp_reply_init(&r, lines, 256);
        return smtp_reply_parse(buf, len, mode, NULL, &r, err);
    }
    case P_POP3_COMMAND: {
        pop3_command c;
        return pop3_command_parse(buf, len, mode, NULL, NULL, &c, err);
    }
    }
    return mr_fail(err, MR_E_STATE, "kind", 0);
}

static char *read_all(const char *path, size_t *n)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16;
    char *buf = malloc(cap);
    *n = 0;
    size_t got;
    while (buf && (got = fread(buf + *n, 1, cap - *n, f)) > 0) {
        *n += got;
        if (*n == cap && cap < MAX_INPUT) {
            char *grown = realloc(buf, cap * 2);
            if (!grown) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = grown;
            cap *= 2;
        } else if (*n == cap) {
            errno = EFBIG;
            free(buf);
            buf = NULL;
        }
    }
    if (f != stdin)
        fclose(f);
    return buf;
}

int cmd_parse(int argc, char **argv)
{
    static const struct option opts[] = {
        {"proto", required_argument, 0, 'p'},
        {"lenient", no_argument, 0, 'l'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    int kind = -1, c;
    mr_mode mode = MR_STRICT;
    while ((c = getopt_long(argc, argv, "p:lh", opts, NULL)) != -1) {
        switch (c) {
        case 'p':
            for (int k = 0; k < NKINDS; k++)
                if (strcmp(optarg, kind_names[k]) == 0)
                    kind = k;
            if (kind < 0)
                return cli_usage_error("parse", "--proto %s: expected one of imap-command, "
                                       "imap-response, smtp-command, smtp-reply, pop3-command", optarg);
            break;
        case 'l': mode = MR_LENIENT; break;
        case 'h': usage(stdout); return EXIT_PASS;
        default: usage(stderr); return EXIT_USAGE;
        }
    }
    if (kind < 0)
        return cli_usage_error("parse", "--proto KIND is required (see --help)");
    if (argc - optind > 1)
        return cli_usage_error("parse", "one input at most, got '%s' too", argv[optind + 1]);
    const char *path = optind < argc ? argv[optind] : "-";
    size_t n;
    char *buf = read_all(path, &n);
    if (!buf)
        return cli_env_error("parse", "%s: %s", path, strerror(errno));

    int errors = 0;
    size_t items = 0, at = 0;
    while (at < n && errors < MAX_ERRORS) {
        mr_error err = {0};
        int r = parse_one((parse_kind)kind, buf + at, n - at, mode, &err);
        if (r > 0) {
            printf("%zu %d %s ", at, r, kind_names[kind]);
            show(buf + at, (size_t)r - ((size_t)r >= 2 && buf[at + r - 2] == '\r' ? 2 : 1));
            putchar('\n');
            items++;
            at += (size_t)r;
            continue;
        }
        errors++;
        if (r == MR_NEED_MORE) {
            printf("%s:%zu: error: the input ends inside an item: ", path, at);
            show(buf + at, n - at);
            putchar('\n');
            break;
        }
        printf("%s:%zu: error: %s (rule %s) at: ", path, at + err.offset,
               mr_errcode_str(err.code), err.rule ? err.rule : "?");
        size_t from = at + err.offset < n ? at + err.offset : n;
        show(buf + from, n - from);
        putchar('\n');
        /* Resynchronise at the next line. */
        const char *lf = memchr(buf + from, '\n', n - from);
        at = lf ? (size_t)(lf - buf) + 1 : n;
    }
    printf("%zu items, %d errors%s\n", items, errors,
           errors >= MAX_ERRORS ? " (stopped after the first 100)" : "");
    free(buf);
    return errors ? EXIT_FAIL : EXIT_PASS;
}
