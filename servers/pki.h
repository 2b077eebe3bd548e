/* pki.h -- the test PKI: a test CA, an untrusted CA and per-profile server certificates,
 * generated with OpenSSL 3 at first use into a state directory and reused afterwards.
 *
 * Everything here is a TEST authority. The CA key sits next to its certificate (mode 0600) so
 * that certificates can be issued on demand; anyone who can read that key can impersonate any
 * host to a client that trusts the CA. Hand the CA file to the client under test only (its
 * `--cafile` or equivalent); if a client can only use the system store (Apple Mail), remove the
 * trust again after testing. The CA subject says so too: "mailrig test CA", O = "mailrig (TEST
 * AUTHORITY, do not trust outside tests)".
 *
 * Layout, under <state>/pki/<key type>/ (key type "ecdsa-p256" or "rsa-2048"; each key type
 * is a complete, separate PKI with its own CAs, so that an RSA-only client gets an all-RSA chain):
 *
 *   ca.crt ca.key                      the mailrig test CA (self-signed, 10 years)
 *   untrusted-ca.crt untrusted-ca.key  a second CA that nothing we configure ever trusts
 *   wrong-host.crt wrong-host.key      test CA, SAN = DNS:wrong-host.mailrig.invalid only
 *   profiles/NAME/valid.{crt,key}      test CA, SANs = the profile's hosts + loopback names
 *   profiles/NAME/untrusted.{crt,key}  untrusted CA, same SANs
 *   profiles/NAME/expired.{crt,key}    test CA, same SANs, validity ended 30 days ago
 *   .lock                              flock(2) file serialising writers (see pki_ensure)
 *
 * Every server certificate is a leaf signed directly by its CA; a ".crt" file is what a server
 * sends (the leaf; there are no intermediates and a root is never sent). Leaves carry SANs (no
 * client should look at the CN, but the CN is set to the first DNS name for the old ones that
 * do), EKU serverAuth, SHA-256 signatures and a 397-day validity: Apple platforms reject TLS
 * server certificates valid for more than 825 days even from a private CA, and browsers 398.
 * Valid leaves start one day in the past so a client whose clock lags slightly still accepts.
 *
 * Key type: ECDSA P-256 by default. Generating a P-256 key takes well under a millisecond
 * (RSA-2048: 50-500 ms, random), and the server's handshake signature is about 20x cheaper than
 * an RSA-2048 one, which matters when tests open thousands of TLS connections. Every TLS 1.2 and
 * 1.3 client of the last decade supports ECDSA; RSA 2048 exists for the few that do not.
 *
 * Concurrency: several mailrig processes (parallel tests) may call pki_ensure() on the same
 * state directory at once. Writers hold an exclusive flock on .lock for the whole call; each
 * file is written to a temporary name, fsynced and renamed into place, so a reader never sees a
 * partial file. A certificate and its key are two renames, so a reader that needs a matching
 * pair takes the lock shared (pki_read_lock) -- tls_server_ctx_from_pki() does.
 */
#ifndef MAILRIG_SERVERS_PKI_H
#define MAILRIG_SERVERS_PKI_H

#include <stddef.h>

/* Limits. A request beyond one is an error (PKI_ERR_REQUEST), never a truncation. */
#define PKI_PATH_MAX 1024    /* bytes in any path we build, NUL included */
#define PKI_NAME_MAX 64      /* bytes in a profile name */
#define PKI_HOST_MAX 253     /* bytes in a host name (RFC 1035 text form without a final dot) */
#define PKI_MAX_HOSTS 61     /* host names per profile, from the caller */
#define PKI_MAX_NAMES 64     /* SANs per certificate: PKI_MAX_HOSTS + localhost, 127.0.0.1, ::1 */
#define PKI_MAX_PROFILES 16  /* profiles per request */

/* The DNS name in the wrong-host certificate: a reserved TLD (RFC 2606), so it names nothing. */
#define PKI_WRONG_HOST_NAME "wrong-host.mailrig.invalid"

/* Results. Errors fill err with "<file>: <operation>: <reason>" (OpenSSL's error string or
 * strerror when there is one) or, for a bad request, with what is wrong and why. */
typedef enum pki_status {
    PKI_OK = 0,
    PKI_ERR_REQUEST = -1,  /* bad profile or host name, too many names: the caller's input */
    PKI_ERR_ENV = -2,      /* I/O, permissions, OpenSSL failure: the environment */
} pki_status;

typedef enum pki_key_type { PKI_KEY_ECDSA_P256 = 0, PKI_KEY_RSA_2048 = 1 } pki_key_type;

/* "ecdsa-p256" or "rsa-2048" (also the directory name); "?" for an unknown value. */
const char *pki_key_type_name(pki_key_type type);

/* Parse "ecdsa-p256", "ecdsa", "ec", "rsa-2048" or "rsa" (ASCII case ignored).
 * Returns 0 and sets *out, or -1 for anything else (*out untouched). */
int pki_key_type_parse(const char *s, pki_key_type *out);

/* Which certificate a listener serves: the good one, or one made to fail a client check. */
typedef enum pki_variant {
    PKI_VALID = 0,       /* test CA, the profile's names: every check passes */
    PKI_WRONG_HOST,      /* test CA, only PKI_WRONG_HOST_NAME: hostname check fails */
    PKI_UNTRUSTED,       /* untrusted CA, the profile's names: chain check fails */
    PKI_EXPIRED,         /* test CA, the profile's names, expired: validity check fails */
    PKI_VARIANT_COUNT
} pki_variant;

/* "valid", "wrong-host", "untrusted", "expired"; "?" for an unknown value. */
const char *pki_variant_name(pki_variant v);

/* Parse one of the names above. Returns 0 and sets *out, or -1 (*out untouched). */
int pki_variant_parse(const char *s, pki_variant *out);

/* What one profile needs: a name and the host names clients will use for it. */
typedef struct pki_profile_request {
    const char *name;          /* [A-Za-z0-9_-], 1..PKI_NAME_MAX bytes: a directory name */
    const char *const *hosts;  /* DNS names, "*.label.tld" wildcards, IPv4 or IPv6 literals; */
    size_t nhosts;             /*   0..PKI_MAX_HOSTS of them; duplicates are fine */
} pki_profile_request;

typedef struct pki_request {
    pki_key_type key_type;
    const pki_profile_request *profiles;  /* 0..PKI_MAX_PROFILES; names must be distinct */
    size_t nprofiles;
    int force;  /* regenerate every file the request covers, keys and CAs included */
    /* Called with one line per file written and why ("generated ca.crt: missing"), under
     * the lock. May be NULL. msg is valid only during the call. */
    void (*note)(void *arg, const char *msg);
    void *note_arg;
} pki_request;

/* A certificate and its private key. */
typedef struct pki_pair {
    char cert[PKI_PATH_MAX];  /* PEM, mode 0644: the leaf, which is the whole chain to send */
    char key[PKI_PATH_MAX];   /* PEM PKCS#8, unencrypted, mode 0600 */
} pki_pair;

typedef struct pki_profile_paths {
    char name[PKI_NAME_MAX + 1];
    pki_pair pair[PKI_VARIANT_COUNT];  /* pair[PKI_WRONG_HOST] is the shared wrong-host pair */
    /* The SANs of the valid, untrusted and expired certificates, normalised: DNS names in
     * lower case, IP addresses in inet_ntop() form. Requested hosts, then localhost,
     * 127.0.0.1, ::1, then names kept from an earlier request (see pki_ensure). */
    size_t nnames;
    char names[PKI_MAX_NAMES][PKI_HOST_MAX + 1];
} pki_profile_paths;

typedef struct pki_paths {
    pki_key_type key_type;
    char dir[PKI_PATH_MAX];                /* <state>/pki/<key type> */
    char lock[PKI_PATH_MAX];               /* <dir>/.lock */
    char ca_cert[PKI_PATH_MAX];            /* the trust anchor to give clients (--cafile) */
    char untrusted_ca_cert[PKI_PATH_MAX];  /* for tests that need it; never trust it */
    pki_pair wrong_host;
    unsigned generated;                    /* files this call wrote (0: all reused) */
    size_t nprofiles;
    pki_profile_paths profiles[];          /* in request order */
} pki_paths;

/* Work out the state directory: cli_state when not NULL (the --state option), else
 * $XDG_STATE_HOME/mailrig when that is an absolute path (the XDG spec says to ignore a relative
 * one), else $HOME/.local/state/mailrig, else the password database's home directory.
 * Writes the path to buf (n bytes). Returns 0, or -1 with err filled (no home directory, path
 * too long). Creates nothing. */
int pki_default_state_dir(const char *cli_state, char *buf, size_t n, char *err, size_t errlen);

/* Normalise one host name for a SAN: a DNS name (letters, digits, hyphens; labels of 1..63
 * bytes, at most PKI_HOST_MAX bytes, a final dot dropped, lower-cased; "*" allowed as a whole
 * first label before at least two more; an all-digit last label is refused as a mistyped IP),
 * an IPv4 dotted quad, or an IPv6 address with or without [brackets] (written back in
 * inet_ntop() form). Non-ASCII names are refused: use the A-label ("xn--") form.
 * Writes the normal form to out (PKI_HOST_MAX + 1 bytes) and returns 1 for an IP address, 0 for
 * a DNS name, or -1 with err saying what is wrong with which name. */
int pki_host_normalize(const char *in, char out[PKI_HOST_MAX + 1], char *err, size_t errlen);

/* Make sure the PKI under <state_dir>/pki/<key type>/ holds both CAs, the wrong-host pair and
 * the three pairs of each requested profile, all valid, then return their paths in *out.
 *
 * Creates the directories (mode 0700) as needed. Reuses every file that is present and valid;
 * regenerates, under the exclusive lock, any that is missing, unreadable, of another key type,
 * not matching its key, not issued by the current CA, starting in the future, expiring within
 * 7 days (30 for a CA), or missing a requested name. Regenerating a CA regenerates everything
 * it signed. A key is kept when only its certificate needs renewing. With req->force, every
 * file in the request is regenerated.
 *
 * Names only accumulate: a profile certificate reissued for a missing name keeps the names
 * it had (up to PKI_MAX_NAMES, after which only the requested ones are kept), so two processes
 * asking for different host sets of the same profile converge instead of undoing each other.
 * --force starts from the requested names only.
 *
 * Files: certificates 0644, keys 0600, whatever the umask. Stale temporary files left by a
 * crashed writer are removed. Memory: *out is one allocation of sizeof(pki_paths) (about
 * 9 KB) + nprofiles * sizeof(pki_profile_paths) (about 25 KB), freed with pki_paths_free();
 * nothing else is retained. Time: a fresh ECDSA PKI with one profile takes a few
 * milliseconds; an RSA one about a second (six RSA keys); a reuse only reads and verifies.
 * Thread-safe when each thread passes its own err; OpenSSL's error queue is cleared on return.
 * Returns PKI_OK, or PKI_ERR_REQUEST / PKI_ERR_ENV with err filled and *out set to NULL. */
int pki_ensure(const char *state_dir, const pki_request *req, pki_paths **out, char *err,
               size_t errlen);

/* Free a result of pki_ensure(). NULL is fine. */
void pki_paths_free(pki_paths *paths);

/* The profile named name in paths, or NULL. */
const pki_profile_paths *pki_find_profile(const pki_paths *paths, const char *name);

/* The pair to serve for variant v of profile prof (&paths->wrong_host for PKI_WRONG_HOST),
 * or NULL for an unknown variant. */
const pki_pair *pki_variant_pair(const pki_paths *paths, const pki_profile_paths *prof,
                                 pki_variant v);

/* Take the PKI's lock shared, so that no pki_ensure() rewrites files while the caller reads a
 * certificate and its key. Blocks while a writer holds it. Returns a descriptor to pass to
 * pki_read_unlock(), or -1 with err filled. Hold it briefly: a process forked meanwhile
 * inherits the lock with the descriptor (flock locks belong to the open file), so a child
 * must pki_read_unlock() its copy before it can call pki_ensure(). */
int pki_read_lock(const pki_paths *paths, char *err, size_t errlen);

/* Release a lock from pki_read_lock(). A negative fd is ignored. */
void pki_read_unlock(int fd);

#endif
