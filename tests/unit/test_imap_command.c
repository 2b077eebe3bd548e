/* test_imap_command.c -- the command grammar: every command of RFC 3501 / RFC 9051 with its
 * RFC example, search keys, fetch attributes, literals (synchronizing, LITERAL+, literal8),
 * unknown commands, IDLE's DONE and AUTHENTICATE lines, and errors. */
#include "tests/unit/imap_test.h"

static void simple_commands(void **state)
{
    (void)state;
    const struct {
        const char *in;
        imap_cmd_type type;
        const char *tag;
    } ok[] = {
        {"a001 CAPABILITY\r\n", IMAP_CMD_CAPABILITY, "a001"},
        {"a002 NOOP\r\n", IMAP_CMD_NOOP, "a002"},
        {"A023 LOGOUT\r\n", IMAP_CMD_LOGOUT, "A023"},
        {"a001 STARTTLS\r\n", IMAP_CMD_STARTTLS, "a001"},
        {"FXXZ CHECK\r\n", IMAP_CMD_CHECK, "FXXZ"},
        {"A341 CLOSE\r\n", IMAP_CMD_CLOSE, "A341"},
        {"A342 UNSELECT\r\n", IMAP_CMD_UNSELECT, "A342"},
        {"A202 EXPUNGE\r\n", IMAP_CMD_EXPUNGE, "A202"},
        {"A002 NAMESPACE\r\n", IMAP_CMD_NAMESPACE, "A002"},
        {"a047 IDLE\r\n", IMAP_CMD_IDLE, "a047"},
        {"a]b NOOP\r\n", IMAP_CMD_NOOP, "a]b"},
        {"1 noop\r\n", IMAP_CMD_NOOP, "1"},
    };
    for (size_t k = 0; k < sizeof ok / sizeof ok[0]; k++) {
        cmd_ctx *c = cmd_ok(ok[k].in, MR_STRICT);
        assert_int_equal(c->c.kind, IMAP_KIND_COMMAND);
        assert_int_equal(c->c.type, ok[k].type);
        assert_slice(c->c.tag, ok[k].tag);
        assert_int_equal(c->c.t.n, 0);
        assert_false(c->c.uid);
    }
    assert_string_equal(imap_cmd_name(IMAP_CMD_UNSUBSCRIBE), "UNSUBSCRIBE");
    assert_null(imap_cmd_name(IMAP_CMD_UNKNOWN));
    cmd_err("a1 CAPABILITY extra\r\n", MR_STRICT, MR_E_TRAILING, "command", 13);
    cmd_err("a1 NOOP \r\n", MR_STRICT, MR_E_TRAILING, "command", 7);
    cmd_ok("a1 NOOP \r\n", MR_LENIENT);
    cmd_err("* NOOP\r\n", MR_STRICT, MR_E_SYNTAX, "tag", 0);
    cmd_err("a+b NOOP\r\n", MR_STRICT, MR_E_SYNTAX, "command", 1);
    cmd_err("a1\r\n", MR_STRICT, MR_E_SYNTAX, "command", 2);
    cmd_err("a1 \r\n", MR_STRICT, MR_E_SYNTAX, "command", 3);
    cmd_err("a1  NOOP\r\n", MR_STRICT, MR_E_SYNTAX, "command", 3);
    cmd_ok("a1  NOOP\r\n", MR_LENIENT);
    cmd_err("a1 NOOP\n", MR_STRICT, MR_E_BARE_LF, "CRLF", 7);
    cmd_ok("a1 NOOP\n", MR_LENIENT);
    cmd_err("t\xc3\xa4g NOOP\r\n", MR_STRICT, MR_E_8BIT, "command", 1);
}

static void login_authenticate(void **state)
{
    (void)state;
    cmd_ctx *c = cmd_ok("a001 LOGIN SMITH SESAME\r\n", MR_STRICT);
    assert_int_equal(c->c.type, IMAP_CMD_LOGIN);
    assert_tok(&c->c.t, 0, IMAP_T_ATOM, "SMITH");
    assert_tok(&c->c.t, 1, IMAP_T_ATOM, "SESAME");
    c = cmd_ok("a1 LOGIN johnappleseed@icloud.com \"abcd-efgh-ijkl-mnop\"\r\n", MR_STRICT);
    assert_tok(&c->c.t, 1, IMAP_T_QUOTED, "abcd-efgh-ijkl-mnop");
    c = cmd_ok("a1 LOGIN \"tony@contoso.com\" \"p\\\"w\\\\d\"\r\n", MR_STRICT);
    char pw[16];
    assert_int_equal(imap_tok_copy(&c->c.t, 1, pw, sizeof pw), 5);
    assert_memory_equal(pw, "p\"w\\d", 5);
    /* RFC 7888 LITERAL+ example */
    c = cmd_ok("A001 LOGIN {11+}\r\nFRED FOOBAR {7+}\r\nfat man\r\n", MR_STRICT);
    assert_tok(&c->c.t, 0, IMAP_T_LITERAL, "FRED FOOBAR");
    assert_true(c->c.t.tok[0].flags & IMAP_TF_NONSYNC);
    assert_tok(&c->c.t, 1, IMAP_T_LITERAL, "fat man");
    /* synchronizing literals */
    c = cmd_ok("a2 LOGIN {4}\r\nfred {6}\r\nsecret\r\n", MR_STRICT);
    assert_tok(&c->c.t, 1, IMAP_T_LITERAL, "secret");
    assert_false(c->c.t.tok[1].flags & IMAP_TF_NONSYNC);
    cmd_err("a1 LOGIN SMITH\r\n", MR_STRICT, MR_E_SYNTAX, "login", 14);
    cmd_err("a1 LOGIN SMITH (SESAME)\r\n", MR_STRICT, MR_E_SYNTAX, "password", 15);
    cmd_err("a1 LOGIN SMITH ~{3}\r\nabc\r\n", MR_STRICT, MR_E_TRAILING, "command", 16);

    c = cmd_ok("A001 AUTHENTICATE GSSAPI\r\n", MR_STRICT);
    assert_int_equal(c->c.type, IMAP_CMD_AUTHENTICATE);
    assert_int_equal(c->c.t.n, 1);
    /* RFC 4959 SASL-IR */
    c = cmd_ok("a01 AUTHENTICATE PLAIN dGVzdAB0ZXN0AHRlc3Q=\r\n", MR_STRICT);
    assert_tok(&c->c.t, 1, IMAP_T_ATOM, "dGVzdAB0ZXN0AHRlc3Q=");
    c = cmd_ok("a02 AUTHENTICATE PLAIN =\r\n", MR_STRICT);
    assert_tok(&c->c.t, 1, IMAP_T_ATOM, "=");
    cmd_ok("A01 AUTHENTICATE XOAUTH2 dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5"
           "LnZGOWRmdDRxbVRjMk52YjNSbGNrQmhkSFJoZG1semRHRXVZMjl0Q2cBAQ==\r\n",
           MR_STRICT);
    cmd_err("a AUTHENTICATE PLAIN dGVzdA=x\r\n", MR_STRICT, MR_E_BASE64, "base64", 28);
    cmd_err("a AUTHENTICATE PLAIN dGVzd\r\n", MR_STRICT, MR_E_BASE64, "base64", 26);
    cmd_ok("a AUTHENTICATE PLAIN dGVzd\r\n", MR_LENIENT);
    cmd_err("a AUTHENTICATE\r\n", MR_STRICT, MR_E_SYNTAX, "authenticate", 14);

    /* the client's lines during AUTHENTICATE */
    mr_slice b64;
    int cancel;
    mr_error err;
    assert_int_equal(imap_sasl_line("dGVzdA==\r\n", 10, MR_STRICT, &b64, &cancel, &err), 10);
    assert_false(cancel);
    assert_slice(b64, "dGVzdA==");
    assert_int_equal(imap_sasl_line("*\r\n", 3, MR_STRICT, &b64, &cancel, &err), 3);
    assert_true(cancel);
    assert_int_equal(imap_sasl_line("\r\n", 2, MR_STRICT, &b64, &cancel, &err), 2);
    assert_int_equal(b64.n, 0);
    assert_int_equal(imap_sasl_line("dGV*\r\n", 6, MR_STRICT, &b64, &cancel, &err), MR_ERROR);
    assert_int_equal(err.code, MR_E_BASE64);
    assert_int_equal(err.offset, 3);
    assert_int_equal(imap_sasl_line("dGVzdA\r\n", 8, MR_STRICT, &b64, &cancel, &err), MR_ERROR);
    assert_int_equal(imap_sasl_line("dGVzdA\r\n", 8, MR_LENIENT, &b64, &cancel, &err), 8);
    assert_int_equal(imap_sasl_line("dGVzdA==\n", 9, MR_STRICT, &b64, &cancel, &err), MR_ERROR);
    assert_int_equal(err.code, MR_E_BARE_LF);
    assert_int_equal(imap_sasl_line("dGVzdA==\n", 9, MR_LENIENT, &b64, &cancel, &err), 9);
}

static void mailbox_commands(void **state)
{
    (void)state;
    cmd_ctx *c = cmd_ok("A142 SELECT INBOX\r\n", MR_STRICT);
    assert_int_equal(c->c.type, IMAP_CMD_SELECT);
    assert_tok(&c->c.t, 0, IMAP_T_ATOM, "INBOX");
    c = cmd_ok("A142 SELECT INBOX (CONDSTORE)\r\n", MR_STRICT);
    assert_int_equal(c->c.t.tok[1].type, IMAP_T_LIST);
    cmd_ok("A02 SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541))\r\n",
           MR_STRICT);
    c = cmd_ok("A932 EXAMINE blurdybloop\r\n", MR_STRICT);
    assert_int_equal(c->c.type, IMAP_CMD_EXAMINE);
    c = cmd_ok("A003 CREATE owatagusiam/\r\n", MR_STRICT);
    assert_int_equal(c->c.type, IMAP_CMD_CREATE);
    cmd_ok("t1 CREATE \"Foo\" (USE (\\Drafts))\r\n", MR_STRICT);
    c = cmd_ok("A683 DELETE blurdybloop\r\n", MR_STRICT);
    assert_int_equal(c->c.type, IMAP_CMD_DELETE);
    c = cmd_ok("A683 RENAME blurdybloop sarasoop\r\n", MR_STRICT);
    assert_int_equal(c->c.type, IMAP_CMD_RENAME);
    assert_tok(&c->c.t, 1, IMAP_T_ATOM, "sarasoop");
    c = cmd_ok("A002 SUBSCRIBE #news.comp.mail.mime\r\n", MR_STRICT);
    assert_int_equal(c->c.type, IMAP_CMD_SUBSCRIBE);
    c = cmd_ok("A002 UNSUBSCRIBE #news.comp.mail.mime\r\n", MR_STRICT);
    assert_int_equal(c->c.type, IMAP_CMD_UNSUBSCRIBE);
    c = cmd_ok("A101 LIST \"\" \"\"\r\n", MR_STRICT);
    assert_int_equal(c->c.type, IMAP_CMD_LIST);
    cmd_ok("A102 LIST #news.comp.mail.misc \"\"\r\n", MR_STRICT);
    c = cmd_ok("A202 LIST ~/Mail/ %\r\n", MR_STRICT);
    assert_tok(&c->c.t, 1, IMAP_T_ATOM, "%");
    cmd_ok("A103 LIST /usr/staff/jones \"\"\r\n", MR_STRICT);
    cmd_ok("a LIST \"\" *\r\n", MR_STRICT);
    cmd_ok("a LIST \"\" INBOX.]foo%\r\n", MR_STRICT);
    c = cmd_ok("A01 LIST (SUBSCRIBED RECURSIVEMATCH) \"\" \"%\" RETURN (CHILDREN STATUS "
               "(MESSAGES))\r\n",
               MR_STRICT);
    assert_int_equal(c->c.t.tok[0].type, IMAP_T_LIST);
    c = cmd_ok("a LIST \"\" (\"INBOX\" \"Sent*\")\r\n", MR_STRICT);
    assert_int_equal(c->c.t.tok[1].type, IMAP_T_LIST);
    cmd_err("a LIST \"\" ()\r\n", MR_STRICT, MR_E_SYNTAX, "patterns", 11);
    cmd_err("a LIST \"\" * FOO (X)\r\n", MR_STRICT, MR_E_SYNTAX, "list-return-opts", 12);
    /* an optional list that is not one (fuzz regression: a read past a bare LF) */
    cmd_err("a LIST \"\" * RETURN x\r\n", MR_STRICT, MR_E_SYNTAX, "list-return-opts", 19);
    cmd_err("a LIST \"\" * RETURN \n", MR_LENIENT, MR_E_SYNTAX, "list-return-opts", 19);
    cmd_err("a SELECT INBOX x\r\n", MR_STRICT, MR_E_SYNTAX, "params", 15);
    cmd_err("a FETCH 1 ALL x\r\n", MR_STRICT, MR_E_SYNTAX, "fetch-modifiers", 14);
    cmd_err("a SEARCH RETURN ALL\r\n", MR_STRICT, MR_E_SYNTAX, "search-return-opts", 16);
    imap_command bad;
    imap_token btok[8];
    mr_error berr;
    assert_int_equal(imap_command_parse("a LIST \"\" * RETURN \n", 20, NULL, &bad, btok, 8, &berr),
                     MR_ERROR);
    assert_int_equal(berr.offset, 19);
    c = cmd_ok("A002 LSUB \"#news.\" \"comp.mail.*\"\r\n", MR_STRICT);
    assert_int_equal(c->c.type, IMAP_CMD_LSUB);
    c = cmd_ok("A042 STATUS blurdybloop (UIDNEXT MESSAGES)\r\n", MR_STRICT);
    assert_int_equal(c->c.type, IMAP_CMD_STATUS);
    assert_int_equal(imap_tok_count(&c->c.t, 1), 2);
    cmd_err("A042 STATUS blurdybloop ()\r\n", MR_STRICT, MR_E_SYNTAX, "status-att", 25);
    cmd_err("A042 STATUS blurdybloop\r\n", MR_STRICT, MR_E_SYNTAX, "status", 23);
    cmd_err("a SELECT\r\n", MR_STRICT, MR_E_SYNTAX, "mailbox", 8);
    cmd_err("a SELECT (x)\r\n", MR_STRICT, MR_E_SYNTAX, "mailbox", 9);
    /* mailbox names that need quoting or a literal */
    c = cmd_ok("a SELECT \"Deleted Messages\"\r\n", MR_STRICT);
    assert_tok(&c->c.t, 0, IMAP_T_QUOTED, "Deleted Messages");
    c = cmd_ok("a SELECT {5}\r\nEntw\xc3\r\n", MR_LENIENT);
    c = cmd_ok("a SELECT \"Entw\xc3\xbcrfe\"\r\n", MR_STRICT);
    cmd_err("a SELECT \"Entw\xc3\"\r\n", MR_STRICT, MR_E_UTF8, "mailbox", 14);
}

static void append(void **state)
{
    (void)state;
    const char msg[] = "Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)\r\n"
                       "From: Fred Foobar <foobar@Blurdybloop.example>\r\n"
                       "Subject: afternoon meeting\r\n"
                       "To: mooch@owatagu.siam.edu.example\r\n"
                       "Message-Id: <B27397-0100000@Blurdybloop.example>\r\n"
                       "MIME-Version: 1.0\r\n"
                       "Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n"
                       "\r\n"
                       "Hello Joe, do you think we can meet at 3:30 tomorrow?\r\n";
    char in[1024];
    int n = snprintf(in, sizeof in, "A003 APPEND saved-messages (\\Seen) {%zu}\r\n%s\r\n",
                     sizeof msg - 1, msg);
    cmd_ctx *c = cmd_ok_n(in, (size_t)n, MR_STRICT);
    assert_int_equal(c->c.type, IMAP_CMD_APPEND);
    assert_tok(&c->c.t, 0, IMAP_T_ATOM, "saved-messages");
    assert_int_equal(c->c.t.tok[1].type, IMAP_T_LIST);
    assert_tok(&c->c.t, 3, IMAP_T_LITERAL, msg);
    c = cmd_ok("A003 APPEND INBOX (\\Seen \\Draft) \"17-Jul-1996 02:44:25 -0700\" {3+}\r\nabc\r\n",
               MR_STRICT);
    assert_tok(&c->c.t, 4, IMAP_T_QUOTED, "17-Jul-1996 02:44:25 -0700");
    c = cmd_ok("A003 APPEND INBOX \" 7-Jul-1996 02:44:25 +0000\" {3}\r\nabc\r\n", MR_STRICT);
    /* literal8 (RFC 3516 / 9051) may hold NUL; a plain literal may not */
    const char bin[] = "a APPEND INBOX ~{3}\r\na\x00z\r\n";
    c = cmd_ok_n(bin, sizeof bin - 1, MR_STRICT);
    assert_true(c->c.t.tok[1].flags & IMAP_TF_BINARY);
    const char nul[] = "a APPEND INBOX {3}\r\na\x00z\r\n";
    cmd_err_n(nul, sizeof nul - 1, MR_STRICT, MR_E_NUL, "literal", 21);
    /* MULTIAPPEND (RFC 3502) */
    c = cmd_ok("A003 APPEND saved-messages (\\Seen) {3}\r\none (\\Seen) {3}\r\ntwo {5}\r\nthree\r\n",
               MR_STRICT);
    assert_int_equal(c->c.t.n, 8);
    cmd_err("a APPEND INBOX\r\n", MR_STRICT, MR_E_SYNTAX, "append", 14);
    cmd_err("a APPEND INBOX (\\Seen)\r\n", MR_STRICT, MR_E_SYNTAX, "append", 22);
    cmd_err("a APPEND INBOX \"junk\" {1}\r\nx\r\n", MR_STRICT, MR_E_SYNTAX, "date-time", 15);
    cmd_err("a APPEND INBOX abc\r\n", MR_STRICT, MR_E_SYNTAX, "append-data", 15);
}

static void fetch(void **state)
{
    (void)state;
    cmd_ctx *c = cmd_ok("A654 FETCH 2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)])\r\n", MR_STRICT);
    assert_int_equal(c->c.type, IMAP_CMD_FETCH);
    assert_tok(&c->c.t, 0, IMAP_T_SEQSET, "2:4");
    imap_fetch_iter it;
    imap_fetch_att a;
    imap_section sec;
    assert_int_equal(imap_fetch_cmd_begin(&it, &c->c), 0);
    assert_int_equal(imap_fetch_next(&it, &a), 1);
    assert_int_equal(a.att, IMAP_ATT_FLAGS);
    assert_int_equal(a.value, IMAP_NONE);
    assert_int_equal(imap_fetch_next(&it, &a), 1);
    assert_int_equal(a.att, IMAP_ATT_BODY);
    assert_int_equal(imap_section_decode(&c->c.t, a.section_tok, &sec), 0);
    assert_int_equal(sec.text, IMAP_SECT_HEADER_FIELDS);
    assert_int_equal(imap_tok_count(&c->c.t, sec.fields), 2);
    assert_int_equal(imap_fetch_next(&it, &a), 0);

    c = cmd_ok("A999 UID FETCH 4827313:4828442 FLAGS\r\n", MR_STRICT);
    assert_true(c->c.uid);
    assert_int_equal(c->c.type, IMAP_CMD_FETCH);
    assert_slice(c->c.name, "FETCH");
    assert_int_equal(imap_fetch_cmd_begin(&it, &c->c), 0);
    assert_int_equal(imap_fetch_next(&it, &a), 1);
    assert_int_equal(a.att, IMAP_ATT_FLAGS);
    assert_int_equal(imap_fetch_next(&it, &a), 0);

    const char *macros[] = {"ALL", "FAST", "FULL"};
    for (int k = 0; k < 3; k++) {
        char in[64];
        snprintf(in, sizeof in, "a FETCH 1:* %s\r\n", macros[k]);
        c = cmd_ok(in, MR_STRICT);
        assert_int_equal(imap_fetch_cmd_begin(&it, &c->c), 0);
        assert_int_equal(imap_fetch_next(&it, &a), 1);
        assert_int_equal(a.att, IMAP_ATT_ALL + k);
    }
    c = cmd_ok("a FETCH 1,3:5,7:* (UID RFC822.SIZE INTERNALDATE ENVELOPE BODYSTRUCTURE BODY "
               "RFC822 RFC822.HEADER RFC822.TEXT BODY.PEEK[] BODY[TEXT]<0.2048> "
               "BODY.PEEK[1.2.HEADER.FIELDS.NOT (Received \"X-Spam\")] BODY[3.MIME] "
               "BINARY[1.2] BINARY.PEEK[1]<100.200> BINARY.SIZE[2] MODSEQ X-GM-LABELS "
               "EMAILID) (CHANGEDSINCE 12345)\r\n",
               MR_STRICT);
    assert_int_equal(imap_fetch_cmd_begin(&it, &c->c), 0);
    int count = 0, peek = 0;
    while (imap_fetch_next(&it, &a) == 1) {
        count++;
        if (a.att == IMAP_ATT_BINARY_PEEK) {
            assert_true(a.has_partial);
            assert_int_equal(a.origin, 100);
            assert_int_equal(a.size, 200);
            assert_int_equal(imap_section_decode(&c->c.t, a.section_tok, &sec), 0);
            assert_int_equal(sec.nparts, 1);
        }
        if (a.att == IMAP_ATT_BODY_PEEK && a.section.n) {
            peek = 1;
            assert_int_equal(imap_section_decode(&c->c.t, a.section_tok, &sec), 0);
            assert_int_equal(sec.text, IMAP_SECT_HEADER_FIELDS_NOT);
            assert_int_equal(sec.nparts, 2);
        }
    }
    assert_int_equal(count, 19);
    assert_true(peek);
    /* sequence sets */
    c = cmd_ok("a UID FETCH $ (FLAGS)\r\n", MR_STRICT);
    assert_tok(&c->c.t, 0, IMAP_T_SEQSET, "$");
    cmd_err("a FETCH 0 ALL\r\n", MR_STRICT, MR_E_NUMBER, "sequence-set", 8);
    cmd_err("a FETCH 01 ALL\r\n", MR_STRICT, MR_E_NUMBER, "sequence-set", 8);
    cmd_err("a FETCH 4294967296 ALL\r\n", MR_STRICT, MR_E_NUMBER, "sequence-set", 8);
    cmd_err("a FETCH 1: ALL\r\n", MR_STRICT, MR_E_SYNTAX, "sequence-set", 10);
    cmd_err("a FETCH 1,$ ALL\r\n", MR_STRICT, MR_E_SYNTAX, "sequence-set", 10);
    cmd_err("a FETCH 1:*x ALL\r\n", MR_STRICT, MR_E_SYNTAX, "fetch", 11);
    /* fetch attributes */
    cmd_err("a FETCH 1 (ALL)\r\n", MR_STRICT, MR_E_SYNTAX, "fetch-att", 11);
    cmd_ok("a FETCH 1 (ALL)\r\n", MR_LENIENT);
    cmd_err("a FETCH 1 ()\r\n", MR_STRICT, MR_E_SYNTAX, "fetch-att", 11);
    cmd_err("a FETCH 1 BODY.PEEK\r\n", MR_STRICT, MR_E_SYNTAX, "section", 19);
    cmd_err("a FETCH 1 BODY[]<5>\r\n", MR_STRICT, MR_E_SYNTAX, "partial", 18);
    cmd_err("a FETCH 1 BODY[]<5.0>\r\n", MR_STRICT, MR_E_NUMBER, "partial", 19);
    cmd_err("a FETCH 1 BINARY.SIZE[1]<0.5>\r\n", MR_STRICT, MR_E_TRAILING, "command", 24);
    cmd_err("a FETCH 1 FLAGS[]\r\n", MR_STRICT, MR_E_SYNTAX, "fetch-att", 15);
    cmd_err("a FETCH 1 BODY[HEADER.FIELDS ()]\r\n", MR_STRICT, MR_E_SYNTAX, "header-list", 30);
    cmd_err("a FETCH 1 BODY[1.2.3.MIME.TEXT]\r\n", MR_STRICT, MR_E_SYNTAX, "section-spec", 15);
    cmd_err("a FETCH 1\r\n", MR_STRICT, MR_E_SYNTAX, "fetch", 9);
}

static void store_copy_move(void **state)
{
    (void)state;
    cmd_ctx *c = cmd_ok("A003 STORE 2:4 +FLAGS (\\Deleted)\r\n", MR_STRICT);
    assert_int_equal(c->c.type, IMAP_CMD_STORE);
    assert_tok(&c->c.t, 1, IMAP_T_ATOM, "+FLAGS");
    cmd_ok("A003 STORE 2:4 -FLAGS.SILENT (\\Seen $Forwarded)\r\n", MR_STRICT);
    c = cmd_ok("A003 STORE 1 FLAGS \\Seen \\Flagged\r\n", MR_STRICT);
    assert_int_equal(c->c.t.n, 4);
    cmd_ok("A003 UID STORE 1:* FLAGS.SILENT ()\r\n", MR_STRICT);
    c = cmd_ok("d105 STORE 7,5,9 (UNCHANGEDSINCE 320162338) +FLAGS.SILENT (\\Deleted)\r\n",
               MR_STRICT);
    assert_int_equal(c->c.t.tok[1].type, IMAP_T_LIST);
    cmd_err("a STORE 1 LABELS (x)\r\n", MR_STRICT, MR_E_SYNTAX, "store-att-flags", 10);
    cmd_ok("a STORE 1 +X-GM-LABELS (\\Inbox \"My Label\")\r\n", MR_LENIENT);
    cmd_err("a STORE 1 FLAGS\r\n", MR_STRICT, MR_E_SYNTAX, "store-att-flags", 15);
    cmd_err("a STORE 1 FLAGS (\\Seen\r\n", MR_STRICT, MR_E_SYNTAX, "flag-list", 22);

    c = cmd_ok("A003 COPY 2:4 MEETING\r\n", MR_STRICT);
    assert_int_equal(c->c.type, IMAP_CMD_COPY);
    c = cmd_ok("a UID MOVE 42:69 foo\r\n", MR_STRICT);
    assert_int_equal(c->c.type, IMAP_CMD_MOVE);
    assert_true(c->c.uid);
    c = cmd_ok("A202 UID EXPUNGE 3000:3002\r\n", MR_STRICT);
    assert_int_equal(c->c.type, IMAP_CMD_EXPUNGE);
    assert_tok(&c->c.t, 0, IMAP_T_SEQSET, "3000:3002");
    cmd_err("a UID EXPUNGE\r\n", MR_STRICT, MR_E_SYNTAX, "uid-expunge", 13);
    cmd_err("a COPY 1\r\n", MR_STRICT, MR_E_SYNTAX, "copy", 8);
    cmd_err("a UID NOOP\r\n", MR_STRICT, MR_E_SYNTAX, "uid", 6);
    cmd_err("a UID\r\n", MR_STRICT, MR_E_SYNTAX, "uid", 5);
    c = cmd_ok("a UID SORT (DATE) UTF-8 ALL\r\n", MR_STRICT);
    assert_int_equal(c->c.type, IMAP_CMD_UNKNOWN);
    assert_true(c->c.uid);
}

static void search(void **state)
{
    (void)state;
    cmd_ctx *c = cmd_ok("A282 SEARCH FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"\r\n", MR_STRICT);
    assert_int_equal(c->c.type, IMAP_CMD_SEARCH);
    /* one token per key, arguments as children */
    assert_tok(&c->c.t, 0, IMAP_T_ATOM, "FLAGGED");
    assert_tok(&c->c.t, 1, IMAP_T_ATOM, "SINCE");
    assert_int_equal(imap_tok_count(&c->c.t, 1), 1);
    assert_tok(&c->c.t, 2, IMAP_T_ATOM, "1-Feb-1994");
    assert_tok(&c->c.t, 3, IMAP_T_ATOM, "NOT");
    assert_int_equal(imap_tok_next(&c->c.t, 3), 6);
    assert_tok(&c->c.t, 4, IMAP_T_ATOM, "FROM");
    assert_tok(&c->c.t, 5, IMAP_T_QUOTED, "Smith");
    cmd_ok("A283 SEARCH TEXT \"string not in mailbox\"\r\n", MR_STRICT);
    c = cmd_ok("A284 SEARCH CHARSET UTF-8 TEXT {12}\r\n\xd0\xa1\xd0\xb0\xd0\xb1\xd0\xb0\xd0\xba"
               "\xd0\xb0\r\n",
               MR_STRICT);
    assert_tok(&c->c.t, 0, IMAP_T_ATOM, "CHARSET");
    assert_tok(&c->c.t, 1, IMAP_T_ATOM, "UTF-8");
    c = cmd_ok("A282 SEARCH RETURN (MIN COUNT) FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"\r\n",
               MR_STRICT);
    assert_tok(&c->c.t, 0, IMAP_T_ATOM, "RETURN");
    assert_int_equal(c->c.t.tok[1].type, IMAP_T_LIST);
}

static void search_keys(void **state)
{
    (void)state;
    cmd_ctx *c = cmd_ok(
        "a SEARCH ALL ANSWERED BCC x BEFORE 1-Jan-2024 BODY \"y z\" CC c DELETED DRAFT FLAGGED "
        "FROM f HEADER Received {3}\r\nabc KEYWORD $Forwarded LARGER 100 NEW NOT SEEN OLD ON "
        "\"01-Jan-2024\" OR SEEN UNSEEN RECENT SEEN SENTBEFORE 1-Jan-2024 SENTON 1-Jan-2024 "
        "SENTSINCE 1-Jan-2024 SINCE 1-Jan-2024 SMALLER 5 SUBJECT s TEXT t TO u UID 1:*,5 "
        "UNANSWERED UNDELETED UNDRAFT UNFLAGGED UNKEYWORD $Junk UNSEEN 1,2:4 $ (SEEN (DRAFT)) "
        "OLDER 3600 YOUNGER 60 MODSEQ 620162338 MODSEQ \"/flags/\\\\draft\" all 620162338 "
        "SAVEDBEFORE 1-Jan-2024 SAVEDON 1-Jan-2024 SAVEDSINCE 1-Jan-2024 SAVEDATESUPPORTED "
        "EMAILID M6d99ac3275bb4e THREADID T64b478a75b7ea9 FUZZY SUBJECT x FILTER f "
        "X-GM-RAW \"has:attachment in:unread\" X-GM-MSGID 1278455344230334865 X-GM-THRID 1 "
        "X-GM-LABELS Work\r\n",
        MR_STRICT);
    /* count top-level keys by walking siblings */
    unsigned keys = 0;
    for (unsigned k = 0; k < c->c.t.n; k = imap_tok_next(&c->c.t, k))
        keys++;
    assert_int_equal(keys, 54);
    /* argument errors name the rule */
    cmd_err("a SEARCH FOOBAR\r\n", MR_STRICT, MR_E_SYNTAX, "search-key", 9);
    cmd_err("a SEARCH SINCE 1-Foo-2024\r\n", MR_STRICT, MR_E_SYNTAX, "date", 15);
    cmd_err("a SEARCH SINCE \"1-Feb-2024 10:00\"\r\n", MR_STRICT, MR_E_SYNTAX, "date", 15);
    cmd_err("a SEARCH LARGER x\r\n", MR_STRICT, MR_E_SYNTAX, "number", 16);
    cmd_err("a SEARCH OR SEEN\r\n", MR_STRICT, MR_E_SYNTAX, "search-key", 16);
    cmd_err("a SEARCH NOT\r\n", MR_STRICT, MR_E_SYNTAX, "search-key", 12);
    cmd_err("a SEARCH ()\r\n", MR_STRICT, MR_E_SYNTAX, "search-key", 10);
    cmd_err("a SEARCH\r\n", MR_STRICT, MR_E_SYNTAX, "search", 8);
    cmd_err("a SEARCH HEADER Received\r\n", MR_STRICT, MR_E_SYNTAX, "search-key", 24);
    cmd_err("a SEARCH UID x\r\n", MR_STRICT, MR_E_SYNTAX, "sequence-set", 13);
    cmd_err("a SEARCH KEYWORD \\Seen\r\n", MR_STRICT, MR_E_SYNTAX, "flag-keyword", 17);
    cmd_err("a SEARCH SEEN  ALL\r\n", MR_STRICT, MR_E_SYNTAX, "search-key", 14);
    cmd_ok("a SEARCH SEEN  ALL\r\n", MR_LENIENT);
    cmd_ok("a search seen since 1-feb-1994\r\n", MR_STRICT);
    /* deep nesting of NOT and parentheses is bounded */
    imap_limits lim = imap_limits_default();
    lim.line_max = 1u << 20;
    size_t n = 0, depth = 10000;
    char *in = malloc(10 * depth + 64);
    n += (size_t)snprintf(in, 64, "a SEARCH ");
    for (size_t k = 0; k < depth; k++) {
        memcpy(in + n, "NOT ", 4);
        n += 4;
    }
    n += (size_t)snprintf(in + n, 64, "ALL\r\n");
    static imap_token tok[NTOK];
    imap_command cmd;
    mr_error err;
    assert_int_equal(imap_command_next(in, n, &lim, &cmd, tok, NTOK, &err), MR_ERROR);
    assert_err(&err, MR_E_LIMIT_DEPTH, "search-key", 9 + 4 * 64);
    n = (size_t)snprintf(in, 64, "a SEARCH ");
    for (size_t k = 0; k < depth; k++)
        in[n++] = '(';
    n += (size_t)snprintf(in + n, 64, "ALL");
    for (size_t k = 0; k < depth; k++)
        in[n++] = ')';
    n += (size_t)snprintf(in + n, 64, "\r\n");
    assert_int_equal(imap_command_next(in, n, &lim, &cmd, tok, NTOK, &err), MR_ERROR);
    assert_int_equal(err.code, MR_E_LIMIT_DEPTH);
    assert_int_equal(err.offset, 9 + 64);
    free(in);
}

static void enable_id_unknown(void **state)
{
    (void)state;
    cmd_ctx *c = cmd_ok("t2 ENABLE CONDSTORE X-GOOD-IDEA\r\n", MR_STRICT);
    assert_int_equal(c->c.type, IMAP_CMD_ENABLE);
    assert_int_equal(c->c.t.n, 2);
    cmd_err("t2 ENABLE\r\n", MR_STRICT, MR_E_SYNTAX, "enable", 9);
    c = cmd_ok("a023 ID (\"name\" \"sodr\" \"version\" \"19.34\" \"vendor\" \"Pink Floyd Music "
               "Limited\")\r\n",
               MR_STRICT);
    assert_int_equal(c->c.type, IMAP_CMD_ID);
    assert_int_equal(imap_tok_count(&c->c.t, 0), 6);
    cmd_ok("a023 ID NIL\r\n", MR_STRICT);
    cmd_ok("a023 ID (\"name\" NIL)\r\n", MR_STRICT);
    cmd_err("a023 ID (name \"x\")\r\n", MR_STRICT, MR_E_SYNTAX, "id-params-list", 9);
    /* unknown commands parse generically so that the server can answer BAD */
    c = cmd_ok("a XYZZY foo (bar \"baz\" (1 2)) {3}\r\nabc \\Flag 1:* BODY[HEADER.FIELDS (A B)] "
               "NIL\r\n",
               MR_STRICT);
    assert_int_equal(c->c.type, IMAP_CMD_UNKNOWN);
    assert_slice(c->c.name, "XYZZY");
    assert_tok(&c->c.t, 7, IMAP_T_LITERAL, "abc");
    assert_tok(&c->c.t, 10, IMAP_T_ATOM, "BODY[HEADER.FIELDS (A B)]");
    assert_int_equal(c->c.t.tok[11].type, IMAP_T_NIL);
    c = cmd_ok("a GETQUOTAROOT INBOX\r\n", MR_STRICT);
    assert_int_equal(c->c.type, IMAP_CMD_UNKNOWN);
    cmd_ok("a COMPRESS DEFLATE\r\n", MR_STRICT);
    cmd_ok("a X\r\n", MR_STRICT);
    /* a malformed unknown command still yields its tag */
    cmd_err("a17 XYZZY (unbalanced\r\n", MR_STRICT, MR_E_SYNTAX, "command", 21);
    assert_slice(cmd_ctx_get(0)->c.tag, "a17");
    cmd_err("a17 LOGIN\r\n", MR_STRICT, MR_E_SYNTAX, "login", 9);
    assert_slice(cmd_ctx_get(0)->c.tag, "a17");
    assert_int_equal(imap_tag_len("a17 XYZZY (", 11, MR_STRICT), 3);
    assert_int_equal(imap_tag_len("* OK", 4, MR_STRICT), 1);
    assert_int_equal(imap_tag_len(" a", 2, MR_STRICT), 0);
    assert_int_equal(imap_tag_len("t\xc3\xa4g X", 6, MR_STRICT), 1);
    assert_int_equal(imap_tag_len("t\xc3\xa4g X", 6, MR_LENIENT), 4);
}

static void idle_done(void **state)
{
    (void)state;
    cmd_ok("a047 IDLE\r\n", MR_STRICT);
    assert_true(imap_is_idle_done("DONE\r\n", 6, MR_STRICT));
    assert_true(imap_is_idle_done("done\r\n", 6, MR_STRICT));
    assert_false(imap_is_idle_done("DONE\n", 5, MR_STRICT));
    assert_true(imap_is_idle_done("DONE\n", 5, MR_LENIENT));
    assert_false(imap_is_idle_done("DONE \r\n", 7, MR_STRICT));
    assert_true(imap_is_idle_done("DONE \r\n", 7, MR_LENIENT));
    assert_false(imap_is_idle_done("DONE", 4, MR_LENIENT));
    assert_false(imap_is_idle_done("DONEX\r\n", 7, MR_LENIENT));
    assert_false(imap_is_idle_done("a DONE\r\n", 8, MR_LENIENT));
}

static void prefix_parse(void **state)
{
    (void)state;
    /* A server at a synchronizing literal checks the command so far before sending "+". */
    imap_limits lim = imap_limits_default();
    lim.inline_literal_max = 1024;
    const char *in = "A3 APPEND \"Sent Messages\" (\\Seen) {31457280}\r\n";
    imap_framer f;
    imap_framer_init(&f, IMAP_SIDE_COMMAND, &lim);
    imap_frame ev;
    mr_error err;
    size_t len = strlen(in);
    for (size_t k = 0; k < len; k++) /* nothing before the whole marker line */
        assert_int_equal(imap_framer_next(&f, in, k, &ev, &err), MR_NEED_MORE);
    assert_int_equal(imap_framer_next(&f, in, len, &ev, &err), 0);
    assert_int_equal(ev.kind, IMAP_FRAME_SYNC_LITERAL);
    assert_int_equal(ev.n, len);
    assert_int_equal(ev.literal_size, 31457280);
    imap_command c;
    imap_token tok[16];
    assert_int_equal(imap_command_parse_prefix(in, ev.n, &lim, &c, tok, 16, &err), (int)len);
    assert_true(c.partial);
    assert_int_equal(c.type, IMAP_CMD_APPEND);
    assert_int_equal(c.t.n, 4);
    assert_int_equal(tok[3].type, IMAP_T_LITERAL);
    assert_true(tok[3].flags & IMAP_TF_PENDING);
    assert_true(tok[3].flags & IMAP_TF_STREAMED);
    assert_int_equal(tok[3].len, 31457280);
    assert_int_equal(tok[1].next, 3); /* the flag list closed properly */
    /* the same for an inline literal, in the middle of a LOGIN */
    const char *login = "a LOGIN {4}\r\n";
    assert_int_equal(imap_command_parse_prefix(login, strlen(login), &lim, &c, tok, 16, &err),
                     (int)strlen(login));
    assert_true(c.partial);
    assert_int_equal(tok[0].flags, IMAP_TF_PENDING);
    assert_int_equal(tok[0].len, 4);
    /* the prefix is still checked */
    const char *bad = "a LOGIN (x) {4}\r\n";
    assert_int_equal(imap_command_parse_prefix(bad, strlen(bad), &lim, &c, tok, 16, &err),
                     MR_ERROR);
    assert_string_equal(err.rule, "userid");
    /* a complete item parses as usual */
    const char *whole = "a LOGIN {4}\r\nfred x\r\n";
    assert_int_equal(imap_command_parse_prefix(whole, strlen(whole), &lim, &c, tok, 16, &err),
                     (int)strlen(whole));
    assert_false(c.partial);
    /* written back, a partial command ends at its marker */
    char out[64];
    imap_wbuf w;
    imap_wbuf_init(&w, out, sizeof out);
    assert_int_equal(imap_command_parse_prefix(login, strlen(login), &lim, &c, tok, 16, &err),
                     (int)strlen(login));
    imap_w_command_parsed(&w, &c);
    assert_int_equal(imap_wbuf_result(&w), (int)strlen(login));
    assert_memory_equal(out, login, strlen(login));
    /* ... inside lists, which stay open */
    const char *open = "a XFOO (x (y ~{3}\r\n";
    assert_int_equal(imap_command_parse_prefix(open, strlen(open), &lim, &c, tok, 16, &err),
                     (int)strlen(open));
    assert_true(c.partial);
    assert_int_equal(tok[0].next, c.t.n);
    imap_wbuf_init(&w, out, sizeof out);
    imap_w_command_parsed(&w, &c);
    assert_int_equal(imap_wbuf_result(&w), (int)strlen(open));
    assert_memory_equal(out, open, strlen(open));
}

static void command_limits(void **state)
{
    (void)state;
    static imap_token tok[NTOK];
    imap_command c;
    mr_error err;
    imap_limits lim = imap_limits_default();
    const char *big = "a APPEND INBOX {4294967295}\r\n";
    assert_int_equal(imap_command_next(big, strlen(big), &lim, &c, tok, NTOK, &err), MR_ERROR);
    assert_int_equal(err.code, MR_E_LIMIT_LITERAL);
    assert_int_equal(err.offset, 15);
    const char *plus = "a APPEND INBOX {5000+}\r\n";
    lim.nonsync_literal_max = 4096; /* LITERAL- (RFC 7888) */
    assert_int_equal(imap_command_next(plus, strlen(plus), &lim, &c, tok, NTOK, &err), MR_ERROR);
    assert_int_equal(err.code, MR_E_LIMIT_LITERAL);
    assert_int_equal(err.offset, 15);
    const char *sync = "a APPEND INBOX {5000}\r\n";
    assert_int_equal(imap_command_next(sync, strlen(sync), &lim, &c, tok, NTOK, &err),
                     MR_NEED_MORE);
    /* a line without end */
    size_t hundred = 100u << 20;
    char *flood = malloc(hundred);
    memset(flood, 'a', hundred);
    flood[1] = ' ';
    assert_int_equal(imap_command_next(flood, hundred, &lim, &c, tok, NTOK, &err), MR_ERROR);
    assert_int_equal(err.code, MR_E_LIMIT_LINE);
    assert_int_equal(err.offset, 8192);
    free(flood);
    /* tokens */
    lim = imap_limits_default();
    lim.tokens_max = 3;
    const char *many = "a STORE 1 FLAGS (\\A \\B)\r\n";
    assert_int_equal(imap_command_next(many, strlen(many), &lim, &c, tok, NTOK, &err), MR_ERROR);
    assert_int_equal(err.code, MR_E_LIMIT_COUNT);
    assert_int_equal(err.offset, 17);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(simple_commands),
        cmocka_unit_test(login_authenticate),
        cmocka_unit_test(mailbox_commands),
        cmocka_unit_test(append),
        cmocka_unit_test(fetch),
        cmocka_unit_test(store_copy_move),
        cmocka_unit_test(search),
        cmocka_unit_test(search_keys),
        cmocka_unit_test(enable_id_unknown),
        cmocka_unit_test(idle_done),
        cmocka_unit_test(prefix_parse),
        cmocka_unit_test(command_limits),
    };
    return cmocka_run_group_tests_name("imap_command", tests, NULL, NULL);
}
