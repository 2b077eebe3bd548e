/* session_fixture.h -- a protocol session over memory (servers/memconn.h) for the cmocka
 * tests of smtpd and pop3d: a shipped profile (with --set overrides), a fresh store, the
 * listener of a provider port, and helpers that feed a command and compare the reply. */
#ifndef MAILRIG_TESTS_SESSION_FIXTURE_H
#define MAILRIG_TESTS_SESSION_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "servers/memconn.h"
#include "servers/mock.h"
#include "servers/profile.h"
#include "servers/session_util.h"
#include "servers/store.h"

/* Two small messages every INBOX starts with; the second has lines that need dot-stuffing. */
static const char *const fx_msgs[] = {
    "From: Bob <bob@example.test>\r\nTo: alice@example.test\r\nSubject: one\r\n\r\nfirst\r\n",
    "From: carol@example.test\r\nSubject: two\r\n\r\n.starts with a dot\r\n..two dots\r\nline 3\r\n.\r\nend\r\n",
};

typedef struct fx {
    profile *p;
    store *st;
    mock_listener ml;
    memconn *m;
    memconn *m2; /* a second connection, when a test needs one */
} fx;

static inline profile *fx_load(const char *name, const char *const *sets)
{
    size_t n = 0;
    while (sets && sets[n])
        n++;
    profile_opts o = {.sets = sets, .n_sets = n};
    profile_diag d = {0};
    profile *p = profile_load(name, &o, &d);
    if (!p) {
        profile_diag_print(&d, stderr);
        profile_diag_free(&d);
        fail_msg("cannot load profile %s", name);
    }
    profile_diag_free(&d);
    return p;
}

static inline memconn *fx_connect(fx *f, session_factory factory, unsigned conn_id)
{
    const profile_listener *l = f->ml.pl;
    memconn_opts o = {
        .provider_port = (int)l->port,
        .tls_active = l->mode == PROFILE_MODE_IMPLICIT_TLS,
        .starttls_offered = l->mode == PROFILE_MODE_STARTTLS,
        .vulnerable = f->p->tls.starttls_vulnerable,
        .conn_id = conn_id,
    };
    memconn *m = memconn_new(factory, &f->ml, &o);
    assert_non_null(m);
    return m;
}

/* Open profile `name` (NULL-terminated sets may be NULL) on provider port `port`. */
static inline void fx_open(fx *f, const char *name, unsigned port, const char *const *sets,
                           session_factory factory)
{
    memset(f, 0, sizeof *f);
    f->p = fx_load(name, sets);
    f->st = memconn_store(f->p, (const char *const *)fx_msgs, 2);
    assert_non_null(f->st);
    const profile_listener *l = profile_listener_find(f->p, port);
    assert_non_null(l);
    f->ml = (mock_listener){NULL, f->p, l, f->st, 1, 0};
    f->m = fx_connect(f, factory, 1);
}

static inline void fx_close(fx *f)
{
    memconn_free(f->m);
    memconn_free(f->m2);
    store_close(f->st);
    profile_free(f->p);
    assert_int_equal(sess_registry_size(), 0);
    memset(f, 0, sizeof *f);
}

/* The output so far, then forget it. Returns a static copy (valid until the next call). */
static inline const char *fx_take(memconn *m)
{
    static char *copy;
    free(copy);
    size_t n;
    const char *out = memconn_output(m, &n);
    copy = malloc(n + 1);
    memcpy(copy, out, n);
    copy[n] = '\0';
    memconn_output_clear(m);
    return copy;
}

/* Feed `in`, then the output must be exactly `want`. */
#define fx_expect(m, in, want)                                                                   \
    do {                                                                                         \
        memconn_feed_str((m), (in));                                                             \
        const char *got_ = fx_take(m);                                                           \
        if (strcmp(got_, (want)) != 0)                                                           \
            fail_msg("after %s\nwant: %s\ngot:  %s", (in), (want), got_);                        \
    } while (0)

/* Feed `in`, then the output must start with `prefix` (and end with CRLF). */
#define fx_expect_prefix(m, in, prefix)                                                          \
    do {                                                                                         \
        memconn_feed_str((m), (in));                                                             \
        const char *got_ = fx_take(m);                                                           \
        if (strncmp(got_, (prefix), strlen(prefix)) != 0)                                        \
            fail_msg("after %s\nwant prefix: %s\ngot:         %s", (in), (prefix), got_);        \
        size_t gl_ = strlen(got_);                                                               \
        assert_true(gl_ >= 2 && got_[gl_ - 2] == '\r' && got_[gl_ - 1] == '\n');                 \
    } while (0)

static inline int fx_has_event(memconn *m, const char *needle)
{
    return strstr(memconn_events(m), needle) != NULL;
}

/* base64 of s[0..n) into a static buffer. */
static inline const char *fx_b64(const char *s, size_t n)
{
    static char out[1024];
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)(unsigned char)s[i] << 16;
        if (i + 1 < n)
            v |= (unsigned)(unsigned char)s[i + 1] << 8;
        if (i + 2 < n)
            v |= (unsigned char)s[i + 2];
        out[o++] = tab[(v >> 18) & 63];
        out[o++] = tab[(v >> 12) & 63];
        out[o++] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? tab[v & 63] : '=';
    }
    out[o] = '\0';
    return out;
}

/* "\0user\0pass" as base64. */
static inline const char *fx_plain(const char *user, const char *pass)
{
    char buf[512];
    int n = snprintf(buf, sizeof buf, "%c%s%c%s", 0, user, 0, pass);
    return fx_b64(buf, (size_t)n);
}

/* "user=U^Aauth=Bearer T^A^A" as base64. */
static inline const char *fx_xoauth2(const char *user, const char *token)
{
    char buf[512];
    int n = snprintf(buf, sizeof buf, "user=%s\001auth=Bearer %s\001\001", user, token);
    return fx_b64(buf, (size_t)n);
}

/* Messages in the INBOX of account `name`. */
static inline uint32_t fx_inbox_count(fx *f, const char *name)
{
    store_account *a = store_account_find(f->st, name);
    assert_non_null(a);
    return store_mailbox_count(store_mailbox_find(a, "INBOX"));
}

static inline const store_msg *fx_inbox_last(fx *f, const char *name)
{
    store_account *a = store_account_find(f->st, name);
    store_mailbox *mb = store_mailbox_find(a, "INBOX");
    uint32_t n = store_mailbox_count(mb);
    assert_true(n > 0);
    return store_mailbox_msg(mb, n - 1);
}

#endif
