/* run_peer.h -- a scripted peer for the interpreter's tests: a tiny server or client, forked,
 * that plays a list of actions on one connection.
 *
 * Actions (one string each):
 *   "S:bytes"   send the bytes (C escapes are the test source's)
 *   "R"         read one line (up to LF), at most 5 s
 *   "E[:pre]"   read one line and send it back after the prefix (default "ECHO ")
 *   "W:ms"      sleep
 *   "T"         TLS handshake (server: the test PKI's valid certificate; client: verify with
 *               the CA file given)
 *   "D"         read until EOF (at most 5 s)
 *   "O:text"    print text and a newline on stdout (a client's output)
 *   "X:n"       exit with status n now
 *   "A"         server: close this connection and accept the next one on the same listener
 *               (scripts that span several connections, in order)
 * After the last action the peer closes the connection and exits 0. Every wait is bounded, so
 * a test never hangs on its peer.
 */
#ifndef MAILRIG_TESTS_RUN_PEER_H
#define MAILRIG_TESTS_RUN_PEER_H

#include <sys/types.h>

typedef struct peer_tls {
    const char *cert, *key;   /* server side */
    const char *ca_file;      /* client side */
    const char *host;         /* client side: name to verify */
} peer_tls;

/* Listen on a free loopback port; returns the listening fd and sets *port. */
int peer_listen(int *port);

/* Fork a server that accepts one connection on lfd and plays actions. */
pid_t peer_serve(int lfd, const char *const *actions, const peer_tls *tls);

/* Fork a client that connects to 127.0.0.1:port and plays actions; stdout goes to out_path
 * (when not NULL). */
pid_t peer_client(int port, const char *const *actions, const peer_tls *tls, const char *out_path);

/* Play actions on fd in this process (used by both). Returns the exit status to use. */
int peer_play(int fd, const char *const *actions, const peer_tls *tls, int server);

/* Wait for a peer at most ms, then SIGKILL it. Returns its exit status, or -1 if killed. */
int peer_reap(pid_t pid, int ms);

/* Stop a peer now (SIGKILL) and reap it. */
void peer_stop(pid_t pid);

#endif
