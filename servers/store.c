/* store.c -- the message store; see store.h. */
#include "servers/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

/* ------------------------------------------------------------------------------------------ */
/* Data */

/* The immutable content of a message, shared by its copies. */
typedef struct store_blob {
    size_t refs;
    size_t cost;       /* what it counts against max_total_bytes */
    char *data;
    size_t size;
    mime_part *parts;
    uint32_t nparts;
    int64_t sent_date;
    int32_t sent_day;
} store_blob;

struct store_view {
    store *st;
    store_mailbox *mb;  /* NULL once the mailbox is deleted */
    store_view *prev, *next;
    uint32_t *uids;     /* UID of each seq - 1, ascending */
    uint8_t *recent;
    uint32_t n, cap;
    uint64_t seen_changes, seen_modseq;
    int readonly;
    int gaps;           /* expunged messages still in the view */
};

struct store_mailbox {
    store_account *acct;
    char *name;
    char *dir;           /* Maildir directory, NULL in memory */
    unsigned attrs;
    uint32_t uidvalidity, uidnext;
    uint32_t recent_floor; /* UIDs from here on are not claimed by any view yet */
    uint64_t modseq, changes;
    store_msg **msgs;
    uint32_t count, cap;
    char *keywords[STORE_MAX_KEYWORDS];
    unsigned nkeywords;
    store_view *views;
};

struct store_account {
    store *st;
    char *name;
    char *dir;
    int loaded;          /* read from an existing spool directory */
    store_mailbox **mbs; /* sorted: INBOX first, then by name */
    size_t nmbs, cap;
};

struct store {
    store_config cfg;
    char *spool, *host;
    store_account **accts;
    size_t naccts, cap;
    size_t total_bytes;
    uint32_t last_uidvalidity;
    unsigned long file_counter;
    mime_part *scratch; /* max_parts parts, for parsing */
    char err[1024];
};

static char open_err[1024];

/* ------------------------------------------------------------------------------------------ */
/* Errors */

const char *store_strerror(store_err e)
{
    static const char *const names[] = {
        [STORE_OK] = "ok",
        [STORE_E_NOMEM] = "out of memory",
        [STORE_E_EXISTS] = "already exists",
        [STORE_E_NOTFOUND] = "not found",
        [STORE_E_NAME] = "invalid name",
        [STORE_E_TOOBIG] = "message too big",
        [STORE_E_QUOTA] = "store full",
        [STORE_E_LIMIT] = "limit reached",
        [STORE_E_NOTALLOWED] = "not allowed",
        [STORE_E_IO] = "spool I/O error",
        [STORE_E_CORRUPT] = "spool corrupt",
    };
    if ((unsigned)e >= sizeof names / sizeof names[0])
        return "unknown error";
    return names[e];
}

__attribute__((format(printf, 3, 4))) static store_err fail(store *st, store_err e,
                                                            const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(st ? st->err : open_err, st ? sizeof st->err : sizeof open_err, fmt, ap);
    va_end(ap);
    return e;
}

/* An I/O failure: "spool PATH: OP: strerror". */
static store_err fail_io(store *st, const char *op, const char *path)
{
    int saved = errno;
    return fail(st, STORE_E_IO, "spool %s: %s: %s", path, op, strerror(saved));
}

static store_err fail_nomem(store *st)
{
    return fail(st, STORE_E_NOMEM, "out of memory");
}

const char *store_errmsg(const store *st)
{
    return st ? st->err : open_err;
}

__attribute__((format(printf, 2, 3))) static void warn(const store *st, const char *fmt, ...)
{
    if (!st->cfg.log)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    st->cfg.log(st->cfg.log_ctx, msg);
}

static void trace(const store *st, const char *step, const char *path)
{
    if (st->cfg.trace)
        st->cfg.trace(st->cfg.trace_ctx, step, path);
}

static time_t now(const store *st)
{
    return st->cfg.now ? st->cfg.now(st->cfg.now_ctx) : time(NULL);
}

/* ------------------------------------------------------------------------------------------ */
/* Small helpers */

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

/* Grow *arr (of elem-sized items) so that it holds at least need; returns 0 or -1. */
static int grow(void *arr, size_t elem, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t ncap = *cap ? *cap * 2 : 8;
    while (ncap < need)
        ncap *= 2;
    void *p = realloc(*(void **)arr, ncap * elem);
    if (!p)
        return -1;
    *(void **)arr = p;
    *cap = ncap;
    return 0;
}

static int grow32(void *arr, size_t elem, uint32_t *cap, size_t need)
{
    size_t c = *cap;
    if (need > UINT32_MAX || grow(arr, elem, &c, need) != 0)
        return -1;
    *cap = c > UINT32_MAX ? UINT32_MAX : (uint32_t)c;
    return 0;
}

static char lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
}

static int ieq_n(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (lower(a[i]) != lower(b[i]))
            return 0;
    return 1;
}

/* "inbox", "Inbox/x": the INBOX part of a name is case-insensitive (RFC 3501 5.1). */
static int starts_with_inbox(const char *name)
{
    return ieq_n(name, "INBOX", 5) && (name[5] == '\0' || name[5] == '/');
}

/* Copy name into out with its INBOX part in upper case. out has STORE_MAX_NAME + 1 bytes. */
static void canonical_name(const char *name, char *out)
{
    size_t n = strlen(name);
    if (n > STORE_MAX_NAME)
        n = STORE_MAX_NAME;
    memcpy(out, name, n);
    out[n] = '\0';
    if (starts_with_inbox(out))
        memcpy(out, "INBOX", 5);
}

static int is_inbox(const store_mailbox *mb)
{
    return strcmp(mb->name, "INBOX") == 0;
}

/* Mailbox names: '/'-separated, no empty component, no control bytes. */
static int valid_mailbox_name(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > STORE_MAX_NAME || name[0] == '/' || name[n - 1] == '/')
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c < 0x20 || c == 0x7f || (c == '/' && name[i + 1] == '/'))
            return 0;
    }
    return 1;
}

static int valid_account_name(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 128 || name[0] == '.')
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
              || strchr("._-+@", c)))
            return 0;
    }
    return 1;
}

/* The Maildir++ directory name of a mailbox: "." + name with '/' as '.', and '.', '%' and
 * control bytes as %XX. Returns 0, or -1 when it does not fit out (NAME_MAX). */
static int encode_folder(const char *name, char *out, size_t cap)
{
    size_t k = 0;
    if (cap < 2)
        return -1;
    out[k++] = '.';
    for (const char *s = name; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (k + 4 > cap)
            return -1;
        if (c == '/') {
            out[k++] = '.';
        } else if (c == '.' || c == '%' || c < 0x20 || c == 0x7f) {
            k += (size_t)snprintf(out + k, cap - k, "%%%02X", c);
        } else {
            out[k++] = (char)c;
        }
    }
    out[k] = '\0';
    return k > 255 ? -1 : 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* The inverse of encode_folder(); -1 for a name we did not write. */
static int decode_folder(const char *dirname, char *out, size_t cap)
{
    size_t k = 0;
    if (dirname[0] != '.' || dirname[1] == '\0')
        return -1;
    for (const char *s = dirname + 1; *s; s++) {
        if (k + 1 >= cap)
            return -1;
        if (*s == '.') {
            out[k++] = '/';
        } else if (*s == '%') {
            int hi = hexval(s[1]), lo = hi < 0 ? -1 : hexval(s[2]);
            if (lo < 0)
                return -1;
            out[k++] = (char)(hi * 16 + lo);
            s += 2;
        } else {
            out[k++] = *s;
        }
    }
    out[k] = '\0';
    return valid_mailbox_name(out) ? 0 : -1;
}

/* ------------------------------------------------------------------------------------------ */
/* Dates */

/* Civil date (yyyymmdd) of a day count since 1970-01-01 (H. Hinnant's civil_from_days). */
static int32_t civil_day(int64_t days)
{
    days += 719468;
    int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    int64_t doe = days - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    y += m <= 2;
    return (int32_t)(y * 10000 + m * 100 + d);
}

/* The calendar day of an instant in a zone (minutes east). */
static int32_t day_in_zone(int64_t t, int32_t zone)
{
    int64_t local = t + (int64_t)zone * 60;
    int64_t days = local >= 0 ? local / 86400 : -((-local + 86399) / 86400);
    return civil_day(days);
}

/* ------------------------------------------------------------------------------------------ */
/* Message content */

static void blob_unref(store *st, store_blob *b)
{
    if (!b || --b->refs > 0)
        return;
    st->total_bytes -= b->cost;
    free(b->data);
    free(b->parts);
    free(b);
}

/* The Date: header, for SENT* searches. */
static void blob_sent_date(store_blob *b)
{
    mime_field f;
    mime_date d;
    b->sent_date = INT64_MIN;
    b->sent_day = 0;
    if (!mime_field_find(b->parts[0].header, "Date", &f)
        || mime_date_parse(f.value, MR_LENIENT, &d, NULL) != 0)
        return;
    b->sent_date = mime_date_to_unix(&d);
    b->sent_day = d.year * 10000 + d.month * 100 + d.day;
}

/* Copy data with every bare LF made CRLF (IMAP and POP3 count and send CRLF). */
static size_t crlf_size(const char *data, size_t len)
{
    size_t extra = 0;
    for (const char *p = data, *end = data + len; p < end;) {
        const char *lf = memchr(p, '\n', (size_t)(end - p));
        if (!lf)
            break;
        extra += lf == data || lf[-1] != '\r';
        p = lf + 1;
    }
    return len + extra;
}

static void crlf_copy(char *out, const char *data, size_t len)
{
    size_t k = 0;
    for (size_t i = 0; i < len; i++) {
        if (data[i] == '\n' && (i == 0 || data[i - 1] != '\r'))
            out[k++] = '\r';
        out[k++] = data[i];
    }
}

/* Make the shared content of a message: checks size and quota, normalises line ends, parses
 * the MIME structure once. */
static store_err blob_new(store *st, const char *data, size_t len, store_blob **out)
{
    size_t size = len > st->cfg.max_message_size ? len : crlf_size(data, len);
    if (size > st->cfg.max_message_size)
        return fail(st, STORE_E_TOOBIG, "message of %zu bytes is over the limit of %zu", size,
                    st->cfg.max_message_size);
    if (size > st->cfg.max_total_bytes - st->total_bytes
        || st->total_bytes > st->cfg.max_total_bytes)
        return fail(st, STORE_E_QUOTA, "store full: %zu of %zu bytes used, message needs %zu",
                    st->total_bytes, st->cfg.max_total_bytes, size);
    if (!st->scratch && !(st->scratch = malloc(st->cfg.max_parts * sizeof *st->scratch)))
        return fail_nomem(st);
    store_blob *b = calloc(1, sizeof *b);
    if (!b || !(b->data = malloc(size ? size : 1))) {
        free(b);
        return fail_nomem(st);
    }
    crlf_copy(b->data, data, len);
    b->size = size;
    mime_limits lim = mime_limits_default();
    lim.max_parts = st->cfg.max_parts;
    int n = mime_parse(b->data, size, &lim, MR_LENIENT, st->scratch, st->cfg.max_parts, NULL);
    if (n < 1 || !(b->parts = malloc((size_t)n * sizeof *b->parts))) {
        free(b->data);
        free(b);
        return fail_nomem(st);
    }
    memcpy(b->parts, st->scratch, (size_t)n * sizeof *b->parts);
    b->nparts = (uint32_t)n;
    b->cost = size + (size_t)n * sizeof *b->parts;
    if (b->cost > st->cfg.max_total_bytes - st->total_bytes) {
        size_t cost = b->cost;
        free(b->parts);
        free(b->data);
        free(b);
        return fail(st, STORE_E_QUOTA, "store full: message with its part tree needs %zu bytes",
                    cost);
    }
    blob_sent_date(b);
    b->refs = 1;
    st->total_bytes += b->cost;
    *out = b;
    return STORE_OK;
}

/* A message record around a blob (taking a reference). */
static store_msg *msg_new(store_blob *b)
{
    store_msg *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    b->refs++;
    m->blob_ = b;
    m->data = b->data;
    m->size = b->size;
    m->parts = b->parts;
    m->nparts = b->nparts;
    m->sent_date = b->sent_date;
    m->sent_day = b->sent_day;
    return m;
}

static void msg_free(store *st, store_msg *m)
{
    if (!m)
        return;
    blob_unref(st, m->blob_);
    free(m->file_);
    free(m);
}

/* ------------------------------------------------------------------------------------------ */
/* Spool primitives. Every failure names the path and the operation. */

#define UIDLIST "mailrig-uidlist"

__attribute__((format(printf, 3, 4))) static int pathf(char *buf, size_t cap, const char *fmt,
                                                       ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, cap, fmt, ap);
    va_end(ap);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

static store_err too_long(store *st, const char *what)
{
    return fail(st, STORE_E_NAME, "spool path for %s is too long", what);
}

/* mkdir that accepts an existing directory. */
static store_err make_dir(store *st, const char *path)
{
    if (mkdir(path, 0700) == 0)
        return STORE_OK;
    struct stat sb;
    if (errno == EEXIST && stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
        return STORE_OK;
    if (errno == EEXIST)
        errno = ENOTDIR;
    return fail_io(st, "mkdir", path);
}

static store_err fsync_dir(store *st, const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return fail_io(st, "open directory", dir);
    if (fsync(fd) != 0) {
        store_err e = fail_io(st, "fsync directory", dir);
        close(fd);
        return e;
    }
    close(fd);
    trace(st, "fsync-dir", dir);
    return STORE_OK;
}

static store_err write_all(store *st, int fd, const char *data, size_t len, const char *path)
{
    while (len > 0) {
        ssize_t w = write(fd, data, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (w == 0)
                errno = EIO;
            return fail_io(st, "write", path);
        }
        data += w;
        len -= (size_t)w;
    }
    return STORE_OK;
}

/* Create path with data, mtime `when` (if >= 0), fsynced. The file is removed on failure. */
static store_err write_file_sync(store *st, const char *path, const char *data, size_t len,
                                 int64_t when, int exclusive)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | (exclusive ? O_EXCL : O_TRUNC), 0600);
    if (fd < 0)
        return fail_io(st, "create", path);
    store_err e = write_all(st, fd, data, len, path);
    if (e == STORE_OK && when >= 0) {
        struct timespec ts[2] = {{(time_t)when, 0}, {(time_t)when, 0}};
        if (futimens(fd, ts) != 0)
            e = fail_io(st, "set mtime", path);
    }
    if (e == STORE_OK) {
        trace(st, "write", path);
        if (fsync(fd) != 0)
            e = fail_io(st, "fsync", path);
        else
            trace(st, "fsync", path);
    }
    if (close(fd) != 0 && e == STORE_OK)
        e = fail_io(st, "close", path);
    if (e != STORE_OK)
        unlink(path);
    return e;
}

/* Append one line to a file and fsync it. */
static store_err append_sync(store *st, const char *path, const char *line)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return fail_io(st, "open for append", path);
    store_err e = write_all(st, fd, line, strlen(line), path);
    if (e == STORE_OK && fsync(fd) != 0)
        e = fail_io(st, "fsync", path);
    if (close(fd) != 0 && e == STORE_OK)
        e = fail_io(st, "close", path);
    return e;
}

/* Read a whole file of at most max bytes. */
static store_err read_file(store *st, const char *path, size_t max, char **data, size_t *len,
                           struct stat *sb)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fail_io(st, "open", path);
    store_err e = STORE_OK;
    char *buf = NULL;
    if (fstat(fd, sb) != 0) {
        e = fail_io(st, "stat", path);
    } else if (!S_ISREG(sb->st_mode)) {
        e = fail(st, STORE_E_CORRUPT, "spool %s: not a regular file", path);
    } else if ((uint64_t)sb->st_size > max) {
        e = fail(st, STORE_E_TOOBIG, "spool %s: %lld bytes, over the limit of %zu", path,
                 (long long)sb->st_size, max);
    } else if (!(buf = malloc((size_t)sb->st_size + 1))) {
        e = fail_nomem(st);
    }
    size_t got = 0, want = e == STORE_OK ? (size_t)sb->st_size : 0;
    while (e == STORE_OK && got < want) {
        ssize_t r = read(fd, buf + got, want - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            e = fail_io(st, "read", path);
        else if (r == 0)
            break; /* shrank while we read: take what is there */
        else
            got += (size_t)r;
    }
    close(fd);
    if (e != STORE_OK) {
        free(buf);
        return e;
    }
    buf[got] = '\0';
    *data = buf;
    *len = got;
    return STORE_OK;
}

/* Maildir flag letters (in the ASCII order the suffix needs) and our flags. */
static const struct {
    char letter;
    uint32_t flag;
} maildir_flags[] = {
    {'D', STORE_F_DRAFT}, {'F', STORE_F_FLAGGED}, {'R', STORE_F_ANSWERED},
    {'S', STORE_F_SEEN},  {'T', STORE_F_DELETED},
};

/* ":2," + flag letters + keyword letters a..z. out has at least 40 bytes. */
static void flag_suffix(uint32_t flags, uint32_t keywords, char *out)
{
    size_t k = 0;
    memcpy(out, ":2,", 3);
    k = 3;
    for (size_t i = 0; i < sizeof maildir_flags / sizeof maildir_flags[0]; i++)
        if (flags & maildir_flags[i].flag)
            out[k++] = maildir_flags[i].letter;
    for (unsigned i = 0; i < STORE_MAX_KEYWORDS; i++)
        if (keywords & (1u << i))
            out[k++] = (char)('a' + i);
    out[k] = '\0';
}

/* Flags from Maildir letters; unknown letters (e.g. P) are ignored. */
static void parse_flag_letters(const char *s, uint32_t *flags, uint32_t *keywords)
{
    *flags = *keywords = 0;
    for (; *s; s++) {
        for (size_t i = 0; i < sizeof maildir_flags / sizeof maildir_flags[0]; i++)
            if (*s == maildir_flags[i].letter)
                *flags |= maildir_flags[i].flag;
        if (*s >= 'a' && *s <= 'z')
            *keywords |= 1u << (*s - 'a');
    }
}

/* Where a message's file is now. */
static int msg_path(const store_mailbox *mb, const store_msg *m, uint32_t flags,
                    uint32_t keywords, int in_cur, char *buf, size_t cap)
{
    if (!in_cur)
        return pathf(buf, cap, "%s/new/%s", mb->dir, m->file_);
    char suffix[40];
    flag_suffix(flags, keywords, suffix);
    return pathf(buf, cap, "%s/cur/%s%s", mb->dir, m->file_, suffix);
}

/* A unique Maildir base name: <sec>.M<usec>P<pid>Q<n>.<host> */
static void new_base_name(store *st, char *out, size_t cap)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    snprintf(out, cap, "%lld.M%ldP%ldQ%lu.%s", (long long)tv.tv_sec, (long)tv.tv_usec,
             (long)getpid(), ++st->file_counter, st->host);
}

static store_err uidlist_append(store *st, store_mailbox *mb, const char *line)
{
    char path[PATH_MAX];
    if (pathf(path, sizeof path, "%s/" UIDLIST, mb->dir) != 0)
        return too_long(st, mb->name);
    store_err e = append_sync(st, path, line);
    if (e == STORE_OK)
        trace(st, "uidlist", path);
    return e;
}

/* A growing string for file contents. */
typedef struct strbuf {
    char *p;
    size_t len, cap;
    int oom;
} strbuf;

__attribute__((format(printf, 2, 3))) static void sb_printf(strbuf *sb, const char *fmt, ...)
{
    for (int round = 0; round < 2 && !sb->oom; round++) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(sb->p ? sb->p + sb->len : NULL, sb->p ? sb->cap - sb->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            sb->oom = 1;
            return;
        }
        if (sb->p && (size_t)n < sb->cap - sb->len) {
            sb->len += (size_t)n;
            return;
        }
        if (grow(&sb->p, 1, &sb->cap, sb->len + (size_t)n + 1) != 0)
            sb->oom = 1;
    }
}

/* Rewrite the whole uidlist (tmp + fsync + rename + fsync dir). */
static store_err uidlist_rewrite(store *st, store_mailbox *mb)
{
    strbuf sb = {NULL, 0, 0, 0};
    sb_printf(&sb, "mailrig-uidlist 1\nuidvalidity %u\nuidnext %u\nattrs %u\n", mb->uidvalidity,
              mb->uidnext, mb->attrs);
    for (unsigned i = 0; i < mb->nkeywords; i++)
        sb_printf(&sb, "keyword %u %s\n", i, mb->keywords[i]);
    for (uint32_t i = 0; i < mb->count; i++)
        if (mb->msgs[i]->file_)
            sb_printf(&sb, "uid %u %s\n", mb->msgs[i]->uid, mb->msgs[i]->file_);
    if (sb.oom) {
        free(sb.p);
        return fail_nomem(st);
    }
    char tmp[PATH_MAX], path[PATH_MAX];
    if (pathf(tmp, sizeof tmp, "%s/" UIDLIST ".tmp", mb->dir) != 0
        || pathf(path, sizeof path, "%s/" UIDLIST, mb->dir) != 0) {
        free(sb.p);
        return too_long(st, mb->name);
    }
    store_err e = write_file_sync(st, tmp, sb.p, sb.len, -1, 0);
    free(sb.p);
    if (e != STORE_OK)
        return e;
    if (rename(tmp, path) != 0) {
        e = fail_io(st, "rename", tmp);
        unlink(tmp);
        return e;
    }
    return fsync_dir(st, mb->dir);
}

/* Put m (UID uid) into mb's Maildir: tmp/ + fsync, the UID record + fsync, rename into new/
 * (or cur/ with its flags), fsync that directory. *recorded says whether the UID record was
 * written (the UID is then used up even if a later step fails). */
static store_err spool_put(store *st, store_mailbox *mb, store_msg *m, uint32_t uid,
                           int *recorded)
{
    char base[160], tmp[PATH_MAX], final[PATH_MAX], line[200], sub[PATH_MAX];
    new_base_name(st, base, sizeof base);
    m->file_ = dup_str(base);
    if (!m->file_)
        return fail_nomem(st);
    m->in_cur_ = m->flags || m->keywords;
    if (pathf(tmp, sizeof tmp, "%s/tmp/%s", mb->dir, base) != 0
        || msg_path(mb, m, m->flags, m->keywords, m->in_cur_, final, sizeof final) != 0
        || pathf(sub, sizeof sub, "%s/%s", mb->dir, m->in_cur_ ? "cur" : "new") != 0)
        return too_long(st, mb->name);
    store_err e = write_file_sync(st, tmp, m->data, m->size, m->internal_date, 1);
    if (e != STORE_OK)
        return e;
    snprintf(line, sizeof line, "uid %u %s\n", uid, base);
    if ((e = uidlist_append(st, mb, line)) != STORE_OK) {
        unlink(tmp);
        return e;
    }
    *recorded = 1;
    if (rename(tmp, final) != 0) {
        e = fail_io(st, "rename into place", final);
        unlink(tmp);
        return e;
    }
    trace(st, "rename", final);
    if ((e = fsync_dir(st, sub)) != STORE_OK) {
        unlink(final); /* not durable: do not let it come back after we said it failed */
        return e;
    }
    return STORE_OK;
}

/* Remove a message's file; a file already gone is fine. */
static store_err spool_remove(store *st, store_mailbox *mb, store_msg *m)
{
    char path[PATH_MAX];
    if (!mb->dir || !m->file_)
        return STORE_OK;
    if (msg_path(mb, m, m->flags, m->keywords, m->in_cur_, path, sizeof path) != 0)
        return too_long(st, mb->name);
    if (unlink(path) != 0 && errno != ENOENT)
        return fail_io(st, "unlink", path);
    return STORE_OK;
}

/* Rename a message's file to carry new flags (into cur/). */
static store_err spool_reflag(store *st, store_mailbox *mb, store_msg *m, uint32_t flags,
                              uint32_t keywords)
{
    char from[PATH_MAX], to[PATH_MAX];
    if (!mb->dir || !m->file_)
        return STORE_OK;
    if (msg_path(mb, m, m->flags, m->keywords, m->in_cur_, from, sizeof from) != 0
        || msg_path(mb, m, flags, keywords, 1, to, sizeof to) != 0)
        return too_long(st, mb->name);
    if (strcmp(from, to) != 0 && rename(from, to) != 0)
        return fail_io(st, "rename for new flags", from);
    m->in_cur_ = 1;
    return STORE_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Mailbox records */

static uint32_t next_uidvalidity(store *st)
{
    uint32_t v;
    if (st->cfg.uidvalidity)
        v = st->last_uidvalidity >= st->cfg.uidvalidity ? st->last_uidvalidity + 1
                                                         : st->cfg.uidvalidity;
    else
        v = (uint32_t)now(st);
    if (v <= st->last_uidvalidity)
        v = st->last_uidvalidity + 1;
    if (v == 0)
        v = 1;
    st->last_uidvalidity = v;
    return v;
}

/* The Maildir directory of mailbox `name` of account a. */
static store_err mailbox_dir(store *st, const store_account *a, const char *name, char **out)
{
    char folder[300], path[PATH_MAX];
    *out = NULL;
    if (!a->dir)
        return STORE_OK;
    if (strcmp(name, "INBOX") == 0) {
        *out = dup_str(a->dir);
    } else {
        if (encode_folder(name, folder, sizeof folder) != 0)
            return fail(st, STORE_E_NAME, "mailbox name '%s' is too long for a Maildir folder",
                        name);
        if (pathf(path, sizeof path, "%s/%s", a->dir, folder) != 0)
            return too_long(st, name);
        *out = dup_str(path);
    }
    return *out ? STORE_OK : fail_nomem(st);
}

static store_mailbox *mailbox_new(store_account *a, const char *name, char *dir)
{
    store_mailbox *mb = calloc(1, sizeof *mb);
    if (!mb || !(mb->name = dup_str(name))) {
        free(mb);
        return NULL;
    }
    mb->acct = a;
    mb->dir = dir;
    mb->uidnext = 1;
    mb->recent_floor = 1;
    mb->modseq = 1;
    return mb;
}

static void detach_views(store_mailbox *mb)
{
    for (store_view *v = mb->views; v; v = v->next)
        v->mb = NULL;
    mb->views = NULL;
}

static void mailbox_free(store *st, store_mailbox *mb)
{
    if (!mb)
        return;
    for (uint32_t i = 0; i < mb->count; i++)
        msg_free(st, mb->msgs[i]);
    for (unsigned i = 0; i < mb->nkeywords; i++)
        free(mb->keywords[i]);
    detach_views(mb);
    free(mb->msgs);
    free(mb->name);
    free(mb->dir);
    free(mb);
}

/* Mailbox order: INBOX first, then bytewise. */
static int name_cmp(const char *a, const char *b)
{
    int ia = strcmp(a, "INBOX") == 0, ib = strcmp(b, "INBOX") == 0;
    if (ia || ib)
        return ib - ia;
    return strcmp(a, b);
}

/* Binary search: the index of name, or -(insertion point) - 1. */
static long mailbox_index(const store_account *a, const char *name)
{
    size_t lo = 0, hi = a->nmbs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = name_cmp(a->mbs[mid]->name, name);
        if (c == 0)
            return (long)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -(long)lo - 1;
}

static store_err mailbox_insert(store *st, store_account *a, store_mailbox *mb)
{
    long at = mailbox_index(a, mb->name);
    if (at >= 0)
        return fail(st, STORE_E_EXISTS, "mailbox '%s' already exists", mb->name);
    if (grow(&a->mbs, sizeof *a->mbs, &a->cap, a->nmbs + 1) != 0)
        return fail_nomem(st);
    size_t pos = (size_t)(-at - 1);
    memmove(a->mbs + pos + 1, a->mbs + pos, (a->nmbs - pos) * sizeof *a->mbs);
    a->mbs[pos] = mb;
    a->nmbs++;
    return STORE_OK;
}

static void mailbox_unlink(store_account *a, store_mailbox *mb)
{
    long at = mailbox_index(a, mb->name);
    if (at < 0)
        return;
    memmove(a->mbs + at, a->mbs + at + 1, (a->nmbs - (size_t)at - 1) * sizeof *a->mbs);
    a->nmbs--;
}

static int has_inferiors(const store_account *a, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < a->nmbs; i++)
        if (strncmp(a->mbs[i]->name, name, n) == 0 && a->mbs[i]->name[n] == '/')
            return 1;
    return 0;
}

/* Make a new mailbox's Maildir: the folder, cur/new/tmp, maildirfolder, the uidlist. */
static store_err spool_create_mailbox(store *st, store_mailbox *mb)
{
    char path[PATH_MAX];
    if (!mb->dir)
        return STORE_OK;
    if (!is_inbox(mb) && mkdir(mb->dir, 0700) != 0)
        return errno == EEXIST ? fail(st, STORE_E_EXISTS, "spool %s: already exists on disk",
                                      mb->dir)
                               : fail_io(st, "mkdir", mb->dir);
    const char *subs[] = {"cur", "new", "tmp"};
    for (size_t i = 0; i < 3; i++) {
        if (pathf(path, sizeof path, "%s/%s", mb->dir, subs[i]) != 0)
            return too_long(st, mb->name);
        store_err e = make_dir(st, path);
        if (e != STORE_OK)
            return e;
    }
    if (!is_inbox(mb)) {
        if (pathf(path, sizeof path, "%s/maildirfolder", mb->dir) != 0)
            return too_long(st, mb->name);
        store_err e = write_file_sync(st, path, "", 0, -1, 0);
        if (e != STORE_OK)
            return e;
    }
    store_err e = uidlist_rewrite(st, mb);
    return e != STORE_OK ? e : fsync_dir(st, mb->acct->dir);
}

/* Remove a mailbox's Maildir: its files (ours only), then the directories. */
static store_err spool_remove_mailbox(store *st, store_mailbox *mb)
{
    char path[PATH_MAX];
    if (!mb->dir)
        return STORE_OK;
    const char *subs[] = {"cur", "new", "tmp"};
    for (size_t i = 0; i < 3; i++) {
        if (pathf(path, sizeof path, "%s/%s", mb->dir, subs[i]) != 0)
            return too_long(st, mb->name);
        DIR *d = opendir(path);
        if (!d) {
            if (errno == ENOENT)
                continue;
            return fail_io(st, "opendir", path);
        }
        struct dirent *de;
        char file[PATH_MAX];
        while ((de = readdir(d)) != NULL) {
            if (de->d_name[0] == '.')
                continue;
            if (pathf(file, sizeof file, "%s/%s", path, de->d_name) == 0 && unlink(file) != 0
                && errno != ENOENT) {
                store_err e = fail_io(st, "unlink", file);
                closedir(d);
                return e;
            }
        }
        closedir(d);
        if (rmdir(path) != 0 && errno != ENOENT)
            return fail_io(st, "rmdir", path);
    }
    const char *files[] = {UIDLIST, UIDLIST ".tmp", "maildirfolder"};
    for (size_t i = 0; i < 3; i++)
        if (pathf(path, sizeof path, "%s/%s", mb->dir, files[i]) == 0 && unlink(path) != 0
            && errno != ENOENT)
            return fail_io(st, "unlink", path);
    if (rmdir(mb->dir) != 0)
        return fail_io(st, "rmdir", mb->dir);
    return fsync_dir(st, mb->acct->dir);
}

/* ------------------------------------------------------------------------------------------ */
/* Loading a spool */

typedef struct uidrec {
    uint32_t uid;
    char *base;
} uidrec;

typedef struct loadfile {
    char *name;  /* the file name in cur/ or new/ */
    char *base;  /* without the ":2,..." suffix */
    int in_cur;
    uint32_t uid;
} loadfile;

static int uidrec_cmp(const void *a, const void *b)
{
    return strcmp(((const uidrec *)a)->base, ((const uidrec *)b)->base);
}

static int loadfile_base_cmp(const void *a, const void *b)
{
    return strcmp(((const loadfile *)a)->base, ((const loadfile *)b)->base);
}

static int loadfile_uid_cmp(const void *a, const void *b)
{
    uint32_t x = ((const loadfile *)a)->uid, y = ((const loadfile *)b)->uid;
    return (x > y) - (x < y);
}

static int valid_base(const char *s)
{
    size_t n = strlen(s);
    return n > 0 && n < 160 && s[0] != '.' && !strchr(s, '/') && !strchr(s, ':');
}

static int parse_u32(const char *s, uint32_t *out)
{
    uint64_t v;
    mr_slice sl = {s, strlen(s)};
    if (mr_parse_u64(sl, UINT32_MAX, &v) != 0)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

static int valid_keyword(const char *name, size_t len);

/* One line of a uidlist. Returns 0 or -1 (the caller reports file:line). */
static int uidlist_line(store_mailbox *mb, char *line, uidrec **recs, size_t *nrecs,
                        size_t *rcap, const char **why)
{
    char *key = line, *val = strchr(line, ' ');
    uint32_t n;
    *why = "unknown record";
    if (!val)
        return line[0] == '\0' ? 0 : -1;
    *val++ = '\0';
    if (strcmp(key, "uidvalidity") == 0 || strcmp(key, "uidnext") == 0
        || strcmp(key, "attrs") == 0) {
        *why = "bad number";
        if (parse_u32(val, &n) != 0 || (n == 0 && key[0] == 'u'))
            return -1;
        if (key[3] == 'v')
            mb->uidvalidity = n;
        else if (key[0] == 'u')
            mb->uidnext = n > mb->uidnext ? n : mb->uidnext;
        else
            mb->attrs = n & (STORE_MB_SPECIAL_USE | STORE_MB_NOSELECT | STORE_MB_SUBSCRIBED);
        return 0;
    }
    char *rest = strchr(val, ' ');
    if (strcmp(key, "keyword") == 0)
        *why = "bad keyword record";
    else if (strcmp(key, "uid") == 0)
        *why = "bad uid record";
    if (!rest)
        return -1;
    *rest++ = '\0';
    if (strcmp(key, "keyword") == 0) {
        if (parse_u32(val, &n) != 0 || n >= STORE_MAX_KEYWORDS || n > mb->nkeywords
            || !valid_keyword(rest, strlen(rest)))
            return -1;
        char *copy = dup_str(rest);
        if (!copy)
            return -1;
        free(mb->keywords[n]);
        mb->keywords[n] = copy;
        if (n == mb->nkeywords)
            mb->nkeywords++;
        return 0;
    }
    if (strcmp(key, "uid") == 0) {
        if (parse_u32(val, &n) != 0 || n == 0 || n == UINT32_MAX || !valid_base(rest))
            return -1;
        if (grow(recs, sizeof **recs, rcap, *nrecs + 1) != 0 || !((*recs)[*nrecs].base = dup_str(rest)))
            return -1;
        (*recs)[(*nrecs)++].uid = n;
        if (n >= mb->uidnext)
            mb->uidnext = n + 1;
        return 0;
    }
    return -1;
}

static store_err uidlist_parse(store *st, store_mailbox *mb, const char *path, char *data,
                               uidrec **recs, size_t *nrecs)
{
    size_t rcap = 0, lineno = 0;
    char *save = NULL;
    for (char *line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        const char *why;
        lineno++;
        if (lineno == 1) {
            if (strcmp(line, "mailrig-uidlist 1") != 0)
                return fail(st, STORE_E_CORRUPT, "%s:1: not a mailrig-uidlist version 1 file",
                            path);
            continue;
        }
        if (uidlist_line(mb, line, recs, nrecs, &rcap, &why) != 0)
            return fail(st, STORE_E_CORRUPT, "%s:%zu: %s", path, lineno, why);
    }
    if (lineno == 0)
        return fail(st, STORE_E_CORRUPT, "%s:1: empty file", path);
    if (mb->uidvalidity == 0)
        return fail(st, STORE_E_CORRUPT, "%s: no uidvalidity record", path);
    return STORE_OK;
}

/* The files of cur/ or new/. */
static store_err scan_maildir(store *st, store_mailbox *mb, int cur, loadfile **files,
                              size_t *n, size_t *cap)
{
    char path[PATH_MAX];
    if (pathf(path, sizeof path, "%s/%s", mb->dir, cur ? "cur" : "new") != 0)
        return too_long(st, mb->name);
    DIR *d = opendir(path);
    if (!d)
        return fail_io(st, "opendir", path);
    struct dirent *de;
    store_err e = STORE_OK;
    while (e == STORE_OK && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        if (grow(files, sizeof **files, cap, *n + 1) != 0) {
            e = fail_nomem(st);
            break;
        }
        loadfile *f = &(*files)[*n];
        memset(f, 0, sizeof *f);
        f->name = dup_str(de->d_name);
        f->base = dup_str(de->d_name);
        if (!f->name || !f->base) {
            free(f->name);
            free(f->base);
            e = fail_nomem(st);
            break;
        }
        char *colon = strstr(f->base, ":2,");
        if (colon)
            *colon = '\0';
        f->in_cur = cur;
        (*n)++;
    }
    closedir(d);
    return e;
}

/* Read one message file into mb (warn and skip what cannot be read). */
static void load_one(store *st, store_mailbox *mb, loadfile *f)
{
    char path[PATH_MAX];
    char *data;
    size_t len;
    struct stat sb;
    if (pathf(path, sizeof path, "%s/%s/%s", mb->dir, f->in_cur ? "cur" : "new", f->name) != 0)
        return;
    if (read_file(st, path, st->cfg.max_message_size, &data, &len, &sb) != STORE_OK) {
        warn(st, "skipping %s", st->err);
        return;
    }
    store_blob *b;
    store_err e = blob_new(st, data, len, &b);
    free(data);
    if (e != STORE_OK) {
        warn(st, "skipping spool %s: %s", path, st->err);
        return;
    }
    store_msg *m = msg_new(b);
    blob_unref(st, b);
    if (!m || grow32(&mb->msgs, sizeof *mb->msgs, &mb->cap, (size_t)mb->count + 1) != 0) {
        msg_free(st, m);
        warn(st, "skipping spool %s: out of memory", path);
        return;
    }
    const char *suffix = strstr(f->name, ":2,");
    if (suffix)
        parse_flag_letters(suffix + 3, &m->flags, &m->keywords);
    m->keywords &= (1u << mb->nkeywords) - 1;
    m->uid = f->uid;
    m->internal_date = sb.st_mtime;
    m->file_ = f->base;
    f->base = NULL;
    m->in_cur_ = f->in_cur;
    m->modseq = mb->modseq;
    mb->msgs[mb->count++] = m;
}

/* Give every file its UID: from the uidlist, or a new one (in name order, which for our names
 * is arrival order). Returns whether the uidlist needs rewriting. */
static int assign_uids(store_mailbox *mb, uidrec *recs, size_t nrecs, loadfile *files,
                       size_t nfiles)
{
    int rewrite = 0;
    if (nfiles == 0)
        return nrecs > 0;
    if (nrecs)
        qsort(recs, nrecs, sizeof *recs, uidrec_cmp);
    qsort(files, nfiles, sizeof *files, loadfile_base_cmp);
    size_t matched = 0;
    for (size_t i = 0; i < nfiles; i++) {
        uidrec key = {0, files[i].base};
        uidrec *r = nrecs ? bsearch(&key, recs, nrecs, sizeof *recs, uidrec_cmp) : NULL;
        files[i].uid = r ? r->uid : 0;
        matched += r != NULL;
    }
    if (matched != nrecs)
        rewrite = 1; /* records of files that are gone */
    qsort(files, nfiles, sizeof *files, loadfile_uid_cmp);
    for (size_t i = 1; i < nfiles; i++)
        if (files[i].uid && files[i].uid == files[i - 1].uid)
            files[i].uid = 0; /* the same UID twice: the later file gets a new one */
    for (size_t i = 0; i < nfiles; i++)
        if (files[i].uid == 0 && mb->uidnext < UINT32_MAX) {
            files[i].uid = mb->uidnext++;
            rewrite = 1;
        }
    qsort(files, nfiles, sizeof *files, loadfile_uid_cmp);
    return rewrite;
}

/* HIGHESTMODSEQ is not persisted (that would cost an fsync per flag change); a loaded
 * mailbox starts from the clock instead, so that it never goes below what clients saw before
 * the restart (while a run makes fewer than 2^20 changes per second of uptime). */
static uint64_t modseq_base(const store *st)
{
    int64_t t = (int64_t)now(st);
    return t > 0 ? (uint64_t)t << 20 : 1;
}

static store_err load_mailbox(store *st, store_mailbox *mb)
{
    char path[PATH_MAX];
    char *data = NULL;
    size_t len;
    struct stat sb;
    uidrec *recs = NULL;
    loadfile *files = NULL;
    size_t nrecs = 0, nfiles = 0, fcap = 0;
    int rewrite = 0;
    if (pathf(path, sizeof path, "%s/" UIDLIST, mb->dir) != 0)
        return too_long(st, mb->name);
    store_err e = STORE_OK;
    if (lstat(path, &sb) != 0 && errno == ENOENT) { /* a Maildir we did not make: adopt it */
        mb->uidvalidity = next_uidvalidity(st);
        rewrite = 1;
    } else if ((e = read_file(st, path, (size_t)256 << 20, &data, &len, &sb)) == STORE_OK) {
        e = uidlist_parse(st, mb, path, data, &recs, &nrecs);
        if (mb->uidvalidity > st->last_uidvalidity)
            st->last_uidvalidity = mb->uidvalidity;
    }
    free(data);
    const char *subs[] = {"cur", "new", "tmp"};
    for (size_t i = 0; i < 3 && e == STORE_OK; i++) {
        if (pathf(path, sizeof path, "%s/%s", mb->dir, subs[i]) != 0)
            e = too_long(st, mb->name);
        else
            e = make_dir(st, path); /* repair a missing one */
    }
    if (e == STORE_OK)
        e = scan_maildir(st, mb, 1, &files, &nfiles, &fcap);
    if (e == STORE_OK)
        e = scan_maildir(st, mb, 0, &files, &nfiles, &fcap);
    if (e == STORE_OK) {
        rewrite |= assign_uids(mb, recs, nrecs, files, nfiles);
        mb->modseq = modseq_base(st);
        mb->recent_floor = mb->uidnext;
        for (size_t i = 0; i < nfiles; i++) {
            if (files[i].uid == 0)
                continue; /* UIDs exhausted */
            if (!files[i].in_cur && files[i].uid < mb->recent_floor)
                mb->recent_floor = files[i].uid; /* new/ holds the unseen arrivals */
            load_one(st, mb, &files[i]);
        }
    }
    for (size_t i = 0; i < nrecs; i++)
        free(recs[i].base);
    for (size_t i = 0; i < nfiles; i++) {
        free(files[i].name);
        free(files[i].base);
    }
    free(recs);
    free(files);
    if (e == STORE_OK && rewrite)
        e = uidlist_rewrite(st, mb);
    return e;
}

static store_err create_superiors(store *st, store_account *a, const char *name);

/* A folder another program made may lack its superiors ("a/b" without "a"): make them, so
 * LIST shows a proper hierarchy. */
static store_err load_superiors(store *st, store_account *a)
{
    for (size_t i = 0; i < a->nmbs;) {
        char name[STORE_MAX_NAME + 1];
        snprintf(name, sizeof name, "%s", a->mbs[i]->name);
        size_t before = a->nmbs;
        store_err e = create_superiors(st, a, name);
        if (e != STORE_OK)
            return e;
        i = a->nmbs != before ? 0 : i + 1; /* the array changed under us: start over */
    }
    return STORE_OK;
}

/* Load every mailbox of an existing account directory. */
static store_err load_account(store *st, store_account *a)
{
    char *dir = dup_str(a->dir);
    store_mailbox *inbox = dir ? mailbox_new(a, "INBOX", dir) : NULL;
    if (!inbox) {
        free(dir);
        return fail_nomem(st);
    }
    store_err e = load_mailbox(st, inbox);
    if (e == STORE_OK)
        e = mailbox_insert(st, a, inbox);
    if (e != STORE_OK) {
        mailbox_free(st, inbox);
        return e;
    }
    DIR *d = opendir(a->dir);
    if (!d)
        return fail_io(st, "opendir", a->dir);
    struct dirent *de;
    while (e == STORE_OK && (de = readdir(d)) != NULL) {
        char name[STORE_MAX_NAME + 1], path[PATH_MAX];
        struct stat sb;
        if (de->d_name[0] != '.' || strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (pathf(path, sizeof path, "%s/%s", a->dir, de->d_name) != 0 || stat(path, &sb) != 0
            || !S_ISDIR(sb.st_mode))
            continue;
        if (decode_folder(de->d_name, name, sizeof name) != 0 || strcmp(name, "INBOX") == 0
            || mailbox_index(a, name) >= 0) {
            warn(st, "spool %s: not a mailbox folder this store wrote; ignored", path);
            continue;
        }
        char *mdir = dup_str(path);
        store_mailbox *mb = mdir ? mailbox_new(a, name, mdir) : NULL;
        if (!mb) {
            free(mdir);
            e = fail_nomem(st);
            break;
        }
        e = load_mailbox(st, mb);
        if (e == STORE_OK)
            e = mailbox_insert(st, a, mb);
        if (e != STORE_OK)
            mailbox_free(st, mb);
    }
    closedir(d);
    return e == STORE_OK ? load_superiors(st, a) : e;
}

/* ------------------------------------------------------------------------------------------ */
/* The store and its accounts */

void store_config_default(store_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->max_message_size = (size_t)64 << 20;
    cfg->max_total_bytes = (size_t)256 << 20;
    cfg->max_parts = 1000;
    cfg->max_messages = 1000000;
    cfg->max_mailboxes = 1000;
    cfg->max_accounts = 1000;
    cfg->hostname = "mailrig";
}

/* The host part of file names: no '/', ':' or control bytes (they would break the name). */
static char *sanitized_host(const char *host)
{
    char *h = dup_str(host && *host ? host : "mailrig");
    if (!h)
        return NULL;
    for (char *p = h; *p; p++)
        if (*p == '/' || *p == ':' || *p == '.' || (unsigned char)*p < 0x21 || *p == 0x7f)
            *p = '_';
    if (strlen(h) > 64)
        h[64] = '\0';
    return h;
}

store_err store_open(const store_config *cfg, store **out)
{
    *out = NULL;
    store *st = calloc(1, sizeof *st);
    if (!st)
        return fail(NULL, STORE_E_NOMEM, "out of memory");
    if (cfg)
        st->cfg = *cfg;
    else
        store_config_default(&st->cfg);
    if (st->cfg.max_parts < 1)
        st->cfg.max_parts = 1;
    if (st->cfg.max_messages > UINT32_MAX - 1)
        st->cfg.max_messages = UINT32_MAX - 1;
    st->host = sanitized_host(st->cfg.hostname);
    st->spool = st->cfg.spool ? dup_str(st->cfg.spool) : NULL;
    st->cfg.spool = st->spool;
    st->cfg.hostname = st->host;
    if (!st->host || (st->cfg.spool && !st->spool)) {
        store_close(st);
        return fail(NULL, STORE_E_NOMEM, "out of memory");
    }
    if (st->spool) {
        store_err e = make_dir(st, st->spool);
        if (e == STORE_OK && access(st->spool, W_OK | X_OK) != 0)
            e = fail_io(st, "access for writing", st->spool);
        if (e != STORE_OK) {
            fail(NULL, e, "%s", st->err);
            store_close(st);
            return e;
        }
    }
    *out = st;
    return STORE_OK;
}

static void account_free(store *st, store_account *a)
{
    for (size_t i = 0; i < a->nmbs; i++)
        mailbox_free(st, a->mbs[i]);
    free(a->mbs);
    free(a->name);
    free(a->dir);
    free(a);
}

void store_close(store *st)
{
    if (!st)
        return;
    for (size_t i = 0; i < st->naccts; i++)
        account_free(st, st->accts[i]);
    free(st->accts);
    free(st->scratch);
    free(st->spool);
    free(st->host);
    free(st);
}

size_t store_bytes(const store *st)
{
    return st->total_bytes;
}

store_account *store_account_find(const store *st, const char *name)
{
    for (size_t i = 0; i < st->naccts; i++)
        if (strcmp(st->accts[i]->name, name) == 0)
            return st->accts[i];
    return NULL;
}

const char *store_account_name(const store_account *a)
{
    return a->name;
}

/* A fresh account: its directory with an INBOX Maildir, or an in-memory INBOX. */
static store_err account_create(store *st, store_account *a)
{
    if (a->dir) { /* the account directory's own entry must survive a crash too */
        store_err e = make_dir(st, a->dir);
        if (e == STORE_OK)
            e = fsync_dir(st, st->spool);
        if (e != STORE_OK)
            return e;
    }
    char *dir = a->dir ? dup_str(a->dir) : NULL;
    store_mailbox *inbox = (!a->dir || dir) ? mailbox_new(a, "INBOX", dir) : NULL;
    if (!inbox) {
        free(dir);
        return fail_nomem(st);
    }
    inbox->uidvalidity = next_uidvalidity(st);
    store_err e = spool_create_mailbox(st, inbox);
    if (e == STORE_OK)
        e = mailbox_insert(st, a, inbox);
    if (e != STORE_OK)
        mailbox_free(st, inbox);
    return e;
}

store_err store_account_add(store *st, const char *name, store_account **out, int *loaded)
{
    char path[PATH_MAX];
    struct stat sb;
    if (out)
        *out = NULL;
    if (loaded)
        *loaded = 0;
    if (!valid_account_name(name))
        return fail(st, STORE_E_NAME, "invalid account name '%.130s'", name);
    if (store_account_find(st, name))
        return fail(st, STORE_E_EXISTS, "account '%s' already exists", name);
    if (st->naccts >= st->cfg.max_accounts)
        return fail(st, STORE_E_LIMIT, "too many accounts (limit %zu)", st->cfg.max_accounts);
    if (grow(&st->accts, sizeof *st->accts, &st->cap, st->naccts + 1) != 0)
        return fail_nomem(st);
    store_account *a = calloc(1, sizeof *a);
    if (!a || !(a->name = dup_str(name))) {
        free(a);
        return fail_nomem(st);
    }
    a->st = st;
    store_err e = STORE_OK;
    int exists = 0;
    if (st->spool) {
        if (pathf(path, sizeof path, "%s/%s", st->spool, name) != 0)
            e = too_long(st, name);
        else if (!(a->dir = dup_str(path)))
            e = fail_nomem(st);
        exists = e == STORE_OK && stat(path, &sb) == 0;
        if (exists && !S_ISDIR(sb.st_mode))
            e = fail(st, STORE_E_IO, "spool %s: not a directory", path);
    }
    if (e == STORE_OK)
        e = exists ? load_account(st, a) : account_create(st, a);
    if (e != STORE_OK) {
        account_free(st, a);
        return e;
    }
    a->loaded = exists;
    st->accts[st->naccts++] = a;
    if (out)
        *out = a;
    if (loaded)
        *loaded = exists;
    return STORE_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Mailboxes */

const char *store_special_use_name(unsigned attr)
{
    switch (attr) {
    case STORE_MB_ALL: return "\\All";
    case STORE_MB_ARCHIVE: return "\\Archive";
    case STORE_MB_DRAFTS: return "\\Drafts";
    case STORE_MB_FLAGGED: return "\\Flagged";
    case STORE_MB_JUNK: return "\\Junk";
    case STORE_MB_SENT: return "\\Sent";
    case STORE_MB_TRASH: return "\\Trash";
    default: return NULL;
    }
}

store_mailbox *store_mailbox_find(const store_account *a, const char *name)
{
    char canon[STORE_MAX_NAME + 1];
    if (strlen(name) > STORE_MAX_NAME)
        return NULL;
    canonical_name(name, canon);
    long at = mailbox_index(a, canon);
    return at >= 0 ? a->mbs[at] : NULL;
}

const char *store_mailbox_name(const store_mailbox *mb) { return mb->name; }
unsigned store_mailbox_attrs(const store_mailbox *mb) { return mb->attrs; }
uint32_t store_mailbox_uidvalidity(const store_mailbox *mb) { return mb->uidvalidity; }
uint32_t store_mailbox_uidnext(const store_mailbox *mb) { return mb->uidnext; }
uint64_t store_mailbox_highestmodseq(const store_mailbox *mb) { return mb->modseq; }
uint64_t store_mailbox_changes(const store_mailbox *mb) { return mb->changes; }
uint32_t store_mailbox_count(const store_mailbox *mb) { return mb->count; }

store_msg *store_mailbox_msg(const store_mailbox *mb, uint32_t i)
{
    return i < mb->count ? mb->msgs[i] : NULL;
}

/* Index of the first message with UID >= uid (count if none). */
static uint32_t lower_bound(const store_mailbox *mb, uint32_t uid)
{
    uint32_t lo = 0, hi = mb->count;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (mb->msgs[mid]->uid < uid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

store_msg *store_mailbox_by_uid(const store_mailbox *mb, uint32_t uid)
{
    uint32_t i = lower_bound(mb, uid);
    return i < mb->count && mb->msgs[i]->uid == uid ? mb->msgs[i] : NULL;
}

/* Persist attribute changes: one appended record. */
static store_err persist_attrs(store *st, store_mailbox *mb)
{
    if (!mb->dir)
        return STORE_OK;
    char line[40];
    snprintf(line, sizeof line, "attrs %u\n", mb->attrs);
    return uidlist_append(st, mb, line);
}

/* Create one mailbox (its superiors exist or are not needed). */
static store_err create_one(store *st, store_account *a, const char *name, unsigned attrs,
                            store_mailbox **out)
{
    if (a->nmbs >= st->cfg.max_mailboxes)
        return fail(st, STORE_E_LIMIT, "too many mailboxes (limit %zu)", st->cfg.max_mailboxes);
    char *dir;
    store_err e = mailbox_dir(st, a, name, &dir);
    if (e != STORE_OK)
        return e;
    store_mailbox *mb = mailbox_new(a, name, dir);
    if (!mb) {
        free(dir);
        return fail_nomem(st);
    }
    mb->attrs = attrs;
    mb->uidvalidity = next_uidvalidity(st);
    e = spool_create_mailbox(st, mb);
    if (e == STORE_OK && (e = mailbox_insert(st, a, mb)) != STORE_OK)
        spool_remove_mailbox(st, mb);
    if (e != STORE_OK) {
        mailbox_free(st, mb);
        return e;
    }
    *out = mb;
    return STORE_OK;
}

/* Create the missing superiors of name ("a" and "a/b" for "a/b/c"). */
static store_err create_superiors(store *st, store_account *a, const char *name)
{
    char prefix[STORE_MAX_NAME + 1];
    for (const char *s = strchr(name, '/'); s; s = strchr(s + 1, '/')) {
        size_t n = (size_t)(s - name);
        memcpy(prefix, name, n);
        prefix[n] = '\0';
        store_mailbox *mb;
        if (mailbox_index(a, prefix) >= 0)
            continue;
        store_err e = create_one(st, a, prefix, 0, &mb);
        if (e != STORE_OK)
            return e;
    }
    return STORE_OK;
}

store_err store_mailbox_create(store *st, store_account *a, const char *name, unsigned attrs,
                               store_mailbox **out)
{
    char canon[STORE_MAX_NAME + 1];
    store_mailbox *mb;
    if (out)
        *out = NULL;
    if (!valid_mailbox_name(name))
        return fail(st, STORE_E_NAME, "invalid mailbox name '%.260s'", name);
    canonical_name(name, canon);
    if ((mb = store_mailbox_find(a, canon)) != NULL)
        return fail(st, STORE_E_EXISTS, "mailbox '%s' already exists", canon);
    store_err e = create_superiors(st, a, canon);
    if (e == STORE_OK)
        e = create_one(st, a, canon, attrs & STORE_MB_SPECIAL_USE, &mb);
    if (e == STORE_OK && out)
        *out = mb;
    return e;
}

/* Drop every message of mb (delete of a mailbox with inferiors). */
static store_err empty_mailbox(store *st, store_mailbox *mb)
{
    while (mb->count > 0) {
        store_msg *m = mb->msgs[mb->count - 1];
        store_err e = spool_remove(st, mb, m);
        if (e != STORE_OK)
            return e;
        msg_free(st, m);
        mb->count--;
        mb->changes++;
    }
    return STORE_OK;
}

store_err store_mailbox_delete(store *st, store_account *a, const char *name)
{
    store_mailbox *mb = store_mailbox_find(a, name);
    if (!mb)
        return fail(st, STORE_E_NOTFOUND, "no mailbox '%.260s'", name);
    if (is_inbox(mb))
        return fail(st, STORE_E_NOTALLOWED, "INBOX cannot be deleted");
    if (has_inferiors(a, mb->name)) { /* RFC 3501 6.3.4: keep the name as \Noselect */
        if (mb->attrs & STORE_MB_NOSELECT)
            return fail(st, STORE_E_NOTALLOWED,
                        "mailbox '%s' has inferiors and is already \\Noselect", mb->name);
        store_err e = empty_mailbox(st, mb);
        if (e != STORE_OK)
            return e;
        mb->attrs |= STORE_MB_NOSELECT;
        mb->changes++;
        detach_views(mb);
        return persist_attrs(st, mb);
    }
    store_err e = spool_remove_mailbox(st, mb);
    if (e != STORE_OK)
        return e;
    mailbox_unlink(a, mb);
    mailbox_free(st, mb);
    return STORE_OK;
}

store_err store_mailbox_subscribe(store *st, store_account *a, const char *name, int on)
{
    store_mailbox *mb = store_mailbox_find(a, name);
    if (!mb)
        return fail(st, STORE_E_NOTFOUND, "no mailbox '%.260s'", name);
    unsigned attrs = on ? mb->attrs | STORE_MB_SUBSCRIBED : mb->attrs & ~(unsigned)STORE_MB_SUBSCRIBED;
    if (attrs == mb->attrs)
        return STORE_OK;
    unsigned old = mb->attrs;
    mb->attrs = attrs;
    store_err e = persist_attrs(st, mb);
    if (e != STORE_OK)
        mb->attrs = old;
    return e;
}

/* Rename one mailbox record (and its directory) to newname. */
static store_err rename_one(store *st, store_account *a, store_mailbox *mb, const char *newname)
{
    char *dir, *name = dup_str(newname);
    store_err e = name ? mailbox_dir(st, a, newname, &dir) : fail_nomem(st);
    if (e != STORE_OK) {
        free(name);
        return e;
    }
    if (mb->dir && rename(mb->dir, dir) != 0) {
        e = fail_io(st, "rename", mb->dir);
        free(name);
        free(dir);
        return e;
    }
    mailbox_unlink(a, mb);
    free(mb->name);
    free(mb->dir);
    mb->name = name;
    mb->dir = dir;
    mb->changes++;
    return mailbox_insert(st, a, mb); /* cannot collide: checked by the caller */
}

/* Keyword `i` of src as an index in dst, created there if needed. */
static int map_keyword(store *st, const store_mailbox *src, unsigned i, store_mailbox *dst)
{
    const char *name = src->keywords[i];
    return store_keyword(st, dst, name, strlen(name), 1);
}

static store_err map_keywords(store *st, const store_mailbox *src, uint32_t kw,
                              store_mailbox *dst, uint32_t *out)
{
    *out = 0;
    for (unsigned i = 0; i < src->nkeywords; i++) {
        if (!(kw & (1u << i)))
            continue;
        int k = map_keyword(st, src, i, dst);
        if (k < 0)
            return (store_err)-k;
        *out |= 1u << k;
    }
    return STORE_OK;
}

/* RFC 3501 6.3.5: renaming INBOX moves its messages to a new mailbox; INBOX stays, empty. */
static store_err rename_inbox(store *st, store_account *a, store_mailbox *inbox, const char *to)
{
    store_mailbox *dst;
    store_err e = store_mailbox_create(st, a, to, 0, &dst);
    if (e != STORE_OK)
        return e;
    if (grow32(&dst->msgs, sizeof *dst->msgs, &dst->cap, inbox->count) != 0)
        return fail_nomem(st);
    uint32_t moved = 0;
    for (; moved < inbox->count && e == STORE_OK; moved++) {
        store_msg *m = inbox->msgs[moved];
        uint32_t kw;
        if ((e = map_keywords(st, inbox, m->keywords, dst, &kw)) != STORE_OK)
            break;
        char from[PATH_MAX], into[PATH_MAX];
        if (m->file_) {
            if (msg_path(inbox, m, m->flags, m->keywords, m->in_cur_, from, sizeof from) != 0
                || msg_path(dst, m, m->flags, kw, m->in_cur_, into, sizeof into) != 0) {
                e = too_long(st, to);
                break;
            }
            if (rename(from, into) != 0) {
                e = fail_io(st, "rename", from);
                break;
            }
        }
        m->keywords = kw;
        m->uid = dst->uidnext++;
        m->modseq = ++dst->modseq;
        dst->msgs[dst->count++] = m;
    }
    if (moved)
        memmove(inbox->msgs, inbox->msgs + moved, (inbox->count - moved) * sizeof *inbox->msgs);
    inbox->count -= moved;
    inbox->changes++;
    dst->changes++;
    if (dst->dir) { /* both uidlists now list different files */
        store_err e2 = uidlist_rewrite(st, dst);
        if (e2 == STORE_OK)
            e2 = uidlist_rewrite(st, inbox);
        if (e == STORE_OK)
            e = e2;
    }
    return e;
}

store_err store_mailbox_rename(store *st, store_account *a, const char *from, const char *to)
{
    char src_name[STORE_MAX_NAME + 1], dst_name[STORE_MAX_NAME + 1];
    store_mailbox *src = store_mailbox_find(a, from);
    if (!src)
        return fail(st, STORE_E_NOTFOUND, "no mailbox '%.260s'", from);
    if (!valid_mailbox_name(to))
        return fail(st, STORE_E_NAME, "invalid mailbox name '%.260s'", to);
    canonical_name(to, dst_name);
    if (store_mailbox_find(a, dst_name))
        return fail(st, STORE_E_EXISTS, "mailbox '%s' already exists", dst_name);
    if (is_inbox(src))
        return rename_inbox(st, a, src, dst_name);
    snprintf(src_name, sizeof src_name, "%s", src->name);
    size_t sn = strlen(src_name), dn = strlen(dst_name);
    if (strncmp(dst_name, src_name, sn) == 0 && dst_name[sn] == '/')
        return fail(st, STORE_E_NOTALLOWED, "cannot rename '%s' into its own inferior", src_name);
    /* the inferiors move too: check their new names first */
    for (size_t i = 0; i < a->nmbs; i++) {
        const char *n = a->mbs[i]->name;
        if (strncmp(n, src_name, sn) != 0 || n[sn] != '/')
            continue;
        char newname[2 * STORE_MAX_NAME + 2];
        snprintf(newname, sizeof newname, "%s%s", dst_name, n + sn);
        if (dn + strlen(n + sn) > STORE_MAX_NAME)
            return fail(st, STORE_E_NAME, "renamed inferior '%s' would be too long", n);
        if (mailbox_index(a, newname) >= 0)
            return fail(st, STORE_E_EXISTS, "mailbox '%s' already exists", newname);
    }
    store_err e = create_superiors(st, a, dst_name);
    if (e != STORE_OK)
        return e;
    /* rename inferiors first (the array changes under us, so look them up by name) */
    for (;;) {
        store_mailbox *child = NULL;
        for (size_t i = 0; i < a->nmbs && !child; i++)
            if (strncmp(a->mbs[i]->name, src_name, sn) == 0 && a->mbs[i]->name[sn] == '/')
                child = a->mbs[i];
        if (!child)
            break;
        char newname[STORE_MAX_NAME + 1];
        snprintf(newname, sizeof newname, "%s%s", dst_name, child->name + sn);
        if ((e = rename_one(st, a, child, newname)) != STORE_OK)
            return e;
    }
    e = rename_one(st, a, src, dst_name);
    return e == STORE_OK && a->dir ? fsync_dir(st, a->dir) : e;
}

/* '*' and '%' (RFC 3501 6.3.8) by dynamic programming over name positions: no backtracking
 * blow-up whatever the pattern. */
int store_pattern_match(const char *pattern, const char *name)
{
    size_t pn = strlen(pattern), nn = strlen(name);
    if (pn > 1024 || nn > STORE_MAX_NAME)
        return 0;
    size_t ci = starts_with_inbox(name) ? 5 : 0; /* INBOX matches case-insensitively */
    unsigned char a[STORE_MAX_NAME + 1], b[STORE_MAX_NAME + 1];
    unsigned char *cur = a, *next = b;
    memset(cur, 0, nn + 1);
    cur[0] = 1;
    for (size_t i = 0; i < pn; i++) {
        char c = pattern[i];
        if (c == '*') {
            next[0] = cur[0];
            for (size_t j = 1; j <= nn; j++)
                next[j] = next[j - 1] | cur[j];
        } else if (c == '%') {
            next[0] = cur[0];
            for (size_t j = 1; j <= nn; j++)
                next[j] = cur[j] | (next[j - 1] & (name[j - 1] != '/'));
        } else {
            next[0] = 0;
            for (size_t j = 1; j <= nn; j++) {
                char h = name[j - 1];
                int same = j - 1 < ci ? lower(h) == lower(c) : h == c;
                next[j] = cur[j - 1] & same;
            }
        }
        unsigned char *t = cur;
        cur = next;
        next = t;
    }
    return cur[nn];
}

size_t store_list(const store_account *a, const char *pattern, store_list_fn fn, void *ctx)
{
    size_t count = 0;
    for (size_t i = 0; i < a->nmbs; i++) {
        const store_mailbox *mb = a->mbs[i];
        if (!store_pattern_match(pattern, mb->name))
            continue;
        unsigned attrs = mb->attrs;
        attrs |= has_inferiors(a, mb->name) ? STORE_LIST_HAS_CHILDREN : STORE_LIST_HAS_NO_CHILDREN;
        if (fn)
            fn(ctx, mb, attrs);
        count++;
    }
    return count;
}

void store_mailbox_status(const store_mailbox *mb, store_status *s)
{
    memset(s, 0, sizeof *s);
    s->messages = mb->count;
    s->uidnext = mb->uidnext;
    s->uidvalidity = mb->uidvalidity;
    s->highestmodseq = mb->modseq;
    for (uint32_t i = 0; i < mb->count; i++) {
        const store_msg *m = mb->msgs[i];
        s->size += m->size;
        s->recent += m->uid >= mb->recent_floor;
        if (!(m->flags & STORE_F_SEEN)) {
            s->unseen++;
            if (!s->first_unseen)
                s->first_unseen = i + 1;
        }
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Keywords */

/* An IMAP atom (RFC 3501 9 ATOM-CHAR) that is not a system flag. */
static int valid_keyword(const char *name, size_t len)
{
    if (len == 0 || len > 64 || name[0] == '\\')
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c <= 0x20 || c >= 0x7f || strchr("(){%*\"\\]", c))
            return 0;
    }
    return 1;
}

int store_keyword(store *st, store_mailbox *mb, const char *name, size_t len, int create)
{
    for (unsigned i = 0; i < mb->nkeywords; i++)
        if (strlen(mb->keywords[i]) == len && ieq_n(mb->keywords[i], name, len))
            return (int)i;
    if (!create)
        return -STORE_E_NOTFOUND;
    if (!valid_keyword(name, len)) {
        fail(st, STORE_E_NAME, "invalid keyword '%.*s'", (int)(len > 70 ? 70 : len), name);
        return -STORE_E_NAME;
    }
    if (mb->nkeywords >= STORE_MAX_KEYWORDS) {
        fail(st, STORE_E_LIMIT, "mailbox '%s' has %d keywords already", mb->name,
             STORE_MAX_KEYWORDS);
        return -STORE_E_LIMIT;
    }
    char *copy = malloc(len + 1);
    if (!copy) {
        fail_nomem(st);
        return -STORE_E_NOMEM;
    }
    memcpy(copy, name, len);
    copy[len] = '\0';
    unsigned i = mb->nkeywords;
    if (mb->dir) {
        char line[100];
        snprintf(line, sizeof line, "keyword %u %s\n", i, copy);
        store_err e = uidlist_append(st, mb, line);
        if (e != STORE_OK) {
            free(copy);
            return -(int)e;
        }
    }
    mb->keywords[i] = copy;
    mb->nkeywords++;
    return (int)i;
}

const char *store_keyword_name(const store_mailbox *mb, unsigned i)
{
    return i < mb->nkeywords ? mb->keywords[i] : NULL;
}

unsigned store_keyword_count(const store_mailbox *mb)
{
    return mb->nkeywords;
}

static uint32_t keyword_mask(const store_mailbox *mb)
{
    return mb->nkeywords >= 32 ? UINT32_MAX : (1u << mb->nkeywords) - 1;
}

/* ------------------------------------------------------------------------------------------ */
/* Messages */

/* Can mb take one more message? */
static store_err can_add(store *st, const store_mailbox *mb)
{
    if (mb->attrs & STORE_MB_NOSELECT)
        return fail(st, STORE_E_NOTALLOWED, "mailbox '%s' cannot hold messages (\\Noselect)",
                    mb->name);
    if (mb->count >= st->cfg.max_messages)
        return fail(st, STORE_E_LIMIT, "mailbox '%s' is full (%zu messages)", mb->name,
                    st->cfg.max_messages);
    if (mb->uidnext == UINT32_MAX)
        return fail(st, STORE_E_LIMIT, "mailbox '%s' has used up its UIDs", mb->name);
    return STORE_OK;
}

/* Give m (flags, keywords, dates set) its UID and put it into mb: on disk first, then in
 * memory. On failure the caller still owns m. */
static store_err add_message(store *st, store_mailbox *mb, store_msg *m)
{
    store_err e = can_add(st, mb);
    if (e != STORE_OK)
        return e;
    if (grow32(&mb->msgs, sizeof *mb->msgs, &mb->cap, (size_t)mb->count + 1) != 0)
        return fail_nomem(st);
    uint32_t uid = mb->uidnext;
    if (mb->dir) {
        int recorded = 0;
        e = spool_put(st, mb, m, uid, &recorded);
        if (e != STORE_OK) {
            if (recorded)
                mb->uidnext++; /* that UID is in the uidlist: never hand it out again */
            return e;
        }
    }
    m->uid = uid;
    mb->uidnext++;
    m->modseq = ++mb->modseq;
    mb->changes++;
    mb->msgs[mb->count++] = m;
    return STORE_OK;
}

store_err store_append(store *st, store_mailbox *mb, const char *data, size_t len,
                       const store_append_opts *opts, uint32_t *uid)
{
    store_blob *b;
    store_err e = can_add(st, mb); /* the cheap refusals before any copying */
    if (e == STORE_OK)
        e = blob_new(st, data, len, &b);
    if (e != STORE_OK)
        return e;
    store_msg *m = msg_new(b);
    blob_unref(st, b);
    if (!m)
        return fail_nomem(st);
    if (opts) {
        m->flags = opts->flags & STORE_F_ALL;
        m->keywords = opts->keywords & keyword_mask(mb);
    }
    m->internal_date = opts && opts->has_date ? opts->internal_date : (int64_t)now(st);
    m->internal_zone = opts && opts->has_date ? opts->internal_zone : 0;
    e = add_message(st, mb, m);
    if (e != STORE_OK) {
        msg_free(st, m);
        return e;
    }
    if (uid)
        *uid = m->uid;
    return STORE_OK;
}

store_err store_deliver(store *st, const char *account, const char *data, size_t len,
                        uint32_t *uid)
{
    store_account *a = store_account_find(st, account);
    if (!a)
        return fail(st, STORE_E_NOTFOUND, "no account '%.130s'", account);
    store_mailbox *inbox = store_mailbox_find(a, "INBOX");
    if (!inbox)
        return fail(st, STORE_E_NOTFOUND, "account '%s' has no INBOX", account);
    return store_append(st, inbox, data, len, NULL, uid);
}

/* Is view v up to date with its mailbox? */
static int view_synced(const store_view *v, const store_mailbox *mb)
{
    return v && v->mb == mb && v->seen_changes == mb->changes && v->seen_modseq == mb->modseq;
}

store_err store_set_flags(store *st, store_mailbox *mb, store_msg *m, store_flag_op op,
                          uint32_t flags, uint32_t keywords, store_view *actor, int *changed)
{
    uint32_t f = m->flags, k = m->keywords;
    flags &= STORE_F_ALL;
    keywords &= keyword_mask(mb);
    switch (op) {
    case STORE_FLAGS_SET: f = flags; k = keywords; break;
    case STORE_FLAGS_ADD: f |= flags; k |= keywords; break;
    case STORE_FLAGS_REMOVE: f &= ~flags; k &= ~keywords; break;
    }
    if (changed)
        *changed = 0;
    if (f == m->flags && k == m->keywords)
        return STORE_OK;
    store_err e = spool_reflag(st, mb, m, f, k);
    if (e != STORE_OK)
        return e;
    int synced = view_synced(actor, mb);
    m->flags = f;
    m->keywords = k;
    m->modseq = ++mb->modseq;
    mb->changes++;
    if (synced) { /* the session knows: it is about to send its own FETCH */
        actor->seen_changes = mb->changes;
        actor->seen_modseq = mb->modseq;
    }
    if (changed)
        *changed = 1;
    return STORE_OK;
}

/* Take the last `n` messages out of mb again (a failed COPY). */
static void remove_last(store *st, store_mailbox *mb, size_t n)
{
    for (; n > 0 && mb->count > 0; n--) {
        store_msg *m = mb->msgs[--mb->count];
        spool_remove(st, mb, m);
        msg_free(st, m);
    }
    mb->changes++;
}

store_err store_copy(store *st, store_mailbox *src, store_msg *const *msgs, size_t n,
                     store_mailbox *dst, uint32_t *uids)
{
    if (dst->attrs & STORE_MB_NOSELECT)
        return fail(st, STORE_E_NOTALLOWED, "mailbox '%s' cannot hold messages (\\Noselect)",
                    dst->name);
    if (n > st->cfg.max_messages - dst->count || n > (size_t)(UINT32_MAX - dst->uidnext))
        return fail(st, STORE_E_LIMIT, "mailbox '%s' cannot take %zu more messages", dst->name, n);
    size_t added = 0;
    store_err e = STORE_OK;
    for (size_t i = 0; i < n && e == STORE_OK; i++) {
        const store_msg *m = msgs[i];
        uint32_t kw;
        if ((e = map_keywords(st, src, m->keywords, dst, &kw)) != STORE_OK)
            break;
        store_msg *c = msg_new(m->blob_);
        if (!c) {
            e = fail_nomem(st);
            break;
        }
        c->flags = m->flags;
        c->keywords = kw;
        c->internal_date = m->internal_date;
        c->internal_zone = m->internal_zone;
        if ((e = add_message(st, dst, c)) != STORE_OK) {
            msg_free(st, c);
            break;
        }
        if (uids)
            uids[i] = c->uid;
        added++;
    }
    if (e != STORE_OK)
        remove_last(st, dst, added); /* all or nothing (RFC 3501 6.4.7) */
    return e;
}

size_t store_msg_top(const store_msg *m, size_t lines)
{
    mr_slice body = m->parts[0].body;
    const char *p = body.p, *end = body.p + body.n;
    for (size_t k = 0; k < lines && p < end; k++) {
        const char *lf = memchr(p, '\n', (size_t)(end - p));
        p = lf ? lf + 1 : end;
    }
    return (size_t)(p - m->data);
}

int store_msg_uidl(const store_mailbox *mb, const store_msg *m, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%u.%u", mb->uidvalidity, m->uid);
    return n < 0 || (size_t)n >= cap ? -1 : n;
}

/* ------------------------------------------------------------------------------------------ */
/* Views */

store_err store_view_open(store *st, store_mailbox *mb, int readonly, store_view **out)
{
    *out = NULL;
    if (mb->attrs & STORE_MB_NOSELECT)
        return fail(st, STORE_E_NOTALLOWED, "mailbox '%s' cannot be selected (\\Noselect)",
                    mb->name);
    store_view *v = calloc(1, sizeof *v);
    size_t n = mb->count ? mb->count : 1;
    if (!v || !(v->uids = malloc(n * sizeof *v->uids)) || !(v->recent = malloc(n))) {
        if (v)
            free(v->uids);
        free(v);
        return fail_nomem(st);
    }
    v->st = st;
    v->mb = mb;
    v->cap = (uint32_t)n;
    v->readonly = readonly;
    for (uint32_t i = 0; i < mb->count; i++) {
        v->uids[i] = mb->msgs[i]->uid;
        v->recent[i] = mb->msgs[i]->uid >= mb->recent_floor;
    }
    v->n = mb->count;
    if (!readonly)
        mb->recent_floor = mb->uidnext; /* claimed: recent for this session only */
    v->seen_changes = mb->changes;
    v->seen_modseq = mb->modseq;
    v->next = mb->views;
    if (mb->views)
        mb->views->prev = v;
    mb->views = v;
    *out = v;
    return STORE_OK;
}

void store_view_close(store_view *v)
{
    if (!v)
        return;
    if (v->mb) {
        if (v->prev)
            v->prev->next = v->next;
        else
            v->mb->views = v->next;
        if (v->next)
            v->next->prev = v->prev;
    }
    free(v->uids);
    free(v->recent);
    free(v);
}

store_mailbox *store_view_mailbox(const store_view *v) { return v->mb; }
uint32_t store_view_count(const store_view *v) { return v->n; }

uint32_t store_view_uid(const store_view *v, uint32_t seq)
{
    return seq >= 1 && seq <= v->n ? v->uids[seq - 1] : 0;
}

store_msg *store_view_msg(const store_view *v, uint32_t seq)
{
    uint32_t uid = store_view_uid(v, seq);
    return uid && v->mb ? store_mailbox_by_uid(v->mb, uid) : NULL;
}

uint32_t store_view_seq_from_uid(const store_view *v, uint32_t uid)
{
    uint32_t lo = 0, hi = v->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (v->uids[mid] < uid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo + 1;
}

int store_view_recent(const store_view *v, uint32_t seq)
{
    return seq >= 1 && seq <= v->n && v->recent[seq - 1];
}

uint32_t store_view_recent_count(const store_view *v)
{
    uint32_t count = 0;
    for (uint32_t i = 0; i < v->n; i++)
        count += v->recent[i];
    return count;
}

/* Sync step 1: drop (or count) the view's messages the mailbox no longer has. */
static int sync_expunges(store_view *v, int allow, const store_view_events *ev, void *ctx)
{
    const store_mailbox *mb = v->mb;
    uint32_t kept = 0, j = 0;
    int events = 0, gaps = 0;
    for (uint32_t i = 0; i < v->n; i++) {
        uint32_t uid = v->uids[i];
        while (j < mb->count && mb->msgs[j]->uid < uid)
            j++;
        int present = j < mb->count && mb->msgs[j]->uid == uid;
        if (present || !allow) {
            gaps |= !present;
            v->uids[kept] = uid;
            v->recent[kept++] = v->recent[i];
            continue;
        }
        if (ev && ev->expunge)
            ev->expunge(ctx, kept + 1); /* its seq now, after the earlier removals */
        events++;
    }
    v->n = kept;
    v->gaps = gaps;
    return events;
}

/* Sync step 2: flag changes the session has not seen. */
static int sync_flags(store_view *v, const store_view_events *ev, void *ctx)
{
    const store_mailbox *mb = v->mb;
    int events = 0;
    if (mb->modseq == v->seen_modseq)
        return 0;
    for (uint32_t i = 0, j = 0; i < v->n; i++) {
        while (j < mb->count && mb->msgs[j]->uid < v->uids[i])
            j++;
        if (j < mb->count && mb->msgs[j]->uid == v->uids[i] && mb->msgs[j]->modseq > v->seen_modseq) {
            if (ev && ev->flags)
                ev->flags(ctx, i + 1, mb->msgs[j]);
            events++;
        }
    }
    return events;
}

/* Sync step 3: messages that arrived after the view's last one. */
static int sync_arrivals(store_view *v, const store_view_events *ev, void *ctx)
{
    store_mailbox *mb = v->mb;
    uint32_t last = v->n ? v->uids[v->n - 1] : 0;
    uint32_t from = lower_bound(mb, last + 1), add = mb->count - from;
    if (add == 0)
        return 0;
    if ((size_t)v->n + add > v->cap) { /* grow both arrays; on failure keep the old picture */
        uint32_t cap = v->cap;
        if (grow32(&v->uids, sizeof *v->uids, &cap, (size_t)v->n + add) != 0)
            return 0;
        uint8_t *r = realloc(v->recent, cap);
        if (!r)
            return 0;
        v->recent = r;
        v->cap = cap;
    }
    for (uint32_t j = from; j < mb->count; j++) {
        uint32_t uid = mb->msgs[j]->uid;
        v->uids[v->n] = uid;
        v->recent[v->n++] = uid >= mb->recent_floor;
    }
    if (!v->readonly)
        mb->recent_floor = mb->uidnext;
    if (ev && ev->exists)
        ev->exists(ctx, v->n);
    if (ev && ev->recent)
        ev->recent(ctx, store_view_recent_count(v));
    return 2;
}

int store_view_sync(store_view *v, int allow_expunge, const store_view_events *ev, void *ctx)
{
    store_mailbox *mb = v->mb;
    if (!mb)
        return -STORE_E_NOTFOUND;
    if (v->seen_changes == mb->changes && !(allow_expunge && v->gaps))
        return 0;
    int events = sync_expunges(v, allow_expunge, ev, ctx);
    events += sync_flags(v, ev, ctx);
    events += sync_arrivals(v, ev, ctx);
    v->seen_changes = mb->changes;
    v->seen_modseq = mb->modseq;
    return events;
}

static int is_deleted(void *ctx, const store_msg *m)
{
    (void)ctx;
    return (m->flags & STORE_F_DELETED) != 0;
}

store_err store_view_expunge(store *st, store_view *v, store_msg_pred pred, void *pctx,
                             const store_view_events *ev, void *ectx)
{
    store_mailbox *mb = v->mb;
    if (!mb)
        return fail(st, STORE_E_NOTFOUND, "the selected mailbox was deleted");
    if (v->readonly)
        return fail(st, STORE_E_NOTALLOWED, "mailbox '%s' is selected read-only", mb->name);
    if (!pred)
        pred = is_deleted;
    store_err e = STORE_OK;
    uint32_t kept = 0, i = 0;
    for (; i < mb->count; i++) {
        store_msg *m = mb->msgs[i];
        if (e == STORE_OK && pred(pctx, m)) {
            if ((e = spool_remove(st, mb, m)) == STORE_OK) {
                msg_free(st, m);
                continue;
            }
        }
        mb->msgs[kept++] = m;
    }
    if (kept != mb->count) {
        mb->count = kept;
        mb->changes++;
    }
    store_view_sync(v, 1, ev, ectx);
    return e;
}

typedef struct uid_set {
    uint32_t *uids;
    size_t n;
} uid_set;

static int u32_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static int in_uid_set(void *ctx, const store_msg *m)
{
    const uid_set *s = ctx;
    return bsearch(&m->uid, s->uids, s->n, sizeof *s->uids, u32_cmp) != NULL;
}

store_err store_move(store *st, store_view *v, store_msg *const *msgs, size_t n,
                     store_mailbox *dst, uint32_t *uids, const store_view_events *ev,
                     void *ectx)
{
    store_mailbox *src = v->mb;
    if (!src)
        return fail(st, STORE_E_NOTFOUND, "the selected mailbox was deleted");
    if (v->readonly)
        return fail(st, STORE_E_NOTALLOWED, "mailbox '%s' is selected read-only", src->name);
    uid_set set = {malloc((n ? n : 1) * sizeof(uint32_t)), n};
    if (!set.uids)
        return fail_nomem(st);
    for (size_t i = 0; i < n; i++)
        set.uids[i] = msgs[i]->uid;
    qsort(set.uids, n, sizeof *set.uids, u32_cmp);
    store_err e = store_copy(st, src, msgs, n, dst, uids);
    if (e == STORE_OK)
        e = store_view_expunge(st, v, in_uid_set, &set, ev, ectx);
    free(set.uids);
    return e;
}

/* ------------------------------------------------------------------------------------------ */
/* SEARCH */

/* ASCII case-insensitive substring search, Knuth-Morris-Pratt: O(hay + needle) whatever the
 * input, so a hostile SEARCH cannot make it quadratic. */
static int ci_contains(const char *hay, size_t hn, const char *needle, size_t nn)
{
    if (nn == 0)
        return 1;
    if (nn > hn)
        return 0;
    size_t *fail_at = malloc(nn * sizeof *fail_at);
    if (!fail_at)
        return 0;
    fail_at[0] = 0;
    for (size_t i = 1, k = 0; i < nn; i++) {
        while (k > 0 && lower(needle[i]) != lower(needle[k]))
            k = fail_at[k - 1];
        if (lower(needle[i]) == lower(needle[k]))
            k++;
        fail_at[i] = k;
    }
    int found = 0;
    for (size_t i = 0, k = 0; i < hn && !found; i++) {
        while (k > 0 && lower(hay[i]) != lower(needle[k]))
            k = fail_at[k - 1];
        if (lower(hay[i]) == lower(needle[k]))
            k++;
        if (k == nn)
            found = 1;
    }
    free(fail_at);
    return found;
}

/* HEADER field text: any field of that name whose unfolded value contains text. */
static int header_contains(const store_msg *m, const char *field, const char *text, size_t tn)
{
    mr_slice header = m->parts[0].header;
    size_t pos = 0, fl = strlen(field);
    mime_field f;
    int r;
    while ((r = mime_field_next(header.p + pos, header.n - pos, MR_LENIENT, NULL, &f, NULL)) > 0) {
        pos += (size_t)r;
        if (f.name.n != fl || !ieq_n(f.name.p, field, fl))
            continue;
        if (tn == 0)
            return 1;
        char *buf = malloc(f.value.n + 1);
        if (!buf)
            return 0;
        size_t n = mime_unfold(f.value, buf, f.value.n);
        int found = ci_contains(buf, n < f.value.n ? n : f.value.n, text, tn);
        free(buf);
        if (found)
            return 1;
    }
    return 0;
}

static int day_cmp(int32_t a, int32_t b)
{
    return (a > b) - (a < b);
}

int store_msg_match(const store_msg *m, const store_key *k)
{
    int32_t iday = day_in_zone(m->internal_date, m->internal_zone);
    mr_slice body = m->parts[0].body;
    switch (k->kind) {
    case STORE_KEY_ALL: return 1;
    case STORE_KEY_FLAGS: return (m->flags & k->flags) == k->flags;
    case STORE_KEY_NOFLAGS: return (m->flags & k->flags) == 0;
    case STORE_KEY_KEYWORD:
        return k->keyword >= 0 && k->keyword < 32 && (m->keywords >> k->keyword & 1);
    case STORE_KEY_UNKEYWORD:
        return !(k->keyword >= 0 && k->keyword < 32 && (m->keywords >> k->keyword & 1));
    case STORE_KEY_BEFORE: return day_cmp(iday, k->day) < 0;
    case STORE_KEY_ON: return day_cmp(iday, k->day) == 0;
    case STORE_KEY_SINCE: return day_cmp(iday, k->day) >= 0;
    case STORE_KEY_SENTBEFORE: return m->sent_day && day_cmp(m->sent_day, k->day) < 0;
    case STORE_KEY_SENTON: return m->sent_day && day_cmp(m->sent_day, k->day) == 0;
    case STORE_KEY_SENTSINCE: return m->sent_day && day_cmp(m->sent_day, k->day) >= 0;
    case STORE_KEY_LARGER: return m->size > k->size;
    case STORE_KEY_SMALLER: return m->size < k->size;
    case STORE_KEY_HEADER: return k->field && header_contains(m, k->field, k->text, k->text_len);
    case STORE_KEY_BODY: return ci_contains(body.p, body.n, k->text, k->text_len);
    case STORE_KEY_TEXT: return ci_contains(m->data, m->size, k->text, k->text_len);
    }
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Seeding */

/* One "name[:FLAGS]" entry of a seed list. */
static store_err seed_one(store *st, store_mailbox *mb, const char *dir, const char *entry,
                          size_t len)
{
    char name[256], path[PATH_MAX];
    const char *colon = memchr(entry, ':', len);
    size_t nlen = colon ? (size_t)(colon - entry) : len;
    if (nlen == 0 || nlen >= sizeof name)
        return fail(st, STORE_E_NAME, "bad seed entry '%.*s'", (int)(len > 200 ? 200 : len), entry);
    memcpy(name, entry, nlen);
    name[nlen] = '\0';
    store_append_opts opts;
    memset(&opts, 0, sizeof opts);
    if (colon) {
        char letters[64];
        size_t fl = len - nlen - 1;
        snprintf(letters, sizeof letters, "%.*s", (int)(fl < 63 ? fl : 63), colon + 1);
        parse_flag_letters(letters, &opts.flags, &opts.keywords);
        opts.keywords = 0; /* seed lists name system flags only */
    }
    if (pathf(path, sizeof path, "%s/%s", dir, name) != 0)
        return too_long(st, name);
    char *data;
    size_t dlen;
    struct stat sb;
    store_err e = read_file(st, path, st->cfg.max_message_size, &data, &dlen, &sb);
    if (e != STORE_OK)
        return e == STORE_E_IO && access(path, F_OK) != 0
                   ? fail(st, STORE_E_NOTFOUND, "seed message %s: no such file", path)
                   : e;
    mime_field f;
    mime_date d;
    mr_slice whole = {data, dlen};
    if (mime_field_find(whole, "Date", &f) && mime_date_parse(f.value, MR_LENIENT, &d, NULL) == 0) {
        opts.has_date = 1;
        opts.internal_date = mime_date_to_unix(&d);
        opts.internal_zone = d.zone;
    }
    e = store_append(st, mb, data, dlen, &opts, NULL);
    free(data);
    return e;
}

store_err store_seed(store *st, store_account *a, const char *mailbox, const char *dir,
                     const char *files)
{
    if (a->loaded) /* an account loaded from disk already has its mail */
        return STORE_OK;
    store_mailbox *mb = store_mailbox_find(a, mailbox);
    if (!mb) {
        store_err e = store_mailbox_create(st, a, mailbox, 0, &mb);
        if (e != STORE_OK)
            return e;
    }
    for (const char *p = files; *p;) {
        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == ',')
            p++;
        const char *start = p;
        while (*p && *p != ' ' && *p != '\t' && *p != '\n' && *p != ',')
            p++;
        if (p > start) {
            store_err e = seed_one(st, mb, dir, start, (size_t)(p - start));
            if (e != STORE_OK)
                return e;
        }
    }
    return STORE_OK;
}
