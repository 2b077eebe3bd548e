/* test_sasl.c -- proto/sasl.c: mechanism names, payload framing and the client continuation
 * line, PLAIN, LOGIN and CRAM-MD5 in both directions. Expected values come from the RFCs and
 * from provider transcripts (PROVIDERS.md), decoded independently of the code under test. */
#include "tests/unit/sasl_support.h"

#include "proto/sasl.h"

/* The documented defaults (sasl.h), by value and by initializer. */
static void limits_defaults(void **state)
{
    (void)state;
    sasl_limits d = sasl_limits_default(), s = SASL_LIMITS_DEFAULT;
    assert_int_equal(d.max_line, 12288);
    assert_int_equal(d.max_message, 12288);
    assert_int_equal(d.max_field, 255);
    assert_int_equal(d.max_token, 8192);
    assert_int_equal(d.max_pairs, 16);
    assert_int_equal(d.max_json, 4096);
    assert_int_equal(d.max_json_members, 16);
    assert_memory_equal(&d, &s, sizeof d);
}

/* ---- mechanism names ---------------------------------------------------------------------- */

static void mech_lookup(void **state)
{
    (void)state;
    for (int m = SASL_MECH_UNKNOWN + 1; m < SASL_MECH__COUNT; m++) {
        const char *name = sasl_mech_name((sasl_mech)m);
        mr_slice s = {name, strlen(name)};
        assert_int_equal(sasl_mech_lookup(s), m);
        assert_int_equal(sasl_mech_name_check(s, MR_STRICT, NULL), 0);
        char lower[32];
        for (size_t i = 0; i <= s.n; i++)
            lower[i] = (char)((name[i] >= 'A' && name[i] <= 'Z') ? name[i] + 32 : name[i]);
        mr_slice ls = {lower, s.n};
        assert_int_equal(sasl_mech_lookup(ls), m);
    }
    assert_int_equal(sasl_mech_lookup(SL("CRAM-MD5")), SASL_MECH_CRAM_MD5);
    assert_int_equal(sasl_mech_lookup(SL("SCRAM-SHA-256-PLUS")), SASL_MECH_SCRAM_SHA_256_PLUS);
    assert_int_equal(sasl_mech_lookup(SL("X-EXPS")), SASL_MECH_UNKNOWN);
    assert_int_equal(sasl_mech_lookup(SL("PLAI")), SASL_MECH_UNKNOWN);
    assert_int_equal(sasl_mech_lookup(SL("PLAIN ")), SASL_MECH_UNKNOWN);
    assert_int_equal(sasl_mech_lookup(SL("")), SASL_MECH_UNKNOWN);
    assert_string_equal(sasl_mech_name(SASL_MECH_UNKNOWN), "UNKNOWN");
    assert_string_equal(sasl_mech_name((sasl_mech)999), "UNKNOWN");
    assert_int_equal(sasl_mech_flags((sasl_mech)999), 0);
    assert_int_equal(sasl_mech_flags(SASL_MECH_UNKNOWN), 0);
    assert_true(sasl_mech_flags(SASL_MECH_PLAIN) & SASL_MECHF_CLEARTEXT);
    assert_true(sasl_mech_flags(SASL_MECH_LOGIN) & SASL_MECHF_CLEARTEXT);
    assert_false(sasl_mech_flags(SASL_MECH_LOGIN) & SASL_MECHF_CLIENT_FIRST);
    assert_true(sasl_mech_flags(SASL_MECH_XOAUTH2) & SASL_MECHF_BEARER);
    assert_false(sasl_mech_flags(SASL_MECH_CRAM_MD5) & SASL_MECHF_CLEARTEXT);
    assert_true(sasl_mech_flags(SASL_MECH_ANONYMOUS) & SASL_MECHF_NO_SECRET);
    assert_false(sasl_mech_flags(SASL_MECH_NTLM) & SASL_MECHF_PARSED);
}

/* The advertised lists of PROVIDERS.md, split the way the capability parsers will. */
static void mech_provider_lists(void **state)
{
    (void)state;
    static const struct {
        const char *list;
        sasl_mech want[6];
    } cases[] = {
        {"ATOKEN PLAIN", {SASL_MECH_ATOKEN, SASL_MECH_PLAIN}},              /* iCloud IMAP */
        {"LOGIN XOAUTH2", {SASL_MECH_LOGIN, SASL_MECH_XOAUTH2}},            /* EXO SMTP */
        {"PLAIN XOAUTH2", {SASL_MECH_PLAIN, SASL_MECH_XOAUTH2}},            /* EXO POP3 CAPA */
        {"PLAIN NTLM GSSAPI", {SASL_MECH_PLAIN, SASL_MECH_NTLM, SASL_MECH_GSSAPI}},
        {"GSSAPI NTLM LOGIN", {SASL_MECH_GSSAPI, SASL_MECH_NTLM, SASL_MECH_LOGIN}},
        {"XOAUTH XOAUTH2 PLAIN PLAIN-CLIENTTOKEN",
         {SASL_MECH_XOAUTH, SASL_MECH_XOAUTH2, SASL_MECH_PLAIN, SASL_MECH_PLAIN_CLIENTTOKEN}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const char *p = cases[c].list;
        size_t k = 0;
        while (*p) {
            size_t len = strcspn(p, " ");
            mr_slice name = {p, len};
            assert_int_equal(sasl_mech_name_check(name, MR_STRICT, NULL), 0);
            assert_int_equal(sasl_mech_lookup(name), cases[c].want[k++]);
            p += len + (p[len] == ' ');
        }
    }
}

static void mech_name_syntax(void **state)
{
    (void)state;
    mr_error e;
    assert_int_equal(sasl_mech_name_check(SL("ABCDEFGHIJ0123456789"), MR_STRICT, &e), 0);
    assert_int_equal(sasl_mech_name_check(SL("ABCDEFGHIJ0123456789X"), MR_STRICT, &e), MR_ERROR);
    assert_err(&e, MR_E_LIMIT_LITERAL, "sasl-mech", 20);
    assert_int_equal(sasl_mech_name_check(SL("plain"), MR_STRICT, &e), MR_ERROR);
    assert_err(&e, MR_E_SYNTAX, "sasl-mech", 0);
    assert_int_equal(sasl_mech_name_check(SL("plain"), MR_LENIENT, &e), 0);
    assert_int_equal(sasl_mech_name_check(SL(""), MR_LENIENT, &e), MR_ERROR);
    assert_err(&e, MR_E_EMPTY, "sasl-mech", 0);
    assert_int_equal(sasl_mech_name_check(SL("AUTH=PLAIN"), MR_LENIENT, &e), MR_ERROR);
    assert_err(&e, MR_E_SYNTAX, "sasl-mech", 4);
    assert_int_equal(sasl_mech_name_check(SL("X_OAUTH"), MR_STRICT, &e), 0);
    assert_int_equal(sasl_mech_name_check(SL("X OAUTH"), MR_LENIENT, &e), MR_ERROR);
    assert_err(&e, MR_E_SYNTAX, "sasl-mech", 1);
}

/* ---- payload framing ---------------------------------------------------------------------- */

typedef struct payload_case {
    const char *text;
    sasl_payload_role role;
    mr_mode mode;
    int ok;
    sasl_payload_kind kind;
    const char *data; /* decoded, for DATA */
    size_t data_n;
    mr_errcode code;
    const char *rule;
    size_t offset;
} payload_case;

typedef struct payload_ctx {
    sasl_payload_role role;
    mr_mode mode;
    char out[128];
    sasl_payload p;
    mr_error err;
} payload_ctx;

static int payload_step(void *vctx, const char *msg, size_t n)
{
    payload_ctx *c = vctx;
    return sasl_payload_decode(msg, n, c->role, c->mode, c->out, sizeof c->out, &c->p, &c->err);
}

static void payload_decode(void **state)
{
    (void)state;
    static const char plain[] = "\0tim\0tanstaaftanstaaf";
    const payload_case cases[] = {
        /* RFC 4616 section 4 example, as an initial response */
        {"AHRpbQB0YW5zdGFhZnRhbnN0YWFm", SASL_INITIAL_RESPONSE, MR_STRICT, 1,
         SASL_PAYLOAD_DATA, plain, sizeof plain - 1, 0, NULL, 0},
        {"=", SASL_INITIAL_RESPONSE, MR_STRICT, 1, SASL_PAYLOAD_EMPTY, "", 0, 0, NULL, 0},
        {"", SASL_INITIAL_RESPONSE, MR_STRICT, 0, 0, NULL, 0, MR_E_EMPTY, "initial-response", 0},
        {"", SASL_INITIAL_RESPONSE, MR_LENIENT, 1, SASL_PAYLOAD_EMPTY, "", 0, 0, NULL, 0},
        {"*", SASL_INITIAL_RESPONSE, MR_LENIENT, 0, 0, NULL, 0, MR_E_BASE64, "base64-char", 0},
        /* client continuation lines */
        {"", SASL_CLIENT_RESPONSE, MR_STRICT, 1, SASL_PAYLOAD_EMPTY, "", 0, 0, NULL, 0},
        {"*", SASL_CLIENT_RESPONSE, MR_STRICT, 1, SASL_PAYLOAD_ABORT, "", 0, 0, NULL, 0},
        {"=", SASL_CLIENT_RESPONSE, MR_STRICT, 0, 0, NULL, 0, MR_E_BASE64, "base64-pad", 0},
        {"=", SASL_CLIENT_RESPONSE, MR_LENIENT, 1, SASL_PAYLOAD_EMPTY, "", 0, 0, NULL, 0},
        {"dGlt", SASL_CLIENT_RESPONSE, MR_STRICT, 1, SASL_PAYLOAD_DATA, "tim", 3, 0, NULL, 0},
        {"dGltMQ", SASL_CLIENT_RESPONSE, MR_STRICT, 0, 0, NULL, 0, MR_E_BASE64, "base64-pad", 6},
        {"dGltMQ", SASL_CLIENT_RESPONSE, MR_LENIENT, 1, SASL_PAYLOAD_DATA, "tim1", 4, 0, NULL, 0},
        {"dGlt MQ==", SASL_CLIENT_RESPONSE, MR_STRICT, 0, 0, NULL, 0, MR_E_BASE64, "base64-char",
         4},
        {"dGlt MQ== ", SASL_CLIENT_RESPONSE, MR_LENIENT, 1, SASL_PAYLOAD_DATA, "tim1", 4, 0, NULL,
         0},
        {"**", SASL_CLIENT_RESPONSE, MR_LENIENT, 0, 0, NULL, 0, MR_E_BASE64, "base64-char", 0},
        /* server challenges: Exchange's LOGIN prompts, XOAUTH2's empty "334 " */
        {"VXNlcm5hbWU6", SASL_SERVER_CHALLENGE, MR_STRICT, 1, SASL_PAYLOAD_DATA, "Username:", 9,
         0, NULL, 0},
        {"UGFzc3dvcmQ6", SASL_SERVER_CHALLENGE, MR_STRICT, 1, SASL_PAYLOAD_DATA, "Password:", 9,
         0, NULL, 0},
        {"", SASL_SERVER_CHALLENGE, MR_STRICT, 1, SASL_PAYLOAD_EMPTY, "", 0, 0, NULL, 0},
        /* Exchange on-premises: "334 NTLM supported" is text, not base64 */
        {"NTLM supported", SASL_SERVER_CHALLENGE, MR_STRICT, 0, 0, NULL, 0, MR_E_BASE64,
         "base64-char", 4},
        {"NTLM supported", SASL_SERVER_CHALLENGE, MR_LENIENT, 1, SASL_PAYLOAD_TEXT, "", 0, 0,
         NULL, 0},
        {"*", SASL_SERVER_CHALLENGE, MR_STRICT, 0, 0, NULL, 0, MR_E_BASE64, "base64-char", 0},
        {"*", SASL_SERVER_CHALLENGE, MR_LENIENT, 1, SASL_PAYLOAD_TEXT, "", 0, 0, NULL, 0},
        /* text that could not be written back on a line is not TEXT (fuzz regression) */
        {"t!\rb", SASL_SERVER_CHALLENGE, MR_LENIENT, 0, 0, NULL, 0, MR_E_BASE64, "base64-char",
         1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const payload_case *pc = &cases[i];
        payload_ctx c = {.role = pc->role, .mode = pc->mode};
        int r = run_msg(payload_step, &c, pc->text, strlen(pc->text));
        if (!pc->ok) {
            if (r != MR_ERROR)
                fail_msg("case %zu \"%s\" should fail", i, pc->text);
            assert_err(&c.err, pc->code, pc->rule, pc->offset);
            continue;
        }
        if (r != 0)
            fail_msg("case %zu \"%s\" failed: %s at %zu", i, pc->text, c.err.rule, c.err.offset);
        assert_int_equal(c.p.kind, pc->kind);
        assert_slice_n(c.p.raw, pc->text, strlen(pc->text));
        assert_ptr_equal(c.p.raw.p, pc->text);
        if (pc->kind == SASL_PAYLOAD_DATA) {
            assert_int_equal(c.p.len, pc->data_n);
            assert_memory_equal(c.out, pc->data, pc->data_n);
        } else {
            assert_int_equal(c.p.len, 0);
        }
    }
}

static void payload_output_limit(void **state)
{
    (void)state;
    char out[3];
    sasl_payload p;
    mr_error e;
    /* the limit is an error in every role and mode, never a lenient TEXT */
    assert_int_equal(sasl_payload_decode("dGltIGI5", 8, SASL_SERVER_CHALLENGE, MR_LENIENT, out,
                                         sizeof out, &p, &e),
                     MR_ERROR);
    assert_err(&e, MR_E_LIMIT_LITERAL, "base64", 4);
}

static void payload_write(void **state)
{
    (void)state;
    char out[64];
    mr_error e;
    static const char plain[] = "\0tim\0tanstaaftanstaaf";
    int n = sasl_payload_write(SASL_INITIAL_RESPONSE, SASL_PAYLOAD_DATA, plain, sizeof plain - 1,
                               out, sizeof out, &e);
    assert_int_equal(n, 28);
    assert_memory_equal(out, "AHRpbQB0YW5zdGFhZnRhbnN0YWFm", 28);
    assert_int_equal(sasl_payload_write(SASL_INITIAL_RESPONSE, SASL_PAYLOAD_EMPTY, NULL, 0, out,
                                        sizeof out, &e),
                     1);
    assert_int_equal(out[0], '=');
    assert_int_equal(sasl_payload_write(SASL_INITIAL_RESPONSE, SASL_PAYLOAD_DATA, "", 0, out,
                                        sizeof out, &e),
                     1);
    assert_int_equal(sasl_payload_write(SASL_CLIENT_RESPONSE, SASL_PAYLOAD_EMPTY, NULL, 0, out,
                                        sizeof out, &e),
                     0);
    assert_int_equal(sasl_payload_write(SASL_SERVER_CHALLENGE, SASL_PAYLOAD_DATA, NULL, 0, out,
                                        sizeof out, &e),
                     0);
    assert_int_equal(sasl_payload_write(SASL_CLIENT_RESPONSE, SASL_PAYLOAD_ABORT, NULL, 0, out,
                                        sizeof out, &e),
                     1);
    assert_int_equal(out[0], '*');
    assert_int_equal(sasl_payload_write(SASL_INITIAL_RESPONSE, SASL_PAYLOAD_ABORT, NULL, 0, out,
                                        sizeof out, &e),
                     MR_ERROR);
    assert_err(&e, MR_E_SYNTAX, "payload", 0);
    assert_int_equal(sasl_payload_write(SASL_SERVER_CHALLENGE, SASL_PAYLOAD_TEXT,
                                        "NTLM supported", 14, out, sizeof out, &e),
                     14);
    assert_memory_equal(out, "NTLM supported", 14);
    /* text that would read back as base64, or that cannot sit on one line, is refused */
    assert_int_equal(sasl_payload_write(SASL_SERVER_CHALLENGE, SASL_PAYLOAD_TEXT, "abcd", 4, out,
                                        sizeof out, &e),
                     MR_ERROR);
    assert_int_equal(sasl_payload_write(SASL_SERVER_CHALLENGE, SASL_PAYLOAD_TEXT, "a b\r\n", 5,
                                        out, sizeof out, &e),
                     MR_ERROR);
    assert_int_equal(sasl_payload_write(SASL_CLIENT_RESPONSE, SASL_PAYLOAD_TEXT, "a b", 3, out,
                                        sizeof out, &e),
                     MR_ERROR);
    assert_int_equal(sasl_payload_write(SASL_SERVER_CHALLENGE, (sasl_payload_kind)99, "x", 1,
                                        out, sizeof out, &e),
                     MR_ERROR);
}

/* write then decode gives back the same kind and bytes, for every role and kind. */
static void payload_round_trip(void **state)
{
    (void)state;
    static const struct {
        sasl_payload_kind kind;
        const char *data;
        size_t n;
    } items[] = {
        {SASL_PAYLOAD_DATA, "\0tim\0tanstaaftanstaaf", 21},
        {SASL_PAYLOAD_DATA, "x", 1},
        {SASL_PAYLOAD_DATA, "\x01\x01", 2},
        {SASL_PAYLOAD_EMPTY, "", 0},
        {SASL_PAYLOAD_ABORT, "", 0},
        {SASL_PAYLOAD_TEXT, "NTLM supported", 14},
    };
    for (int role = 0; role < 3; role++) {
        for (size_t i = 0; i < sizeof items / sizeof items[0]; i++) {
            char line[64], out[64];
            mr_error e;
            int n = sasl_payload_write((sasl_payload_role)role, items[i].kind, items[i].data,
                                       items[i].n, line, sizeof line, &e);
            if (n < 0)
                continue; /* not writable in this role: covered by payload_write */
            mr_mode mode = items[i].kind == SASL_PAYLOAD_TEXT ? MR_LENIENT : MR_STRICT;
            sasl_payload p;
            assert_int_equal(sasl_payload_decode(line, (size_t)n, (sasl_payload_role)role, mode,
                                                 out, sizeof out, &p, &e),
                             0);
            assert_int_equal(p.kind, items[i].kind);
            if (p.kind == SASL_PAYLOAD_DATA) {
                assert_int_equal(p.len, items[i].n);
                assert_memory_equal(out, items[i].data, items[i].n);
            }
            if (p.kind == SASL_PAYLOAD_TEXT)
                assert_slice_n(p.raw, items[i].data, items[i].n);
        }
    }
}

/* ---- the client continuation line ---------------------------------------------------------- */

typedef struct line_ctx {
    mr_mode mode;
    sasl_limits lim;
    char out[64];
    sasl_payload p;
    mr_error err;
} line_ctx;

static int line_step(void *vctx, const char *buf, size_t len)
{
    line_ctx *c = vctx;
    return sasl_response_line_parse(buf, len, c->mode, &c->lim, NULL, c->out, sizeof c->out,
                                    &c->p, &c->err);
}

static void response_line(void **state)
{
    (void)state;
    line_ctx c = {.mode = MR_STRICT, .lim = sasl_limits_default()};
    assert_int_equal(test_prefixes_str(line_step, &c, "dGlt\r\n"), 6);
    assert_int_equal(c.p.kind, SASL_PAYLOAD_DATA);
    assert_int_equal(c.p.len, 3);
    assert_memory_equal(c.out, "tim", 3);
    assert_int_equal(test_prefixes_str(line_step, &c, "*\r\n"), 3);
    assert_int_equal(c.p.kind, SASL_PAYLOAD_ABORT);
    assert_int_equal(test_prefixes_str(line_step, &c, "\r\n"), 2);
    assert_int_equal(c.p.kind, SASL_PAYLOAD_EMPTY);
    /* pipelined: one line at a time */
    assert_int_equal(test_prefixes_str(line_step, &c, "dGlt\r\nKg==\r\n"), 6);
    /* RFC 2195's response, and Exchange's LOGIN answers */
    assert_int_equal(
        test_prefixes_str(line_step, &c, "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw\r\n"),
        50);
    assert_int_equal(c.p.len, 36);
    assert_memory_equal(c.out, "tim b913a602c7eda7a495b4e6e7334d3890", 36);
    /* errors: at their offset in the buffer */
    assert_int_equal(test_prefixes_str(line_step, &c, "dGl!\r\n"), MR_ERROR);
    assert_err(&c.err, MR_E_BASE64, "base64-char", 3);
    assert_int_equal(test_prefixes_str(line_step, &c, "dGlt\n"), MR_ERROR);
    assert_err(&c.err, MR_E_BARE_LF, "CRLF", 4);
    assert_int_equal(test_prefixes_str(line_step, &c, "dGltMQ\r\n"), MR_ERROR);
    assert_err(&c.err, MR_E_BASE64, "base64-pad", 6);
    c.mode = MR_LENIENT;
    assert_int_equal(test_prefixes_str(line_step, &c, "dGlt\n"), 5);
    assert_int_equal(test_prefixes_str(line_step, &c, "dGltMQ\r\n"), 8);
    assert_memory_equal(c.out, "tim1", 4);
}

static void response_line_limits(void **state)
{
    (void)state;
    line_ctx c = {.mode = MR_STRICT, .lim = sasl_limits_default()};
    c.lim.max_line = 8;
    assert_int_equal(test_prefixes_str(line_step, &c, "dGltdGlt\r\n"), 10);
    assert_int_equal(test_prefixes_str(line_step, &c, "dGltdGltdA==\r\n"), MR_ERROR);
    assert_err(&c.err, MR_E_LIMIT_LINE, "line", 8);
    c.lim = sasl_limits_default();
    c.lim.max_message = 2;
    assert_int_equal(test_prefixes_str(line_step, &c, "dGlt\r\n"), MR_ERROR);
    assert_err(&c.err, MR_E_LIMIT_LITERAL, "base64", 0);
    /* 100 MB without a line end: stops after max_line + 2 bytes */
    size_t n = 100u << 20;
    char *big = test_malloc(n);
    memset(big, 'A', n);
    sasl_payload p;
    mr_error e;
    char out[16];
    size_t scanned = 0;
    assert_int_equal(sasl_response_line_parse(big, n, MR_LENIENT, NULL, &scanned, out,
                                              sizeof out, &p, &e),
                     MR_ERROR);
    assert_err(&e, MR_E_LIMIT_LINE, "line", 12288);
    test_free(big);
}

static void response_line_resume(void **state)
{
    (void)state;
    const char *in = "dGlt\r\n";
    sasl_payload p;
    mr_error e;
    char out[8];
    size_t scanned = 0;
    assert_int_equal(sasl_response_line_parse(in, 4, MR_STRICT, NULL, &scanned, out, sizeof out,
                                              &p, &e),
                     MR_NEED_MORE);
    assert_int_equal(scanned, 4);
    assert_int_equal(sasl_response_line_parse(in, 6, MR_STRICT, NULL, &scanned, out, sizeof out,
                                              &p, &e),
                     6);
    assert_int_equal(scanned, 0);
    assert_int_equal(p.len, 3);
}

static void response_line_write(void **state)
{
    (void)state;
    char out[16];
    mr_error e;
    assert_int_equal(sasl_response_line_write(SASL_PAYLOAD_DATA, "tim", 3, out, sizeof out, &e),
                     6);
    assert_memory_equal(out, "dGlt\r\n", 6);
    assert_int_equal(sasl_response_line_write(SASL_PAYLOAD_ABORT, NULL, 0, out, sizeof out, &e),
                     3);
    assert_memory_equal(out, "*\r\n", 3);
    assert_int_equal(sasl_response_line_write(SASL_PAYLOAD_EMPTY, NULL, 0, out, sizeof out, &e),
                     2);
    assert_memory_equal(out, "\r\n", 2);
    memset(out, 'x', sizeof out);
    assert_int_equal(sasl_response_line_write(SASL_PAYLOAD_DATA, "tim", 3, out, 5, &e), 6);
    assert_int_equal(out[4], 'x');
    assert_int_equal(out[5], 'x');
    assert_int_equal(sasl_response_line_write(SASL_PAYLOAD_TEXT, "a b", 3, out, 16, &e),
                     MR_ERROR);
    /* and it reads back */
    line_ctx c = {.mode = MR_STRICT, .lim = sasl_limits_default()};
    int n = sasl_response_line_write(SASL_PAYLOAD_DATA, "\0u\0p", 4, out, sizeof out, &e);
    assert_int_equal(test_prefixes(line_step, &c, out, (size_t)n), n);
    assert_int_equal(c.p.len, 4);
    assert_memory_equal(c.out, "\0u\0p", 4);
}

/* ---- the continuation line passed on undecoded (SMTP, POP3, IMAP) ------------------------ */

typedef struct text_ctx {
    mr_mode mode;
    unsigned flags;
    mr_slice b64;
    int cancel;
    mr_error err;
} text_ctx;

static int text_step(void *vctx, const char *msg, size_t n)
{
    text_ctx *c = vctx;
    return sasl_response_text_check((mr_slice){msg, n}, c->mode, c->flags, &c->b64, &c->cancel,
                                    &c->err);
}

static void response_text(void **state)
{
    (void)state;
    for (unsigned flags = 0; flags <= SASL_TEXT_WORD; flags += SASL_TEXT_WORD) {
        for (int m = 0; m < 2; m++) {
            text_ctx c = {.mode = m ? MR_LENIENT : MR_STRICT, .flags = flags};
            assert_int_equal(run_msg(text_step, &c, "dGlt", 4), 0);
            assert_slice_lit(c.b64, "dGlt");
            assert_int_equal(c.cancel, 0);
            assert_int_equal(run_msg(text_step, &c, "*", 1), 0);
            assert_int_equal(c.cancel, 1);
            assert_int_equal(c.b64.n, 0);
            assert_int_equal(run_msg(text_step, &c, "", 0), 0); /* an empty response */
            assert_int_equal(c.cancel, 0);
            if (m && flags) { /* lenient SMTP/POP3 take any word */
                assert_int_equal(run_msg(text_step, &c, "dG=t", 4), 0);
            } else {
                assert_int_equal(run_msg(text_step, &c, "dG=t", 4), MR_ERROR);
                assert_err(&c.err, MR_E_BASE64, "base64", 3);
            }
        }
    }
    /* strict: the length too; lenient IMAP only the shape; lenient SMTP/POP3 only the word */
    text_ctx c = {.mode = MR_STRICT};
    assert_int_equal(run_msg(text_step, &c, "dGltMQ", 6), MR_ERROR);
    assert_err(&c.err, MR_E_BASE64, "base64", 6);
    c.mode = MR_LENIENT;
    assert_int_equal(run_msg(text_step, &c, "dGltMQ", 6), 0);
    assert_int_equal(run_msg(text_step, &c, "dG!t", 4), MR_ERROR);
    assert_err(&c.err, MR_E_BASE64, "base64", 2);
    assert_int_equal(run_msg(text_step, &c, "dG t", 4), MR_ERROR);
    assert_err(&c.err, MR_E_BASE64, "base64", 2);
    c.flags = SASL_TEXT_WORD;
    assert_int_equal(run_msg(text_step, &c, "dG!t", 4), 0);
    assert_int_equal(run_msg(text_step, &c, "d=!t \x80", 6), MR_ERROR);
    assert_err(&c.err, MR_E_BASE64, "base64", 4);
    c.mode = MR_STRICT;
    assert_int_equal(run_msg(text_step, &c, "d=!t\x80", 5), MR_ERROR);
    assert_err(&c.err, MR_E_BASE64, "base64", 4); /* the word check comes first */
}

static void response_text_write(void **state)
{
    (void)state;
    char out[16];
    mr_error e;
    assert_int_equal(sasl_response_text_write(SL("dGlt"), 0, out, sizeof out, &e), 6);
    assert_memory_equal(out, "dGlt\r\n", 6);
    assert_int_equal(sasl_response_text_write(SL("dGlt"), 1, out, sizeof out, &e), 3);
    assert_memory_equal(out, "*\r\n", 3);
    assert_int_equal(sasl_response_text_write(SL(""), 0, out, sizeof out, &e), 2);
    assert_int_equal(sasl_response_text_write(SL("dGlt"), 0, NULL, 0, &e), 6);
    assert_int_equal(sasl_response_text_write(SL("dG\r\n"), 0, out, sizeof out, &e), MR_ERROR);
    assert_err(&e, MR_E_BASE64, "base64", 2);
    /* and it reads back */
    text_ctx c = {.mode = MR_STRICT};
    int n = sasl_response_text_write(SL("AHUAcA=="), 0, out, sizeof out, &e);
    assert_int_equal(n, 10);
    assert_int_equal(run_msg(text_step, &c, out, (size_t)n - 2), 0);
    assert_slice_lit(c.b64, "AHUAcA==");
}

/* ---- PLAIN -------------------------------------------------------------------------------- */

typedef struct plain_ctx {
    mr_mode mode;
    sasl_limits lim;
    sasl_plain m;
    mr_error err;
} plain_ctx;

static int plain_step(void *vctx, const char *msg, size_t n)
{
    plain_ctx *c = vctx;
    return sasl_plain_parse(msg, n, c->mode, &c->lim, &c->m, &c->err);
}

#define PLAIN_OK(c, lit) assert_int_equal(run_msg(plain_step, (c), (lit), sizeof(lit) - 1), 0)
#define PLAIN_FAIL(c, lit)                                                                  \
    assert_int_equal(run_msg(plain_step, (c), (lit), sizeof(lit) - 1), MR_ERROR)

static void plain_rfc4616(void **state)
{
    (void)state;
    plain_ctx c = {.mode = MR_STRICT, .lim = sasl_limits_default()};
    PLAIN_OK(&c, "\0tim\0tanstaaftanstaaf");
    assert_slice_lit(c.m.authzid, "");
    assert_slice_lit(c.m.authcid, "tim");
    assert_slice_lit(c.m.passwd, "tanstaaftanstaaf");
    PLAIN_OK(&c, "Ursel\0Kurt\0xipj3plmq");
    assert_slice_lit(c.m.authzid, "Ursel");
    assert_slice_lit(c.m.authcid, "Kurt");
    assert_slice_lit(c.m.passwd, "xipj3plmq");
    /* iCloud: an app-specific password; EXO: the full address */
    PLAIN_OK(&c, "\0emilyparker\0abcd-efgh-ijkl-mnop");
    assert_slice_lit(c.m.authcid, "emilyparker");
    PLAIN_OK(&c, "\0tony@contoso.com\0P@ss w0rd\xe2\x82\xac");
    assert_slice_lit(c.m.passwd, "P@ss w0rd\xe2\x82\xac");
    /* RFC 4616 SAFE is any UTF-8 but NUL: control characters are allowed */
    PLAIN_OK(&c, "\0j\xc3\xb6rg\0a\tb\r\nc");
}

static void plain_errors(void **state)
{
    (void)state;
    plain_ctx c = {.mode = MR_STRICT, .lim = sasl_limits_default()};
    PLAIN_FAIL(&c, "tim");
    assert_err(&c.err, MR_E_SYNTAX, "message", 3);
    PLAIN_FAIL(&c, "\0tim");
    assert_err(&c.err, MR_E_SYNTAX, "message", 4);
    PLAIN_FAIL(&c, "");
    assert_err(&c.err, MR_E_SYNTAX, "message", 0);
    PLAIN_FAIL(&c, "\0\0secret");
    assert_err(&c.err, MR_E_EMPTY, "authcid", 1);
    PLAIN_FAIL(&c, "\0tim\0");
    assert_err(&c.err, MR_E_EMPTY, "passwd", 5);
    PLAIN_FAIL(&c, "\0tim\0pa\0ss");
    assert_err(&c.err, MR_E_NUL, "passwd", 7);
    PLAIN_FAIL(&c, "\0tim\0pass\0");
    assert_err(&c.err, MR_E_NUL, "passwd", 9);
    /* strict wants UTF-8 (RFC 4616 section 2); lenient takes Latin-1 passwords */
    PLAIN_FAIL(&c, "\0tim\0caf\xe9");
    assert_err(&c.err, MR_E_UTF8, "passwd", 8);
    PLAIN_FAIL(&c, "\0t\xc0\x80m\0pass");
    assert_err(&c.err, MR_E_UTF8, "authcid", 2);
    PLAIN_FAIL(&c, "\xff\0tim\0pass");
    assert_err(&c.err, MR_E_UTF8, "authzid", 0);
    c.mode = MR_LENIENT;
    PLAIN_OK(&c, "\0tim\0caf\xe9");
    PLAIN_FAIL(&c, "\0tim\0pa\0ss");
    assert_err(&c.err, MR_E_NUL, "passwd", 7);
    PLAIN_FAIL(&c, "\0\0secret");
    assert_err(&c.err, MR_E_EMPTY, "authcid", 1);
}

static void plain_limits(void **state)
{
    (void)state;
    plain_ctx c = {.mode = MR_STRICT, .lim = sasl_limits_default()};
    char msg[1200];
    /* 255 octets each are accepted (RFC 4616: MUST accept up to 255) */
    memset(msg, 'z', 255);
    msg[255] = '\0';
    memset(msg + 256, 'c', 255);
    msg[511] = '\0';
    memset(msg + 512, 'p', 255);
    assert_int_equal(run_msg(plain_step, &c, msg, 767), 0);
    assert_int_equal(c.m.passwd.n, 255);
    /* one more octet in any field is refused at the 256th */
    memset(msg, 'z', 256);
    msg[256] = '\0';
    assert_int_equal(run_msg(plain_step, &c, msg, 260), MR_ERROR);
    assert_err(&c.err, MR_E_LIMIT_LITERAL, "authzid", 255);
    memset(msg, 'c', 257);
    msg[0] = '\0';
    msg[257] = '\0';
    assert_int_equal(run_msg(plain_step, &c, msg, 260), MR_ERROR);
    assert_err(&c.err, MR_E_LIMIT_LITERAL, "authcid", 256);
    memcpy(msg, "\0tim\0", 5);
    memset(msg + 5, 'p', 256);
    assert_int_equal(run_msg(plain_step, &c, msg, 261), MR_ERROR);
    assert_err(&c.err, MR_E_LIMIT_LITERAL, "passwd", 260);
    /* the limit is configurable */
    c.lim.max_field = 1024;
    assert_int_equal(run_msg(plain_step, &c, msg, 261), 0);
    c.lim = sasl_limits_default();
    c.lim.max_message = 10;
    assert_int_equal(run_msg(plain_step, &c, "\0tim\0secret", 11), MR_ERROR);
    assert_err(&c.err, MR_E_LIMIT_LITERAL, "message", 10);
}

static void plain_hundred_megabytes(void **state)
{
    (void)state;
    size_t n = 100u << 20;
    char *big = test_malloc(n);
    memset(big, 'x', n);
    sasl_plain m;
    mr_error e;
    assert_int_equal(sasl_plain_parse(big, n, MR_STRICT, NULL, &m, &e), MR_ERROR);
    assert_err(&e, MR_E_LIMIT_LITERAL, "message", 12288);
    /* even with no message limit, the field limit stops the scan at 256 bytes */
    sasl_limits lim = sasl_limits_default();
    lim.max_message = SIZE_MAX;
    assert_int_equal(sasl_plain_parse(big, n, MR_STRICT, &lim, &m, &e), MR_ERROR);
    assert_err(&e, MR_E_LIMIT_LITERAL, "authzid", 255);
    test_free(big);
}

static void plain_write(void **state)
{
    (void)state;
    char out[64];
    mr_error e;
    sasl_plain m = {SL(""), SL("tim"), SL("tanstaaftanstaaf")};
    assert_int_equal(sasl_plain_write(&m, out, sizeof out, &e), 21);
    assert_memory_equal(out, "\0tim\0tanstaaftanstaaf", 21);
    memset(out, 'x', sizeof out);
    assert_int_equal(sasl_plain_write(&m, out, 20, &e), 21);
    assert_int_equal(out[20], 'x');
    assert_int_equal(sasl_plain_write(&m, NULL, 0, &e), 21);
    sasl_plain bad = {SL(""), SL(""), SL("x")};
    assert_int_equal(sasl_plain_write(&bad, out, sizeof out, &e), MR_ERROR);
    assert_err(&e, MR_E_EMPTY, "authcid", 0);
    bad = (sasl_plain){SL(""), SL("u"), SL("")};
    assert_int_equal(sasl_plain_write(&bad, out, sizeof out, &e), MR_ERROR);
    assert_err(&e, MR_E_EMPTY, "passwd", 0);
    bad = (sasl_plain){SL("a\0b"), SL("u"), SL("p")};
    assert_int_equal(sasl_plain_write(&bad, out, sizeof out, &e), MR_ERROR);
    assert_err(&e, MR_E_NUL, "authzid", 1);
    bad = (sasl_plain){SL(""), SL("u"), SL("p\0")};
    assert_int_equal(sasl_plain_write(&bad, out, sizeof out, &e), MR_ERROR);
    assert_err(&e, MR_E_NUL, "passwd", 1);
}

static void plain_round_trip(void **state)
{
    (void)state;
    const sasl_plain items[] = {
        {SL(""), SL("tim"), SL("tanstaaftanstaaf")},
        {SL("Ursel"), SL("Kurt"), SL("xipj3plmq")},
        {SL("admin@example.com"), SL("j\xc3\xb6rg"), SL(" \t\r\n")},
    };
    for (size_t i = 0; i < sizeof items / sizeof items[0]; i++) {
        char out[128];
        int n = sasl_plain_write(&items[i], out, sizeof out, NULL);
        assert_true(n > 0);
        plain_ctx c = {.mode = MR_STRICT, .lim = sasl_limits_default()};
        assert_int_equal(run_msg(plain_step, &c, out, (size_t)n), 0);
        assert_true(slice_same(c.m.authzid, items[i].authzid) || items[i].authzid.n == 0);
        assert_int_equal(c.m.authzid.n, items[i].authzid.n);
        assert_true(slice_same(c.m.authcid, items[i].authcid));
        assert_true(slice_same(c.m.passwd, items[i].passwd));
    }
}

/* ---- LOGIN -------------------------------------------------------------------------------- */

typedef struct login_ctx {
    mr_mode mode;
    sasl_login_challenge ch;
    mr_slice value;
    mr_error err;
} login_ctx;

static int login_ch_step(void *vctx, const char *msg, size_t n)
{
    login_ctx *c = vctx;
    return sasl_login_challenge_parse(msg, n, c->mode, NULL, &c->ch, &c->err);
}

static int login_resp_step(void *vctx, const char *msg, size_t n)
{
    login_ctx *c = vctx;
    return sasl_login_response_parse(msg, n, c->mode, NULL, &c->value, &c->err);
}

static void login_challenges(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        size_t n;
        sasl_login_prompt strict, lenient;
    } cases[] = {
        {"Username:", 9, SASL_LOGIN_PROMPT_USERNAME, SASL_LOGIN_PROMPT_USERNAME}, /* EXO */
        {"Password:", 9, SASL_LOGIN_PROMPT_PASSWORD, SASL_LOGIN_PROMPT_PASSWORD},
        {"User Name\0", 10, SASL_LOGIN_PROMPT_USERNAME, SASL_LOGIN_PROMPT_USERNAME}, /* Cyrus */
        {"Password\0", 9, SASL_LOGIN_PROMPT_PASSWORD, SASL_LOGIN_PROMPT_PASSWORD},
        {"User Name", 9, SASL_LOGIN_PROMPT_USERNAME, SASL_LOGIN_PROMPT_USERNAME}, /* draft */
        {"Password", 8, SASL_LOGIN_PROMPT_PASSWORD, SASL_LOGIN_PROMPT_PASSWORD},
        {"username:", 9, SASL_LOGIN_PROMPT_OTHER, SASL_LOGIN_PROMPT_USERNAME},
        {"USER NAME:", 10, SASL_LOGIN_PROMPT_OTHER, SASL_LOGIN_PROMPT_USERNAME},
        {"User:", 5, SASL_LOGIN_PROMPT_OTHER, SASL_LOGIN_PROMPT_USERNAME},
        {"password :", 10, SASL_LOGIN_PROMPT_OTHER, SASL_LOGIN_PROMPT_PASSWORD},
        {"Enter your login", 16, SASL_LOGIN_PROMPT_OTHER, SASL_LOGIN_PROMPT_OTHER},
        {"Passwort:", 9, SASL_LOGIN_PROMPT_OTHER, SASL_LOGIN_PROMPT_OTHER},
        {"", 0, SASL_LOGIN_PROMPT_OTHER, SASL_LOGIN_PROMPT_OTHER},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        login_ctx c = {.mode = MR_STRICT};
        assert_int_equal(run_msg(login_ch_step, &c, cases[i].text, cases[i].n), 0);
        assert_int_equal(c.ch.prompt, cases[i].strict);
        assert_slice_n(c.ch.text, cases[i].text, cases[i].n);
        c.mode = MR_LENIENT;
        assert_int_equal(run_msg(login_ch_step, &c, cases[i].text, cases[i].n), 0);
        if (c.ch.prompt != cases[i].lenient)
            fail_msg("\"%s\": lenient prompt %d", cases[i].text, c.ch.prompt);
    }
}

static void login_challenge_errors(void **state)
{
    (void)state;
    login_ctx c = {.mode = MR_STRICT};
    assert_int_equal(run_msg(login_ch_step, &c, "User\0Name", 9), MR_ERROR);
    assert_err(&c.err, MR_E_NUL, "login-challenge", 4);
    assert_int_equal(run_msg(login_ch_step, &c, "Username:\r\n", 11), MR_ERROR);
    assert_err(&c.err, MR_E_CTL, "login-challenge", 9);
    assert_int_equal(run_msg(login_ch_step, &c, "Benutzern\xe4me", 12), MR_ERROR);
    assert_err(&c.err, MR_E_UTF8, "login-challenge", 9);
    c.mode = MR_LENIENT;
    assert_int_equal(run_msg(login_ch_step, &c, "User\0Name", 9), 0);
    char big[300];
    memset(big, 'u', sizeof big);
    assert_int_equal(run_msg(login_ch_step, &c, big, 256), MR_ERROR);
    assert_err(&c.err, MR_E_LIMIT_LITERAL, "login-challenge", 255);
    assert_int_equal(run_msg(login_ch_step, &c, big, 255), 0);
}

static void login_challenge_write(void **state)
{
    (void)state;
    char out[32];
    mr_error e;
    sasl_login_challenge ch = {SASL_LOGIN_PROMPT_USERNAME, {NULL, 0}};
    assert_int_equal(sasl_login_challenge_write(&ch, out, sizeof out, &e), 9);
    assert_memory_equal(out, "Username:", 9);
    ch.prompt = SASL_LOGIN_PROMPT_PASSWORD;
    assert_int_equal(sasl_login_challenge_write(&ch, out, sizeof out, &e), 9);
    assert_memory_equal(out, "Password:", 9);
    ch.prompt = SASL_LOGIN_PROMPT_OTHER;
    assert_int_equal(sasl_login_challenge_write(&ch, out, sizeof out, &e), MR_ERROR);
    assert_err(&e, MR_E_SYNTAX, "login-challenge", 0);
    /* a mock reproducing Cyrus writes the text itself */
    ch.text = (mr_slice){"User Name", 10};
    assert_int_equal(sasl_login_challenge_write(&ch, out, sizeof out, &e), 10);
    assert_memory_equal(out, "User Name\0", 10);
    /* round trip of every prompt the writer makes */
    for (int p = SASL_LOGIN_PROMPT_USERNAME; p <= SASL_LOGIN_PROMPT_PASSWORD; p++) {
        sasl_login_challenge w = {(sasl_login_prompt)p, {NULL, 0}};
        int n = sasl_login_challenge_write(&w, out, sizeof out, &e);
        login_ctx c = {.mode = MR_STRICT};
        assert_int_equal(run_msg(login_ch_step, &c, out, (size_t)n), 0);
        assert_int_equal(c.ch.prompt, p);
    }
}

static void login_responses(void **state)
{
    (void)state;
    login_ctx c = {.mode = MR_STRICT};
    assert_int_equal(run_msg(login_resp_step, &c, "tony@contoso.com", 16), 0);
    assert_slice_lit(c.value, "tony@contoso.com");
    assert_int_equal(run_msg(login_resp_step, &c, "", 0), MR_ERROR);
    assert_err(&c.err, MR_E_EMPTY, "login-response", 0);
    assert_int_equal(run_msg(login_resp_step, &c, "pa\0ss", 5), MR_ERROR);
    assert_err(&c.err, MR_E_NUL, "login-response", 2);
    assert_int_equal(run_msg(login_resp_step, &c, "caf\xe9", 4), MR_ERROR);
    assert_err(&c.err, MR_E_UTF8, "login-response", 3);
    c.mode = MR_LENIENT;
    assert_int_equal(run_msg(login_resp_step, &c, "caf\xe9", 4), 0);
    assert_int_equal(run_msg(login_resp_step, &c, "", 0), 0);
    char big[256];
    memset(big, 'p', sizeof big);
    assert_int_equal(run_msg(login_resp_step, &c, big, 256), MR_ERROR);
    assert_err(&c.err, MR_E_LIMIT_LITERAL, "login-response", 255);
    char out[8];
    assert_int_equal(sasl_login_response_write(SL("secret"), out, sizeof out, NULL), 6);
    assert_memory_equal(out, "secret", 6);
    assert_int_equal(run_msg(login_resp_step, &c, out, 6), 0);
    assert_slice_lit(c.value, "secret");
}

/* ---- CRAM-MD5 ----------------------------------------------------------------------------- */

typedef struct cram_ctx {
    mr_mode mode;
    sasl_limits lim;
    sasl_cram_challenge ch;
    sasl_cram_response resp;
    mr_error err;
} cram_ctx;

static int cram_ch_step(void *vctx, const char *msg, size_t n)
{
    cram_ctx *c = vctx;
    return sasl_cram_challenge_parse(msg, n, c->mode, &c->lim, &c->ch, &c->err);
}

static int cram_resp_step(void *vctx, const char *msg, size_t n)
{
    cram_ctx *c = vctx;
    return sasl_cram_response_parse(msg, n, c->mode, &c->lim, &c->resp, &c->err);
}

#define CH(c, lit) run_msg(cram_ch_step, (c), (lit), sizeof(lit) - 1)
#define RESP(c, lit) run_msg(cram_resp_step, (c), (lit), sizeof(lit) - 1)

static void cram_rfc2195(void **state)
{
    (void)state;
    cram_ctx c = {.mode = MR_STRICT, .lim = sasl_limits_default()};
    assert_int_equal(CH(&c, "<1896.697170952@postoffice.reston.mci.net>"), 0);
    assert_slice_lit(c.ch.text, "<1896.697170952@postoffice.reston.mci.net>");
    assert_slice_lit(c.ch.random, "1896");
    assert_slice_lit(c.ch.timestamp, "697170952");
    assert_slice_lit(c.ch.host, "postoffice.reston.mci.net");
    assert_int_equal(RESP(&c, "tim b913a602c7eda7a495b4e6e7334d3890"), 0);
    assert_slice_lit(c.resp.user, "tim");
    assert_slice_lit(c.resp.digest, "b913a602c7eda7a495b4e6e7334d3890");
    /* HMAC-MD5("tanstaaftanstaaf", challenge), per RFC 2195 section 2 */
    static const unsigned char want[16] = {0xb9, 0x13, 0xa6, 0x02, 0xc7, 0xed, 0xa7, 0xa4,
                                           0x95, 0xb4, 0xe6, 0xe7, 0x33, 0x4d, 0x38, 0x90};
    unsigned char md[16];
    assert_int_equal(sasl_cram_digest_decode(c.resp.digest, md), 0);
    assert_memory_equal(md, want, 16);
    char hex[32];
    sasl_cram_digest_encode(want, hex);
    assert_memory_equal(hex, "b913a602c7eda7a495b4e6e7334d3890", 32);
    assert_int_equal(sasl_cram_digest_decode(SL("B913A602C7EDA7A495B4E6E7334D3890"), md), 0);
    assert_memory_equal(md, want, 16);
    assert_int_equal(sasl_cram_digest_decode(SL("b913a602c7eda7a495b4e6e7334d389"), md), -1);
    assert_int_equal(sasl_cram_digest_decode(SL("g913a602c7eda7a495b4e6e7334d3890"), md), -1);
}

static void cram_challenges(void **state)
{
    (void)state;
    cram_ctx c = {.mode = MR_STRICT, .lim = sasl_limits_default()};
    /* Dovecot and Cyrus: <random.time@host> */
    assert_int_equal(CH(&c, "<6117354381902478.1700000000@mail_01.example.org>"), 0);
    assert_slice_lit(c.ch.host, "mail_01.example.org");
    assert_int_equal(CH(&c, ""), MR_ERROR);
    assert_err(&c.err, MR_E_SYNTAX, "msg-id", 0);
    assert_int_equal(CH(&c, "1896.697170952@host>"), MR_ERROR);
    assert_err(&c.err, MR_E_SYNTAX, "msg-id", 0);
    assert_int_equal(CH(&c, "<x.1@h>"), MR_ERROR);
    assert_err(&c.err, MR_E_SYNTAX, "random", 1);
    assert_int_equal(CH(&c, "<12x.1@h>"), MR_ERROR);
    assert_err(&c.err, MR_E_SYNTAX, "random", 3);
    assert_int_equal(CH(&c, "<1896@h>"), MR_ERROR);
    assert_err(&c.err, MR_E_SYNTAX, "random", 5);
    assert_int_equal(CH(&c, "<1.@h>"), MR_ERROR);
    assert_err(&c.err, MR_E_EMPTY, "timestamp", 3);
    assert_int_equal(CH(&c, "<1.2@>"), MR_ERROR);
    assert_err(&c.err, MR_E_EMPTY, "host", 5);
    assert_int_equal(CH(&c, "<1.2@h"), MR_ERROR);
    assert_err(&c.err, MR_E_SYNTAX, "msg-id", 6);
    assert_int_equal(CH(&c, "<1.2@h>x"), MR_ERROR);
    assert_err(&c.err, MR_E_TRAILING, "msg-id", 7);
    assert_int_equal(CH(&c, "<1.2@[127.0.0.1]>"), MR_ERROR);
    assert_err(&c.err, MR_E_SYNTAX, "host", 5);
    /* lenient: any msg-id */
    c.mode = MR_LENIENT;
    assert_int_equal(CH(&c, "<1.2@[127.0.0.1]>"), 0);
    assert_slice_lit(c.ch.host, "[127.0.0.1]");
    assert_slice_lit(c.ch.random, "1");
    assert_slice_lit(c.ch.timestamp, "2");
    assert_int_equal(CH(&c, "<abc.def@host>"), 0);
    assert_slice_lit(c.ch.random, "abc.def");
    assert_slice_lit(c.ch.timestamp, "");
    assert_int_equal(CH(&c, "<12345@host>"), 0);
    assert_slice_lit(c.ch.random, "12345");
    assert_int_equal(CH(&c, "<1.2.3@host>"), 0);
    assert_slice_lit(c.ch.random, "1.2.3");
    assert_int_equal(CH(&c, "<a b@host>"), MR_ERROR);
    assert_err(&c.err, MR_E_SYNTAX, "random", 2);
    assert_int_equal(CH(&c, "<@host>"), MR_ERROR);
    assert_err(&c.err, MR_E_EMPTY, "random", 1);
    assert_int_equal(CH(&c, "<a@b@c>"), MR_ERROR);
    assert_err(&c.err, MR_E_SYNTAX, "host", 4);
}

static void cram_challenge_limits(void **state)
{
    (void)state;
    cram_ctx c = {.mode = MR_STRICT, .lim = sasl_limits_default()};
    char msg[600];
    msg[0] = '<';
    memset(msg + 1, '7', 256);
    memcpy(msg + 257, ".1@h>", 5);
    assert_int_equal(run_msg(cram_ch_step, &c, msg, 262), MR_ERROR);
    assert_err(&c.err, MR_E_LIMIT_LITERAL, "random", 256);
    memcpy(msg + 256, ".1@h>", 5);
    assert_int_equal(run_msg(cram_ch_step, &c, msg, 261), MR_ERROR);
    assert_err(&c.err, MR_E_LIMIT_LITERAL, "timestamp", 256);
    /* the limit is on the local part random "." timestamp, in both modes (fuzz regression) */
    memcpy(msg + 254, ".1@h>", 5);
    assert_int_equal(run_msg(cram_ch_step, &c, msg, 259), 0);
    assert_int_equal(c.ch.random.n, 253);
    c.mode = MR_LENIENT;
    assert_int_equal(run_msg(cram_ch_step, &c, msg, 259), 0);
    memcpy(msg + 254, ".12@h>", 6);
    assert_int_equal(run_msg(cram_ch_step, &c, msg, 260), MR_ERROR);
    assert_err(&c.err, MR_E_LIMIT_LITERAL, "random", 256);
    c.mode = MR_STRICT;
    assert_int_equal(run_msg(cram_ch_step, &c, msg, 260), MR_ERROR);
    assert_err(&c.err, MR_E_LIMIT_LITERAL, "timestamp", 256);
    memcpy(msg, "<1.2@", 5);
    memset(msg + 5, 'h', 256);
    msg[261] = '>';
    assert_int_equal(run_msg(cram_ch_step, &c, msg, 262), MR_ERROR);
    assert_err(&c.err, MR_E_LIMIT_LITERAL, "host", 260);
}

static void cram_challenge_write(void **state)
{
    (void)state;
    char out[64];
    mr_error e;
    sasl_cram_challenge ch = {{NULL, 0}, SL("1896"), SL("697170952"),
                              SL("postoffice.reston.mci.net")};
    int n = sasl_cram_challenge_write(&ch, out, sizeof out, &e);
    assert_int_equal(n, 42);
    assert_memory_equal(out, "<1896.697170952@postoffice.reston.mci.net>", 42);
    ch = (sasl_cram_challenge){{NULL, 0}, SL("abc.def"), SL(""), SL("h")};
    assert_int_equal(sasl_cram_challenge_write(&ch, out, sizeof out, &e), 11);
    assert_memory_equal(out, "<abc.def@h>", 11);
    ch.random = SL("12.34"); /* would read back as random 12, timestamp 34 */
    assert_int_equal(sasl_cram_challenge_write(&ch, out, sizeof out, &e), MR_ERROR);
    assert_err(&e, MR_E_SYNTAX, "random", 2);
    ch = (sasl_cram_challenge){{NULL, 0}, SL("x1"), SL("2"), SL("h")};
    assert_int_equal(sasl_cram_challenge_write(&ch, out, sizeof out, &e), MR_ERROR);
    assert_err(&e, MR_E_SYNTAX, "random", 0);
    ch = (sasl_cram_challenge){{NULL, 0}, SL("1"), SL("2x"), SL("h")};
    assert_int_equal(sasl_cram_challenge_write(&ch, out, sizeof out, &e), MR_ERROR);
    assert_err(&e, MR_E_SYNTAX, "timestamp", 0);
    ch = (sasl_cram_challenge){{NULL, 0}, SL("1"), SL("2"), SL("")};
    assert_int_equal(sasl_cram_challenge_write(&ch, out, sizeof out, &e), MR_ERROR);
    assert_err(&e, MR_E_EMPTY, "host", 0);
    ch = (sasl_cram_challenge){{NULL, 0}, SL("1"), SL("2"), SL("h>x")};
    assert_int_equal(sasl_cram_challenge_write(&ch, out, sizeof out, &e), MR_ERROR);
    assert_err(&e, MR_E_SYNTAX, "host", 1);
    /* round trips, strict and lenient */
    static const char *const texts[] = {"<1896.697170952@postoffice.reston.mci.net>",
                                        "<abc.def@host>", "<1.2.3@[::1]>", "<x@y>"};
    for (size_t i = 0; i < 4; i++) {
        cram_ctx c = {.mode = i ? MR_LENIENT : MR_STRICT, .lim = sasl_limits_default()};
        assert_int_equal(run_msg(cram_ch_step, &c, texts[i], strlen(texts[i])), 0);
        n = sasl_cram_challenge_write(&c.ch, out, sizeof out, &e);
        assert_int_equal(n, strlen(texts[i]));
        assert_memory_equal(out, texts[i], (size_t)n);
    }
}

static void cram_responses(void **state)
{
    (void)state;
    cram_ctx c = {.mode = MR_STRICT, .lim = sasl_limits_default()};
    assert_int_equal(RESP(&c, "tim smith b913a602c7eda7a495b4e6e7334d3890"), 0);
    assert_slice_lit(c.resp.user, "tim smith");
    assert_int_equal(RESP(&c, "tim"), MR_ERROR);
    assert_err(&c.err, MR_E_SYNTAX, "cram-response", 3);
    assert_int_equal(RESP(&c, "timb913a602c7eda7a495b4e6e7334d3890"), MR_ERROR);
    assert_err(&c.err, MR_E_SYNTAX, "digest", 2);
    assert_int_equal(RESP(&c, "tim b913a6"), MR_ERROR);
    assert_err(&c.err, MR_E_SYNTAX, "digest", 4);
    assert_int_equal(RESP(&c, "tim b913a602c7eda7a495b4e6e7334d38900"), MR_ERROR);
    assert_err(&c.err, MR_E_SYNTAX, "digest", 4);
    assert_int_equal(RESP(&c, "tim B913a602c7eda7a495b4e6e7334d3890"), MR_ERROR);
    assert_err(&c.err, MR_E_SYNTAX, "digest", 4);
    assert_int_equal(RESP(&c, "tim b913a602c7eda7a495b4e6e7334d389g"), MR_ERROR);
    assert_err(&c.err, MR_E_SYNTAX, "digest", 35);
    assert_int_equal(RESP(&c, " b913a602c7eda7a495b4e6e7334d3890"), MR_ERROR);
    assert_err(&c.err, MR_E_EMPTY, "user", 0);
    assert_int_equal(RESP(&c, "t\x01m b913a602c7eda7a495b4e6e7334d3890"), MR_ERROR);
    assert_err(&c.err, MR_E_CTL, "user", 1);
    assert_int_equal(RESP(&c, "t\0m b913a602c7eda7a495b4e6e7334d3890"), MR_ERROR);
    assert_err(&c.err, MR_E_NUL, "user", 1);
    assert_int_equal(RESP(&c, "j\xf6rg b913a602c7eda7a495b4e6e7334d3890"), MR_ERROR);
    assert_err(&c.err, MR_E_UTF8, "user", 1);
    c.mode = MR_LENIENT;
    assert_int_equal(RESP(&c, "tim B913A602C7EDA7A495B4E6E7334D3890"), 0);
    assert_int_equal(RESP(&c, "j\xf6rg b913a602c7eda7a495b4e6e7334d3890"), 0);
    char msg[400];
    memset(msg, 'u', 256);
    memcpy(msg + 256, " b913a602c7eda7a495b4e6e7334d3890", 33);
    assert_int_equal(run_msg(cram_resp_step, &c, msg, 289), MR_ERROR);
    assert_err(&c.err, MR_E_LIMIT_LITERAL, "user", 255);
    assert_int_equal(run_msg(cram_resp_step, &c, msg + 1, 288), 0);
}

static void cram_response_write(void **state)
{
    (void)state;
    char out[64];
    mr_error e;
    sasl_cram_response r = {SL("tim"), SL("b913a602c7eda7a495b4e6e7334d3890")};
    assert_int_equal(sasl_cram_response_write(&r, out, sizeof out, &e), 36);
    assert_memory_equal(out, "tim b913a602c7eda7a495b4e6e7334d3890", 36);
    cram_ctx c = {.mode = MR_STRICT, .lim = sasl_limits_default()};
    assert_int_equal(run_msg(cram_resp_step, &c, out, 36), 0);
    assert_true(slice_same(c.resp.user, r.user) && slice_same(c.resp.digest, r.digest));
    r.digest = SL("b913a602c7eda7a495b4e6e7334d389");
    assert_int_equal(sasl_cram_response_write(&r, out, sizeof out, &e), MR_ERROR);
    assert_err(&e, MR_E_SYNTAX, "digest", 0);
    r = (sasl_cram_response){SL(""), SL("b913a602c7eda7a495b4e6e7334d3890")};
    assert_int_equal(sasl_cram_response_write(&r, out, sizeof out, &e), MR_ERROR);
    assert_err(&e, MR_E_EMPTY, "user", 0);
    r.user = SL("a\nb");
    assert_int_equal(sasl_cram_response_write(&r, out, sizeof out, &e), MR_ERROR);
    assert_err(&e, MR_E_CTL, "user", 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(limits_defaults),
        cmocka_unit_test(mech_lookup),
        cmocka_unit_test(mech_provider_lists),
        cmocka_unit_test(mech_name_syntax),
        cmocka_unit_test(payload_decode),
        cmocka_unit_test(payload_output_limit),
        cmocka_unit_test(payload_write),
        cmocka_unit_test(payload_round_trip),
        cmocka_unit_test(response_line),
        cmocka_unit_test(response_line_limits),
        cmocka_unit_test(response_line_resume),
        cmocka_unit_test(response_line_write),
        cmocka_unit_test(response_text),
        cmocka_unit_test(response_text_write),
        cmocka_unit_test(plain_rfc4616),
        cmocka_unit_test(plain_errors),
        cmocka_unit_test(plain_limits),
        cmocka_unit_test(plain_hundred_megabytes),
        cmocka_unit_test(plain_write),
        cmocka_unit_test(plain_round_trip),
        cmocka_unit_test(login_challenges),
        cmocka_unit_test(login_challenge_errors),
        cmocka_unit_test(login_challenge_write),
        cmocka_unit_test(login_responses),
        cmocka_unit_test(cram_rfc2195),
        cmocka_unit_test(cram_challenges),
        cmocka_unit_test(cram_challenge_limits),
        cmocka_unit_test(cram_challenge_write),
        cmocka_unit_test(cram_responses),
        cmocka_unit_test(cram_response_write),
    };
    return cmocka_run_group_tests_name("sasl", tests, NULL, NULL);
}
