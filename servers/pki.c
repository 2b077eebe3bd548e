/* pki.c -- the test PKI (see pki.h for the contract and the file layout). */
#define OPENSSL_API_COMPAT 30000
#define OPENSSL_NO_DEPRECATED

#include "servers/errbuf.h"
#include "servers/pki.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#define DAY 86400L
enum {
    CA_FROM_DAYS = -90,          /* so the expired leaf's whole life lies inside the CA's */
    CA_DAYS = 3650,
    CA_MARGIN_DAYS = 30,         /* renew a CA this long before it expires */
    LEAF_FROM_DAYS = -1,         /* tolerate a client clock that lags by up to a day */
    LEAF_DAYS = 397,             /* under Apple's 825-day and browsers' 398-day limits */
    LEAF_MARGIN_DAYS = 7,
    EXPIRED_FROM_DAYS = -60,
    EXPIRED_TO_DAYS = -30,
};

static const char CA_CN[] = "mailrig test CA";
static const char CA_ORG[] = "mailrig (TEST AUTHORITY, do not trust outside tests)";
static const char UNTRUSTED_CN[] = "mailrig untrusted test CA";
static const char UNTRUSTED_ORG[] = "mailrig (UNTRUSTED TEST AUTHORITY, never trust)";
static const char LEAF_ORG[] = "mailrig test server";
static const char UNTRUSTED_LEAF_ORG[] = "mailrig test server (untrusted issuer)";
static const char *const LOOPBACK_NAMES[] = {"localhost", "127.0.0.1", "::1"};

typedef char hostbuf[PKI_HOST_MAX + 1];

/* ---------------------------------------------------------------------------------------- */
/* Errors */

/* Drain OpenSSL's error queue into buf: the first error in full (it names the failing
 * routine), then the reasons of up to two more. */
static void ossl_errors(char *buf, size_t n)
{
    unsigned long e;
    size_t used = 0;
    int count = 0;
    buf[0] = '\0';
    while ((e = ERR_get_error()) != 0) {
        if (count++ >= 3 || used + 3 >= n)
            continue;
        if (count == 1) {
            ERR_error_string_n(e, buf, n);
        } else {
            const char *r = ERR_reason_error_string(e);
            snprintf(buf + used, n - used, "; %s", r ? r : "unknown");
        }
        used = strlen(buf);
    }
    if (!count)
        snprintf(buf, n, "no OpenSSL error recorded");
}

static int fail_ossl(char *err, size_t errlen, const char *file, const char *op)
{
    char why[512];
    ossl_errors(why, sizeof why);
    errbuf_set(err, errlen, "%s: %s: %s", file, op, why);
    return PKI_ERR_ENV;
}

static int fail_errno(char *err, size_t errlen, const char *file, const char *op)
{
    errbuf_set(err, errlen, "%s: %s: %s", file, op, strerror(errno));
    return PKI_ERR_ENV;
}

/* ---------------------------------------------------------------------------------------- */
/* Names */

const char *pki_key_type_name(pki_key_type type)
{
    switch (type) {
    case PKI_KEY_ECDSA_P256: return "ecdsa-p256";
    case PKI_KEY_RSA_2048: return "rsa-2048";
    }
    return "?";
}

int pki_key_type_parse(const char *s, pki_key_type *out)
{
    if (!s)
        return -1;
    if (!strcasecmp(s, "ecdsa-p256") || !strcasecmp(s, "ecdsa") || !strcasecmp(s, "ec"))
        *out = PKI_KEY_ECDSA_P256;
    else if (!strcasecmp(s, "rsa-2048") || !strcasecmp(s, "rsa"))
        *out = PKI_KEY_RSA_2048;
    else
        return -1;
    return 0;
}

static const char *const VARIANT_NAMES[PKI_VARIANT_COUNT] = {
    [PKI_VALID] = "valid", [PKI_WRONG_HOST] = "wrong-host",
    [PKI_UNTRUSTED] = "untrusted", [PKI_EXPIRED] = "expired",
};

const char *pki_variant_name(pki_variant v)
{
    return (unsigned)v < PKI_VARIANT_COUNT ? VARIANT_NAMES[v] : "?";
}

int pki_variant_parse(const char *s, pki_variant *out)
{
    for (int v = 0; s && v < PKI_VARIANT_COUNT; v++)
        if (!strcmp(s, VARIANT_NAMES[v])) {
            *out = (pki_variant)v;
            return 0;
        }
    return -1;
}

static int is_alnum(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* Check one DNS label [start, end) of name; idx is its position (0 = leftmost). */
static int check_label(const char *in, const char *l, size_t len, size_t idx, size_t nlabels,
                       char *err, size_t errlen)
{
    if (len == 0)
        return errbuf_set(err, errlen, "host name '%s': empty label", in), -1;
    if (len > 63)
        return errbuf_set(err, errlen, "host name '%s': label longer than 63 bytes", in), -1;
    if (len == 1 && l[0] == '*') {
        if (idx != 0 || nlabels < 3)
            return errbuf_set(err, errlen, "host name '%s': '*' must be the whole first label "
                           "of a name with at least three labels", in), -1;
        return 0;
    }
    if (l[0] == '-' || l[len - 1] == '-')
        return errbuf_set(err, errlen, "host name '%s': label starts or ends with '-'", in), -1;
    int digits = 1;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)l[i];
        if (c >= 0x80)
            return errbuf_set(err, errlen, "host name '%s': not ASCII; use the A-label "
                           "(xn--) form", in), -1;
        if (!is_alnum(c) && c != '-')
            return errbuf_set(err, errlen, "host name '%s': byte 0x%02x is not allowed "
                           "(letters, digits, '-' and '.' only)", in, c), -1;
        digits &= (c >= '0' && c <= '9');
    }
    if (digits && idx + 1 == nlabels)
        return errbuf_set(err, errlen, "host name '%s': all-digit last label; not a valid "
                       "IPv4 address either", in), -1;
    return 0;
}

static int normalize_dns(const char *in, char *out, char *err, size_t errlen)
{
    size_t len = strlen(in);
    if (len > 1 && in[len - 1] == '.')
        len--;
    if (len > PKI_HOST_MAX)
        return errbuf_set(err, errlen, "host name '%.40s...': longer than %d bytes", in,
                       PKI_HOST_MAX), -1;
    memcpy(out, in, len);
    out[len] = '\0';
    size_t nlabels = 1;
    for (size_t i = 0; i < len; i++)
        nlabels += out[i] == '.';
    const char *l = out;
    for (size_t idx = 0; idx < nlabels; idx++) {
        const char *dot = strchr(l, '.');
        size_t n = dot ? (size_t)(dot - l) : strlen(l);
        if (check_label(in, l, n, idx, nlabels, err, errlen))
            return -1;
        l += n + 1;
    }
    for (size_t i = 0; i < len; i++)
        if (out[i] >= 'A' && out[i] <= 'Z')
            out[i] = (char)(out[i] - 'A' + 'a');
    return 0;
}

int pki_host_normalize(const char *in, char out[PKI_HOST_MAX + 1], char *err, size_t errlen)
{
    unsigned char addr[16];
    char v6[64];
    if (!in || !in[0])
        return errbuf_set(err, errlen, "empty host name"), -1;
    size_t len = strlen(in);
    if (in[0] == '[' || strchr(in, ':')) {
        const char *p = in;
        if (in[0] == '[') {
            if (len < 3 || in[len - 1] != ']' || len - 2 >= sizeof v6)
                return errbuf_set(err, errlen, "host name '%s': unbalanced [brackets]", in), -1;
            memcpy(v6, in + 1, len - 2);
            v6[len - 2] = '\0';
            p = v6;
        }
        if (inet_pton(AF_INET6, p, addr) != 1)
            return errbuf_set(err, errlen, "host name '%s': not a valid IPv6 address "
                           "(zone ids are not allowed)", in), -1;
        inet_ntop(AF_INET6, addr, out, PKI_HOST_MAX + 1);
        return 1;
    }
    if (inet_pton(AF_INET, in, addr) == 1) {
        inet_ntop(AF_INET, addr, out, PKI_HOST_MAX + 1);
        return 1;
    }
    return normalize_dns(in, out, err, errlen) ? -1 : 0;
}

static int names_has(const hostbuf *names, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(names[i], name))
            return 1;
    return 0;
}

/* Append name unless present. Returns 0, or -1 when max names are already there. */
static int names_add(hostbuf *names, size_t *n, size_t max, const char *name)
{
    if (names_has(names, *n, name))
        return 0;
    if (*n >= max)
        return -1;
    snprintf(names[(*n)++], sizeof names[0], "%s", name);
    return 0;
}

static int check_profile_name(const char *name, char *err, size_t errlen)
{
    if (!name || !name[0])
        return errbuf_set(err, errlen, "empty profile name"), -1;
    size_t len = strlen(name);
    if (len > PKI_NAME_MAX)
        return errbuf_set(err, errlen, "profile name '%.20s...': longer than %d bytes", name,
                       PKI_NAME_MAX), -1;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (!is_alnum(c) && c != '-' && c != '_')
            return errbuf_set(err, errlen, "profile name '%s': byte 0x%02x is not allowed "
                           "(letters, digits, '-' and '_' only: it names a directory)",
                           name, c), -1;
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* State directory and paths */

int pki_default_state_dir(const char *cli_state, char *buf, size_t n, char *err, size_t errlen)
{
    int len;
    if (cli_state) {
        if (!cli_state[0])
            return errbuf_set(err, errlen, "empty state directory"), -1;
        if (cli_state[0] == '/') {
            len = snprintf(buf, n, "%s", cli_state);
        } else {
            /* Absolute, so that the paths we print stay valid from any directory. */
            char cwd[PKI_PATH_MAX];
            if (!getcwd(cwd, sizeof cwd))
                return errbuf_set(err, errlen, "getcwd: %s", strerror(errno)), -1;
            len = snprintf(buf, n, "%s/%s", cwd, cli_state);
        }
    } else {
        const char *xdg = getenv("XDG_STATE_HOME");
        const char *home = getenv("HOME");
        if (xdg && xdg[0] == '/') {
            len = snprintf(buf, n, "%s/mailrig", xdg);
        } else {
            if (!home || home[0] != '/') {
                struct passwd *pw = getpwuid(getuid());
                home = pw ? pw->pw_dir : NULL;
            }
            if (!home || !home[0])
                return errbuf_set(err, errlen, "no state directory: XDG_STATE_HOME and HOME "
                               "are unset and the user has no home directory; use --state "
                               "DIR"), -1;
            len = snprintf(buf, n, "%s/.local/state/mailrig", home);
        }
    }
    if (len < 0 || (size_t)len >= n)
        return errbuf_set(err, errlen, "state directory path longer than %zu bytes", n - 1), -1;
    return 0;
}

static int join(char *dst, const char *a, const char *b, const char *c, char *err,
                size_t errlen)
{
    int len = snprintf(dst, PKI_PATH_MAX, "%s%s%s", a, b, c);
    if (len < 0 || len >= PKI_PATH_MAX)
        return errbuf_set(err, errlen, "%s%s: path longer than %d bytes", a, b,
                       PKI_PATH_MAX - 1), PKI_ERR_REQUEST;
    return 0;
}

/* mkdir -p with mode 0700 for every directory created (they hold private keys). */
static int mkdirs(const char *path, char *err, size_t errlen)
{
    char buf[PKI_PATH_MAX];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char saved = *p;
        *p = '\0';
        if (mkdir(buf, 0700) && errno != EEXIST)
            return fail_errno(err, errlen, buf, "mkdir");
        struct stat st;
        if (stat(buf, &st))
            return fail_errno(err, errlen, buf, "stat");
        if (!S_ISDIR(st.st_mode)) {
            errno = ENOTDIR;
            return fail_errno(err, errlen, buf, "mkdir");
        }
        if (!saved)
            return 0;
        *p = saved;
    }
}

/* Remove "*.tmp.*" files: only a writer makes them, and we hold the writers' lock, so any
 * present now belongs to a writer that died. */
static void sweep_temps(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strstr(e->d_name, ".tmp."))
            unlinkat(dirfd(d), e->d_name, 0);
    closedir(d);
}

static int lock_file(const char *path, int op, char *err, size_t errlen)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    /* A complete PKI on a read-only directory is still usable: flock works on a read-only
     * descriptor, and only a file that needs rewriting will fail (naming itself). */
    if (fd < 0 && (errno == EACCES || errno == EROFS || errno == EPERM))
        fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fail_errno(err, errlen, path, "open lock file"), -1;
    while (flock(fd, op)) {
        if (errno == EINTR)
            continue;
        fail_errno(err, errlen, path, "flock");
        close(fd);
        return -1;
    }
    return fd;
}

int pki_read_lock(const pki_paths *paths, char *err, size_t errlen)
{
    return lock_file(paths->lock, LOCK_SH, err, errlen);
}

void pki_read_unlock(int fd)
{
    if (fd >= 0)
        close(fd);  /* closing the only descriptor releases the flock */
}

/* ---------------------------------------------------------------------------------------- */
/* Files */

static int pem_no_password(char *buf, int size, int rwflag, void *u)
{
    (void)buf, (void)size, (void)rwflag, (void)u;
    return -1;  /* our keys are never encrypted; never prompt on the terminal */
}

/* Read a PEM certificate or key. Returns the object, or NULL with why set to "missing" or
 * to the reason it could not be read. */
static void *load_pem(const char *path, int is_key, char *why, size_t n)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(why, n, "%s", errno == ENOENT ? "missing" : strerror(errno));
        return NULL;
    }
    void *obj = is_key ? (void *)PEM_read_PrivateKey(f, NULL, pem_no_password, NULL)
                       : (void *)PEM_read_X509(f, NULL, pem_no_password, NULL);
    fclose(f);
    if (!obj) {
        char e[256];
        ossl_errors(e, sizeof e);
        snprintf(why, n, "unreadable (%s)", e);
    }
    return obj;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Write bytes to path atomically: temporary file in the same directory, mode set before
 * any byte is written, fsync, rename over the old file. */
static int write_atomic(const char *path, const char *data, size_t len, mode_t mode, char *err,
                        size_t errlen)
{
    char tmp[PKI_PATH_MAX + 16];
    snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0)
        return fail_errno(err, errlen, tmp, "create");
    const char *op = "chmod";
    if (fchmod(fd, mode) == 0 && (op = "write", write_all(fd, data, len) == 0)
        && (op = "fsync", fsync(fd) == 0)) {
        op = "close";
        int rc = close(fd);
        fd = -1;
        if (rc == 0 && (op = "rename", rename(tmp, path) == 0))
            return 0;
    }
    int saved = errno;
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    errno = saved;
    return fail_errno(err, errlen, path, op);
}

static int write_pem(const char *path, X509 *cert, EVP_PKEY *key, char *err, size_t errlen)
{
    BIO *mem = BIO_new(BIO_s_mem());
    if (!mem)
        return fail_ossl(err, errlen, path, "BIO_new");
    int ok = cert ? PEM_write_bio_X509(mem, cert)
                  : PEM_write_bio_PrivateKey(mem, key, NULL, NULL, 0, NULL, NULL);
    if (!ok) {
        BIO_free(mem);
        return fail_ossl(err, errlen, path, cert ? "PEM_write_bio_X509"
                                                 : "PEM_write_bio_PrivateKey");
    }
    char *data;
    long len = BIO_get_mem_data(mem, &data);
    int rc = write_atomic(path, data, (size_t)len, cert ? 0644 : 0600, err, errlen);
    BIO_free(mem);
    return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* Keys and certificates */

static EVP_PKEY *new_key(pki_key_type type)
{
    if (type == PKI_KEY_RSA_2048)
        return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
}

static int key_is_type(EVP_PKEY *key, pki_key_type type)
{
    if (type == PKI_KEY_RSA_2048)
        return EVP_PKEY_is_a(key, "RSA") && EVP_PKEY_get_bits(key) == 2048;
    char group[64];
    size_t glen = 0;
    return EVP_PKEY_is_a(key, "EC")
        && EVP_PKEY_get_group_name(key, group, sizeof group, &glen) == 1
        && (!strcmp(group, "prime256v1") || !strcmp(group, "P-256"));
}

/* What one certificate should look like. */
typedef struct cert_spec {
    const char *cn;            /* NULL: none */
    const char *org;
    int is_ca;
    hostbuf *names;            /* SANs (leaves) */
    size_t nnames;
    long from_days, to_days;   /* validity, relative to now */
} cert_spec;

static int add_ext(X509 *x, X509V3_CTX *v3, int nid, const char *value)
{
    X509_EXTENSION *ext = X509V3_EXT_nconf_nid(NULL, v3, nid, value);
    if (!ext)
        return 0;
    int ok = X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    return ok;
}

/* The subjectAltName extension, built as structures rather than parsed from a config string,
 * so that no host name can smuggle in another entry. */
static int add_sans(X509 *x, const hostbuf *names, size_t n)
{
    GENERAL_NAMES *gens = GENERAL_NAMES_new();
    int ok = gens != NULL;
    for (size_t i = 0; ok && i < n; i++) {
        unsigned char addr[16];
        GENERAL_NAME *g = GENERAL_NAME_new();
        ASN1_STRING *s = NULL;
        int type = GEN_DNS;
        if (inet_pton(AF_INET, names[i], addr) == 1) {
            type = GEN_IPADD;
            s = ASN1_OCTET_STRING_new();
            ok = s && ASN1_OCTET_STRING_set(s, addr, 4);
        } else if (inet_pton(AF_INET6, names[i], addr) == 1) {
            type = GEN_IPADD;
            s = ASN1_OCTET_STRING_new();
            ok = s && ASN1_OCTET_STRING_set(s, addr, 16);
        } else {
            s = ASN1_IA5STRING_new();
            ok = s && ASN1_STRING_set(s, names[i], (int)strlen(names[i]));
        }
        ok = ok && g;
        if (ok) {
            GENERAL_NAME_set0_value(g, type, s);
            s = NULL;
            ok = sk_GENERAL_NAME_push(gens, g) > 0;
            if (ok)
                g = NULL;
        }
        ASN1_STRING_free(s);
        GENERAL_NAME_free(g);
    }
    ok = ok && X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT) == 1;
    GENERAL_NAMES_free(gens);
    return ok;
}

/* A random positive 127-bit serial number (RFC 5280 4.1.2.2: at most 20 octets, positive). */
static int set_serial(X509 *x)
{
    unsigned char raw[16];
    if (RAND_bytes(raw, sizeof raw) != 1)
        return 0;
    raw[0] = (unsigned char)((raw[0] & 0x7f) | 0x01);
    BIGNUM *bn = BN_bin2bn(raw, sizeof raw, NULL);
    int ok = bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
    BN_free(bn);
    return ok;
}

static int set_name(X509 *x, const cert_spec *s)
{
    X509_NAME *nm = X509_get_subject_name(x);
    const unsigned char *org = (const unsigned char *)s->org;
    if (!X509_NAME_add_entry_by_txt(nm, "O", MBSTRING_UTF8, org, -1, -1, 0))
        return 0;
    /* The CN field holds at most 64 bytes (RFC 5280 ub-common-name). */
    if (s->cn && strlen(s->cn) <= 64
        && !X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_UTF8,
                                       (const unsigned char *)s->cn, -1, -1, 0))
        return 0;
    return 1;
}

static int add_extensions(X509 *x, X509 *issuer, const cert_spec *s, pki_key_type type)
{
    X509V3_CTX v3;
    X509V3_set_ctx(&v3, issuer ? issuer : x, x, NULL, NULL, 0);
    if (s->is_ca)
        return add_ext(x, &v3, NID_basic_constraints, "critical,CA:TRUE,pathlen:0")
            && add_ext(x, &v3, NID_key_usage, "critical,keyCertSign,cRLSign")
            && add_ext(x, &v3, NID_subject_key_identifier, "hash");
    /* RSA key exchange (TLS 1.2 RSA suites) encrypts to the key: keyEncipherment. */
    const char *ku = type == PKI_KEY_RSA_2048 ? "critical,digitalSignature,keyEncipherment"
                                              : "critical,digitalSignature";
    return add_ext(x, &v3, NID_basic_constraints, "critical,CA:FALSE")
        && add_ext(x, &v3, NID_key_usage, ku)
        && add_ext(x, &v3, NID_ext_key_usage, "serverAuth")
        && add_ext(x, &v3, NID_subject_key_identifier, "hash")
        && add_ext(x, &v3, NID_authority_key_identifier, "keyid:always")
        && add_sans(x, s->names, s->nnames);
}

/* Build and sign a certificate for key. issuer NULL means self-signed. */
static X509 *make_cert(const cert_spec *s, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key,
                       pki_key_type type, time_t now)
{
    X509 *x = X509_new();
    int ok = x && X509_set_version(x, X509_VERSION_3) && set_serial(x)
        && X509_time_adj_ex(X509_getm_notBefore(x), (int)s->from_days, 0, &now)
        && X509_time_adj_ex(X509_getm_notAfter(x), (int)s->to_days, 0, &now)
        && set_name(x, s)
        && X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer)
                                          : X509_get_subject_name(x))
        && X509_set_pubkey(x, key)
        && add_extensions(x, issuer, s, type)
        && X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()) > 0;
    if (!ok) {
        X509_free(x);
        return NULL;
    }
    return x;
}

/* Read the SANs of x, normalised like pki_host_normalize(). Returns the count, or -1 when
 * there are more than max (or one is malformed: a NUL inside, a bad IP length). */
static int read_sans(X509 *x, hostbuf *out, size_t max)
{
    GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    size_t n = 0;
    int bad = 0;
    for (int i = 0; gens && !bad && i < sk_GENERAL_NAME_num(gens); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
        int type;
        const ASN1_STRING *s = GENERAL_NAME_get0_value(g, &type);
        const unsigned char *d = ASN1_STRING_get0_data(s);
        int len = ASN1_STRING_length(s);
        hostbuf name;
        if (type == GEN_DNS && len > 0 && len <= PKI_HOST_MAX && !memchr(d, 0, (size_t)len)) {
            for (int j = 0; j < len; j++)
                name[j] = (char)(d[j] >= 'A' && d[j] <= 'Z' ? d[j] - 'A' + 'a' : d[j]);
            name[len] = '\0';
        } else if (type == GEN_IPADD && (len == 4 || len == 16)) {
            inet_ntop(len == 4 ? AF_INET : AF_INET6, d, name, sizeof name);
        } else {
            bad = type == GEN_DNS || type == GEN_IPADD;
            continue;
        }
        bad = names_add(out, &n, max, name) != 0;
    }
    GENERAL_NAMES_free(gens);
    return bad ? -1 : (int)n;
}

/* ---------------------------------------------------------------------------------------- */
/* Checking what is on disk */

/* A certificate and its key as loaded from disk (either may be NULL). */
typedef struct cred {
    X509 *cert;
    EVP_PKEY *key;
} cred;

static void cred_free(cred *c)
{
    X509_free(c->cert);
    EVP_PKEY_free(c->key);
    c->cert = NULL;
    c->key = NULL;
}

static void cred_load(cred *c, const pki_pair *p, char *why, size_t n)
{
    char kwhy[300];
    c->cert = load_pem(p->cert, 0, why, n);
    c->key = load_pem(p->key, 1, kwhy, sizeof kwhy);
    if (c->cert && !c->key)
        snprintf(why, n, "key %s", kwhy);
}

/* Problems common to every pair: presence, key type, key matching the certificate. */
static int pair_problem(const cred *c, pki_key_type type, char *why, size_t n)
{
    if (!c->cert || !c->key)
        return 1;  /* why already says what is missing */
    if (!key_is_type(c->key, type))
        return snprintf(why, n, "key is not %s", pki_key_type_name(type)), 1;
    if (X509_check_private_key(c->cert, c->key) != 1) {
        ERR_clear_error();
        return snprintf(why, n, "key does not match the certificate"), 1;
    }
    return 0;
}

/* Is t (an ASN1 validity bound) before the time `when`? */
static int time_before(const ASN1_TIME *t, time_t when)
{
    return X509_cmp_time(t, &when) < 0;
}

static int ca_problem(const cred *c, pki_key_type type, time_t now, char *why, size_t n)
{
    if (pair_problem(c, type, why, n))
        return 1;
    if (X509_check_issued(c->cert, c->cert) != X509_V_OK || X509_check_ca(c->cert) < 1
        || X509_verify(c->cert, X509_get0_pubkey(c->cert)) != 1) {
        ERR_clear_error();
        return snprintf(why, n, "not a self-signed CA certificate"), 1;
    }
    if (!time_before(X509_get0_notBefore(c->cert), now))
        return snprintf(why, n, "starts in the future"), 1;
    if (time_before(X509_get0_notAfter(c->cert), now + CA_MARGIN_DAYS * DAY))
        return snprintf(why, n, "expires within %d days", CA_MARGIN_DAYS), 1;
    return 0;
}

/* Verify leaf against ca as a TLS server certificate would be, at time `at` (or ignoring
 * validity times). Returns X509_V_OK or the verification error. */
static int verify_leaf(X509 *leaf, X509 *ca, int check_time, time_t at)
{
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    int rc = X509_V_ERR_UNSPECIFIED;
    if (store && ctx && X509_STORE_add_cert(store, ca)
        && X509_STORE_CTX_init(ctx, store, leaf, NULL)) {
        X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER);
        X509_VERIFY_PARAM *param = X509_STORE_CTX_get0_param(ctx);
        if (check_time)
            X509_VERIFY_PARAM_set_time(param, at);
        else
            X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_NO_CHECK_TIME);
        rc = X509_verify_cert(ctx) == 1 ? X509_V_OK : X509_STORE_CTX_get_error(ctx);
    }
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    ERR_clear_error();
    return rc;
}

/* What a leaf on disk must satisfy. */
typedef struct leaf_want {
    X509 *ca;
    int expired;            /* the expired variant: must be expired, otherwise valid */
    hostbuf *names;         /* must all be among its SANs */
    size_t nnames;
} leaf_want;

static int leaf_problem(const cred *c, const leaf_want *w, pki_key_type type, time_t now,
                        char *why, size_t n)
{
    if (pair_problem(c, type, why, n))
        return 1;
    int rc = verify_leaf(c->cert, w->ca, !w->expired, now + LEAF_MARGIN_DAYS * DAY);
    if (rc == X509_V_ERR_CERT_HAS_EXPIRED)
        return snprintf(why, n, "expires within %d days", LEAF_MARGIN_DAYS), 1;
    if (rc != X509_V_OK)
        return snprintf(why, n, "does not verify against its CA: %s",
                        X509_verify_cert_error_string(rc)), 1;
    if (w->expired && !time_before(X509_get0_notAfter(c->cert), now))
        return snprintf(why, n, "is not expired"), 1;
    if (!w->expired && !time_before(X509_get0_notBefore(c->cert), now))
        return snprintf(why, n, "starts in the future"), 1;
    hostbuf *have = calloc(PKI_MAX_NAMES, sizeof *have);
    int nhave = have ? read_sans(c->cert, have, PKI_MAX_NAMES) : -1;
    for (size_t i = 0; nhave >= 0 && i < w->nnames; i++)
        if (!names_has(have, (size_t)nhave, w->names[i])) {
            snprintf(why, n, "lacks the name %s", w->names[i]);
            nhave = -2;
        }
    free(have);
    if (nhave == -1)
        snprintf(why, n, "has malformed or more than %d subject alternative names",
                 PKI_MAX_NAMES);
    return nhave < 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Ensuring one pair */

typedef struct run {
    const pki_request *req;
    pki_paths *out;
    time_t now;
    char *err;
    size_t errlen;
} run;

static void note(run *r, const char *path, const char *why)
{
    r->out->generated++;
    if (!r->req->note)
        return;
    size_t dl = strlen(r->out->dir);
    const char *rel = strncmp(path, r->out->dir, dl) == 0 && path[dl] == '/' ? path + dl + 1
                                                                            : path;
    char msg[PKI_PATH_MAX + 400];
    snprintf(msg, sizeof msg, "generated %s: %s", rel, why);
    r->req->note(r->req->note_arg, msg);
}

/* Replace c's certificate (and its key, unless that key is present, of the right type and not
 * forced out) by a new one made from spec, and write both files. */
static int reissue(run *r, cred *c, const pki_pair *p, const cert_spec *spec, const cred *issuer,
                   const char *why)
{
    pki_key_type type = r->req->key_type;
    if (r->req->force || !c->key || !key_is_type(c->key, type)) {
        EVP_PKEY_free(c->key);
        c->key = new_key(type);
        if (!c->key)
            return fail_ossl(r->err, r->errlen, p->key, "generate key");
        int rc = write_pem(p->key, NULL, c->key, r->err, r->errlen);
        if (rc)
            return rc;
        note(r, p->key, why);
    }
    X509_free(c->cert);
    c->cert = make_cert(spec, c->key, issuer ? issuer->cert : NULL,
                        issuer ? issuer->key : NULL, type, r->now);
    if (!c->cert)
        return fail_ossl(r->err, r->errlen, p->cert, "issue certificate");
    int rc = write_pem(p->cert, c->cert, NULL, r->err, r->errlen);
    if (rc)
        return rc;
    note(r, p->cert, why);
    return 0;
}

/* Make sure the CA pair p is valid; *renewed says whether it was rewritten. c keeps it. */
static int ensure_ca(run *r, cred *c, const pki_pair *p, const char *cn, const char *org,
                     const cred *other_ca, int *renewed)
{
    char why[400] = "";
    cred_load(c, p, why, sizeof why);
    int bad = r->req->force ? (snprintf(why, sizeof why, "forced"), 1)
                            : ca_problem(c, r->req->key_type, r->now, why, sizeof why);
    /* Two CAs with one key would make "untrusted" certificates trusted. */
    if (!bad && other_ca && EVP_PKEY_eq(c->key, other_ca->key) == 1)
        bad = snprintf(why, sizeof why, "same key as the test CA");
    *renewed = bad;
    if (!bad)
        return 0;
    cert_spec spec = {.cn = cn, .org = org, .is_ca = 1, .from_days = CA_FROM_DAYS,
                      .to_days = CA_DAYS};
    if (other_ca && c->key && EVP_PKEY_eq(c->key, other_ca->key) == 1) {
        EVP_PKEY_free(c->key);  /* never reuse the test CA's key for the untrusted one */
        c->key = NULL;
    }
    return reissue(r, c, p, &spec, NULL, why);
}

/* Make sure the leaf pair p is valid for w. When it is reissued, spec says how. If
 * old_names is not NULL, the SANs of the certificate found on disk are appended to it
 * (growing *nold up to PKI_MAX_NAMES) before reissuing, so names accumulate. */
static int ensure_leaf(run *r, const pki_pair *p, const leaf_want *w, cert_spec *spec,
                       const cred *issuer, int issuer_renewed, hostbuf *names, size_t *nnames)
{
    char why[400] = "";
    cred c = {0};
    cred_load(&c, p, why, sizeof why);
    int bad = 1;
    if (r->req->force)
        snprintf(why, sizeof why, "forced");
    else if (issuer_renewed && c.cert)
        snprintf(why, sizeof why, "its CA was regenerated");
    else
        bad = leaf_problem(&c, w, r->req->key_type, r->now, why, sizeof why);
    if (names && c.cert && (!bad || !r->req->force)) {
        hostbuf *old = calloc(PKI_MAX_NAMES, sizeof *old);
        int nold = old ? read_sans(c.cert, old, PKI_MAX_NAMES) : -1;
        size_t keep = *nnames;
        for (int i = 0; i < nold; i++)
            if (names_add(names, nnames, PKI_MAX_NAMES, old[i])) {
                *nnames = keep;  /* too many together: requested names only */
                break;
            }
        free(old);
    }
    int rc = 0;
    if (bad) {
        spec->names = names ? names : spec->names;
        spec->nnames = names ? *nnames : spec->nnames;
        rc = reissue(r, &c, p, spec, issuer, why);
    }
    cred_free(&c);
    return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* The request */

static int setup_profile(const pki_profile_request *pr, pki_profile_paths *pp, char *err,
                         size_t errlen)
{
    if (check_profile_name(pr->name, err, errlen))
        return PKI_ERR_REQUEST;
    if (pr->nhosts > PKI_MAX_HOSTS || (pr->nhosts && !pr->hosts))
        return errbuf_set(err, errlen, "profile %s: %zu host names (at most %d)", pr->name,
                       pr->nhosts, PKI_MAX_HOSTS), PKI_ERR_REQUEST;
    snprintf(pp->name, sizeof pp->name, "%s", pr->name);
    for (size_t i = 0; i < pr->nhosts; i++) {
        hostbuf norm;
        char why[400];
        if (pki_host_normalize(pr->hosts[i], norm, why, sizeof why) < 0)
            return errbuf_set(err, errlen, "profile %s: %s", pr->name, why), PKI_ERR_REQUEST;
        names_add(pp->names, &pp->nnames, PKI_MAX_NAMES, norm);
    }
    for (size_t i = 0; i < sizeof LOOPBACK_NAMES / sizeof *LOOPBACK_NAMES; i++)
        names_add(pp->names, &pp->nnames, PKI_MAX_NAMES, LOOPBACK_NAMES[i]);
    return 0;
}

static int setup_paths(const char *state_dir, const pki_request *req, pki_paths *out,
                       char *err, size_t errlen)
{
    out->key_type = req->key_type;
    char sub[64];
    snprintf(sub, sizeof sub, "/pki/%s", pki_key_type_name(req->key_type));
    int rc = join(out->dir, state_dir, sub, "", err, errlen);
    rc = rc ? rc : join(out->lock, out->dir, "/.lock", "", err, errlen);
    rc = rc ? rc : join(out->ca_cert, out->dir, "/ca.crt", "", err, errlen);
    rc = rc ? rc : join(out->untrusted_ca_cert, out->dir, "/untrusted-ca.crt", "", err, errlen);
    rc = rc ? rc : join(out->wrong_host.cert, out->dir, "/wrong-host.crt", "", err, errlen);
    rc = rc ? rc : join(out->wrong_host.key, out->dir, "/wrong-host.key", "", err, errlen);
    for (size_t i = 0; !rc && i < req->nprofiles; i++) {
        pki_profile_paths *pp = &out->profiles[i];
        char base[PKI_PATH_MAX];
        rc = join(base, out->dir, "/profiles/", pp->name, err, errlen);
        for (int v = 0; !rc && v < PKI_VARIANT_COUNT; v++) {
            if (v == PKI_WRONG_HOST) {
                pp->pair[v] = out->wrong_host;
                continue;
            }
            char leaf[32];
            snprintf(leaf, sizeof leaf, "/%s.crt", pki_variant_name((pki_variant)v));
            rc = join(pp->pair[v].cert, base, leaf, "", err, errlen);
            snprintf(leaf, sizeof leaf, "/%s.key", pki_variant_name((pki_variant)v));
            rc = rc ? rc : join(pp->pair[v].key, base, leaf, "", err, errlen);
        }
    }
    return rc;
}

static int check_request(const char *state_dir, const pki_request *req, char *err,
                         size_t errlen)
{
    if (!state_dir || !state_dir[0])
        return errbuf_set(err, errlen, "no state directory given"), PKI_ERR_REQUEST;
    if (!req || (req->key_type != PKI_KEY_ECDSA_P256 && req->key_type != PKI_KEY_RSA_2048))
        return errbuf_set(err, errlen, "bad request (no request or unknown key type)"),
               PKI_ERR_REQUEST;
    if (req->nprofiles > PKI_MAX_PROFILES || (req->nprofiles && !req->profiles))
        return errbuf_set(err, errlen, "%zu profiles requested (at most %d)", req->nprofiles,
                       PKI_MAX_PROFILES), PKI_ERR_REQUEST;
    for (size_t i = 0; i < req->nprofiles; i++)
        for (size_t j = 0; j < i; j++)
            if (req->profiles[i].name && req->profiles[j].name
                && !strcmp(req->profiles[i].name, req->profiles[j].name))
                return errbuf_set(err, errlen, "profile %s requested twice",
                               req->profiles[i].name), PKI_ERR_REQUEST;
    return 0;
}

static int ensure_profile(run *r, pki_profile_paths *pp, const cred *ca, int ca_new,
                          const cred *untrusted, int untrusted_new)
{
    const char *cn = NULL;
    for (size_t i = 0; i < pp->nnames && !cn; i++)
        if (!strchr(pp->names[i], ':') && !strchr(pp->names[i], '*')
            && strspn(pp->names[i], "0123456789.") != strlen(pp->names[i]))
            cn = pp->names[i];
    cert_spec spec = {.cn = cn, .org = LEAF_ORG, .from_days = LEAF_FROM_DAYS,
                      .to_days = LEAF_DAYS};
    leaf_want want = {.ca = ca->cert, .names = pp->names, .nnames = pp->nnames};
    int rc = ensure_leaf(r, &pp->pair[PKI_VALID], &want, &spec, ca, ca_new, pp->names,
                         &pp->nnames);
    /* The other two follow whatever names the valid certificate ended up with. */
    want.nnames = pp->nnames;
    spec.nnames = pp->nnames;
    spec.names = pp->names;
    if (!rc) {
        leaf_want uw = want;
        uw.ca = untrusted->cert;
        cert_spec us = spec;
        us.org = UNTRUSTED_LEAF_ORG;
        rc = ensure_leaf(r, &pp->pair[PKI_UNTRUSTED], &uw, &us, untrusted, untrusted_new,
                         NULL, NULL);
    }
    if (!rc) {
        leaf_want ew = want;
        ew.expired = 1;
        cert_spec es = spec;
        es.from_days = EXPIRED_FROM_DAYS;
        es.to_days = EXPIRED_TO_DAYS;
        rc = ensure_leaf(r, &pp->pair[PKI_EXPIRED], &ew, &es, ca, ca_new, NULL, NULL);
    }
    return rc;
}

/* Everything that happens under the writers' lock. */
static int ensure_locked(run *r)
{
    pki_paths *out = r->out;
    cred ca = {0}, untrusted = {0};
    pki_pair ca_pair, un_pair;
    memcpy(ca_pair.cert, out->ca_cert, sizeof ca_pair.cert);
    memcpy(un_pair.cert, out->untrusted_ca_cert, sizeof un_pair.cert);
    int ca_new = 0, un_new = 0;
    int rc = join(ca_pair.key, out->dir, "/ca.key", "", r->err, r->errlen);
    rc = rc ? rc : join(un_pair.key, out->dir, "/untrusted-ca.key", "", r->err, r->errlen);
    rc = rc ? rc : ensure_ca(r, &ca, &ca_pair, CA_CN, CA_ORG, NULL, &ca_new);
    rc = rc ? rc : ensure_ca(r, &untrusted, &un_pair, UNTRUSTED_CN, UNTRUSTED_ORG, &ca, &un_new);
    if (!rc) {
        hostbuf wrong[1];
        snprintf(wrong[0], sizeof wrong[0], "%s", PKI_WRONG_HOST_NAME);
        leaf_want w = {.ca = ca.cert, .names = wrong, .nnames = 1};
        cert_spec spec = {.cn = PKI_WRONG_HOST_NAME, .org = LEAF_ORG,
                          .names = wrong, .nnames = 1,
                          .from_days = LEAF_FROM_DAYS, .to_days = LEAF_DAYS};
        rc = ensure_leaf(r, &out->wrong_host, &w, &spec, &ca, ca_new, NULL, NULL);
    }
    for (size_t i = 0; !rc && i < out->nprofiles; i++)
        rc = ensure_profile(r, &out->profiles[i], &ca, ca_new, &untrusted, un_new);
    cred_free(&ca);
    cred_free(&untrusted);
    return rc;
}

static int make_dirs(const pki_paths *out, char *err, size_t errlen)
{
    int rc = mkdirs(out->dir, err, errlen);
    sweep_temps(out->dir);
    for (size_t i = 0; !rc && i < out->nprofiles; i++) {
        char d[PKI_PATH_MAX];
        rc = join(d, out->dir, "/profiles/", out->profiles[i].name, err, errlen);
        rc = rc ? rc : mkdirs(d, err, errlen);
        if (!rc)
            sweep_temps(d);
    }
    return rc;
}

int pki_ensure(const char *state_dir, const pki_request *req, pki_paths **out, char *err,
               size_t errlen)
{
    *out = NULL;
    int rc = check_request(state_dir, req, err, errlen);
    if (rc)
        return rc;
    pki_paths *p = calloc(1, sizeof *p + req->nprofiles * sizeof p->profiles[0]);
    if (!p)
        return errbuf_set(err, errlen, "out of memory"), PKI_ERR_ENV;
    p->nprofiles = req->nprofiles;
    for (size_t i = 0; !rc && i < req->nprofiles; i++)
        rc = setup_profile(&req->profiles[i], &p->profiles[i], err, errlen);
    rc = rc ? rc : setup_paths(state_dir, req, p, err, errlen);
    int lock = -1;
    if (!rc && (rc = mkdirs(p->dir, err, errlen)) == 0) {
        lock = lock_file(p->lock, LOCK_EX, err, errlen);
        rc = lock < 0 ? PKI_ERR_ENV : 0;
    }
    rc = rc ? rc : make_dirs(p, err, errlen);
    if (!rc) {
        run r = {.req = req, .out = p, .now = time(NULL), .err = err, .errlen = errlen};
        rc = ensure_locked(&r);
    }
    pki_read_unlock(lock);
    ERR_clear_error();
    if (rc) {
        free(p);
        return rc;
    }
    *out = p;
    return PKI_OK;
}

void pki_paths_free(pki_paths *paths)
{
    free(paths);
}

const pki_profile_paths *pki_find_profile(const pki_paths *paths, const char *name)
{
    for (size_t i = 0; name && i < paths->nprofiles; i++)
        if (!strcmp(paths->profiles[i].name, name))
            return &paths->profiles[i];
    return NULL;
}

const pki_pair *pki_variant_pair(const pki_paths *paths, const pki_profile_paths *prof,
                                 pki_variant v)
{
    if (v == PKI_WRONG_HOST)
        return &paths->wrong_host;
    if ((unsigned)v >= PKI_VARIANT_COUNT || !prof)
        return NULL;
    return &prof->pair[v];
}
