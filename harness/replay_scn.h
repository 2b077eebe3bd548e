/* replay_scn.h -- a recorded connection (log_read.h) written out as a client-role scenario
 * (docs/scenario-language.md) for `mailrig replay --to-scenario`. */
#ifndef MAILRIG_HARNESS_REPLAY_SCN_H
#define MAILRIG_HARNESS_REPLAY_SCN_H

#include <stdio.h>

#include "harness/log_read.h"

/* Write connection k as a scenario to f: header (name from source, `profile`, `role client`),
 * `connect PROTO PORT MODE`, one `send` per client line and one `expect-reply` per reply
 * (status only: SMTP code, IMAP tag + status, POP3 +OK/-ERR, multi-line POP3 listings),
 * `starttls` where the recording upgraded, `expect-connect refused` / `tls expect=fail` where it
 * failed. Credentials the recording hid become {account.*} variables (`var` + {base64:...}
 * for SASL PLAIN/LOGIN); which password variable is used follows the profile's password kind.
 * Returns 0, or -1 on a write error. */
int replay_scn_write(const log_conn *k, const char *source, const char *profile_name, const char *const *sets,
                     size_t n_sets, bool app_password, FILE *f);

/* The server role: `listen PROTO PORT MODE`, `client CLIENT_LINE` (or a comment asking for
 * one when NULL), the recorded server lines as `send` (consecutive lines in one write), each
 * client line as a loose `expect` (its command word), `starttls` where the recording
 * upgraded. Returns 0, or -1 on a write error. */
int replay_scn_write_server(const log_conn *k, const char *source, const char *profile_name, const char *client_line,
                            FILE *f);

/* sets: profile overrides written as `set` header lines. */
/* The same into the file at path (loading profile_name to choose the password variable).
 * Returns an exit status (EXIT_PASS, EXIT_USAGE for an unknown profile, EXIT_ENV). */
int replay_write_scenario(const log_conn *k, const char *source, const char *profile_name, const char *const *sets,
                          size_t n_sets, const char *path);

#endif
