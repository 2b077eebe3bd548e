/* test_imap_response.c -- the response grammar (imap_parse.h) and the accessors over it
 * (imap_access.h): RFC 3501 / RFC 9051 examples verbatim, provider lines from PROVIDERS.md,
 * lenient-mode quirks, and errors with their code, rule and offset. */
#include "tests/unit/imap_test.h"

#define ENVELOPE_RFC                                                                          \
    "(\"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\" \"IMAP4rev1 WG mtg summary and minutes\" "    \
    "((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) "                                 \
    "((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) "                                 \
    "((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) "                                 \
    "((NIL NIL \"imap\" \"cac.washington.edu\")) "                                            \
    "((NIL NIL \"minutes\" \"CNRI.Reston.VA.US\")(\"John Klensin\" NIL \"KLENSIN\" "          \
    "\"MIT.EDU\")) NIL NIL \"<B27397-0100000@cac.washington.edu>\")"

#define BODY_MIXED_RFC                                                                        \
    "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 1152 23)(\"TEXT\" "     \
    "\"PLAIN\" (\"CHARSET\" \"US-ASCII\" \"NAME\" \"cc.diff\") "                              \
    "\"<960723163407.20117h@cac.washington.edu>\" \"Compiler diff\" \"BASE64\" 4554 73) "     \
    "\"MIXED\")"

/* A multipart/mixed with multipart/alternative and a PDF attachment, full extension data, as
 * Dovecot writes it. */
#define BODY_REAL                                                                             \
    "(((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"quoted-printable\" 1250 40 NIL " \
    "NIL NIL NIL)(\"text\" \"html\" (\"charset\" \"utf-8\") NIL NIL \"quoted-printable\" "    \
    "4080 82 NIL NIL NIL NIL) \"alternative\" (\"boundary\" \"00000000000052ab\") NIL NIL "  \
    "NIL)(\"application\" \"pdf\" (\"name\" \"invoice 2024-03.pdf\") NIL NIL \"base64\" "    \
    "183474 NIL (\"attachment\" (\"filename\" \"invoice 2024-03.pdf\")) NIL NIL) \"mixed\" " \
    "(\"boundary\" \"00000000000052ad\") NIL NIL NIL)"

static void greetings_and_status(void **state)
{
    (void)state;
    resp_ctx *c = resp_ok("* OK IMAP4rev2 server ready\r\n", MR_STRICT);
    assert_int_equal(c->r.kind, IMAP_KIND_UNTAGGED);
    assert_int_equal(c->r.type, IMAP_R_COND);
    assert_int_equal(c->r.status, IMAP_STATUS_OK);
    assert_int_equal(c->r.code, IMAP_CODE_NONE);
    assert_slice(c->r.text, "IMAP4rev2 server ready");
    assert_slice(c->r.tag, "*");

    c = resp_ok("* OK [ALERT] System shutdown in 10 minutes\r\n", MR_STRICT);
    assert_int_equal(c->r.code, IMAP_CODE_ALERT);
    assert_slice(c->r.text, "System shutdown in 10 minutes");
    assert_int_equal(c->r.code_tok, 0);
    assert_tok(&c->r.t, 0, IMAP_T_CODE, "ALERT");
    assert_tok(&c->r.t, 1, IMAP_T_ATOM, "ALERT");

    c = resp_ok("A001 OK LOGIN completed\r\n", MR_STRICT);
    assert_int_equal(c->r.kind, IMAP_KIND_TAGGED);
    assert_slice(c->r.tag, "A001");
    assert_slice(c->r.name, "OK");

    c = resp_ok("* NO Disk is 98% full, please delete unnecessary data\r\n", MR_STRICT);
    assert_int_equal(c->r.status, IMAP_STATUS_NO);
    c = resp_ok("* BAD Empty command line\r\n", MR_STRICT);
    assert_int_equal(c->r.status, IMAP_STATUS_BAD);
    c = resp_ok("* PREAUTH IMAP4rev2 server logged in as Smith\r\n", MR_STRICT);
    assert_int_equal(c->r.status, IMAP_STATUS_PREAUTH);
    c = resp_ok("* BYE Autologout; idle for too long\r\n", MR_STRICT);
    assert_int_equal(c->r.status, IMAP_STATUS_BYE);
    c = resp_ok("A044 BAD No such command as \"BLURDYBLOOP\"\r\n", MR_STRICT);
    assert_slice(c->r.text, "No such command as \"BLURDYBLOOP\"");
    /* RFC 9051 text may be empty after the SP */
    c = resp_ok("a1 OK \r\n", MR_STRICT);
    assert_int_equal(c->r.text.n, 0);
}

static void providers(void **state)
{
    (void)state;
    /* iCloud (PROVIDERS.md 1.1) */
    resp_ctx *c = resp_ok(
        "* OK [CAPABILITY st11p00mm-iscream022 15E205 XAPPLEPUSHSERVICE IMAP4 IMAP4rev1 "
        "SASL-IR AUTH=ATOKEN AUTH=PLAIN] iSCREAM ready to rumble (15E205-0982aaf890fd:18514) "
        "st11p00mm-iscream022 [04:19:14:31:21:53]\r\n",
        MR_STRICT);
    assert_int_equal(c->r.code, IMAP_CODE_CAPABILITY);
    assert_true(imap_cap_has(&c->r, "AUTH=PLAIN"));
    assert_true(imap_cap_has(&c->r, "sasl-ir"));
    assert_false(imap_cap_has(&c->r, "STARTTLS"));
    assert_slice(c->r.text, "iSCREAM ready to rumble (15E205-0982aaf890fd:18514) "
                            "st11p00mm-iscream022 [04:19:14:31:21:53]");
    c = resp_ok("* OK [CAPABILITY XAPPLEPUSHSERVICE IMAP4 IMAP4rev1 SASL-IR AUTH=ATOKEN "
                "AUTH=PLAIN] (2109B29-d3afe4d5aba6) pv33p00im-iscream021.me.com\r\n",
                MR_STRICT);
    imap_cap_iter it;
    mr_slice cap;
    assert_int_equal(imap_cap_begin(&it, &c->r), 0);
    const char *want[] = {"XAPPLEPUSHSERVICE", "IMAP4", "IMAP4rev1", "SASL-IR", "AUTH=ATOKEN",
                          "AUTH=PLAIN"};
    for (size_t k = 0; k < 6; k++) {
        assert_int_equal(imap_cap_next(&it, &cap), 1);
        assert_slice(cap, want[k]);
    }
    assert_int_equal(imap_cap_next(&it, &cap), 0);
    c = resp_ok("* CAPABILITY XAPPLEPUSHSERVICE IMAP4 IMAP4rev1 CONDSTORE ENABLE QRESYNC QUOTA "
                "NAMESPACE UIDPLUS CHILDREN BINARY UNSELECT SORT CATENATE URLAUTH LANGUAGE "
                "ESEARCH ESORT THREAD=ORDEREDSUBJECT THREAD=REFERENCES CONTEXT=SEARCH "
                "CONTEXT=SORT WITHIN SASL-IR SEARCHRES METADATA ID XMSEARCH X-SUN-SORT "
                "ANNOTATE-EXPERIMENT-1 X-UNAUTHENTICATE X-SUN-IMAP XUM1 MULTISEARCH IDLE "
                "LIST-STATUS\r\n",
                MR_STRICT);
    assert_int_equal(c->r.type, IMAP_R_CAPABILITY);
    assert_true(imap_cap_has(&c->r, "LIST-STATUS"));
    assert_false(imap_cap_has(&c->r, "MOVE"));
    resp_ok("1 OK user johnappleseed authenticated\r\n", MR_STRICT);
    resp_ok("3 OK ENABLE completed\r\n", MR_STRICT);
    resp_ok("4 OK NAMESPACE completed (took 0 ms)\r\n", MR_STRICT);
    c = resp_ok("* LIST () \"/\" \"Deleted Messages\"\r\n", MR_STRICT);
    assert_tok(&c->r.t, 2, IMAP_T_QUOTED, "Deleted Messages");
    c = resp_ok("1000 NO [AUTHENTICATIONFAILED] Authentication failed\r\n", MR_STRICT);
    assert_int_equal(c->r.code, IMAP_CODE_AUTHENTICATIONFAILED);
    resp_ok("1000 OK !!\r\n", MR_STRICT);

    /* Exchange Online (2.1) */
    c = resp_ok("* OK The Microsoft Exchange IMAP4 service is ready. "
                "[UABSADMAUABDAEEAMAAwADAAOQAuAEUAVQBSAFAAMgA1ADAALgBQAFIATwBEAC4ATwBVAFQATABPAE8"
                "ASwAuAEMATwBNAA==]\r\n",
                MR_STRICT);
    assert_int_equal(c->r.code, IMAP_CODE_NONE);
    c = resp_ok("* CAPABILITY IMAP4 IMAP4rev1 AUTH=PLAIN AUTH=XOAUTH2 SASL-IR UIDPLUS MOVE ID "
                "UNSELECT CLIENTACCESSRULES CLIENTNETWORKPRESENCELOCATION BACKENDAUTHENTICATE "
                "CHILDREN IDLE NAMESPACE LITERAL+\r\n",
                MR_STRICT);
    assert_true(imap_cap_has(&c->r, "LITERAL+"));
    resp_ok("A1 OK LOGIN completed.\r\n", MR_STRICT);
    resp_ok("A00000001 OK AUTHENTICATE completed.\r\n", MR_STRICT);
    resp_ok("A01 NO AUTHENTICATE failed.\r\n", MR_STRICT);
    resp_ok("a1 NO LOGIN failed.\r\n", MR_STRICT);
    resp_ok("a1 NO Basic authentication is disabled.\r\n", MR_STRICT);
    resp_ok("* BYE Microsoft Exchange Server IMAP4 server signing off.\r\n", MR_STRICT);
    resp_ok("a1 NO LOGIN failed. Account is blocked. Login to your account via a web browser "
            "to verify your identity.\r\n",
            MR_STRICT);
    resp_ok("a5 BAD User is authenticated but not connected.\r\n", MR_STRICT);
    resp_ok("* BYE Connection closed. 14\r\n", MR_STRICT);
    c = resp_ok("* LIST (\\Marked \\HasNoChildren \\Trash) \"/\" Deleted\r\n", MR_STRICT);
    assert_int_equal(c->r.type, IMAP_R_LIST);
    assert_tok(&c->r.t, 0, IMAP_T_LIST, "(\\Marked \\HasNoChildren \\Trash)");
    assert_tok(&c->r.t, 3, IMAP_T_ATOM, "\\Trash");
    assert_tok(&c->r.t, 4, IMAP_T_QUOTED, "/");
    assert_tok(&c->r.t, 5, IMAP_T_ATOM, "Deleted");
    c = resp_ok("* OK [UNSEEN 7] Is the first unseen message\r\n", MR_STRICT);
    assert_int_equal(c->r.code, IMAP_CODE_UNSEEN);
    uint64_t v;
    assert_int_equal(imap_tok_u64(&c->r.t, 2, UINT32_MAX, &v), 0);
    assert_int_equal(v, 7);
    resp_ok("* OK [UIDVALIDITY 14] UIDVALIDITY value\r\n", MR_STRICT);
    resp_ok("* OK [UIDNEXT 289] The next unique identifier value\r\n", MR_STRICT);
    c = resp_ok("a3 OK [READ-WRITE] SELECT completed.\r\n", MR_STRICT);
    assert_int_equal(c->r.code, IMAP_CODE_READ_WRITE);
    /* Exchange's bare "+" continuation (MailKit#178) is lenient only */
    resp_ok("+\r\n", MR_LENIENT);
    resp_err("+\r\n", MR_STRICT, MR_E_SYNTAX, "continue-req", 1);
    /* Exchange on-premises (3) */
    c = resp_ok("* CAPABILITY IMAP4 IMAP4rev1 LOGINDISABLED STARTTLS UIDPLUS MOVE ID CHILDREN "
                "IDLE NAMESPACE LITERAL+\r\n",
                MR_STRICT);
    assert_true(imap_cap_has(&c->r, "LOGINDISABLED"));
    resp_ok("a2 OK Begin TLS negotiation now.\r\n", MR_STRICT);
    /* Gmail (4) */
    resp_ok("* OK Gimap ready for requests from 192.0.2.7 d4mb186404wrb\r\n", MR_STRICT);
    resp_ok("a1 OK Thats all she wrote! d4mb186404wrb\r\n", MR_STRICT);
    c = resp_ok("a2 NO [ALERT] Application-specific password required: "
                "https://support.google.com/accounts/answer/185833 (Failure)\r\n",
                MR_STRICT);
    assert_int_equal(c->r.code, IMAP_CODE_ALERT);
    resp_ok("a2 NO [AUTHENTICATIONFAILED] Invalid credentials (Failure)\r\n", MR_STRICT);
    resp_ok("a2 NO [ALERT] Too many simultaneous connections. (Failure)\r\n", MR_STRICT);
    c = resp_ok("* CAPABILITY IMAP4rev1 UNSELECT IDLE NAMESPACE QUOTA ID XLIST CHILDREN "
                "X-GM-EXT-1 UIDPLUS COMPRESS=DEFLATE ENABLE MOVE CONDSTORE ESEARCH UTF8=ACCEPT "
                "LIST-EXTENDED LIST-STATUS LITERAL- APPENDLIMIT=35651584 SPECIAL-USE\r\n",
                MR_STRICT);
    assert_true(imap_cap_has(&c->r, "APPENDLIMIT=35651584"));
    c = resp_ok("* XLIST (\\HasNoChildren \\Inbox) \"/\" \"Inbox\"\r\n", MR_STRICT);
    assert_int_equal(c->r.type, IMAP_R_LIST);
    assert_slice(c->r.name, "XLIST");
}

static void mailbox_data(void **state)
{
    (void)state;
    resp_ctx *c = resp_ok("* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n",
                          MR_STRICT);
    assert_int_equal(c->r.type, IMAP_R_FLAGS);
    assert_int_equal(imap_tok_count(&c->r.t, 0), 5);
    c = resp_ok("* OK [PERMANENTFLAGS (\\Deleted \\Seen \\*)] Limited\r\n", MR_STRICT);
    assert_int_equal(c->r.code, IMAP_CODE_PERMANENTFLAGS);
    assert_tok(&c->r.t, 5, IMAP_T_ATOM, "\\*");
    c = resp_ok("* 172 EXISTS\r\n", MR_STRICT);
    assert_int_equal(c->r.type, IMAP_R_EXISTS);
    assert_int_equal(c->r.number, 172);
    assert_int_equal(c->r.t.n, 0);
    c = resp_ok("* 0 EXISTS\r\n", MR_STRICT);
    assert_int_equal(c->r.number, 0);
    c = resp_ok("* 1 RECENT\r\n", MR_STRICT);
    assert_int_equal(c->r.type, IMAP_R_RECENT);
    c = resp_ok("* 44 EXPUNGE\r\n", MR_STRICT);
    assert_int_equal(c->r.type, IMAP_R_EXPUNGE);
    assert_int_equal(c->r.number, 44);
    resp_err("* 0 EXPUNGE\r\n", MR_STRICT, MR_E_NUMBER, "nz-number", 2);
    resp_err("* 4294967296 EXISTS\r\n", MR_STRICT, MR_E_NUMBER, "number", 2);

    c = resp_ok("* LIST (\\Noselect) \"/\" ~/Mail/foo\r\n", MR_STRICT);
    assert_tok(&c->r.t, 3, IMAP_T_ATOM, "~/Mail/foo");
    resp_ok("* LIST (\\Noselect) \".\" #news.\r\n", MR_STRICT);
    c = resp_ok("* LIST () NIL inbox\r\n", MR_STRICT);
    assert_int_equal(c->r.t.tok[1].type, IMAP_T_NIL);
    c = resp_ok("* LIST (\\HasNoChildren) \"\\\\\" Drafts\r\n", MR_STRICT);
    assert_tok(&c->r.t, 2, IMAP_T_QUOTED, "\\\\");
    assert_true(c->r.t.tok[2].flags & IMAP_TF_ESCAPED);
    c = resp_ok("* LIST (\\Subscribed) \"/\" \"Foo\" (\"CHILDINFO\" (\"SUBSCRIBED\"))\r\n",
                MR_STRICT);
    assert_int_equal(c->r.t.tok[4].type, IMAP_T_LIST);
    c = resp_ok("* LIST () \"/\" {6}\r\nfoo\"ba\r\n", MR_STRICT);
    assert_tok(&c->r.t, 2, IMAP_T_LITERAL, "foo\"ba");
    resp_ok("* LSUB () \".\" #news.comp.mail.misc\r\n", MR_STRICT);
    resp_err("* LIST () \"//\" foo\r\n", MR_STRICT, MR_E_SYNTAX, "mailbox-list", 10);
    resp_ok("* LIST () \"//\" foo\r\n", MR_LENIENT);

    c = resp_ok("* STATUS blurdybloop (MESSAGES 231 UIDNEXT 44292)\r\n", MR_STRICT);
    assert_int_equal(c->r.type, IMAP_R_STATUS);
    assert_tok(&c->r.t, 0, IMAP_T_ATOM, "blurdybloop");
    assert_tok(&c->r.t, 4, IMAP_T_ATOM, "UIDNEXT");
    assert_tok(&c->r.t, 5, IMAP_T_NUMBER, "44292");
    resp_ok("* STATUS \"INBOX\" ()\r\n", MR_STRICT);
    resp_err("* STATUS INBOX (MESSAGES)\r\n", MR_STRICT, MR_E_SYNTAX, "status-att-val", 24);

    c = resp_ok("* SEARCH 2 3 6\r\n", MR_STRICT);
    assert_int_equal(c->r.type, IMAP_R_SEARCH);
    assert_int_equal(c->r.t.n, 3);
    resp_ok("* SEARCH\r\n", MR_STRICT);
    c = resp_ok("* SEARCH 2 5 6 7 11 12 18 19 20 23 (MODSEQ 917162500)\r\n", MR_STRICT);
    assert_int_equal(c->r.t.tok[10].type, IMAP_T_LIST);
    resp_err("* SEARCH 2 0\r\n", MR_STRICT, MR_E_NUMBER, "nz-number", 11);
    resp_err("* SEARCH 2 \r\n", MR_STRICT, MR_E_SYNTAX, "nz-number", 11);
    resp_ok("* SEARCH 2 \r\n", MR_LENIENT);

    c = resp_ok("* ESEARCH (TAG \"A282\") MIN 2 COUNT 3\r\n", MR_STRICT);
    assert_int_equal(c->r.type, IMAP_R_ESEARCH);
    c = resp_ok("* ESEARCH (TAG \"A283\") ALL 2,10:11\r\n", MR_STRICT);
    imap_seq_iter it;
    uint32_t lo, hi;
    imap_seq_begin(&it, imap_tok_slice(&c->r.t, 4));
    assert_int_equal(imap_seq_next(&it, &lo, &hi), 1);
    assert_int_equal(lo, 2);
    assert_int_equal(hi, 2);
    assert_int_equal(imap_seq_next(&it, &lo, &hi), 1);
    assert_int_equal(lo, 10);
    assert_int_equal(hi, 11);
    assert_int_equal(imap_seq_next(&it, &lo, &hi), 0);
    resp_ok("* ESEARCH (TAG \"A285\") UID MIN 7 MAX 3800\r\n", MR_STRICT);

    c = resp_ok("* NAMESPACE ((\"\" \"/\")) ((\"~\" \"/\")) ((\"#shared/\" \"/\")(\"#public/\" "
                "\"/\")(\"#ftp/\" \"/\")(\"#news.\" \".\"))\r\n",
                MR_STRICT);
    assert_int_equal(c->r.type, IMAP_R_NAMESPACE);
    assert_int_equal(imap_tok_count(&c->r.t, 8), 4);
    resp_ok("* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n", MR_STRICT);
    resp_ok("* NAMESPACE ((\"\" \"/\" \"X-PARAM\" (\"FLAG1\" \"FLAG2\"))) NIL NIL\r\n",
            MR_STRICT);
    resp_err("* NAMESPACE ((\"\" \"/\")) NIL\r\n", MR_STRICT, MR_E_SYNTAX, "namespace-response",
             26);

    c = resp_ok("* ENABLED CONDSTORE QRESYNC\r\n", MR_STRICT);
    assert_int_equal(c->r.type, IMAP_R_ENABLED);
    assert_true(imap_cap_has(&c->r, "qresync"));
    resp_ok("* ENABLED\r\n", MR_STRICT);

    c = resp_ok("* ID (\"name\" \"Cyrus\" \"version\" \"1.5\" \"os\" \"sunos\" \"os-version\" "
                "\"5.5\" \"support-url\" \"mailto:cyrus-bugs+@andrew.cmu.edu\")\r\n",
                MR_STRICT);
    assert_int_equal(c->r.type, IMAP_R_ID);
    assert_int_equal(imap_tok_count(&c->r.t, 0), 10);
    resp_ok("* ID NIL\r\n", MR_STRICT);
    resp_err("* ID (\"name\")\r\n", MR_STRICT, MR_E_SYNTAX, "id-params-list", 12);

    c = resp_ok("* QUOTAROOT INBOX \"\"\r\n", MR_STRICT);
    assert_int_equal(c->r.type, IMAP_R_OTHER);
    resp_ok("* QUOTA \"\" (STORAGE 10 512)\r\n", MR_STRICT);
    resp_ok("* VANISHED (EARLIER) 41,43:116,118,120:211,214:540\r\n", MR_STRICT);
    resp_ok("* 3 XFOO bar\r\n", MR_STRICT);
}

static void codes(void **state)
{
    (void)state;
    resp_ctx *c = resp_ok("A003 OK [APPENDUID 38505 3955] APPEND completed\r\n", MR_STRICT);
    assert_int_equal(c->r.code, IMAP_CODE_APPENDUID);
    assert_tok(&c->r.t, 2, IMAP_T_NUMBER, "38505");
    assert_tok(&c->r.t, 3, IMAP_T_SEQSET, "3955");
    c = resp_ok("A004 OK [COPYUID 38505 304,319:320 3956:3958] Done\r\n", MR_STRICT);
    assert_int_equal(c->r.code, IMAP_CODE_COPYUID);
    assert_tok(&c->r.t, 3, IMAP_T_SEQSET, "304,319:320");
    assert_tok(&c->r.t, 4, IMAP_T_SEQSET, "3956:3958");
    resp_err("A004 OK [COPYUID 38505 304:* 3956:3958] Done\r\n", MR_STRICT, MR_E_SYNTAX,
             "uid-set", 27);
    c = resp_ok("* OK [HIGHESTMODSEQ 715194045007] Highest\r\n", MR_STRICT);
    assert_int_equal(c->r.code, IMAP_CODE_HIGHESTMODSEQ);
    c = resp_ok("* OK [NOMODSEQ] Sorry, this mailbox format doesn't support modsequences\r\n",
                MR_STRICT);
    assert_int_equal(c->r.code, IMAP_CODE_NOMODSEQ);
    c = resp_ok("d105 OK [MODIFIED 7,9] Conditional STORE failed\r\n", MR_STRICT);
    assert_int_equal(c->r.code, IMAP_CODE_MODIFIED);
    c = resp_ok("a NO [BADCHARSET (UTF-8 \"US-ASCII\")] bad\r\n", MR_STRICT);
    assert_int_equal(c->r.code, IMAP_CODE_BADCHARSET);
    resp_ok("a NO [BADCHARSET] bad\r\n", MR_STRICT);
    /* RFC 5530 codes */
    const struct {
        const char *line;
        imap_code code;
    } rfc5530[] = {
        {"a NO [UNAVAILABLE] User's backend down for maintenance\r\n", IMAP_CODE_UNAVAILABLE},
        {"a NO [AUTHENTICATIONFAILED] Authentication failed\r\n",
         IMAP_CODE_AUTHENTICATIONFAILED},
        {"a NO [AUTHORIZATIONFAILED] No such authorization-ID\r\n",
         IMAP_CODE_AUTHORIZATIONFAILED},
        {"a NO [EXPIRED] That password isn't valid any more\r\n", IMAP_CODE_EXPIRED},
        {"a NO [PRIVACYREQUIRED] Connection security required\r\n", IMAP_CODE_PRIVACYREQUIRED},
        {"a NO [CONTACTADMIN] You need to contact the system administrator\r\n",
         IMAP_CODE_CONTACTADMIN},
        {"a NO [NOPERM] Access denied\r\n", IMAP_CODE_NOPERM},
        {"a NO [INUSE] Mailbox in use\r\n", IMAP_CODE_INUSE},
        {"a NO [EXPUNGEISSUED] Some messages were expunged\r\n", IMAP_CODE_EXPUNGEISSUED},
        {"a NO [CORRUPTION] Mailbox corrupt\r\n", IMAP_CODE_CORRUPTION},
        {"a NO [SERVERBUG] Oops\r\n", IMAP_CODE_SERVERBUG},
        {"a NO [CLIENTBUG] Bad client\r\n", IMAP_CODE_CLIENTBUG},
        {"a NO [CANNOT] Cannot do\r\n", IMAP_CODE_CANNOT},
        {"a NO [LIMIT] Too many\r\n", IMAP_CODE_LIMIT},
        {"a NO [OVERQUOTA] Over quota\r\n", IMAP_CODE_OVERQUOTA},
        {"a NO [ALREADYEXISTS] Mailbox exists\r\n", IMAP_CODE_ALREADYEXISTS},
        {"a NO [NONEXISTENT] No such mailbox\r\n", IMAP_CODE_NONEXISTENT},
        {"a NO [TRYCREATE] No such mailbox\r\n", IMAP_CODE_TRYCREATE},
        {"a BAD [PARSE] Bad syntax\r\n", IMAP_CODE_PARSE},
        {"a OK [READ-ONLY] EXAMINE completed\r\n", IMAP_CODE_READ_ONLY},
        {"a OK [CLOSED] Previous mailbox closed\r\n", IMAP_CODE_CLOSED},
        {"a OK [UIDNOTSTICKY] Non-persistent UIDs\r\n", IMAP_CODE_UIDNOTSTICKY},
        {"a NO [TOOBIG] Literal too big\r\n", IMAP_CODE_TOOBIG},
        {"a NO [HASCHILDREN] Has children\r\n", IMAP_CODE_HASCHILDREN},
        {"a NO [UNKNOWN-CTE] Can't process\r\n", IMAP_CODE_UNKNOWN_CTE},
        {"a NO [NOTSAVED] Not saved\r\n", IMAP_CODE_NOTSAVED},
        {"a NO [REFERRAL imap://user;AUTH=*@SERVER2/] Remote mailbox\r\n",
         IMAP_CODE_REFERRAL},
        {"a NO [X-CUSTOM-CODE some text] text\r\n", IMAP_CODE_OTHER},
        {"a OK [ALERT] \xc3\xa4nderung\r\n", IMAP_CODE_ALERT},
    };
    for (size_t k = 0; k < sizeof rfc5530 / sizeof rfc5530[0]; k++) {
        c = resp_ok(rfc5530[k].line, MR_STRICT);
        assert_int_equal(c->r.code, rfc5530[k].code);
        if (rfc5530[k].code != IMAP_CODE_OTHER)
            assert_true(mr_slice_eq_ci(imap_tok_slice(&c->r.t, 1), imap_code_name(c->r.code)));
    }
    c = resp_ok("a NO [REFERRAL imap://user;AUTH=*@SERVER2/] Remote mailbox\r\n", MR_STRICT);
    assert_tok(&c->r.t, 2, IMAP_T_TEXT, "imap://user;AUTH=*@SERVER2/");
    /* strict CAPABILITY needs IMAP4rev1 or IMAP4rev2 */
    resp_err("* OK [CAPABILITY IDLE] hi\r\n", MR_STRICT, MR_E_SYNTAX, "capability-data", 21);
    resp_ok("* OK [CAPABILITY IDLE] hi\r\n", MR_LENIENT);
    resp_err("* CAPABILITY IDLE\r\n", MR_STRICT, MR_E_SYNTAX, "capability-data", 17);
    /* nz-number codes */
    resp_err("* OK [UNSEEN 0] x\r\n", MR_STRICT, MR_E_NUMBER, "nz-number", 13);
    c = resp_ok("* OK [UNSEEN 0] x\r\n", MR_LENIENT);
    assert_int_equal(c->r.code, IMAP_CODE_UNSEEN);
    /* a known code with odd arguments: lenient keeps it as text */
    resp_err("* OK [UIDNEXT abc] x\r\n", MR_STRICT, MR_E_SYNTAX, "nz-number", 14);
    c = resp_ok("* OK [UIDNEXT abc] x\r\n", MR_LENIENT);
    assert_int_equal(c->r.code, IMAP_CODE_UIDNEXT);
    assert_tok(&c->r.t, 2, IMAP_T_TEXT, "abc");
    resp_err("* OK [ALERT\r\n", MR_STRICT, MR_E_SYNTAX, "resp-text-code", 11);
    resp_err("* OK [ALERT]text\r\n", MR_STRICT, MR_E_SYNTAX, "resp-text", 12);
    resp_err("* OK [] text\r\n", MR_STRICT, MR_E_SYNTAX, "resp-text-code", 6);
    resp_err("* OK [ALERT \xff] x\r\n", MR_STRICT, MR_E_8BIT, "resp-text-code", 12);
    /* missing SP after the code or the status: lenient */
    resp_err("* OK [READ-WRITE]\r\n", MR_STRICT, MR_E_SYNTAX, "resp-text", 17);
    c = resp_ok("* OK [READ-WRITE]\r\n", MR_LENIENT);
    assert_int_equal(c->r.code, IMAP_CODE_READ_WRITE);
    resp_err("* OK[CAPABILITY IMAP4rev1] x\r\n", MR_STRICT, MR_E_SYNTAX, "resp-text", 4);
    c = resp_ok("* OK[CAPABILITY IMAP4rev1] x\r\n", MR_LENIENT);
    assert_true(imap_cap_has(&c->r, "IMAP4rev1"));
    resp_err("a1 OK\r\n", MR_STRICT, MR_E_SYNTAX, "resp-text", 5);
    resp_ok("a1 OK\r\n", MR_LENIENT);
}

static void continuation(void **state)
{
    (void)state;
    resp_ctx *c = resp_ok("+ Ready for additional command text\r\n", MR_STRICT);
    assert_int_equal(c->r.kind, IMAP_KIND_CONTINUATION);
    assert_int_equal(c->r.type, IMAP_R_NONE);
    assert_slice(c->r.text, "Ready for additional command text");
    c = resp_ok("+ YGgGCSqGSIb3EgECAgIBAAD/////6jcyG4GE3KkTzBeBiVHeceP2CWY0SR0fAQAgAAQEBAQ=\r\n",
                MR_STRICT);
    assert_slice(c->r.text, "YGgGCSqGSIb3EgECAgIBAAD/////6jcyG4GE3KkTzBeBiVHeceP2CWY0SR0fAQAgA"
                            "AQEBAQ=");
    c = resp_ok("+ \r\n", MR_STRICT);
    assert_int_equal(c->r.text.n, 0);
    c = resp_ok("+ [ALERT] go on\r\n", MR_STRICT);
    assert_int_equal(c->r.code, IMAP_CODE_ALERT);
}

static void fetch_envelope(void **state)
{
    (void)state;
    const char *in = "* 12 FETCH (FLAGS (\\Seen) INTERNALDATE \"17-Jul-1996 02:44:25 -0700\" "
                     "RFC822.SIZE 4286 ENVELOPE " ENVELOPE_RFC " BODY (\"TEXT\" \"PLAIN\" "
                     "(\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 3028 92))\r\n";
    resp_ctx *c = resp_ok(in, MR_STRICT);
    assert_int_equal(c->r.type, IMAP_R_FETCH);
    assert_int_equal(c->r.number, 12);
    imap_fetch_iter it;
    imap_fetch_att a;
    assert_int_equal(imap_fetch_begin(&it, &c->r), 0);
    assert_int_equal(imap_fetch_next(&it, &a), 1);
    assert_int_equal(a.att, IMAP_ATT_FLAGS);
    assert_int_equal(imap_tok_count(&c->r.t, a.value), 1);
    assert_int_equal(imap_fetch_next(&it, &a), 1);
    assert_int_equal(a.att, IMAP_ATT_INTERNALDATE);
    imap_datetime dt;
    assert_int_equal(imap_datetime_parse(imap_tok_slice(&c->r.t, a.value), MR_STRICT, &dt), 0);
    assert_int_equal(dt.year, 1996);
    assert_int_equal(dt.month, 7);
    assert_int_equal(dt.day, 17);
    assert_int_equal(dt.hour, 2);
    assert_int_equal(dt.zone, -420);
    assert_int_equal(imap_fetch_next(&it, &a), 1);
    assert_int_equal(a.att, IMAP_ATT_RFC822_SIZE);
    uint64_t v;
    assert_int_equal(imap_tok_u64(&c->r.t, a.value, UINT64_MAX, &v), 0);
    assert_int_equal(v, 4286);
    assert_int_equal(imap_fetch_next(&it, &a), 1);
    assert_int_equal(a.att, IMAP_ATT_ENVELOPE);
    imap_envelope e;
    assert_int_equal(imap_envelope_decode(&c->r.t, a.value, &e), 0);
    assert_slice(e.date.s, "Wed, 17 Jul 1996 02:23:25 -0700 (PDT)");
    assert_slice(e.subject.s, "IMAP4rev1 WG mtg summary and minutes");
    assert_true(e.in_reply_to.nil);
    assert_slice(e.message_id.s, "<B27397-0100000@cac.washington.edu>");
    imap_addr_iter ai;
    imap_address ad;
    assert_int_equal(imap_addr_begin(&ai, &c->r.t, e.from), 0);
    assert_int_equal(imap_addr_next(&ai, &ad), 1);
    assert_slice(ad.name.s, "Terry Gray");
    assert_true(ad.adl.nil);
    assert_slice(ad.mailbox.s, "gray");
    assert_slice(ad.host.s, "cac.washington.edu");
    assert_int_equal(ad.kind, IMAP_ADDR_MAILBOX);
    assert_int_equal(imap_addr_next(&ai, &ad), 0);
    assert_int_equal(imap_addr_begin(&ai, &c->r.t, e.cc), 0);
    assert_int_equal(imap_addr_next(&ai, &ad), 1);
    assert_true(ad.name.nil);
    assert_slice(ad.mailbox.s, "minutes");
    assert_int_equal(imap_addr_next(&ai, &ad), 1);
    assert_slice(ad.name.s, "John Klensin");
    assert_int_equal(imap_addr_next(&ai, &ad), 0);
    assert_int_equal(imap_addr_begin(&ai, &c->r.t, e.bcc), 0);
    assert_int_equal(imap_addr_next(&ai, &ad), 0);
    assert_int_equal(imap_fetch_next(&it, &a), 1);
    assert_int_equal(a.att, IMAP_ATT_BODY);
    imap_body b;
    assert_int_equal(imap_body_decode(&c->r.t, a.value, &b), 0);
    assert_false(b.multipart);
    assert_slice(b.type.s, "TEXT");
    assert_slice(b.subtype.s, "PLAIN");
    assert_slice(b.encoding.s, "7BIT");
    assert_int_equal(b.octets, 3028);
    assert_true(b.has_lines);
    assert_int_equal(b.lines, 92);
    assert_false(b.has_ext);
    imap_param_iter pi;
    imap_nstring pn, pv;
    assert_int_equal(imap_param_begin(&pi, &c->r.t, b.params), 0);
    assert_int_equal(imap_param_next(&pi, &pn, &pv), 1);
    assert_slice(pn.s, "CHARSET");
    assert_slice(pv.s, "US-ASCII");
    assert_int_equal(imap_param_next(&pi, &pn, &pv), 0);
    assert_int_equal(imap_fetch_next(&it, &a), 0);

    /* RFC's line-wrapped address list (space between addresses): lenient only */
    resp_ok("* 1 FETCH (ENVELOPE (NIL NIL NIL NIL NIL NIL ((NIL NIL \"a\" \"b\") (NIL NIL \"c\" "
            "\"d\")) NIL NIL NIL))\r\n",
            MR_LENIENT);
    resp_err("* 1 FETCH (ENVELOPE (NIL NIL NIL NIL NIL NIL ((NIL NIL \"a\" \"b\") (NIL NIL "
             "\"c\" \"d\")) NIL NIL NIL))\r\n",
             MR_STRICT, MR_E_SYNTAX, "address", 63);
    /* groups (RFC 9051 section 9 address rules) */
    c = resp_ok("* 2 FETCH (ENVELOPE (NIL \"s\" NIL NIL NIL ((NIL NIL \"undisclosed-recipients\" "
                "NIL)(NIL NIL NIL NIL)) NIL NIL NIL NIL))\r\n",
                MR_STRICT);
    assert_int_equal(imap_fetch_begin(&it, &c->r), 0);
    assert_int_equal(imap_fetch_next(&it, &a), 1);
    assert_int_equal(imap_envelope_decode(&c->r.t, a.value, &e), 0);
    assert_int_equal(imap_addr_begin(&ai, &c->r.t, e.to), 0);
    assert_int_equal(imap_addr_next(&ai, &ad), 1);
    assert_int_equal(ad.kind, IMAP_ADDR_GROUP_START);
    assert_slice(ad.mailbox.s, "undisclosed-recipients");
    assert_int_equal(imap_addr_next(&ai, &ad), 1);
    assert_int_equal(ad.kind, IMAP_ADDR_GROUP_END);
    /* malformed envelopes name their rule */
    resp_err("* 1 FETCH (ENVELOPE (NIL NIL NIL NIL NIL NIL NIL NIL NIL))\r\n", MR_STRICT,
             MR_E_SYNTAX, "envelope", 56);
    resp_err("* 1 FETCH (ENVELOPE (NIL NIL ((NIL NIL \"a\")) NIL NIL NIL NIL NIL NIL NIL))\r\n",
             MR_STRICT, MR_E_SYNTAX, "address", 42);
    resp_err("* 1 FETCH (ENVELOPE (NIL NIL \"from\" NIL NIL NIL NIL NIL NIL NIL))\r\n",
             MR_STRICT, MR_E_SYNTAX, "env-from", 29);
    resp_err("* 1 FETCH (ENVELOPE (NIL NIL () NIL NIL NIL NIL NIL NIL NIL))\r\n", MR_STRICT,
             MR_E_SYNTAX, "env-from", 30);
    resp_ok("* 1 FETCH (ENVELOPE (NIL NIL () NIL NIL NIL NIL NIL NIL NIL))\r\n", MR_LENIENT);
    resp_err("* 1 FETCH (ENVELOPE (NIL x NIL NIL NIL NIL NIL NIL NIL NIL))\r\n", MR_STRICT,
             MR_E_SYNTAX, "env-subject", 25);
    resp_err("* 1 FETCH (ENVELOPE (\"d\" \"s\" ((\"a\\\" NIL \"b\" \"c\")) NIL NIL NIL NIL NIL NIL "
             "NIL))\r\n",
             MR_STRICT, MR_E_SYNTAX, "address", 41);
    /* lower-case nil is NIL in both modes (ABNF strings are case-insensitive) */
    c = resp_ok("* 3 FETCH (ENVELOPE (nil nil nil nil nil nil nil nil nil Nil))\r\n", MR_STRICT);
    assert_int_equal(c->r.t.tok[3].type, IMAP_T_NIL);
}

static void fetch_bodystructure(void **state)
{
    (void)state;
    resp_ctx *c = resp_ok("* 5 FETCH (BODYSTRUCTURE " BODY_MIXED_RFC ")\r\n", MR_STRICT);
    imap_fetch_iter it;
    imap_fetch_att a;
    assert_int_equal(imap_fetch_begin(&it, &c->r), 0);
    assert_int_equal(imap_fetch_next(&it, &a), 1);
    assert_int_equal(a.att, IMAP_ATT_BODYSTRUCTURE);
    imap_body b, p;
    assert_int_equal(imap_body_decode(&c->r.t, a.value, &b), 0);
    assert_true(b.multipart);
    assert_int_equal(b.nparts, 2);
    assert_slice(b.subtype.s, "MIXED");
    assert_int_equal(b.params, IMAP_NONE);
    uint32_t path2[] = {2};
    assert_int_equal(imap_body_find(&c->r.t, a.value, path2, 1, &p), 0);
    assert_slice(p.description.s, "Compiler diff");
    assert_slice(p.encoding.s, "BASE64");
    assert_int_equal(p.octets, 4554);
    uint32_t path3[] = {3};
    assert_int_equal(imap_body_find(&c->r.t, a.value, path3, 1, &p), -1);

    c = resp_ok("* 6 FETCH (UID 48 BODYSTRUCTURE " BODY_REAL ")\r\n", MR_STRICT);
    assert_int_equal(imap_fetch_begin(&it, &c->r), 0);
    assert_int_equal(imap_fetch_next(&it, &a), 1);
    assert_int_equal(a.att, IMAP_ATT_UID);
    assert_int_equal(imap_fetch_next(&it, &a), 1);
    assert_int_equal(imap_body_decode(&c->r.t, a.value, &b), 0);
    assert_true(b.multipart);
    assert_true(b.has_ext);
    assert_slice(b.subtype.s, "mixed");
    imap_param_iter pi;
    imap_nstring pn, pv;
    assert_int_equal(imap_param_begin(&pi, &c->r.t, b.params), 0);
    assert_int_equal(imap_param_next(&pi, &pn, &pv), 1);
    assert_slice(pv.s, "00000000000052ad");
    uint32_t html[] = {1, 2};
    assert_int_equal(imap_body_find(&c->r.t, a.value, html, 2, &p), 0);
    assert_slice(p.subtype.s, "html");
    assert_int_equal(p.lines, 82);
    assert_true(p.has_ext);
    assert_true(p.md5.nil);
    uint32_t pdf[] = {2};
    assert_int_equal(imap_body_find(&c->r.t, a.value, pdf, 1, &p), 0);
    assert_slice(p.type.s, "application");
    imap_nstring dt;
    unsigned dp;
    assert_int_equal(imap_dsp_decode(&c->r.t, p.dsp, &dt, &dp), 0);
    assert_slice(dt.s, "attachment");
    assert_int_equal(imap_param_begin(&pi, &c->r.t, dp), 0);
    assert_int_equal(imap_param_next(&pi, &pn, &pv), 1);
    assert_slice(pn.s, "filename");
    assert_slice(pv.s, "invoice 2024-03.pdf");
    assert_int_equal(p.lang, imap_tok_next(&c->r.t, p.dsp));
    assert_int_equal(p.ext, IMAP_NONE);

    /* message/rfc822 with envelope, body and lines; parts numbered inside it */
    c = resp_ok("* 7 FETCH (BODYSTRUCTURE ((\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 10 1)("
                "\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 500 " ENVELOPE_RFC " " BODY_MIXED_RFC
                " 20) \"MIXED\"))\r\n",
                MR_STRICT);
    assert_int_equal(imap_fetch_begin(&it, &c->r), 0);
    assert_int_equal(imap_fetch_next(&it, &a), 1);
    uint32_t inner[] = {2, 2};
    assert_int_equal(imap_body_find(&c->r.t, a.value, inner, 2, &p), 0);
    assert_slice(p.description.s, "Compiler diff");
    uint32_t msg[] = {2};
    assert_int_equal(imap_body_find(&c->r.t, a.value, msg, 1, &p), 0);
    assert_true(p.envelope != IMAP_NONE && p.body != IMAP_NONE);
    assert_int_equal(p.lines, 20);
    imap_envelope e;
    assert_int_equal(imap_envelope_decode(&c->r.t, p.envelope, &e), 0);
    /* body-fld-lang as a list, location, further extensions (numbers, nested lists) */
    c = resp_ok("* 8 FETCH (BODYSTRUCTURE (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"UTF-8\") \"<id>\" "
                "\"desc\" \"8BIT\" 3 1 \"md5sum\" (\"INLINE\" NIL) (\"EN\" \"DE\") "
                "\"http://x/\" 42 (\"x\" (7 NIL))))\r\n",
                MR_STRICT);
    assert_int_equal(imap_fetch_begin(&it, &c->r), 0);
    assert_int_equal(imap_fetch_next(&it, &a), 1);
    assert_int_equal(imap_body_decode(&c->r.t, a.value, &b), 0);
    assert_slice(b.md5.s, "md5sum");
    assert_int_equal(c->r.t.tok[b.lang].type, IMAP_T_LIST);
    assert_tok(&c->r.t, b.loc, IMAP_T_QUOTED, "http://x/");
    assert_tok(&c->r.t, b.ext, IMAP_T_NUMBER, "42");
    uint32_t one[] = {1};
    assert_int_equal(imap_body_find(&c->r.t, a.value, one, 1, &p), 0);
    assert_int_equal(p.tok, a.value);
}

static void bodystructure_quirks(void **state)
{
    (void)state;
    /* NIL encoding, NIL parameter value, empty parameter list: lenient only */
    const char *nil_enc = "* 1 FETCH (BODYSTRUCTURE (\"TEXT\" \"PLAIN\" NIL NIL NIL NIL 10 1))\r\n";
    resp_err(nil_enc, MR_STRICT, MR_E_SYNTAX, "body-fld-enc", 53);
    resp_ok(nil_enc, MR_LENIENT);
    const char *nil_val = "* 1 FETCH (BODY (\"TEXT\" \"PLAIN\" (\"CHARSET\" NIL) NIL NIL \"7BIT\" 10 "
                          "1))\r\n";
    resp_err(nil_val, MR_STRICT, MR_E_SYNTAX, "body-fld-param", 43);
    resp_ok(nil_val, MR_LENIENT);
    const char *empty = "* 1 FETCH (BODY (\"TEXT\" \"PLAIN\" () NIL NIL \"7BIT\" 10 1))\r\n";
    resp_err(empty, MR_STRICT, MR_E_SYNTAX, "body-fld-param", 33);
    resp_ok(empty, MR_LENIENT);
    /* message/rfc822 without envelope/body (seen from broken servers): lenient as basic */
    const char *msg = "* 1 FETCH (BODY (\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 10))\r\n";
    resp_err(msg, MR_STRICT, MR_E_SYNTAX, "body-type-msg", 57);
    resp_ok(msg, MR_LENIENT);
    /* SP between parts and before ")" */
    const char *spaced = "* 1 FETCH (BODY ((\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 1 1) (\"TEXT\" "
                         "\"HTML\" NIL NIL NIL \"7BIT\" 1 1) \"ALTERNATIVE\" ))\r\n";
    resp_ok(spaced, MR_LENIENT);
    resp_err(spaced, MR_STRICT, MR_E_SYNTAX, "media-subtype", 57);
    /* malformed structures name the rule */
    resp_err("* 1 FETCH (BODY (\"TEXT\" \"PLAIN\" (\"CHARSET\") NIL NIL \"7BIT\" 10 1))\r\n",
             MR_STRICT, MR_E_SYNTAX, "body-fld-param", 42);
    resp_err("* 1 FETCH (BODY (\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 10))\r\n", MR_STRICT,
             MR_E_SYNTAX, "body-type-text", 53);
    resp_err("* 1 FETCH (BODY (\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" x 1))\r\n", MR_STRICT,
             MR_E_SYNTAX, "body-fld-octets", 51);
    resp_err("* 1 FETCH (BODY (TEXT \"PLAIN\" NIL NIL NIL \"7BIT\" 1 1))\r\n", MR_STRICT,
             MR_E_SYNTAX, "media-type", 17);
    resp_err("* 1 FETCH (BODY ((\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 1 1)))\r\n", MR_STRICT,
             MR_E_SYNTAX, "body-type-mpart", 56);
    resp_err("* 1 FETCH (BODYSTRUCTURE (\"A\" \"B\" NIL NIL NIL \"7BIT\" 1 NIL (\"X\")))\r\n",
             MR_STRICT, MR_E_SYNTAX, "body-fld-dsp", 63);
    resp_err("* 1 FETCH (BODYSTRUCTURE (\"A\" \"B\" NIL NIL NIL \"7BIT\" 1 NIL NIL ()))\r\n",
             MR_STRICT, MR_E_SYNTAX, "body-fld-lang", 64);
}

static void fetch_literals_and_sections(void **state)
{
    (void)state;
    const char in[] = "* 12 FETCH (BODY[HEADER] {26}\r\nSubject: hi\r\nFrom: a@b\r\n\r\n "
                      "BODY[1.2.HEADER.FIELDS (DATE \"FROM\")]<0> {0}\r\n UID 9 "
                      "BINARY[2] ~{4}\r\n\x00\x01\x02\x03 BINARY.SIZE[3] 77 RFC822.TEXT NIL "
                      "MODSEQ (624140003) X-GM-LABELS (\\Inbox \"Work\"))\r\n";
    resp_ctx *c = resp_ok_n(in, sizeof in - 1, MR_STRICT);
    imap_fetch_iter it;
    imap_fetch_att a;
    imap_section sec;
    assert_int_equal(imap_fetch_begin(&it, &c->r), 0);
    assert_int_equal(imap_fetch_next(&it, &a), 1);
    assert_int_equal(a.att, IMAP_ATT_BODY);
    assert_true(a.has_section);
    assert_slice(a.section, "HEADER");
    assert_int_equal(imap_section_decode(&c->r.t, a.section_tok, &sec), 0);
    assert_int_equal(sec.text, IMAP_SECT_HEADER);
    assert_int_equal(sec.nparts, 0);
    assert_tok(&c->r.t, a.value, IMAP_T_LITERAL, "Subject: hi\r\nFrom: a@b\r\n\r\n");
    assert_int_equal(imap_fetch_next(&it, &a), 1);
    assert_true(a.has_partial);
    assert_int_equal(a.origin, 0);
    assert_int_equal(imap_section_decode(&c->r.t, a.section_tok, &sec), 0);
    assert_int_equal(sec.nparts, 2);
    assert_int_equal(sec.part[0], 1);
    assert_int_equal(sec.part[1], 2);
    assert_int_equal(sec.text, IMAP_SECT_HEADER_FIELDS);
    assert_int_equal(imap_tok_count(&c->r.t, sec.fields), 2);
    char buf[16];
    assert_int_equal(imap_tok_copy(&c->r.t, imap_tok_child(&c->r.t, sec.fields, 1), buf, 16), 4);
    assert_memory_equal(buf, "FROM", 4);
    assert_tok(&c->r.t, a.value, IMAP_T_LITERAL, "");
    assert_int_equal(imap_fetch_next(&it, &a), 1);
    assert_int_equal(a.att, IMAP_ATT_UID);
    assert_int_equal(imap_fetch_next(&it, &a), 1);
    assert_int_equal(a.att, IMAP_ATT_BINARY);
    assert_true(c->r.t.tok[a.value].flags & IMAP_TF_BINARY);
    assert_int_equal(c->r.t.tok[a.value].len, 4);
    assert_int_equal(imap_fetch_next(&it, &a), 1);
    assert_int_equal(a.att, IMAP_ATT_BINARY_SIZE);
    assert_int_equal(imap_fetch_next(&it, &a), 1);
    assert_int_equal(a.att, IMAP_ATT_RFC822_TEXT);
    assert_int_equal(c->r.t.tok[a.value].type, IMAP_T_NIL);
    assert_int_equal(imap_fetch_next(&it, &a), 1);
    assert_int_equal(a.att, IMAP_ATT_MODSEQ);
    assert_int_equal(imap_fetch_next(&it, &a), 1);
    assert_int_equal(a.att, IMAP_ATT_OTHER);
    assert_slice(a.name, "X-GM-LABELS");
    assert_int_equal(imap_fetch_next(&it, &a), 0);

    /* NUL in a literal: only literal8 may carry it */
    const char nul[] = "* 1 FETCH (BODY[] {3}\r\na\x00z)\r\n";
    resp_err_n(nul, sizeof nul - 1, MR_STRICT, MR_E_NUL, "literal", 24);
    resp_ok_n(nul, sizeof nul - 1, MR_LENIENT);
    /* sections */
    resp_err("* 1 FETCH (BODY[0] NIL)\r\n", MR_STRICT, MR_E_SYNTAX, "section-spec", 16);
    resp_err("* 1 FETCH (BODY[1.MIMEX] NIL)\r\n", MR_STRICT, MR_E_SYNTAX, "section-spec", 16);
    resp_err("* 1 FETCH (BODY[MIME] NIL)\r\n", MR_STRICT, MR_E_SYNTAX, "section-spec", 16);
    resp_err("* 1 FETCH (BINARY[TEXT] NIL)\r\n", MR_STRICT, MR_E_SYNTAX, "section-binary", 18);
    resp_err("* 1 FETCH (UID[1] 5)\r\n", MR_STRICT, MR_E_SYNTAX, "msg-att-static", 14);
    resp_err("* 1 FETCH (BODY[HEADER.FIELDS] NIL)\r\n", MR_STRICT, MR_E_SYNTAX, "header-list",
             29);
    resp_err("* 1 FETCH (BODY[TEXT NIL)\r\n", MR_STRICT, MR_E_SYNTAX, "section", 20);
    resp_err("* 1 FETCH (BODY[]<x> NIL)\r\n", MR_STRICT, MR_E_SYNTAX, "partial", 18);
    resp_err("* 1 FETCH (BODY[]<1.2> NIL)\r\n", MR_STRICT, MR_E_SYNTAX, "partial", 19);
    resp_ok("* 1 FETCH (BODY[]<1.2> NIL)\r\n", MR_LENIENT);
    /* other msg-att values */
    resp_err("* 1 FETCH (UID 0)\r\n", MR_STRICT, MR_E_NUMBER, "uniqueid", 15);
    resp_err("* 1 FETCH (INTERNALDATE \"17-Jul-1996 02:44:25\")\r\n", MR_STRICT, MR_E_SYNTAX,
             "date-time", 24);
    resp_ok("* 1 FETCH (INTERNALDATE \" 7-Jul-1996 02:44:25 +0000\")\r\n", MR_STRICT);
    resp_err("* 1 FETCH (INTERNALDATE \"7-Jul-1996 02:44:25 +0000\")\r\n", MR_STRICT,
             MR_E_SYNTAX, "date-time", 24);
    resp_ok("* 1 FETCH (INTERNALDATE \"7-Jul-1996 02:44:25 +0000\")\r\n", MR_LENIENT);
    resp_err("* 1 FETCH (FLAGS \\Seen)\r\n", MR_STRICT, MR_E_SYNTAX, "flag-fetch", 17);
    resp_err("* 1 FETCH ()\r\n", MR_STRICT, MR_E_SYNTAX, "msg-att", 11);
    resp_err("* 1 FETCH (UID 1\r\n", MR_STRICT, MR_E_SYNTAX, "msg-att", 16);
    resp_err("* 1 FETCH (UID 1) x\r\n", MR_STRICT, MR_E_TRAILING, "message-data", 17);
    resp_err("* 1 FETCH (RFC822 x)\r\n", MR_STRICT, MR_E_SYNTAX, "nstring", 18);
    /* extra spaces: lenient */
    const char *spaces = "* 1 FETCH ( UID 1  FLAGS (\\Seen \\Answered ) )\r\n";
    resp_err(spaces, MR_STRICT, MR_E_SYNTAX, "msg-att", 11);
    resp_ok(spaces, MR_LENIENT);
}

static void quoted_strings_and_text(void **state)
{
    (void)state;
    resp_ctx *c = resp_ok("* LIST () \"/\" \"a \\\"quoted\\\" \\\\ name\"\r\n", MR_STRICT);
    char buf[64];
    int n = imap_tok_copy(&c->r.t, 2, buf, sizeof buf);
    assert_int_equal(n, 17);
    assert_memory_equal(buf, "a \"quoted\" \\ name", 17);
    /* truncating copy reports the full length */
    assert_int_equal(imap_tok_copy(&c->r.t, 2, buf, 3), 17);
    /* RFC 9051 allows UTF-8 in quoted strings and text */
    resp_ok("* LIST () \"/\" \"Entw\xc3\xbcrfe\"\r\n", MR_STRICT);
    resp_ok("* OK Gr\xc3\xbc\xc3\x9f" "e \xf0\x9f\x93\xa7\r\n", MR_STRICT);
    /* invalid UTF-8: strict error at the byte, lenient accepts */
    resp_err("* LIST () \"/\" \"Entw\xfcrfe\"\r\n", MR_STRICT, MR_E_UTF8, "mailbox", 19);
    resp_ok("* LIST () \"/\" \"Entw\xfcrfe\"\r\n", MR_LENIENT);
    resp_err("* OK caf\xe9\r\n", MR_STRICT, MR_E_UTF8, "text", 8);
    resp_err("* OK \xed\xa0\x80 surrogate\r\n", MR_STRICT, MR_E_UTF8, "text", 5);
    resp_ok("* OK caf\xe9\r\n", MR_LENIENT);
    /* 8-bit in atoms */
    resp_err("* LIST () \"/\" caf\xc3\xa9\r\n", MR_STRICT, MR_E_8BIT, "response-data", 17);
    resp_ok("* LIST () \"/\" caf\xc3\xa9\r\n", MR_LENIENT);
    /* NUL in quoted: never (CVE-2019-11500) */
    const char nul[] = "* LIST () \"/\" \"a\x00" "b\"\r\n";
    resp_err_n(nul, sizeof nul - 1, MR_STRICT, MR_E_NUL, "mailbox", 16);
    resp_err_n(nul, sizeof nul - 1, MR_LENIENT, MR_E_NUL, "mailbox", 16);
    const char nul_text[] = "* OK a\x00" "b\r\n";
    resp_err_n(nul_text, sizeof nul_text - 1, MR_LENIENT, MR_E_NUL, "text", 6);
    /* escapes: only \" and \\ in strict; lenient takes \x as x */
    resp_err("* LIST () \"/\" \"a\\xb\"\r\n", MR_STRICT, MR_E_SYNTAX, "quoted-specials", 16);
    c = resp_ok("* LIST () \"/\" \"a\\xb\"\r\n", MR_LENIENT);
    assert_int_equal(imap_tok_copy(&c->r.t, 2, buf, sizeof buf), 3);
    assert_memory_equal(buf, "axb", 3);
    /* other control characters are QUOTED-CHARs */
    resp_ok("* LIST () \"/\" \"tab\there\"\r\n", MR_STRICT);
    resp_err("* LIST () \"/\" \"open\r\n", MR_STRICT, MR_E_SYNTAX, "quoted", 19);
    /* bare CR in text */
    resp_err("* OK a\rb\r\n", MR_STRICT, MR_E_BARE_CR, "text", 6);
    resp_ok("* OK a\rb\r\n", MR_LENIENT);
    /* a literal where text is: the framer takes it as one (every IMAP client does), the
     * grammar rejects it */
    resp_err("* OK text {3}\r\nabc\r\n", MR_STRICT, MR_E_TRAILING, "text", 15);
}

static void lenient_misc(void **state)
{
    (void)state;
    /* bare LF line ends */
    resp_err("* OK hi\n", MR_STRICT, MR_E_BARE_LF, "CRLF", 7);
    resp_ok("* OK hi\n", MR_LENIENT);
    resp_ok("* 1 FETCH (BODY[] {2}\nab)\n", MR_LENIENT);
    /* lower-case keywords are keywords in both modes */
    resp_ctx *c = resp_ok("* ok hello\r\n", MR_STRICT);
    assert_int_equal(c->r.status, IMAP_STATUS_OK);
    c = resp_ok("* 3 fetch (uid 5 flags ())\r\n", MR_STRICT);
    assert_int_equal(c->r.type, IMAP_R_FETCH);
    /* tagged BYE / PREAUTH are not RFC; lenient takes them */
    resp_err("a1 BYE x\r\n", MR_STRICT, MR_E_SYNTAX, "resp-cond-state", 3);
    resp_ok("a1 BYE x\r\n", MR_LENIENT);
    resp_err("a1 FOO x\r\n", MR_LENIENT, MR_E_SYNTAX, "resp-cond-state", 3);
    /* unknown untagged data that is not even generic: lenient keeps it as text */
    resp_err("* XFOO \"unterminated\r\n", MR_STRICT, MR_E_SYNTAX, "quoted", 20);
    c = resp_ok("* XFOO \"unterminated\r\n", MR_LENIENT);
    assert_tok(&c->r.t, 0, IMAP_T_TEXT, "\"unterminated");
    /* literal markers: {n+} is not for responses */
    resp_err("* 1 FETCH (BODY[] {2+}\r\nab)\r\n", MR_STRICT, MR_E_SYNTAX, "literal", 18);
    resp_ok("* 1 FETCH (BODY[] {2+}\r\nab)\r\n", MR_LENIENT);
}

static void bad_inputs(void **state)
{
    (void)state;
    resp_err("\r\n", MR_STRICT, MR_E_SYNTAX, "tag", 0);
    resp_err("*\r\n", MR_STRICT, MR_E_SYNTAX, "response-data", 1);
    resp_err("* \r\n", MR_STRICT, MR_E_SYNTAX, "response-data", 2);
    resp_err("a+1 OK x\r\n", MR_STRICT, MR_E_SYNTAX, "response-tagged", 1);
    resp_err("(a OK x\r\n", MR_STRICT, MR_E_SYNTAX, "tag", 0);
    resp_err("* 1 FETCH\r\n", MR_STRICT, MR_E_SYNTAX, "message-data", 9);
    resp_err("* 12\r\n", MR_STRICT, MR_E_SYNTAX, "message-data", 4);
    resp_err("* 1 EXISTS extra\r\n", MR_STRICT, MR_E_TRAILING, "message-data", 10);
    resp_err("* FLAGS\r\n", MR_STRICT, MR_E_SYNTAX, "mailbox-data", 7);
    resp_err("* FLAGS (\\)\r\n", MR_STRICT, MR_E_SYNTAX, "flag-list", 10);
    resp_err("* LIST (\\A) \"/\"\r\n", MR_STRICT, MR_E_SYNTAX, "mailbox-list", 15);
    resp_err("* XFOO (a\r\n", MR_STRICT, MR_E_SYNTAX, "response-data", 9);
    resp_err("* XFOO )\r\n", MR_STRICT, MR_E_SYNTAX, "response-data", 7);
    resp_err("* 1 FETCH (BODY[] {x}\r\nab)\r\n", MR_STRICT, MR_E_SYNTAX, "literal", 19);
    /* direct parse calls check their input too */
    imap_response r;
    imap_token tok[8];
    mr_error err;
    assert_int_equal(imap_response_parse("* OK", 4, NULL, &r, tok, 8, &err), MR_ERROR);
    assert_int_equal(err.code, MR_E_SYNTAX);
    assert_string_equal(err.rule, "CRLF");
    assert_int_equal(imap_response_parse("", 0, NULL, &r, tok, 8, &err), MR_ERROR);
    assert_int_equal(err.code, MR_E_EMPTY);
    /* a payload shorter than announced (the framer would wait for more) */
    assert_int_equal(imap_response_parse("* 1 FETCH (BODY[] {5}\r\nab)\r\n", 28, NULL, &r, tok, 8,
                                         &err),
                     MR_ERROR);
    assert_err(&err, MR_E_SYNTAX, "literal", 23);
    /* two items handed over as one */
    assert_int_equal(imap_response_parse("* OK a\r\n* OK b\r\n", 16, NULL, &r, tok, 8, &err),
                     MR_ERROR);
    assert_int_equal(err.code, MR_E_TRAILING);
    assert_int_equal(err.offset, 8);
}

static void limits(void **state)
{
    (void)state;
    static imap_token tok[NTOK];
    imap_response r;
    mr_error err;
    imap_limits lim = imap_limits_default();
    /* 10,000 nested parentheses: the line limit stops it first with the defaults ... */
    size_t depth = 10000, n = 0;
    char *deep = malloc(3 * depth + 64);
    n += (size_t)sprintf(deep, "* 1 FETCH (BODY ");
    for (size_t k = 0; k < depth; k++)
        deep[n++] = '(';
    for (size_t k = 0; k < depth; k++)
        deep[n++] = ')';
    n += (size_t)sprintf(deep + n, ")\r\n");
    assert_int_equal(imap_response_next(deep, n, &lim, &r, tok, NTOK, &err), MR_ERROR);
    assert_int_equal(err.code, MR_E_LIMIT_LINE);
    assert_int_equal(err.offset, 8192);
    /* ... and the depth limit with a line limit that lets it through */
    lim.line_max = 1u << 20;
    assert_int_equal(imap_response_next(deep, n, &lim, &r, tok, NTOK, &err), MR_ERROR);
    assert_int_equal(err.code, MR_E_LIMIT_DEPTH);
    assert_string_equal(err.rule, "body");
    assert_int_equal(err.offset, 16 + 63); /* the 64th "(" of the body; the msg-att list is 1 */
    memcpy(deep, "* XYZ  ", 7);             /* generic values nest the same way */
    deep[6] = '(';
    assert_int_equal(imap_response_next(deep, n, &lim, &r, tok, NTOK, &err), MR_ERROR);
    assert_int_equal(err.code, MR_E_LIMIT_DEPTH);
    free(deep);
    /* token limit */
    lim = imap_limits_default();
    lim.tokens_max = 4;
    assert_int_equal(imap_response_next("* SEARCH 1 2 3 4 5\r\n", 20, &lim, &r, tok, NTOK, &err),
                     MR_ERROR);
    assert_err(&err, MR_E_LIMIT_COUNT, "tokens", 17);
    assert_int_equal(imap_response_next("* SEARCH 1 2 3 4\r\n", 18, &lim, &r, tok, NTOK, &err),
                     18);
    assert_int_equal(imap_response_next("* SEARCH 1 2 3 4\r\n", 18, &lim, &r, tok, 3, &err),
                     MR_ERROR);
    /* a literal announcing 4 GiB */
    lim = imap_limits_default();
    const char *big = "* 1 FETCH (BODY[] {4294967295}\r\n";
    assert_int_equal(imap_response_next(big, strlen(big), &lim, &r, tok, NTOK, &err), MR_ERROR);
    assert_int_equal(err.code, MR_E_LIMIT_LITERAL);
    assert_int_equal(err.offset, 18);
    const char *huge = "* 1 FETCH (BODY[] {99999999999999999999999999999}\r\n";
    assert_int_equal(imap_response_next(huge, strlen(huge), &lim, &r, tok, NTOK, &err),
                     MR_ERROR);
    assert_int_equal(err.code, MR_E_LIMIT_LITERAL);
    assert_int_equal(err.offset, 18);
    /* the grammar checks the literal limit itself when called without the framer */
    assert_int_equal(imap_response_parse(big, strlen(big), &lim, &r, tok, NTOK, &err), MR_ERROR);
    assert_int_equal(err.code, MR_E_LIMIT_LITERAL);
    assert_int_equal(err.offset, 18);
    /* 100 MB without a line end */
    size_t hundred = 100u << 20;
    char *flood = malloc(hundred);
    memset(flood, 'x', hundred);
    memcpy(flood, "* OK ", 5);
    assert_int_equal(imap_response_next(flood, hundred, &lim, &r, tok, NTOK, &err), MR_ERROR);
    assert_int_equal(err.code, MR_E_LIMIT_LINE);
    assert_int_equal(err.offset, 8192);
    free(flood);
}

static void streamed_literal_tokens(void **state)
{
    (void)state;
    /* The framer streams a literal above inline_literal_max; the grammar, given the item text
     * without the payload, makes a STREAMED token carrying the size. */
    imap_limits lim = imap_limits_default();
    lim.inline_literal_max = 4;
    const char *in = "* 3 FETCH (UID 7 BODY[] {10}\r\n0123456789 FLAGS (\\Seen))\r\n";
    imap_framer f;
    imap_framer_init(&f, IMAP_SIDE_RESPONSE, &lim);
    char text[128];
    size_t nt = 0, at = 0, len = strlen(in), payload = 0;
    for (;;) {
        imap_frame ev;
        mr_error err;
        int r = imap_framer_next(&f, in + at, len - at, &ev, &err);
        assert_true(r > 0);
        if (ev.kind == IMAP_FRAME_LITERAL) {
            payload += ev.n;
            assert_int_equal(ev.literal_left, 10 - payload);
        } else {
            if (ev.kind == IMAP_FRAME_SEGMENT)
                assert_int_equal(ev.literal_size, 10);
            memcpy(text + nt, in + at, ev.n);
            nt += ev.n;
        }
        at += (size_t)r;
        if (ev.kind == IMAP_FRAME_ITEM)
            break;
    }
    assert_int_equal(payload, 10);
    assert_int_equal(at, len);
    assert_int_equal(nt, len - 10);
    imap_response r;
    imap_token tok[32];
    mr_error err;
    assert_int_equal(imap_response_parse(text, nt, &lim, &r, tok, 32, &err), (int)nt);
    imap_fetch_iter it;
    imap_fetch_att a;
    assert_int_equal(imap_fetch_begin(&it, &r), 0);
    assert_int_equal(imap_fetch_next(&it, &a), 1);
    assert_int_equal(imap_fetch_next(&it, &a), 1);
    assert_int_equal(tok[a.value].type, IMAP_T_LITERAL);
    assert_true(tok[a.value].flags & IMAP_TF_STREAMED);
    assert_int_equal(tok[a.value].len, 10);
    imap_nstring v;
    assert_int_equal(imap_tok_nstring(&r.t, a.value, &v), 0);
    assert_true(v.streamed);
    assert_int_equal(v.literal_size, 10);
    assert_int_equal(v.s.n, 0);
    assert_int_equal(imap_tok_copy(&r.t, a.value, (char[4]){0}, 4), MR_ERROR);
    assert_int_equal(imap_fetch_next(&it, &a), 1);
    assert_int_equal(a.att, IMAP_ATT_FLAGS);
    /* written back, the item keeps its marker and parses the same */
    char out[128];
    imap_wbuf w;
    imap_wbuf_init(&w, out, sizeof out);
    imap_w_response_parsed(&w, &r);
    int wl = imap_wbuf_result(&w);
    assert_int_equal(wl, (int)nt);
    assert_memory_equal(out, text, nt);
}

static void accessor_edges(void **state)
{
    (void)state;
    resp_ctx *c = resp_ok("* OK hi\r\n", MR_STRICT);
    imap_fetch_iter it;
    assert_int_equal(imap_fetch_begin(&it, &c->r), -1);
    imap_cap_iter ci;
    assert_int_equal(imap_cap_begin(&ci, &c->r), -1);
    assert_false(imap_cap_has(&c->r, "IMAP4rev1"));
    imap_envelope e;
    assert_int_equal(imap_envelope_decode(&c->r.t, 0, &e), -1);
    assert_int_equal(imap_envelope_decode(&c->r.t, 99, &e), -1);
    imap_body b;
    assert_int_equal(imap_body_decode(&c->r.t, 0, &b), -1);
    mr_slice s = imap_tok_slice(&c->r.t, 99);
    assert_int_equal(s.n, 0);
    assert_int_equal(imap_tok_child(&c->r.t, 0, 0), IMAP_NONE);
    uint64_t v;
    assert_int_equal(imap_tok_u64(&c->r.t, 0, 10, &v), -1);
    /* sequence sets */
    imap_seq_iter si;
    uint32_t lo, hi;
    imap_seq_begin(&si, (mr_slice){"1:*,4:2,7", 9});
    assert_int_equal(imap_seq_next(&si, &lo, &hi), 1);
    assert_int_equal(lo, 1);
    assert_int_equal(hi, IMAP_SEQ_STAR);
    assert_int_equal(imap_seq_next(&si, &lo, &hi), 1);
    assert_int_equal(lo, 4);
    assert_int_equal(hi, 2);
    assert_int_equal(imap_seq_next(&si, &lo, &hi), 1);
    assert_int_equal(lo, 7);
    assert_int_equal(imap_seq_next(&si, &lo, &hi), 0);
    imap_seq_begin(&si, (mr_slice){"$", 1});
    assert_true(si.saved);
    assert_int_equal(imap_seq_next(&si, &lo, &hi), 0);
    imap_seq_begin(&si, (mr_slice){"1,", 2});
    assert_int_equal(imap_seq_next(&si, &lo, &hi), -1);
    imap_seq_begin(&si, (mr_slice){"0", 1});
    assert_int_equal(imap_seq_next(&si, &lo, &hi), -1);
    imap_seq_begin(&si, (mr_slice){"4294967296", 10});
    assert_int_equal(imap_seq_next(&si, &lo, &hi), -1);
    /* unescape */
    char buf[8];
    assert_int_equal(imap_unescape("a\\\\b\\\"", 6, buf, sizeof buf), 4);
    assert_memory_equal(buf, "a\\b\"", 4);
    /* dates */
    imap_datetime dt;
    assert_int_equal(imap_date_parse((mr_slice){"1-Feb-1994", 10}, &dt), 0);
    assert_int_equal(dt.day, 1);
    assert_int_equal(dt.month, 2);
    assert_int_equal(imap_date_parse((mr_slice){"31-dec-2024", 11}, &dt), 0);
    assert_int_equal(imap_date_parse((mr_slice){"32-Dec-2024", 11}, &dt), -1);
    assert_int_equal(imap_date_parse((mr_slice){"1-Foo-1994", 10}, &dt), -1);
    assert_int_equal(imap_date_parse((mr_slice){"1-Feb-94", 8}, &dt), -1);
    assert_int_equal(imap_datetime_parse((mr_slice){"17-Jul-1996 24:00:00 +0000", 26},
                                         MR_STRICT, &dt),
                     -1);
    assert_int_equal(imap_datetime_parse((mr_slice){"17-Jul-1996 23:00:00 +0560", 26},
                                         MR_STRICT, &dt),
                     -1);
    assert_int_equal(imap_datetime_parse((mr_slice){"17-Jul-1996 23:00:00 +0530", 26},
                                         MR_STRICT, &dt),
                     0);
    assert_int_equal(dt.zone, 330);
    const struct {
        const char *name;
        imap_att att;
    } atts[] = {
        {"ALL", IMAP_ATT_ALL},          {"FAST", IMAP_ATT_FAST},
        {"FULL", IMAP_ATT_FULL},        {"ENVELOPE", IMAP_ATT_ENVELOPE},
        {"FLAGS", IMAP_ATT_FLAGS},      {"INTERNALDATE", IMAP_ATT_INTERNALDATE},
        {"RFC822", IMAP_ATT_RFC822},    {"RFC822.HEADER", IMAP_ATT_RFC822_HEADER},
        {"RFC822.SIZE", IMAP_ATT_RFC822_SIZE}, {"RFC822.TEXT", IMAP_ATT_RFC822_TEXT},
        {"BODY", IMAP_ATT_BODY},        {"BODY.PEEK", IMAP_ATT_BODY_PEEK},
        {"BODYSTRUCTURE", IMAP_ATT_BODYSTRUCTURE}, {"UID", IMAP_ATT_UID},
        {"BINARY", IMAP_ATT_BINARY},    {"BINARY.PEEK", IMAP_ATT_BINARY_PEEK},
        {"BINARY.SIZE", IMAP_ATT_BINARY_SIZE}, {"MODSEQ", IMAP_ATT_MODSEQ},
        {"BODYX", IMAP_ATT_OTHER},      {"RFC822.X", IMAP_ATT_OTHER},
        {"X-GM-LABELS", IMAP_ATT_OTHER}, {"U", IMAP_ATT_OTHER},
        {"BINARY.SIZ", IMAP_ATT_OTHER}, {"FLAG", IMAP_ATT_OTHER},
    };
    for (size_t k = 0; k < sizeof atts / sizeof atts[0]; k++) {
        char lower[32];
        size_t n = strlen(atts[k].name);
        for (size_t j = 0; j <= n; j++)
            lower[j] = (char)(atts[k].name[j] >= 'A' && atts[k].name[j] <= 'Z'
                                  ? atts[k].name[j] + 32
                                  : atts[k].name[j]);
        assert_int_equal(imap_att_lookup(atts[k].name, n), atts[k].att);
        assert_int_equal(imap_att_lookup(lower, n), atts[k].att);
    }
    assert_null(imap_code_name(IMAP_CODE_OTHER));
    assert_string_equal(imap_code_name(IMAP_CODE_READ_WRITE), "READ-WRITE");
    assert_null(imap_code_name((imap_code)999));
}

/* The oracle's comparison must see differences, not just agree. */
static int parse_pair_equal(const char *a, const char *b)
{
    static imap_token ta[64], tb[64];
    imap_response ra, rb;
    mr_error err;
    imap_limits lim = imap_limits_default();
    lim.inline_literal_max = 4;
    assert_int_equal(imap_response_parse(a, strlen(a), &lim, &ra, ta, 64, &err), (int)strlen(a));
    assert_int_equal(imap_response_parse(b, strlen(b), &lim, &rb, tb, 64, &err), (int)strlen(b));
    assert_int_equal(imap_toks_equal(&ra.t, &rb.t), imap_toks_equal(&rb.t, &ra.t));
    return imap_response_equal(&ra, &rb);
}

static void equality(void **state)
{
    (void)state;
    assert_true(parse_pair_equal("* X a (b \"c\")\r\n", "* X a (b \"c\")\r\n"));
    assert_true(parse_pair_equal("* X \"ab\"\r\n", "* X {2}\r\nab\r\n"));      /* string forms */
    assert_true(parse_pair_equal("* X \"a\\\"b\"\r\n", "* X {3}\r\na\"b\r\n")); /* escapes */
    assert_true(parse_pair_equal("* X 05 0\r\n", "* X 5 000\r\n"));             /* numbers */
    assert_true(parse_pair_equal("* X NIL\r\n", "* X nil\r\n"));
    assert_false(parse_pair_equal("* X 5\r\n", "* X 6\r\n"));
    assert_false(parse_pair_equal("* X 15\r\n", "* X 5\r\n"));
    assert_false(parse_pair_equal("* X a\r\n", "* X b\r\n"));
    assert_false(parse_pair_equal("* X a\r\n", "* X A\r\n"));                   /* atoms exact */
    assert_false(parse_pair_equal("* X a\r\n", "* X \"a\"\r\n"));               /* atom vs string */
    assert_false(parse_pair_equal("* X \"ab\"\r\n", "* X \"abc\"\r\n"));
    assert_false(parse_pair_equal("* X \"a\\\\\"\r\n", "* X \"a\"\r\n"));
    assert_false(parse_pair_equal("* X (a) b\r\n", "* X (a b)\r\n"));            /* shape */
    assert_false(parse_pair_equal("* X a b\r\n", "* X a\r\n"));
    assert_false(parse_pair_equal("* X {5}\r\n\r\n", "* X {6}\r\n\r\n"));     /* streamed sizes */
    assert_false(parse_pair_equal("* X {5}\r\n\r\n", "* X \"abcde\"\r\n"));
    assert_false(parse_pair_equal("* X a\r\n", "* Y a\r\n"));                   /* header fields */
    assert_false(parse_pair_equal("* OK a\r\n", "* OK b\r\n"));
    assert_false(parse_pair_equal("* 1 EXISTS\r\n", "* 2 EXISTS\r\n"));
    assert_false(parse_pair_equal("a OK x\r\n", "b OK x\r\n"));
    /* imap_tok_is */
    resp_ctx *c = resp_ok("* LIST (\\HasNoChildren) NIL inbox\r\n", MR_STRICT);
    assert_true(imap_tok_is(&c->r.t, 1, "\\hasnochildren"));
    assert_true(imap_tok_is(&c->r.t, 2, "NIL"));
    assert_true(imap_tok_is(&c->r.t, 3, "INBOX"));
    assert_false(imap_tok_is(&c->r.t, 0, "("));
    assert_false(imap_tok_is(&c->r.t, 9, "x"));
    /* sections of every kind */
    c = resp_ok("* 1 FETCH (BODY[TEXT] NIL BODY[2.MIME] NIL BODY[1.3] NIL BODY[HEADER.FIELDS.NOT "
                "(X)] NIL)\r\n",
                MR_STRICT);
    imap_fetch_iter it;
    imap_fetch_att a;
    imap_section sec;
    const imap_section_text want[] = {IMAP_SECT_TEXT, IMAP_SECT_MIME, IMAP_SECT_NONE,
                                      IMAP_SECT_HEADER_FIELDS_NOT};
    assert_int_equal(imap_fetch_begin(&it, &c->r), 0);
    for (int k = 0; k < 4; k++) {
        assert_int_equal(imap_fetch_next(&it, &a), 1);
        assert_int_equal(imap_section_decode(&c->r.t, a.section_tok, &sec), 0);
        assert_int_equal(sec.text, want[k]);
    }
    assert_int_equal(imap_section_decode(&c->r.t, 0, &sec), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(greetings_and_status),
        cmocka_unit_test(providers),
        cmocka_unit_test(mailbox_data),
        cmocka_unit_test(codes),
        cmocka_unit_test(continuation),
        cmocka_unit_test(fetch_envelope),
        cmocka_unit_test(fetch_bodystructure),
        cmocka_unit_test(bodystructure_quirks),
        cmocka_unit_test(fetch_literals_and_sections),
        cmocka_unit_test(quoted_strings_and_text),
        cmocka_unit_test(lenient_misc),
        cmocka_unit_test(bad_inputs),
        cmocka_unit_test(limits),
        cmocka_unit_test(streamed_literal_tokens),
        cmocka_unit_test(accessor_edges),
        cmocka_unit_test(equality),
    };
    return cmocka_run_group_tests_name("imap_response", tests, NULL, NULL);
}
