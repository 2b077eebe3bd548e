/* run_state.h -- the interpreter's state while one scenario runs, shared by run_interp.c
 * (the walk, connections, client-role and common steps) and run_server.c (the server role:
 * listeners, accept, the mock for `serve`, the client under test). Private to those files. */
#ifndef MAILRIG_HARNESS_RUN_STATE_H
#define MAILRIG_HARNESS_RUN_STATE_H

#include <stdint.h>
#include <stdio.h>

#include <openssl/ssl.h>

#include "harness/run_conn.h"
#include "harness/run_internal.h"
#include "harness/run_mock.h"
#include "harness/run_strict.h"
#include "harness/run_vars.h"
#include "servers/pki.h"
#include "servers/transcript.h"

enum { RUN_MAX_CONNS = 256, RUN_MAX_LISTENERS = 16 };

/* Step results: 0 passed, or a run_verdict (RUN_FAIL, RUN_ERROR) with the message set. */
enum { STEP_OK = 0 };

/* The connection the steps work on (one at a time: the language has no connection names). */
typedef struct run_iconn {
    run_conn c;
    int open;
    unsigned id;              /* conn id in the transcript */
    sc_proto proto;
    sc_mode mode;
    unsigned provider_port;
    int listener;             /* server role: index of its listener, else -1 */
    run_strict strict;        /* client role: the server's bytes, strictly */
    run_buf pending;          /* received bytes not yet in the transcript (no LF yet) */
} run_iconn;

typedef struct run_listener {
    int fd;
    sc_proto proto;
    unsigned port;            /* provider port */
    int local_port;
    sc_mode mode;
    const sc_tls *tls;
} run_listener;

typedef struct run_state {
    const sc_scenario *sc;
    const run_env *env;
    const run_deps *deps;
    run_result *res;
    profile *owned_profile;
    const profile *prof;
    profile *serve_profile;   /* the mock's profile when some protocols are closed */
    run_vars v;
    double t0;
    int64_t start_ms, total_deadline;
    unsigned step_timeout_default;
    size_t step;              /* the step running */
    /* the transcript of mailrig's own connections (merged at the end) */
    FILE *trf;
    transcript *tr;
    char own_path[4096];
    run_iconn cur;
    unsigned nconns;
    run_tr_own owns[RUN_MAX_CONNS];
    size_t nowns;
    /* a bound, never listening socket: where "no listener" connects are refused */
    int closed_fd, closed_port;
    /* server role */
    run_listener lst[RUN_MAX_LISTENERS];
    size_t nlst;
    pki_paths *pki;
    run_mock mock;
    int mock_running;
    adapter *ad;
    adapter_proc proc;
    int client_running;
    adapter_kv *kv;
    size_t nkv;
    /* scratch */
    void *imap_tok;
} run_state;

/* Fail the current step: sets the message (redacted) and returns the verdict. */
int run_fail(run_state *st, int verdict, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The deadline of a waiting step with timeout ms (0: the scenario's step timeout). */
int64_t run_deadline(const run_state *st, unsigned ms);

/* Fail for a timeout, naming the total timeout when that is what ran out. */
int run_fail_timeout(run_state *st, const char *what);

/* Quote bytes for a message: escaped like transcript text, at most ~200 bytes shown. */
void run_quote(run_state *st, const char *p, size_t n, char *out, size_t cap);

/* Open cur on fd as a new connection of the run and write its `open` record. */
void run_open_conn(run_state *st, int fd, sc_proto proto, sc_mode mode, unsigned provider_port,
                   int server_side, int listener);

/* Close cur (if open) with the reason in the transcript. */
void run_close_conn(run_state *st, const char *reason);

/* Read into cur, transcript and redaction included: as run_conn_read. */
int run_read(run_state *st, int64_t deadline);

/* Write to cur; the transcript gets shown[0..sn) (the redacted copy). */
int run_write(run_state *st, const char *p, size_t n, const char *shown, size_t sn);

/* A handshake on cur as the server, with the expectations of tls (NULL: expect ok). */
int run_server_tls(run_state *st, const sc_tls *tls, int64_t deadline);

/* Server role: accept the next connection (port 0: any listener) before deadline. */
int run_accept(run_state *st, unsigned port, int64_t deadline);

/* Server-role steps (run_server.c). */
int run_step_listen(run_state *st, const sc_step *s);
int run_step_serve(run_state *st, const sc_step *s);
int run_step_client(run_state *st, const sc_step *s);
int run_step_expect_client(run_state *st, const sc_step *s);

/* Start the profile's mock for prof (client role and `serve`). */
int run_start_mock(run_state *st, const profile *prof);

/* Start the scenario profile's mock with only the protocols in mask (bits 1 << sc_proto; 0:
 * all) listening: the other protocols' listeners are closed. */
int run_start_mock_for(run_state *st, unsigned mask);

/* Make sure the test PKI exists for the profile; fills st->pki. */
int run_need_pki(run_state *st);

/* Load the scenario's profile with its `set` lines and extra overrides; NULL (message set)
 * on failure. */
profile *run_load_profile(run_state *st, const char *const *extra, size_t nextra);

/* Stop whatever the server role started (client, listeners). */
void run_server_cleanup(run_state *st);

#endif
