/* test_pki.c -- the test PKI in servers/pki.c: files, modes, SANs, chains, reuse,
 * regeneration and concurrent writers. */
#define _XOPEN_SOURCE 700 /* nftw */
#define OPENSSL_API_COMPAT 30000
#define OPENSSL_NO_DEPRECATED
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "servers/pki.h"

static const char *const ICLOUD_HOSTS[] = {"imap.mail.me.com", "smtp.mail.me.com",
                                           "p00-imap.mail.me.com"};
static const char *const EXCHANGE_HOSTS[] = {"outlook.office365.com", "smtp.office365.com"};
/* Files one fresh PKI with one profile holds: 2 CAs, wrong-host, 3 profile pairs. */
enum { FILES_BASE = 6, FILES_PER_PROFILE = 6 };

typedef struct fixture {
    char dir[128];
    char err[1024];
    pki_profile_request prof[2];
    pki_request req;
    pki_paths *p;
    char notes[8192];
} fixture;

static void collect_note(void *arg, const char *msg)
{
    fixture *f = arg;
    size_t used = strlen(f->notes);
    snprintf(f->notes + used, sizeof f->notes - used, "%s\n", msg);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    snprintf(f->dir, sizeof f->dir, "/tmp/mailrig-test-pki-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    f->prof[0] = (pki_profile_request){"icloud", ICLOUD_HOSTS, 3};
    f->prof[1] = (pki_profile_request){"exchange", EXCHANGE_HOSTS, 2};
    f->req = (pki_request){.key_type = PKI_KEY_ECDSA_P256, .profiles = f->prof,
                           .nprofiles = 1, .note = collect_note, .note_arg = f};
    *state = f;
    return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static int teardown(void **state)
{
    fixture *f = *state;
    pki_paths_free(f->p);
    nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

/* Run pki_ensure on the fixture and require success; returns how many files it wrote. */
static unsigned ensure_ok(fixture *f)
{
    pki_paths_free(f->p);
    f->p = NULL;
    f->notes[0] = '\0';
    int rc = pki_ensure(f->dir, &f->req, &f->p, f->err, sizeof f->err);
    if (rc != PKI_OK)
        fail_msg("pki_ensure: %s", f->err);
    return f->p->generated;
}

static X509 *load_cert(const char *path)
{
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    X509 *x = PEM_read_X509(fp, NULL, NULL, NULL);
    fclose(fp);
    assert_non_null(x);
    return x;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    char *buf = calloc(1, 65536);
    *len = fread(buf, 1, 65535, fp);
    fclose(fp);
    return buf;
}

static int same_file(const char *a, const char *b_content, size_t blen)
{
    size_t alen;
    char *ac = slurp(a, &alen);
    int same = alen == blen && !memcmp(ac, b_content, alen);
    free(ac);
    return same;
}

static mode_t mode_of(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st.st_mode & 07777;
}

/* Verify cert against ca_file as a TLS client would for host (NULL: no name check).
 * Returns X509_V_OK or the error. */
static int verify(const char *cert_file, const char *ca_file, const char *host)
{
    X509 *leaf = load_cert(cert_file), *ca = load_cert(ca_file);
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    assert_true(X509_STORE_add_cert(store, ca));
    assert_true(X509_STORE_CTX_init(ctx, store, leaf, NULL));
    X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER);
    X509_VERIFY_PARAM *param = X509_STORE_CTX_get0_param(ctx);
    if (host && strchr(host, ':'))
        assert_true(X509_VERIFY_PARAM_set1_ip_asc(param, host));
    else if (host && host[0] >= '0' && host[0] <= '9')
        assert_true(X509_VERIFY_PARAM_set1_ip_asc(param, host));
    else if (host)
        assert_true(X509_VERIFY_PARAM_set1_host(param, host, 0));
    int rc = X509_verify_cert(ctx) == 1 ? X509_V_OK : X509_STORE_CTX_get_error(ctx);
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    X509_free(leaf);
    X509_free(ca);
    ERR_clear_error();
    return rc;
}

/* Does the SAN extension of cert_file contain the DNS name or IP address `name`? */
static int has_san(const char *cert_file, const char *name)
{
    X509 *x = load_cert(cert_file);
    int found = strchr(name, ':') || (name[0] >= '0' && name[0] <= '9')
                    ? X509_check_ip_asc(x, name, 0) == 1
                    : X509_check_host(x, name, 0, X509_CHECK_FLAG_NO_WILDCARDS, NULL) == 1;
    X509_free(x);
    return found;
}

/* ---------------------------------------------------------------------------------------- */

static void creates_files_with_modes(void **state)
{
    fixture *f = *state;
    assert_int_equal(ensure_ok(f), FILES_BASE + FILES_PER_PROFILE);
    const pki_paths *p = f->p;
    char want[PKI_PATH_MAX + 64];
    snprintf(want, sizeof want, "%s/pki/ecdsa-p256", f->dir);
    assert_string_equal(p->dir, want);
    snprintf(want, sizeof want, "%s/pki/ecdsa-p256/ca.crt", f->dir);
    assert_string_equal(p->ca_cert, want);
    assert_int_equal(mode_of(p->dir), 0700);
    assert_int_equal(mode_of(p->ca_cert), 0644);
    assert_int_equal(mode_of(p->untrusted_ca_cert), 0644);
    snprintf(want, sizeof want, "%s/ca.key", p->dir);
    assert_int_equal(mode_of(want), 0600);
    assert_int_equal(mode_of(p->wrong_host.key), 0600);
    const pki_profile_paths *icloud = pki_find_profile(p, "icloud");
    assert_non_null(icloud);
    assert_null(pki_find_profile(p, "exchange"));
    for (int v = 0; v < PKI_VARIANT_COUNT; v++) {
        const pki_pair *pair = pki_variant_pair(p, icloud, (pki_variant)v);
        assert_int_equal(mode_of(pair->cert), 0644);
        assert_int_equal(mode_of(pair->key), 0600);
    }
    assert_string_equal(pki_variant_pair(p, icloud, PKI_WRONG_HOST)->cert, p->wrong_host.cert);
    snprintf(want, sizeof want, "%s/profiles/icloud/expired.key", p->dir);
    assert_string_equal(icloud->pair[PKI_EXPIRED].key, want);
    /* The notes name every file written, relative to the PKI directory. */
    assert_non_null(strstr(f->notes, "generated ca.key: missing\n"));
    assert_non_null(strstr(f->notes, "generated profiles/icloud/valid.crt: missing\n"));
}

static void keys_are_p256(void **state)
{
    fixture *f = *state;
    ensure_ok(f);
    FILE *fp = fopen(f->p->profiles[0].pair[PKI_VALID].key, "r");
    EVP_PKEY *k = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
    fclose(fp);
    assert_non_null(k);
    char group[64];
    assert_true(EVP_PKEY_is_a(k, "EC"));
    assert_int_equal(EVP_PKEY_get_group_name(k, group, sizeof group, NULL), 1);
    assert_string_equal(group, "prime256v1");
    EVP_PKEY_free(k);
}

static void sans_present(void **state)
{
    fixture *f = *state;
    ensure_ok(f);
    const pki_profile_paths *pp = &f->p->profiles[0];
    const char *want[] = {"imap.mail.me.com", "smtp.mail.me.com", "p00-imap.mail.me.com",
                          "localhost", "127.0.0.1", "::1"};
    assert_int_equal(pp->nnames, 6);
    for (size_t i = 0; i < 6; i++) {
        assert_string_equal(pp->names[i], want[i]);
        assert_true(has_san(pp->pair[PKI_VALID].cert, want[i]));
        assert_true(has_san(pp->pair[PKI_UNTRUSTED].cert, want[i]));
        assert_true(has_san(pp->pair[PKI_EXPIRED].cert, want[i]));
        assert_false(has_san(f->p->wrong_host.cert, want[i]));
    }
    assert_true(has_san(f->p->wrong_host.cert, PKI_WRONG_HOST_NAME));
    assert_false(has_san(pp->pair[PKI_VALID].cert, "mail.me.com"));
    /* The CA is marked as a test authority in its subject. */
    X509 *ca = load_cert(f->p->ca_cert);
    char subject[512];
    X509_NAME_oneline(X509_get_subject_name(ca), subject, sizeof subject);
    assert_non_null(strstr(subject, "CN=mailrig test CA"));
    assert_non_null(strstr(subject, "TEST AUTHORITY"));
    X509_free(ca);
}

static void chains_verify_or_fail_as_designed(void **state)
{
    fixture *f = *state;
    ensure_ok(f);
    const pki_paths *p = f->p;
    const pki_profile_paths *pp = &p->profiles[0];
    const char *ca = p->ca_cert;
    assert_int_equal(verify(pp->pair[PKI_VALID].cert, ca, "imap.mail.me.com"), X509_V_OK);
    assert_int_equal(verify(pp->pair[PKI_VALID].cert, ca, "localhost"), X509_V_OK);
    assert_int_equal(verify(pp->pair[PKI_VALID].cert, ca, "127.0.0.1"), X509_V_OK);
    assert_int_equal(verify(pp->pair[PKI_VALID].cert, ca, "::1"), X509_V_OK);
    assert_int_equal(verify(pp->pair[PKI_VALID].cert, ca, "imap.mail.me.com.evil"),
                     X509_V_ERR_HOSTNAME_MISMATCH);
    assert_int_equal(verify(pp->pair[PKI_UNTRUSTED].cert, ca, "imap.mail.me.com"),
                     X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
    /* ... but it is a proper chain from the untrusted CA. */
    assert_int_equal(verify(pp->pair[PKI_UNTRUSTED].cert, p->untrusted_ca_cert,
                            "imap.mail.me.com"), X509_V_OK);
    assert_int_equal(verify(p->wrong_host.cert, ca, "imap.mail.me.com"),
                     X509_V_ERR_HOSTNAME_MISMATCH);
    assert_int_equal(verify(p->wrong_host.cert, ca, "127.0.0.1"),
                     X509_V_ERR_IP_ADDRESS_MISMATCH);
    assert_int_equal(verify(p->wrong_host.cert, ca, NULL), X509_V_OK);
    assert_int_equal(verify(pp->pair[PKI_EXPIRED].cert, ca, "imap.mail.me.com"),
                     X509_V_ERR_CERT_HAS_EXPIRED);
    /* The CA does not vouch for the untrusted CA's certificates and vice versa. */
    assert_int_not_equal(verify(pp->pair[PKI_VALID].cert, p->untrusted_ca_cert, NULL),
                         X509_V_OK);
}

static void reuse_without_regeneration(void **state)
{
    fixture *f = *state;
    ensure_ok(f);
    size_t ca_len, leaf_len, key_len;
    char *ca = slurp(f->p->ca_cert, &ca_len);
    char *leaf = slurp(f->p->profiles[0].pair[PKI_VALID].cert, &leaf_len);
    char *key = slurp(f->p->profiles[0].pair[PKI_VALID].key, &key_len);
    assert_int_equal(ensure_ok(f), 0);
    assert_string_equal(f->notes, "");
    assert_true(same_file(f->p->ca_cert, ca, ca_len));
    assert_true(same_file(f->p->profiles[0].pair[PKI_VALID].cert, leaf, leaf_len));
    assert_true(same_file(f->p->profiles[0].pair[PKI_VALID].key, key, key_len));
    /* Host names that normalise to the ones present need nothing either. */
    static const char *const again[] = {"IMAP.Mail.Me.Com.", "[::1]", "smtp.mail.me.com"};
    f->prof[0].hosts = again;
    assert_int_equal(ensure_ok(f), 0);
    /* A second profile adds only its own files. */
    f->prof[0].hosts = ICLOUD_HOSTS;
    f->req.nprofiles = 2;
    assert_int_equal(ensure_ok(f), FILES_PER_PROFILE);
    assert_true(same_file(f->p->ca_cert, ca, ca_len));
    assert_true(has_san(f->p->profiles[1].pair[PKI_VALID].cert, "smtp.office365.com"));
    free(ca);
    free(leaf);
    free(key);
}

static void regenerates_when_a_name_is_missing(void **state)
{
    fixture *f = *state;
    ensure_ok(f);
    size_t ca_len, key_len;
    char *ca = slurp(f->p->ca_cert, &ca_len);
    char *key = slurp(f->p->profiles[0].pair[PKI_VALID].key, &key_len);
    static const char *const more[] = {"imap.mail.me.com", "p01-imap.mail.me.com"};
    f->prof[0].hosts = more;
    f->prof[0].nhosts = 2;
    /* Three certificates reissued, their keys kept, the CA untouched. */
    assert_int_equal(ensure_ok(f), 3);
    assert_non_null(strstr(f->notes, "generated profiles/icloud/valid.crt: lacks the name "
                                     "p01-imap.mail.me.com"));
    assert_true(same_file(f->p->ca_cert, ca, ca_len));
    assert_true(same_file(f->p->profiles[0].pair[PKI_VALID].key, key, key_len));
    for (int v = 0; v < PKI_VARIANT_COUNT; v++) {
        if (v == PKI_WRONG_HOST)
            continue;
        const char *cert = f->p->profiles[0].pair[v].cert;
        assert_true(has_san(cert, "p01-imap.mail.me.com"));
        /* Names only accumulate: the earlier ones stay. */
        assert_true(has_san(cert, "smtp.mail.me.com"));
        assert_true(has_san(cert, "p00-imap.mail.me.com"));
    }
    assert_int_equal(f->p->profiles[0].nnames, 7);
    assert_string_equal(f->p->profiles[0].names[1], "p01-imap.mail.me.com");
    assert_int_equal(verify(f->p->profiles[0].pair[PKI_VALID].cert, f->p->ca_cert,
                            "p01-imap.mail.me.com"), X509_V_OK);
    /* --force starts again from the requested names, with new keys and CAs. */
    f->req.force = 1;
    assert_int_equal(ensure_ok(f), FILES_BASE + FILES_PER_PROFILE);
    assert_false(has_san(f->p->profiles[0].pair[PKI_VALID].cert, "smtp.mail.me.com"));
    assert_false(same_file(f->p->ca_cert, ca, ca_len));
    assert_non_null(strstr(f->notes, "generated ca.crt: forced\n"));
    free(ca);
    free(key);
}

static void regenerates_damaged_files(void **state)
{
    fixture *f = *state;
    ensure_ok(f);
    const pki_profile_paths *pp = &f->p->profiles[0];
    /* A missing key: new key and certificate for that pair only. */
    assert_int_equal(unlink(pp->pair[PKI_EXPIRED].key), 0);
    assert_int_equal(ensure_ok(f), 2);
    assert_non_null(strstr(f->notes, "generated profiles/icloud/expired.key: key missing\n"));
    /* A key that does not match its certificate (swapped with another pair's). */
    pp = &f->p->profiles[0];
    size_t len;
    char *other = slurp(pp->pair[PKI_UNTRUSTED].key, &len);
    FILE *fp = fopen(pp->pair[PKI_VALID].key, "w");
    fwrite(other, 1, len, fp);
    fclose(fp);
    free(other);
    assert_int_equal(ensure_ok(f), 1);
    assert_non_null(strstr(f->notes, "valid.crt: key does not match the certificate"));
    /* A garbled CA certificate: both CA files and everything the CA signed. */
    fp = fopen(f->p->ca_cert, "w");
    fputs("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n", fp);
    fclose(fp);
    assert_int_equal(ensure_ok(f), 4);  /* ca.crt, wrong-host, valid, expired: keys kept */
    assert_non_null(strstr(f->notes, "generated ca.crt: unreadable ("));
    assert_non_null(strstr(f->notes, "generated wrong-host.crt: its CA was regenerated\n"));
    assert_null(strstr(f->notes, "untrusted.crt"));
    assert_int_equal(verify(f->p->profiles[0].pair[PKI_VALID].cert, f->p->ca_cert,
                            "smtp.mail.me.com"), X509_V_OK);
    /* A stale temporary file from a crashed writer is swept away. */
    char tmp[PKI_PATH_MAX + 16];
    snprintf(tmp, sizeof tmp, "%s.tmp.AbCdEf", f->p->ca_cert);
    fp = fopen(tmp, "w");
    fclose(fp);
    assert_int_equal(ensure_ok(f), 0);
    assert_int_equal(access(tmp, F_OK), -1);
}

static void untrusted_ca_never_shares_the_test_ca_key(void **state)
{
    fixture *f = *state;
    ensure_ok(f);
    char ukey[PKI_PATH_MAX + 32], ckey[PKI_PATH_MAX + 32];
    snprintf(ukey, sizeof ukey, "%s/untrusted-ca.key", f->p->dir);
    snprintf(ckey, sizeof ckey, "%s/ca.key", f->p->dir);
    size_t len;
    char *k = slurp(ckey, &len);
    FILE *fp = fopen(ukey, "w");
    fwrite(k, 1, len, fp);
    fclose(fp);
    ensure_ok(f);
    assert_non_null(strstr(f->notes, "generated untrusted-ca.key: key does not match"));
    assert_false(same_file(ukey, k, len));
    free(k);
    assert_int_equal(verify(f->p->profiles[0].pair[PKI_UNTRUSTED].cert, f->p->ca_cert, NULL),
                     X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
}

static void rsa_key_type(void **state)
{
    fixture *f = *state;
    f->req.key_type = PKI_KEY_RSA_2048;
    assert_int_equal(ensure_ok(f), FILES_BASE + FILES_PER_PROFILE);
    assert_non_null(strstr(f->p->dir, "/pki/rsa-2048"));
    X509 *x = load_cert(f->p->profiles[0].pair[PKI_VALID].cert);
    EVP_PKEY *k = X509_get0_pubkey(x);
    assert_true(EVP_PKEY_is_a(k, "RSA"));
    assert_int_equal(EVP_PKEY_get_bits(k), 2048);
    X509_free(x);
    assert_int_equal(verify(f->p->profiles[0].pair[PKI_VALID].cert, f->p->ca_cert,
                            "imap.mail.me.com"), X509_V_OK);
    /* The ECDSA PKI beside it is separate. */
    f->req.key_type = PKI_KEY_ECDSA_P256;
    assert_int_equal(ensure_ok(f), FILES_BASE + FILES_PER_PROFILE);
}

/* Several processes at once on one empty state directory: each must come back with the same
 * CA, and between them they must have written each file exactly once. */
static void concurrent_processes_agree(void **state)
{
    fixture *f = *state;
    enum { NPROC = 6 };
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pids[NPROC];
    for (int i = 0; i < NPROC; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            close(fds[0]);
            pki_paths *p = NULL;
            char err[512];
            f->req.note = NULL;
            int rc = pki_ensure(f->dir, &f->req, &p, err, sizeof err);
            char line[256] = "error\n";
            if (rc == PKI_OK) {
                size_t len;
                char *ca = slurp(p->ca_cert, &len);
                unsigned char md[32];
                EVP_Digest(ca, len, md, NULL, EVP_sha256(), NULL);
                snprintf(line, sizeof line, "%u %02x%02x%02x%02x%02x%02x%02x%02x\n",
                         p->generated, md[0], md[1], md[2], md[3], md[4], md[5], md[6], md[7]);
                free(ca);
            }
            if (write(fds[1], line, strlen(line)) < 0)
                _exit(2);
            pki_paths_free(p);
            _exit(rc == PKI_OK ? 0 : 1);
        }
    }
    close(fds[1]);
    for (int i = 0; i < NPROC; i++) {
        int st;
        assert_int_equal(waitpid(pids[i], &st, 0), pids[i]);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    char buf[4096] = "";
    size_t got = 0;
    ssize_t r;
    while ((r = read(fds[0], buf + got, sizeof buf - 1 - got)) > 0)
        got += (size_t)r;
    close(fds[0]);
    unsigned total = 0, gen;
    char hash[17], first[17] = "";
    int lines = 0;
    for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n"), lines++) {
        assert_int_equal(sscanf(line, "%u %16s", &gen, hash), 2);
        total += gen;
        if (!first[0])
            snprintf(first, sizeof first, "%s", hash);
        assert_string_equal(hash, first);
    }
    assert_int_equal(lines, NPROC);
    assert_int_equal(total, FILES_BASE + FILES_PER_PROFILE);
    assert_int_equal(ensure_ok(f), 0);
    assert_int_equal(verify(f->p->profiles[0].pair[PKI_VALID].cert, f->p->ca_cert,
                            "imap.mail.me.com"), X509_V_OK);
}

static void read_lock_waits_for_writer(void **state)
{
    fixture *f = *state;
    ensure_ok(f);
    int fd = pki_read_lock(f->p, f->err, sizeof f->err);
    assert_true(fd >= 0);
    int fd2 = pki_read_lock(f->p, f->err, sizeof f->err);  /* shared: no deadlock */
    assert_true(fd2 >= 0);
    pki_read_unlock(fd2);
    pid_t pid = fork();
    if (pid == 0) {
        pki_read_unlock(fd);  /* a child inherits the lock with the descriptor */
        pki_paths *p = NULL;
        f->req.force = 1;
        f->req.note = NULL;
        _exit(pki_ensure(f->dir, &f->req, &p, NULL, 0) == PKI_OK ? 0 : 1);
    }
    usleep(100 * 1000);
    int st;
    assert_int_equal(waitpid(pid, &st, WNOHANG), 0);  /* blocked by our shared lock */
    pki_read_unlock(fd);
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void host_names(void **state)
{
    (void)state;
    char out[PKI_HOST_MAX + 1], err[256];
    assert_int_equal(pki_host_normalize("IMAP.Mail.ME.com.", out, err, sizeof err), 0);
    assert_string_equal(out, "imap.mail.me.com");
    assert_int_equal(pki_host_normalize("*.mail.me.com", out, err, sizeof err), 0);
    assert_int_equal(pki_host_normalize("localhost", out, err, sizeof err), 0);
    assert_int_equal(pki_host_normalize("xn--bcher-kva.example", out, err, sizeof err), 0);
    assert_int_equal(pki_host_normalize("127.0.0.1", out, err, sizeof err), 1);
    assert_int_equal(pki_host_normalize("[0:0::1]", out, err, sizeof err), 1);
    assert_string_equal(out, "::1");
    assert_int_equal(pki_host_normalize("2001:DB8::0:1", out, err, sizeof err), 1);
    assert_string_equal(out, "2001:db8::1");
    static const struct { const char *in, *why; } bad[] = {
        {"", "empty host name"},
        {"a..b", "empty label"},
        {"-a.b", "starts or ends with '-'"},
        {"a_b.example", "byte 0x5f is not allowed"},
        {"b\xc3\xbc" "cher.example", "use the A-label"},
        {"*.com", "'*' must be the whole first label"},
        {"a.*.example", "'*' must be the whole first label"},
        {"1.2.3.999", "all-digit last label"},
        {"fe80::1%eth0", "not a valid IPv6 address"},
        {"[::1", "unbalanced"},
        {"a.example,DNS.1=evil.example", "byte 0x2c is not allowed"},
        {"0123456789012345678901234567890123456789012345678901234567890123.x",
         "label longer than 63"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_int_equal(pki_host_normalize(bad[i].in, out, err, sizeof err), -1);
        if (!strstr(err, bad[i].why))
            fail_msg("'%s': got \"%s\", want \"%s\"", bad[i].in, err, bad[i].why);
    }
    char longname[300];
    memset(longname, 'a', sizeof longname);
    for (int i = 50; i < 299; i += 50)
        longname[i] = '.';
    longname[299] = '\0';
    assert_int_equal(pki_host_normalize(longname, out, err, sizeof err), -1);
    assert_non_null(strstr(err, "longer than 253"));
}

static void bad_requests(void **state)
{
    fixture *f = *state;
    static const char *const bad_host[] = {"imap.mail.me.com", "exa mple.com"};
    f->prof[0].hosts = bad_host;
    f->prof[0].nhosts = 2;
    assert_int_equal(pki_ensure(f->dir, &f->req, &f->p, f->err, sizeof f->err),
                     PKI_ERR_REQUEST);
    assert_null(f->p);
    assert_string_equal(f->err, "profile icloud: host name 'exa mple.com': byte 0x20 is not "
                                "allowed (letters, digits, '-' and '.' only)");
    f->prof[0] = (pki_profile_request){"../evil", NULL, 0};
    assert_int_equal(pki_ensure(f->dir, &f->req, &f->p, f->err, sizeof f->err),
                     PKI_ERR_REQUEST);
    assert_non_null(strstr(f->err, "profile name '../evil': byte 0x2e"));
    f->prof[0] = (pki_profile_request){"same", NULL, 0};
    f->prof[1] = (pki_profile_request){"same", NULL, 0};
    f->req.nprofiles = 2;
    assert_int_equal(pki_ensure(f->dir, &f->req, &f->p, f->err, sizeof f->err),
                     PKI_ERR_REQUEST);
    assert_string_equal(f->err, "profile same requested twice");
    f->req.nprofiles = PKI_MAX_PROFILES + 1;
    assert_int_equal(pki_ensure(f->dir, &f->req, &f->p, f->err, sizeof f->err),
                     PKI_ERR_REQUEST);
    f->req.nprofiles = 1;
    f->prof[0].nhosts = PKI_MAX_HOSTS + 1;
    f->prof[0].hosts = ICLOUD_HOSTS;
    assert_int_equal(pki_ensure(f->dir, &f->req, &f->p, f->err, sizeof f->err),
                     PKI_ERR_REQUEST);
    assert_non_null(strstr(f->err, "at most 61"));
    /* Nothing was created for any of these. */
    char pki_dir[PKI_PATH_MAX];
    snprintf(pki_dir, sizeof pki_dir, "%s/pki", f->dir);
    assert_int_equal(access(pki_dir, F_OK), -1);
}

static void environment_errors(void **state)
{
    fixture *f = *state;
    char file[PKI_PATH_MAX];
    snprintf(file, sizeof file, "%s/plainfile", f->dir);
    FILE *fp = fopen(file, "w");
    fclose(fp);
    assert_int_equal(pki_ensure(file, &f->req, &f->p, f->err, sizeof f->err), PKI_ERR_ENV);
    char want[PKI_PATH_MAX + 64];
    snprintf(want, sizeof want, "%s: mkdir: Not a directory", file);
    assert_string_equal(f->err, want);
    if (geteuid() != 0) {  /* root ignores directory permissions */
        char ro[PKI_PATH_MAX];
        snprintf(ro, sizeof ro, "%s/ro", f->dir);
        assert_int_equal(mkdir(ro, 0500), 0);
        assert_int_equal(pki_ensure(ro, &f->req, &f->p, f->err, sizeof f->err), PKI_ERR_ENV);
        assert_non_null(strstr(f->err, "/ro/pki: mkdir: Permission denied"));
    }
    /* A directory where a key should be: the error names the file and the operation. */
    ensure_ok(f);
    char key[PKI_PATH_MAX];
    snprintf(key, sizeof key, "%s", f->p->wrong_host.key);
    assert_int_equal(unlink(key), 0);
    assert_int_equal(mkdir(key, 0700), 0);
    pki_paths_free(f->p);
    f->p = NULL;
    assert_int_equal(pki_ensure(f->dir, &f->req, &f->p, f->err, sizeof f->err), PKI_ERR_ENV);
    snprintf(want, sizeof want, "%s: rename: Is a directory", key);
    assert_string_equal(f->err, want);
    rmdir(key);
}

/* A complete PKI in a directory we cannot write is still usable as it is. */
static void read_only_pki(void **state)
{
    fixture *f = *state;
    if (geteuid() == 0)
        skip();  /* root writes anyway */
    ensure_ok(f);
    char dir[PKI_PATH_MAX], prof[PKI_PATH_MAX + 32];
    snprintf(dir, sizeof dir, "%s", f->p->dir);
    snprintf(prof, sizeof prof, "%s/profiles/icloud", dir);
    assert_int_equal(chmod(prof, 0500), 0);
    assert_int_equal(chmod(dir, 0500), 0);
    assert_int_equal(ensure_ok(f), 0);
    f->req.force = 1;
    pki_paths_free(f->p);
    assert_int_equal(pki_ensure(f->dir, &f->req, &f->p, f->err, sizeof f->err), PKI_ERR_ENV);
    assert_non_null(strstr(f->err, "ca.key.tmp."));
    assert_non_null(strstr(f->err, ": create: Permission denied"));
    chmod(dir, 0700);
    chmod(prof, 0700);
}

static void state_dir_default(void **state)
{
    (void)state;
    char buf[PKI_PATH_MAX], err[256];
    char *saved_home = getenv("HOME") ? strdup(getenv("HOME")) : NULL;
    char *saved_xdg = getenv("XDG_STATE_HOME") ? strdup(getenv("XDG_STATE_HOME")) : NULL;
    assert_int_equal(pki_default_state_dir("/x/y", buf, sizeof buf, err, sizeof err), 0);
    assert_string_equal(buf, "/x/y");
    setenv("XDG_STATE_HOME", "/xdg", 1);
    setenv("HOME", "/home/u", 1);
    assert_int_equal(pki_default_state_dir(NULL, buf, sizeof buf, err, sizeof err), 0);
    assert_string_equal(buf, "/xdg/mailrig");
    setenv("XDG_STATE_HOME", "relative/ignored", 1);
    assert_int_equal(pki_default_state_dir(NULL, buf, sizeof buf, err, sizeof err), 0);
    assert_string_equal(buf, "/home/u/.local/state/mailrig");
    unsetenv("XDG_STATE_HOME");
    assert_int_equal(pki_default_state_dir(NULL, buf, sizeof buf, err, sizeof err), 0);
    assert_string_equal(buf, "/home/u/.local/state/mailrig");
    char cwd[PKI_PATH_MAX], want[PKI_PATH_MAX + 8];
    assert_non_null(getcwd(cwd, sizeof cwd));
    snprintf(want, sizeof want, "%s/st", cwd);
    assert_int_equal(pki_default_state_dir("st", buf, sizeof buf, err, sizeof err), 0);
    assert_string_equal(buf, want);
    assert_int_equal(pki_default_state_dir("/x", buf, 2, err, sizeof err), -1);
    assert_non_null(strstr(err, "longer than 1 bytes"));
    if (saved_home)
        setenv("HOME", saved_home, 1);
    if (saved_xdg)
        setenv("XDG_STATE_HOME", saved_xdg, 1);
    free(saved_home);
    free(saved_xdg);
}

static void names_of_enums(void **state)
{
    (void)state;
    pki_key_type t;
    assert_int_equal(pki_key_type_parse("RSA", &t), 0);
    assert_int_equal(t, PKI_KEY_RSA_2048);
    assert_int_equal(pki_key_type_parse("ec", &t), 0);
    assert_int_equal(t, PKI_KEY_ECDSA_P256);
    assert_int_equal(pki_key_type_parse("dsa", &t), -1);
    assert_string_equal(pki_key_type_name(PKI_KEY_RSA_2048), "rsa-2048");
    pki_variant v;
    assert_int_equal(pki_variant_parse("wrong-host", &v), 0);
    assert_int_equal(v, PKI_WRONG_HOST);
    assert_int_equal(pki_variant_parse("Expired", &v), -1);
    assert_string_equal(pki_variant_name(PKI_EXPIRED), "expired");
    assert_string_equal(pki_variant_name((pki_variant)42), "?");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(creates_files_with_modes, setup, teardown),
        cmocka_unit_test_setup_teardown(keys_are_p256, setup, teardown),
        cmocka_unit_test_setup_teardown(sans_present, setup, teardown),
        cmocka_unit_test_setup_teardown(chains_verify_or_fail_as_designed, setup, teardown),
        cmocka_unit_test_setup_teardown(reuse_without_regeneration, setup, teardown),
        cmocka_unit_test_setup_teardown(regenerates_when_a_name_is_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(regenerates_damaged_files, setup, teardown),
        cmocka_unit_test_setup_teardown(untrusted_ca_never_shares_the_test_ca_key, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(rsa_key_type, setup, teardown),
        cmocka_unit_test_setup_teardown(concurrent_processes_agree, setup, teardown),
        cmocka_unit_test_setup_teardown(read_lock_waits_for_writer, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(environment_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(read_only_pki, setup, teardown),
        cmocka_unit_test(host_names),
        cmocka_unit_test(state_dir_default),
        cmocka_unit_test(names_of_enums),
    };
    return cmocka_run_group_tests_name("pki", tests, NULL, NULL);
}
