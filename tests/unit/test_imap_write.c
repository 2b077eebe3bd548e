/* test_imap_write.c -- the writers: buffer handling, quote-or-literal, validation against
 * injection, commands and responses, ENVELOPE / BODYSTRUCTURE from structs, and
 * parse(write(x)) == x for each. */
#include "tests/unit/imap_test.h"

/* Write with f into a buffer that ends at a guard page, exactly as large as the output, and
 * check that one byte less says MR_NEED_MORE with the right size and writes nothing past. */
typedef void (*write_fn)(imap_wbuf *w, const void *arg);

static int write_exact(write_fn f, const void *arg, char *out, size_t cap)
{
    imap_wbuf w;
    imap_wbuf_init(&w, NULL, 0);
    f(&w, arg);
    if (w.err != MR_E_NONE)
        return MR_ERROR;
    size_t n = w.len;
    assert_true(n <= cap);
    char *buf = guard_dup(out, n); /* n bytes, the last one just before the guard page */
    imap_wbuf_init(&w, buf, n);
    f(&w, arg);
    assert_int_equal(imap_wbuf_result(&w), (int)n);
    memcpy(out, buf, n);
    if (n) {
        imap_wbuf_init(&w, buf, n - 1);
        f(&w, arg);
        assert_int_equal(imap_wbuf_result(&w), MR_NEED_MORE);
        assert_int_equal(w.len, n);
    }
    guard_free(buf, n);
    return (int)n;
}

static void w_string_arg(imap_wbuf *w, const void *arg)
{
    const char *s = arg;
    imap_w_string(w, (mr_slice){s, strlen(s)}, 0);
}

static void buffers(void **state)
{
    (void)state;
    char out[64];
    assert_int_equal(write_exact(w_string_arg, "hello world", out, sizeof out), 13);
    assert_memory_equal(out, "\"hello world\"", 13);
    /* a NULL buffer just counts */
    imap_wbuf w;
    imap_wbuf_init(&w, NULL, 100);
    imap_w_cstr(&w, "abc");
    assert_int_equal(imap_wbuf_result(&w), MR_NEED_MORE);
    assert_int_equal(w.len, 3);
    /* the first error sticks */
    imap_wbuf_init(&w, out, sizeof out);
    imap_w_atom(&w, (mr_slice){"a b", 3});
    imap_w_cstr(&w, "x");
    assert_int_equal(imap_wbuf_result(&w), MR_ERROR);
    assert_int_equal(w.err, MR_E_SYNTAX);
    imap_wbuf_init(&w, out, 0);
    imap_w_number(&w, 18446744073709551615ull);
    assert_int_equal(w.len, 20);
    imap_wbuf_init(&w, out, sizeof out);
    imap_w_number(&w, 0);
    assert_int_equal(imap_wbuf_result(&w), 1);
    assert_int_equal(out[0], '0');
}

/* Parse `s` as the value of a LOGIN's password (astring) and return its token type, checking
 * that its value reads back as `raw`. */
static int reparse_astring(const char *written, size_t wl, mr_slice raw)
{
    char line[4096];
    assert_true(wl + 32 < sizeof line);
    int n = snprintf(line, sizeof line, "a LOGIN u %.*s\r\n", (int)wl, written);
    imap_command c;
    static imap_token tok[16];
    mr_error err;
    imap_limits lim = imap_limits_default();
    lim.mode = MR_STRICT;
    int r = imap_command_next(line, (size_t)n, &lim, &c, tok, 16, &err);
    if (r != n)
        fail_msg("%s: %d %s %s %zu", line, r, mr_errcode_str(err.code), err.rule, err.offset);
    char v[2048];
    int vl = imap_tok_copy(&c.t, 1, v, sizeof v);
    assert_int_equal(vl, (int)raw.n);
    assert_memory_equal(v, raw.p, raw.n);
    return tok[1].type;
}

static void quote_or_literal(void **state)
{
    (void)state;
    const struct {
        const char *raw;
        size_t n;
        unsigned opts;
        int astring_type; /* what imap_w_astring makes of it */
        int string_type;  /* what imap_w_string makes of it */
    } cases[] = {
        {"INBOX", 5, 0, IMAP_T_ATOM, IMAP_T_QUOTED},
        {"a]b", 3, 0, IMAP_T_ATOM, IMAP_T_QUOTED},
        {"", 0, 0, IMAP_T_QUOTED, IMAP_T_QUOTED},
        {"two words", 9, 0, IMAP_T_QUOTED, IMAP_T_QUOTED},
        {"q\"uo\\te", 7, 0, IMAP_T_QUOTED, IMAP_T_QUOTED},
        {"(paren)", 7, 0, IMAP_T_QUOTED, IMAP_T_QUOTED},
        {"{5}", 3, 0, IMAP_T_QUOTED, IMAP_T_QUOTED},
        {"NIL", 3, 0, IMAP_T_ATOM, IMAP_T_QUOTED},
        {"line\r\nbreak", 11, 0, IMAP_T_LITERAL, IMAP_T_LITERAL},
        {"bare\nlf", 7, 0, IMAP_T_LITERAL, IMAP_T_LITERAL},
        {"Entw\xc3\xbcrfe", 9, 0, IMAP_T_LITERAL, IMAP_T_LITERAL},
        {"Entw\xc3\xbcrfe", 9, IMAP_W_UTF8, IMAP_T_QUOTED, IMAP_T_QUOTED},
        {"bad\xff", 4, IMAP_W_UTF8, IMAP_T_LITERAL, IMAP_T_LITERAL},
        {"tab\there", 8, 0, IMAP_T_QUOTED, IMAP_T_QUOTED},
    };
    char out[4096];
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        mr_slice raw = {cases[k].raw, cases[k].n};
        imap_wbuf w;
        imap_wbuf_init(&w, out, sizeof out);
        imap_w_astring(&w, raw, cases[k].opts);
        int wl = imap_wbuf_result(&w);
        assert_true(wl > 0);
        if (cases[k].opts & IMAP_W_UTF8 && cases[k].astring_type == IMAP_T_QUOTED)
            continue; /* UTF-8 quoted: checked by the response parser below */
        assert_int_equal(reparse_astring(out, (size_t)wl, raw), cases[k].astring_type);
        imap_wbuf_init(&w, out, sizeof out);
        imap_w_string(&w, raw, cases[k].opts);
        wl = imap_wbuf_result(&w);
        assert_int_equal(reparse_astring(out, (size_t)wl, raw), cases[k].string_type);
    }
    /* long strings become literals */
    char big[IMAP_W_QUOTED_MAX + 1];
    memset(big, 'x', sizeof big);
    imap_wbuf w;
    imap_wbuf_init(&w, out, sizeof out);
    imap_w_string(&w, (mr_slice){big, sizeof big}, 0);
    assert_memory_equal(out, "{1025}\r\n", 8);
    imap_wbuf_init(&w, out, sizeof out);
    imap_w_string(&w, (mr_slice){big, IMAP_W_QUOTED_MAX}, 0);
    assert_int_equal(out[0], '"');
    /* LITERAL+ */
    imap_wbuf_init(&w, out, sizeof out);
    imap_w_string(&w, (mr_slice){"a\r\nb", 4}, IMAP_W_NONSYNC);
    assert_int_equal(imap_wbuf_result(&w), 10);
    assert_memory_equal(out, "{4+}\r\na\r\nb", 10);
    /* NUL fits only a literal8 */
    imap_wbuf_init(&w, out, sizeof out);
    imap_w_string(&w, (mr_slice){"a\0b", 3}, 0);
    assert_int_equal(imap_wbuf_result(&w), MR_ERROR);
    assert_int_equal(w.err, MR_E_NUL);
    imap_wbuf_init(&w, out, sizeof out);
    imap_w_literal(&w, (mr_slice){"a\0b", 3}, 0);
    assert_int_equal(imap_wbuf_result(&w), MR_ERROR);
    imap_wbuf_init(&w, out, sizeof out);
    imap_w_literal(&w, (mr_slice){"a\0b", 3}, IMAP_W_BINARY);
    assert_int_equal(imap_wbuf_result(&w), 9);
    assert_memory_equal(out, "~{3}\r\na\0b", 9);
    imap_wbuf_init(&w, out, sizeof out);
    imap_w_literal_marker(&w, 31457280, IMAP_W_NONSYNC);
    assert_int_equal(imap_wbuf_result(&w), 13);
    assert_memory_equal(out, "{31457280+}\r\n", 13);
    /* quoted: what cannot be quoted is refused */
    const struct {
        const char *s;
        size_t n;
        unsigned opts;
        mr_errcode code;
    } bad[] = {
        {"a\rb", 3, 0, MR_E_SYNTAX},     {"a\nb", 3, 0, MR_E_SYNTAX},
        {"a\0b", 3, 0, MR_E_NUL},        {"\xc3\xa4", 2, 0, MR_E_8BIT},
        {"\xc3", 1, IMAP_W_UTF8, MR_E_UTF8},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        imap_wbuf_init(&w, out, sizeof out);
        imap_w_quoted(&w, (mr_slice){bad[k].s, bad[k].n}, bad[k].opts);
        assert_int_equal(imap_wbuf_result(&w), MR_ERROR);
        assert_int_equal(w.err, bad[k].code);
    }
}

static void nstrings(void **state)
{
    (void)state;
    char out[2048];
    imap_wbuf w;
    imap_nstring v;
    memset(&v, 0, sizeof v);
    v.nil = 1;
    imap_wbuf_init(&w, out, sizeof out);
    imap_w_nstring(&w, &v, 0);
    assert_int_equal(imap_wbuf_result(&w), 3);
    assert_memory_equal(out, "NIL", 3);
    /* escaped content from the parser goes back verbatim */
    memset(&v, 0, sizeof v);
    v.s = (mr_slice){"a\\\"b", 4};
    v.escaped = 1;
    imap_wbuf_init(&w, out, sizeof out);
    imap_w_nstring(&w, &v, 0);
    assert_int_equal(imap_wbuf_result(&w), 6);
    assert_memory_equal(out, "\"a\\\"b\"", 6);
    /* ... unless it is broken */
    v.s = (mr_slice){"a\"b", 3};
    imap_wbuf_init(&w, out, sizeof out);
    imap_w_nstring(&w, &v, 0);
    assert_int_equal(imap_wbuf_result(&w), MR_ERROR);
    v.s = (mr_slice){"ab\\", 3};
    imap_wbuf_init(&w, out, sizeof out);
    imap_w_nstring(&w, &v, 0);
    assert_int_equal(imap_wbuf_result(&w), MR_ERROR);
    /* too long to stay quoted: a literal of the unescaped bytes */
    static char longq[2 * IMAP_W_QUOTED_MAX];
    for (size_t k = 0; k < sizeof longq; k += 2) {
        longq[k] = '\\';
        longq[k + 1] = '"';
    }
    v.s = (mr_slice){longq, sizeof longq};
    imap_wbuf_init(&w, out, sizeof out);
    imap_w_nstring(&w, &v, 0);
    int wl = imap_wbuf_result(&w);
    assert_int_equal(wl, 8 + IMAP_W_QUOTED_MAX);
    assert_memory_equal(out, "{1024}\r\n\"\"", 10);
    /* a streamed literal: its marker only */
    memset(&v, 0, sizeof v);
    v.streamed = 1;
    v.literal_size = 123456;
    imap_wbuf_init(&w, out, sizeof out);
    imap_w_nstring(&w, &v, 0);
    assert_int_equal(imap_wbuf_result(&w), 10);
    assert_memory_equal(out, "{123456}\r\n", 10);
    imap_wbuf_init(&w, out, sizeof out);
    imap_w_nstr(&w, NULL, 0, 0);
    imap_w_sp(&w);
    imap_w_nstr(&w, "x y", 3, 0);
    assert_int_equal(imap_wbuf_result(&w), 9);
    assert_memory_equal(out, "NIL \"x y\"", 9);
}

static void atoms_flags_text(void **state)
{
    (void)state;
    char out[256];
    imap_wbuf w;
    const char *good_flags[] = {"\\Seen", "$Forwarded", "\\*", "Junk", "\\Answered"};
    const char *bad_flags[] = {"", "\\", "a b", "(x)", "a\"", "\\Se%en", "a\r\nb"};
    for (size_t k = 0; k < 5; k++) {
        imap_wbuf_init(&w, out, sizeof out);
        imap_w_flag(&w, (mr_slice){good_flags[k], strlen(good_flags[k])});
        assert_int_equal(imap_wbuf_result(&w), (int)strlen(good_flags[k]));
    }
    for (size_t k = 0; k < 7; k++) {
        imap_wbuf_init(&w, out, sizeof out);
        imap_w_flag(&w, (mr_slice){bad_flags[k], strlen(bad_flags[k])});
        assert_int_equal(imap_wbuf_result(&w), MR_ERROR);
    }
    /* CRLF injection through text is refused */
    imap_wbuf_init(&w, out, sizeof out);
    imap_w_status(&w, (mr_slice){"a1", 2}, IMAP_STATUS_OK, NULL, (mr_slice){"", 0},
                  (mr_slice){"done\r\n* BYE", 11}, 0);
    assert_int_equal(imap_wbuf_result(&w), MR_ERROR);
    imap_wbuf_init(&w, out, sizeof out);
    imap_w_status(&w, (mr_slice){"a 1", 3}, IMAP_STATUS_OK, NULL, (mr_slice){"", 0},
                  (mr_slice){"x", 1}, 0);
    assert_int_equal(imap_wbuf_result(&w), MR_ERROR);
    imap_wbuf_init(&w, out, sizeof out);
    imap_w_status(&w, (mr_slice){"a1", 2}, IMAP_STATUS_NO, "ALERT", (mr_slice){"x]y", 3},
                  (mr_slice){"x", 1}, 0);
    assert_int_equal(imap_wbuf_result(&w), MR_ERROR);
    imap_wbuf_init(&w, out, sizeof out);
    imap_w_status(&w, (mr_slice){"a1", 2}, IMAP_STATUS_NONE, NULL, (mr_slice){"", 0},
                  (mr_slice){"x", 1}, 0);
    assert_int_equal(imap_wbuf_result(&w), MR_ERROR);
    imap_wbuf_init(&w, out, sizeof out);
    imap_w_continuation(&w, (mr_slice){"[ALERT] x", 9}, 0);
    assert_int_equal(imap_wbuf_result(&w), MR_ERROR);
    imap_wbuf_init(&w, out, sizeof out);
    imap_w_text(&w, (mr_slice){"Gr\xc3\xbc\xc3\x9f" "e", 7}, IMAP_W_UTF8);
    assert_int_equal(imap_wbuf_result(&w), 7);
    imap_wbuf_init(&w, out, sizeof out);
    imap_w_text(&w, (mr_slice){"Gr\xc3\xbc\xc3\x9f" "e", 7}, 0);
    assert_int_equal(imap_wbuf_result(&w), MR_ERROR);
}

static void sequences_and_dates(void **state)
{
    (void)state;
    char out[256];
    imap_wbuf w;
    imap_seq_range r[] = {{1, 1}, {3, 5}, {7, IMAP_SEQ_STAR}, {IMAP_SEQ_STAR, IMAP_SEQ_STAR}};
    imap_wbuf_init(&w, out, sizeof out);
    imap_w_seqset(&w, r, 4);
    assert_int_equal(imap_wbuf_result(&w), 11);
    assert_memory_equal(out, "1,3:5,7:*,*", 11);
    imap_wbuf_init(&w, out, sizeof out);
    imap_w_seqset(&w, r, 0);
    assert_int_equal(imap_wbuf_result(&w), MR_ERROR);
    uint32_t nums[] = {1, 2, 3, 5, 7, 8, 4294967295u};
    imap_wbuf_init(&w, out, sizeof out);
    imap_w_seq_numbers(&w, nums, 7);
    int n = imap_wbuf_result(&w);
    assert_int_equal(n, 20);
    assert_memory_equal(out, "1:3,5,7:8,4294967295", 20);
    /* and back */
    imap_seq_iter it;
    uint32_t lo, hi;
    imap_seq_begin(&it, (mr_slice){out, (size_t)n});
    uint32_t want[][2] = {{1, 3}, {5, 5}, {7, 8}, {4294967295u, 4294967295u}};
    for (int k = 0; k < 4; k++) {
        assert_int_equal(imap_seq_next(&it, &lo, &hi), 1);
        assert_int_equal(lo, want[k][0]);
        assert_int_equal(hi, want[k][1]);
    }
    assert_int_equal(imap_seq_next(&it, &lo, &hi), 0);
    uint32_t zero[] = {0};
    imap_wbuf_init(&w, out, sizeof out);
    imap_w_seq_numbers(&w, zero, 1);
    assert_int_equal(imap_wbuf_result(&w), MR_ERROR);

    imap_datetime dt = {.year = 1996, .month = 7, .day = 17, .hour = 2, .min = 44, .sec = 25,
                        .zone = -420, .has_time = 1};
    imap_wbuf_init(&w, out, sizeof out);
    imap_w_datetime(&w, &dt);
    assert_int_equal(imap_wbuf_result(&w), 28);
    assert_memory_equal(out, "\"17-Jul-1996 02:44:25 -0700\"", 28);
    imap_datetime back;
    assert_int_equal(imap_datetime_parse((mr_slice){out + 1, 26}, MR_STRICT, &back), 0);
    assert_int_equal(back.zone, -420);
    assert_int_equal(back.day, 17);
    dt.month = 13;
    imap_wbuf_init(&w, out, sizeof out);
    imap_w_datetime(&w, &dt);
    assert_int_equal(imap_wbuf_result(&w), MR_ERROR);
}

static void commands(void **state)
{
    (void)state;
    char out[512];
    imap_command c;
    imap_token tok[64];
    mr_error err;
    imap_limits lim = imap_limits_default();
    /* LOGIN with a password that needs a literal: no injection possible */
    imap_arg login[] = {{IMAP_ARG_ASTRING, {"johnappleseed", 13}, 0},
                        {IMAP_ARG_ASTRING, {"pa ss\r\nA2 LOGOUT", 16}, 0}};
    int n = imap_write_command(out, sizeof out, (mr_slice){"A1", 2}, "LOGIN", login, 2, 0);
    assert_int_equal(n, 47);
    assert_memory_equal(out, "A1 LOGIN johnappleseed {16}\r\npa ss\r\nA2 LOGOUT\r\n", 47);
    assert_int_equal(imap_command_next(out, (size_t)n, &lim, &c, tok, 64, &err), n);
    assert_int_equal(c.type, IMAP_CMD_LOGIN);
    assert_tok(&c.t, 1, IMAP_T_LITERAL, "pa ss\r\nA2 LOGOUT");
    /* the client finds where to wait for "+" with the framer */
    imap_framer f;
    imap_frame ev;
    imap_framer_init(&f, IMAP_SIDE_COMMAND, &lim);
    assert_int_equal(imap_framer_next(&f, out, (size_t)n, &ev, &err), 0);
    assert_int_equal(ev.kind, IMAP_FRAME_SYNC_LITERAL);
    assert_int_equal(ev.n, 29);
    /* FETCH with a list, UID prefix */
    imap_arg fetch[] = {{IMAP_ARG_SEQSET, {"1:*", 3}, 0},   {IMAP_ARG_OPEN, {0}, 0},
                        {IMAP_ARG_ATOM, {"UID", 3}, 0},     {IMAP_ARG_ATOM, {"FLAGS", 5}, 0},
                        {IMAP_ARG_RAW, {"BODY.PEEK[HEADER.FIELDS (FROM)]", 31}, 0},
                        {IMAP_ARG_CLOSE, {0}, 0}};
    n = imap_write_command(out, sizeof out, (mr_slice){"a2", 2}, "UID FETCH", fetch, 6, 0);
    assert_true(n > 0);
    assert_memory_equal(out, "a2 UID FETCH 1:* (UID FLAGS BODY.PEEK[HEADER.FIELDS (FROM)])\r\n",
                        (size_t)n);
    assert_int_equal(imap_command_next(out, (size_t)n, &lim, &c, tok, 64, &err), n);
    assert_true(c.uid);
    /* APPEND with flags, a number-free literal and LITERAL+ */
    imap_arg app[] = {{IMAP_ARG_ASTRING, {"Sent Messages", 13}, 0},
                      {IMAP_ARG_OPEN, {0}, 0},
                      {IMAP_ARG_FLAG, {"\\Seen", 5}, 0},
                      {IMAP_ARG_CLOSE, {0}, 0},
                      {IMAP_ARG_LITERAL, {"Subject: x\r\n\r\nhi\r\n", 18}, 0}};
    n = imap_write_command(out, sizeof out, (mr_slice){"a3", 2}, "APPEND", app, 5,
                           IMAP_W_NONSYNC);
    assert_true(n > 0);
    assert_int_equal(imap_command_next(out, (size_t)n, &lim, &c, tok, 64, &err), n);
    assert_int_equal(c.type, IMAP_CMD_APPEND);
    assert_true(tok[3].flags & IMAP_TF_NONSYNC);
    /* everything else */
    imap_arg misc[] = {{IMAP_ARG_NUMBER, {0}, 42}, {IMAP_ARG_NIL, {0}, 0},
                       {IMAP_ARG_STRING, {"x", 1}, 0}};
    n = imap_write_command(out, sizeof out, (mr_slice){"a4", 2}, "XTEST", misc, 3, 0);
    assert_int_equal(n, 21);
    assert_memory_equal(out, "a4 XTEST 42 NIL \"x\"\r\n", 21);
    /* refused inputs */
    imap_arg bad_seq[] = {{IMAP_ARG_SEQSET, {"1:x", 3}, 0}};
    assert_int_equal(imap_write_command(out, sizeof out, (mr_slice){"a", 1}, "FETCH", bad_seq, 1,
                                        0),
                     MR_ERROR);
    imap_arg bad_raw[] = {{IMAP_ARG_RAW, {"x\r\ny", 4}, 0}};
    assert_int_equal(imap_write_command(out, sizeof out, (mr_slice){"a", 1}, "X", bad_raw, 1, 0),
                     MR_ERROR);
    assert_int_equal(imap_write_command(out, sizeof out, (mr_slice){"a+", 2}, "NOOP", NULL, 0, 0),
                     MR_ERROR);
    assert_int_equal(imap_write_command(out, sizeof out, (mr_slice){"", 0}, "NOOP", NULL, 0, 0),
                     MR_ERROR);
    assert_int_equal(imap_write_command(out, sizeof out, (mr_slice){"a", 1}, "NO OP X", NULL, 0,
                                        0),
                     MR_ERROR);
    assert_int_equal(imap_write_command(out, 4, (mr_slice){"a", 1}, "NOOP", NULL, 0, 0),
                     MR_NEED_MORE);
    /* the primitives, by hand */
    imap_wbuf w;
    imap_wbuf_init(&w, out, sizeof out);
    imap_w_command(&w, (mr_slice){"a5", 2}, "STORE");
    imap_w_sp(&w);
    imap_w_seqset(&w, (imap_seq_range[]){{2, 4}}, 1);
    imap_w_cstr(&w, " +FLAGS.SILENT ");
    imap_w_flag_list(&w, (mr_slice[]){{"\\Deleted", 8}, {"$Junk", 5}}, 2);
    imap_w_crlf(&w);
    n = imap_wbuf_result(&w);
    assert_int_equal(imap_command_next(out, (size_t)n, &lim, &c, tok, 64, &err), n);
    assert_int_equal(c.type, IMAP_CMD_STORE);
    assert_int_equal(imap_tok_count(&c.t, 2), 2);
}

static void responses(void **state)
{
    (void)state;
    static char out[4096];
    imap_wbuf w;
    imap_limits lim = imap_limits_default();
    imap_response r;
    static imap_token tok[256];
    mr_error err;
    int n;
#define REPARSE()                                                                             \
    do {                                                                                      \
        n = imap_wbuf_result(&w);                                                             \
        assert_true(n > 0);                                                                   \
        if (imap_response_next(out, (size_t)n, &lim, &r, tok, 256, &err) != n)                \
            fail_msg("%.*s: %s %s %zu", n, out, mr_errcode_str(err.code), err.rule,          \
                     err.offset);                                                             \
    } while (0)

    imap_wbuf_init(&w, out, sizeof out);
    imap_w_status(&w, (mr_slice){"", 0}, IMAP_STATUS_OK, "CAPABILITY",
                  (mr_slice){"IMAP4rev1 SASL-IR AUTH=PLAIN", 28},
                  (mr_slice){"mock ready", 10}, 0);
    REPARSE();
    assert_memory_equal(out, "* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN] mock ready\r\n",
                        (size_t)n);
    assert_true(imap_cap_has(&r, "AUTH=PLAIN"));
    imap_wbuf_init(&w, out, sizeof out);
    imap_w_status(&w, (mr_slice){"a1", 2}, IMAP_STATUS_NO, imap_code_name(IMAP_CODE_AUTHENTICATIONFAILED),
                  (mr_slice){"", 0}, (mr_slice){"Authentication failed", 21}, 0);
    REPARSE();
    assert_int_equal(r.code, IMAP_CODE_AUTHENTICATIONFAILED);
    assert_slice(r.tag, "a1");
    imap_wbuf_init(&w, out, sizeof out);
    imap_w_status(&w, (mr_slice){"a2", 2}, IMAP_STATUS_BAD, NULL, (mr_slice){"", 0},
                  (mr_slice){"", 0}, 0);
    REPARSE();
    assert_int_equal(r.status, IMAP_STATUS_BAD);
    imap_wbuf_init(&w, out, sizeof out);
    imap_w_status(&w, (mr_slice){"", 0}, IMAP_STATUS_BYE, NULL, (mr_slice){"", 0},
                  (mr_slice){"Connection closed. 14", 21}, 0);
    REPARSE();
    assert_int_equal(r.status, IMAP_STATUS_BYE);

    imap_wbuf_init(&w, out, sizeof out);
    imap_w_continuation(&w, (mr_slice){"dGVzdA==", 8}, 0);
    REPARSE();
    assert_int_equal(r.kind, IMAP_KIND_CONTINUATION);
    assert_slice(r.text, "dGVzdA==");

    mr_slice caps[] = {{"IMAP4rev1", 9}, {"IDLE", 4}, {"LITERAL+", 8}};
    imap_wbuf_init(&w, out, sizeof out);
    imap_w_capability(&w, caps, 3);
    REPARSE();
    assert_int_equal(r.type, IMAP_R_CAPABILITY);
    assert_true(imap_cap_has(&r, "LITERAL+"));

    mr_slice lflags[] = {{"\\HasNoChildren", 14}, {"\\Trash", 6}};
    imap_wbuf_init(&w, out, sizeof out);
    imap_w_list_resp(&w, "LIST", lflags, 2, '/', (mr_slice){"Deleted Messages", 16}, 0);
    REPARSE();
    assert_memory_equal(out, "* LIST (\\HasNoChildren \\Trash) \"/\" \"Deleted Messages\"\r\n",
                        (size_t)n);
    imap_wbuf_init(&w, out, sizeof out);
    imap_w_list_resp(&w, "LSUB", NULL, 0, '\\', (mr_slice){"INBOX", 5}, 0);
    REPARSE();
    assert_int_equal(r.type, IMAP_R_LSUB);
    imap_wbuf_init(&w, out, sizeof out);
    imap_w_list_resp(&w, "LIST", NULL, 0, 0, (mr_slice){"a\r\nb", 4}, 0);
    REPARSE();
    assert_int_equal(tok[1].type, IMAP_T_NIL);
    assert_tok(&r.t, 2, IMAP_T_LITERAL, "a\r\nb");

    const char *names[] = {"MESSAGES", "UIDNEXT", "UIDVALIDITY"};
    uint64_t values[] = {231, 44292, 3857529045u};
    imap_wbuf_init(&w, out, sizeof out);
    imap_w_status_resp(&w, (mr_slice){"blurdybloop", 11}, names, values, 3, 0);
    REPARSE();
    assert_int_equal(r.type, IMAP_R_STATUS);
    assert_tok(&r.t, 7, IMAP_T_NUMBER, "3857529045");

    uint32_t found[] = {2, 84, 882};
    imap_wbuf_init(&w, out, sizeof out);
    imap_w_search(&w, found, 3);
    REPARSE();
    assert_int_equal(r.t.n, 3);
    imap_wbuf_init(&w, out, sizeof out);
    imap_w_search(&w, NULL, 0);
    REPARSE();
    assert_int_equal(r.type, IMAP_R_SEARCH);

    mr_slice fl[] = {{"\\Answered", 9}, {"\\Seen", 5}, {"$Forwarded", 10}};
    imap_wbuf_init(&w, out, sizeof out);
    imap_w_flags(&w, fl, 3);
    REPARSE();
    assert_int_equal(r.type, IMAP_R_FLAGS);
    imap_wbuf_init(&w, out, sizeof out);
    imap_w_number_resp(&w, 23, "EXISTS");
    REPARSE();
    assert_int_equal(r.type, IMAP_R_EXISTS);
    assert_int_equal(r.number, 23);
    imap_wbuf_init(&w, out, sizeof out);
    imap_w_number_resp(&w, 5, "EXPUNGE");
    REPARSE();
    assert_int_equal(r.type, IMAP_R_EXPUNGE);
    imap_wbuf_init(&w, out, sizeof out);
    imap_w_fetch_begin(&w, 0);
    imap_w_fetch_end(&w);
    assert_int_equal(imap_wbuf_result(&w), MR_ERROR);
#undef REPARSE
}

/* ENVELOPE and BODYSTRUCTURE: parsed -> structs -> written -> parsed, equal tokens. */
static void structures(void **state)
{
    (void)state;
    static imap_body_w bodies[64];
    static imap_envelope_w envs[8];
    static imap_address addrs[64];
    static imap_param_w params[64];
    static imap_nstring strs[16];
    const char *inputs[] = {
        "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 3028 92)",
        "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 1152 23)(\"TEXT\" "
        "\"PLAIN\" (\"CHARSET\" \"US-ASCII\" \"NAME\" \"cc.diff\") "
        "\"<960723163407.20117h@cac.washington.edu>\" \"Compiler diff\" \"BASE64\" 4554 73) "
        "\"MIXED\")",
        "(((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"quoted-printable\" 1250 40 NIL "
        "NIL NIL NIL)(\"text\" \"html\" (\"charset\" \"utf-8\") NIL NIL \"quoted-printable\" "
        "4080 82 NIL NIL NIL NIL) \"alternative\" (\"boundary\" \"00000000000052ab\") NIL NIL "
        "NIL)(\"application\" \"pdf\" (\"name\" \"invoice.pdf\") NIL NIL \"base64\" 183474 NIL "
        "(\"attachment\" (\"filename\" \"invoice.pdf\")) NIL NIL) \"mixed\" (\"boundary\" "
        "\"x\") NIL NIL NIL)",
        "((\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 10 1)(\"MESSAGE\" \"RFC822\" NIL NIL NIL "
        "\"7BIT\" 500 (\"Wed, 17 Jul 1996\" \"s\" ((\"A\" NIL \"a\" \"b\")) NIL NIL ((NIL NIL "
        "\"g\" NIL)(NIL NIL \"x\" \"y\")(NIL NIL NIL NIL)) NIL NIL NIL \"<id>\") (\"TEXT\" "
        "\"PLAIN\" NIL NIL NIL \"7BIT\" 5 1) 20) \"MIXED\")",
        ("(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"UTF-8\") \"<id>\" \"d\\\"q\" \"8BIT\" 3 1 \"md5\" "
         "(\"INLINE\" NIL) (\"EN\" \"DE\") \"http://x/\" 42 (\"x\" (7 NIL)))"),
        "(\"APPLICATION\" \"OCTET-STREAM\" NIL NIL NIL \"BASE64\" 3 NIL NIL \"en\")",
        "(\"IMAGE\" \"PNG\" NIL NIL {4}\r\ndesc \"BASE64\" 3 NIL NIL NIL)",
    };
    char item[2048], out[4096];
    imap_limits lim = imap_limits_default();
    for (size_t k = 0; k < sizeof inputs / sizeof inputs[0]; k++) {
        int n = snprintf(item, sizeof item, "* 1 FETCH (BODYSTRUCTURE %s)\r\n", inputs[k]);
        static imap_token tok[512], tok2[512];
        imap_response r, r2;
        mr_error err;
        if (imap_response_next(item, (size_t)n, &lim, &r, tok, 512, &err) != n)
            fail_msg("%s: %s %s %zu", item, mr_errcode_str(err.code), err.rule, err.offset);
        imap_struct_pool pool = {bodies, 64, 0, envs, 8, 0, addrs, 64, 0, params, 64, 0, strs, 16,
                                 0};
        const imap_body_w *bw;
        assert_int_equal(imap_body_to_w(&r.t, 2, &pool, &bw), 0);
        imap_wbuf w;
        imap_wbuf_init(&w, out, sizeof out);
        imap_w_fetch_begin(&w, 1);
        imap_w_fetch_att(&w, "BODYSTRUCTURE");
        imap_w_body(&w, bw, 0);
        imap_w_fetch_end(&w);
        int wl = imap_wbuf_result(&w);
        assert_true(wl > 0);
        if (imap_response_next(out, (size_t)wl, &lim, &r2, tok2, 512, &err) != wl)
            fail_msg("%.*s: %s %s %zu", wl, out, mr_errcode_str(err.code), err.rule, err.offset);
        if (!imap_response_equal(&r, &r2))
            fail_msg("round trip\n%s\n%.*s", item, wl, out);
    }
    /* the envelope alone */
    const char *env = "* 2 FETCH (ENVELOPE (\"date\" {3}\r\nsub ((\"n\" \"adl\" \"m\" \"h\")) NIL NIL "
                      "NIL NIL NIL \"<r>\" NIL))\r\n";
    static imap_token tok[128], tok2[128];
    imap_response r, r2;
    mr_error err;
    assert_int_equal(imap_response_next(env, strlen(env), &lim, &r, tok, 128, &err),
                     (int)strlen(env));
    imap_struct_pool pool = {bodies, 64, 0, envs, 8, 0, addrs, 64, 0, params, 64, 0, strs, 16, 0};
    const imap_envelope_w *ew;
    assert_int_equal(imap_envelope_to_w(&r.t, 2, &pool, &ew), 0);
    assert_int_equal(ew->from.n, 1);
    assert_true(ew->sender.nil);
    imap_wbuf w;
    imap_wbuf_init(&w, out, sizeof out);
    imap_w_fetch_begin(&w, 2);
    imap_w_fetch_att(&w, "ENVELOPE");
    imap_w_envelope(&w, ew, 0);
    imap_w_fetch_end(&w);
    int wl = imap_wbuf_result(&w);
    assert_int_equal(imap_response_next(out, (size_t)wl, &lim, &r2, tok2, 128, &err), wl);
    assert_true(imap_response_equal(&r, &r2));
    /* a pool too small is an error, not an overflow */
    imap_struct_pool tiny = {bodies, 1, 0, envs, 8, 0, addrs, 64, 0, params, 64, 0, strs, 16, 0};
    const char *mp = "* 1 FETCH (BODY ((\"A\" \"B\" NIL NIL NIL \"7BIT\" 1)(\"A\" \"B\" NIL NIL NIL "
                     "\"7BIT\" 1) \"MIXED\"))\r\n";
    assert_int_equal(imap_response_next(mp, strlen(mp), &lim, &r, tok, 128, &err),
                     (int)strlen(mp));
    const imap_body_w *bw;
    assert_int_equal(imap_body_to_w(&r.t, 2, &tiny, &bw), -1);
}

/* A FETCH response written from scratch, as a mock server would. */
static void fetch_from_scratch(void **state)
{
    (void)state;
    imap_address from = {.name = {{"Emily Parker", 12}, 0, 0, 0, 0, 12},
                         .adl = {{"", 0}, 1, 0, 0, 0, 0},
                         .mailbox = {{"emilyparker", 11}, 0, 0, 0, 0, 11},
                         .host = {{"icloud.com", 10}, 0, 0, 0, 0, 10}};
    imap_nstring nil = {{"", 0}, 1, 0, 0, 0, 0};
    imap_envelope_w env = {.date = {{"Mon, 7 Feb 1994 21:52:25 -0800", 30}, 0, 0, 0, 0, 30},
                           .subject = {{"Gr\xc3\xbc\xc3\x9f" "e \"quoted\"", 16}, 0, 0, 0, 0, 16},
                           .from = {&from, 1, 0},
                           .sender = {&from, 1, 0},
                           .reply_to = {&from, 1, 0},
                           .to = {NULL, 0, 1},
                           .cc = {NULL, 0, 1},
                           .bcc = {NULL, 0, 1},
                           .in_reply_to = nil,
                           .message_id = {{"<1@x>", 5}, 0, 0, 0, 0, 5}};
    imap_param_w cs = {{{"CHARSET", 7}, 0, 0, 0, 0, 7}, {{"UTF-8", 5}, 0, 0, 0, 0, 5}};
    imap_body_w parts[2] = {
        {.type = {{"TEXT", 4}, 0, 0, 0, 0, 4}, .subtype = {{"PLAIN", 5}, 0, 0, 0, 0, 5},
         .params = &cs, .nparams = 1, .id = nil, .description = nil,
         .encoding = {{"7BIT", 4}, 0, 0, 0, 0, 4}, .octets = 12, .has_lines = 1, .lines = 1},
        {.type = {{"APPLICATION", 11}, 0, 0, 0, 0, 11}, .subtype = {{"PDF", 3}, 0, 0, 0, 0, 3},
         .params_nil = 1, .id = nil, .description = nil,
         .encoding = {{"BASE64", 6}, 0, 0, 0, 0, 6}, .octets = 1000, .ext = 2, .md5 = nil,
         .dsp_type = {{"attachment", 10}, 0, 0, 0, 0, 10}, .dsp_params_nil = 1}};
    imap_body_w mixed = {.parts = parts, .nparts = 2, .subtype = {{"MIXED", 5}, 0, 0, 0, 0, 5},
                         .ext = 1, .params_nil = 1};
    static char out[2048];
    imap_wbuf w;
    imap_wbuf_init(&w, out, sizeof out);
    imap_w_fetch_begin(&w, 7);
    imap_w_fetch_att(&w, "UID");
    imap_w_number(&w, 4827313);
    imap_w_fetch_att(&w, "FLAGS");
    imap_w_flag_list(&w, (mr_slice[]){{"\\Seen", 5}}, 1);
    imap_w_fetch_att(&w, "INTERNALDATE");
    imap_w_datetime(&w, &(imap_datetime){1994, 2, 7, 21, 52, 25, -480, 1});
    imap_w_fetch_att(&w, "ENVELOPE");
    imap_w_envelope(&w, &env, 0);
    imap_w_fetch_att(&w, "BODYSTRUCTURE");
    imap_w_body(&w, &mixed, 0);
    imap_w_fetch_att(&w, "BODY[]");
    imap_w_literal(&w, (mr_slice){"Subject: x\r\n", 12}, 0);
    imap_w_fetch_end(&w);
    int n = imap_wbuf_result(&w);
    assert_true(n > 0);
    resp_ctx *c = resp_ok_n(out, (size_t)n, MR_STRICT);
    imap_fetch_iter it;
    imap_fetch_att a;
    assert_int_equal(imap_fetch_begin(&it, &c->r), 0);
    int seen = 0;
    while (imap_fetch_next(&it, &a) == 1) {
        seen++;
        if (a.att == IMAP_ATT_ENVELOPE) {
            imap_envelope e;
            assert_int_equal(imap_envelope_decode(&c->r.t, a.value, &e), 0);
            char subj[32];
            assert_int_equal(imap_tok_copy(&c->r.t, imap_tok_child(&c->r.t, a.value, 1), subj,
                                           sizeof subj),
                             16);
            assert_memory_equal(subj, "Gr\xc3\xbc\xc3\x9f" "e \"quoted\"", 16);
            assert_int_equal(c->r.t.tok[e.to].type, IMAP_T_NIL);
        }
        if (a.att == IMAP_ATT_BODYSTRUCTURE) {
            imap_body b, p;
            assert_int_equal(imap_body_decode(&c->r.t, a.value, &b), 0);
            assert_int_equal(b.nparts, 2);
            uint32_t two[] = {2};
            assert_int_equal(imap_body_find(&c->r.t, a.value, two, 1, &p), 0);
            imap_nstring dt;
            unsigned dp;
            assert_int_equal(imap_dsp_decode(&c->r.t, p.dsp, &dt, &dp), 0);
            assert_slice(dt.s, "attachment");
        }
    }
    assert_int_equal(seen, 6);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(buffers),
        cmocka_unit_test(quote_or_literal),
        cmocka_unit_test(nstrings),
        cmocka_unit_test(atoms_flags_text),
        cmocka_unit_test(sequences_and_dates),
        cmocka_unit_test(commands),
        cmocka_unit_test(responses),
        cmocka_unit_test(structures),
        cmocka_unit_test(fetch_from_scratch),
    };
    return cmocka_run_group_tests_name("imap_write", tests, NULL, NULL);
}
