/* run_mock.h -- a scenario's provider mock in a child process, and the run's transcript file.
 *
 * run_mock_start() forks; the child starts servers/mock.h on its own event loop on free
 * loopback ports (port base 0) with one transcript per connection in a directory of the
 * run, and reports over a pipe: its clock origin, the CA file and every listener's local
 * port, then "ready" (or the error). It runs until the parent closes the other pipe (or dies:
 * the pipe closes then too) and exits without running atexit handlers. run_mock_stop() closes
 * that pipe, waits up to 2 s, then SIGKILLs.
 *
 * run_tr_merge() builds the run's one transcript (see run.c for the decision): mailrig's own
 * connections as they are, plus the mock's connections renumbered after them, every record
 * on the run's clock, in time order.
 */
#ifndef MAILRIG_HARNESS_RUN_MOCK_H
#define MAILRIG_HARNESS_RUN_MOCK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "harness/run_vars.h"
#include "servers/profile.h"

typedef struct run_mock {
    pid_t pid;
    int stop_fd;              /* our end of the stop pipe; closing it stops the child */
    double t0;                /* the child's clock origin (CLOCK_MONOTONIC seconds) */
    char ca_file[4096];
    char transcript_dir[4096];
    run_port ports[RUN_MAX_PORTS];
    size_t nports;
} run_mock;

/* Start the mock for p. transcript_dir must exist. Waits for it at most until deadline_ms
 * (run_now_ms clock). Returns 0, or -1 with err; *env_error says whether the environment
 * (fork, ports, files) or the profile (a protocol without a session in this build) is to
 * blame. */
int run_mock_start(run_mock *m, const profile *p, const char *state_dir, uint64_t seed,
                   const char *transcript_dir, const char *log_path, int64_t deadline_ms,
                   char *err, size_t errlen, int *env_error);

/* Stop the child (safe when not started). Returns its exit status as waitpid reports it, or
 * -1 when it had to be killed. */
int run_mock_stop(run_mock *m);

/* One of mailrig's own connections, for matching the mock's view of it. */
typedef struct run_tr_own {
    unsigned id;              /* conn id in own transcript */
    int local_port;           /* our end's port (client role), 0 for none */
} run_tr_own;

/* Merge own_path (mailrig's records, already on the run clock) with every mock transcript in
 * mock_dir (may be NULL) into out_path. Mock records get time + mock_offset. A mock connection
 * whose peer port is one of own[] (the same TCP connection seen from the server side, client
 * role) contributes only its `event` and `note` records, under that own conn id: one view of
 * each connection's data, plus what the server decided. Any other mock connection is kept
 * whole under a new id (next_id, next_id + 1, ...). Returns 0 or -1 with err. */
int run_tr_merge(const char *own_path, const char *mock_dir, double mock_offset,
                 const run_tr_own *own, size_t nown, unsigned next_id, const char *out_path,
                 char *err, size_t errlen);

#endif
