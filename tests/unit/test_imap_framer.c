/* test_imap_framer.c -- item framing: lines, inline and streamed literals, synchronizing
 * literal events, split points anywhere, and every limit. */
#include "tests/unit/imap_test.h"

/* What a caller sees, written down so that two ways of feeding can be compared:
 * text of items and segments with markers for events, and the streamed payload. */
typedef struct trace {
    char text[8192];
    size_t ntext;
    char payload[8192];
    size_t npayload;
    int items;
    int error;
    mr_error err;
} trace;

static void trace_put(char *buf, size_t *n, size_t cap, const char *p, size_t k)
{
    assert_true(*n + k <= cap);
    memcpy(buf + *n, p, k);
    *n += k;
}

static void trace_str(trace *t, const char *s)
{
    trace_put(t->text, &t->ntext, sizeof t->text, s, strlen(s));
}

/* Feed `in` to a framer, handing it cuts[0..ncuts) as the points where reads end (a
 * growing buffer between reads, the consumed bytes dropped, as a server would). Synchronizing
 * literals are accepted. */
static void drive(trace *t, imap_side side, const imap_limits *lim, const char *in, size_t n,
                  const size_t *cuts, size_t ncuts)
{
    memset(t, 0, sizeof *t);
    imap_framer f;
    imap_framer_init(&f, side, lim);
    size_t at = 0, avail_end = ncuts ? cuts[0] : n, c = 0;
    for (;;) {
        /* bytes in the buffer: [at, avail_end) */
        char *copy = guard_dup(in + at, avail_end - at);
        imap_frame ev;
        int r = imap_framer_next(&f, copy, avail_end - at, &ev, &t->err);
        if (r >= 0 && ev.kind != IMAP_FRAME_LITERAL)
            assert_true(ev.n <= avail_end - at);
        if (r > 0 && ev.kind == IMAP_FRAME_LITERAL)
            trace_put(t->payload, &t->npayload, sizeof t->payload, copy, ev.n);
        else if (r > 0)
            trace_put(t->text, &t->ntext, sizeof t->text, copy, ev.n);
        guard_free(copy, avail_end - at);
        if (r == MR_ERROR) {
            t->error = 1;
            trace_str(t, "[E]");
            return;
        }
        if (r == MR_NEED_MORE) {
            if (avail_end == n) {
                trace_str(t, "[M]");
                return;
            }
            c++;
            avail_end = c < ncuts ? cuts[c] : n;
            continue;
        }
        char mark[64];
        switch (ev.kind) {
        case IMAP_FRAME_SYNC_LITERAL:
            assert_int_equal(r, 0);
            snprintf(mark, sizeof mark, "[S%llu%s]", (unsigned long long)ev.literal_size,
                     ev.literal_binary ? "~" : "");
            trace_str(t, mark);
            break;
        case IMAP_FRAME_SEGMENT:
            snprintf(mark, sizeof mark, "[G%llu%s]", (unsigned long long)ev.literal_size,
                     ev.literal_binary ? "~" : "");
            trace_str(t, mark);
            break;
        case IMAP_FRAME_LITERAL:
            if (ev.literal_left == 0)
                trace_put(t->payload, &t->npayload, sizeof t->payload, "|", 1);
            break;
        case IMAP_FRAME_ITEM:
            trace_str(t, "[I]");
            t->items++;
            break;
        }
        at += (size_t)r;
        if (avail_end < at)
            avail_end = at;
        if (at == n)
            return;
    }
}

static void assert_trace_eq(const trace *a, const trace *b, const char *what)
{
    if (a->ntext != b->ntext || memcmp(a->text, b->text, a->ntext) != 0 ||
        a->npayload != b->npayload || memcmp(a->payload, b->payload, a->npayload) != 0 ||
        a->error != b->error ||
        (a->error && (a->err.code != b->err.code || strcmp(a->err.rule, b->err.rule) != 0)))
        fail_msg("%s: traces differ:\n%.*s\nvs\n%.*s", what, (int)a->ntext, a->text,
                 (int)b->ntext, b->text);
}

/* The whole input at once, one byte at a time, and cut in two at every point: the same. */
static void check_splits(imap_side side, const imap_limits *lim, const char *in, size_t n,
                         trace *whole)
{
    static trace t;
    drive(whole, side, lim, in, n, NULL, 0);
    size_t *cuts = calloc(n + 1, sizeof *cuts);
    for (size_t k = 0; k < n; k++)
        cuts[k] = k + 1;
    drive(&t, side, lim, in, n, cuts, n);
    assert_trace_eq(whole, &t, "byte by byte");
    for (size_t k = 1; k < n; k++) {
        cuts[0] = k;
        drive(&t, side, lim, in, n, cuts, 1);
        assert_trace_eq(whole, &t, "two reads");
    }
    free(cuts);
}

static void assert_text(const trace *t, const char *want)
{
    if (t->ntext != strlen(want) || memcmp(t->text, want, t->ntext) != 0)
        fail_msg("trace\n%.*s\nwant\n%s", (int)t->ntext, t->text, want);
}

static void assert_payload_n(const trace *t, const char *want, size_t n)
{
    if (t->npayload != n || memcmp(t->payload, want, n) != 0)
        fail_msg("payload\n%.*s\nwant\n%.*s", (int)t->npayload, t->payload, (int)n, want);
}

static void assert_payload(const trace *t, const char *want)
{
    assert_payload_n(t, want, strlen(want));
}

static int whole_step_side;
static imap_limits whole_step_lim;

static int whole_step(void *ctx, const char *buf, size_t len)
{
    mr_error *err = ctx;
    return imap_frame_whole((imap_side)whole_step_side, &whole_step_lim, buf, len, err);
}

static void lines(void **state)
{
    (void)state;
    static trace t;
    imap_limits lim = imap_limits_default();
    const char *in = "a1 NOOP\r\na2 LOGIN x y\r\n* OK hi\r\n";
    check_splits(IMAP_SIDE_COMMAND, &lim, in, strlen(in), &t);
    assert_text(&t, "a1 NOOP\r\n[I]a2 LOGIN x y\r\n[I]* OK hi\r\n[I]");
    assert_int_equal(t.items, 3);
    /* every proper prefix is need-more */
    mr_error err;
    whole_step_side = IMAP_SIDE_RESPONSE;
    whole_step_lim = lim;
    assert_int_equal(test_prefixes_str(whole_step, &err, "* OK [ALERT] x\r\nmore"), 16);
    assert_int_equal(test_prefixes_str(whole_step, &err, "\r\n"), 2);
    /* lenient: bare LF ends a line; strict: error at the LF */
    lim.mode = MR_LENIENT;
    check_splits(IMAP_SIDE_RESPONSE, &lim, "* OK a\n* OK b\r\n", 15, &t);
    assert_text(&t, "* OK a\n[I]* OK b\r\n[I]");
    lim.mode = MR_STRICT;
    check_splits(IMAP_SIDE_RESPONSE, &lim, "* OK a\r\n* OK b\n", 15, &t);
    assert_text(&t, "* OK a\r\n[I][E]");
    assert_err(&t.err, MR_E_BARE_LF, "CRLF", 6);
}

static void inline_literals(void **state)
{
    (void)state;
    static trace t;
    imap_limits lim = imap_limits_default();
    /* responses: literals are never synchronizing */
    const char *fetch = "* 1 FETCH (BODY[] {5}\r\nab\r\nc UID 3)\r\n* 2 FETCH (BODY[] {0}\r\n)\r\n";
    check_splits(IMAP_SIDE_RESPONSE, &lim, fetch, strlen(fetch), &t);
    assert_text(&t, "* 1 FETCH (BODY[] {5}\r\nab\r\nc UID 3)\r\n[I]* 2 FETCH (BODY[] {0}\r\n)\r\n[I]");
    /* a payload that looks like a literal marker is skipped, not scanned */
    const char *tricky = "* 1 FETCH (BODY[] {7}\r\n {99}\r\n)\r\n";
    check_splits(IMAP_SIDE_RESPONSE, &lim, tricky, strlen(tricky), &t);
    assert_int_equal(t.items, 1);
    /* commands: {n} is synchronizing (an event before the payload), {n+} is not */
    const char *login = "a LOGIN {4}\r\nfred {6+}\r\nsecret\r\n";
    check_splits(IMAP_SIDE_COMMAND, &lim, login, strlen(login), &t);
    assert_text(&t, "[S4]a LOGIN {4}\r\nfred {6+}\r\nsecret\r\n[I]");
    const char *two = "a LOGIN {4}\r\nfred {6}\r\nsecret\r\n";
    check_splits(IMAP_SIDE_COMMAND, &lim, two, strlen(two), &t);
    assert_text(&t, "[S4][S6]a LOGIN {4}\r\nfred {6}\r\nsecret\r\n[I]");
    /* literal8 */
    const char bin[] = "a APPEND x ~{3}\r\n\0\0\0\r\n";
    check_splits(IMAP_SIDE_COMMAND, &lim, bin, sizeof bin - 1, &t);
    assert_int_equal(t.items, 1);
    /* not literal markers: the "{" must follow SP, "(" or "~" and hold only digits */
    const char *not_lit[] = {"a X{5}\r\n", "* OK {x}\r\n", "* OK {}\r\n", "* OK {5\r\n",
                             "* OK 5}\r\n", "{5}\r\n", "* OK {5-}\r\n", "* OK a{+}\r\n"};
    for (size_t k = 0; k < sizeof not_lit / sizeof not_lit[0]; k++) {
        check_splits(IMAP_SIDE_RESPONSE, &lim, not_lit[k], strlen(not_lit[k]), &t);
        assert_int_equal(t.items, 1);
        assert_int_equal(t.ntext, strlen(not_lit[k]) + 3);
    }
    /* lenient: marker line ending in a bare LF */
    lim.mode = MR_LENIENT;
    check_splits(IMAP_SIDE_RESPONSE, &lim, "* 1 FETCH (BODY[] {2}\nab)\n", 26, &t);
    assert_int_equal(t.items, 1);
}

static void streamed_literals(void **state)
{
    (void)state;
    static trace t;
    imap_limits lim = imap_limits_default();
    lim.inline_literal_max = 4;
    /* the payload is streamed; the text around it comes as segment + item */
    const char *in = "* 1 FETCH (UID 9 BODY[] {10}\r\n0123456789 FLAGS (\\Seen))\r\n* 2 EXISTS\r\n";
    check_splits(IMAP_SIDE_RESPONSE, &lim, in, strlen(in), &t);
    assert_text(&t, "* 1 FETCH (UID 9 BODY[] {10}\r\n[G10] FLAGS (\\Seen))\r\n[I]* 2 EXISTS\r\n[I]");
    assert_payload(&t, "0123456789|");
    /* small ones stay inline in the same item */
    const char mixed[] = "* 1 FETCH (A {3}\r\nabc B {6}\r\nabcdef C ~{5}\r\nxy\0zw)\r\n";
    check_splits(IMAP_SIDE_RESPONSE, &lim, mixed, sizeof mixed - 1, &t);
    assert_text(&t, "* 1 FETCH (A {3}\r\nabc B {6}\r\n[G6] C ~{5}\r\n[G5~])\r\n[I]");
    assert_payload_n(&t, "abcdef|xy\0zw|", 13);
    /* APPEND of a big message: sync event, then segment, payload chunks, item */
    const char *app = "A3 APPEND INBOX (\\Seen) {12}\r\nHello world!\r\n";
    check_splits(IMAP_SIDE_COMMAND, &lim, app, strlen(app), &t);
    assert_text(&t, "[S12]A3 APPEND INBOX (\\Seen) {12}\r\n[G12]\r\n[I]");
    assert_payload(&t, "Hello world!|");
    /* MULTIAPPEND with two streamed messages and LITERAL+ */
    const char *multi = "A4 APPEND INBOX {5+}\r\nfirst (\\Seen) {6+}\r\nsecond\r\n";
    check_splits(IMAP_SIDE_COMMAND, &lim, multi, strlen(multi), &t);
    assert_text(&t, "A4 APPEND INBOX {5+}\r\n[G5] (\\Seen) {6+}\r\n[G6]\r\n[I]");
    assert_payload(&t, "first|second|");
    /* literal_left counts down, chunk by chunk */
    imap_framer f;
    imap_framer_init(&f, IMAP_SIDE_RESPONSE, &lim);
    imap_frame ev;
    mr_error err;
    const char *s = "* 1 FETCH (BODY[] {10}\r\n";
    assert_int_equal(imap_framer_next(&f, s, strlen(s), &ev, &err), (int)strlen(s));
    assert_int_equal(ev.kind, IMAP_FRAME_SEGMENT);
    assert_int_equal(ev.literal_size, 10);
    assert_int_equal(imap_framer_next(&f, "", 0, &ev, &err), MR_NEED_MORE);
    assert_int_equal(imap_framer_next(&f, "0123", 4, &ev, &err), 4);
    assert_int_equal(ev.kind, IMAP_FRAME_LITERAL);
    assert_int_equal(ev.literal_left, 6);
    assert_int_equal(imap_framer_next(&f, "456789)\r\n", 9, &ev, &err), 6);
    assert_int_equal(ev.literal_left, 0);
    assert_int_equal(imap_framer_next(&f, ")\r", 2, &ev, &err), MR_NEED_MORE);
    assert_int_equal(imap_framer_next(&f, ")\r\n", 3, &ev, &err), 3);
    assert_int_equal(ev.kind, IMAP_FRAME_ITEM);
    /* imap_frame_whole refuses to stream */
    assert_int_equal(imap_frame_whole(IMAP_SIDE_RESPONSE, &lim, s, strlen(s), &err), MR_ERROR);
    assert_int_equal(err.code, MR_E_LIMIT_LITERAL);
    assert_int_equal(err.offset, 18);
}

static void sync_literal_protocol(void **state)
{
    (void)state;
    imap_limits lim = imap_limits_default();
    imap_framer f;
    imap_frame ev;
    mr_error err;
    imap_framer_init(&f, IMAP_SIDE_COMMAND, &lim);
    /* the client waits for "+": the event comes as soon as the marker line is in */
    const char *m = "a1 LOGIN {4}\r\n";
    assert_int_equal(imap_framer_next(&f, m, 13, &ev, &err), MR_NEED_MORE);
    assert_int_equal(imap_framer_next(&f, m, 14, &ev, &err), 0);
    assert_int_equal(ev.kind, IMAP_FRAME_SYNC_LITERAL);
    assert_int_equal(ev.n, 14);
    assert_int_equal(ev.literal_size, 4);
    /* accepted: the server sends "+", calls again with what it has */
    assert_int_equal(imap_framer_next(&f, m, 14, &ev, &err), MR_NEED_MORE);
    const char *all = "a1 LOGIN {4}\r\nfred bar\r\n";
    assert_int_equal(imap_framer_next(&f, all, strlen(all), &ev, &err), (int)strlen(all));
    assert_int_equal(ev.kind, IMAP_FRAME_ITEM);
    /* rejected (too big): reset and go on with the next command */
    const char *big = "a2 APPEND INBOX {999999}\r\na3 NOOP\r\n";
    assert_int_equal(imap_framer_next(&f, big, strlen(big), &ev, &err), 0);
    assert_int_equal(ev.kind, IMAP_FRAME_SYNC_LITERAL);
    assert_int_equal(ev.literal_size, 999999);
    size_t drop = ev.n;
    imap_framer_reset(&f);
    assert_int_equal(imap_framer_next(&f, big + drop, strlen(big) - drop, &ev, &err), 9);
    assert_int_equal(ev.kind, IMAP_FRAME_ITEM);
    /* after the event, the same bytes must come back */
    assert_int_equal(imap_framer_next(&f, big, strlen(big), &ev, &err), 0);
    assert_int_equal(imap_framer_next(&f, big, 5, &ev, &err), MR_ERROR);
    assert_int_equal(err.code, MR_E_STATE);
}

static void errors(void **state)
{
    (void)state;
    static trace t;
    imap_limits lim = imap_limits_default();
    /* literal sizes: over the limit, 4 GiB, more digits than fit -- at the "{" */
    check_splits(IMAP_SIDE_RESPONSE, &lim, "* 1 FETCH (BODY[] {4294967295}\r\n", 32, &t);
    assert_text(&t, "[E]");
    assert_err(&t.err, MR_E_LIMIT_LITERAL, "literal", 18);
    const char *digits = "a APPEND x {123456789012345678901234567890}\r\n";
    check_splits(IMAP_SIDE_COMMAND, &lim, digits, strlen(digits), &t);
    assert_int_equal(t.err.code, MR_E_LIMIT_LITERAL);
    assert_int_equal(t.err.offset, 11);
    lim.literal_max = 100;
    check_splits(IMAP_SIDE_COMMAND, &lim, "a APPEND x {101}\r\n", 18, &t);
    assert_int_equal(t.err.code, MR_E_LIMIT_LITERAL);
    check_splits(IMAP_SIDE_COMMAND, &lim, "a APPEND x {100}\r\n", 18, &t);
    assert_text(&t, "[S100][M]");
    /* LITERAL-: {n+} at most 4096 */
    lim = imap_limits_default();
    lim.nonsync_literal_max = 4096;
    check_splits(IMAP_SIDE_COMMAND, &lim, "a APPEND x {4097+}\r\n", 20, &t);
    assert_int_equal(t.err.code, MR_E_LIMIT_LITERAL);
    assert_int_equal(t.err.offset, 11);
    check_splits(IMAP_SIDE_COMMAND, &lim, "a APPEND x {4097}\r\n", 19, &t);
    assert_text(&t, "[S4097][M]");
    /* {n+} from a server */
    lim = imap_limits_default();
    check_splits(IMAP_SIDE_RESPONSE, &lim, "* 1 FETCH (BODY[] {1+}\r\nx)\r\n", 28, &t);
    assert_int_equal(t.err.code, MR_E_SYNTAX);
    assert_int_equal(t.err.offset, 18);
    lim.mode = MR_LENIENT;
    check_splits(IMAP_SIDE_RESPONSE, &lim, "* 1 FETCH (BODY[] {1+}\r\nx)\r\n", 28, &t);
    assert_int_equal(t.items, 1);
    /* line length: the limit is on each line, without its CRLF */
    lim = imap_limits_default();
    lim.line_max = 10;
    check_splits(IMAP_SIDE_RESPONSE, &lim, "* OK 12345\r\n", 12, &t);
    assert_int_equal(t.items, 1);
    check_splits(IMAP_SIDE_RESPONSE, &lim, "* OK 123456\r\n", 13, &t);
    assert_int_equal(t.err.code, MR_E_LIMIT_LINE);
    assert_int_equal(t.err.offset, 10);
    check_splits(IMAP_SIDE_RESPONSE, &lim, "* OK 123456\n", 12, &t);
    assert_int_equal(t.err.code, MR_E_BARE_LF);
    lim.mode = MR_LENIENT;
    check_splits(IMAP_SIDE_RESPONSE, &lim, "* OK 123456\n", 12, &t);
    assert_int_equal(t.err.code, MR_E_LIMIT_LINE);
    check_splits(IMAP_SIDE_RESPONSE, &lim, "* OK 12345\n", 11, &t);
    assert_int_equal(t.items, 1);
    lim.mode = MR_STRICT;
    check_splits(IMAP_SIDE_RESPONSE, &lim, "* OK 1234567890123", 18, &t);
    assert_int_equal(t.err.code, MR_E_LIMIT_LINE);
    /* ... per line: a literal starts a new one */
    check_splits(IMAP_SIDE_RESPONSE, &lim, "* 1 X {2}\r\nab 123456\r\n", 22, &t);
    assert_int_equal(t.items, 1);
    check_splits(IMAP_SIDE_RESPONSE, &lim, "* 1 X {2}\r\nab 123456789\r\n", 25, &t);
    assert_int_equal(t.items, 1); /* the payload is not part of the line after it */
    check_splits(IMAP_SIDE_RESPONSE, &lim, "* 1 X {2}\r\nab 1234567890\r\n", 26, &t);
    assert_int_equal(t.err.code, MR_E_LIMIT_LINE);
    assert_int_equal(t.err.offset, 23);
    /* item size: lines and inline literals together */
    lim = imap_limits_default();
    lim.item_max = 32;
    check_splits(IMAP_SIDE_RESPONSE, &lim, "* 1 X {10}\r\n0123456789 abcdefgh\r\n", 33, &t);
    assert_int_equal(t.err.code, MR_E_LIMIT_COUNT);
    assert_string_equal(t.err.rule, "item");
    check_splits(IMAP_SIDE_RESPONSE, &lim, "* 1 X {10}\r\n0123456789 abcdefg\r\n", 32, &t);
    assert_int_equal(t.items, 1);
    check_splits(IMAP_SIDE_RESPONSE, &lim, "* 1 X {30}\r\n", 12, &t);
    assert_err(&t.err, MR_E_LIMIT_COUNT, "literal", 6);
    /* streamed payloads do not count against item_max */
    lim.inline_literal_max = 8;
    const char *big = "* 1 X {40}\r\n0123456789012345678901234567890123456789)\r\n";
    check_splits(IMAP_SIDE_RESPONSE, &lim, big, strlen(big), &t);
    assert_int_equal(t.items, 1);
}

static void hundred_megabytes(void **state)
{
    (void)state;
    size_t n = 100u << 20;
    char *flood = malloc(n);
    memset(flood, 'x', n);
    memcpy(flood, "* OK ", 5);
    imap_limits lim = imap_limits_default();
    imap_framer f;
    imap_frame ev;
    mr_error err;
    imap_framer_init(&f, IMAP_SIDE_RESPONSE, &lim);
    assert_int_equal(imap_framer_next(&f, flood, n, &ev, &err), MR_ERROR);
    assert_int_equal(err.code, MR_E_LIMIT_LINE);
    assert_int_equal(err.offset, 8192);
    /* growing the buffer by small reads reaches the same error without rescanning */
    imap_framer_init(&f, IMAP_SIDE_RESPONSE, &lim);
    size_t have = 0;
    int r;
    while ((r = imap_framer_next(&f, flood, have, &ev, &err)) == MR_NEED_MORE)
        have += 1000;
    assert_int_equal(r, MR_ERROR);
    assert_int_equal(err.code, MR_E_LIMIT_LINE);
    assert_true(have <= 8194 + 1000);
    /* a streamed literal of 100 MB passes in bounded chunks */
    lim.literal_max = 200u << 20;
    imap_framer_init(&f, IMAP_SIDE_RESPONSE, &lim);
    const char *head = "* 1 FETCH (BODY[] {104857600}\r\n";
    assert_int_equal(imap_framer_next(&f, head, strlen(head), &ev, &err), (int)strlen(head));
    assert_int_equal(ev.kind, IMAP_FRAME_SEGMENT);
    assert_int_equal(imap_framer_next(&f, flood, n, &ev, &err), (int)n);
    assert_int_equal(ev.kind, IMAP_FRAME_LITERAL);
    assert_int_equal(ev.literal_left, 0);
    assert_int_equal(imap_framer_next(&f, ")\r\n", 3, &ev, &err), 3);
    assert_int_equal(ev.kind, IMAP_FRAME_ITEM);
    free(flood);
}

static void limits_clamped(void **state)
{
    (void)state;
    imap_limits lim = imap_limits_default();
    lim.line_max = (size_t)-1;
    lim.literal_max = UINT64_MAX;
    lim.item_max = (size_t)-1;
    imap_framer f;
    imap_framer_init(&f, IMAP_SIDE_RESPONSE, &lim);
    assert_int_equal(f.lim.line_max, MR_LIMIT_MAX);
    assert_int_equal(f.lim.literal_max, MR_LIMIT_MAX);
    assert_int_equal(f.lim.item_max, MR_LIMIT_MAX);
    imap_frame ev;
    mr_error err;
    const char *s = "* 1 FETCH (BODY[] {4294967295}\r\n";
    assert_int_equal(imap_framer_next(&f, s, strlen(s), &ev, &err), MR_ERROR);
    assert_int_equal(err.code, MR_E_LIMIT_LITERAL);
    imap_framer_init(&f, IMAP_SIDE_RESPONSE, NULL);
    assert_int_equal(f.lim.line_max, 8192);
    imap_limits d = IMAP_LIMITS_DEFAULT;
    assert_int_equal(d.inline_literal_max, imap_limits_default().inline_literal_max);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lines),
        cmocka_unit_test(inline_literals),
        cmocka_unit_test(streamed_literals),
        cmocka_unit_test(sync_literal_protocol),
        cmocka_unit_test(errors),
        cmocka_unit_test(hundred_megabytes),
        cmocka_unit_test(limits_clamped),
    };
    return cmocka_run_group_tests_name("imap_framer", tests, NULL, NULL);
}
