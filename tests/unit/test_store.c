/* test_store.c -- servers/store.c: accounts, mailboxes, LIST patterns, messages, flags,
 * keywords, views (EXPUNGE renumbering, EXISTS, RECENT), COPY/MOVE, SEARCH keys, POP3
 * helpers, seeding, and the Maildir spool (write/reload round trip, durability order, errors).
 * Spool tests work in a fresh directory under $TMPDIR and remove it afterwards. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "servers/store.h"

/* ------------------------------------------------------------------------------------------ */
/* Helpers */

static time_t fixed_clock(void *ctx)
{
    return *(time_t *)ctx;
}

static time_t clock_value = 1709740937; /* 2024-03-06T16:02:17Z */

static store *open_mem(store_config *cfg_out)
{
    store_config cfg;
    store_config_default(&cfg);
    cfg.now = fixed_clock;
    cfg.now_ctx = &clock_value;
    cfg.uidvalidity = 1000;
    if (cfg_out)
        *cfg_out = cfg;
    store *st;
    assert_int_equal(store_open(&cfg, &st), STORE_OK);
    return st;
}

static const char *msg_a = "From: a@example.com\r\nSubject: alpha\r\n\r\nfirst body\r\n";
static const char *msg_b = "From: b@example.com\r\nSubject: beta\r\nDate: Tue, 05 Mar 2024 "
                           "23:30:00 -0800\r\n\r\nsecond body\r\nline 2\r\nline 3\r\n";

static uint32_t append(store *st, store_mailbox *mb, const char *text)
{
    uint32_t uid = 0;
    store_err e = store_append(st, mb, text, strlen(text), NULL, &uid);
    if (e != STORE_OK)
        fail_msg("append: %s: %s", store_strerror(e), store_errmsg(st));
    return uid;
}

/* Events recorded from store_view_sync(). */
typedef struct events {
    char log[512];
    size_t len;
} events;

static void ev_expunge(void *ctx, uint32_t seq)
{
    events *e = ctx;
    e->len += (size_t)snprintf(e->log + e->len, sizeof e->log - e->len, "X%u ", seq);
}

static void ev_flags(void *ctx, uint32_t seq, const store_msg *m)
{
    events *e = ctx;
    e->len += (size_t)snprintf(e->log + e->len, sizeof e->log - e->len, "F%u:%u ", seq, m->flags);
}

static void ev_exists(void *ctx, uint32_t n)
{
    events *e = ctx;
    e->len += (size_t)snprintf(e->log + e->len, sizeof e->log - e->len, "E%u ", n);
}

static void ev_recent(void *ctx, uint32_t n)
{
    events *e = ctx;
    e->len += (size_t)snprintf(e->log + e->len, sizeof e->log - e->len, "R%u ", n);
}

static const store_view_events all_events = {ev_expunge, ev_flags, ev_exists, ev_recent};

static const char *sync_log(store_view *v, int allow_expunge)
{
    static events e;
    memset(&e, 0, sizeof e);
    store_view_sync(v, allow_expunge, &all_events, &e);
    return e.log;
}

/* A fresh spool directory; rm_rf() removes it. */
static char *make_spool(void)
{
    const char *tmp = getenv("TMPDIR");
    char *path = malloc(4096);
    snprintf(path, 4096, "%s/mailrig-store-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(path));
    return path;
}

static void rm_rf(const char *path)
{
    struct stat sb;
    if (lstat(path, &sb) != 0)
        return;
    if (S_ISDIR(sb.st_mode)) {
        chmod(path, 0700);
        DIR *d = opendir(path);
        struct dirent *de;
        while (d && (de = readdir(d)) != NULL) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                continue;
            char sub[4096];
            snprintf(sub, sizeof sub, "%s/%s", path, de->d_name);
            rm_rf(sub);
        }
        if (d)
            closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

static store *open_spool(const char *dir, store_config *cfg_out)
{
    store_config cfg;
    store_config_default(&cfg);
    cfg.spool = dir;
    cfg.now = fixed_clock;
    cfg.now_ctx = &clock_value;
    cfg.uidvalidity = 5000;
    cfg.hostname = "test.host";
    if (cfg_out)
        *cfg_out = cfg;
    store *st;
    store_err e = store_open(&cfg, &st);
    if (e != STORE_OK)
        fail_msg("store_open: %s", store_errmsg(NULL));
    return st;
}

/* How many entries (not starting with '.') a directory has. */
static int count_files(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        n += de->d_name[0] != '.';
    closedir(d);
    return n;
}

/* The name of the only file in dir (static buffer), or "". */
static const char *only_file(const char *dir)
{
    static char name[512];
    name[0] = '\0';
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL)
        if (de->d_name[0] != '.')
            snprintf(name, sizeof name, "%s", de->d_name);
    if (d)
        closedir(d);
    return name;
}

/* ------------------------------------------------------------------------------------------ */
/* Accounts and mailboxes */

static void accounts(void **state)
{
    (void)state;
    store *st = open_mem(NULL);
    store_account *a;
    int loaded = 7;
    assert_int_equal(store_account_add(st, "alex@example.org", &a, &loaded), STORE_OK);
    assert_int_equal(loaded, 0);
    assert_string_equal(store_account_name(a), "alex@example.org");
    assert_ptr_equal(store_account_find(st, "alex@example.org"), a);
    assert_null(store_account_find(st, "ALEX@example.org"));
    assert_non_null(store_mailbox_find(a, "INBOX"));
    assert_non_null(store_mailbox_find(a, "inbox"));
    assert_int_equal(store_account_add(st, "alex@example.org", NULL, NULL), STORE_E_EXISTS);
    const char *bad[] = {"", ".hidden", "a/b", "a b", "../x", "caf\xc3\xa9"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(store_account_add(st, bad[i], NULL, NULL), STORE_E_NAME);
    assert_non_null(strstr(store_errmsg(st), "invalid account name"));
    store_close(st);
}

static void mailboxes_create_find(void **state)
{
    (void)state;
    store *st = open_mem(NULL);
    store_account *a;
    store_account_add(st, "u", &a, NULL);
    store_mailbox *mb;
    assert_int_equal(store_mailbox_create(st, a, "Archive/2024/March", STORE_MB_ARCHIVE, &mb),
                     STORE_OK);
    assert_string_equal(store_mailbox_name(mb), "Archive/2024/March");
    assert_int_equal(store_mailbox_attrs(mb), STORE_MB_ARCHIVE);
    assert_non_null(store_mailbox_find(a, "Archive")); /* superiors made too */
    assert_non_null(store_mailbox_find(a, "Archive/2024"));
    assert_null(store_mailbox_find(a, "archive")); /* only INBOX is case-insensitive */
    assert_int_equal(store_mailbox_create(st, a, "inbox", 0, NULL), STORE_E_EXISTS);
    assert_int_equal(store_mailbox_create(st, a, "Inbox/Sub", 0, &mb), STORE_OK);
    assert_string_equal(store_mailbox_name(mb), "INBOX/Sub");
    const char *bad[] = {"", "/a", "a/", "a//b", "a\r\nb", "tab\there"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(store_mailbox_create(st, a, bad[i], 0, NULL), STORE_E_NAME);
    char longname[300];
    memset(longname, 'x', 256);
    longname[256] = '\0';
    assert_int_equal(store_mailbox_create(st, a, longname, 0, NULL), STORE_E_NAME);
    /* UIDVALIDITY: from the configured base, one more per mailbox */
    assert_int_equal(store_mailbox_uidvalidity(store_mailbox_find(a, "INBOX")), 1000);
    assert_int_equal(store_mailbox_uidvalidity(store_mailbox_find(a, "Archive")), 1001);
    assert_string_equal(store_special_use_name(STORE_MB_SENT), "\\Sent");
    assert_null(store_special_use_name(STORE_MB_NOSELECT));
    store_close(st);
}

static void mailboxes_limit(void **state)
{
    (void)state;
    store_config cfg;
    store_config_default(&cfg);
    cfg.max_mailboxes = 3;
    store *st;
    assert_int_equal(store_open(&cfg, &st), STORE_OK);
    store_account *a;
    store_account_add(st, "u", &a, NULL);
    assert_int_equal(store_mailbox_create(st, a, "one", 0, NULL), STORE_OK);
    assert_int_equal(store_mailbox_create(st, a, "two", 0, NULL), STORE_OK);
    assert_int_equal(store_mailbox_create(st, a, "three", 0, NULL), STORE_E_LIMIT);
    store_close(st);
}

typedef struct listed {
    char names[1024];
    size_t len;
} listed;

static void list_cb(void *ctx, const store_mailbox *mb, unsigned attrs)
{
    listed *l = ctx;
    l->len += (size_t)snprintf(l->names + l->len, sizeof l->names - l->len, "%s%s%s%s ",
                               store_mailbox_name(mb),
                               attrs & STORE_LIST_HAS_CHILDREN ? "+" : "",
                               attrs & STORE_MB_NOSELECT ? "!" : "",
                               attrs & STORE_MB_SUBSCRIBED ? "*" : "");
}

static const char *list(store_account *a, const char *pattern)
{
    static listed l;
    memset(&l, 0, sizeof l);
    store_list(a, pattern, list_cb, &l);
    return l.names;
}

static void list_patterns(void **state)
{
    (void)state;
    store *st = open_mem(NULL);
    store_account *a;
    store_account_add(st, "u", &a, NULL);
    const char *names[] = {"Sent", "Drafts", "Work/Projects/mailrig", "Work/Admin", "Work-old",
                           "INBOX/Receipts"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        assert_int_equal(store_mailbox_create(st, a, names[i], 0, NULL), STORE_OK);
    assert_int_equal(store_mailbox_subscribe(st, a, "Sent", 1), STORE_OK);
    assert_string_equal(list(a, "*"), "INBOX+ Drafts INBOX/Receipts Sent* Work+ Work-old "
                                      "Work/Admin Work/Projects+ Work/Projects/mailrig ");
    assert_string_equal(list(a, "%"), "INBOX+ Drafts Sent* Work+ Work-old ");
    assert_string_equal(list(a, "Work/%"), "Work/Admin Work/Projects+ ");
    assert_string_equal(list(a, "Work*"), "Work+ Work-old Work/Admin Work/Projects+ "
                                          "Work/Projects/mailrig ");
    assert_string_equal(list(a, "inbox"), "INBOX+ ");
    assert_string_equal(list(a, "iNbOx/%"), "INBOX/Receipts ");
    assert_string_equal(list(a, "%/%/%"), "Work/Projects/mailrig ");
    assert_string_equal(list(a, "sent"), "");
    assert_string_equal(list(a, ""), "");
    assert_int_equal(store_list(a, "*", NULL, NULL), 9);
    store_close(st);
}

static void pattern_matcher(void **state)
{
    (void)state;
    struct {
        const char *pattern, *name;
        int match;
    } cases[] = {
        {"*", "a/b/c", 1},       {"%", "a/b", 0},          {"%", "abc", 1},
        {"a%c", "abc", 1},       {"a%c", "a/c", 0},        {"a*c", "a/b/c", 1},
        {"%/%", "a/b", 1},       {"%/%", "a/b/c", 0},      {"*/c", "a/b/c", 1},
        {"a", "A", 0},           {"INBOX", "INBOX", 1},    {"Inbox", "INBOX", 1},
        {"inbox/x", "INBOX/x", 1}, {"inbox/X", "INBOX/x", 0}, {"INBOX*", "INBOXES", 1},
        {"inbox*", "INBOXES", 0}, {"", "", 1},             {"**%%**", "a/b", 1},
        {"a", "ab", 0},          {"ab", "a", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (store_pattern_match(cases[i].pattern, cases[i].name) != cases[i].match)
            fail_msg("'%s' vs '%s'", cases[i].pattern, cases[i].name);
    /* a pattern that makes naive backtracking exponential: still instant */
    char pat[1100], name[256];
    for (int i = 0; i < 500; i++) {
        pat[2 * i] = '*';
        pat[2 * i + 1] = 'a';
    }
    pat[1000] = 'b';
    pat[1001] = '\0';
    memset(name, 'a', 255);
    name[255] = '\0';
    assert_int_equal(store_pattern_match(pat, name), 0);
    char toolong[1100];
    memset(toolong, '*', 1025);
    toolong[1025] = '\0';
    assert_int_equal(store_pattern_match(toolong, "a"), 0);
}

static void mailbox_delete(void **state)
{
    (void)state;
    store *st = open_mem(NULL);
    store_account *a;
    store_account_add(st, "u", &a, NULL);
    store_mailbox *parent, *child;
    store_mailbox_create(st, a, "P", 0, &parent);
    store_mailbox_create(st, a, "P/C", 0, &child);
    append(st, parent, msg_a);
    size_t bytes = store_bytes(st);
    assert_true(bytes > 0);
    store_view *v;
    assert_int_equal(store_view_open(st, parent, 0, &v), STORE_OK);
    assert_int_equal(store_mailbox_delete(st, a, "INBOX"), STORE_E_NOTALLOWED);
    assert_int_equal(store_mailbox_delete(st, a, "nope"), STORE_E_NOTFOUND);
    /* with an inferior: emptied and kept as \Noselect */
    assert_int_equal(store_mailbox_delete(st, a, "P"), STORE_OK);
    assert_int_equal(store_mailbox_attrs(parent) & STORE_MB_NOSELECT, STORE_MB_NOSELECT);
    assert_int_equal(store_mailbox_count(parent), 0);
    assert_int_equal(store_bytes(st), 0);
    assert_null(store_view_mailbox(v));
    assert_int_equal(store_view_sync(v, 1, NULL, NULL), -STORE_E_NOTFOUND);
    store_view_close(v);
    assert_int_equal(store_append(st, parent, msg_a, strlen(msg_a), NULL, NULL),
                     STORE_E_NOTALLOWED);
    assert_int_equal(store_view_open(st, parent, 0, &v), STORE_E_NOTALLOWED);
    assert_int_equal(store_mailbox_delete(st, a, "P"), STORE_E_NOTALLOWED);
    assert_string_equal(list(a, "*"), "INBOX P+! P/C ");
    /* leaves go; then the \Noselect parent can go */
    assert_int_equal(store_mailbox_delete(st, a, "P/C"), STORE_OK);
    assert_int_equal(store_mailbox_delete(st, a, "P"), STORE_OK);
    assert_string_equal(list(a, "*"), "INBOX ");
    /* a new mailbox of the same name gets a new UIDVALIDITY (RFC 3501 2.3.1.1) */
    store_mailbox_create(st, a, "P", 0, &parent);
    assert_int_equal(store_mailbox_uidvalidity(parent), 1003);
    store_close(st);
}

static void mailbox_rename(void **state)
{
    (void)state;
    store *st = open_mem(NULL);
    store_account *a;
    store_account_add(st, "u", &a, NULL);
    store_mailbox *work, *sub;
    store_mailbox_create(st, a, "Work", 0, &work);
    store_mailbox_create(st, a, "Work/Sub", 0, &sub);
    store_mailbox_create(st, a, "Other", 0, NULL);
    uint32_t uid = append(st, sub, msg_a);
    uint32_t uv = store_mailbox_uidvalidity(sub);
    store_view *v;
    store_view_open(st, sub, 0, &v);
    assert_int_equal(store_mailbox_rename(st, a, "Work", "Other"), STORE_E_EXISTS);
    assert_int_equal(store_mailbox_rename(st, a, "Work", "Work/Sub/Deeper"), STORE_E_NOTALLOWED);
    assert_int_equal(store_mailbox_rename(st, a, "Nope", "X"), STORE_E_NOTFOUND);
    assert_int_equal(store_mailbox_rename(st, a, "Work", "a//b"), STORE_E_NAME);
    assert_int_equal(store_mailbox_rename(st, a, "Work", "Jobs/Current"), STORE_OK);
    assert_string_equal(list(a, "*"), "INBOX Jobs+ Jobs/Current+ Jobs/Current/Sub Other ");
    assert_ptr_equal(store_mailbox_find(a, "Jobs/Current/Sub"), sub);
    assert_int_equal(store_mailbox_uidvalidity(sub), uv);
    assert_non_null(store_mailbox_by_uid(sub, uid));
    assert_ptr_equal(store_view_mailbox(v), sub); /* the view follows */
    store_view_close(v);
    /* INBOX: its messages move, INBOX stays */
    store_mailbox *inbox = store_mailbox_find(a, "INBOX");
    append(st, inbox, msg_a);
    append(st, inbox, msg_b);
    assert_int_equal(store_mailbox_rename(st, a, "inbox", "Old"), STORE_OK);
    assert_int_equal(store_mailbox_count(inbox), 0);
    store_mailbox *old = store_mailbox_find(a, "Old");
    assert_int_equal(store_mailbox_count(old), 2);
    assert_int_equal(store_mailbox_msg(old, 1)->uid, 2);
    assert_int_equal(store_mailbox_uidnext(inbox), 3); /* UIDs are not reused */
    store_close(st);
}

/* ------------------------------------------------------------------------------------------ */
/* Messages */

static void append_basics(void **state)
{
    (void)state;
    store *st = open_mem(NULL);
    store_account *a;
    store_account_add(st, "u", &a, NULL);
    store_mailbox *in = store_mailbox_find(a, "INBOX");
    uint64_t c0 = store_mailbox_changes(in);
    assert_int_equal(append(st, in, msg_a), 1);
    assert_int_equal(append(st, in, msg_b), 2);
    assert_true(store_mailbox_changes(in) > c0);
    assert_int_equal(store_mailbox_uidnext(in), 3);
    store_msg *m = store_mailbox_by_uid(in, 2);
    assert_non_null(m);
    assert_int_equal(m->size, strlen(msg_b));
    assert_memory_equal(m->data, msg_b, m->size);
    assert_int_equal(m->internal_date, clock_value);
    assert_int_equal(m->sent_day, 20240305); /* as written, not in UTC */
    assert_int_equal(m->sent_date, 1709710200);
    assert_int_equal(m->nparts, 1);
    assert_int_equal(m->parts[0].body_lines, 3);
    assert_null(store_mailbox_by_uid(in, 3));
    assert_null(store_mailbox_msg(in, 2));
    assert_int_equal(store_mailbox_msg(in, 0)->sent_date, INT64_MIN);
    /* bare LF becomes CRLF; the size is what IMAP sends */
    const char *lf = "Subject: lf\n\nbody\n";
    uint32_t uid;
    assert_int_equal(store_append(st, in, lf, strlen(lf), NULL, &uid), STORE_OK);
    m = store_mailbox_by_uid(in, uid);
    assert_int_equal(m->size, strlen(lf) + 3);
    assert_memory_equal(m->data, "Subject: lf\r\n\r\nbody\r\n", m->size);
    /* options: flags, keywords, internal date */
    int kw = store_keyword(st, in, "$Forwarded", 10, 1);
    assert_int_equal(kw, 0);
    store_append_opts o = {STORE_F_SEEN | 0x100, 1u << kw | 1u << 5, 1, 1000000000, -300};
    assert_int_equal(store_append(st, in, msg_a, strlen(msg_a), &o, &uid), STORE_OK);
    m = store_mailbox_by_uid(in, uid);
    assert_int_equal(m->flags, STORE_F_SEEN);
    assert_int_equal(m->keywords, 1); /* undefined keyword bits dropped */
    assert_int_equal(m->internal_date, 1000000000);
    assert_int_equal(m->internal_zone, -300);
    /* the part tree of a real message */
    const char *mp = "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\none\r\n"
                     "--b\r\nContent-Type: text/html\r\n\r\n<b>two</b>\r\n--b--\r\n";
    assert_int_equal(store_append(st, in, mp, strlen(mp), NULL, &uid), STORE_OK);
    m = store_mailbox_by_uid(in, uid);
    assert_int_equal(m->nparts, 3);
    assert_int_equal(m->parts[2].body.n, 10);
    assert_memory_equal(m->parts[2].body.p, "<b>two</b>", 10);
    assert_ptr_equal(m->parts[0].header.p, m->data);
    store_close(st);
}

static void append_limits(void **state)
{
    (void)state;
    store_config cfg;
    store_config_default(&cfg);
    cfg.max_message_size = 100;
    cfg.max_total_bytes = 100 + 2 * sizeof(mime_part) + 50;
    cfg.max_messages = 2;
    store *st;
    assert_int_equal(store_open(&cfg, &st), STORE_OK);
    store_account *a;
    store_account_add(st, "u", &a, NULL);
    store_mailbox *in = store_mailbox_find(a, "INBOX");
    char big[101];
    memset(big, 'x', 101);
    assert_int_equal(store_append(st, in, big, 101, NULL, NULL), STORE_E_TOOBIG);
    assert_non_null(strstr(store_errmsg(st), "101 bytes is over the limit of 100"));
    /* 99 bytes with 2 bare LFs become 101: too big as stored */
    char lf[99];
    memset(lf, 'y', 99);
    lf[10] = lf[20] = '\n';
    assert_int_equal(store_append(st, in, lf, 99, NULL, NULL), STORE_E_TOOBIG);
    assert_int_equal(store_append(st, in, big, 100, NULL, NULL), STORE_OK);
    assert_int_equal(store_append(st, in, big, 60, NULL, NULL), STORE_E_QUOTA);
    assert_int_equal(store_append(st, in, big, 10, NULL, NULL), STORE_OK);
    assert_int_equal(store_append(st, in, big, 1, NULL, NULL), STORE_E_LIMIT);
    assert_int_equal(store_mailbox_count(in), 2);
    assert_int_equal(store_mailbox_uidnext(in), 3); /* failed appends use no UID */
    store_close(st);
}

static void keywords(void **state)
{
    (void)state;
    store *st = open_mem(NULL);
    store_account *a;
    store_account_add(st, "u", &a, NULL);
    store_mailbox *in = store_mailbox_find(a, "INBOX");
    assert_int_equal(store_keyword(st, in, "Work", 4, 0), -STORE_E_NOTFOUND);
    assert_int_equal(store_keyword(st, in, "Work", 4, 1), 0);
    assert_int_equal(store_keyword(st, in, "work", 4, 1), 0);
    assert_int_equal(store_keyword(st, in, "$Junk", 5, 1), 1);
    assert_string_equal(store_keyword_name(in, 1), "$Junk");
    assert_null(store_keyword_name(in, 2));
    const char *bad[] = {"\\Seen", "a b", "a(b", "a]", "", "caf\xc3\xa9", "a*"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(store_keyword(st, in, bad[i], strlen(bad[i]), 1), -STORE_E_NAME);
    for (int i = 2; i < STORE_MAX_KEYWORDS; i++) {
        char name[16];
        snprintf(name, sizeof name, "k%d", i);
        assert_int_equal(store_keyword(st, in, name, strlen(name), 1), i);
    }
    assert_int_equal(store_keyword(st, in, "one-too-many", 12, 1), -STORE_E_LIMIT);
    assert_int_equal(store_keyword_count(in), STORE_MAX_KEYWORDS);
    store_close(st);
}

static void flags_and_actor(void **state)
{
    (void)state;
    store *st = open_mem(NULL);
    store_account *a;
    store_account_add(st, "u", &a, NULL);
    store_mailbox *in = store_mailbox_find(a, "INBOX");
    append(st, in, msg_a);
    append(st, in, msg_b);
    store_view *me, *other;
    store_view_open(st, in, 0, &me);
    store_view_open(st, in, 0, &other);
    store_msg *m = store_view_msg(me, 2);
    int kw = store_keyword(st, in, "Work", 4, 1);
    uint64_t ms = store_mailbox_highestmodseq(in);
    int changed;
    assert_int_equal(store_set_flags(st, in, m, STORE_FLAGS_ADD, STORE_F_SEEN | STORE_F_FLAGGED,
                                     1u << kw, me, &changed),
                     STORE_OK);
    assert_int_equal(changed, 1);
    assert_int_equal(m->flags, STORE_F_SEEN | STORE_F_FLAGGED);
    assert_int_equal(m->keywords, 1);
    assert_true(m->modseq > ms);
    assert_int_equal(store_mailbox_highestmodseq(in), m->modseq);
    /* the same again changes nothing and bumps nothing */
    uint64_t c = store_mailbox_changes(in);
    store_set_flags(st, in, m, STORE_FLAGS_ADD, STORE_F_SEEN, 0, me, &changed);
    assert_int_equal(changed, 0);
    assert_int_equal(store_mailbox_changes(in), c);
    store_set_flags(st, in, m, STORE_FLAGS_REMOVE, STORE_F_FLAGGED, 1u << kw, me, &changed);
    assert_int_equal(m->flags, STORE_F_SEEN);
    assert_int_equal(m->keywords, 0);
    store_set_flags(st, in, m, STORE_FLAGS_SET, STORE_F_DRAFT | 0xff00, 0, me, &changed);
    assert_int_equal(m->flags, STORE_F_DRAFT);
    /* the acting session is not told of its own changes; the other one is, once */
    assert_string_equal(sync_log(me, 1), "");
    assert_string_equal(sync_log(other, 1), "F2:16 ");
    assert_string_equal(sync_log(other, 1), "");
    store_view_close(me);
    store_view_close(other);
    store_close(st);
}

/* ------------------------------------------------------------------------------------------ */
/* Views */

static int uid_is_even(void *ctx, const store_msg *m)
{
    (void)ctx;
    return m->uid % 2 == 0;
}

static void expunge_renumbering(void **state)
{
    (void)state;
    store *st = open_mem(NULL);
    store_account *a;
    store_account_add(st, "u", &a, NULL);
    store_mailbox *in = store_mailbox_find(a, "INBOX");
    for (int i = 0; i < 6; i++)
        append(st, in, msg_a);
    store_view *me, *busy, *idle;
    store_view_open(st, in, 0, &me);
    store_view_open(st, in, 0, &busy);
    store_view_open(st, in, 0, &idle);
    /* \Deleted on seqs 2, 3 and 5 */
    uint32_t del[] = {2, 3, 5};
    for (int i = 0; i < 3; i++)
        store_set_flags(st, in, store_view_msg(me, del[i]), STORE_FLAGS_ADD, STORE_F_DELETED, 0,
                        me, NULL);
    events e;
    memset(&e, 0, sizeof e);
    assert_int_equal(store_view_expunge(st, me, NULL, NULL, &all_events, &e), STORE_OK);
    /* each EXPUNGE counts after the previous ones: 2, then 3 became 2, then 5 became 3 */
    assert_string_equal(e.log, "X2 X2 X3 ");
    assert_int_equal(store_view_count(me), 3);
    assert_int_equal(store_view_uid(me, 3), 6);
    assert_int_equal(store_mailbox_count(in), 3);
    /* a session in the middle of a FETCH may not hear EXPUNGE: it keeps gaps (and is not
     * told of flag changes on messages that are gone) */
    assert_string_equal(sync_log(busy, 0), "");
    assert_int_equal(store_view_count(busy), 6);
    assert_null(store_view_msg(busy, 2));
    assert_int_equal(store_view_uid(busy, 2), 2);
    assert_non_null(store_view_msg(busy, 4));
    assert_string_equal(sync_log(busy, 0), "");
    assert_string_equal(sync_log(busy, 1), "X2 X2 X3 ");
    assert_int_equal(store_view_count(busy), 3);
    /* an idle session hears it all at once */
    assert_string_equal(sync_log(idle, 1), "X2 X2 X3 ");
    /* expunge with a predicate (UID EXPUNGE, POP3 QUIT) */
    memset(&e, 0, sizeof e);
    assert_int_equal(store_view_expunge(st, me, uid_is_even, NULL, &all_events, &e), STORE_OK);
    assert_string_equal(e.log, "X2 X2 "); /* UIDs 4 and 6 were seqs 2 and 3 */
    assert_int_equal(store_view_uid(me, 1), 1);
    assert_int_equal(store_view_count(me), 1);
    store_view_close(busy);
    store_view_close(idle);
    /* a read-only view may not expunge */
    store_view *ro;
    store_view_open(st, in, 1, &ro);
    assert_int_equal(store_view_expunge(st, ro, NULL, NULL, NULL, NULL), STORE_E_NOTALLOWED);
    store_view_close(ro);
    store_view_close(me);
    store_close(st);
}

static void exists_and_recent(void **state)
{
    (void)state;
    store *st = open_mem(NULL);
    store_account *a;
    store_account_add(st, "u", &a, NULL);
    store_mailbox *in = store_mailbox_find(a, "INBOX");
    append(st, in, msg_a);
    append(st, in, msg_b);
    store_status s;
    store_mailbox_status(in, &s);
    assert_int_equal(s.messages, 2);
    assert_int_equal(s.recent, 2);
    assert_int_equal(s.unseen, 2);
    assert_int_equal(s.first_unseen, 1);
    assert_int_equal(s.uidnext, 3);
    assert_int_equal(s.uidvalidity, 1000);
    assert_int_equal(s.size, strlen(msg_a) + strlen(msg_b));
    /* EXAMINE sees \Recent without taking it; SELECT takes it */
    store_view *ro, *first, *second;
    store_view_open(st, in, 1, &ro);
    assert_int_equal(store_view_recent_count(ro), 2);
    store_view_open(st, in, 0, &first);
    assert_int_equal(store_view_recent_count(first), 2);
    assert_true(store_view_recent(first, 1));
    assert_false(store_view_recent(first, 3));
    store_view_open(st, in, 0, &second);
    assert_int_equal(store_view_recent_count(second), 0);
    store_mailbox_status(in, &s);
    assert_int_equal(s.recent, 0);
    /* an arrival: EXISTS for everyone, \Recent only for the first session to sync */
    store_deliver(st, "u", msg_a, strlen(msg_a), NULL);
    assert_int_equal(store_deliver(st, "nobody", msg_a, strlen(msg_a), NULL), STORE_E_NOTFOUND);
    assert_string_equal(sync_log(second, 0), "E3 R1 ");
    assert_string_equal(sync_log(first, 0), "E3 R2 ");
    assert_string_equal(sync_log(first, 0), "");
    assert_true(store_view_recent(second, 3));
    assert_false(store_view_recent(first, 3));
    /* seen flags and first unseen */
    store_set_flags(st, in, store_mailbox_msg(in, 0), STORE_FLAGS_ADD, STORE_F_SEEN, 0, NULL,
                    NULL);
    store_mailbox_status(in, &s);
    assert_int_equal(s.unseen, 2);
    assert_int_equal(s.first_unseen, 2);
    /* UID to seq mapping for UID ranges */
    assert_int_equal(store_view_seq_from_uid(first, 0), 1);
    assert_int_equal(store_view_seq_from_uid(first, 2), 2);
    assert_int_equal(store_view_seq_from_uid(first, 4), 4);
    assert_int_equal(store_view_uid(first, 0), 0);
    assert_int_equal(store_view_uid(first, 4), 0);
    assert_null(store_view_msg(first, 4));
    store_view_close(ro);
    store_view_close(first);
    store_view_close(second);
    store_close(st);
}

static void copy_and_move(void **state)
{
    (void)state;
    store *st = open_mem(NULL);
    store_account *a;
    store_account_add(st, "u", &a, NULL);
    store_mailbox *in = store_mailbox_find(a, "INBOX"), *arch, *full;
    store_mailbox_create(st, a, "Archive", 0, &arch);
    append(st, arch, msg_b); /* so that UIDs differ between the mailboxes */
    append(st, in, msg_a);
    append(st, in, msg_b);
    append(st, in, msg_a);
    int kin = store_keyword(st, in, "Todo", 4, 1);
    store_keyword(st, arch, "Other", 5, 1);
    store_msg *m1 = store_mailbox_msg(in, 0), *m3 = store_mailbox_msg(in, 2);
    store_set_flags(st, in, m1, STORE_FLAGS_SET, STORE_F_FLAGGED, 1u << kin, NULL, NULL);
    size_t bytes = store_bytes(st);
    store_msg *set[] = {m1, m3};
    uint32_t uids[2];
    assert_int_equal(store_copy(st, in, set, 2, arch, uids), STORE_OK);
    assert_int_equal(uids[0], 2);
    assert_int_equal(uids[1], 3);
    assert_int_equal(store_bytes(st), bytes); /* copies share their bytes */
    store_msg *c = store_mailbox_by_uid(arch, 2);
    assert_ptr_equal(c->data, m1->data);
    assert_int_equal(c->flags, STORE_F_FLAGGED);
    assert_int_equal(c->keywords, 1u << 1); /* "Todo" is keyword 1 in Archive */
    assert_string_equal(store_keyword_name(arch, 1), "Todo");
    assert_int_equal(c->internal_date, m1->internal_date);
    /* all or nothing: a destination that can take only part of it takes none */
    store_config cfg;
    store *st2 = open_mem(&cfg);
    store_close(st2);
    store_mailbox_create(st, a, "Full", 0, &full);
    store_mailbox_create(st, a, "Full/Child", 0, NULL);
    store_mailbox_delete(st, a, "Full"); /* now \Noselect */
    assert_int_equal(store_copy(st, in, set, 2, full, NULL), STORE_E_NOTALLOWED);
    /* MOVE: copy, then EXPUNGE from the source view */
    store_view *v;
    store_view_open(st, in, 0, &v);
    events e;
    memset(&e, 0, sizeof e);
    assert_int_equal(store_move(st, v, set, 2, arch, uids, &all_events, &e), STORE_OK);
    assert_string_equal(e.log, "X1 X2 ");
    assert_int_equal(uids[0], 4);
    assert_int_equal(store_mailbox_count(in), 1);
    assert_int_equal(store_mailbox_count(arch), 5);
    assert_int_equal(store_bytes(st), bytes);
    store_view_close(v);
    store_close(st);
}

static void copy_all_or_nothing(void **state)
{
    (void)state;
    store_config cfg;
    store_config_default(&cfg);
    cfg.max_messages = 3;
    store *st;
    store_open(&cfg, &st);
    store_account *a;
    store_account_add(st, "u", &a, NULL);
    store_mailbox *in = store_mailbox_find(a, "INBOX"), *dst;
    store_mailbox_create(st, a, "Dst", 0, &dst);
    append(st, in, msg_a);
    append(st, in, msg_b);
    append(st, dst, msg_a);
    append(st, dst, msg_a);
    store_msg *set[] = {store_mailbox_msg(in, 0), store_mailbox_msg(in, 1)};
    uint64_t changes = store_mailbox_changes(dst);
    assert_int_equal(store_copy(st, in, set, 2, dst, NULL), STORE_E_LIMIT);
    assert_int_equal(store_mailbox_count(dst), 2);
    assert_int_equal(store_mailbox_changes(dst), changes);
    assert_int_equal(store_copy(st, in, set, 1, dst, NULL), STORE_OK);
    store_close(st);
}

/* ------------------------------------------------------------------------------------------ */
/* SEARCH, POP3 */

static void search_keys(void **state)
{
    (void)state;
    store *st = open_mem(NULL);
    store_account *a;
    store_account_add(st, "u", &a, NULL);
    store_mailbox *in = store_mailbox_find(a, "INBOX");
    /* internal date 2024-03-05 23:30 -0800 = 2024-03-06 07:30 UTC */
    store_append_opts o = {STORE_F_SEEN, 0, 1, 1709710200, -480};
    const char *text = "From: Maria <maria@example.com>\r\nSubject: Quarterly\r\n REPORT\r\n"
                       "Date: Tue, 05 Mar 2024 23:30:00 -0800\r\nX-Tag: abc\r\n\r\n"
                       "Numbers are FINAL.\r\n";
    uint32_t uid;
    store_append(st, in, text, strlen(text), &o, &uid);
    store_msg *m = store_mailbox_by_uid(in, uid);
    int kw = store_keyword(st, in, "Work", 4, 1);
    store_set_flags(st, in, m, STORE_FLAGS_ADD, 0, 1u << kw, NULL, NULL);
    struct {
        store_key key;
        int match;
    } cases[] = {
        {{STORE_KEY_ALL, 0, 0, 0, 0, NULL, NULL, 0}, 1},
        {{STORE_KEY_FLAGS, STORE_F_SEEN, 0, 0, 0, NULL, NULL, 0}, 1},
        {{STORE_KEY_FLAGS, STORE_F_SEEN | STORE_F_FLAGGED, 0, 0, 0, NULL, NULL, 0}, 0},
        {{STORE_KEY_NOFLAGS, STORE_F_DELETED, 0, 0, 0, NULL, NULL, 0}, 1},
        {{STORE_KEY_NOFLAGS, STORE_F_SEEN, 0, 0, 0, NULL, NULL, 0}, 0},
        {{STORE_KEY_KEYWORD, 0, 0, 0, 0, NULL, NULL, 0}, 1},
        {{STORE_KEY_KEYWORD, 0, 1, 0, 0, NULL, NULL, 0}, 0},
        {{STORE_KEY_KEYWORD, 0, -1, 0, 0, NULL, NULL, 0}, 0},
        {{STORE_KEY_UNKEYWORD, 0, -1, 0, 0, NULL, NULL, 0}, 1},
        {{STORE_KEY_UNKEYWORD, 0, 0, 0, 0, NULL, NULL, 0}, 0},
        /* internal date in its own zone is the 5th */
        {{STORE_KEY_ON, 0, 0, 20240305, 0, NULL, NULL, 0}, 1},
        {{STORE_KEY_ON, 0, 0, 20240306, 0, NULL, NULL, 0}, 0},
        {{STORE_KEY_BEFORE, 0, 0, 20240306, 0, NULL, NULL, 0}, 1},
        {{STORE_KEY_BEFORE, 0, 0, 20240305, 0, NULL, NULL, 0}, 0},
        {{STORE_KEY_SINCE, 0, 0, 20240305, 0, NULL, NULL, 0}, 1},
        {{STORE_KEY_SINCE, 0, 0, 20240306, 0, NULL, NULL, 0}, 0},
        {{STORE_KEY_SENTON, 0, 0, 20240305, 0, NULL, NULL, 0}, 1},
        {{STORE_KEY_SENTBEFORE, 0, 0, 20240305, 0, NULL, NULL, 0}, 0},
        {{STORE_KEY_SENTSINCE, 0, 0, 20240301, 0, NULL, NULL, 0}, 1},
        {{STORE_KEY_LARGER, 0, 0, 0, 50, NULL, NULL, 0}, 1},
        {{STORE_KEY_LARGER, 0, 0, 0, 500, NULL, NULL, 0}, 0},
        {{STORE_KEY_SMALLER, 0, 0, 0, 500, NULL, NULL, 0}, 1},
        {{STORE_KEY_HEADER, 0, 0, 0, 0, "subject", "quarterly report", 16}, 1},
        {{STORE_KEY_HEADER, 0, 0, 0, 0, "Subject", "final", 5}, 0},
        {{STORE_KEY_HEADER, 0, 0, 0, 0, "x-tag", "", 0}, 1},
        {{STORE_KEY_HEADER, 0, 0, 0, 0, "Cc", "", 0}, 0},
        {{STORE_KEY_HEADER, 0, 0, 0, 0, "From", "MARIA@", 6}, 1},
        {{STORE_KEY_BODY, 0, 0, 0, 0, NULL, "final.", 6}, 1},
        {{STORE_KEY_BODY, 0, 0, 0, 0, NULL, "Quarterly", 9}, 0},
        {{STORE_KEY_TEXT, 0, 0, 0, 0, NULL, "quarterly", 9}, 1},
        {{STORE_KEY_TEXT, 0, 0, 0, 0, NULL, "nowhere", 7}, 0},
        {{STORE_KEY_TEXT, 0, 0, 0, 0, NULL, "", 0}, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (store_msg_match(m, &cases[i].key) != cases[i].match)
            fail_msg("search case %zu", i);
    /* a message without a Date: never matches SENT* */
    store_append(st, in, msg_a, strlen(msg_a), NULL, &uid);
    store_key since = {STORE_KEY_SENTSINCE, 0, 0, 19000101, 0, NULL, NULL, 0};
    assert_int_equal(store_msg_match(store_mailbox_by_uid(in, uid), &since), 0);
    /* substring search stays linear on a hostile needle */
    size_t n = 1 << 20;
    char *hay = malloc(n);
    memset(hay, 'a', n);
    memcpy(hay, "Subject: x\r\n\r\n", 14);
    store_append(st, in, hay, n, NULL, &uid);
    char needle[4096];
    memset(needle, 'a', sizeof needle - 1);
    needle[sizeof needle - 1] = 'b';
    store_key body = {STORE_KEY_BODY, 0, 0, 0, 0, NULL, needle, sizeof needle};
    assert_int_equal(store_msg_match(store_mailbox_by_uid(in, uid), &body), 0);
    free(hay);
    store_close(st);
}

static void pop3_helpers(void **state)
{
    (void)state;
    store *st = open_mem(NULL);
    store_account *a;
    store_account_add(st, "u", &a, NULL);
    store_mailbox *in = store_mailbox_find(a, "INBOX");
    uint32_t uid = append(st, in, msg_b);
    store_msg *m = store_mailbox_by_uid(in, uid);
    size_t header = strlen(msg_b) - strlen("second body\r\nline 2\r\nline 3\r\n");
    assert_int_equal(store_msg_top(m, 0), header);
    assert_int_equal(store_msg_top(m, 1), header + 13);
    assert_int_equal(store_msg_top(m, 2), header + 21);
    assert_int_equal(store_msg_top(m, 99), m->size);
    char out[32];
    assert_int_equal(store_msg_uidl(in, m, out, sizeof out), 6);
    assert_string_equal(out, "1000.1");
    assert_int_equal(store_msg_uidl(in, m, out, 6), -1);
    /* a header-only message */
    uid = append(st, in, "Subject: only\r\n");
    assert_int_equal(store_msg_top(store_mailbox_by_uid(in, uid), 5), 15);
    store_close(st);
}

static void seeding(void **state)
{
    (void)state;
    store *st = open_mem(NULL);
    store_account *a;
    store_account_add(st, "u", &a, NULL);
    assert_int_equal(store_seed(st, a, "INBOX", "profiles/messages",
                                "plain-text.eml:S multipart-alternative.eml attachment-pdf.eml"
                                " utf8-headers.eml,forward-rfc822.eml:SF"),
                     STORE_OK);
    assert_int_equal(store_seed(st, a, "Sent", "profiles/messages", "thread-reply.eml:S"),
                     STORE_OK);
    store_mailbox *in = store_mailbox_find(a, "INBOX");
    assert_int_equal(store_mailbox_count(in), 5);
    store_msg *m = store_mailbox_msg(in, 0);
    assert_int_equal(m->flags, STORE_F_SEEN);
    assert_int_equal(m->internal_date, 1709543550); /* Mon, 04 Mar 2024 09:12:30 +0000 */
    assert_int_equal(store_mailbox_msg(in, 4)->flags, STORE_F_SEEN | STORE_F_FLAGGED);
    assert_int_equal(store_mailbox_msg(in, 2)->nparts, 5);
    assert_int_equal(store_mailbox_count(store_mailbox_find(a, "Sent")), 1);
    assert_int_equal(store_seed(st, a, "INBOX", "profiles/messages", "missing.eml"),
                     STORE_E_NOTFOUND);
    assert_non_null(strstr(store_errmsg(st), "profiles/messages/missing.eml"));
    store_close(st);
}

/* ------------------------------------------------------------------------------------------ */
/* The Maildir spool */

typedef struct trace_log {
    char steps[2048];
    size_t len;
} trace_log;

static void trace_cb(void *ctx, const char *step, const char *path)
{
    trace_log *t = ctx;
    const char *where = strstr(path, "/u/");
    t->len += (size_t)snprintf(t->steps + t->len, sizeof t->steps - t->len, "%s:%s ", step,
                               where ? where + 3 : path);
}

static void spool_deliver_durable(void **state)
{
    (void)state;
    char *dir = make_spool();
    store_config cfg;
    store *st = open_spool(dir, &cfg);
    store_close(st);
    trace_log t;
    memset(&t, 0, sizeof t);
    cfg.trace = trace_cb;
    cfg.trace_ctx = &t;
    assert_int_equal(store_open(&cfg, &st), STORE_OK);
    store_account *a;
    assert_int_equal(store_account_add(st, "u", &a, NULL), STORE_OK);
    memset(&t, 0, sizeof t);
    uint32_t uid;
    assert_int_equal(store_deliver(st, "u", msg_a, strlen(msg_a), &uid), STORE_OK);
    /* when deliver returns, the file is in new/, with the bytes, and its UID is recorded */
    char path[4096];
    snprintf(path, sizeof path, "%s/u/new", dir);
    assert_int_equal(count_files(path), 1);
    char file[4096 + 512 + 2];
    snprintf(file, sizeof file, "%s/%s", path, only_file(path));
    struct stat sb;
    assert_int_equal(stat(file, &sb), 0);
    assert_int_equal(sb.st_size, strlen(msg_a));
    assert_int_equal(sb.st_mtime, clock_value); /* INTERNALDATE */
    snprintf(path, sizeof path, "%s/u/tmp", dir);
    assert_int_equal(count_files(path), 0);
    /* the order: data written and fsynced, UID recorded, renamed, directory fsynced */
    char want[1024];
    const char *base = strrchr(file, '/') + 1;
    snprintf(want, sizeof want,
             "write:tmp/%s fsync:tmp/%s uidlist:mailrig-uidlist rename:new/%s fsync-dir:new ",
             base, base, base);
    assert_string_equal(t.steps, want);
    store_close(st);
    rm_rf(dir);
    free(dir);
}

static void spool_round_trip(void **state)
{
    (void)state;
    char *dir = make_spool();
    store *st = open_spool(dir, NULL);
    store_account *a;
    int loaded;
    assert_int_equal(store_account_add(st, "alex@example.org", &a, &loaded), STORE_OK);
    assert_int_equal(loaded, 0);
    store_mailbox *in = store_mailbox_find(a, "INBOX"), *sent, *odd;
    assert_int_equal(store_mailbox_create(st, a, "Sent Messages", STORE_MB_SENT, &sent), STORE_OK);
    assert_int_equal(store_mailbox_create(st, a, "Projects/v1.2 100%", 0, &odd), STORE_OK);
    assert_int_equal(store_mailbox_subscribe(st, a, "Sent Messages", 1), STORE_OK);
    int kw = store_keyword(st, in, "$Forwarded", 10, 1);
    int kw2 = store_keyword(st, in, "Work", 4, 1);
    assert_int_equal(kw2, 1);
    for (int i = 0; i < 4; i++)
        append(st, in, i % 2 ? msg_b : msg_a);
    store_append_opts o = {STORE_F_SEEN | STORE_F_ANSWERED, 1u << kw2, 1, 1600000000, 60};
    uint32_t uid5;
    assert_int_equal(store_append(st, in, msg_b, strlen(msg_b), &o, &uid5), STORE_OK);
    append(st, sent, msg_a);
    append(st, odd, msg_b);
    store_set_flags(st, in, store_mailbox_msg(in, 1), STORE_FLAGS_ADD,
                    STORE_F_FLAGGED | STORE_F_DRAFT, 1u << kw, NULL, NULL);
    store_set_flags(st, in, store_mailbox_msg(in, 2), STORE_FLAGS_ADD, STORE_F_DELETED, 0, NULL,
                    NULL);
    store_view *v;
    store_view_open(st, in, 0, &v);
    store_view_expunge(st, v, NULL, NULL, NULL, NULL);
    store_view_close(v);
    uint32_t uv_in = store_mailbox_uidvalidity(in), uv_odd = store_mailbox_uidvalidity(odd);
    size_t bytes = store_bytes(st);
    store_close(st);
    /* the directory layout */
    char path[4096];
    snprintf(path, sizeof path, "%s/alex@example.org/.Projects.v1%%2E2 100%%25/cur", dir);
    assert_int_equal(count_files(path), 0);
    snprintf(path, sizeof path, "%s/alex@example.org/.Projects.v1%%2E2 100%%25/new", dir);
    assert_int_equal(count_files(path), 1);
    snprintf(path, sizeof path, "%s/alex@example.org/.Projects/maildirfolder", dir);
    assert_int_equal(access(path, F_OK), 0);
    snprintf(path, sizeof path, "%s/alex@example.org/cur", dir);
    assert_int_equal(count_files(path), 2); /* the flagged ones moved to cur/ */
    /* reload */
    st = open_spool(dir, NULL);
    assert_int_equal(store_account_add(st, "alex@example.org", &a, &loaded), STORE_OK);
    assert_int_equal(loaded, 1);
    assert_string_equal(list(a, "*"), "INBOX Projects+ Projects/v1.2 100% Sent Messages* ");
    in = store_mailbox_find(a, "INBOX");
    sent = store_mailbox_find(a, "Sent Messages");
    odd = store_mailbox_find(a, "Projects/v1.2 100%");
    assert_int_equal(store_mailbox_attrs(sent), STORE_MB_SENT | STORE_MB_SUBSCRIBED);
    assert_int_equal(store_mailbox_uidvalidity(in), uv_in);
    assert_int_equal(store_mailbox_uidvalidity(odd), uv_odd);
    assert_int_equal(store_mailbox_uidnext(in), 6);
    assert_int_equal(store_mailbox_count(in), 4);
    uint32_t want_uids[] = {1, 2, 4, 5};
    for (uint32_t i = 0; i < 4; i++)
        assert_int_equal(store_mailbox_msg(in, i)->uid, want_uids[i]);
    store_msg *m2 = store_mailbox_by_uid(in, 2);
    assert_int_equal(m2->flags, STORE_F_FLAGGED | STORE_F_DRAFT);
    assert_int_equal(m2->keywords, 1u << kw);
    assert_memory_equal(m2->data, msg_b, m2->size);
    store_msg *m5 = store_mailbox_by_uid(in, uid5);
    assert_int_equal(m5->flags, STORE_F_SEEN | STORE_F_ANSWERED);
    assert_int_equal(m5->keywords, 1u << kw2);
    assert_int_equal(m5->internal_date, 1600000000);
    assert_int_equal(store_keyword_count(in), 2);
    assert_string_equal(store_keyword_name(in, 1), "Work");
    assert_true(store_mailbox_highestmodseq(in) >= (uint64_t)clock_value << 20);
    assert_int_equal(store_bytes(st), bytes);
    /* seeding an account that came from disk adds nothing */
    assert_int_equal(store_seed(st, a, "INBOX", "profiles/messages", "plain-text.eml"), STORE_OK);
    assert_int_equal(store_mailbox_count(in), 4);
    /* new UIDs continue after the old ones */
    assert_int_equal(append(st, in, msg_a), 6);
    /* and new mailboxes get a UIDVALIDITY above every loaded one */
    store_mailbox *fresh;
    store_mailbox_create(st, a, "Fresh", 0, &fresh);
    assert_true(store_mailbox_uidvalidity(fresh) > uv_odd);
    store_close(st);
    rm_rf(dir);
    free(dir);
}

static void spool_foreign_files(void **state)
{
    (void)state;
    char *dir = make_spool();
    store *st = open_spool(dir, NULL);
    store_account *a;
    store_account_add(st, "u", &a, NULL);
    append(st, store_mailbox_find(a, "INBOX"), msg_a);
    append(st, store_mailbox_find(a, "INBOX"), msg_a);
    store_close(st);
    /* another MDA drops a file (LF line ends) into new/ and cur/, and one of ours vanishes */
    char path[4096], *gone;
    snprintf(path, sizeof path, "%s/u/new/0001.external:2,S", dir);
    FILE *f = fopen(path, "w");
    fputs("Subject: from procmail\n\nhello\n", f);
    fclose(f);
    snprintf(path, sizeof path, "%s/u/new", dir);
    DIR *d = opendir(path);
    struct dirent *de;
    gone = NULL;
    while ((de = readdir(d)) != NULL)
        if (de->d_name[0] != '.' && strstr(de->d_name, "test_host") && !gone) {
            gone = malloc(sizeof path + sizeof de->d_name + 2);
            snprintf(gone, sizeof path + sizeof de->d_name + 2, "%s/%s", path, de->d_name);
        }
    closedir(d);
    assert_non_null(gone);
    assert_int_equal(unlink(gone), 0);
    free(gone);
    st = open_spool(dir, NULL);
    store_account_add(st, "u", &a, NULL);
    store_mailbox *in = store_mailbox_find(a, "INBOX");
    assert_int_equal(store_mailbox_count(in), 2);
    store_msg *ext = store_mailbox_msg(in, 1);
    assert_int_equal(ext->uid, 3); /* a new UID after the highest one ever given */
    assert_int_equal(ext->flags, STORE_F_SEEN);
    assert_int_equal(ext->size, 33); /* LF made CRLF */
    store_close(st);
    /* a folder made by another program, without its superior */
    snprintf(path, sizeof path, "%s/u/.Lists.mailrig-dev", dir);
    mkdir(path, 0700);
    /* the UID stays the same at the next load */
    st = open_spool(dir, NULL);
    store_account_add(st, "u", &a, NULL);
    assert_int_equal(store_mailbox_msg(store_mailbox_find(a, "INBOX"), 1)->uid, 3);
    assert_string_equal(list(a, "*"), "INBOX Lists+ Lists/mailrig-dev ");
    snprintf(path, sizeof path, "%s/u/.Lists.mailrig-dev/cur", dir);
    assert_int_equal(access(path, F_OK), 0);
    store_close(st);
    rm_rf(dir);
    free(dir);
}

static void spool_corrupt_uidlist(void **state)
{
    (void)state;
    char *dir = make_spool();
    store *st = open_spool(dir, NULL);
    store_account_add(st, "u", NULL, NULL);
    store_close(st);
    char path[4096];
    snprintf(path, sizeof path, "%s/u/mailrig-uidlist", dir);
    FILE *f = fopen(path, "a");
    fputs("uid 7\n", f);
    fclose(f);
    st = open_spool(dir, NULL);
    assert_int_equal(store_account_add(st, "u", NULL, NULL), STORE_E_CORRUPT);
    char want[4200];
    snprintf(want, sizeof want, "%s:5: bad uid record", path);
    assert_string_equal(store_errmsg(st), want);
    store_close(st);
    f = fopen(path, "w");
    fputs("something else\n", f);
    fclose(f);
    st = open_spool(dir, NULL);
    assert_int_equal(store_account_add(st, "u", NULL, NULL), STORE_E_CORRUPT);
    assert_non_null(strstr(store_errmsg(st), ":1: not a mailrig-uidlist"));
    store_close(st);
    rm_rf(dir);
    free(dir);
}

static void spool_mailbox_ops(void **state)
{
    (void)state;
    char *dir = make_spool();
    store *st = open_spool(dir, NULL);
    store_account *a;
    store_account_add(st, "u", &a, NULL);
    store_mailbox *w;
    store_mailbox_create(st, a, "Work/Sub", 0, NULL);
    w = store_mailbox_find(a, "Work");
    append(st, w, msg_a);
    append(st, store_mailbox_find(a, "Work/Sub"), msg_b);
    append(st, store_mailbox_find(a, "INBOX"), msg_b);
    assert_int_equal(store_mailbox_rename(st, a, "Work", "Jobs"), STORE_OK);
    assert_int_equal(store_mailbox_rename(st, a, "INBOX", "Old Inbox"), STORE_OK);
    assert_int_equal(store_mailbox_create(st, a, "Trash", STORE_MB_TRASH, NULL), STORE_OK);
    assert_int_equal(store_mailbox_delete(st, a, "Trash"), STORE_OK);
    store_close(st);
    char path[4096];
    snprintf(path, sizeof path, "%s/u/.Trash", dir);
    assert_int_equal(access(path, F_OK), -1);
    snprintf(path, sizeof path, "%s/u/.Work", dir);
    assert_int_equal(access(path, F_OK), -1);
    st = open_spool(dir, NULL);
    store_account_add(st, "u", &a, NULL);
    assert_string_equal(list(a, "*"), "INBOX Jobs+ Jobs/Sub Old Inbox ");
    assert_int_equal(store_mailbox_count(store_mailbox_find(a, "Jobs")), 1);
    assert_int_equal(store_mailbox_count(store_mailbox_find(a, "Jobs/Sub")), 1);
    assert_int_equal(store_mailbox_count(store_mailbox_find(a, "Old Inbox")), 1);
    assert_int_equal(store_mailbox_count(store_mailbox_find(a, "INBOX")), 0);
    assert_int_equal(store_mailbox_uidnext(store_mailbox_find(a, "INBOX")), 2);
    /* delete with an inferior: \Noselect survives a restart */
    assert_int_equal(store_mailbox_delete(st, a, "Jobs"), STORE_OK);
    store_close(st);
    st = open_spool(dir, NULL);
    store_account_add(st, "u", &a, NULL);
    assert_string_equal(list(a, "J*"), "Jobs+! Jobs/Sub ");
    store_close(st);
    rm_rf(dir);
    free(dir);
}

static void spool_errors(void **state)
{
    (void)state;
    char *dir = make_spool();
    /* the spool is a file */
    char path[4096];
    snprintf(path, sizeof path, "%s/file", dir);
    FILE *f = fopen(path, "w");
    fclose(f);
    store_config cfg;
    store_config_default(&cfg);
    cfg.spool = path;
    store *st;
    assert_int_equal(store_open(&cfg, &st), STORE_E_IO);
    assert_null(st);
    assert_non_null(strstr(store_errmsg(NULL), "mkdir: Not a directory"));
    /* the parent does not exist */
    snprintf(path, sizeof path, "%s/no/such/dir", dir);
    assert_int_equal(store_open(&cfg, &st), STORE_E_IO);
    assert_non_null(strstr(store_errmsg(NULL), "No such file or directory"));
    /* tmp/ is not a directory: delivery fails, clearly, and nothing is half-stored */
    st = open_spool(dir, NULL);
    store_account *a;
    store_account_add(st, "u", &a, NULL);
    snprintf(path, sizeof path, "%s/u/tmp", dir);
    rmdir(path);
    f = fopen(path, "w");
    fclose(f);
    assert_int_equal(store_deliver(st, "u", msg_a, strlen(msg_a), NULL), STORE_E_IO);
    assert_non_null(strstr(store_errmsg(st), "/u/tmp/"));
    assert_non_null(strstr(store_errmsg(st), "create: Not a directory"));
    store_mailbox *in = store_mailbox_find(a, "INBOX");
    assert_int_equal(store_mailbox_count(in), 0);
    assert_int_equal(store_bytes(st), 0);
    unlink(path);
    mkdir(path, 0700);
    /* new/ is not a directory: the rename fails after the UID was recorded; that UID is
     * never given out again */
    snprintf(path, sizeof path, "%s/u/new", dir);
    rm_rf(path);
    f = fopen(path, "w");
    fclose(f);
    assert_int_equal(store_deliver(st, "u", msg_a, strlen(msg_a), NULL), STORE_E_IO);
    assert_non_null(strstr(store_errmsg(st), "rename into place"));
    assert_int_equal(store_mailbox_uidnext(in), 2);
    snprintf(path, sizeof path, "%s/u/tmp", dir);
    assert_int_equal(count_files(path), 0);
    snprintf(path, sizeof path, "%s/u/new", dir);
    unlink(path);
    mkdir(path, 0700);
    uint32_t uid;
    assert_int_equal(store_deliver(st, "u", msg_a, strlen(msg_a), &uid), STORE_OK);
    assert_int_equal(uid, 2);
    /* disk full (a file size limit: write fails with EFBIG) */
    struct rlimit old, lim;
    getrlimit(RLIMIT_FSIZE, &old);
    lim = old;
    lim.rlim_cur = 40;
    signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    store_err e = store_deliver(st, "u", msg_b, strlen(msg_b), NULL);
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, SIG_DFL);
    assert_int_equal(e, STORE_E_IO);
    assert_non_null(strstr(store_errmsg(st), "write: File too large"));
    assert_int_equal(store_mailbox_count(in), 1);
    snprintf(path, sizeof path, "%s/u/tmp", dir);
    assert_int_equal(count_files(path), 0);
    /* permissions (only meaningful when not root: root writes anywhere) */
    if (geteuid() != 0) {
        snprintf(path, sizeof path, "%s/u/tmp", dir);
        chmod(path, 0500);
        assert_int_equal(store_deliver(st, "u", msg_a, strlen(msg_a), NULL), STORE_E_IO);
        assert_non_null(strstr(store_errmsg(st), "Permission denied"));
        chmod(path, 0700);
    }
    /* a flag change whose rename fails leaves the flags as they were */
    store_msg *m = store_mailbox_msg(in, 0);
    snprintf(path, sizeof path, "%s/u/cur", dir);
    rm_rf(path);
    assert_int_equal(store_set_flags(st, in, m, STORE_FLAGS_ADD, STORE_F_SEEN, 0, NULL, NULL),
                     STORE_E_IO);
    assert_int_equal(m->flags, 0);
    mkdir(path, 0700);
    assert_int_equal(store_set_flags(st, in, m, STORE_FLAGS_ADD, STORE_F_SEEN, 0, NULL, NULL),
                     STORE_OK);
    store_close(st);
    rm_rf(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(accounts),
        cmocka_unit_test(mailboxes_create_find),
        cmocka_unit_test(mailboxes_limit),
        cmocka_unit_test(list_patterns),
        cmocka_unit_test(pattern_matcher),
        cmocka_unit_test(mailbox_delete),
        cmocka_unit_test(mailbox_rename),
        cmocka_unit_test(append_basics),
        cmocka_unit_test(append_limits),
        cmocka_unit_test(keywords),
        cmocka_unit_test(flags_and_actor),
        cmocka_unit_test(expunge_renumbering),
        cmocka_unit_test(exists_and_recent),
        cmocka_unit_test(copy_and_move),
        cmocka_unit_test(copy_all_or_nothing),
        cmocka_unit_test(search_keys),
        cmocka_unit_test(pop3_helpers),
        cmocka_unit_test(seeding),
        cmocka_unit_test(spool_deliver_durable),
        cmocka_unit_test(spool_round_trip),
        cmocka_unit_test(spool_foreign_files),
        cmocka_unit_test(spool_corrupt_uidlist),
        cmocka_unit_test(spool_mailbox_ops),
        cmocka_unit_test(spool_errors),
    };
    return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
