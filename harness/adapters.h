/* adapters.h -- real mail clients under test, described by data files in clients/.
 *
 * An adapter (clients/NAME.ini; format in clients/README.md) says how to start one client
 * with the settings a user would have typed into its account dialog -- server, port, security
 * as that client's UI names it ("SSL/TLS", "STARTTLS", "None"), user name, password, CA file --
 * and how to read its result (exit status, output patterns). The scenario's `client` step gives
 * the settings:
 *
 *   client msmtp port=587 security=STARTTLS user={account.email} password={account.app_password}
 *
 * mailrig fills in what the user did not type (host, the local port for the provider port,
 * the CA file), starts the client with a bounded run time, feeds it what it reads on stdin
 * (a message to send), captures its stdout+stderr into a file, and kills it on timeout.
 * Passwords never appear on a command line another user could read (`ps`): adapters pass them
 * through a 0600 file or the environment, as the client allows; the captured output is
 * redacted of every secret value before anyone reads it.
 */
#ifndef MAILRIG_HARNESS_ADAPTERS_H
#define MAILRIG_HARNESS_ADAPTERS_H

#include <stddef.h>
#include <sys/types.h>

typedef struct adapter adapter;

/* Load clients_dir/NAME.ini (clients_dir NULL = DATA/clients). Returns NULL with err filled
 * ("clients/msmtp.ini:12: unknown security value 'SSL'") on any problem. */
adapter *adapter_load(const char *clients_dir, const char *name, char *err, size_t errlen);
void adapter_free(adapter *a);

/* Is the client's program installed? Returns 1, or 0 with why ("msmtp: not found in PATH;
 * install Debian package msmtp (ci/deps clients)"). */
int adapter_available(const adapter *a, char *why, size_t whycap);

/* Validate one setting as the scenario parser's check_client hook does (key NULL: only the
 * adapter name). ctx is the clients_dir (const char *) or NULL. */
int adapter_check_setting(void *ctx, const char *adapter_name, const char *key,
                          const char *value, char *why, size_t whycap);

/* One setting, already substituted. */
typedef struct adapter_kv {
    const char *key;
    const char *value;
    int secret;               /* redact it from anything shown */
} adapter_kv;

/* Where the client must connect, filled in by the interpreter. */
typedef struct adapter_target {
    const char *host;         /* "127.0.0.1" */
    int port;                 /* the local port serving the provider port */
    int provider_port;        /* 587, 993, ...: for adapters that show it */
    const char *server_name;  /* the provider host name, for SNI and certificate checks */
    const char *cafile;       /* the test CA the client should trust ("" = none) */
} adapter_target;

typedef struct adapter_proc {
    pid_t pid;
    int output_fd;            /* internal */
    char output_path[4096];   /* captured stdout + stderr */
    char workdir[4096];       /* the client's private directory (config files, HOME) */
} adapter_proc;

/* Start the client. Returns 0, or -1 with err filled (a missing setting, the program not
 * installed: the run is then an environment error, not a failure). */
int adapter_start(const adapter *a, const adapter_kv *kv, size_t nkv, const adapter_target *t,
                  const char *work_dir, adapter_proc *proc, char *err, size_t errlen);

typedef struct adapter_outcome {
    int exited;               /* it ended by itself */
    int exit_code;            /* when exited */
    int signal;               /* when it was killed by a signal */
    int timed_out;            /* mailrig killed it after timeout_ms */
    int success;              /* the adapter's own reading of its result */
} adapter_outcome;

/* Wait for the client to end, at most timeout_ms, then kill it (SIGTERM, SIGKILL after 2 s).
 * Redacts every secret kv value from the output file and the client's configuration files
 * (the password file is removed). Returns 0, or -1 with err filled. */
int adapter_wait(adapter_proc *proc, const adapter *a, const adapter_kv *kv, size_t nkv,
                 unsigned timeout_ms, adapter_outcome *out, char *err, size_t errlen);

/* Stop a client now (end of a failed scenario). Safe when it has already ended. */
void adapter_kill(adapter_proc *proc);

#endif
