/* mock.h -- a provider mock: one profile, its message store, its certificates and its
 * listeners on one event loop. This is what `mailrig serve` runs and what the scenario
 * engine starts for a profile-driven server role.
 *
 * mock_start() does, in order: seed the store (memory, or the Maildir spool) with every
 * account and folder of the profile; make sure the test PKI holds the profile's
 * certificates; build one TLS context per certificate variant in use; bind every listener
 * of the profile at port_base + provider port (or a free port with port_base 0) in its mode.
 * Sessions come from the per-protocol factories in sessions.h; each gets the mock_listener
 * of its listener as factory context.
 */
#ifndef MAILRIG_SERVERS_MOCK_H
#define MAILRIG_SERVERS_MOCK_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "servers/loop.h"
#include "servers/profile.h"
#include "servers/store.h"

struct event_base;

typedef struct mock mock;

typedef struct mock_options {
    const char *host;            /* address to bind: "127.0.0.1" (default) or "::1" */
    int port_base;               /* provider port P is served at port_base + P; 0 = free ports */
    const char *state_dir;       /* PKI state directory; NULL = pki_default_state_dir() */
    const char *spool_dir;       /* Maildir spool; NULL = memory only */
    const char *transcript_dir;  /* one transcript per connection; NULL = none */
    uint64_t seed;               /* per-connection template values ({be}, {hex16}...) */
    FILE *log;                   /* one line per connection event; NULL = none */
    server_limits limits;        /* carrier limits; idle timeouts come from the profile */
} mock_options;

/* Defaults: 127.0.0.1, port base 10000, seed 1, server_limits_default(). */
mock_options mock_options_default(void);

/* What a session's factory receives as its context: everything about its listener. */
typedef struct mock_listener {
    struct mock *mock;
    const profile *prof;
    const profile_listener *pl;   /* the profile's listener: protocol, mode, auth, greeting */
    store *st;
    uint64_t seed;
    int port;                     /* the local port bound (0 when not bound) */
} mock_listener;

/* A session that wants to hear about store changes made by other sessions (IMAP IDLE, a
 * message delivered by SMTP) embeds a watcher and registers it. */
typedef struct mock_watcher {
    void (*changed)(struct mock_watcher *w);
    struct mock_watcher *prev, *next;
} mock_watcher;

void mock_watch(mock *m, mock_watcher *w);
void mock_unwatch(mock *m, mock_watcher *w);

/* Tell every watcher that the store changed (after a delivery, an append, an expunge). */
void mock_changed(mock *m);

/* Start the mock. The profile must outlive it. Returns NULL with err filled (which step failed
 * and why: "store: ...", "pki: ...", "listen imap 993 on 127.0.0.1:10993: Address already in
 * use"); *env_error is set when the cause is the environment (a port in use, an unwritable
 * directory) rather than the profile. */
mock *mock_start(struct event_base *base, const profile *p, const mock_options *opt, char *err,
                 size_t errlen, int *env_error);

/* The listeners, in profile order. */
size_t mock_listener_count(const mock *m);
const mock_listener *mock_listener_at(const mock *m, size_t i);

/* The CA certificate clients must trust. */
const char *mock_ca_file(const mock *m);

/* The store, for tests and tools. */
store *mock_store(const mock *m);

/* Connections open now. */
int mock_connection_count(const mock *m);

/* Close every connection and listener; free everything. NULL is fine. */
void mock_free(mock *m);

/* Write the ports file: one JSON object (see README, `mailrig serve`). Returns 0 or -1 with
 * err filled. Written to a temporary file and renamed, so readers never see half of it. */
int mock_write_ports_file(const mock *m, const char *path, char *err, size_t errlen);

/* Print the same facts as stable "key=value" lines to f. */
void mock_print_summary(const mock *m, FILE *f);

#endif
